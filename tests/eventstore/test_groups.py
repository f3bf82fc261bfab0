"""Concurrent appends share statements, and each still succeeds or fails on its own."""

from __future__ import annotations

import asyncio

from database import open_pool
from database.pgtypes import Pool
from eventstore import ConcurrencyError, DuplicateEventError, EventStore
from tests.eventstore.helpers import new_event, stream_id


async def test_concurrent_appends_share_statements_and_land_where_they_say(
    db_pool: Pool,
) -> None:
    store = EventStore(db_pool)
    streams = [stream_id() for _ in range(60)]
    batches = [[new_event() for _ in range(1 + i % 3)] for i in range(len(streams))]
    results = await asyncio.gather(
        *(store.append(s, b, 0) for s, b in zip(streams, batches, strict=True))
    )
    assert store._groups.statements < len(streams)  # grouped
    for stream, batch, result in zip(streams, batches, results, strict=True):
        stored = await store.read_stream(stream)
        assert [e.event_id for e in stored] == [e.event_id for e in batch]
        assert tuple(e.global_position for e in stored) == result.global_positions
        assert (result.first_version, result.last_version) == (1, len(batch))


async def test_a_bad_append_in_a_group_fails_alone(db_pool: Pool) -> None:
    store = EventStore(db_pool)
    taken, gap, retried, reused = stream_id(), stream_id(), stream_id(), stream_id()
    first = new_event()
    for s, e in ((taken, new_event()), (gap, new_event()), (retried, first)):
        await store.append(s, [e], 0)
    good = [stream_id() for _ in range(20)]
    outcomes = await asyncio.gather(
        *(store.append(s, [new_event()], 0) for s in good),
        store.append(taken, [new_event()], 0),  # version 1 is taken: a conflict
        store.append(gap, [new_event()], 5),  # the stream is at 1, not 5
        store.append(retried, [first], 0),  # a retry of a stored append
        store.append(reused, [first], 0),  # a stored id on another stream
        return_exceptions=True,
    )
    *written, conflict, behind, retry, duplicate = outcomes
    assert all(not isinstance(r, BaseException) and r.written for r in written)
    assert isinstance(conflict, ConcurrencyError) and conflict.actual == 1
    assert isinstance(behind, ConcurrencyError) and behind.actual == 1
    assert not isinstance(retry, BaseException) and not retry.written
    assert isinstance(duplicate, DuplicateEventError)
    for s in good:
        assert await store.stream_version(s) == 1
    assert await store.stream_version(reused) == 0


async def test_two_appends_to_one_stream_in_flight_together_one_wins(db_pool: Pool) -> None:
    store = EventStore(db_pool)
    stream = stream_id()
    outcomes = await asyncio.gather(
        *(store.append(stream, [new_event()], 0) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, ConcurrencyError) for o in outcomes if isinstance(o, BaseException))
    assert await store.stream_version(stream) == 1


async def test_a_lost_connection_reaches_its_callers_and_nobody_hangs(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=1)
    store = EventStore(pool)
    async with pool.acquire() as conn:
        pid = conn.get_server_pid()  # the pool's only connection
    other = await open_pool(db_url, min_size=1, max_size=1)
    try:
        await other.execute("SELECT pg_terminate_backend($1)", pid)
        streams = [stream_id() for _ in range(8)]
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(store.append(s, [new_event()], 0) for s in streams), return_exceptions=True
            ),
            30,
        )
        for s, outcome in zip(streams, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                assert isinstance(outcome, Exception), outcome  # an error, not a hang
            else:
                assert outcome.written and await store.stream_version(s) == 1
        assert any(not isinstance(o, BaseException) for o in outcomes)  # the pool reconnected
    finally:
        await other.close()
        await pool.close()


async def test_a_caller_cancelled_while_queued_is_left_out(db_pool: Pool) -> None:
    store = EventStore(db_pool)
    streams = [stream_id() for _ in range(10)]
    tasks = [asyncio.create_task(store.append(s, [new_event()], 0)) for s in streams]
    await asyncio.sleep(0)  # all started: four sent at once, the rest queued
    tasks[7].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[7], asyncio.CancelledError)
    assert await store.stream_version(streams[7]) == 0
    for s, o in zip(streams, outcomes, strict=True):
        if s != streams[7]:
            assert not isinstance(o, BaseException) and o.written
            assert await store.stream_version(s) == 1
