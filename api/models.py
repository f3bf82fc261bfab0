"""The API's request and response bodies. Ids and codes; contact details only on the way in.

The journey as the API shows it (`Journey`, `DecisionAnswer`) is made from the domain's view
(`domain.view.JourneyView`), and a caseload entry is the caseload read model's
(`projections.caseload.CaseloadEntry`, itself made from the view): none copies the view's fields.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from domain import DueItem, DueKind, Role
from domain.state import LastDecision as DomainLastDecision
from domain.view import JourneyView, ShownAs, ViewShape, shaped_from_view, view_values
from domain.vocabulary import OpaqueId, PlainText
from projections.caseload import CaseloadEntry as CaseloadEntry  # GET /caseload's entries
from workflows.messages import DecisionOutcome


class _In(BaseModel):
    # hide_input_in_errors: a validation error never carries what was sent.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _not_a_number(value: object) -> object:
    """pydantic would read `0.5` or `"1700000000"` as a Unix time: a date-time here is ISO 8601."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("a date-time in ISO 8601 is expected, e.g. 2026-12-01T10:00:00Z")
    return value


# A date-time as the OpenAPI document says (`format: date-time`), never a number.
IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]


class Contact(_In):
    """The client's contact details: stored apart from the journey's events, erasable."""

    display_name: Annotated[Text, PlainText] | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=320), PlainText] | None = None
    phone: Annotated[str, StringConstraints(min_length=3, max_length=40), PlainText] | None = None


class StartJourneyBody(_In):
    """A journey starts on its clinic's current protocol (`GET /protocols/current`), pinned by
    the API: a request cannot carry one."""

    client_id: OpaqueId
    therapist_id: OpaqueId
    prescriber_id: OpaqueId
    clinic_id: OpaqueId | None = Field(default=None, description="default: the caller's clinic")
    contact: Contact | None = None
    # Not in the document: here only to answer a request that still sends one in plain words.
    protocol: SkipJsonSchema[None] = Field(default=None, exclude=True)

    @field_validator("protocol", mode="before")
    @classmethod
    def _no_protocol(cls, _: object) -> None:
        raise ValueError(
            "a journey starts on its clinic's current protocol (GET /protocols/current), which "
            "only the clinic's clinical lead changes: do not send one"
        )


class Doses(_Out):
    authorized: int
    used: int
    remaining: int


class Due(_Out):
    kind: DueKind
    at: datetime
    ref: str


class LastDecision(_Out):
    type: str
    decision_id: str | None
    actor_id: str
    actor_role: Role
    at: datetime


def _due(items: list[DueItem]) -> dict[str, Any]:
    due = [Due(kind=item.kind, at=item.at, ref=item.ref) for item in items]
    return {"due": due, "next_due": due[0] if due else None}


def _last_decision(last: DomainLastDecision | None) -> dict[str, Any]:
    if last is None:
        return {"last_decision": None}
    return {
        "last_decision": LastDecision(
            type=last.type,
            decision_id=last.decision_id,
            actor_id=last.actor.id,
            actor_role=last.actor.role,
            at=last.at,
        )
    }


# The domain's view as the API shows it: every field as it is, but for these.
JOURNEY_SHAPE: ViewShape = {
    "doses": ShownAs(
        {"doses": Doses},
        lambda doses: {
            "doses": Doses(authorized=doses.authorized, used=doses.used, remaining=doses.remaining)
        },
    ),
    "due": ShownAs({"due": list[Due], "next_due": Due | None}, _due),
    "last_decision": ShownAs({"last_decision": LastDecision | None}, _last_decision),
}


@shaped_from_view(JOURNEY_SHAPE)
class Journey(_Out):
    """A journey as clinicians see it: where it is, what is due, the doses, the last decision."""

    @classmethod
    def fields_from(cls, view: JourneyView) -> dict[str, Any]:
        return view_values(view, JOURNEY_SHAPE)

    @classmethod
    def from_view(cls, view: JourneyView) -> Self:
        return cls(**cls.fields_from(view))


class DecisionAnswer(Journey):
    """The journey after the decision, with the decision's id and the events it recorded."""

    decision_id: str
    events: list[str]

    @classmethod
    def from_outcome(cls, outcome: DecisionOutcome) -> DecisionAnswer:
        return cls(
            **cls.fields_from(outcome.view),
            decision_id=outcome.decision_id,
            events=list(outcome.events),
        )


class AvailableDecision(_Out):
    """A decision the caller may take now (`domain.available`): submit `{type, decision_id,
    ...fields}` to `POST /journeys/{client_id}/decisions`, with `needs_input` filled in."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    type: str = Field(description="the decision")
    fields: dict[str, Any] = Field(
        description="the decision's fields, prefilled: the decision is accepted with these"
    )
    needs_input: list[str] = Field(
        description="fields only the clinician can fill (answers, vitals, the dose, goals, a"
        " confirmation): ask for them rather than submit the sample value"
    )
    next_step: bool = Field(description="what the journey is waiting on now (listed first)")
    body_schema: dict[str, Any] = Field(
        alias="schema", description="the JSON schema of the decision's body, to render its form"
    )


class TimelineEvent(_Out):
    position: int
    version: int
    type: str
    data: dict[str, Any]
    actor_id: str | None
    actor_role: str | None
    decision_id: str | None
    occurred_at: datetime | None
    recorded_at: datetime


class Timeline(_Out):
    client_id: str
    journey_id: str
    events: list[TimelineEvent]


class AuditEntry(_Out):
    kind: Literal["decision", "read"]
    at: datetime
    journey_id: str | None
    client_id: str | None
    actor_id: str
    actor_role: str
    outcome: str = Field(description="decisions: accepted or rejected; reads: ok, forbidden, …")
    decision_id: str | None = None
    decision_type: str | None = None
    rejection_code: str | None = None
    reason: str | None = None
    event_types: list[str] = []
    read: str | None = Field(
        default=None,
        description="reads: what was read; admin actions (in the access log too): `audit` (the "
        "audit log was read), `user_added`, `token_issued`, `tokens_revoked`, `tokens_rotated`, "
        "`users_listed` (by `carepath users`, actor `cli:<user>`, role `admin`), `erasure`",
    )
    subject_id: str | None = Field(
        default=None, description="admin actions: the clinician concerned"
    )


class Alert(_Out):
    """An alert in a clinician's in-app alert list: a notice to them (ops: to the clinic's ops),
    kept whether or not email or SMS delivered it. Ids and codes: no PHI."""

    alert_id: uuid.UUID = Field(
        description="the alert's id (`POST /alerts/{alert_id}/acknowledge`)"
    )
    journey_id: str = Field(description="the journey's workflow id (Temporal)")
    client_id: str = Field(description="the client's opaque id")
    recipient_role: Literal["therapist", "prescriber", "ops"]
    recipient_id: str = Field(description="the clinician's id; for ops alerts, the clinic's")
    template: str = Field(description="what the alert is about, as a code: `safety_hold_raised`, …")
    urgent: bool
    created_at: datetime = Field(description="when the alert was recorded")
    delivery: Literal["pending", "delivered", "undelivered"] = Field(
        description="whether email or SMS reached anyone: `pending` before a channel was tried, "
        "`undelivered` when none did (no channel, no address, refused, or the channel is down)"
    )
    channel: str | None = Field(default=None, description="`email` or `sms` when delivered")
    acknowledged_at: datetime | None = Field(default=None, description="the first acknowledgement")
    acknowledged_by: str | None = Field(default=None, description="who acknowledged it first")


class Health(_Out):
    temporal: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]


class FieldError(_Out):
    """One thing wrong with a request: where, and what, never the value sent."""

    loc: str = Field(description="where: `body.answers.3`, `query.limit`, …")
    msg: str = Field(description="what is wrong, with the allowed values or limits")


class ErrorBody(_Out):
    """Every answer other than success: what happened in plain words."""

    detail: str = Field(description="what happened, in plain words")
    code: str | None = Field(
        default=None, description="a decision the pathway refused: the rejection's code"
    )
    errors: list[FieldError] | None = Field(
        default=None, description="a request that is not valid: each thing wrong with it"
    )
