"""The one read of the global log (``eventstore.log``): the events as stored, in the log's order,
in batches that resume from a checkpoint. Gap-safety is tested in test_concurrency.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from database.pgtypes import Pool
from eventstore import Checkpoint, EventStore, InvalidEventError, fetch_log, read_log
from tests.eventstore.helpers import new_event, stream_id

ROOT = Path(__file__).resolve().parents[2]


async def test_it_reads_the_events_as_stored(event_store: EventStore) -> None:
    stream = stream_id()
    await event_store.append(
        stream,
        [new_event(data={"a": [1, {"b": None}], "s": "é"}), new_event(metadata={})],
        expected_version=0,
    )
    assert await read_log(event_store.pool, Checkpoint.start(), 10) == (
        await event_store.read_stream(stream)
    )


async def test_it_reads_in_batches_and_resumes_from_a_checkpoint(event_store: EventStore) -> None:
    streams = [stream_id(), stream_id()]
    for version in range(3):
        for stream in streams:
            await event_store.append(stream, [new_event()], expected_version=version)

    seen, after = [], Checkpoint.start()
    while batch := await read_log(event_store.pool, after, 4):
        assert len(batch) <= 4
        seen.extend(batch)
        after = batch[-1].checkpoint
    assert [(e.stream_id, e.stream_version) for e in seen] == [
        (stream, version) for version in (1, 2, 3) for stream in streams
    ]
    assert [e.checkpoint.as_tuple() for e in seen] == sorted(e.checkpoint.as_tuple() for e in seen)
    assert await read_log(event_store.pool, seen[2].checkpoint, 100) == seen[3:]


async def test_its_rows_carry_the_fields_lean_readers_use(
    db_pool: Pool, event_store: EventStore
) -> None:
    """What ``projections.log`` reads without decoding any JSON; NULL where absent."""
    stream = stream_id()
    metadata = {
        "decision_id": "d-1",
        "decision_type": "pause",
        "actor_id": "th-1",
        "actor_role": "therapist",
    }
    await event_store.append(
        stream,
        [
            new_event(data={"occurred_at": "2026-11-24T09:00:00Z"}, metadata=metadata),
            new_event(metadata={}),
        ],
        expected_version=0,
    )
    first, second = await fetch_log(db_pool, Checkpoint.start(), 10)
    extracted = ("occurred_at", "decision_id", "decision_type", "actor_id", "actor_role")
    assert [first[k] for k in extracted] == [
        "2026-11-24T09:00:00Z",
        "d-1",
        "pause",
        "th-1",
        "therapist",
    ]
    assert [second[k] for k in extracted] == [None] * 5
    assert isinstance(first["event_id"], uuid.UUID)
    assert (first["transaction_id"], first["global_position"]) < (
        second["transaction_id"],
        second["global_position"],
    )


async def test_a_limit_below_one_is_refused(db_pool: Pool) -> None:
    with pytest.raises(InvalidEventError):
        await read_log(db_pool, Checkpoint.start(), 0)


def test_the_gap_safe_rule_is_written_once() -> None:
    """Every reader of the whole log goes through ``eventstore.log``: no copy of its WHERE."""
    holders = [
        path.relative_to(ROOT).as_posix()
        for directory in (
            "api",
            "activities",
            "bench",
            "chaos",
            "cli",
            "database",
            "devstack",
            "eventstore",
            "projections",
            "records",
            "workers",
            "workflows",
        )
        if (ROOT / directory).is_dir()
        for path in sorted((ROOT / directory).rglob("*.py"))
        if "pg_snapshot_xmin" in path.read_text(encoding="utf-8")
    ]
    assert holders == ["eventstore/log.py"]
