"""Full journeys, every timer, every off-ramp and every rejection, through the real workflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import ClosedReason, DueKind, RejectionCode, Stage, Status, fold, parse_event
from domain.events import DueReached, Event
from domain.view import JourneyView
from eventstore import EventStore
from tests.workflows.driver import (
    OPS,
    PRESCRIBER,
    SYSTEM,
    VITALS,
    Journey,
    JourneyDriver,
    Rejected,
)
from workflows.journey import JourneyWorkflow


async def stored(store: EventStore, j: Journey) -> list[Event]:
    return [parse_event(r.data) for r in await store.read_stream(j.journey_id)]


async def fired(store: EventStore, j: Journey) -> list[DueKind]:
    return [e.kind for e in await stored(store, j) if isinstance(e, DueReached)]


async def assert_store_is_the_workflow(store: EventStore, j: Journey) -> None:
    events = await stored(store, j)
    state = await j.handle.query(JourneyWorkflow.state)
    assert state is not None and fold(events) == state
    assert [r.stream_version for r in await store.read_stream(j.journey_id)] == list(
        range(1, len(events) + 1)
    )


async def dose(j: Journey, session: str, *, integrate: bool = True, **start: Any) -> None:
    await j.decide("schedule_dosing", session_id=session, scheduled_at=await j.now() + timedelta(2))
    await j.wait(days=2)
    fields: dict[str, Any] = {"vitals": VITALS, "transport_confirmed": True} | start
    await j.decide("start_dosing", session_id=session, **fields)
    await j.monitor_and_discharge(session)
    if integrate:
        await j.wait(days=2)
        await j.decide("complete_integration", note_ref=f"note-{session}")
    await j.wait(days=10)


async def test_a_full_journey_from_consultation_to_completion(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    for n in (1, 2):
        await dose(j, f"s{n}")
    view = await j.handle.query(JourneyWorkflow.view)
    assert view.stage is Stage.PRESCRIBER_FOLLOW_UP and view.doses.used == 2
    await j.wait(days=5)  # the follow-up visit comes when it is due
    expires = await j.now() + timedelta(days=200)
    await j.decide(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        additional_doses=2,
        expires_at=expires,
    )
    await dose(j, "s3")
    await dose(j, "s4", integrate=False)
    await j.decide("complete_integration")
    final: JourneyView = await j.handle.result()
    assert (final.stage, final.status, final.closed_reason) == (
        Stage.COMPLETED,
        Status.CLOSED,
        ClosedReason.COMPLETED,
    )
    assert final.doses.used == final.doses.authorized == 4
    await assert_store_is_the_workflow(event_store, j)
    kinds = set(await fired(event_store, j))
    assert {
        DueKind.INTAKE_REMINDER,
        DueKind.SESSION_REMINDER,
        DueKind.MONITORING_END,
        DueKind.PRESCRIBER_FOLLOW_UP,
    } <= kinds


async def test_referral_sla_integration_window_and_inactivity_fire(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_eligible()
    await j.decide("refer_to_prescriber")
    await j.signal("acknowledge_referral", SYSTEM)
    await j.wait(days=15)
    assert DueKind.REFERRAL_SLA in await fired(event_store, j)
    await j.decide("schedule_prescriber_intake", OPS, scheduled_at=await j.now() + timedelta(1))
    await j.decide("approve_medication", PRESCRIBER, expires_at=await j.now() + timedelta(60))
    await j.decide("complete_preparation")
    await dose(j, "s1", integrate=False)  # ends 10 days after the dose: window passed
    kinds = await fired(event_store, j)
    assert kinds.index(DueKind.INTEGRATION_REMINDER) < kinds.index(DueKind.INTEGRATION_OVERDUE)
    await j.wait(days=60)
    kinds = await fired(event_store, j)
    assert DueKind.PRESCRIPTION_EXPIRY in kinds and DueKind.INACTIVITY_NUDGE in kinds
    state = await j.handle.query(JourneyWorkflow.state)
    assert state is not None and state.referral_acknowledged
    await assert_store_is_the_workflow(event_store, j)


async def test_a_missed_chaperone_check_in_alerts_and_check_ins_keep_it_quiet(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    await j.start_session("r1", remote=True)
    for _ in range(3):
        await j.wait(minutes=10)
        await j.signal("record_chaperone_check_in", SYSTEM, session_id="r1")
    await j.wait(minutes=5)
    assert DueKind.CHAPERONE_CHECK_IN not in await fired(event_store, j)
    await j.wait(minutes=20)  # no check-in: missed
    assert DueKind.CHAPERONE_CHECK_IN in await fired(event_store, j)
    rows = await journeys.pool.fetch(
        "SELECT template, recipient_role FROM notifications WHERE journey_id = $1", j.handle.id
    )
    assert ("chaperone_check_in_missed", "therapist") in {tuple(r.values()) for r in rows}


@pytest.mark.parametrize("off_ramp", ["declined", "not_approved", "withdrawn_mid_dosing"])
async def test_off_ramps_close_the_journey(
    journeys: JourneyDriver, event_store: EventStore, off_ramp: str
) -> None:
    j = await journeys.start()
    if off_ramp == "declined":
        await j.decide("record_screening", instrument="phq9", answers=[1] * 8 + [0])
        await j.decide("record_screening", instrument="gad7", answers=[1] * 7)
        await j.decide("record_consent", consent_version="v3", signed_at=await j.now())
        await j.decide(
            "complete_consultation", treatment_goals=["g"], contraindications=["ketamine_allergy"]
        )
    elif off_ramp == "not_approved":
        await j.to_eligible()
        await j.decide("refer_to_prescriber")
        await j.decide(
            "schedule_prescriber_intake", PRESCRIBER, scheduled_at=await j.now() + timedelta(2)
        )
        await j.decide("decline_medication", PRESCRIBER)
    else:
        await j.to_preparation_done()
        await dose(j, "s1")
        await j.decide(
            "schedule_dosing", session_id="s2", scheduled_at=await j.now() + timedelta(3)
        )
        stopping = await j.decide("withdraw", OPS)
        # After a dose the course stops first: the prescriber's discharge follow-up closes it.
        assert stopping.view.closed_reason is None
        assert "discharge_follow_up" in [d.kind.value for d in stopping.view.due]
        await j.decide("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    final: JourneyView = await j.handle.result()
    expected = {"withdrawn_mid_dosing": "withdrawn"}.get(off_ramp, off_ramp)
    assert final.closed_reason is not None and final.closed_reason.value == expected
    assert final.due == []
    await assert_store_is_the_workflow(event_store, j)


async def test_safety_hold_and_pause_hold_dosing_until_lifted(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    await j.decide("schedule_dosing", session_id="s1", scheduled_at=await j.now() + timedelta(2))
    held = await j.decide("record_screening", instrument="phq9", answers=[0] * 8 + [1])
    assert held.view.status is Status.SAFETY_HOLD
    await j.wait(days=2)
    with pytest.raises(Rejected, match="safety hold"):
        await j.decide("start_dosing", session_id="s1", vitals=VITALS, transport_confirmed=True)
    await j.decide("clear_safety_hold", assessment_ref="ra-7")
    await j.decide("pause")
    with pytest.raises(Rejected, match="paused"):
        await j.decide("start_dosing", session_id="s1", vitals=VITALS, transport_confirmed=True)
    await j.decide("resume")
    started = await j.decide(
        "start_dosing", session_id="s1", vitals=VITALS, transport_confirmed=True
    )
    assert started.view.doses.used == 1
    await assert_store_is_the_workflow(event_store, j)


async def history_length(j: Journey) -> int:
    """Updates accepted into history. A rejected update never is (its validator refuses it);
    other events may still arrive meanwhile (notices sent for earlier decisions)."""
    history = await j.handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    )


async def test_every_rejection_leaves_history_and_store_unchanged(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    await j.to_preparation_done()
    await dose(j, "s1", integrate=False)
    attempts: list[tuple[str, Any, dict[str, Any], RejectionCode]] = [
        (
            "approve_medication",
            OPS,
            {"expires_at": await j.now() + timedelta(9)},
            RejectionCode.FORBIDDEN_ROLE,
        ),  # wrong role
        (
            "complete_consultation",
            None,
            {"treatment_goals": ["g"]},
            RejectionCode.NOT_ALLOWED_NOW,
        ),  # wrong stage
        (
            "schedule_dosing",
            None,
            {"session_id": "s2", "scheduled_at": await j.now() + timedelta(3)},
            RejectionCode.NOT_ALLOWED_NOW,
        ),  # integration owed
    ]
    for type_, actor, fields, code in attempts:
        before = (await history_length(j), await event_store.stream_version(j.journey_id))
        with pytest.raises(Rejected) as rejected:
            if actor is None:
                await j.decide(type_, **fields)
            else:
                await j.decide(type_, actor, **fields)
        assert rejected.value.rejection.code is code, type_
        after = (await history_length(j), await event_store.stream_version(j.journey_id))
        assert after == before, type_
    await j.decide("complete_integration")
    await dose(j, "s2")
    # No doses left, BP over the limit (a hold, not a rejection), expired prescription.
    with pytest.raises(Rejected, match="follow-up"):
        await j.decide(
            "schedule_dosing", session_id="s3", scheduled_at=await j.now() + timedelta(1)
        )
    await j.decide(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        expires_at=await j.now() + timedelta(days=5),
    )
    await j.decide("schedule_dosing", session_id="s3", scheduled_at=await j.now() + timedelta(2))
    await j.wait(days=2)
    high = await j.decide(
        "start_dosing",
        session_id="s3",
        vitals={"systolic": 165, "diastolic": 95},
        transport_confirmed=True,
    )
    assert high.events == ["dosing_session_held"] and high.view.doses.used == 2
    await j.wait(days=4)
    before = (await history_length(j), await event_store.stream_version(j.journey_id))
    with pytest.raises(Rejected, match="expired"):
        await j.decide("start_dosing", session_id="s3", vitals=VITALS, transport_confirmed=True)
    assert (await history_length(j), await event_store.stream_version(j.journey_id)) == before
    await assert_store_is_the_workflow(event_store, j)
