"""The journey workflow end to end: the time-skipping test server and a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import Event, RejectionCode, Stage, Status, fold, parse_event
from domain.events import DueReached
from domain.view import JourneyView
from eventstore import EventStore
from tests.workflows.driver import OPS, PRESCRIBER, VITALS, JourneyDriver, Rejected
from workflows.journey import JourneyWorkflow


async def stored_events(store: EventStore, journey_id: str) -> list[Event]:
    return [parse_event(r.data) for r in await store.read_stream(journey_id)]


async def test_decisions_are_recorded_and_the_state_is_the_fold_of_the_store(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    outcome = await j.decide(
        "schedule_dosing", session_id="s1", scheduled_at=await j.now() + timedelta(days=2)
    )
    assert outcome.events == ["dosing_session_scheduled"]
    assert outcome.view.stage is Stage.DOSING and outcome.view.doses.authorized == 2
    events = await stored_events(event_store, j.journey_id)
    state = await j.handle.query(JourneyWorkflow.state)
    assert state is not None and fold(events) == state
    assert state.version == len(events) == outcome.view.version


async def test_a_rejection_is_answered_at_once_and_records_nothing(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_eligible()
    before = await event_store.stream_version(j.journey_id)
    with pytest.raises(Rejected) as rejected:
        await j.decide("approve_medication", OPS, expires_at=await j.now() + timedelta(days=9))
    assert rejected.value.rejection.code is RejectionCode.FORBIDDEN_ROLE
    with pytest.raises(Rejected) as not_now:
        await j.decide("start_dosing", session_id="nope", vitals=VITALS, transport_confirmed=True)
    assert not_now.value.rejection.code is RejectionCode.INVALID
    assert await event_store.stream_version(j.journey_id) == before


async def test_a_repeated_decision_id_returns_the_first_answer_without_a_second_effect(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    first = await j.decide("pause", decision_id="pause-once")
    again = await j.decide("pause", decision_id="pause-once")
    assert again == first
    events = await stored_events(event_store, j.journey_id)
    assert [type(e).__name__ for e in events].count("JourneyPaused") == 1


async def test_timers_fire_what_is_due_and_pause_holds_them(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_eligible()
    await j.decide("refer_to_prescriber")
    view = await j.handle.query(JourneyWorkflow.view)
    sla = next(item for item in view.due if item.kind.value == "referral_sla")
    await j.decide("pause")
    await j.wait(days=15)
    assert "due_reached" not in [e.type for e in await stored_events(event_store, j.journey_id)]
    await j.decide("resume")
    await j.wait(minutes=1)
    fired = [e for e in await stored_events(event_store, j.journey_id) if isinstance(e, DueReached)]
    assert [(e.kind, e.due_at) for e in fired][:1] == [(sla.kind, sla.at)]


async def test_withdrawal_closes_the_journey_and_tells_the_prescriber(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    await j.decide("schedule_dosing", session_id="s1", scheduled_at=await j.now() + timedelta(2))
    await j.decide("withdraw", OPS)
    final: JourneyView = await j.handle.result()
    assert final.status is Status.CLOSED and final.due == []
    rows = await journeys.pool.fetch(
        "SELECT template, recipient_role, status FROM notifications WHERE journey_id = $1",
        j.handle.id,
    )
    assert ("client_withdrawn", "prescriber") in {
        (r["template"], r["recipient_role"]) for r in rows
    }
    with pytest.raises(Exception):  # noqa: B017 - a closed workflow takes no updates
        await j.decide("resume")


async def test_a_full_dose_with_its_monitoring_timer(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    await j.decide("schedule_dosing", session_id="s1", scheduled_at=await j.now() + timedelta(2))
    await j.wait(days=2)
    started = await j.decide(
        "start_dosing", session_id="s1", vitals=VITALS, transport_confirmed=True
    )
    assert started.view.doses.used == 1
    await j.monitor_and_discharge("s1", sign=False)
    done = await j.decide("sign_session_record", session_id="s1")
    assert done.view.stage is Stage.INTEGRATION
    kinds = [
        e.kind.value
        for e in await stored_events(event_store, j.journey_id)
        if isinstance(e, DueReached)
    ]
    assert "session_reminder" in kinds and "monitoring_end" in kinds
    await j.decide("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    final: JourneyView = await j.handle.result()
    assert final.closed_reason is not None and final.closed_reason.value == "discharged"


async def test_the_append_can_run_as_a_regular_activity(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start(append_mode="activity")
    await j.to_eligible()
    history = await j.handle.fetch_history()
    assert any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
    state = await j.handle.query(JourneyWorkflow.state)
    events = await stored_events(event_store, j.journey_id)
    assert state is not None and fold(events) == state
