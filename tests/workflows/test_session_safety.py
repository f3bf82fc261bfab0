"""The dosing session's deadlines and alerts through the real workflow, on the time-skipping
server: the monitoring record due 7 days after the session, missed chaperone check-ins that make
the journey overdue at once, and alerts that no channel delivered escalated to ops."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType

from database.pgtypes import Pool
from domain.events import DueReached
from domain.vocabulary import DueKind
from eventstore import EventStore
from tests.workflows.driver import PRESCRIBER, SYSTEM, Journey, JourneyDriver
from tests.workflows.test_pathway_end_to_end import stored
from workflows.journey import JourneyWorkflow

SENT = "SELECT template, recipient_role FROM notifications WHERE journey_id = $1"


async def notified(pool: Pool, j: Journey) -> set[tuple[str, str]]:
    rows = await pool.fetch(SENT, j.handle.id)
    return {(row["template"], row["recipient_role"]) for row in rows}


async def fired(store: EventStore, j: Journey) -> list[DueReached]:
    return [e for e in await stored(store, j) if isinstance(e, DueReached)]


async def in_session(j: Journey, *, remote: bool = False) -> None:
    await j.to_preparation_done()
    await j.start_session("s1", remote=remote, days=1)


async def test_an_unsigned_record_is_overdue_seven_days_after_the_session(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    j = await journeys.start()
    await in_session(j)
    await j.monitor_and_discharge("s1", sign=False)
    await j.decide("complete_integration")
    await j.wait(days=6, hours=23)
    assert not [e for e in await fired(event_store, j) if e.kind is DueKind.MONITORING_RECORD]
    await j.wait(hours=2)
    (deadline,) = [e for e in await fired(event_store, j) if e.kind is DueKind.MONITORING_RECORD]
    assert deadline.ref == "s1"
    alerts = await notified(db_pool, j)
    assert ("monitoring_record_overdue", "therapist") in alerts
    assert ("monitoring_record_overdue", "ops") in alerts
    view = await j.handle.query(JourneyWorkflow.view)
    assert view.overdue
    signed = await j.decide("sign_session_record", session_id="s1")
    assert not signed.view.overdue


async def test_a_missed_check_in_makes_the_journey_overdue_at_once(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    j = await journeys.start()
    await in_session(j, remote=True)
    await j.wait(minutes=16)  # the 15-minute check-in did not come; monitoring has 100 to go
    missed = [e for e in await fired(event_store, j) if e.kind is DueKind.CHAPERONE_CHECK_IN]
    assert len(missed) == 1
    view = await j.handle.query(JourneyWorkflow.view)
    assert view.overdue
    alerts = await notified(db_pool, j)
    assert ("chaperone_check_in_missed", "therapist") in alerts
    assert ("chaperone_check_in_missed", "prescriber") in alerts
    await j.signal("record_chaperone_check_in", SYSTEM, session_id="s1")
    await j.wait(minutes=1)
    assert not (await j.handle.query(JourneyWorkflow.view)).overdue


async def test_a_serious_adverse_event_after_discharge_holds_and_alerts_the_prescriber(
    journeys: JourneyDriver, db_pool: Pool
) -> None:
    j = await journeys.start()
    await in_session(j)
    await j.monitor_and_discharge("s1")
    await j.wait(days=2)
    outcome = await j.decide(
        "report_adverse_event",
        PRESCRIBER,
        session_id="s1",
        code="hypertensive_crisis",
        severity="severe",
        seriousness=["hospitalisation"],
    )
    assert outcome.events == ["adverse_event_reported", "safety_hold_raised"]
    assert outcome.view.status.value == "safety_hold"
    await j.wait(minutes=1)
    assert ("serious_adverse_event", "prescriber") in await notified(db_pool, j)


async def test_an_alert_no_channel_delivered_is_failed_in_history_and_escalated_to_ops(
    journeys: JourneyDriver,
) -> None:
    # No channel is configured in these tests: the BP hold reaches no one by email or SMS.
    j = await journeys.start()
    await j.to_preparation_done()
    when = await j.now() + timedelta(days=1)
    await j.decide("schedule_dosing", session_id="s1", scheduled_at=when)
    await j.wait(days=1)
    high = {"systolic": 170, "diastolic": 100}
    held = await j.decide("start_dosing", session_id="s1", vitals=high, transport_confirmed=True)
    assert held.events == ["dosing_session_held"]
    await j.wait(minutes=5)
    history = await j.handle.fetch_history()
    failed = [
        e.activity_task_failed_event_attributes.failure
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert any(f.application_failure_info.type == "Undelivered" for f in failed)
    summaries = [
        e.user_metadata.summary.data.decode()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert any("bp_hold" in s for s in summaries)
    assert any("ops" in s and "alert_undelivered" in s for s in summaries)
