"""Histories of real journeys, saved under tests/workflows/histories/, must replay with the
current code: a change that would break running journeys fails here (then use
`workflow.patched`). Record new ones with CAREPATH_RECORD_HISTORIES=1 (see docs/workflows.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.replay import RECORDING, replay, saved
from tests.workflows.driver import OPS, PRESCRIBER, SYSTEM, VITALS, Journey, JourneyDriver
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


@pytest.mark.skipif(not RECORDING, reason="set CAREPATH_RECORD_HISTORIES=1 to record")
async def test_record_histories(journeys: JourneyDriver) -> None:
    # A course with a remote session, a held dose, a check-in signal and the follow-up.
    j = await journeys.start(client_id="replay-course")
    await j.to_preparation_done()
    await j.decide(
        "schedule_dosing",
        session_id="r1",
        scheduled_at=await j.now() + timedelta(2),
        mode="remote",
        chaperone_id="ch-1",
    )
    await j.wait(days=2)
    await j.decide(
        "start_dosing",
        session_id="r1",
        vitals={"systolic": 150, "diastolic": 90},
        transport_confirmed=True,
        chaperone_present=True,
    )
    await j.wait(minutes=20)
    await j.decide(
        "start_dosing",
        session_id="r1",
        vitals=VITALS,
        transport_confirmed=True,
        chaperone_present=True,
    )
    await j.signal("record_chaperone_check_in", SYSTEM, session_id="r1")
    await j.wait(minutes=130)
    await j.decide("complete_dosing", session_id="r1", vitals=VITALS)
    await j.wait(days=3)
    await j.decide("complete_integration")
    await j.wait(days=30)
    await j.decide("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    await j.handle.result()
    await _save(j, "course-remote-session-discontinued")
    # Withdrawn after a safety hold raised by an instrument and cleared.
    j = await journeys.start(client_id="replay-withdrawn")
    await j.to_eligible()
    await j.decide("record_screening", instrument="phq9", answers=[0] * 8 + [2])
    await j.decide("clear_safety_hold", assessment_ref="ra-1")
    await j.decide("refer_to_prescriber")
    await j.wait(days=16)
    await j.decide("withdraw", OPS)
    await j.handle.result()
    await _save(j, "withdrawn-after-safety-hold")
    # Paused mid-journey and continued as new.
    j = await journeys.start(client_id="replay-continued", decisions_per_run=3)
    for n in range(3):
        await j.decide("pause", decision_id=f"p{n}")
        await j.decide("resume", decision_id=f"r{n}")
    await j.decide("discharge")
    await j.handle.result()
    await _save(j, "paused-resumed-continued-as-new")
