"""A decision the pathway forbids, with the reason in plain words."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class RejectionCode(StrEnum):
    NOT_STARTED = "not_started"  # no such journey yet
    ALREADY_STARTED = "already_started"
    CLOSED = "closed"  # the journey is closed: it accepts nothing
    FORBIDDEN_ROLE = "forbidden_role"  # this role may not make this decision
    NOT_ASSIGNED = "not_assigned"  # not this clinician's client
    NOT_ALLOWED_NOW = "not_allowed_now"  # the pathway forbids it at this point
    INVALID = "invalid"  # values that cannot be right (a date in the past, bad answers)
    DECISION_ID_REUSED = "decision_id_reused"  # this decision id was used for another decision
    NOT_RECORDED = "not_recorded"  # the event store refused the decision's events for good


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: RejectionCode
    reason: str

    def __str__(self) -> str:
        return self.reason
