"""The log as projections read it: ``eventstore.log``'s gap-safe read, one per batch, decoded
only as far as needed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from database.pgtypes import Connection
from domain import Event, parse_event
from eventstore import Checkpoint
from eventstore.log import fetch_log


class LogEvent:
    """One event of the log as projections see it. ``data`` and ``event`` decode on first use and
    are then shared by every projection applying the batch."""

    __slots__ = (
        "_data",
        "_event",
        "_text",
        "actor_id",
        "actor_role",
        "decision_id",
        "decision_type",
        "global_position",
        "occurred_at",
        "recorded_at",
        "stream_id",
        "stream_version",
        "transaction_id",
        "type",
    )

    def __init__(self, row: asyncpg.Record) -> None:
        """From a row of ``eventstore.log.READ_LOG_SQL``."""
        self.stream_id: str = row["stream_id"]
        self.stream_version: int = row["stream_version"]
        self.type: str = row["event_type"]
        self._text: str = row["data"]
        self._data: dict[str, Any] | None = None
        self._event: Event | None = None
        self.global_position: int = row["global_position"]
        self.transaction_id: int = row["transaction_id"]
        self.recorded_at: datetime = row["recorded_at"]
        self.occurred_at: str | None = row["occurred_at"]  # the data's, as text
        # The metadata's; events recorded without them belong to a decision of their own.
        self.decision_id: str = row["decision_id"] or f"event-{row['event_id']}"
        self.decision_type: str | None = row["decision_type"]
        actor_id, actor_role = row["actor_id"], row["actor_role"]
        self.actor_id: str = "unknown" if actor_id is None else actor_id
        self.actor_role: str = "unknown" if actor_role is None else actor_role

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self._text)
        return self._data

    @property
    def event(self) -> Event:
        """The domain event (``parse_event``: upcast, then validated)."""
        if self._event is None:
            self._event = parse_event(self.data)
        return self._event

    @property
    def position(self) -> tuple[int, int]:
        return (self.transaction_id, self.global_position)

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(transaction_id=self.transaction_id, global_position=self.global_position)


async def read_log(conn: Connection, after: Checkpoint, limit: int) -> list[LogEvent]:
    """Up to ``limit`` events after ``after``: the log's one gap-safe read
    (``eventstore.log.fetch_log``), as ``LogEvent``s."""
    return [LogEvent(row) for row in await fetch_log(conn, after, limit)]
