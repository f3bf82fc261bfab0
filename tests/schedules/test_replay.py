"""Histories of real check-ins, saved under tests/schedules/histories/, must replay with the
current code: a change that would break running check-ins fails here (then use
`workflow.patched`). Record new ones with CAREPATH_RECORD_HISTORIES=1."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from tests.replay import RECORDING, replay, saved
from tests.schedules.conftest import FollowUps
from tests.schedules.support import new_ids
from tests.schedules.test_check_ins import GAD7_MODERATE, PHQ9_ITEM9, PHQ9_MILD, answer
from workflows.followups import FollowUpCheckInWorkflow

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("path", saved(HISTORIES), ids=lambda p: p.stem)
async def test_saved_check_in_replays_with_the_current_code(path: Path) -> None:
    await replay(path, [FollowUpCheckInWorkflow])


def test_there_are_check_ins_to_replay() -> None:
    assert len(saved(HISTORIES)) >= 3


@pytest.mark.skipif(not RECORDING, reason="set CAREPATH_RECORD_HISTORIES=1 to record")
async def test_record_check_in_histories(followups: FollowUps) -> None:
    async def record(name: str, handle: WorkflowHandle[Any, Any]) -> None:
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())

    # Unanswered: invitation, three reminders, missed.
    journey_id, client_id = new_ids()
    missed = await followups.start_check_in(journey_id, client_id)
    await missed.result()
    await record("check-in-missed", missed)
    # Answered in two parts after a reminder, with a repeat.
    journey_id, client_id = new_ids()
    partly = await followups.start_check_in(journey_id, client_id, check_in="week-4")
    await followups.env.sleep(timedelta(hours=30))
    await answer(partly, phq9=PHQ9_MILD)
    await answer(partly, phq9=PHQ9_MILD)
    await answer(partly, gad7=GAD7_MODERATE)
    await partly.result()
    await record("check-in-answered-in-parts", partly)
    # PHQ-9 item 9: the therapist alerted at once.
    journey_id, client_id = new_ids()
    risk = await followups.start_check_in(journey_id, client_id, check_in="week-12")
    await answer(risk, phq9=PHQ9_ITEM9, gad7=GAD7_MODERATE)
    await risk.result()
    await record("check-in-risk-escalated", risk)
