"""Caseload: per journey, its stage, status, dose ledger and next due item, for each clinician.

It keeps each journey's folded domain state (`domain.evolve`), so its rows always equal the fold
of the events read; the columns are read off that state.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from domain import JourneyState, evolve, next_due, parse_event
from eventstore import RecordedEvent
from projections.runner import Conn

_LOAD = "SELECT journey_id, state FROM caseload WHERE journey_id = ANY($1::text[])"
_UPSERT = """
INSERT INTO caseload (journey_id, client_id, therapist_id, prescriber_id, clinic_id, stage,
                      status, closed_reason, doses_authorized, doses_used, next_due_kind,
                      next_due_at, version, state, updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::int[], $10::int[], $11::text[],
                     $12::timestamptz[], $13::int[], $14::jsonb[], $15::timestamptz[])
ON CONFLICT (journey_id) DO UPDATE SET
    therapist_id = EXCLUDED.therapist_id, prescriber_id = EXCLUDED.prescriber_id,
    stage = EXCLUDED.stage, status = EXCLUDED.status, closed_reason = EXCLUDED.closed_reason,
    doses_authorized = EXCLUDED.doses_authorized, doses_used = EXCLUDED.doses_used,
    next_due_kind = EXCLUDED.next_due_kind, next_due_at = EXCLUDED.next_due_at,
    version = EXCLUDED.version, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
"""


def _decode(raw: object) -> JourneyState:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return JourneyState.model_validate(data)


class CaseloadProjection:
    name: str = "caseload"
    tables: Sequence[str] = ("caseload",)

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        streams = sorted({e.stream_id for e in events})
        states: dict[str, JourneyState | None] = dict.fromkeys(streams)
        updated_at = {}
        for row in await conn.fetch(_LOAD, streams):
            states[row["journey_id"]] = _decode(row["state"])
        for event in events:
            states[event.stream_id] = evolve(states[event.stream_id], parse_event(event.data))
            updated_at[event.stream_id] = event.recorded_at
        rows = [(sid, s, updated_at[sid]) for sid, s in states.items() if s is not None]
        columns: list[list[object]] = [[] for _ in range(15)]
        for journey_id, state, at in rows:
            item = next_due(state)
            values = (
                journey_id,
                state.client_id,
                state.therapist_id,
                state.prescriber_id,
                state.clinic_id,
                state.stage.value,
                state.status.value,
                state.closed_reason.value if state.closed_reason else None,
                state.doses.authorized,
                state.doses.used,
                item.kind.value if item else None,
                item.at if item else None,
                state.version,
                state.model_dump(mode="json"),
                at,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        if rows:
            await conn.execute(_UPSERT, *columns)
