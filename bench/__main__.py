"""Run every benchmark, each in its own process, with its default arguments."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ["bench.eventstore_append", "bench.journey_updates"]


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"\n=== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
