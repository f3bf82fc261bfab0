"""The `carepath` operator commands, run as real processes against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from database.pgtypes import Pool

ROOT = Path(__file__).parents[2]


def carepath(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env["CAREPATH_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_migrate_is_idempotent_and_rebuild_reports_each_projection(
    db_url: str, db_pool: Pool
) -> None:
    first = carepath("migrate", database_url=db_url)
    assert first.returncode == 0, first.stderr
    assert "none (up to date)" in first.stdout  # the test database is migrated already
    rebuilt = carepath("projections", "rebuild", database_url=db_url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert {line.split(":")[0] for line in rebuilt.stdout.splitlines()} == {
        "caseload",
        "audit",
        "outcomes",
        "safety",
    }
    assert await db_pool.fetchval("SELECT count(*) FROM projection_checkpoints") == 0


async def test_an_unknown_projection_is_a_clear_error(db_url: str) -> None:
    result = carepath("projections", "rebuild", "--name", "nope", database_url=db_url)
    assert result.returncode != 0 and "no projection named 'nope'" in result.stderr


def test_unknown_commands_fail_with_usage() -> None:
    result = carepath("frobnicate", database_url="postgresql://unused")
    assert result.returncode == 2 and "invalid choice" in result.stderr
