"""Temporal helpers for tests (the servers themselves: `devstack.servers`)."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode


async def terminate_if_running(handle: WorkflowHandle[Any, Any], settle: float = 5.0) -> None:
    """Terminate a workflow a test left running; one that has already closed is fine. (Asking
    first and then terminating races with a workflow that closes in between.)

    First, for up to `settle` seconds, its workflow task and activities in flight may finish
    (the test's worker still runs): the time-skipping server counts those of a terminated
    workflow as still outstanding, and holds every later test's sleep until they time out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while loop.time() < deadline and not await _settled(handle):  # noqa: ASYNC110 - polling
        await asyncio.sleep(0.05)
    try:
        await handle.terminate("test finished")
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # closed, or never started
            raise


_IN_FLIGHT_TASK = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
)
_ACTIVITY_ENDS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}


async def _settled(handle: WorkflowHandle[Any, Any]) -> bool:
    """No workflow task and no activity in flight, read from one copy of the history (the
    test server's describe does not show a workflow task in flight)."""
    try:
        events = (await handle.fetch_history()).events
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return True
        raise
    if not events:
        return True
    open_activities: set[int] = set()
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            open_activities.add(event.event_id)
        elif event.event_type in _ACTIVITY_ENDS:
            attributes = getattr(event, _ACTIVITY_ENDS[event.event_type])
            open_activities.discard(attributes.scheduled_event_id)
    return not open_activities and events[-1].event_type not in _IN_FLIGHT_TASK


class StartedWorkflows(Interceptor):
    """Remembers the id of every workflow started through the client: a test can then leave
    none running. On the shared time-skipping server, a workflow left with a timer on a task
    queue whose worker has stopped holds every later test's sleep past that timer."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self.ids)

    async def terminate_since(self, client: Client, mark: int) -> None:
        """Terminate every workflow started since `len(ids)` was `mark`."""
        for workflow_id in dict.fromkeys(self.ids[mark:]):
            await terminate_if_running(client.get_workflow_handle(workflow_id))


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, ids: list[str]) -> None:
        super().__init__(next)
        self._ids = ids

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        self._ids.append(input.id)
        return await super().start_workflow(input)


# Every workflow the API tests start (their session's Temporal client is built with it).
STARTED = StartedWorkflows()
