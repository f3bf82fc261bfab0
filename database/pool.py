"""Connection pools with the event store's codecs, and the schema migrated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from config.settings import Settings
from database.codec import init_connection
from database.keychecks import check_key_ring
from database.migrations import migrate
from database.pgtypes import Pool
from database.server import database_url
from privacy.keys import load_key_ring


class StoreConnection(asyncpg.Connection):
    """Skips asyncpg's reset query when going back to the pool, unless it ever listened.

    The reset (``UNLISTEN *``, ``RESET ALL``, advisory unlock, ``CLOSE ALL``) is an extra
    round trip per use. Nothing here leaves session state behind: settings are made with
    ``SET LOCAL`` or at connect, locks are transaction-scoped, cursors live in transactions.
    An open transaction is still rolled back and listener callbacks are still dropped.
    """

    _listened = False

    async def add_listener(self, channel: str, callback: Callable[..., Any]) -> None:
        self._listened = True
        await super().add_listener(channel, callback)

    def get_reset_query(self) -> str:
        if not self._listened:
            return ""
        self._listened = False
        query: str = super().get_reset_query()
        return query


async def open_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """A pool whose connections decode json/jsonb to Python values. Does not migrate."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        connection_class=StoreConnection,
    )


async def create_pool(settings: Settings) -> Pool:
    """The process's pool: sized from settings, schema migrated before it is returned."""
    url = await asyncio.to_thread(database_url, settings)
    pool = await open_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    try:
        await migrate(pool)
        ring = load_key_ring(settings.payload_keys, settings.payload_key_file)
        if ring is not None:
            await check_key_ring(pool, ring)  # before anything is sealed with them
    except BaseException:
        await pool.close()
        raise
    return pool
