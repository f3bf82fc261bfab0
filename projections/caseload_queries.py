"""The caseload read model's reads: what `GET /caseload` lists, the finished courses the
follow-up sweep starts check-ins for (completed or discharged after a dose), the open journeys
of the daily digest and of the reconciler. The table's columns are
`projections.caseload.COLUMNS`; nothing outside `projections/` queries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from database.pgtypes import Connection, Pool
from domain import ClosedReason, JourneyState, Role, Status
from domain.followups import FOLLOWED_UP_REASONS
from projections.caseload import CaseloadEntry, decode_state

# $1: clinic, $2: clinician (NULL: everyone's), $3: include closed journeys.
_ENTRIES = f"""
SELECT {", ".join(CaseloadEntry.model_fields)}
  FROM caseload
 WHERE clinic_id = $1
   AND ($2::text IS NULL OR {{whose}})
   AND ($3 OR status <> 'closed')
 ORDER BY next_due_at NULLS LAST, client_id
"""
_ENTRIES_OF = {
    Role.THERAPIST: _ENTRIES.format(whose="therapist_id = $2"),
    Role.PRESCRIBER: _ENTRIES.format(whose="prescriber_id = $2"),
}
_ENTRIES_OF_EITHER = _ENTRIES.format(whose="therapist_id = $2 OR prescriber_id = $2")


async def caseload_entries(
    db: Pool | Connection,
    clinic_id: str,
    clinician_id: str | None,
    *,
    as_role: Role,
    include_closed: bool,
) -> list[CaseloadEntry]:
    """The clinic's journeys, soonest due first: with `clinician_id`, those where that clinician
    is the therapist (`as_role` therapist), the prescriber (prescriber), or either (any other
    role); closed ones only with `include_closed`."""
    query = _ENTRIES_OF.get(as_role, _ENTRIES_OF_EITHER)
    rows = await db.fetch(query, clinic_id, clinician_id, include_closed)
    return [CaseloadEntry.model_validate(dict(r)) for r in rows]


@dataclass(frozen=True)
class FinishedCourse:
    """A journey closed `completed` or `discharged` after at least one dose, that is its client's
    latest, with what the follow-ups need."""

    journey_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    closed_reason: ClosedReason
    closed_at: datetime  # when the course ended: the check-ins' and reminders' time zero
    follow_up_check_in_weeks: tuple[int, ...]
    maintenance_interval_days: int


# Journeys that closed for one of `FOLLOWED_UP_REASONS` ($1) after a dose was given, and are
# their client's latest (a client who started again gets no more follow-ups for the course
# before). Erased clients get nothing more. Client ids are per clinic: a client is (clinic,
# client id), so one clinic's journey never stands for another's client.
_FINISHED = """
WITH latest AS (
    SELECT DISTINCT ON (clinic_id, client_id)
           journey_id, client_id, therapist_id, clinic_id, status, closed_reason, closed_at,
           doses_used, follow_up_check_in_weeks, maintenance_interval_days
      FROM caseload
     WHERE (clinic_id, client_id) IN (
         SELECT clinic_id, client_id FROM caseload
          WHERE status = 'closed' AND closed_reason = ANY($1::text[]) AND doses_used > 0
     )
     ORDER BY clinic_id, client_id, started_at DESC, journey_id DESC
)
SELECT journey_id, client_id, therapist_id, clinic_id, closed_reason, closed_at,
       follow_up_check_in_weeks, maintenance_interval_days
  FROM latest
 WHERE status = 'closed' AND closed_reason = ANY($1::text[]) AND doses_used > 0
   AND NOT EXISTS (
       SELECT 1 FROM clients e
        WHERE e.clinic_id = latest.clinic_id AND e.client_id = latest.client_id
          AND e.erased_at IS NOT NULL
   )
 ORDER BY journey_id
"""


async def finished_courses(db: Pool | Connection) -> list[FinishedCourse]:
    """Every client's latest journey if it closed `completed` or `discharged` after at least
    one dose (clients not erased): the courses the check-ins and maintenance reminders follow."""
    reasons = [reason.value for reason in FOLLOWED_UP_REASONS]
    return [
        FinishedCourse(
            journey_id=r["journey_id"],
            client_id=r["client_id"],
            therapist_id=r["therapist_id"],
            clinic_id=r["clinic_id"],
            closed_reason=ClosedReason(r["closed_reason"]),
            closed_at=r["closed_at"],
            follow_up_check_in_weeks=tuple(r["follow_up_check_in_weeks"]),
            maintenance_interval_days=r["maintenance_interval_days"],
        )
        for r in await db.fetch(_FINISHED, reasons)
    ]


@dataclass(frozen=True)
class OpenJourney:
    """A journey not closed, with its folded state (what is due, overdue, held)."""

    journey_id: str
    client_id: str
    therapist_id: str
    prescriber_id: str
    clinic_id: str
    status: Status
    state: JourneyState


_OPEN = """
SELECT journey_id, client_id, therapist_id, prescriber_id, clinic_id, status, state::text
  FROM caseload WHERE status <> 'closed' ORDER BY journey_id
"""


async def open_journeys(db: Pool | Connection) -> list[OpenJourney]:
    """Every open journey of every clinic, by journey id."""
    return [
        OpenJourney(
            journey_id=r["journey_id"],
            client_id=r["client_id"],
            therapist_id=r["therapist_id"],
            prescriber_id=r["prescriber_id"],
            clinic_id=r["clinic_id"],
            status=Status(r["status"]),
            state=decode_state(r["state"]),
        )
        for r in await db.fetch(_OPEN)
    ]


_STATES = "SELECT journey_id, state::text FROM caseload WHERE journey_id = ANY($1::text[])"


async def caseload_states(db: Pool | Connection, journey_ids: list[str]) -> dict[str, JourneyState]:
    """The folded states of these journeys, as the caseload holds them (what a reader asks
    `domain.is_overdue` of)."""
    rows = await db.fetch(_STATES, journey_ids)
    return {r["journey_id"]: decode_state(r["state"]) for r in rows}


@dataclass(frozen=True)
class OpenJourneyRef:
    journey_id: str
    client_id: str
    clinic_id: str


_OPEN_PAGE = """
SELECT journey_id, client_id, clinic_id FROM caseload
 WHERE status <> 'closed' AND journey_id > $1
 ORDER BY journey_id
 LIMIT $2
"""


async def open_journeys_after(
    db: Pool | Connection, after: str, limit: int
) -> list[OpenJourneyRef]:
    """A page of open journeys: up to `limit` with ids after `after` ("" for the first), by id;
    ids only (the reconciler's sweep)."""
    return [
        OpenJourneyRef(
            journey_id=r["journey_id"], client_id=r["client_id"], clinic_id=r["clinic_id"]
        )
        for r in await db.fetch(_OPEN_PAGE, after, limit)
    ]
