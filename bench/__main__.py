"""Run every benchmark (or those named), each in its own process, with its default arguments.

    .venv/bin/python -m bench [bench.eventstore_append bench.projections_catch_up ...]

The event store benchmarks share one PostgreSQL server: ``CAREPATH_DATABASE_URL`` if set,
else one embedded server (its defaults, fsync on) started here in a temporary directory and
stopped at the end; each benchmark makes, then drops, its own databases. The journey
benchmark starts its own servers (Temporal's dev server and PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from devstack.servers import throwaway_postgres

BENCHMARKS = ["bench.eventstore_append", "bench.projections_catch_up", "bench.journey_updates"]
SHARED_SERVER = {"bench.eventstore_append", "bench.projections_catch_up"}


def main(argv: list[str] | None = None) -> int:
    chosen = argv if argv is not None else sys.argv[1:]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(
            f"unknown: {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr
        )
        return 2
    modules = chosen or BENCHMARKS
    failed = []
    with contextlib.ExitStack() as stack:
        url = (
            stack.enter_context(throwaway_postgres("carepath-bench-"))
            if SHARED_SERVER & set(modules)
            else None
        )
        for module in modules:
            print(f"\n=== {module}", flush=True)
            env = dict(os.environ)
            if url is not None and module in SHARED_SERVER:
                env["CAREPATH_DATABASE_URL"] = url
            command = [sys.executable, "-m", module]
            if subprocess.run(command, env=env, check=False).returncode != 0:
                failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
