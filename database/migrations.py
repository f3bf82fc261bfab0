"""Schema migrations: the SQL files in ``database/migrations/``, applied in order.

Each file runs in its own transaction under a transaction-scoped advisory lock, so
processes that start at the same moment apply every migration exactly once between them.
Applied migrations are recorded, with a checksum, in ``schema_migrations``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files

import asyncpg

from database.pgtypes import Connection, Pool

# Arbitrary constant naming this lock among the database's advisory locks.
_LOCK_KEY = 0x4361_7265_7061_7468  # "Carepath"

_FILE_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The migration files and the database's record of applied migrations disagree."""


@dataclass(frozen=True)
class Migration:
    name: str  # the file name without ".sql", e.g. "0001_events"
    sql: str
    checksum: str


def load_migrations() -> list[Migration]:
    """The packaged migration files, in the order they apply."""
    directory = files("database") / "migrations"
    migrations = []
    numbers: set[str] = set()
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name} is not named NNNN_lower_case.sql")
        if match.group(1) in numbers:
            raise MigrationError(f"two migration files are numbered {match.group(1)}")
        numbers.add(match.group(1))
        sql = entry.read_text(encoding="utf-8")
        checksum = hashlib.sha256(sql.encode("utf-8")).hexdigest()
        migrations.append(Migration(entry.name.removesuffix(".sql"), sql, checksum))
    return sorted(migrations, key=lambda m: m.name)


async def migrate(db: Pool | Connection) -> list[str]:
    """Apply the migrations this database lacks; return the names applied (may be [])."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _migrate(conn)
    return await _migrate(db)


async def _migrate(conn: Connection) -> list[str]:
    applied = []
    for migration in load_migrations():
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            await conn.execute(_CREATE_LEDGER)
            checksum = await conn.fetchval(
                "SELECT checksum FROM schema_migrations WHERE name = $1", migration.name
            )
            if checksum is not None:
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} was changed after it was applied"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                migration.name,
                migration.checksum,
            )
            applied.append(migration.name)
    return applied
