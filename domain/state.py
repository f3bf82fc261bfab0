"""A journey's state: the fold of its events. Frozen; `evolve` returns a new one."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.commands import DoseGiven, Vitals
from domain.instruments import Score
from domain.protocol import Protocol
from domain.vocabulary import (
    Actor,
    ClosedReason,
    Eligibility,
    ObservedLevel,
    SafetyHoldSource,
    SessionMode,
    SessionStatus,
    Stage,
    Status,
    VisitKind,
    VisitStatus,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DoseLedger(_Frozen):
    authorized: int = 0
    used: int = 0

    @property
    def remaining(self) -> int:
        return self.authorized - self.used


class Consent(_Frozen):
    version: str
    signed_at: AwareDatetime
    recorded_by: Actor


class Prescription(_Frozen):
    approved_at: AwareDatetime
    expires_at: AwareDatetime
    follow_up_due_at: AwareDatetime
    follow_up_done: bool = False


class SafetyHold(_Frozen):
    source: SafetyHoldSource
    reason: str
    raised_at: AwareDatetime
    raised_by: Actor


class MonitoringReading(_Frozen):
    at: AwareDatetime
    minutes_after_dose: int | None  # None: before the dose
    vitals: Vitals
    sedation: ObservedLevel | None = None
    dissociation: ObservedLevel | None = None


class DosingSession(_Frozen):
    session_id: str
    scheduled_at: AwareDatetime
    scheduled_on: AwareDatetime  # when the decision to schedule was made
    mode: SessionMode
    chaperone_id: str | None = None
    status: SessionStatus = SessionStatus.SCHEDULED
    dose_number: int | None = None
    started_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    check_in_anchor: AwareDatetime | None = None  # last chaperone check-in (or missed one)
    check_in_missed: bool = False  # the last check-in due was missed, none came since
    # The session's monitoring record
    readings: tuple[MonitoringReading, ...] = ()
    dose: DoseGiven | None = None
    discharge_exception: str | None = None  # the prescriber's reason code
    record_signed_at: AwareDatetime | None = None
    amendments: int = 0
    adverse_events: int = 0
    serious_adverse_events: int = 0

    def during_reading_after(self, minutes: int) -> MonitoringReading | None:
        """The first monitoring check at least `minutes` after the dose."""
        for reading in self.readings:
            if reading.minutes_after_dose is not None and reading.minutes_after_dose >= minutes:
                return reading
        return None

    @property
    def last_observation(self) -> MonitoringReading | None:
        observed = [r for r in self.readings if r.sedation is not None]
        return observed[-1] if observed else None


class Visit(_Frozen):
    visit_id: str
    kind: VisitKind
    scheduled_at: AwareDatetime
    scheduled_on: AwareDatetime  # when the decision to schedule was made
    status: VisitStatus = VisitStatus.SCHEDULED


class Stopping(_Frozen):
    """A course stopping after a dose: it closes with `reason` at the discharge follow-up."""

    reason: ClosedReason
    detail: str | None
    since: AwareDatetime
    follow_up_due_at: AwareDatetime


class LastDecision(_Frozen):
    type: str
    decision_id: str | None
    actor: Actor
    at: AwareDatetime


class JourneyState(_Frozen):
    journey_id: str
    client_id: str
    therapist_id: str
    prescriber_id: str
    clinic_id: str
    protocol: Protocol
    started_at: AwareDatetime
    version: int = 0  # events folded; equals the stream's version in the event store

    stage: Stage = Stage.CONSULTATION
    closed_reason: ClosedReason | None = None
    paused: bool = False
    safety_hold: SafetyHold | None = None

    baseline_scores: dict[str, Score] = {}
    latest_scores: dict[str, Score] = {}
    consent: Consent | None = None
    eligibility: Eligibility | None = None

    referral_sent_at: AwareDatetime | None = None
    referral_sla_due_at: AwareDatetime | None = None
    referral_acknowledged: bool = False
    intake_at: AwareDatetime | None = None
    intake_scheduled_on: AwareDatetime | None = None

    prescription: Prescription | None = None
    doses: DoseLedger = DoseLedger()
    preparation_sessions: int = 0
    sessions: dict[str, DosingSession] = {}
    last_dose_started_at: AwareDatetime | None = None
    doses_since_integration: int = 0
    first_unintegrated_at: AwareDatetime | None = None
    first_unintegrated_ref: str | None = None
    visits: dict[str, Visit] = {}
    stopping: Stopping | None = None

    last_activity_at: AwareDatetime
    last_nudge_at: AwareDatetime | None = None
    fired: frozenset[str] = frozenset()
    last_decision: LastDecision | None = None

    @property
    def status(self) -> Status:
        if self.closed_reason is not None:
            return Status.CLOSED
        if self.safety_hold is not None:
            return Status.SAFETY_HOLD
        if self.paused:
            return Status.PAUSED
        return Status.ACTIVE

    @property
    def is_closed(self) -> bool:
        return self.closed_reason is not None

    def session_in_progress(self) -> DosingSession | None:
        for session in self.sessions.values():
            if session.status is SessionStatus.IN_PROGRESS:
                return session
        return None

    def open_sessions(self) -> list[DosingSession]:
        """Sessions scheduled or held: planned but no dose given yet."""
        return [
            s
            for s in self.sessions.values()
            if s.status in (SessionStatus.SCHEDULED, SessionStatus.HELD)
        ]

    def unsigned_records(self) -> list[DosingSession]:
        """Completed sessions whose monitoring record is not signed yet."""
        return [
            s
            for s in self.sessions.values()
            if s.status is SessionStatus.COMPLETED and s.record_signed_at is None
        ]

    def scheduled_visits(self, kind: VisitKind | None = None) -> list[Visit]:
        """Visits booked and not yet done or cancelled, soonest first."""
        booked = [
            v
            for v in self.visits.values()
            if v.status is VisitStatus.SCHEDULED and (kind is None or v.kind is kind)
        ]
        return sorted(booked, key=lambda v: (v.scheduled_at, v.visit_id))

    def prescription_valid_at(self, when: datetime) -> bool:
        return self.prescription is not None and when < self.prescription.expires_at
