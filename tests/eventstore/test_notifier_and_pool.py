"""Readers are woken after commit, with notifications coalesced; pooled connections stay clean."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from database import open_pool
from database.pgtypes import Pool
from eventstore import NOTIFY_CHANNEL, EventStore
from eventstore.notifier import Notifier
from tests.eventstore.helpers import new_event, stream_id


async def test_many_appends_wake_readers_with_few_notifications(db_pool: Pool) -> None:
    store = EventStore(db_pool)
    received: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(*args: object) -> None:
        received.put_nowait(str(args[2]))

    async with db_pool.acquire() as conn:
        await conn.add_listener(NOTIFY_CHANNEL, on_notify)
        streams = [stream_id() for _ in range(40)]
        await asyncio.gather(*(store.append(s, [new_event()], 0) for s in streams))
        for s in streams:  # sequential appends too
            await store.append(s, [new_event()], 1)
        await store._notifier.flush()
        async with asyncio.timeout(10):  # every notification sent arrives
            for _ in range(store._notifier.sent):
                await received.get()
        await conn.remove_listener(NOTIFY_CHANNEL, on_notify)
    assert 1 <= store._notifier.sent < 80  # coalesced, never one per append


async def test_an_unwritten_append_wakes_nobody(db_pool: Pool) -> None:
    store = EventStore(db_pool)
    stream, event = stream_id(), new_event()
    await store.append(stream, [event], 0)
    await store._notifier.flush()
    sent = store._notifier.sent
    again = await store.append(stream, [event], 0)  # a retried append: stored already
    await store._notifier.flush()
    assert not again.written and store._notifier.sent == sent


async def test_a_lost_notification_is_logged_not_raised(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=1)
    notifier = Notifier(pool, delay=0)
    await pool.close()  # every notification now fails
    notifier.mark()
    await notifier.flush()
    assert notifier.sent == 0


async def test_a_connection_that_listened_is_reset_before_reuse(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=1)
    try:
        with pytest.warns(asyncpg.InterfaceWarning, match="notification listener"):
            async with pool.acquire() as conn:  # released while still listening
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: None)
                pid = conn.get_server_pid()
        async with pool.acquire() as again:
            assert again.get_server_pid() == pid
            assert await again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    finally:
        await pool.close()


async def test_a_connection_is_handed_back_without_its_transaction(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.transaction().start()
            await conn.execute("CREATE TEMP TABLE scratch (x int)")
        # Released mid-transaction: rolled back although the reset query is skipped.
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.scratch')") is None
    finally:
        await pool.close()
