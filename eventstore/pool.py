"""Connection pools with the event store's codecs, and the schema migrated."""

from __future__ import annotations

import asyncio

import asyncpg

from config.settings import Settings
from eventstore.codec import init_connection
from eventstore.migrations import migrate
from eventstore.pgtypes import Pool
from eventstore.server import database_url


async def open_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """A pool whose connections decode json/jsonb to Python values. Does not migrate."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection
    )


async def create_pool(settings: Settings) -> Pool:
    """The process's pool: sized from settings, schema migrated before it is returned."""
    url = await asyncio.to_thread(database_url, settings)
    pool = await open_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    try:
        await migrate(pool)
    except BaseException:
        await pool.close()
        raise
    return pool
