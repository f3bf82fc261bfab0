"""Following the log: woken by NOTIFY, polling when notifications are missing, cancellable."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from database.pgtypes import Pool
from eventstore import Checkpoint, EventStore, RecordedEvent, Subscription
from tests.eventstore.helpers import new_event, stream_id


class Follower:
    """Runs a subscription in a task, handing its events to a queue."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.events: asyncio.Queue[RecordedEvent] = asyncio.Queue()
        self.listening = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with self.subscription as events:
            self.listening.set()
            async for event in events:
                self.events.put_nowait(event)

    async def next(self) -> RecordedEvent:
        return await asyncio.wait_for(self.events.get(), 10)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def following(subscription: Subscription) -> AsyncIterator[Follower]:
    follower = Follower(subscription)
    await asyncio.wait_for(follower.listening.wait(), 10)
    try:
        yield follower
    finally:
        await follower.stop()


async def insert_without_notifying(pool: Pool, stream: str) -> uuid.UUID:
    """What an append does, minus the pg_notify: only polling can find this event."""
    event_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,"
        " data, metadata) VALUES ($1, 1, $2, 'Quiet', 1, $3, '{}')",
        stream,
        event_id,
        {"n": 1},
    )
    return event_id


async def test_a_notification_wakes_the_subscriber(db_pool: Pool, event_store: EventStore) -> None:
    # Polling every minute: an event arriving within seconds was woken by NOTIFY.
    async with following(event_store.subscribe(Checkpoint.start(), poll_interval=60)) as follower:
        stream = stream_id()
        await event_store.append(stream, [new_event(), new_event()], expected_version=0)
        first, second = await follower.next(), await follower.next()
        await event_store.append(stream, [new_event()], expected_version=2)
        third = await follower.next()

    assert [e.stream_version for e in (first, second, third)] == [1, 2, 3]
    assert follower.subscription.checkpoint == third.checkpoint


async def test_polling_delivers_when_no_notification_comes(
    db_pool: Pool, event_store: EventStore
) -> None:
    subscription = event_store.subscribe(Checkpoint.start(), poll_interval=0.1)
    async with following(subscription) as follower:
        event_id = await insert_without_notifying(db_pool, stream_id())
        event = await follower.next()
    assert event.event_id == event_id


async def test_it_catches_up_in_batches_and_resumes_from_a_checkpoint(
    event_store: EventStore,
) -> None:
    stream = stream_id()
    await event_store.append(stream, [new_event() for _ in range(5)], expected_version=0)

    subscription = event_store.subscribe(Checkpoint.start(), batch_size=2)
    async with subscription as events:
        seen = [await anext(events) for _ in range(3)]
    assert [e.stream_version for e in seen] == [1, 2, 3]

    async with event_store.subscribe(subscription.checkpoint, batch_size=2) as events:
        rest = [await anext(events) for _ in range(2)]
    assert [e.stream_version for e in rest] == [4, 5]


async def test_cancelling_the_subscriber_gives_its_connection_back(
    db_pool: Pool, event_store: EventStore
) -> None:
    async with following(event_store.subscribe(Checkpoint.start(), poll_interval=60)) as follower:
        await event_store.append(stream_id(), [new_event()], expected_version=0)
        await follower.next()
        assert db_pool.get_idle_size() < db_pool.get_size()  # the subscription holds one
    assert follower.task.cancelled()
    assert db_pool.get_idle_size() == db_pool.get_size()


async def test_it_reconnects_when_its_connection_is_killed(
    db_pool: Pool, event_store: EventStore
) -> None:
    subscription = event_store.subscribe(Checkpoint.start(), poll_interval=0.1)
    async with following(subscription) as follower:
        stream = stream_id()
        await event_store.append(stream, [new_event()], expected_version=0)
        await follower.next()
        conn = subscription._conn
        assert conn is not None
        await db_pool.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())

        await event_store.append(stream, [new_event()], expected_version=1)
        event = await follower.next()
    assert event.stream_version == 2


def test_subscription_settings_are_checked(event_store: EventStore) -> None:
    with pytest.raises(ValueError):
        event_store.subscribe(Checkpoint.start(), poll_interval=0)
    with pytest.raises(ValueError):
        event_store.subscribe(Checkpoint.start(), batch_size=0)
