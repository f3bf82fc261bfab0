"""Issue 13's dates through the real workflow on the time-skipping server: the prescriber
follow-up's due date stops dosing and alerts the prescriber; a course stopping after a dose
waits for the discharge follow-up, which alerts the prescriber and ops when late; a booked visit
reminds the client."""

from __future__ import annotations

from datetime import timedelta

import pytest

from database.pgtypes import Pool
from domain.vocabulary import DueKind
from eventstore import EventStore
from tests.workflows.driver import OPS, PRESCRIBER, VITALS, Journey, JourneyDriver, Rejected
from tests.workflows.test_pathway_end_to_end import assert_store_is_the_workflow
from tests.workflows.test_session_safety import fired, notified
from workflows.journey import JourneyWorkflow


async def dosed(j: Journey) -> None:
    await j.to_preparation_done()
    await j.start_session("s1", days=1)
    await j.monitor_and_discharge("s1")
    await j.decide("complete_integration")


async def test_the_follow_up_date_stops_dosing_until_the_prescriber_records_it(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    j = await journeys.start()
    await dosed(j)
    await j.wait(days=30)  # approval + 30 days has passed
    (deadline,) = [e for e in await fired(event_store, j) if e.kind is DueKind.PRESCRIBER_FOLLOW_UP]
    assert deadline.ref == "follow_up"
    assert ("follow_up_due", "prescriber") in await notified(db_pool, j)
    assert (await j.handle.query(JourneyWorkflow.view)).overdue
    with pytest.raises(Rejected, match="prescriber follow-up is due by"):
        await j.decide(
            "schedule_dosing", session_id="s2", scheduled_at=await j.now() + timedelta(days=1)
        )
    expires = await j.now() + timedelta(days=60)
    done = await j.decide(
        "record_prescriber_follow_up", PRESCRIBER, outcome="continue", expires_at=expires
    )
    assert not done.view.overdue
    await j.start_session("s2", days=1)
    await assert_store_is_the_workflow(event_store, j)


async def test_a_stopping_course_waits_for_its_discharge_follow_up(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    j = await journeys.start()
    await dosed(j)
    at = await j.now() + timedelta(days=2)
    await j.decide("schedule_dosing", session_id="s2", scheduled_at=at)
    stopping = await j.decide("withdraw", OPS)
    assert stopping.view.closed_reason is None
    with pytest.raises(Rejected, match="stopping"):
        await j.decide("start_dosing", session_id="s2", vitals=VITALS, transport_confirmed=True)
    await j.wait(days=7, hours=1)
    late = [e for e in await fired(event_store, j) if e.kind is DueKind.DISCHARGE_FOLLOW_UP]
    sent = await notified(db_pool, j)
    assert late and ("discharge_follow_up_due", "ops") in sent
    assert ("discharge_follow_up_due", "prescriber") in sent
    assert (await j.handle.query(JourneyWorkflow.view)).overdue
    await j.decide("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    final = await j.handle.result()
    assert final.closed_reason is not None and final.closed_reason.value == "withdrawn"
    await assert_store_is_the_workflow(event_store, j)


async def test_a_booked_visit_reminds_the_client(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    j = await journeys.start()
    await dosed(j)
    at = await j.now() + timedelta(days=3)
    await j.decide("schedule_visit", visit_id="int-2", kind="integration", scheduled_at=at)
    await j.wait(days=2, hours=1)
    (reminder,) = [e for e in await fired(event_store, j) if e.kind is DueKind.VISIT_REMINDER]
    assert reminder.ref == "int-2"
    assert ("appointment_reminder", "client") in await notified(db_pool, j)
