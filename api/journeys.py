"""Journeys: start one, read one, read its event timeline.

Client ids are per clinic. A client's journey is the workflow
`journey_workflow_id(client id, clinic)` (its latest run): `journey-<client id>` in the clinic
"default", `journey-<clinic>~<client id>` in any other. Every route resolves a client id in the
CALLER's clinic, so another clinic's client does not exist for a caller (404, and nothing of it
is read). Starting checks the decision with the domain first, stores contact details apart from
events (under the clinic), then starts the workflow; a client has at most one open journey, and
may start again once it has closed.

A journey starts on its clinic's current protocol, pinned here from the registry
(`records/protocols.py`: its values under their content-identified label); a request cannot
carry one. And it starts on the safety hold its client's last journey in the clinic closed on,
if it did (`held_over`: that journey's events read from the event store and folded), until a
clinician allowed to clear it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.audit import ReadOutcome, Resource, record_read, record_rejection
from api.auth import CurrentClinician
from api.context import Api, Services
from api.errors import ApiError, log
from api.models import ErrorBody, Journey, StartJourneyBody, Timeline, TimelineEvent
from domain import Protocol, Rejection, RejectionCode, Role, decide, fold, parse_event
from domain.commands import HeldOver, StartJourney
from domain.ids import journey_workflow_id
from domain.view import JourneyView
from eventstore.clients import journeys_of_client
from records.clients import ClientErasedError, upsert_client
from records.protocols import ProtocolError, current_protocol
from records.tokens import Clinician
from workflows.details import static_summary
from workflows.messages import JourneyInput

router = APIRouter(tags=["journeys"])

WORKFLOW_TYPE = "Journey"
QUERY_TIMEOUT = timedelta(seconds=10)
# A closed journey's workflow finishes its outbox and notices before it completes.
CLOSING_GRACE = 10.0
# How long a start waits for its journey_started event to be in the event store.
START_RECORDED_WITHIN = 10.0

ClientId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the client's opaque id",
    ),
]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 503)
}


async def query_view(handle: WorkflowHandle[Any, Any]) -> JourneyView | None:
    """The journey's view, or None when the client has no journey."""
    try:
        view: JourneyView = await handle.query(
            "view", result_type=JourneyView, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    except WorkflowQueryFailedError:
        # A run whose start was refused has no state to show: there is no journey.
        log.warning("journey view query failed", workflow_id=handle.id)
        return None
    return view


def may_see(clinician: Clinician, view: JourneyView) -> bool:
    """Therapists and prescribers: their own clients; ops: the clients of their clinic. Never a
    journey of another clinic."""
    if view.clinic_id != clinician.clinic_id:
        return False
    if clinician.role is Role.THERAPIST:
        return view.therapist_id == clinician.clinician_id
    if clinician.role is Role.PRESCRIBER:
        return view.prescriber_id == clinician.clinician_id
    return clinician.is_ops


async def clinic_view(api: Services, clinician: Clinician, client_id: str) -> JourneyView | None:
    """The view of the journey of `client_id` in the caller's clinic; None if there is none.

    A journey of another clinic is never returned, even one filed under the clinic "default"'s
    form of workflow id before clinics were told apart: for the caller it does not exist.
    """
    view = await query_view(api.journey(client_id, clinician.clinic_id))
    if view is None or view.clinic_id != clinician.clinic_id:
        return None
    return view


async def visible_view(
    api: Services, clinician: Clinician, client_id: str, resource: Resource
) -> JourneyView:
    """The journey's view if the caller may read it (the read is logged either way)."""
    view = await clinic_view(api, clinician, client_id)
    outcome: ReadOutcome = "ok"
    if view is None:
        outcome = "not_found"
    elif not may_see(clinician, view):
        outcome = "forbidden"
    await record_read(
        api.pool,
        clinician,
        client_id=client_id,
        journey_id=view.journey_id if view else None,
        resource=resource,
        outcome=outcome,
    )
    if view is None:
        raise ApiError(404, "this client has no journey")
    if outcome == "forbidden":
        raise ApiError(403, "this client is not on your caseload")
    return view


@router.get(
    "/journeys/{client_id}",
    response_model=Journey,
    summary="A client's journey: stage, status, doses, what is due, the last decision",
    responses=ERRORS,
)
async def show_journey(client_id: ClientId, clinician: CurrentClinician, api: Api) -> Journey:
    view = await visible_view(api, clinician, client_id, "journey")
    return Journey.from_view(view)


@router.get(
    "/journeys/{client_id}/events",
    response_model=Timeline,
    summary="The journey's events, oldest first, as recorded in the event store",
    responses=ERRORS,
)
async def journey_events(client_id: ClientId, clinician: CurrentClinician, api: Api) -> Timeline:
    view = await visible_view(api, clinician, client_id, "events")
    recorded = await api.store.read_stream(view.journey_id)
    events = []
    for event in recorded:
        meta = event.metadata
        occurred = meta.get("occurred_at") or event.data.get("occurred_at")
        events.append(
            TimelineEvent(
                position=event.global_position,
                version=event.stream_version,
                type=event.type,
                data=event.data,
                actor_id=meta.get("actor_id"),
                actor_role=meta.get("actor_role"),
                decision_id=meta.get("decision_id"),
                occurred_at=datetime.fromisoformat(occurred) if occurred else None,
                recorded_at=event.recorded_at,
            )
        )
    return Timeline(client_id=client_id, journey_id=view.journey_id, events=events)


async def _check_assignees(api: Services, start: StartJourney) -> None:
    rows = await api.pool.fetch(
        "SELECT clinician_id, role, clinic_id FROM clinicians WHERE clinician_id = ANY($1)",
        [start.therapist_id, start.prescriber_id],
    )
    found = {row["clinician_id"]: (row["role"], row["clinic_id"]) for row in rows}
    for field, wanted in (("therapist_id", Role.THERAPIST), ("prescriber_id", Role.PRESCRIBER)):
        if found.get(getattr(start, field)) != (wanted.value, start.clinic_id):
            raise ApiError(
                422,
                f"{field} is not a {wanted.value} of this clinic",
                errors=[{"loc": f"body.{field}", "msg": f"not a {wanted.value} of this clinic"}],
            )


async def _refuse_start(
    api: Services, clinician: Clinician, start: StartJourney, rejection: Rejection, journey_id: str
) -> ApiError:
    await record_rejection(
        api.pool,
        clinician,
        journey_id=journey_id,
        decision_id=start.decision_id,
        decision_type=start.type,
        rejection=rejection,
    )
    log.info("start refused", code=rejection.code.value, client_id=start.client_id)
    return ApiError.from_rejection(rejection)


_ALREADY_OPEN = Rejection(
    code=RejectionCode.ALREADY_STARTED, reason="this client already has an open journey"
)


async def workflow_status(
    api: Services, client_id: str, clinic_id: str
) -> WorkflowExecutionStatus | None:
    """The status of the clinic's client's latest journey run; None if there never was one.

    The raw RPC, not `handle.describe()`: the status is all we need, and it does not decode the
    run's search attributes.
    """
    request = DescribeWorkflowExecutionRequest(
        namespace=api.temporal.namespace,
        execution=WorkflowExecution(workflow_id=journey_workflow_id(client_id, clinic_id)),
    )
    try:
        response = await api.temporal.workflow_service.describe_workflow_execution(
            request, timeout=QUERY_TIMEOUT
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return WorkflowExecutionStatus(response.workflow_execution_info.status)


async def _open_journey(api: Services, client_id: str, clinic_id: str) -> JourneyView | None:
    """The clinic's client's open journey, if any. Waits a little for a closed one to finish."""
    if await workflow_status(api, client_id, clinic_id) != WorkflowExecutionStatus.RUNNING:
        return None
    handle = api.journey(client_id, clinic_id)
    view = await query_view(handle)
    if view is None or view.closed_reason is None:
        return view
    with contextlib.suppress(Exception):
        await asyncio.wait_for(handle.result(), timeout=CLOSING_GRACE)
    return None


async def _wait_recorded(api: Services, journey_id: str) -> bool:
    """Wait until the journey's first event is stored (the workflow appends it just after
    starting), so that what the 201 says can be read back at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_RECORDED_WITHIN
    delay = 0.01
    while await api.store.stream_version(journey_id) < 1:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)
    return True


# A hold whose reason is not a reason code (recorded before they were checked) follows as this.
HELD_OVER_REASON = "previous_journey_hold"


async def held_over(api: Services, client_id: str, clinic_id: str) -> HeldOver | None:
    """The safety hold the clinic's client's last journey closed on, if it did: read from the
    event store (the truth), the journey's events folded by the domain. Called once the client
    is known to have no open journey."""
    journeys = await journeys_of_client(api.pool, client_id, clinic_id)
    if not journeys:
        return None
    previous = journeys[0]
    recorded = await api.store.read_stream(previous)
    state = fold(parse_event(r.data) for r in recorded)
    if state is None or state.safety_hold is None:
        return None
    # Closed on a hold, or ended outside the pathway on one (its close not yet reconciled):
    # either way the client was last seen held.
    try:
        return HeldOver(journey_id=previous, reason=state.safety_hold.reason)
    except ValidationError:
        return HeldOver(journey_id=previous, reason=HELD_OVER_REASON)


async def _pinned_protocol(api: Services, clinic_id: str) -> Protocol:
    """The clinic's current protocol as a journey pins it: its values under their label."""
    try:
        return (await current_protocol(api.pool, clinic_id)).protocol
    except ProtocolError as error:
        raise ApiError(
            409,
            f"the clinic's protocol cannot be used ({error}): its clinical lead must publish it "
            "again",
        ) from None


@router.post(
    "/journeys",
    status_code=201,
    response_model=Journey,
    summary="Start a client's journey (ops, or a therapist for their own client), on the clinic's "
    "current protocol",
    responses=ERRORS,
)
async def start_journey(body: StartJourneyBody, clinician: CurrentClinician, api: Api) -> Journey:
    journey_id = f"j-{uuid.uuid4().hex}"
    # In the caller's clinic: a start for another clinic is refused below, filed under this id.
    workflow_id = journey_workflow_id(body.client_id, clinician.clinic_id)

    def command(protocol: Protocol | None = None, hold: HeldOver | None = None) -> StartJourney:
        return StartJourney(
            decision_id=f"start-{journey_id}",
            actor=clinician.actor,
            journey_id=journey_id,
            client_id=body.client_id,
            therapist_id=body.therapist_id,
            prescriber_id=body.prescriber_id,
            clinic_id=body.clinic_id or clinician.clinic_id,
            protocol=protocol or Protocol(),
            held_over=hold,
        )

    # Asked first as a plain start (the default protocol, no hold): nothing is read or written
    # for a start the caller may not make.
    start = command()
    if start.clinic_id != clinician.clinic_id:
        rejection = Rejection(
            code=RejectionCode.NOT_ASSIGNED, reason="journeys may be started only in your clinic"
        )
        raise await _refuse_start(api, clinician, start, rejection, workflow_id)
    decided = decide(None, start, datetime.now(UTC))
    if isinstance(decided, Rejection):
        raise await _refuse_start(api, clinician, start, decided, workflow_id)
    await _check_assignees(api, start)
    open_journey = await _open_journey(api, body.client_id, start.clinic_id)
    if open_journey is not None:
        raise await _refuse_start(api, clinician, start, _ALREADY_OPEN, open_journey.journey_id)
    # The start itself: on the clinic's current protocol, and on the hold the client's last
    # journey closed on, if it did.
    protocol = await _pinned_protocol(api, start.clinic_id)
    hold = await held_over(api, body.client_id, start.clinic_id)
    try:
        start = command(protocol, hold)
    except ValidationError:
        raise ApiError(
            409,
            f"the clinic's protocol {protocol.version} is outside the bounds a journey may start "
            "with today: its clinical lead must publish a new version",
        ) from None
    decided = decide(None, start, datetime.now(UTC))
    if isinstance(decided, Rejection):  # pragma: no cover - accepted above, as a plain start
        raise await _refuse_start(api, clinician, start, decided, workflow_id)
    if body.contact is not None:
        try:
            await upsert_client(
                api.pool,
                body.client_id,
                display_name=body.contact.display_name,
                email=body.contact.email,
                phone=body.contact.phone,
                keys=api.keys,  # sealed at rest
                clinic_id=start.clinic_id,
            )
        except ClientErasedError:
            raise ApiError(
                409, "this client's contact details were erased: register them under a new id"
            ) from None
    try:
        started = await api.temporal.start_workflow(
            WORKFLOW_TYPE,
            JourneyInput(start=start),
            id=workflow_id,
            task_queue=api.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            result_type=JourneyView,
            static_summary=static_summary(start.client_id, start.journey_id),
        )
    except WorkflowAlreadyStartedError:
        raise await _refuse_start(api, clinician, start, _ALREADY_OPEN, workflow_id) from None
    if not await _wait_recorded(api, journey_id):
        log.warning("journey started, its first event not yet stored", journey_id=journey_id)
    log.info("journey started", client_id=body.client_id, journey_id=journey_id)
    view = await query_view(started)
    if view is None:  # pragma: no cover - the domain accepted this start just above
        raise ApiError(503, "the journey did not start: try again")
    return Journey.from_view(view)
