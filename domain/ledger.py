"""A journey's dosing sessions as records, and its controlled-substance ledger: authorized,
dispensed, administered and wasted, and what does not add up (what an inspector asks for)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.commands import DoseGiven
from domain.state import DosingSession, JourneyState, MonitoringReading
from domain.vocabulary import SessionMode, SessionStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionRecord(_Frozen):
    """One dosing session's monitoring record as clinicians and inspectors read it."""

    session_id: str
    dose_number: int | None
    status: SessionStatus
    mode: SessionMode
    scheduled_at: AwareDatetime
    started_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    readings: list[MonitoringReading]
    dose: DoseGiven | None
    discharge_exception: str | None
    signed_at: AwareDatetime | None
    record_due_at: AwareDatetime | None  # sign by then (completed sessions)
    amendments: int
    adverse_events: int
    serious_adverse_events: int


class DoseTotals(_Frozen):
    """What some doses add up to; `unaccounted_mg` is dispensed, neither administered nor
    witnessed as wasted."""

    dispensed_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal


def dose_totals(doses: Iterable[DoseGiven]) -> DoseTotals:
    given = list(doses)
    dispensed = sum((d.dispensed for d in given), Decimal(0))
    administered = sum((d.dose_mg for d in given), Decimal(0))
    wasted = sum((d.wasted_mg for d in given), Decimal(0))
    return DoseTotals(
        dispensed_mg=dispensed,
        administered_mg=administered,
        wasted_mg=wasted,
        unaccounted_mg=dispensed - administered - wasted,
    )


class SubstanceLedger(_Frozen):
    doses_authorized: int
    doses_started: int  # sessions whose dose was started (the dose count used)
    doses_recorded: int  # of those, with the dose given on record
    dispensed_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal  # dispensed, neither administered nor witnessed as wasted
    sessions_without_dose_record: list[str]

    @property
    def reconciled(self) -> bool:
        return self.unaccounted_mg == 0 and not self.sessions_without_dose_record


# A session whose dose was given: started, and in progress or completed (a held or cancelled
# one used none). Read models select by these statuses.
DOSE_GIVEN_STATUSES: frozenset[SessionStatus] = frozenset(
    {SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED}
)


def _given(session: DosingSession) -> bool:
    return session.started_at is not None and session.status in DOSE_GIVEN_STATUSES


def session_records(state: JourneyState) -> list[SessionRecord]:
    days = timedelta(days=state.protocol.monitoring_record_days)
    return [
        SessionRecord(
            session_id=s.session_id,
            dose_number=s.dose_number,
            status=s.status,
            mode=s.mode,
            scheduled_at=s.scheduled_at,
            started_at=s.started_at,
            completed_at=s.completed_at,
            readings=list(s.readings),
            dose=s.dose,
            discharge_exception=s.discharge_exception,
            signed_at=s.record_signed_at,
            record_due_at=s.completed_at + days if s.completed_at is not None else None,
            amendments=s.amendments,
            adverse_events=s.adverse_events,
            serious_adverse_events=s.serious_adverse_events,
        )
        for s in sorted(state.sessions.values(), key=lambda s: (s.scheduled_at, s.session_id))
    ]


def substance_ledger(state: JourneyState) -> SubstanceLedger:
    given = [s for s in state.sessions.values() if _given(s)]
    doses = [s.dose for s in given if s.dose is not None]
    return SubstanceLedger(
        doses_authorized=state.doses.authorized,
        doses_started=state.doses.used,
        doses_recorded=len(doses),
        **dose_totals(doses).model_dump(),
        sessions_without_dose_record=sorted(s.session_id for s in given if s.dose is None),
    )
