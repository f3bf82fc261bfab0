"""The log as projections read it: one gap-safe read per batch, decoded only as far as needed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from database.pgtypes import Connection
from domain import Event, parse_event
from eventstore import Checkpoint

# The WHERE and ORDER BY of eventstore.queries.READ_ALL_SQL (gap-safe: see EventStore.read_all),
# with only the columns projections use. `data` comes as text, decoded on first use; the fields
# the audit needs are extracted by the server, so metadata is never decoded here.
READ_SQL = """
SELECT stream_id, stream_version, event_type, data::text AS data, global_position,
       transaction_id, recorded_at, data->>'occurred_at' AS occurred_at,
       coalesce(nullif(metadata->>'decision_id', ''), 'event-' || event_id::text) AS decision_id,
       metadata->>'decision_type' AS decision_type,
       coalesce(metadata->>'actor_id', 'unknown') AS actor_id,
       coalesce(metadata->>'actor_role', 'unknown') AS actor_role
FROM events
WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position
LIMIT $3
"""


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

    def __init__(
        self,
        *,
        stream_id: str,
        stream_version: int,
        type: str,
        data: str,
        global_position: int,
        transaction_id: int,
        recorded_at: datetime,
        occurred_at: str | None,
        decision_id: str,
        decision_type: str | None,
        actor_id: str,
        actor_role: str,
    ) -> None:
        self.stream_id = stream_id
        self.stream_version = stream_version
        self.type = type
        self._text = data
        self._data: dict[str, Any] | None = None
        self._event: Event | None = None
        self.global_position = global_position
        self.transaction_id = transaction_id
        self.recorded_at = recorded_at
        self.occurred_at = occurred_at  # the data's, as text
        self.decision_id = decision_id  # the metadata's, or "event-<event id>"
        self.decision_type = decision_type
        self.actor_id = actor_id
        self.actor_role = actor_role

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
    """Up to ``limit`` events after ``after``, in ``EventStore.read_all``'s order and gap-safe."""
    rows = await conn.fetch(READ_SQL, after.transaction_id, after.global_position, limit)
    return [
        LogEvent(
            stream_id=r[0],
            stream_version=r[1],
            type=r[2],
            data=r[3],
            global_position=r[4],
            transaction_id=r[5],
            recorded_at=r[6],
            occurred_at=r[7],
            decision_id=r[8],
            decision_type=r[9],
            actor_id=r[10],
            actor_role=r[11],
        )
        for r in rows
    ]
