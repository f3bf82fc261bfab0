"""Histories of real journeys, saved under tests/workflows/histories/, must replay with the
current code: a change that would break running journeys fails here (then use
`workflow.patched`). Record new ones with CAREPATH_RECORD_HISTORIES=1 (see docs/workflows.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.replay import RECORDING, replay, saved
from tests.workflows.driver import (
    CHECK,
    DISCHARGE,
    DOSE,
    OPS,
    PRESCRIBER,
    SYSTEM,
    VITALS,
    Journey,
    JourneyDriver,
)
from workflows.journey import JourneyWorkflow

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("path", saved(HISTORIES), ids=lambda p: p.stem)
async def test_saved_history_replays_with_the_current_code(path: Path) -> None:
    await replay(path, [JourneyWorkflow])


def test_there_are_histories_to_replay() -> None:
    assert len(saved(HISTORIES)) >= 3


async def _save(j: Journey, name: str) -> None:
    history = await j.handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())


async def _course_before_session_safety(journeys: JourneyDriver) -> Journey:
    # A course with a remote session, a held dose, a check-in signal and the follow-up,
    # recorded before issue 12 (a discharge with no monitoring record): cannot be recorded again.
    raise NotImplementedError("recorded before the session-safety rules; kept as it was")


async def _withdrawn_after_safety_hold(journeys: JourneyDriver) -> Journey:
    # Withdrawn after a safety hold raised by an instrument and cleared.
    j = await journeys.start(client_id="replay-withdrawn")
    await j.to_eligible()
    await j.decide("record_screening", instrument="phq9", answers=[0] * 8 + [2])
    await j.decide("clear_safety_hold", assessment_ref="ra-1")
    await j.decide("refer_to_prescriber")
    await j.wait(days=16)
    await j.decide("withdraw", OPS)
    await j.handle.result()
    return j


async def _paused_resumed_continued_as_new(journeys: JourneyDriver) -> Journey:
    j = await journeys.start(client_id="replay-continued", decisions_per_run=3)
    for n in range(3):
        await j.decide("pause", decision_id=f"p{n}")
        await j.decide("resume", decision_id=f"r{n}")
    await j.decide("discharge")
    await j.handle.result()
    return j


async def _session_safety_course(journeys: JourneyDriver) -> Journey:
    # Under issue 12's rules: a held dose, a missed check-in, the monitoring record, a discharge
    # exception, an adverse event after discharge, the record signed late and amended.
    j = await journeys.start(client_id="replay-session-safety")
    await j.to_preparation_done()
    await j.decide(
        "schedule_dosing",
        session_id="r1",
        scheduled_at=await j.now() + timedelta(2),
        mode="remote",
        chaperone_id="ch-1",
    )
    await j.wait(days=2)
    high = {"systolic": 150, "diastolic": 90}
    start: dict[str, Any] = {
        "session_id": "r1",
        "transport_confirmed": True,
        "chaperone_present": True,
    }
    await j.decide("start_dosing", vitals=high, **start)
    await j.wait(minutes=20)
    await j.decide("start_dosing", vitals=VITALS, **start)
    await j.wait(minutes=20)  # the 15-minute check-in is missed
    await j.signal("record_chaperone_check_in", SYSTEM, session_id="r1")
    await j.wait(minutes=25)
    await j.decide("record_session_monitoring", session_id="r1", **CHECK)
    await j.decide("record_dose", session_id="r1", dose=DOSE)
    await j.wait(minutes=80)
    await j.decide("grant_discharge_exception", PRESCRIBER, session_id="r1", reason="stable")
    discharge: dict[str, Any] = DISCHARGE | {"vitals": {"systolic": 150, "diastolic": 92}}
    await j.decide("complete_dosing", session_id="r1", **discharge)
    await j.wait(days=2)
    await j.decide("report_adverse_event", session_id="r1", code="nausea", severity="mild")
    await j.decide("complete_integration")
    await j.wait(days=8)  # the record is overdue
    await j.decide("sign_session_record", session_id="r1")
    await j.decide("amend_session_record", session_id="r1", reason="lot_typo", dose=DOSE)
    await j.decide("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    await j.handle.result()
    return j


async def _course_governance(journeys: JourneyDriver) -> Journey:
    # Under issue 13's rules: a booked preparation visit and its reminder, a dose, the client
    # moved to another therapist, a withdrawal that waits for the prescriber's discharge
    # follow-up, which comes late (overdue) and closes the journey.
    j = await journeys.start(client_id="replay-course-governance")
    await j.to_eligible()
    await j.decide("refer_to_prescriber")
    await j.decide(
        "schedule_prescriber_intake", PRESCRIBER, scheduled_at=await j.now() + timedelta(3)
    )
    await j.wait(days=3)
    expires = await j.now() + timedelta(days=120)
    await j.decide("approve_medication", PRESCRIBER, expires_at=expires)
    at = await j.now() + timedelta(days=3)
    await j.decide("schedule_visit", visit_id="prep-1", kind="preparation", scheduled_at=at)
    await j.wait(days=3)
    await j.decide("complete_preparation")
    await j.start_session("g1")
    await j.monitor_and_discharge("g1")
    await j.decide("reassign_clinician", OPS, role="therapist", clinician_id="th-2")
    await j.decide("withdraw", OPS)
    await j.wait(days=8)
    await j.decide("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    await j.handle.result()
    return j


RECORDERS = {
    "course-remote-session-discontinued": _course_before_session_safety,
    "withdrawn-after-safety-hold": _withdrawn_after_safety_hold,
    "paused-resumed-continued-as-new": _paused_resumed_continued_as_new,
    "course-session-safety": _session_safety_course,
    "course-governance": _course_governance,
}


def test_every_saved_history_has_its_recorder() -> None:
    assert {p.stem for p in saved(HISTORIES)} == set(RECORDERS)


@pytest.mark.skipif(not RECORDING, reason="set CAREPATH_RECORD_HISTORIES=1 to record")
async def test_record_histories(journeys: JourneyDriver) -> None:
    # Only missing histories: a saved one stands for journeys running on the code of its day.
    for name, record in RECORDERS.items():
        if not (HISTORIES / f"{name}.json").exists():
            await _save(await record(journeys), name)
