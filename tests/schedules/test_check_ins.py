"""One outcome check-in: invitation, daily reminders (up to three), answers recorded and scored,
PHQ-9 item 9 escalated to the therapist at once, the rest recorded as missed."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.vocabulary import Instrument
from tests.schedules.conftest import FollowUps
from tests.schedules.support import new_ids
from workflows.followups import SurveyAnswers, SurveyReceipt

PHQ9, GAD7 = Instrument.PHQ9, Instrument.GAD7
PHQ9_MILD = [1, 1, 1, 1, 1, 1, 1, 0, 0]  # 7, item 9 = 0
PHQ9_ITEM9 = [0, 0, 0, 0, 0, 0, 0, 0, 1]  # 1, item 9 = 1: risk
GAD7_MODERATE = [2, 2, 2, 1, 1, 1, 2]  # 11


async def answer(handle: WorkflowHandle[Any, Any], **answers: list[int]) -> SurveyReceipt:
    submission = SurveyAnswers(answers={Instrument(k): v for k, v in answers.items()})
    receipt: SurveyReceipt = await handle.execute_update(
        "answer", submission, result_type=SurveyReceipt
    )
    return receipt


async def notification_times(handle: WorkflowHandle[Any, Any]) -> list[datetime]:
    """When the workflow asked for each notice (the test server's skipped clock)."""
    history = await handle.fetch_history()
    return [
        event.event_time.ToDatetime(tzinfo=UTC)
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name == "send_notification"
    ]


async def test_an_unanswered_check_in_is_reminded_once_a_day_three_times_then_missed(
    followups: FollowUps,
) -> None:
    journey_id, client_id = new_ids()
    opened = await followups.now()
    handle = await followups.start_check_in(journey_id, client_id)

    outcome = await handle.result()

    assert outcome.statuses == {PHQ9: "missed", GAD7: "missed"}
    key = handle.id
    assert await followups.notices(client_id) == [
        (f"{key}:client:invitation", "survey_invitation", "client"),
        (f"{key}:client:reminder-1", "survey_reminder", "client"),
        (f"{key}:client:reminder-2", "survey_reminder", "client"),
        (f"{key}:client:reminder-3", "survey_reminder", "client"),
    ]
    times = await notification_times(handle)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(abs(gap - timedelta(days=1)) < timedelta(minutes=1) for gap in gaps), gaps
    rows = await followups.check_in_rows(journey_id)
    assert {k: r["status"] for k, r in rows.items()} == {
        ("week-2", "phq9"): "missed",
        ("week-2", "gad7"): "missed",
    }
    for row in rows.values():
        assert (row["total"], row["band"], row["risk"]) == (None, None, None)
        assert abs(row["recorded_at"] - (opened + timedelta(days=4))) < timedelta(minutes=1)


async def test_answers_are_recorded_and_scored_and_stop_the_reminders(
    followups: FollowUps,
) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id, check_in="week-4")

    receipt = await answer(handle, phq9=PHQ9_MILD, gad7=GAD7_MODERATE)

    assert receipt == SurveyReceipt(answered=[PHQ9, GAD7], outstanding=[], crisis_resources=False)
    outcome = await handle.result()
    assert outcome.statuses == {PHQ9: "answered", GAD7: "answered"}
    rows = await followups.check_in_rows(journey_id)
    scored = {k: (r["status"], r["total"], r["band"], r["risk"]) for k, r in rows.items()}
    assert scored == {
        ("week-4", "phq9"): ("answered", 7, "mild", False),
        ("week-4", "gad7"): ("answered", 11, "moderate", False),
    }
    # The invitation only: no reminders, nothing to the therapist.
    assert [n[1:] for n in await followups.notices(client_id)] == [("survey_invitation", "client")]


async def test_answers_may_come_one_instrument_at_a_time_and_the_rest_is_missed(
    followups: FollowUps,
) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id)
    await followups.env.sleep(timedelta(hours=30))  # after the first reminder

    receipt = await answer(handle, phq9=PHQ9_MILD)
    again = await answer(handle, phq9=[3] * 8 + [0])  # a repeat: the first answers count

    assert (
        receipt
        == again
        == SurveyReceipt(answered=[PHQ9], outstanding=[GAD7], crisis_resources=False)
    )
    outcome = await handle.result()
    assert outcome.statuses == {PHQ9: "answered", GAD7: "missed"}
    rows = await followups.check_in_rows(journey_id)
    assert rows[("week-2", "phq9")]["total"] == 7
    assert rows[("week-2", "gad7")]["status"] == "missed"
    templates = [n[1] for n in await followups.notices(client_id)]
    assert templates == ["survey_invitation"] + ["survey_reminder"] * 3


async def test_phq9_item_9_escalates_to_the_therapist_at_once_and_asks_for_crisis_resources(
    followups: FollowUps,
) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id, check_in="week-12")
    answered_at = await followups.now()

    receipt = await answer(handle, phq9=PHQ9_ITEM9)

    assert receipt.crisis_resources and receipt.outstanding == [GAD7]
    escalation = (f"{handle.id}:therapist:survey_risk_flagged", "survey_risk_flagged", "therapist")
    for _ in range(100):  # at once: no time passes on the test server while we look
        if escalation in await followups.notices(client_id):
            break
        await asyncio.sleep(0.05)
    assert escalation in await followups.notices(client_id)
    assert await followups.now() - answered_at < timedelta(minutes=1)
    rows = await followups.check_in_rows(journey_id)
    assert (rows[("week-12", "phq9")]["total"], rows[("week-12", "phq9")]["risk"]) == (1, True)

    later = await answer(handle, gad7=GAD7_MODERATE)
    assert later.crisis_resources and later.outstanding == []  # still shown
    await handle.result()
    therapist = [n for n in await followups.notices(client_id) if n[2] == "therapist"]
    assert therapist == [escalation]  # once


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ({"phq9": [1] * 8}, "phq9 takes 9 answers, got 8"),
        ({"gad7": [0, 1, 2, 3, 4, 0, 0]}, "gad7 item 5 must be a whole number 0–3"),
        ({"pcl5": [0] * 20}, "pcl5 is not part of this check-in"),
    ],
)
async def test_answers_that_do_not_fit_are_refused_and_record_nothing(
    followups: FollowUps, answers: dict[str, list[int]], why: str
) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await answer(handle, **answers)

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidAnswers"
    assert cause.message == why  # names the item, never a value given
    rows = await followups.check_in_rows(journey_id)
    assert all(r["status"] == "sent" for r in rows.values())
