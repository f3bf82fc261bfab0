"""Issue 13: check-ins after every course that gave a dose. A prescriber who stops after the
initial doses closes the journey `discharged`; the daily sweep follows that client up like one
who completed (PHQ-9/GAD-7 check-ins, maintenance reminders), and never a client discharged
before any dose nor one who withdrew. The real sweep, worker and activities, on the
time-skipping server, against the real caseload projection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.followups import maintenance_key
from config.settings import Settings
from database.pgtypes import Pool
from domain.ids import check_in_workflow_id
from tests.projections.test_caseload_reads import Ending, ended_journey
from tests.schedules.conftest import FollowUps
from tests.schedules.support import Caseload, new_ids
from workers.worker import build_worker

DAY = timedelta(days=1)


@pytest_asyncio.fixture
async def followups(temporal_env: WorkflowEnvironment, db_pool: Pool) -> AsyncIterator[FollowUps]:
    task_queue = f"followups-{uuid.uuid4().hex[:8]}"
    worker = build_worker(temporal_env.client, db_pool, Settings(task_queue=task_queue))
    async with worker:
        driver = FollowUps(temporal_env, task_queue, db_pool, Caseload(db_pool))
        try:
            yield driver
        finally:
            await driver.terminate_all()


async def ended(followups: FollowUps, days_ago: float, how: Ending, doses: int) -> str:
    journey_id, client_id = new_ids()
    at = await followups.now() - days_ago * DAY
    await followups.caseload.add(journey_id, ended_journey(journey_id, client_id, at, how, doses))
    return journey_id


async def invitations(followups: FollowUps, workflow_ids: list[str]) -> list[str]:
    keys = [f"{workflow_id}:client:invitation" for workflow_id in workflow_ids]
    for _ in range(200):  # the check-ins send their invitations as they start
        rows = await followups.pool.fetch(
            "SELECT idempotency_key FROM notifications WHERE template = 'survey_invitation'"
        )
        found = sorted(r["idempotency_key"] for r in rows)
        if set(keys) <= set(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the check-ins did not send their invitations")


async def test_a_course_discharged_after_a_dose_gets_its_check_ins_and_reminders(
    followups: FollowUps,
) -> None:
    discontinued = await ended(followups, 15, "discontinued", 2)  # week 2 due
    discharged = await ended(followups, 29, "discharged", 1)  # week 4 due
    await ended(followups, 15, "discharged", 0)  # no dose given: nothing
    await ended(followups, 15, "withdrawn", 1)  # the client withdrew: nothing
    reminded = await ended(followups, 46, "discontinued", 1)  # first maintenance interval (45)
    await ended(followups, 46, "discharged", 0)
    expected = [
        check_in_workflow_id(discontinued, "week-2"),
        check_in_workflow_id(discharged, "week-4"),
    ]

    outcome = await followups.sweep()

    assert sorted(outcome.check_ins_running) == sorted(expected)
    assert outcome.check_ins_finished == [] and outcome.maintenance_reminders == 1
    assert await invitations(followups, expected) == sorted(
        f"{workflow_id}:client:invitation" for workflow_id in expected
    )
    maintenance = await followups.pool.fetch(
        "SELECT idempotency_key FROM notifications WHERE template = 'maintenance_due'"
    )
    assert [r["idempotency_key"] for r in maintenance] == [maintenance_key(reminded, 1)]
