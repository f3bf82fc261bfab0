"""Decisions: one route for every decision of the pathway's vocabulary.

The body is `{type, decision_id, ...that decision's fields}`; the actor is the clinician of the
token, never the body. The decision goes to the journey workflow as the update `decide`, with
the decision id as the update id: a repeat returns the first answer and does nothing more, also
after the journey has closed (answered then from the workflow's `outcome` query).

`GET /journeys/{client_id}/decisions` lists the decisions the caller may take now
(`domain.available`), each with its prefilled fields and its body's JSON schema, computed on
the state the workflow holds (its `state` query: the authority), after the same visibility
checks as every journey read, and audited as a read (`decisions_available`).

The client id is resolved in the caller's clinic (another clinic's client: 404, as if it did
not exist), and the caller must be able to see the journey (`api.journeys.may_see`) before the
workflow is asked anything: a repeated decision id is answered from the workflow's recent
decisions, so a caller who may not see the journey must never reach it. A repeat answered with
the first answer is audited as a read of that answer (`access_log`, resource `decision`).
"""

from __future__ import annotations

import asyncio
import typing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from temporalio.client import (
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.audit import record_read, record_rejection
from api.auth import CurrentClinician
from api.context import Api, Services
from api.errors import ApiError, from_validation_error, log
from api.journeys import (
    ERRORS,
    QUERY_TIMEOUT,
    ClientId,
    clinic_view,
    may_see,
    query_view,
    visible_view,
)
from api.models import AvailableDecision, DecisionAnswer
from domain import Command, JourneyState, Rejection, RejectionCode
from domain.available import Offer, available
from domain.commands import ReassignClinician, StartJourney
from domain.ids import journey_workflow_id
from domain.rules import Rules
from domain.view import JourneyView
from records.assignees import is_assignable
from records.tokens import Clinician
from workflows.fingerprints import REUSED, decision_fingerprint
from workflows.messages import DecisionOutcome, DecisionRequest
from workflows.rejections import rejection_from_error

router = APIRouter(tags=["decisions"])

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
# How long a decision may take before the caller is told to repeat it (same decision id).
DECISION_TIMEOUT = 30.0
_NOT_DECISIONS = {StartJourney}  # started by POST /journeys
# Has this decision id been decided on this journey (its events are in the store)?
_DECIDED = """
SELECT 1 FROM events WHERE stream_id = $1 AND metadata->>'decision_id' = $2 LIMIT 1
"""


def _body_model(command: type[BaseModel]) -> type[BaseModel]:
    """The command as clinicians send it: every field but `actor`, and `type` required."""
    fields: dict[str, Any] = {}
    for name, field in command.model_fields.items():
        if name == "actor":
            continue
        if name == "type":
            fields[name] = (field.annotation, Field(description="the decision"))
        else:
            fields[name] = Annotated[field.annotation, field]
    model: type[BaseModel] = create_model(
        f"{command.__name__}Decision",
        __config__=ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True),
        __doc__=command.__doc__ or f"The decision `{command.model_fields['type'].default}`.",
        **fields,
    )
    return model


def _type_of(model: type[BaseModel]) -> str:
    tag: str = typing.get_args(model.model_fields["type"].annotation)[0]
    return tag


_COMMANDS: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(Command)[0])
BODY_MODELS = tuple(_body_model(c) for c in _COMMANDS if c not in _NOT_DECISIONS)
DECISION_TYPES = frozenset(_type_of(m) for m in BODY_MODELS)
# Each decision's body as a JSON schema (what `GET .../decisions` gives a client for its form).
BODY_SCHEMAS: dict[str, dict[str, Any]] = {_type_of(m): m.model_json_schema() for m in BODY_MODELS}

if TYPE_CHECKING:
    DecisionBody = BaseModel
else:
    DecisionBody = Annotated[typing.Union[BODY_MODELS], Field(discriminator="type")]  # noqa: UP007


def _command(body: BaseModel, clinician: Clinician) -> Command:
    try:
        return COMMAND.validate_python({**body.model_dump(), "actor": clinician.actor})
    except ValidationError as error:
        raise from_validation_error(error) from None


class _Decision:
    """One decision on one client's journey, audited when it is refused."""

    def __init__(self, api: Services, clinician: Clinician, client_id: str, command: Command):
        self.api = api
        self.clinician = clinician
        self.command = command
        self.client_id = client_id
        self.handle: WorkflowHandle[Any, Any] = api.journey(client_id, clinician.clinic_id)
        # Until the journey is known: the workflow id in the caller's clinic.
        self.journey_id = journey_workflow_id(client_id, clinician.clinic_id)

    async def refuse(self, rejection: Rejection) -> ApiError:
        await record_rejection(
            self.api.pool,
            self.clinician,
            journey_id=self.journey_id,
            decision_id=self.command.decision_id,
            decision_type=self.command.type,
            rejection=rejection,
        )
        log.info(
            "decision rejected",
            decision=self.command.type,
            code=rejection.code.value,
            journey_id=self.journey_id,
        )
        return ApiError.from_rejection(rejection)

    async def make(self) -> DecisionOutcome:
        view = await clinic_view(self.api, self.clinician, self.client_id)
        if view is None:
            raise await self.refuse(
                Rejection(code=RejectionCode.NOT_STARTED, reason="this client has no journey")
            )
        self.journey_id = view.journey_id
        if not may_see(self.clinician, view):
            # Before the workflow is asked: it answers a repeated decision id with the first
            # answer, whoever asks.
            mine = f"this client is not assigned to this {self.clinician.role.value}"
            raise await self.refuse(Rejection(code=RejectionCode.NOT_ASSIGNED, reason=mine))
        if isinstance(self.command, ReassignClinician):
            await self._check_assignee(self.command)
        decided_before = await self.api.pool.fetchval(
            _DECIDED, view.journey_id, self.command.decision_id
        )
        outcome = await self._decide(view)
        if outcome.fingerprint not in (None, decision_fingerprint(self.command)):
            raise await self.refuse(REUSED)  # Temporal answered the first update of this id
        if decided_before is not None or self._someone_elses(outcome):
            await record_read(
                self.api.pool,
                self.clinician,
                client_id=self.client_id,
                journey_id=view.journey_id,
                resource="decision",
                outcome="ok",
            )
        return outcome

    async def _check_assignee(self, command: ReassignClinician) -> None:
        role, clinic = command.role, self.clinician.clinic_id
        if not await is_assignable(self.api.pool, command.clinician_id, role, clinic):
            reason = f"{command.clinician_id} is not a {role.value} of this clinic"
            raise await self.refuse(Rejection(code=RejectionCode.INVALID, reason=reason))

    def _someone_elses(self, outcome: DecisionOutcome) -> bool:
        """The answer is another clinician's decision (a repeat that raced its first run)."""
        last = outcome.view.last_decision
        return (
            last is not None
            and last.decision_id == self.command.decision_id
            and last.actor.id != self.clinician.clinician_id
        )

    async def _decide(self, view: JourneyView) -> DecisionOutcome:
        try:
            outcome: DecisionOutcome = await asyncio.wait_for(
                self.handle.execute_update(
                    "decide",
                    DecisionRequest(command=self.command),
                    id=self.command.decision_id,
                    result_type=DecisionOutcome,
                ),
                timeout=DECISION_TIMEOUT,
            )
        except WorkflowUpdateFailedError as error:
            rejection = rejection_from_error(error)
            if rejection is None:
                log.error("decision failed", decision=self.command.type, cause=_cause(error))
                raise ApiError(500, "the decision could not be made") from None
            raise await self.refuse(rejection) from None
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return await self._after_close(view)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise ApiError(
                503, "the decision is still pending: repeat it with the same decision_id"
            ) from None
        return outcome

    async def _after_close(self, view: JourneyView) -> DecisionOutcome:
        """The workflow has completed: the first answer to a repeat, else the journey is closed."""
        first: DecisionOutcome | None = await self.handle.query(
            "outcome",
            self.command.decision_id,
            result_type=DecisionOutcome | None,  # type: ignore[arg-type]
            rpc_timeout=QUERY_TIMEOUT,
        )
        if first is not None:
            return first
        latest = await query_view(self.handle) or view
        closed = latest.closed_reason.value if latest.closed_reason else "ended"
        raise await self.refuse(
            Rejection(
                code=RejectionCode.CLOSED,
                reason=f"this journey is closed ({closed}): it accepts no more decisions",
            )
        )


def _cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return type(error).__name__


@router.post(
    "/journeys/{client_id}/decisions",
    response_model=DecisionAnswer,
    summary="Make a decision on a client's journey (any decision of the pathway)",
    description=(
        "The body is the decision: its `type`, a `decision_id` you make (repeat it to retry: "
        "the first answer comes back and nothing happens twice) and that decision's fields. "
        "The actor is the clinician of the token. A decision the pathway refuses is answered "
        "with its reason in plain words: 403 (role or assignment), 404 (no journey), 409 (not "
        "now, or closed), 422 (values that cannot be right)."
    ),
    responses=ERRORS,
)
async def make_decision(
    client_id: ClientId,
    body: Annotated[DecisionBody, Body()],
    clinician: CurrentClinician,
    api: Api,
) -> DecisionAnswer:
    command = _command(body, clinician)
    outcome = await _Decision(api, clinician, client_id, command).make()
    return DecisionAnswer.from_outcome(outcome)


async def _current_state(handle: WorkflowHandle[Any, Any]) -> tuple[JourneyState, Rules] | None:
    """The state the journey's workflow holds now and the rules its run decides by (None: there
    is none to ask)."""
    try:
        state: JourneyState | None = await handle.query(
            "state",
            result_type=JourneyState | None,  # type: ignore[arg-type]
            rpc_timeout=QUERY_TIMEOUT,
        )
        rules: Rules = await handle.query("rules", result_type=Rules, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    except WorkflowQueryFailedError:
        log.warning("journey state query failed", workflow_id=handle.id)
        return None
    return None if state is None else (state, rules)


async def offers_for(api: Services, clinician: Clinician, view: JourneyView) -> list[Offer]:
    """The decisions `clinician` may take now on the journey of `view` (already checked visible
    to them), worked out on the workflow's current state under its run's rules."""
    current = await _current_state(api.journey(view.client_id, clinician.clinic_id))
    if current is None or current[0].journey_id != view.journey_id:
        # A new journey replaced the one just checked: its caller must be checked again.
        raise ApiError(409, "the client's journey changed while it was read: ask again")
    # The workflow decides at its own time; never before the journey's last decision (a clock
    # behind the workflow's must not offer a time the workflow already passed).
    state, rules = current
    now = max(datetime.now(UTC), state.last_activity_at)
    return available(state, clinician.actor, now, rules)


async def decide_for(
    api: Services, clinician: Clinician, client_id: str, command: Command
) -> DecisionOutcome:
    """Make one decision as the API does (checks, audit, the workflow's answer); raise ApiError
    with the reason when it is refused."""
    return await _Decision(api, clinician, client_id, command).make()


@router.get(
    "/journeys/{client_id}/decisions",
    response_model=list[AvailableDecision],
    summary="The decisions you may take on a client's journey now, each with a prefilled body",
    description=(
        "Exactly the decisions the pathway would accept from you now (the next steps first): "
        "each with its `fields` (submit `{type, decision_id, ...fields}` to `POST` on this "
        "path), the fields only you can fill (`needs_input`: answers, vitals, the dose, a "
        "confirmation; the prefilled value is a sample) and its body's JSON `schema`. A closed "
        "journey lists none."
    ),
    responses=ERRORS,
)
async def available_decisions(
    client_id: ClientId, clinician: CurrentClinician, api: Api
) -> list[AvailableDecision]:
    view = await visible_view(api, clinician, client_id, "decisions_available")
    return [
        AvailableDecision.model_validate(
            {
                "type": offer.type,
                "fields": offer.fields,
                "needs_input": list(offer.needs_input),
                "next_step": offer.next_step,
                "schema": BODY_SCHEMAS[offer.type],
            }
        )
        for offer in await offers_for(api, clinician, view)
    ]
