"""Small builders shared by the event store tests."""

from __future__ import annotations

import uuid
from typing import Any

from eventstore import NewEvent


def new_event(
    event_type: str = "SessionBooked",
    data: dict[str, Any] | None = None,
    *,
    schema_version: int = 1,
    metadata: dict[str, Any] | None = None,
) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        type=event_type,
        schema_version=schema_version,
        data={"n": 1} if data is None else data,
        metadata={"actor_id": "clinician-1", "actor_role": "clinician"}
        if metadata is None
        else metadata,
    )


def stream_id(prefix: str = "journey") -> str:
    """A stream id no other test uses."""
    return f"{prefix}:{uuid.uuid4().hex}"
