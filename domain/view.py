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
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from domain.due import DueItem, due, is_overdue
from domain.rules import CURRENT, Rules
from domain.state import DoseLedger, JourneyState, LastDecision
from domain.vocabulary import ClosedReason, Stage, Status


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
