"""Ghost journeys: a journey whose workflow was ended outside the pathway is closed in the store.

A cancellation is handled by the workflow itself. A termination (the Temporal UI's Terminate),
a timeout or a failed run leaves no event: the store, and so every read model, would show the
journey open for good. `reconcile_journeys` finds each open journey (the caseload, then the
store's own fold as the truth) whose workflow is no longer running it, and appends the close
that the domain decides for it (`record_ended_outside`). Appends are idempotent (event ids
derived from the run) and use the stream's version, so a retry or a concurrent writer is safe.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.messages import (
    AppendRequest,
    EventEnvelope,
    NotificationRequest,
    ReconcileInput,
    ReconcileOutcome,
)
from activities.store import to_new_event
from database.pgtypes import Pool
from domain import Actor, Rejection, Role, decide, evolve, fold, parse_event
from domain.commands import RecordEndedOutside
from domain.ids import journey_workflow_id
from domain.notifications import notices
from domain.view import JourneyView
from domain.vocabulary import EndedHow
from eventstore import ConcurrencyError, EventStore
from projections.caseload_queries import open_journeys_after

ENGINE = Actor(id="carepath", role=Role.SYSTEM)
QUERY_TIMEOUT = timedelta(seconds=10)
_HOW: dict[WorkflowExecutionStatus, EndedHow] = {
    WorkflowExecutionStatus.TERMINATED: EndedHow.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: EndedHow.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED: EndedHow.CANCELLED,
    WorkflowExecutionStatus.FAILED: EndedHow.FAILED,
    WorkflowExecutionStatus.COMPLETED: EndedHow.FAILED,  # completed without its close: a bug
}


class ReconcileActivities:
    def __init__(self, pool: Pool, client: Client, store: EventStore) -> None:
        self._pool = pool
        self._client = client
        self._store = store

    async def _ended_how(self, workflow_id: str, journey_id: str) -> tuple[EndedHow, str] | None:
        """How the journey's workflow ended without closing it; None while it runs it."""
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None  # unknown to this Temporal (another namespace?): never guess
            raise
        status = described.status
        if status == WorkflowExecutionStatus.RUNNING:
            try:
                view: JourneyView = await handle.query(
                    "view", result_type=JourneyView, rpc_timeout=QUERY_TIMEOUT
                )
            except WorkflowQueryFailedError:
                return None
            if view.journey_id == journey_id:
                return None
            return EndedHow.REPLACED, described.run_id  # a newer journey runs in its place
        if status is None or status not in _HOW:
            return None  # continued as new: the next run is looked at next time
        return _HOW[status], described.run_id

    async def _reconcile(
        self, journey_id: str, client_id: str, clinic_id: str
    ) -> list[NotificationRequest] | None:
        recorded = await self._store.read_stream(journey_id)
        state = fold(parse_event(r.data) for r in recorded)
        if state is None or state.is_closed:
            return None  # the read model lags the store: nothing to do
        workflow_id = journey_workflow_id(client_id, clinic_id)
        ended = await self._ended_how(workflow_id, journey_id)
        if ended is None:
            return None
        how, run_id = ended
        command = RecordEndedOutside(
            decision_id=f"ended-{how.value}-{run_id}", actor=ENGINE, how=how
        )
        decided = decide(state, command, datetime.now(UTC))
        if isinstance(decided, Rejection):
            return None
        envelopes = []
        after = state
        for index, event in enumerate(decided):
            after = evolve(after, event)
            envelopes.append(
                EventEnvelope(
                    # The same run ends the same way: a retry makes the same ids.
                    event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{journey_id}/{run_id}/{index}")),
                    stream_version=after.version,
                    decision_type=command.type,
                    event=event,
                )
            )
        request = AppendRequest(
            stream_id=journey_id,
            expected_version=state.version,
            events=envelopes,
            workflow_id=workflow_id,
            run_id=run_id,
        )
        try:
            await self._store.append(
                journey_id,
                [to_new_event(request, i) for i in range(len(envelopes))],
                state.version,
            )
        except ConcurrencyError:
            return None  # someone wrote meanwhile: looked at again next time
        activity.logger.warning(
            "journey ended outside the pathway: closed in the store",
            extra={"journey_id": journey_id, "how": how.value},
        )
        assert after is not None
        return [
            NotificationRequest(client_id=client_id, journey_id=workflow_id, notice=notice)
            for notice in notices(after, [(e.event_id, e.event) for e in envelopes])
        ]

    @activity.defn(name="reconcile_journeys")
    async def reconcile_journeys(self, input: ReconcileInput) -> ReconcileOutcome:
        """Close the ghosts among the open journeys after `input.after` (a page at a time)."""
        rows = await open_journeys_after(self._pool, input.after, input.page_size)
        closed: list[str] = []
        to_send: list[NotificationRequest] = []
        for row in rows:
            activity.heartbeat(row.journey_id)
            sent = await self._reconcile(row.journey_id, row.client_id, row.clinic_id)
            if sent is not None:
                closed.append(row.journey_id)
                to_send.extend(sent)
        last = rows[-1].journey_id if len(rows) == input.page_size else None
        return ReconcileOutcome(
            checked=len(rows), closed=closed, notifications=to_send, next_after=last
        )
