"""Values passed to and returned by the event store (frozen pydantic models)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# Stream and client ids are short opaque strings, never names or other personal data.
OPAQUE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")

MAX_EVENT_TYPE_LENGTH = 200


class _Frozen(BaseModel):
    # hide_input_in_errors: a validation error must not echo event data into logs.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class NewEvent(_Frozen):
    """An event to append. ``EventStore.append`` checks the content (type, JSON, size).

    ``metadata`` conventionally holds ``actor_id``, ``actor_role``, ``causation_id``,
    ``correlation_id``, ``workflow_id`` and ``run_id``.
    """

    event_id: UUID
    type: str
    schema_version: int = 1
    data: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)


class Checkpoint(_Frozen):
    """A reader's place in the global log: the last (transaction id, global position) seen."""

    transaction_id: int = Field(ge=0)
    global_position: int = Field(ge=0)

    @classmethod
    def start(cls) -> Checkpoint:
        """Before the first event."""
        return cls(transaction_id=0, global_position=0)

    def as_tuple(self) -> tuple[int, int]:
        return (self.transaction_id, self.global_position)


class RecordedEvent(NewEvent):
    """An event as stored, with its place in its stream and in the global log."""

    stream_id: str
    stream_version: int
    global_position: int
    transaction_id: int
    recorded_at: datetime

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint that resumes reading just after this event."""
        return Checkpoint(transaction_id=self.transaction_id, global_position=self.global_position)


class AppendResult(_Frozen):
    """What an append did. ``written`` is False when the batch was already stored."""

    stream_id: str
    first_version: int
    last_version: int
    global_positions: tuple[int, ...]
    written: bool

    @classmethod
    def written_at(
        cls, stream_id: str, expected_version: int, positions: Sequence[int]
    ) -> AppendResult:
        """What an append that wrote ``positions`` after ``expected_version`` did."""
        return cls(
            stream_id=stream_id,
            first_version=expected_version + 1,
            last_version=expected_version + len(positions),
            global_positions=tuple(positions),
            written=True,
        )
