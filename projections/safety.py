"""Safety: the controlled-substance ledger and the adverse events, for the clinic's reports.

Three tables (migration 0065), every row naming its clinic:

- `safety_journeys`: per journey, whose it is (client, therapist, prescriber, clinic: from its
  `journey_started`, then each `clinician_reassigned`), the doses authorized
  (`medication_approved`, plus each `prescriber_follow_up_recorded`'s additional doses) and the
  doses started (each `dosing_session_started`: a started dose counts as used);
- `safety_sessions`: per dosing session, its status and the dose on record: the latest
  `dose_recorded`, or an amendment's corrected dose (`session_record_amended.dose`), with when
  its record was signed;
- `adverse_events`: one row per adverse event, reported at any time (`adverse_event_reported`,
  source "reported") or given at discharge (each of `dosing_session_completed.adverse_events`,
  source "at_discharge"), under the journey's current therapist and prescriber.

Rows record what the events say, as `domain.evolve` does; the ledger's arithmetic and what
counts as a dose given are `domain.ledger`'s, and `projections.safety_queries` (the tables'
reads) answers with the domain's own `SubstanceLedger`, so a test holds every journey's ledger
here equal to `domain.ledger.substance_ledger` of the folded events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain import events as ev
from domain.commands import DoseGiven
from domain.vocabulary import AdverseEventSeverity, Role, SessionStatus
from projections.log import LogEvent
from projections.runner import Conn


class SafetyProjectionError(ValueError):
    """An event of a journey or a session this read model has not seen start."""


@dataclass
class JourneyRow:
    journey_id: str
    clinic_id: str
    client_id: str
    therapist_id: str
    prescriber_id: str
    doses_authorized: int
    doses_started: int
    updated_at: datetime


@dataclass
class SessionRow:
    journey_id: str
    session_id: str
    clinic_id: str
    client_id: str
    status: str
    scheduled_at: datetime
    dose_number: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    dose_mg: Decimal | None = None
    route: str | None = None
    lot: str | None = None
    dispensed_mg: Decimal | None = None  # drawn from stock (`DoseGiven.dispensed`)
    wasted_mg: Decimal | None = None
    dose_recorded_at: datetime | None = None
    signed_at: datetime | None = None
    amendments: int = 0

    def record(self, dose: DoseGiven, at: datetime) -> None:
        self.dose_mg = dose.dose_mg
        self.route = dose.route.value
        self.lot = dose.lot
        self.dispensed_mg = dose.dispensed
        self.wasted_mg = dose.wasted_mg
        self.dose_recorded_at = at


@dataclass
class AdverseEventRow:
    journey_id: str
    global_position: int
    entry: int  # its place in the event's list (a report: 0)
    clinic_id: str
    client_id: str
    therapist_id: str
    prescriber_id: str
    session_id: str
    source: str  # "reported" or "at_discharge"
    recorded_at: datetime
    onset_at: datetime | None
    code: str
    severity: str
    seriousness: list[str]
    serious: bool
    outcome: str | None
    actor_id: str
    actor_role: str


# Each table's columns and their SQL types, in the order of its row's fields.
_JOURNEY_COLUMNS = {
    "journey_id": "text",
    "clinic_id": "text",
    "client_id": "text",
    "therapist_id": "text",
    "prescriber_id": "text",
    "doses_authorized": "int",
    "doses_started": "int",
    "updated_at": "timestamptz",
}
_SESSION_COLUMNS = {
    "journey_id": "text",
    "session_id": "text",
    "clinic_id": "text",
    "client_id": "text",
    "status": "text",
    "scheduled_at": "timestamptz",
    "dose_number": "int",
    "started_at": "timestamptz",
    "completed_at": "timestamptz",
    "dose_mg": "numeric",
    "route": "text",
    "lot": "text",
    "dispensed_mg": "numeric",
    "wasted_mg": "numeric",
    "dose_recorded_at": "timestamptz",
    "signed_at": "timestamptz",
    "amendments": "int",
}
_EVENT_COLUMNS = {
    "journey_id": "text",
    "global_position": "bigint",
    "entry": "int",
    "clinic_id": "text",
    "client_id": "text",
    "therapist_id": "text",
    "prescriber_id": "text",
    "session_id": "text",
    "source": "text",
    "recorded_at": "timestamptz",
    "onset_at": "timestamptz",
    "code": "text",
    "severity": "text",
    "seriousness": "text",  # a list: unnest cannot give one array per row, so joined by commas
    "serious": "bool",
    "outcome": "text",
    "actor_id": "text",
    "actor_role": "text",
}
for _row, _table in (
    (JourneyRow, _JOURNEY_COLUMNS),
    (SessionRow, _SESSION_COLUMNS),
    (AdverseEventRow, _EVENT_COLUMNS),
):
    if [f.name for f in fields(_row)] != list(_table):  # pragma: no cover
        raise TypeError(f"{_row.__name__}'s fields are not its table's columns")


def _insert(
    table: str,
    columns: dict[str, str],
    key: Sequence[str],
    *,
    update: bool,
    select: dict[str, str] | None = None,
) -> str:
    """One row per array element (`select`: a column made from its element otherwise than as
    it is); on a key already there, its other columns replaced (or, without `update`, the row
    kept as it is)."""
    names = ", ".join(columns)
    params = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(columns.values(), start=1))
    values = ", ".join((select or {}).get(c, c) for c in columns)
    on_conflict = "DO NOTHING"
    if update:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        on_conflict = f"DO UPDATE SET {sets}"
    return (
        f"INSERT INTO {table} ({names})\n"
        f"SELECT {values} FROM unnest({params}) AS u ({names})\n"
        f"ON CONFLICT ({', '.join(key)}) {on_conflict}"
    )


_UPSERT_JOURNEYS = _insert("safety_journeys", _JOURNEY_COLUMNS, ["journey_id"], update=True)
_UPSERT_SESSIONS = _insert(
    "safety_sessions", _SESSION_COLUMNS, ["journey_id", "session_id"], update=True
)
_INSERT_EVENTS = _insert(
    "adverse_events",
    _EVENT_COLUMNS,
    ["journey_id", "global_position", "entry"],
    update=False,
    select={"seriousness": "string_to_array(seriousness, ',')"},
)
# A reassigned journey's adverse events are its new clinicians' (reports narrow by therapist).
_REASSIGN_EVENTS = """
UPDATE adverse_events SET therapist_id = $2, prescriber_id = $3
 WHERE journey_id = $1 AND (therapist_id, prescriber_id) IS DISTINCT FROM ($2, $3)
"""
_LOAD_JOURNEYS = f"""
SELECT {", ".join(_JOURNEY_COLUMNS)} FROM safety_journeys WHERE journey_id = ANY($1::text[])
"""
_LOAD_SESSIONS = f"""
SELECT {", ".join(f"s.{c}" for c in _SESSION_COLUMNS)}
  FROM safety_sessions s
  JOIN unnest($1::text[], $2::text[]) AS k (journey_id, session_id)
    ON s.journey_id = k.journey_id AND s.session_id = k.session_id
"""

# The events this read model reads; the others change none of its rows.
TYPES = frozenset(
    {
        "journey_started",
        "medication_approved",
        "prescriber_follow_up_recorded",
        "dosing_session_scheduled",
        "dosing_session_held",
        "dosing_session_started",
        "dosing_session_completed",
        "dosing_session_cancelled",
        "dose_recorded",
        "session_record_signed",
        "session_record_amended",
        "adverse_event_reported",
        "clinician_reassigned",
    }
)


def _columns(rows: Sequence[Any], columns: dict[str, str]) -> list[list[Any]]:
    """The rows as one list per column, as the `unnest` of `_insert` takes them."""
    out: list[list[Any]] = [[] for _ in columns]
    for row in rows:
        for column, value in zip(out, astuple(row), strict=True):
            column.append(",".join(value) if isinstance(value, list) else value)
    return out


class _Batch:
    """The rows a batch changes, loaded before it is applied and written after."""

    def __init__(
        self, journeys: dict[str, JourneyRow], sessions: dict[tuple[str, str], SessionRow]
    ):
        self.journeys = journeys
        self.sessions = sessions
        self.adverse_events: list[AdverseEventRow] = []
        self.changed_journeys: set[str] = set()
        self.changed_sessions: set[tuple[str, str]] = set()
        self.reassigned: set[str] = set()  # journeys whose adverse events change hands

    def journey(self, journey_id: str) -> JourneyRow:
        try:
            row = self.journeys[journey_id]
        except KeyError:
            raise SafetyProjectionError(f"journey {journey_id} has not started") from None
        self.changed_journeys.add(journey_id)
        return row

    def session(self, journey_id: str, session_id: str) -> SessionRow:
        try:
            row = self.sessions[(journey_id, session_id)]
        except KeyError:
            raise SafetyProjectionError(
                f"no dosing session {session_id} in journey {journey_id}"
            ) from None
        self.changed_sessions.add((journey_id, session_id))
        return row

    def adverse_event(self, record: LogEvent, entry: int, session_id: str, **values: Any) -> None:
        journey = self.journeys[record.stream_id]
        event = record.event
        self.adverse_events.append(
            AdverseEventRow(
                journey_id=journey.journey_id,
                global_position=record.global_position,
                entry=entry,
                clinic_id=journey.clinic_id,
                client_id=journey.client_id,
                therapist_id=journey.therapist_id,
                prescriber_id=journey.prescriber_id,
                session_id=session_id,
                recorded_at=event.occurred_at,
                actor_id=event.actor.id,
                actor_role=event.actor.role.value,
                **values,
            )
        )

    def apply(self, record: LogEvent) -> None:
        """What one event changes (what it says happened: no rule is judged here)."""
        event = record.event
        jid = record.stream_id
        at = event.occurred_at
        match event:
            case ev.JourneyStarted():
                self.journeys[jid] = JourneyRow(
                    journey_id=jid,
                    clinic_id=event.clinic_id,
                    client_id=event.client_id,
                    therapist_id=event.therapist_id,
                    prescriber_id=event.prescriber_id,
                    doses_authorized=0,
                    doses_started=0,
                    updated_at=at,
                )
                self.changed_journeys.add(jid)
                return
            case ev.MedicationApproved(doses_authorized=doses):
                self.journey(jid).doses_authorized += doses
            case ev.PrescriberFollowUpRecorded(additional_doses=doses):
                self.journey(jid).doses_authorized += doses
            case ev.DosingSessionScheduled(session_id=sid):
                journey = self.journey(jid)
                self.sessions[(jid, sid)] = SessionRow(
                    journey_id=jid,
                    session_id=sid,
                    clinic_id=journey.clinic_id,
                    client_id=journey.client_id,
                    status=SessionStatus.SCHEDULED.value,
                    scheduled_at=event.scheduled_at,
                )
                self.changed_sessions.add((jid, sid))
            case ev.DosingSessionHeld(session_id=sid):
                self.session(jid, sid).status = SessionStatus.HELD.value
            case ev.DosingSessionStarted(session_id=sid, dose_number=number):
                self.journey(jid).doses_started += 1
                session = self.session(jid, sid)
                session.status = SessionStatus.IN_PROGRESS.value
                session.dose_number = number
                session.started_at = at
            case ev.DosingSessionCompleted(session_id=sid, adverse_events=reported):
                session = self.session(jid, sid)
                session.status = SessionStatus.COMPLETED.value
                session.completed_at = at
                self.journey(jid)
                for entry, adverse in enumerate(reported):
                    self.adverse_event(
                        record,
                        entry,
                        sid,
                        source="at_discharge",
                        onset_at=None,
                        code=adverse.code,
                        severity=adverse.severity.value,
                        seriousness=[],
                        serious=adverse.severity is AdverseEventSeverity.SERIOUS,
                        outcome=None,
                    )
            case ev.DosingSessionCancelled(session_id=sid):
                self.session(jid, sid).status = SessionStatus.CANCELLED.value
            case ev.DoseRecorded(session_id=sid, dose=dose):
                self.session(jid, sid).record(dose, at)
            case ev.SessionRecordSigned(session_id=sid):
                self.session(jid, sid).signed_at = at
            case ev.SessionRecordAmended(session_id=sid, dose=dose):
                session = self.session(jid, sid)
                session.amendments += 1
                if dose is not None:
                    session.record(dose, at)
            case ev.ClinicianReassigned(role=role, clinician_id=clinician_id):
                journey = self.journey(jid)
                if role is Role.THERAPIST:
                    journey.therapist_id = clinician_id
                else:
                    journey.prescriber_id = clinician_id
                self.reassigned.add(jid)
            case ev.AdverseEventReported(session_id=sid):
                self.session(jid, sid)
                self.journey(jid)
                self.adverse_event(
                    record,
                    0,
                    sid,
                    source="reported",
                    onset_at=event.onset_at,
                    code=event.code,
                    severity=event.severity.value,
                    seriousness=[s.value for s in event.seriousness],
                    serious=event.serious,
                    outcome=event.outcome.value,
                )
            case _:
                return
        self.journey(jid).updated_at = at


class SafetyProjection:
    name: str = "safety"
    tables: Sequence[str] = ("safety_journeys", "safety_sessions", "adverse_events")

    def prepare(self, events: Sequence[LogEvent]) -> None:
        for event in events:
            if event.type in TYPES:
                event.event  # noqa: B018 - parsed once, kept on the event

    def forget(self) -> None:
        pass

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        mine = [e for e in events if e.type in TYPES]
        if not mine:
            return
        batch = await self._load(conn, mine)
        for record in mine:
            batch.apply(record)
        journeys = [batch.journeys[j] for j in sorted(batch.changed_journeys)]
        sessions = [batch.sessions[k] for k in sorted(batch.changed_sessions)]
        if journeys:
            await conn.execute(_UPSERT_JOURNEYS, *_columns(journeys, _JOURNEY_COLUMNS))
        if sessions:
            await conn.execute(_UPSERT_SESSIONS, *_columns(sessions, _SESSION_COLUMNS))
        if batch.adverse_events:
            await conn.execute(_INSERT_EVENTS, *_columns(batch.adverse_events, _EVENT_COLUMNS))
        for jid in sorted(batch.reassigned):
            journey = batch.journeys[jid]
            await conn.execute(_REASSIGN_EVENTS, jid, journey.therapist_id, journey.prescriber_id)

    async def _load(self, conn: Conn, events: Sequence[LogEvent]) -> _Batch:
        """The stored rows of the journeys and sessions the events name."""
        journey_ids = sorted({e.stream_id for e in events})
        keys = sorted(
            {
                (e.stream_id, sid)
                for e in events
                if isinstance(sid := getattr(e.event, "session_id", None), str)
            }
        )
        journeys = {
            r["journey_id"]: JourneyRow(**dict(r))
            for r in await conn.fetch(_LOAD_JOURNEYS, journey_ids)
        }
        sessions = {}
        if keys:
            rows = await conn.fetch(_LOAD_SESSIONS, [k[0] for k in keys], [k[1] for k in keys])
            sessions = {(r["journey_id"], r["session_id"]): SessionRow(**dict(r)) for r in rows}
        return _Batch(journeys, sessions)
