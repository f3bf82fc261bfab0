"""Caseload: per journey, its stage, status, dose ledger and next due item, for each clinician.

It keeps each journey's folded domain state (`domain.evolve`), so its rows always equal the fold
of the events read; the columns are read off that state.

Folded states stay in memory between batches, keyed by journey with their version. Each batch
checks the stored versions of the journeys it touches and decodes a stored state only when the
cached one is missing or differs (a rolled-back batch, another process's runner, a rebuild), so
the cache can be stale but is never trusted when it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain import JourneyState, evolve, next_due
from projections.log import LogEvent
from projections.runner import Conn

# The stored version of each journey, and its state only where the cached version differs.
_LOAD = """
SELECT c.journey_id, c.version,
       CASE WHEN c.version IS DISTINCT FROM k.version THEN c.state::text END AS state
  FROM unnest($1::text[], $2::int[]) AS k (journey_id, version)
  JOIN caseload c ON c.journey_id = k.journey_id
"""
_UPSERT = """
INSERT INTO caseload (journey_id, client_id, therapist_id, prescriber_id, clinic_id, stage,
                      status, closed_reason, doses_authorized, doses_used, next_due_kind,
                      next_due_at, version, state, updated_at)
SELECT journey_id, client_id, therapist_id, prescriber_id, clinic_id, stage, status,
       closed_reason, doses_authorized, doses_used, next_due_kind, next_due_at, version,
       state::jsonb, updated_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::int[], $10::int[], $11::text[],
              $12::timestamptz[], $13::int[], $14::text[], $15::timestamptz[])
       AS u (journey_id, client_id, therapist_id, prescriber_id, clinic_id, stage, status,
             closed_reason, doses_authorized, doses_used, next_due_kind, next_due_at, version,
             state, updated_at)
ON CONFLICT (journey_id) DO UPDATE SET
    therapist_id = EXCLUDED.therapist_id, prescriber_id = EXCLUDED.prescriber_id,
    stage = EXCLUDED.stage, status = EXCLUDED.status, closed_reason = EXCLUDED.closed_reason,
    doses_authorized = EXCLUDED.doses_authorized, doses_used = EXCLUDED.doses_used,
    next_due_kind = EXCLUDED.next_due_kind, next_due_at = EXCLUDED.next_due_at,
    version = EXCLUDED.version, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
"""

MAX_CACHED = 5000  # states (~20 kB each for a completed journey); closed journeys are not kept


def decode_state(text: str) -> JourneyState:
    return JourneyState.model_validate_json(text)


class CaseloadProjection:
    name: str = "caseload"
    tables: Sequence[str] = ("caseload",)

    def __init__(self, *, max_cached: int = MAX_CACHED) -> None:
        self._states: dict[str, JourneyState] = {}  # least recently written first
        self._max_cached = max_cached

    def prepare(self, events: Sequence[LogEvent]) -> None:
        for event in events:
            event.event  # noqa: B018 - parsed once, kept on the event

    def forget(self) -> None:
        self._states.clear()

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        updated_at: dict[str, datetime] = {}
        for event in events:
            updated_at[event.stream_id] = event.recorded_at
        states = await self._load(conn, list(updated_at))
        for event in events:
            states[event.stream_id] = evolve(states.get(event.stream_id), event.event)
        columns: list[list[object]] = [[] for _ in range(15)]
        cache = self._states
        for journey_id, at in updated_at.items():
            state = states[journey_id]
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
                state.model_dump_json(),
                at,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
            # Cached only once written; kept in order of writing, closed journeys dropped.
            cache.pop(journey_id, None)
            if not state.is_closed:
                cache[journey_id] = state
        while len(cache) > self._max_cached:
            del cache[next(iter(cache))]
        if updated_at:
            await conn.execute(_UPSERT, *columns)

    async def _load(self, conn: Conn, journeys: list[str]) -> dict[str, JourneyState]:
        """The journeys' current states: cached ones whose version is the stored one, the others
        decoded from the table (absent: not started yet)."""
        cache = self._states
        cached = [cache[j].version if j in cache else None for j in journeys]
        states: dict[str, JourneyState] = {}
        for journey_id, version, text in await conn.fetch(_LOAD, journeys, cached):
            if text is not None:
                states[journey_id] = decode_state(text)
            elif (state := cache.get(journey_id)) is not None and state.version == version:
                states[journey_id] = state
        return states
