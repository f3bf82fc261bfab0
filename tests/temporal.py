"""Temporal helpers for tests (the servers themselves: `devstack.servers`)."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode


async def terminate_if_running(handle: WorkflowHandle[Any, Any]) -> None:
    """Terminate a workflow a test left running; one that has already closed is fine. (Asking
    first and then terminating races with a workflow that closes in between.)"""
    try:
        await handle.terminate("test finished")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # closed, or never started
            raise
