"""What a benchmark or chaos run measured on: the machine and PostgreSQL's settings."""

from __future__ import annotations

import contextlib
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

SETTINGS_SHOWN = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "shared_buffers",
    "max_wal_size",
    "commit_delay",
)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


async def describe_machine(conn: asyncpg.Connection[Any]) -> dict[str, Any]:
    """The machine and the server's settings that matter for these numbers."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average": os.getloadavg(),
        "server": {name: await conn.fetchval(f"SHOW {name}") for name in SETTINGS_SHOWN},
    }


def print_machine(machine: dict[str, Any]) -> None:
    server = machine["server"]
    load = ", ".join(f"{x:.2f}" for x in machine["load_average"])
    print(
        f"{machine['date']}; {machine['cpus']} CPUs ({machine['cpu_model']}), load {load}; "
        f"PostgreSQL {server['server_version']} (fsync={server['fsync']}, "
        f"synchronous_commit={server['synchronous_commit']}, "
        f"shared_buffers={server['shared_buffers']})"
    )
