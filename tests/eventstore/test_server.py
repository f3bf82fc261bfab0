"""Finding the database: a configured URL, or the embedded server under the data dir."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import asyncpg

from config.settings import Settings
from database import create_pool, database_url, run_migrations
from database.migrations import load_migrations
from database.server import embedded_server
from eventstore import EventStore
from tests.eventstore.helpers import new_event, stream_id

ROOT = Path(__file__).resolve().parents[2]


def test_a_configured_url_is_used_as_is() -> None:
    settings = Settings(database_url="postgresql://u@db.example/carepath")
    assert database_url(settings) == "postgresql://u@db.example/carepath"


async def test_the_embedded_server_starts_under_a_private_data_dir() -> None:
    # Not under pytest's tmp_path: every pytest run resets /tmp/pytest-of-<user> to 0700,
    # which would race with the server's own user reaching its data dir.
    private = Path(tempfile.mkdtemp(prefix="carepath-test-home-"))  # mode 0700
    settings = Settings(data_dir=private / "carepath", database_url=None)
    try:
        url = database_url(settings)
        assert url.startswith("postgresql://postgres:@/postgres?host=/")
        assert (settings.data_dir / "postgres" / "PG_VERSION").exists()
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

        all_names = [migration.name for migration in load_migrations()]
        assert await run_migrations(settings) == all_names
        assert await run_migrations(settings) == []

        pool = await create_pool(settings)
        try:
            result = await EventStore(pool).append(stream_id(), [new_event()], 0)
            assert result.written
        finally:
            await pool.close()
        assert database_url(settings) == url  # the running server is reused
    finally:
        embedded_server(settings.data_dir / "postgres").cleanup()
        shutil.rmtree(private, ignore_errors=True)
