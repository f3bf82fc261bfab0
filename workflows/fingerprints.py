"""A decision's fingerprint: what makes two decisions with one decision id the same decision."""

from __future__ import annotations

import hashlib

from domain import Command, Rejection, RejectionCode

REUSED = Rejection(
    code=RejectionCode.DECISION_ID_REUSED,
    reason="this decision id was already used for another decision: use a new decision id",
)


def decision_fingerprint(command: Command) -> str:
    """A digest of everything the decision says, its actor included (a hash: no content)."""
    body = command.model_dump_json(exclude={"decision_id"})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
