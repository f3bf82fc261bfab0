"""``python -m eventstore migrate``: apply pending migrations to the configured database."""

from __future__ import annotations

import argparse
import asyncio

from config.settings import get_settings
from eventstore.server import run_migrations


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eventstore")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args(argv)
    applied = asyncio.run(run_migrations(get_settings()))
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")


if __name__ == "__main__":
    main()
