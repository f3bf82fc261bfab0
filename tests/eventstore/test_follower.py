"""Following the log (``follow_log``): woken by NOTIFY, polling when notifications are missing,
a dead listening connection noticed and replaced, failures retried, cancellable at any time."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from database.pgtypes import Pool
from eventstore import Checkpoint, EventStore, RecordedEvent, follow_log, read_log
from eventstore.follower import ListenerLost
from tests.eventstore.helpers import new_event, stream_id

LISTENING = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
KILL_LISTENERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
)


class Reader:
    """A reader of the log driven by ``follow_log``: each catch-up reads everything after its
    checkpoint into a queue, in batches of ``batch_size``."""

    def __init__(
        self, pool: Pool, *, poll_interval: float, batch_size: int = 500, max_backoff: float = 60
    ) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.checkpoint = Checkpoint.start()
        self.events: asyncio.Queue[RecordedEvent] = asyncio.Queue()
        self.catch_ups = 0
        self.errors: list[tuple[Exception, float]] = []
        self.task = asyncio.create_task(
            follow_log(
                pool,
                self.catch_up,
                poll_interval=poll_interval,
                max_backoff=max_backoff,
                on_error=lambda error, pause: self.errors.append((error, pause)),
            )
        )

    async def catch_up(self) -> None:
        while batch := await read_log(self.pool, self.checkpoint, self.batch_size):
            for event in batch:
                self.events.put_nowait(event)
            self.checkpoint = batch[-1].checkpoint
        self.catch_ups += 1

    async def next(self) -> RecordedEvent:
        return await asyncio.wait_for(self.events.get(), 10)

    async def stop(self) -> None:
        self.task.cancel()
        done, _ = await asyncio.wait([self.task], timeout=5)
        assert done, "the follower did not stop when cancelled"
        assert self.task.cancelled(), "the follower swallowed its cancellation"


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"never: {what}")


async def listeners(pool: Pool) -> set[int]:
    """The server pids of the connections listening."""
    return {pid for (pid,) in await pool.fetch(LISTENING)}


@contextlib.asynccontextmanager
async def following(
    pool: Pool, *, poll_interval: float, batch_size: int = 500, max_backoff: float = 60
) -> AsyncIterator[Reader]:
    """A reader that has caught up once and is listening."""
    reader = Reader(
        pool, poll_interval=poll_interval, batch_size=batch_size, max_backoff=max_backoff
    )
    try:
        await wait_for(lambda: _ready(reader, pool), "the follower caught up once and is listening")
        yield reader
    finally:
        await reader.stop()


async def _ready(reader: Reader, pool: Pool) -> bool:
    return reader.catch_ups >= 1 and len(await listeners(pool)) == 1


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


async def test_a_notification_wakes_the_follower(db_pool: Pool, event_store: EventStore) -> None:
    # Polling every minute: an event arriving within seconds was woken by NOTIFY.
    async with following(db_pool, poll_interval=60) as reader:
        stream = stream_id()
        await event_store.append(stream, [new_event(), new_event()], expected_version=0)
        first, second = await reader.next(), await reader.next()
        await event_store.append(stream, [new_event()], expected_version=2)
        third = await reader.next()

    assert [e.stream_version for e in (first, second, third)] == [1, 2, 3]
    assert reader.checkpoint == third.checkpoint
    assert reader.errors == []


async def test_polling_delivers_when_no_notification_comes(db_pool: Pool) -> None:
    async with following(db_pool, poll_interval=0.1) as reader:
        event_id = await insert_without_notifying(db_pool, stream_id())
        event = await reader.next()
    assert event.event_id == event_id


async def test_it_catches_up_at_once_with_what_is_already_there(event_store: EventStore) -> None:
    stream = stream_id()
    await event_store.append(stream, [new_event() for _ in range(5)], expected_version=0)
    async with following(event_store.pool, poll_interval=60, batch_size=2) as reader:
        seen = [await reader.next() for _ in range(5)]
    assert [e.stream_version for e in seen] == [1, 2, 3, 4, 5]


async def test_cancelling_the_follower_gives_its_connection_back(
    db_pool: Pool, event_store: EventStore
) -> None:
    async with following(db_pool, poll_interval=60) as reader:
        await event_store.append(stream_id(), [new_event()], expected_version=0)
        await reader.next()
        assert db_pool.get_idle_size() < db_pool.get_size()  # the listener holds one
    assert reader.task.cancelled()
    assert db_pool.get_idle_size() == db_pool.get_size()


async def test_a_dead_listening_connection_is_noticed_and_replaced(
    db_pool: Pool, event_store: EventStore
) -> None:
    """Found by `make chaos` (in the projections' follower): a dead LISTEN connection went
    unnoticed, so no wake-up ever came again. Polling once a minute, only a new listener can
    deliver the next event within seconds."""
    async with following(db_pool, poll_interval=60) as reader:
        stream = stream_id()
        await event_store.append(stream, [new_event()], expected_version=0)
        await reader.next()
        [dead] = await listeners(db_pool)
        await db_pool.execute(KILL_LISTENERS)

        async def replaced() -> bool:
            return bool(await listeners(db_pool) - {dead})

        await wait_for(replaced, "a new connection listens")

        await event_store.append(stream, [new_event()], expected_version=1)
        event = await reader.next()
        assert event.stream_version == 2
        [(error, pause)] = reader.errors
        assert isinstance(error, ListenerLost)
        assert pause == 1.0  # it had caught up: the first pause, not a longer one


async def test_a_stop_during_a_catch_up_after_the_listener_died_is_not_swallowed(
    db_pool: Pool,
) -> None:
    in_catch_up, never = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow_catch_up() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            in_catch_up.set()
            await never.wait()  # a long batch, or a slow reconnect

    task = asyncio.create_task(follow_log(db_pool, slow_catch_up, poll_interval=0.05))
    await asyncio.wait_for(in_catch_up.wait(), 10)
    await db_pool.execute(KILL_LISTENERS)
    await asyncio.sleep(0.3)  # the listener's loss is seen while the catch-up runs
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert done and task.cancelled()
    assert db_pool.get_idle_size() == db_pool.get_size()


async def test_a_failing_catch_up_is_retried_with_a_growing_pause_then_resumes(
    db_pool: Pool,
) -> None:
    errors: list[tuple[Exception, float]] = []
    calls = 0
    recovered = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise RuntimeError("the read failed")
        recovered.set()

    task = asyncio.create_task(
        follow_log(
            db_pool,
            flaky,
            poll_interval=0.01,
            max_backoff=0.03,
            on_error=lambda error, pause: errors.append((error, pause)),
        )
    )
    try:
        await asyncio.wait_for(recovered.wait(), 10)
        assert not task.done()  # still following after the failures
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [type(e) for e, _ in errors] == [RuntimeError] * 3
    assert [pause for _, pause in errors] == [0.01, 0.02, 0.03]  # doubling, up to max_backoff


async def test_the_pause_starts_again_after_a_catch_up_succeeded(db_pool: Pool) -> None:
    errors: list[float] = []
    calls = 0
    done = asyncio.Event()

    async def fails_after_a_success() -> None:
        # fail, fail, succeed then fail (the pause is back to the first), succeed
        nonlocal calls
        calls += 1
        if calls in (1, 2):
            raise RuntimeError("down")
        if calls == 4:
            raise RuntimeError("down again")
        if calls >= 5:
            done.set()

    task = asyncio.create_task(
        follow_log(
            db_pool,
            fails_after_a_success,
            poll_interval=0.01,
            on_error=lambda error, pause: errors.append(pause),
        )
    )
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert errors == [0.01, 0.02, 0.01]


async def test_follower_settings_are_checked(db_pool: Pool) -> None:
    async def nothing() -> None:
        pass

    with pytest.raises(ValueError):
        await follow_log(db_pool, nothing, poll_interval=0)
    with pytest.raises(ValueError):
        await follow_log(db_pool, nothing, max_backoff=0)
