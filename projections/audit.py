"""Audit log of accepted decisions: who decided what, when, on which journey, with what effect.

Rejected decisions are not events; the API records them in `audit_rejected`. The `audit` view
shows both. Each row names its clinic: the one its journey started in (the stream's first event,
`journey_started`, is stored before any later event of the stream), so `GET /audit` shows a
clinic its own rows only.
"""

from __future__ import annotations

from collections.abc import Sequence

from projections.log import LogEvent
from projections.runner import Conn

# A decision's event types joined by the unit separator, chr(31): event types are printable
# (EventStore.append checks), so it cannot occur in one.
_SEPARATOR = chr(31)
_UPSERT = """
INSERT INTO audit_accepted (journey_id, decision_id, decision_type, actor_id, actor_role,
                            decided_at, event_types, first_position, clinic_id)
SELECT journey_id, decision_id, decision_type, actor_id, actor_role, decided_at::timestamptz,
       string_to_array(event_types, chr(31)), first_position,
       (SELECT e.data->>'clinic_id' FROM events e
         WHERE e.stream_id = u.journey_id AND e.stream_version = 1
           AND e.event_type = 'journey_started')
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::bigint[])
       AS u (journey_id, decision_id, decision_type, actor_id, actor_role, decided_at,
             event_types, first_position)
ON CONFLICT (journey_id, decision_id) DO UPDATE
   SET event_types = audit_accepted.event_types || EXCLUDED.event_types
"""


class AuditProjection:
    name: str = "audit"
    tables: Sequence[str] = ("audit_accepted",)

    def prepare(self, events: Sequence[LogEvent]) -> None:
        pass

    def forget(self) -> None:
        pass

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        grouped: dict[tuple[str, str], list[LogEvent]] = {}
        for event in events:
            key = (event.stream_id, event.decision_id)
            if (decided := grouped.get(key)) is None:
                grouped[key] = [event]
            else:
                decided.append(event)
        columns: list[list[object]] = [[] for _ in range(8)]
        for (journey_id, decision_id), decided in grouped.items():
            first = decided[0]
            values = (
                journey_id,
                decision_id,
                first.decision_type,
                first.actor_id,
                first.actor_role,
                first.occurred_at,
                _SEPARATOR.join(e.type for e in decided),
                first.global_position,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        if grouped:
            await conn.execute(_UPSERT, *columns)
