"""Concurrent appenders, gap-safe reading of the global log, and crashes mid-append."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import UUID

import pytest

from database.pgtypes import Connection, Pool
from eventstore import (
    AppendResult,
    Checkpoint,
    ConcurrencyError,
    EventStore,
    NewEvent,
    RecordedEvent,
    read_log,
)
from tests.eventstore.append_and_hang import crash_probe_batch
from tests.eventstore.helpers import new_event, stream_id

ROOT = Path(__file__).resolve().parents[2]


class HeldOpen:
    """A before-commit hook that keeps the append's transaction open until released."""

    def __init__(self) -> None:
        self.inserted = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, conn: Connection) -> None:
        self.inserted.set()
        await self.release.wait()


@contextlib.asynccontextmanager
async def held_append(
    pool: Pool, stream: str, events: list[NewEvent], expected_version: int
) -> AsyncIterator[asyncio.Task[AppendResult]]:
    """Inside: the append has inserted its rows and not committed. On exit it commits."""
    hold = HeldOpen()
    store = store_with_hook(pool, hold)
    task = asyncio.create_task(store.append(stream, events, expected_version))
    inserted = asyncio.create_task(hold.inserted.wait())
    await asyncio.wait({task, inserted}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if not hold.inserted.is_set():
        inserted.cancel()
        task.cancel()
        pytest.fail("the held append never reached its insert")
    try:
        yield task
    finally:
        # Even when the test failed: a transaction left open would hang the pool's close.
        hold.release.set()
        await asyncio.wait({task}, timeout=30)


def store_with_hook(pool: Pool, hook: Callable[[Connection], Awaitable[None]]) -> EventStore:
    store = EventStore(pool, max_event_bytes=64 * 1024)
    store._before_commit = hook
    return store


async def wait_until_blocked_on_a_lock(pool: Pool, count: int) -> None:
    """Until ``count`` backends wait for another transaction to end."""
    for _ in range(200):
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"{count} appends never blocked on a lock")


async def read_everything(store: EventStore, after: Checkpoint) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    while batch := await read_log(store.pool, after, 100):
        events.extend(batch)
        after = batch[-1].checkpoint
    return events


async def test_concurrent_appenders_to_one_stream_exactly_one_wins(db_pool: Pool) -> None:
    # Each append holds its transaction open a moment, so the racers truly overlap.
    store = store_with_hook(db_pool, lambda conn: asyncio.sleep(0.02))
    stream = stream_id()
    racers, rounds = 10, 5

    for version in range(rounds):
        barrier = asyncio.Barrier(racers)

        async def race(
            racer: int, version: int = version, barrier: asyncio.Barrier = barrier
        ) -> AppendResult | ConcurrencyError:
            await barrier.wait()
            try:
                return await store.append(
                    stream, [new_event(data={"racer": racer})], expected_version=version
                )
            except ConcurrencyError as error:
                return error

        outcomes = await asyncio.gather(*(race(racer) for racer in range(racers)))

        winners = [o for o in outcomes if isinstance(o, AppendResult)]
        losers = [o for o in outcomes if isinstance(o, ConcurrencyError)]
        assert len(winners) == 1
        assert len(losers) == racers - 1
        assert winners[0].last_version == version + 1
        assert {loser.actual for loser in losers} == {version + 1}

    recorded = await store.read_stream(stream)
    assert [e.stream_version for e in recorded] == list(range(1, rounds + 1))


async def test_an_append_blocked_behind_a_winner_gets_a_conflict(db_pool: Pool) -> None:
    """The loser waits on the unique index, then must see ConcurrencyError, not UniqueViolation."""
    store, stream = EventStore(db_pool), stream_id()
    async with held_append(db_pool, stream, [new_event()], expected_version=0) as first:
        second = asyncio.create_task(store.append(stream, [new_event()], expected_version=0))
        await wait_until_blocked_on_a_lock(db_pool, 1)

    assert (await first).written
    with pytest.raises(ConcurrencyError) as raised:
        await second
    assert (raised.value.expected, raised.value.actual) == (0, 1)


async def test_a_retry_racing_the_original_append_writes_nothing(db_pool: Pool) -> None:
    store, stream, batch = EventStore(db_pool), stream_id(), [new_event(), new_event()]
    async with held_append(db_pool, stream, batch, expected_version=0) as original:
        retry = asyncio.create_task(store.append(stream, batch, expected_version=0))
        await wait_until_blocked_on_a_lock(db_pool, 1)

    assert (await original).written
    retried = await retry
    assert not retried.written
    assert retried.global_positions == (await original).global_positions


async def test_a_lower_position_committing_later_is_not_skipped(db_pool: Pool) -> None:
    store = EventStore(db_pool)
    # A takes a position and stays uncommitted; B takes a higher one and commits.
    async with held_append(db_pool, stream_id("a"), [new_event()], expected_version=0) as a:
        b = await store.append(stream_id("b"), [new_event()], expected_version=0)
        b_position = b.global_positions[0]

        # A reader by global_position alone sees B now, and would checkpoint at B's position.
        naive = await db_pool.fetch("SELECT global_position FROM events ORDER BY 1")
        assert [row["global_position"] for row in naive] == [b_position]
        # The gap-safe reader returns nothing yet: A, older than B, is still running.
        assert await read_log(db_pool, Checkpoint.start(), 1000) == []

    a_position = (await a).global_positions[0]
    assert a_position < b_position  # the lower position committed later...
    naive_after_b = await db_pool.fetch(
        "SELECT global_position FROM events WHERE global_position > $1", b_position
    )
    assert naive_after_b == []  # ...so the naive reader has skipped it for good.

    events = await read_everything(store, Checkpoint.start())
    assert [e.global_position for e in events] == [a_position, b_position]


async def test_reader_sees_every_event_once_while_writers_interleave(db_pool: Pool) -> None:
    rng = random.Random(20240601)

    async def pause_before_commit(conn: Connection) -> None:
        # Holds positions uncommitted for a while, so commits land out of position order.
        await asyncio.sleep(rng.uniform(0, 0.015))

    writer_store = store_with_hook(db_pool, pause_before_commit)
    streams = [stream_id() for _ in range(6)]
    written: list[UUID] = []
    writers_done = asyncio.Event()

    async def writer() -> None:
        for _ in range(12):
            stream = rng.choice(streams)
            batch = [new_event(data={"k": rng.random()}) for _ in range(rng.randint(1, 3))]
            while True:  # the usual load-decide-append loop
                version = await writer_store.stream_version(stream)
                try:
                    await writer_store.append(stream, batch, expected_version=version)
                    break
                except ConcurrencyError:
                    continue
            written.extend(event.event_id for event in batch)

    async def reader() -> list[RecordedEvent]:
        seen: list[RecordedEvent] = []
        checkpoint = Checkpoint.start()
        while True:
            finished = writers_done.is_set()  # before the read: then it sees every commit
            batch = await read_log(db_pool, checkpoint, 7)
            for event in batch:
                assert event.checkpoint.as_tuple() > checkpoint.as_tuple()
                checkpoint = event.checkpoint
            seen.extend(batch)
            if not batch:
                if finished:
                    return seen
                await asyncio.sleep(0.002)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer() for _ in range(8)))
    writers_done.set()
    seen = await reading

    assert len(seen) == len(written)
    assert {e.event_id for e in seen} == set(written)
    versions: defaultdict[str, list[int]] = defaultdict(list)
    for event in seen:
        versions[event.stream_id].append(event.stream_version)
    for stream_versions in versions.values():
        assert stream_versions == list(range(1, len(stream_versions) + 1))


async def test_killing_the_process_mid_append_leaves_no_trace(db_url: str, db_pool: Pool) -> None:
    store = EventStore(db_pool)
    stream = stream_id()
    event_ids = [uuid.uuid4() for _ in range(5)]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.eventstore.append_and_hang",
        db_url,
        stream,
        *map(str, event_ids),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=30)
        backend_pid = int(line)
        # The child's backend has inserted the batch (it has a transaction id) and waits.
        activity = await db_pool.fetchrow(
            "SELECT state, backend_xid IS NOT NULL AS wrote FROM pg_stat_activity WHERE pid = $1",
            backend_pid,
        )
        assert activity is not None
        assert (activity["state"], activity["wrote"]) == ("idle in transaction", True)

        child.kill()  # SIGKILL: no cleanup, no rollback from the client
        await child.wait()
        for _ in range(200):
            alive = await db_pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend_pid
            )
            if not alive:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the killed client's backend never ended")
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()

    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM events WHERE event_id = ANY($1::uuid[])", event_ids
        )
        == 0
    )
    assert await store.stream_version(stream) == 0
    assert await read_everything(store, Checkpoint.start()) == []
    # Neither the versions nor the ids were taken: the same batch appends afresh.
    result = await store.append(stream, crash_probe_batch(event_ids), expected_version=0)
    assert result.written
    assert [e.event_id for e in await store.read_stream(stream)] == event_ids
