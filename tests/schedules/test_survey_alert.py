"""A check-in answer that asks for a safety review keeps the alert in the therapist's alert list
before the answer returns (`alert_recorded`); its send, with no channel, fails as `Undelivered`
in the history and leaves the alert marked undelivered. Check-ins whose answers came before
this change replay as they ran (`workflow.patched("survey-alert-recorded")`); one recorded
with the patch is saved too. Record it with CAREPATH_RECORD_HISTORIES=1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory

from domain.ids import journey_workflow_id
from records.alerts import alert_by_key
from tests.replay import RECORDING, replay
from tests.schedules.conftest import FollowUps
from tests.schedules.support import new_ids
from tests.schedules.test_check_ins import GAD7_MODERATE, PHQ9_ITEM9, PHQ9_MILD, answer
from workflows.followups import SURVEY_ALERT_PATCH, FollowUpCheckInWorkflow

HISTORIES = Path(__file__).parent / "histories"
PATCHED = HISTORIES / "check-in-risk-alert-recorded.json"
BEFORE = HISTORIES / "check-in-risk-escalated.json"  # recorded before the patch


def _key(handle: WorkflowHandle[Any, Any]) -> str:
    return f"{handle.id}:therapist:survey_risk_flagged"


async def _failures(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, str, str]]:
    """(activity type, failure type, message) of each failed activity in the history."""
    history = await handle.fetch_history()
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    failed = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            attrs = e.activity_task_failed_event_attributes
            info = attrs.failure.application_failure_info
            failed.append((scheduled[attrs.scheduled_event_id], info.type, attrs.failure.message))
    return failed


async def test_a_risk_answer_returns_once_the_alert_is_kept_for_the_therapist(
    followups: FollowUps,
) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id, check_in="week-12")

    receipt = await answer(handle, phq9=PHQ9_ITEM9)

    # Recorded before the update answered: read at once, no waiting.
    alert = await alert_by_key(followups.pool, _key(handle))
    assert receipt.crisis_resources and receipt.alert_recorded
    assert alert is not None
    assert (alert.clinic_id, alert.journey_id, alert.client_id) == (
        "default",
        journey_workflow_id(client_id),
        client_id,
    )
    assert (alert.recipient_role, alert.recipient_id, alert.template, alert.urgent) == (
        "therapist",
        "th-1",
        "survey_risk_flagged",
        True,
    )
    status = await handle.query(FollowUpCheckInWorkflow.survey)
    assert status.crisis_resources and status.alert_recorded  # on every visit

    later = await answer(handle, gad7=GAD7_MODERATE)
    assert later.alert_recorded
    await handle.result()
    # No channel in these tests: the send failed as Undelivered, once, naming no one.
    failures = await _failures(handle)
    assert failures == [
        (
            "send_notification",
            "Undelivered",
            "no channel delivered survey_risk_flagged to the therapist: "
            "it is in their alert list in Carepath",
        )
    ]
    alert = await alert_by_key(followups.pool, _key(handle))
    assert alert is not None and alert.delivery == "undelivered"
    count = await followups.pool.fetchval(
        "SELECT count(*) FROM alerts WHERE journey_id = $1", journey_workflow_id(client_id)
    )
    assert count == 1


async def test_answers_without_risk_keep_no_alert(followups: FollowUps) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id)

    receipt = await answer(handle, phq9=PHQ9_MILD, gad7=GAD7_MODERATE)

    assert not receipt.crisis_resources and not receipt.alert_recorded
    await handle.result()
    assert await alert_by_key(followups.pool, _key(handle)) is None


async def test_an_alert_that_cannot_be_kept_is_not_claimed(followups: FollowUps) -> None:
    """The database refuses the alert: the answer still returns (in about 10 s), saying it
    was not recorded, and the check-in goes on."""
    await followups.pool.execute(
        "ALTER TABLE alerts ADD CONSTRAINT refuse_all CHECK (false) NOT VALID"
    )
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id)

    receipt = await asyncio.wait_for(answer(handle, phq9=PHQ9_ITEM9), timeout=60)

    assert receipt.crisis_resources and not receipt.alert_recorded
    status = await handle.query(FollowUpCheckInWorkflow.survey)
    assert status.crisis_resources and not status.alert_recorded
    assert await alert_by_key(followups.pool, _key(handle)) is None


def _saved(path: Path) -> tuple[list[str], list[str]]:
    """(patches, activity types scheduled) of a saved history."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    patches = [
        json.loads(payload.data)["id"]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]
    activities = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    return patches, activities


async def test_check_ins_answered_before_the_change_replay_without_it() -> None:
    patches, activities = _saved(BEFORE)
    assert patches == [] and "record_alert" not in activities
    await replay(BEFORE, [FollowUpCheckInWorkflow])


async def test_a_check_in_with_the_alert_kept_replays() -> None:
    patches, activities = _saved(PATCHED)
    assert patches == [SURVEY_ALERT_PATCH] and activities.count("record_alert") == 1
    await replay(PATCHED, [FollowUpCheckInWorkflow])


@pytest.mark.skipif(not RECORDING, reason="set CAREPATH_RECORD_HISTORIES=1 to record")
async def test_record_the_check_in_with_the_alert_kept(followups: FollowUps) -> None:
    journey_id, client_id = new_ids()
    handle = await followups.start_check_in(journey_id, client_id, check_in="week-12")
    await answer(handle, phq9=PHQ9_ITEM9, gad7=GAD7_MODERATE)
    await handle.result()
    PATCHED.write_text((await handle.fetch_history()).to_json())
