"""The journey view: what a clinician, the API and the Temporal UI see of a journey.

`JourneyView` is the one definition of "a journey as clinicians see it". A reader that shows it
in a shape of its own (the API's `Journey`, the caseload's rows and `GET /caseload`) is not a
copy of its fields but a model made from it by `shaped_from_view`: every field of the view, in
the view's order, as it is unless the reader's `ViewShape` says how it shows that field (as
other fields, or not at all), and its values come from `view_values`. A field added to the view
reaches every such reader; a reader's shape that names a field the view no longer has fails at
import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from domain.commands import Vitals
from domain.due import DueItem, due, is_overdue
from domain.rules import CURRENT, Rules
from domain.state import (
    DoseLedger,
    DosingSession,
    JourneyState,
    LastDecision,
    SafetyHold,
    Stopping,
    Visit,
)
from domain.vocabulary import ClosedReason, SessionMode, SessionStatus, Stage, Status


class SessionView(BaseModel):
    """A dosing session as its clinicians follow it: when, the dose, the last vitals, when the
    monitoring may end, the record's signature."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str
    status: SessionStatus
    mode: SessionMode
    scheduled_at: AwareDatetime
    dose_number: int | None
    started_at: AwareDatetime | None
    monitoring_ends_at: AwareDatetime | None  # the protocol's minimum monitoring after the dose
    completed_at: AwareDatetime | None
    last_vitals: Vitals | None  # the latest reading (a held session: the pre-dose one)
    last_vitals_at: AwareDatetime | None
    record_signed_at: AwareDatetime | None
    adverse_events: int


def _session_view(state: JourneyState, session: DosingSession) -> SessionView:
    last = session.readings[-1] if session.readings else None
    minimum = timedelta(minutes=state.protocol.min_monitoring_minutes)
    return SessionView(
        session_id=session.session_id,
        status=session.status,
        mode=session.mode,
        scheduled_at=session.scheduled_at,
        dose_number=session.dose_number,
        started_at=session.started_at,
        monitoring_ends_at=session.started_at + minimum if session.started_at else None,
        completed_at=session.completed_at,
        last_vitals=last.vitals if last else None,
        last_vitals_at=last.at if last else None,
        record_signed_at=session.record_signed_at,
        adverse_events=session.adverse_events,
    )


class JourneyView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    journey_id: str
    client_id: str
    therapist_id: str
    prescriber_id: str
    clinic_id: str
    stage: Stage
    status: Status
    closed_reason: ClosedReason | None
    doses: DoseLedger
    due: list[DueItem]
    overdue: bool
    last_decision: LastDecision | None
    version: int
    protocol_version: str
    # Defaults: a view answered by a run before these fields existed still reads.
    safety_hold: SafetyHold | None = None  # who raised it, why (a reason code), when
    stopping: Stopping | None = None  # a course stopping, awaiting the discharge follow-up
    visits: list[Visit] = []  # booked, not yet done
    sessions: list[SessionView] = []  # the dosing sessions not cancelled, in order


def journey_view(
    state: JourneyState, now: AwareDatetime | None = None, rules: Rules = CURRENT
) -> JourneyView:
    """A summary of `state`; `overdue` is known only when `now` is given."""
    items = due(state, rules)
    overdue = now is not None and is_overdue(state, now, rules)
    return JourneyView(
        journey_id=state.journey_id,
        client_id=state.client_id,
        therapist_id=state.therapist_id,
        prescriber_id=state.prescriber_id,
        clinic_id=state.clinic_id,
        stage=state.stage,
        status=state.status,
        closed_reason=state.closed_reason,
        doses=state.doses,
        due=items,
        overdue=overdue,
        last_decision=state.last_decision,
        version=state.version,
        protocol_version=state.protocol.version,
        safety_hold=state.safety_hold,
        stopping=state.stopping,
        visits=state.scheduled_visits(),
        sessions=[
            _session_view(state, s)
            for s in sorted(state.sessions.values(), key=lambda s: (s.scheduled_at, s.session_id))
            if s.status is not SessionStatus.CANCELLED
        ],
    )


@dataclass(frozen=True)
class ShownAs:
    """How a reader shows one field of the view: as `fields` (name: type, in this order), whose
    values `values` computes from the field's value."""

    fields: Mapping[str, Any]
    values: Callable[[Any], Mapping[str, Any]]


# A reader's shape: the fields of the view it shows otherwise (None: not at all). Every other
# field of the view is shown as it is, under its own name and type.
ViewShape = Mapping[str, ShownAs | None]

M = TypeVar("M", bound=BaseModel)


def _check(shape: ViewShape) -> None:
    unknown = sorted(set(shape) - set(JourneyView.model_fields))
    if unknown:
        raise TypeError(f"JourneyView has no field {', '.join(unknown)}: the view changed")


def shaped_from_view(
    shape: ViewShape, *, then: Mapping[str, Any] | None = None
) -> Callable[[type[M]], type[M]]:
    """A decorator of a pydantic model class (its config, docstring and methods): the model with
    the view's fields, in the view's order, each as `shape` shows it, then the fields `then`
    (name: type). The model made keeps the class's name, so its JSON schema's title. Its fields
    are made at import: type checkers do not see them (read them with `model_dump()`)."""
    _check(shape)
    fields: dict[str, Any] = {}

    def add(name: str, kind: Any, info: Any = ...) -> None:
        if name in fields:
            raise TypeError(f"{name} is shown twice")
        fields[name] = (kind, info)

    for name, info in JourneyView.model_fields.items():
        if name not in shape:
            add(name, info.annotation, Field(description=info.description))
        elif (shown := shape[name]) is not None:
            for field, kind in shown.fields.items():
                add(field, kind)
    for field, kind in (then or {}).items():
        add(field, kind)

    def make(template: type[M]) -> type[M]:
        return create_model(
            template.__name__,
            __base__=template,
            __module__=template.__module__,
            __qualname__=template.__qualname__,
            __doc__=template.__doc__,
            **fields,
        )

    return make


def view_values(view: JourneyView, shape: ViewShape) -> dict[str, Any]:
    """The view's values as a model made by `shaped_from_view(shape)` takes them."""
    values: dict[str, Any] = {}
    for name in JourneyView.model_fields:
        value = getattr(view, name)
        if name not in shape:
            values[name] = value
        elif (shown := shape[name]) is not None:
            computed = shown.values(value)
            if computed.keys() != shown.fields.keys():
                raise ValueError(f"{name} is shown as {list(shown.fields)}, not {list(computed)}")
            values.update(computed)
    return values
