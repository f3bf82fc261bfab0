"""Migrations and the guarantees the schema itself enforces."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from database import MigrationError, migrate
from database.migrations import load_migrations
from database.pgtypes import Pool
from eventstore import EventStore
from tests.conftest import DatabaseFactory
from tests.eventstore.helpers import new_event, stream_id


@pytest_asyncio.fixture
async def empty_db_url(database_factory: DatabaseFactory) -> AsyncIterator[str]:
    """A database with no tables at all."""
    url = await database_factory.create()
    yield url
    await database_factory.drop(url)


def test_migrations_load_in_order_from_the_package() -> None:
    names = [migration.name for migration in load_migrations()]
    assert names[:3] == ["0001_events", "0002_clients", "0003_projection_checkpoints"]
    assert names == sorted(names)
    assert all(migration.sql.strip() for migration in load_migrations())


async def test_migrate_applies_everything_once_then_nothing(empty_db_url: str) -> None:
    conn = await asyncpg.connect(empty_db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        recorded = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
    finally:
        await conn.close()
    assert first == [migration.name for migration in load_migrations()]
    assert second == []
    assert [row["name"] for row in recorded] == first


async def test_migrating_a_migrated_database_applies_nothing(db_pool: Pool) -> None:
    assert await migrate(db_pool) == []


async def test_processes_migrating_at_once_apply_each_migration_once(empty_db_url: str) -> None:
    conns = [await asyncpg.connect(empty_db_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in conns))
    finally:
        for conn in conns:
            await conn.close()
    applied = [name for result in results for name in result]
    assert sorted(applied) == [migration.name for migration in load_migrations()]


async def test_a_migration_changed_after_it_was_applied_is_refused(db_pool: Pool) -> None:
    await db_pool.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE name = '0001_events'"
    )
    with pytest.raises(MigrationError, match="0001_events"):
        await migrate(db_pool)


async def test_events_cannot_be_updated_deleted_or_truncated(
    db_pool: Pool, event_store: EventStore
) -> None:
    stream = stream_id()
    await event_store.append(stream, [new_event(data={"n": 1})], expected_version=0)
    for statement in (
        "UPDATE events SET data = '{\"n\": 2}'",
        "DELETE FROM events",
        "DELETE FROM events WHERE false",
        "TRUNCATE events",
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await db_pool.execute(statement)
    [event] = await event_store.read_stream(stream)
    assert event.data == {"n": 1}


@pytest.mark.parametrize(
    ("column", "value"),
    [("stream_id", "has space"), ("event_type", ""), ("stream_version", "0")],
)
async def test_the_table_rejects_rows_the_store_would_not_write(
    db_pool: Pool, column: str, value: str
) -> None:
    row = {
        "stream_id": "s-1",
        "stream_version": "1",
        "event_id": str(uuid.uuid4()),
        "event_type": "T",
        "schema_version": "1",
        "data": "{}",
        "metadata": "{}",
    }
    row[column] = value
    with pytest.raises(asyncpg.CheckViolationError):
        await db_pool.execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type,"
            " schema_version, data, metadata)"
            " VALUES ($1, $2::text::int, $3::text::uuid, $4, $5::text::int,"
            " $6::text::jsonb, $7::text::jsonb)",
            *row.values(),
        )
