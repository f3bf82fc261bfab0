"""`evolve(state, event) -> state` and `fold(events) -> state`: pure, total, no rules.

Rules live in `decide`; evolve only records what the events say happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain import events as ev
from domain.events import Event
from domain.state import (
    Consent,
    DoseLedger,
    DosingSession,
    JourneyState,
    LastDecision,
    MonitoringReading,
    Prescription,
    SafetyHold,
    Stopping,
    Visit,
)
from domain.vocabulary import (
    AdverseEventSeverity,
    ClosedReason,
    DueKind,
    Eligibility,
    Role,
    SessionStatus,
    Stage,
    VisitKind,
    VisitStatus,
)


class EvolveError(ValueError):
    """An event that cannot apply to the state (a corrupt or misordered stream)."""


def _stage_after_integration(state: JourneyState) -> Stage:
    if state.doses.remaining > 0:
        return Stage.DOSING
    if state.prescription is not None and not state.prescription.follow_up_done:
        return Stage.PRESCRIBER_FOLLOW_UP
    return Stage.COMPLETED


def _session(state: JourneyState, session_id: str) -> DosingSession:
    try:
        return state.sessions[session_id]
    except KeyError:
        raise EvolveError(f"unknown dosing session {session_id}") from None


def _pre_dose(at: Any, vitals: Any) -> MonitoringReading:
    return MonitoringReading(at=at, minutes_after_dose=None, vitals=vitals)


def _with_session(session: DosingSession, **changes: Any) -> dict[str, DosingSession]:
    return {session.session_id: session.model_copy(update=changes)}


def _visit_done(state: JourneyState, kind: VisitKind) -> dict[str, Any]:
    """The soonest booked visit of `kind` is the one the decision recorded."""
    booked = state.scheduled_visits(kind)
    if not booked:
        return {}
    done = booked[0].model_copy(update={"status": VisitStatus.DONE})
    return {"visits": {**state.visits, done.visit_id: done}}


def _apply(state: JourneyState, event: Event) -> dict[str, Any]:
    """The changes one event makes, as a dict of field updates."""
    match event:
        case ev.ScreeningRecorded(score=score, baseline=baseline):
            key = score.instrument.value
            changes: dict[str, Any] = {"latest_scores": {**state.latest_scores, key: score}}
            if baseline:
                changes["baseline_scores"] = {**state.baseline_scores, key: score}
            return changes
        case ev.ConsentRecorded():
            consent = Consent(
                version=event.consent_version, signed_at=event.signed_at, recorded_by=event.actor
            )
            return {"consent": consent}
        case ev.ConsultationCompleted(outcome=outcome):
            stage = Stage.REFERRAL if outcome is Eligibility.ELIGIBLE else state.stage
            return {"eligibility": outcome, "stage": stage}
        case ev.MedicalClearanceRecorded(cleared=cleared):
            if cleared:
                return {"eligibility": Eligibility.ELIGIBLE, "stage": Stage.REFERRAL}
            return {"eligibility": Eligibility.INELIGIBLE}
        case ev.ReferralSent(sla_due_at=sla_due_at):
            return {"referral_sent_at": event.occurred_at, "referral_sla_due_at": sla_due_at}
        case ev.ReferralAcknowledged():
            return {"referral_acknowledged": True}
        case ev.ReferralRejected():
            return {
                "referral_sent_at": None,
                "referral_sla_due_at": None,
                "referral_acknowledged": False,
            }
        case ev.PrescriberIntakeScheduled(scheduled_at=scheduled_at):
            return {
                "intake_at": scheduled_at,
                "intake_scheduled_on": event.occurred_at,
                "stage": Stage.MEDICATION_REVIEW,
            }
        case ev.MedicationApproved():
            ready = state.preparation_sessions >= state.protocol.preparation_sessions_required
            return {
                "prescription": Prescription(
                    approved_at=event.occurred_at,
                    expires_at=event.expires_at,
                    follow_up_due_at=event.follow_up_due_at,
                ),
                "doses": DoseLedger(
                    authorized=state.doses.authorized + event.doses_authorized,
                    used=state.doses.used,
                ),
                "stage": Stage.DOSING if ready else Stage.PREPARATION,
            }
        case ev.MedicationDeclined():
            return {}
        case ev.PreparationCompleted(sessions_completed=count):
            ready = count >= state.protocol.preparation_sessions_required
            stage = Stage.DOSING if ready and state.stage is Stage.PREPARATION else state.stage
            return {
                "preparation_sessions": count,
                "stage": stage,
                **_visit_done(state, VisitKind.PREPARATION),
            }
        case ev.DosingSessionScheduled():
            session = DosingSession(
                session_id=event.session_id,
                scheduled_at=event.scheduled_at,
                scheduled_on=event.occurred_at,
                mode=event.mode,
                chaperone_id=event.chaperone_id,
            )
            return {"sessions": {**state.sessions, event.session_id: session}}
        case ev.DosingSessionHeld(session_id=sid):
            session = _session(state, sid)
            held = _with_session(
                session,
                status=SessionStatus.HELD,
                readings=(*session.readings, _pre_dose(event.occurred_at, event.vitals)),
            )
            return {"sessions": {**state.sessions, **held}}
        case ev.DosingSessionStarted(session_id=sid, dose_number=dose_number):
            session = _session(state, sid)
            started = _with_session(
                session,
                status=SessionStatus.IN_PROGRESS,
                dose_number=dose_number,
                started_at=event.occurred_at,
                check_in_anchor=event.occurred_at,
                readings=(*session.readings, _pre_dose(event.occurred_at, event.vitals)),
            )
            return {
                "sessions": {**state.sessions, **started},
                "doses": DoseLedger(authorized=state.doses.authorized, used=state.doses.used + 1),
                "last_dose_started_at": event.occurred_at,
                "stage": Stage.DOSING,
            }
        case ev.ChaperoneCheckedIn(session_id=sid):
            checked = _with_session(
                _session(state, sid), check_in_anchor=event.occurred_at, check_in_missed=False
            )
            return {"sessions": {**state.sessions, **checked}}
        case ev.SessionMonitoringRecorded(session_id=sid):
            session = _session(state, sid)
            reading = MonitoringReading(
                at=event.occurred_at,
                minutes_after_dose=event.minutes_after_dose,
                vitals=event.vitals,
                sedation=event.sedation,
                dissociation=event.dissociation,
            )
            checked = _with_session(session, readings=(*session.readings, reading))
            return {"sessions": {**state.sessions, **checked}}
        case ev.DoseRecorded(session_id=sid, dose=dose):
            given = _with_session(_session(state, sid), dose=dose)
            return {"sessions": {**state.sessions, **given}}
        case ev.DischargeExceptionGranted(session_id=sid, reason=reason):
            excepted = _with_session(_session(state, sid), discharge_exception=reason)
            return {"sessions": {**state.sessions, **excepted}}
        case ev.SessionRecordSigned(session_id=sid):
            signed = _with_session(_session(state, sid), record_signed_at=event.occurred_at)
            return {"sessions": {**state.sessions, **signed}}
        case ev.SessionRecordAmended(session_id=sid, dose=dose):
            session = _session(state, sid)
            amended = _with_session(
                session, dose=dose or session.dose, amendments=session.amendments + 1
            )
            return {"sessions": {**state.sessions, **amended}}
        case ev.AdverseEventReported(session_id=sid, serious=serious):
            session = _session(state, sid)
            reported = _with_session(
                session,
                adverse_events=session.adverse_events + 1,
                serious_adverse_events=session.serious_adverse_events + int(serious),
            )
            return {"sessions": {**state.sessions, **reported}}
        case ev.DosingSessionCompleted(session_id=sid):
            session = _session(state, sid)
            discharge = MonitoringReading(
                at=event.occurred_at,
                minutes_after_dose=event.monitoring_minutes,
                vitals=event.vitals,
            )
            done = _with_session(
                session,
                status=SessionStatus.COMPLETED,
                completed_at=event.occurred_at,
                readings=(*session.readings, discharge),
                adverse_events=session.adverse_events + len(event.adverse_events),
                serious_adverse_events=session.serious_adverse_events
                + sum(a.severity is AdverseEventSeverity.SERIOUS for a in event.adverse_events),
            )
            first = state.doses_since_integration == 0
            return {
                "sessions": {**state.sessions, **done},
                "doses_since_integration": state.doses_since_integration + 1,
                "first_unintegrated_at": (
                    event.occurred_at if first else state.first_unintegrated_at
                ),
                "first_unintegrated_ref": sid if first else state.first_unintegrated_ref,
                "stage": Stage.INTEGRATION,
            }
        case ev.DosingSessionCancelled(session_id=sid):
            cancelled = _with_session(_session(state, sid), status=SessionStatus.CANCELLED)
            return {"sessions": {**state.sessions, **cancelled}}
        case ev.IntegrationCompleted():
            integrated = state.model_copy(update={"doses_since_integration": 0})
            return {
                "doses_since_integration": 0,
                "first_unintegrated_at": None,
                "first_unintegrated_ref": None,
                "stage": _stage_after_integration(integrated),
                **_visit_done(state, VisitKind.INTEGRATION),
            }
        case ev.PrescriberFollowUpRecorded(additional_doses=additional):
            if state.prescription is None:
                raise EvolveError("follow-up recorded before any prescription")
            expires = event.expires_at or state.prescription.expires_at
            prescription = state.prescription.model_copy(
                update={"follow_up_done": True, "expires_at": expires}
            )
            doses = DoseLedger(
                authorized=state.doses.authorized + additional, used=state.doses.used
            )
            stage = Stage.INTEGRATION if state.doses_since_integration > 0 else Stage.DOSING
            return {
                "prescription": prescription,
                "doses": doses,
                "stage": stage,
                **_visit_done(state, VisitKind.PRESCRIBER_FOLLOW_UP),
            }
        case ev.CourseStopping(reason=reason, detail=detail, follow_up_due_at=due_at):
            stopping = Stopping(
                reason=reason, detail=detail, since=event.occurred_at, follow_up_due_at=due_at
            )
            return {"stopping": stopping}
        case ev.VisitScheduled(visit_id=vid, kind=kind, scheduled_at=at):
            visit = Visit(visit_id=vid, kind=kind, scheduled_at=at, scheduled_on=event.occurred_at)
            return {"visits": {**state.visits, vid: visit}}
        case ev.VisitCancelled(visit_id=vid):
            dropped = state.visits[vid].model_copy(update={"status": VisitStatus.CANCELLED})
            return {"visits": {**state.visits, vid: dropped}}
        case ev.ClinicianReassigned(role=role, clinician_id=clinician_id):
            field = "therapist_id" if role is Role.THERAPIST else "prescriber_id"
            return {field: clinician_id}
        case ev.SafetyHoldRaised(source=source, reason=reason):
            hold = SafetyHold(
                source=source, reason=reason, raised_at=event.occurred_at, raised_by=event.actor
            )
            return {"safety_hold": hold}
        case ev.SafetyHoldCleared():
            return {"safety_hold": None}
        case ev.JourneyPaused():
            return {"paused": True}
        case ev.JourneyResumed():
            return {"paused": False}
        case ev.JourneyClosed(reason=reason):
            stage = Stage.COMPLETED if reason is ClosedReason.COMPLETED else state.stage
            return {"closed_reason": reason, "stage": stage}
        case ev.DueReached(kind=kind, ref=ref, due_at=due_at):
            changes = {"fired": state.fired | {due_key(kind, ref, due_at)}}
            if kind is DueKind.INACTIVITY_NUDGE:
                changes["last_nudge_at"] = due_at
            if kind is DueKind.CHAPERONE_CHECK_IN:
                missed = _with_session(
                    _session(state, ref), check_in_anchor=due_at, check_in_missed=True
                )
                changes["sessions"] = {**state.sessions, **missed}
            return changes
        case ev.JourneyStarted():
            raise EvolveError("journey already started")
    raise EvolveError(f"no evolve rule for {type(event).__name__}")  # pragma: no cover


def due_key(kind: DueKind, ref: str, at: object) -> str:
    """Identifies one occurrence of a due item (so it fires once)."""
    stamp = at.isoformat() if hasattr(at, "isoformat") else str(at)
    return f"{kind.value}:{ref}:{stamp}"


def evolve(state: JourneyState | None, event: Event) -> JourneyState:
    """Apply one event. The first event of a journey must be `journey_started`."""
    if state is None:
        if not isinstance(event, ev.JourneyStarted):
            raise EvolveError("a journey's first event must be journey_started")
        return JourneyState(
            journey_id=event.journey_id,
            client_id=event.client_id,
            therapist_id=event.therapist_id,
            prescriber_id=event.prescriber_id,
            clinic_id=event.clinic_id,
            protocol=event.protocol,
            started_at=event.occurred_at,
            last_activity_at=event.occurred_at,
            version=1,
            last_decision=LastDecision(
                type=event.type,
                decision_id=event.decision_id,
                actor=event.actor,
                at=event.occurred_at,
            ),
        )
    changes = _apply(state, event)
    changes["version"] = state.version + 1
    if event.actor.role is not Role.SYSTEM:
        changes["last_activity_at"] = max(state.last_activity_at, event.occurred_at)
        changes["last_decision"] = LastDecision(
            type=event.type, decision_id=event.decision_id, actor=event.actor, at=event.occurred_at
        )
    return state.model_copy(update=changes)


def fold(events: Iterable[Event], state: JourneyState | None = None) -> JourneyState | None:
    """The state after all `events`, from `state` (None: a journey not yet started)."""
    for event in events:
        state = evolve(state, event)
    return state
