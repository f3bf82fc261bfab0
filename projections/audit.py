"""Audit log of accepted decisions: who decided what, when, on which journey, with what effect.

Rejected decisions are not events; the API records them in `audit_rejected`. The `audit` view
shows both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eventstore import RecordedEvent
from projections.runner import Conn

_UPSERT = """
INSERT INTO audit_accepted (journey_id, decision_id, decision_type, actor_id, actor_role,
                            decided_at, event_types, first_position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (journey_id, decision_id) DO UPDATE
   SET event_types = audit_accepted.event_types || EXCLUDED.event_types
"""


class AuditProjection:
    name: str = "audit"
    tables: Sequence[str] = ("audit_accepted",)

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        grouped: dict[tuple[str, str], list[RecordedEvent]] = {}
        for event in events:
            decision = event.metadata.get("decision_id") or f"event-{event.event_id}"
            grouped.setdefault((event.stream_id, decision), []).append(event)
        rows = []
        for (journey_id, decision_id), decided in grouped.items():
            first = decided[0]
            meta = first.metadata
            rows.append(
                (
                    journey_id,
                    decision_id,
                    meta.get("decision_type"),
                    meta.get("actor_id", "unknown"),
                    meta.get("actor_role", "unknown"),
                    datetime.fromisoformat(str(first.data["occurred_at"])),
                    [e.type for e in decided],
                    first.global_position,
                )
            )
        await conn.executemany(_UPSERT, rows)
