from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from domain import EVENT_ADAPTER, UnknownEventError, fold, parse_event, upcast
from domain.events import CURRENT_VERSIONS, Event
from tests.domain.journey import Journey


def _full_journey_events() -> list[Event]:
    j = Journey().prepared()
    j.dose("s1")
    return j.events


def test_every_event_round_trips_through_json() -> None:
    events = _full_journey_events()
    for event in events:
        raw = json.loads(EVENT_ADAPTER.dump_json(event))
        assert raw["type"] == event.type and raw["schema_version"] == 1
        assert parse_event(raw) == event
    assert fold(parse_event(json.loads(EVENT_ADAPTER.dump_json(e))) for e in events) == fold(events)


def test_every_event_type_has_a_version() -> None:
    assert "journey_started" in CURRENT_VERSIONS
    assert all(v >= 1 for v in CURRENT_VERSIONS.values())
    members = get_args(get_args(Event)[0])
    assert {m.model_fields["type"].default for m in members} == set(CURRENT_VERSIONS)


def test_upcasters_bring_old_records_forward() -> None:
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        renamed = {k: v for k, v in data.items() if k != "why"}
        return {**renamed, "reason": data["why"]}

    old = {"type": "journey_paused", "schema_version": 1, "why": "holiday"}
    steps = {("journey_paused", 1): v1_to_v2}
    record = upcast(old, steps, {**CURRENT_VERSIONS, "journey_paused": 2})
    assert record == {"type": "journey_paused", "schema_version": 2, "reason": "holiday"}
    assert old["why"] == "holiday"  # the stored record is not changed
    with pytest.raises(UnknownEventError, match="no upcaster"):
        upcast(old, {}, {**CURRENT_VERSIONS, "journey_paused": 2})


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"type": "no_such_event"}, "unknown event type"),
        ({"schema_version": 1}, "unknown event type"),
        ({"type": "journey_paused", "schema_version": 9}, "newer than this code"),
        ({"type": "journey_paused", "schema_version": 0}, "invalid schema version"),
    ],
)
def test_unknown_records_fail_clearly(record: dict[str, Any], message: str) -> None:
    with pytest.raises(UnknownEventError, match=message):
        parse_event(record)


def test_events_are_immutable() -> None:
    event = _full_journey_events()[0]
    with pytest.raises(ValueError, match="frozen"):
        event.decision_id = "changed"  # type: ignore[misc]
