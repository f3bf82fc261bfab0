"""The journey view: what a clinician, the API and the Temporal UI see of a journey."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.due import DueItem, due, is_overdue
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


def journey_view(state: JourneyState, now: AwareDatetime | None = None) -> JourneyView:
    """A summary of `state`; `overdue` is known only when `now` is given."""
    items = due(state)
    overdue = now is not None and is_overdue(state, now)
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
