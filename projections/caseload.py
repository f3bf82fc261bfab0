"""Caseload: per journey, its stage, status, dose ledger and next due item, for each clinician.

Each row is the journey as the domain's view shows it (`CaseloadEntry`, made from
`domain.view.JourneyView` by `CASELOAD_SHAPE`; `GET /caseload` lists these), then what the
follow-ups need as columns of their own (when the journey started and closed, its protocol's
follow-up weeks and maintenance interval), and the journey's folded domain state (`state`,
`domain.evolve`), so its rows always equal the fold of the events read. Its reads are in
`projections.caseload_queries`: nothing else queries the table.

Folded states stay in memory between batches, keyed by journey with their version. Each batch
checks the stored versions of the journeys it touches and decodes a stored state only when the
cached one is missing or differs (a rolled-back batch, another process's runner, a rebuild), so
the cache can be stale but is never trusted when it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain import DueItem, DueKind, JourneyState, evolve
from domain.followups import closed_at
from domain.state import DoseLedger
from domain.view import ShownAs, ViewShape, journey_view, shaped_from_view, view_values
from projections.log import LogEvent
from projections.runner import Conn


def _next_due(items: list[DueItem]) -> dict[str, Any]:
    first = items[0] if items else None
    return {
        "next_due_kind": first.kind if first else None,
        "next_due_at": first.at if first else None,
    }


def _doses(doses: DoseLedger) -> dict[str, Any]:
    return {"doses_authorized": doses.authorized, "doses_used": doses.used}


# The domain's view as the caseload keeps it (and `GET /caseload` lists it): every field of the
# view as it is, but for these. A field the view gains is a column here too (a migration), or
# is left out below, with why.
CASELOAD_SHAPE: ViewShape = {
    "doses": ShownAs({"doses_authorized": int, "doses_used": int}, _doses),
    "due": ShownAs({"next_due_kind": DueKind | None, "next_due_at": datetime | None}, _next_due),
    "overdue": None,  # depends on when it is read: readers ask `domain.is_overdue` of `state`
    "last_decision": None,  # in `state`; `GET /journeys/{client_id}` shows it
    "protocol_version": None,  # in `state`
    # In `state`; `GET /journeys/{client_id}` shows them.
    "safety_hold": None,
    "stopping": None,
    "visits": None,
    "sessions": None,
}


# A journey as the caseload lists it, as of `updated_at` (the last event read). No docstring:
# it would become the description of `GET /caseload`'s schema.
@shaped_from_view(CASELOAD_SHAPE, then={"updated_at": datetime})
class CaseloadEntry(BaseModel):
    model_config = ConfigDict(frozen=True)


def _state_columns(state: JourneyState) -> dict[str, Any]:
    """The columns that are not the view's: the folded state and what the follow-ups read."""
    weeks = state.protocol.follow_up_check_in_weeks
    return {
        "state": state.model_dump_json(),
        "started_at": state.started_at,
        "closed_at": closed_at(state),
        "follow_up_check_in_weeks": "{" + ",".join(str(w) for w in weeks) + "}",
        "maintenance_interval_days": state.protocol.maintenance_interval_days,
    }


# Every column of the table and its type: `CaseloadEntry`'s, then `_state_columns`'.
COLUMNS: dict[str, str] = {
    "journey_id": "text",
    "client_id": "text",
    "therapist_id": "text",
    "prescriber_id": "text",
    "clinic_id": "text",
    "stage": "text",
    "status": "text",
    "closed_reason": "text",
    "doses_authorized": "int",
    "doses_used": "int",
    "next_due_kind": "text",
    "next_due_at": "timestamptz",
    "version": "int",
    "updated_at": "timestamptz",
    "state": "jsonb",
    "started_at": "timestamptz",
    "closed_at": "timestamptz",
    "follow_up_check_in_weeks": "int[]",
    "maintenance_interval_days": "int",
}
STATE_COLUMNS = (
    "state",
    "started_at",
    "closed_at",
    "follow_up_check_in_weeks",
    "maintenance_interval_days",
)
if list(COLUMNS) != [*CaseloadEntry.model_fields, *STATE_COLUMNS]:  # pragma: no cover
    raise TypeError(
        "the caseload's columns are not CaseloadEntry's fields and its state columns: "
        f"{sorted(set(CaseloadEntry.model_fields) ^ (set(COLUMNS) - set(STATE_COLUMNS)))}; "
        "add a column (and a migration), or leave the view's field out in CASELOAD_SHAPE"
    )


def _upsert() -> str:
    """One row per journey, from one array per column; jsonb and arrays passed as text."""
    as_text = {name for name, kind in COLUMNS.items() if kind == "jsonb" or kind.endswith("[]")}
    names = ", ".join(COLUMNS)
    params = ", ".join(
        f"${n}::{'text' if name in as_text else kind}[]"
        for n, (name, kind) in enumerate(COLUMNS.items(), start=1)
    )
    select = ", ".join(
        f"{name}::{kind}" if name in as_text else name for name, kind in COLUMNS.items()
    )
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in COLUMNS if name != "journey_id")
    return (
        f"INSERT INTO caseload ({names})\n"
        f"SELECT {select}\n  FROM unnest({params}) AS u ({names})\n"
        f"ON CONFLICT (journey_id) DO UPDATE SET {updates}"
    )


_UPSERT = _upsert()
# The stored version of each journey, and its state only where the cached version differs.
_LOAD = """
SELECT c.journey_id, c.version,
       CASE WHEN c.version IS DISTINCT FROM k.version THEN c.state::text END AS state
  FROM unnest($1::text[], $2::int[]) AS k (journey_id, version)
  JOIN caseload c ON c.journey_id = k.journey_id
"""


def row(stream_id: str, state: JourneyState, updated_at: datetime) -> dict[str, Any]:
    """The row of the journey whose events are stream `stream_id` (its key: the journey's id),
    column by column, as `_UPSERT` takes it."""
    entry = view_values(journey_view(state), CASELOAD_SHAPE)
    entry["journey_id"] = stream_id
    entry["updated_at"] = updated_at
    values = entry | _state_columns(state)
    return {
        name: value.value if isinstance(value, Enum) else value for name, value in values.items()
    }


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
        columns: list[list[object]] = [[] for _ in COLUMNS]
        cache = self._states
        for journey_id, at in updated_at.items():
            state = states[journey_id]
            values = row(journey_id, state, at)
            for column, name in zip(columns, COLUMNS, strict=True):
                column.append(values[name])
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
