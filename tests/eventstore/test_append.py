"""Appending and reading streams: round trips, concurrency checks, idempotency, validation."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore import (
    ConcurrencyError,
    DuplicateEventError,
    EventStore,
    InvalidEventError,
    NewEvent,
    PayloadTooLargeError,
)
from tests.eventstore.helpers import new_event, stream_id

SECRET = "SECRET-DIAGNOSIS"  # stands in for health data that must never reach a message


async def count_events(store: EventStore) -> int:
    count: int = await store.pool.fetchval("SELECT count(*) FROM events")
    return count


async def test_append_then_read_round_trip(event_store: EventStore) -> None:
    stream = stream_id()
    events = [
        new_event("ReferralReceived", {"source": "gp", "score": 1.5, "tags": ["a", None]}),
        new_event("IntakeBooked", {"slot": "2025-01-01T10:00"}, schema_version=2),
        new_event("IntakeAttended", {}, metadata={"actor_id": "u1", "correlation_id": "c1"}),
    ]

    result = await event_store.append(stream, events, expected_version=0)

    assert result.written
    assert (result.stream_id, result.first_version, result.last_version) == (stream, 1, 3)
    assert list(result.global_positions) == sorted(result.global_positions)
    recorded = await event_store.read_stream(stream)
    assert [e.event_id for e in recorded] == [e.event_id for e in events]
    assert [(e.type, e.schema_version, e.data, e.metadata) for e in recorded] == [
        (e.type, e.schema_version, e.data, e.metadata) for e in events
    ]
    assert [e.stream_version for e in recorded] == [1, 2, 3]
    assert [e.global_position for e in recorded] == list(result.global_positions)
    assert all(e.stream_id == stream for e in recorded)
    assert len({e.transaction_id for e in recorded}) == 1  # one transaction
    assert all(e.recorded_at.tzinfo is not None for e in recorded)
    assert await event_store.stream_version(stream) == 3


async def test_append_continues_a_stream_and_reads_a_slice(event_store: EventStore) -> None:
    stream = stream_id()
    await event_store.append(stream, [new_event(), new_event()], expected_version=0)
    result = await event_store.append(stream, [new_event(), new_event()], expected_version=2)

    assert (result.first_version, result.last_version) == (3, 4)
    sliced = await event_store.read_stream(stream, from_version=2, limit=2)
    assert [e.stream_version for e in sliced] == [2, 3]
    assert await event_store.read_stream(stream_id()) == []
    assert await event_store.stream_version(stream_id()) == 0


@pytest.mark.parametrize("expected_version", [0, 1, 3, 50])
async def test_wrong_expected_version_conflicts_and_writes_nothing(
    event_store: EventStore, expected_version: int
) -> None:
    stream = stream_id()
    await event_store.append(stream, [new_event(), new_event()], expected_version=0)
    before = await count_events(event_store)

    with pytest.raises(ConcurrencyError) as raised:
        await event_store.append(
            stream, [new_event(data={"note": SECRET})], expected_version=expected_version
        )

    error = raised.value
    assert (error.stream_id, error.expected, error.actual) == (stream, expected_version, 2)
    assert SECRET not in str(error)
    assert await count_events(event_store) == before
    assert await event_store.stream_version(stream) == 2


async def test_reappending_a_stored_batch_writes_nothing(event_store: EventStore) -> None:
    stream = stream_id()
    batch = [new_event(data={"i": i}) for i in range(3)]
    first = await event_store.append(stream, batch, expected_version=0)
    before = await count_events(event_store)

    again = await event_store.append(stream, batch, expected_version=0)

    assert not again.written
    assert again.global_positions == first.global_positions
    assert (again.first_version, again.last_version) == (1, 3)
    assert await count_events(event_store) == before

    # Still harmless after the stream moved on, and metadata (e.g. a retry count) may differ.
    await event_store.append(stream, [new_event()], expected_version=3)
    retried = [event.model_copy(update={"metadata": {"attempt": 2}}) for event in batch]
    late = await event_store.append(stream, retried, expected_version=0)
    assert not late.written
    assert late.global_positions == first.global_positions
    assert await event_store.stream_version(stream) == 4


def _changed(event: NewEvent, **changes: Any) -> NewEvent:
    return event.model_copy(update=changes)


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"n": 2, "note": SECRET}},
        {"type": "SomethingElse"},
        {"schema_version": 7},
    ],
    ids=["data", "type", "schema_version"],
)
async def test_same_id_with_other_content_is_a_duplicate(
    event_store: EventStore, change: dict[str, Any]
) -> None:
    stream = stream_id()
    event = new_event(data={"n": 1})
    await event_store.append(stream, [event], expected_version=0)

    with pytest.raises(DuplicateEventError) as raised:
        await event_store.append(stream, [_changed(event, **change)], expected_version=0)

    assert raised.value.event_id == event.event_id
    assert SECRET not in str(raised.value)
    assert await count_events(event_store) == 1


async def test_same_id_at_another_place_is_a_duplicate(event_store: EventStore) -> None:
    stream, other = stream_id(), stream_id()
    event = new_event()
    await event_store.append(stream, [new_event(), event], expected_version=0)

    with pytest.raises(DuplicateEventError, match="version 2"):
        await event_store.append(other, [event], expected_version=0)  # another stream
    with pytest.raises(DuplicateEventError):
        await event_store.append(stream, [event], expected_version=0)  # another version
    assert await count_events(event_store) == 2


async def test_a_partly_stored_batch_is_a_duplicate(event_store: EventStore) -> None:
    stream = stream_id()
    stored = new_event()
    await event_store.append(stream, [stored], expected_version=0)

    with pytest.raises(DuplicateEventError, match="partly stored"):
        await event_store.append(stream, [stored, new_event()], expected_version=0)
    assert await count_events(event_store) == 1


class _NotJson:
    pass


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


_BAD_DATA: dict[str, Any] = {
    "set": {"when": {1, 2}},
    "nan": {"value": math.nan},
    "infinity": {"value": -math.inf},
    "int-key": {1: "integer key"},
    "nul-in-text": {"text": "nul\x00byte"},
    "nul-in-key": {"nul\x00key": 1},
    "surrogate": {"text": "lone \ud800 surrogate"},
    "object": {"object": _NotJson()},
    "too-deep": _nested(5000),
}


@pytest.mark.parametrize("data", _BAD_DATA.values(), ids=_BAD_DATA.keys())
async def test_data_that_is_not_json_is_rejected(event_store: EventStore, data: Any) -> None:
    bad = NewEvent.model_construct(
        event_id=uuid.uuid4(), type="Bad", schema_version=1, data=data, metadata={}
    )
    with pytest.raises(InvalidEventError, match="data"):
        await event_store.append(stream_id(), [new_event(), bad], expected_version=0)
    assert await count_events(event_store) == 0


async def test_metadata_that_is_not_json_is_rejected(event_store: EventStore) -> None:
    with pytest.raises(InvalidEventError, match="metadata"):
        await event_store.append(
            stream_id(), [new_event(metadata={"at": object()})], expected_version=0
        )
    assert await count_events(event_store) == 0


@pytest.mark.parametrize(
    "bad_stream_id", ["", "has space", "x" * 201, "émoji", "line\n", "tab\t", "a/b"]
)
async def test_bad_stream_ids_are_rejected(event_store: EventStore, bad_stream_id: str) -> None:
    with pytest.raises(InvalidEventError, match="stream id"):
        await event_store.append(bad_stream_id, [new_event()], expected_version=0)
    with pytest.raises(InvalidEventError, match="stream id"):
        await event_store.read_stream(bad_stream_id)
    assert await count_events(event_store) == 0


async def test_malformed_batches_are_rejected(event_store: EventStore) -> None:
    stream = stream_id()
    event = new_event()
    cases: list[tuple[list[NewEvent], int, str]] = [
        ([], 0, "empty batch"),
        ([event, event], 0, "twice"),
        ([new_event("")], 0, "type"),
        ([new_event("  Padded ")], 0, "type"),
        ([new_event("Bad\x00Type")], 0, "type"),
        ([new_event("T" * 201)], 0, "type"),
        ([new_event(schema_version=0)], 0, "schema_version"),
        ([new_event()], -1, "expected_version"),
        ([new_event()], 2**31 - 1, "cannot exceed"),
    ]
    for events, expected_version, message in cases:
        with pytest.raises(InvalidEventError, match=message):
            await event_store.append(stream, events, expected_version=expected_version)
    assert await count_events(event_store) == 0


async def test_oversized_events_are_rejected_before_writing(event_store: EventStore) -> None:
    store = EventStore(event_store.pool, max_event_bytes=2048)
    fits = new_event(data={"note": "x" * 1500})
    too_big = new_event(data={"note": SECRET + "x" * 2048})

    with pytest.raises(PayloadTooLargeError) as raised:
        await store.append(stream_id(), [fits, too_big], expected_version=0)

    error = raised.value
    assert (error.event_id, error.limit) == (too_big.event_id, 2048)
    assert error.size > 2048
    assert SECRET not in str(error)
    assert await count_events(event_store) == 0
    await store.append(stream_id(), [fits], expected_version=0)  # the limit is per event


# JSON values that jsonb gives back equal. Floats stay below 1e15: jsonb keeps numbers as
# decimals, so a huge float such as 1e300 comes back as the int 10**300.
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(min_value=-1e15, max_value=1e15, allow_nan=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
)
_keys = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8
)
_json = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=12,
)
_events = st.builds(
    NewEvent,
    event_id=st.just(uuid.UUID(int=0)),  # replaced by a fresh id in the test
    type=st.from_regex(r"[A-Z][A-Za-z.]{0,30}", fullmatch=True),
    schema_version=st.integers(min_value=1, max_value=5),
    data=st.dictionaries(_keys, _json, max_size=5),
    metadata=st.dictionaries(_keys, _json_scalars, max_size=3),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.lists(_events, min_size=1, max_size=6),
        min_size=1,
        max_size=3,
    )
)
async def test_random_batches_round_trip(
    event_store: EventStore, batches: list[list[NewEvent]]
) -> None:
    # Examples share the database, so each gets its own stream and fresh event ids.
    stream = stream_id()
    batches = [[e.model_copy(update={"event_id": uuid.uuid4()}) for e in b] for b in batches]
    version = 0
    for batch in batches:
        result = await event_store.append(stream, batch, expected_version=version)
        assert result.written
        version = result.last_version

    sent = [event for batch in batches for event in batch]
    recorded = await event_store.read_stream(stream)
    assert [(e.event_id, e.type, e.schema_version, e.data, e.metadata) for e in recorded] == [
        (e.event_id, e.type, e.schema_version, e.data, e.metadata) for e in sent
    ]
    assert [e.stream_version for e in recorded] == list(range(1, len(sent) + 1))

    # And every batch, retried, is recognised as already stored.
    version = 0
    for batch in batches:
        retried = await event_store.append(stream, batch, expected_version=version)
        assert not retried.written
        version = retried.last_version
