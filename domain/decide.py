"""`decide(state, command, now) -> list[Event] | Rejection`: every rule of the pathway.

Pure: the time comes in as `now`; nothing is read or written. A rejection changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from domain import commands as c
from domain import events as ev
from domain.commands import Command
from domain.due import due
from domain.events import Event
from domain.instruments import InstrumentError, baseline_instruments, score
from domain.rejection import Rejection, RejectionCode
from domain.roles import ALLOWED_ROLES
from domain.rules import CURRENT, Rules
from domain.state import DosingSession, JourneyState
from domain.vocabulary import (
    AdverseEventSeverity,
    ClosedReason,
    Eligibility,
    FollowUpOutcome,
    ObservedLevel,
    Role,
    SafetyHoldSource,
    SessionMode,
    SessionStatus,
    Stage,
    VisitKind,
    VisitStatus,
)

Decision = list[Event] | Rejection


def _no(code: RejectionCode, reason: str) -> Rejection:
    return Rejection(code=code, reason=reason)


def _not_now(reason: str) -> Rejection:
    return _no(RejectionCode.NOT_ALLOWED_NOW, reason)


def _invalid(reason: str) -> Rejection:
    return _no(RejectionCode.INVALID, reason)


def _meta(command: Command, now: datetime) -> dict[str, Any]:
    return {"occurred_at": now, "actor": command.actor, "decision_id": command.decision_id}


def _stage_is(state: JourneyState, *stages: Stage) -> bool:
    return state.stage in stages


def _session(state: JourneyState, session_id: str) -> DosingSession | Rejection:
    session = state.sessions.get(session_id)
    if session is None:
        return _invalid(f"there is no dosing session {session_id} in this journey")
    return session


def _cancel_open_sessions(state: JourneyState, meta: dict[str, Any], reason: str) -> list[Event]:
    return [
        ev.DosingSessionCancelled(session_id=s.session_id, reason=reason, **meta)
        for s in state.open_sessions()
    ]


def _close(
    state: JourneyState, meta: dict[str, Any], reason: ClosedReason, detail: str | None = None
) -> list[Event]:
    closing: list[Event] = [*_cancel_open_sessions(state, meta, "journey_closed")]
    closing.append(ev.JourneyClosed(reason=reason, detail=detail, **meta))
    return closing


_ROLE_NOUNS = {
    Role.THERAPIST: "a therapist",
    Role.PRESCRIBER: "a prescriber",
    Role.OPS: "ops",
    Role.SYSTEM: "the engine",
    Role.CLINICAL_LEAD: "the clinical lead",
}


def _authorize(state: JourneyState | None, command: Command) -> Rejection | None:
    roles = ALLOWED_ROLES[command.type]
    role = command.actor.role
    if role not in roles:
        allowed = " or ".join(_ROLE_NOUNS[r] for r in Role if r in roles)
        return _no(
            RejectionCode.FORBIDDEN_ROLE,
            f"only {allowed} may {command.type.replace('_', ' ')}",
        )
    if state is None:
        if (
            isinstance(command, c.StartJourney)
            and role is Role.THERAPIST
            and command.therapist_id != command.actor.id
        ):
            return _no(RejectionCode.NOT_ASSIGNED, "a therapist may start only their own")
        return None
    if role is Role.THERAPIST and command.actor.id != state.therapist_id:
        return _no(RejectionCode.NOT_ASSIGNED, "this client is not assigned to this therapist")
    if role is Role.PRESCRIBER and command.actor.id != state.prescriber_id:
        return _no(RejectionCode.NOT_ASSIGNED, "this client is not assigned to this prescriber")
    return None


# --- consultation -------------------------------------------------------------------------


def _record_screening(
    s: JourneyState, cmd: c.RecordScreening, now: datetime, rules: Rules
) -> Decision:
    try:
        result = score(cmd.instrument, cmd.answers, protocol=s.protocol)
    except InstrumentError as error:
        return _invalid(str(error))
    meta = _meta(cmd, now)
    baseline = cmd.instrument.value not in s.baseline_scores
    out: list[Event] = [
        ev.ScreeningRecorded(answers=list(cmd.answers), score=result, baseline=baseline, **meta)
    ]
    if result.risk and s.safety_hold is None:
        reason = f"{cmd.instrument.value}_risk"
        out.append(ev.SafetyHoldRaised(source=SafetyHoldSource.INSTRUMENT, reason=reason, **meta))
    return out


def _record_consent(s: JourneyState, cmd: c.RecordConsent, now: datetime, rules: Rules) -> Decision:
    if cmd.signed_at > now:
        return _invalid("consent cannot be signed in the future")
    if cmd.signed_at < s.started_at - timedelta(days=365):
        return _invalid("consent signed more than a year before the journey is out of date")
    meta = _meta(cmd, now)
    return [
        ev.ConsentRecorded(consent_version=cmd.consent_version, signed_at=cmd.signed_at, **meta)
    ]


def _complete_consultation(
    s: JourneyState, cmd: c.CompleteConsultation, now: datetime, rules: Rules
) -> Decision:
    if not _stage_is(s, Stage.CONSULTATION) or s.eligibility is not None:
        return _not_now("the consultation is already complete")
    missing = [i.value for i in baseline_instruments() if i.value not in s.baseline_scores]
    if missing:
        return _not_now(f"record the baseline screening first ({', '.join(missing)})")
    if s.consent is None:
        return _not_now("record the client's informed consent first")
    found = set(cmd.contraindications)
    if cmd.deemed_unsuitable or found & s.protocol.absolute_exclusions:
        outcome = Eligibility.INELIGIBLE
    elif found & s.protocol.case_by_case:
        outcome = Eligibility.NEEDS_MEDICAL_CLEARANCE
    else:
        outcome = Eligibility.ELIGIBLE
    meta = _meta(cmd, now)
    out: list[Event] = [
        ev.ConsultationCompleted(
            outcome=outcome,
            contraindications=sorted(found),
            treatment_goals=list(cmd.treatment_goals),
            deemed_unsuitable=cmd.deemed_unsuitable,
            **meta,
        )
    ]
    if outcome is Eligibility.INELIGIBLE:
        out += _close(s, meta, ClosedReason.DECLINED, "ineligible")
    return out


def _record_medical_clearance(
    s: JourneyState, cmd: c.RecordMedicalClearance, now: datetime, rules: Rules
) -> Decision:
    if s.eligibility is not Eligibility.NEEDS_MEDICAL_CLEARANCE:
        return _not_now("this client does not need medical clearance")
    meta = _meta(cmd, now)
    out: list[Event] = [ev.MedicalClearanceRecorded(cleared=cmd.cleared, **meta)]
    if not cmd.cleared:
        out += _close(s, meta, ClosedReason.DECLINED, "medical_clearance_refused")
    return out


# --- referral and medication review -------------------------------------------------------


def _refer(s: JourneyState, cmd: c.ReferToPrescriber, now: datetime, rules: Rules) -> Decision:
    if not _stage_is(s, Stage.REFERRAL):
        return _not_now("only an eligible client who has not been referred can be referred")
    if s.referral_sent_at is not None:
        return _not_now("the referral has already been sent")
    sla = now + timedelta(days=s.protocol.referral_sla_days)
    return [ev.ReferralSent(sla_due_at=sla, **_meta(cmd, now))]


def _acknowledge(
    s: JourneyState, cmd: c.AcknowledgeReferral, now: datetime, rules: Rules
) -> Decision:
    if s.referral_sent_at is None:
        return _not_now("no referral has been sent yet")
    if s.referral_acknowledged:
        return _not_now("the referral is already acknowledged")
    return [ev.ReferralAcknowledged(**_meta(cmd, now))]


def _referral_rejected(
    s: JourneyState, cmd: c.RecordReferralRejected, now: datetime, rules: Rules
) -> Decision:
    if s.referral_sent_at is None or s.intake_at is not None:
        return _not_now("there is no referral waiting for the prescriber")
    return [ev.ReferralRejected(reason=cmd.reason, **_meta(cmd, now))]


def _schedule_intake(
    s: JourneyState, cmd: c.SchedulePrescriberIntake, now: datetime, rules: Rules
) -> Decision:
    if s.referral_sent_at is None:
        return _not_now("refer the client to the prescriber before scheduling the intake")
    if not _stage_is(s, Stage.REFERRAL, Stage.MEDICATION_REVIEW):
        return _not_now("the medication review is already decided")
    if cmd.scheduled_at <= now:
        return _invalid("the intake must be scheduled in the future")
    return [ev.PrescriberIntakeScheduled(scheduled_at=cmd.scheduled_at, **_meta(cmd, now))]


def _approve(s: JourneyState, cmd: c.ApproveMedication, now: datetime, rules: Rules) -> Decision:
    if not _stage_is(s, Stage.MEDICATION_REVIEW):
        return _not_now("medication can be approved only at the prescriber's intake")
    doses = cmd.doses_authorized or s.protocol.initial_doses_authorized
    if doses > s.protocol.max_doses_per_authorization:
        limit = s.protocol.max_doses_per_authorization
        return _invalid(f"at most {limit} doses may be authorized at once")
    if cmd.expires_at <= now:
        return _invalid("the prescription's expiry must be in the future")
    follow_up = now + timedelta(days=s.protocol.prescriber_follow_up_days)
    return [
        ev.MedicationApproved(
            doses_authorized=doses,
            expires_at=cmd.expires_at,
            follow_up_due_at=follow_up,
            **_meta(cmd, now),
        )
    ]


def _decline(s: JourneyState, cmd: c.DeclineMedication, now: datetime, rules: Rules) -> Decision:
    if not _stage_is(s, Stage.MEDICATION_REVIEW):
        return _not_now("medication can be declined only at the prescriber's intake")
    meta = _meta(cmd, now)
    return [
        ev.MedicationDeclined(reason=cmd.reason, **meta),
        *_close(s, meta, ClosedReason.NOT_APPROVED, cmd.reason),
    ]


def _complete_preparation(
    s: JourneyState, cmd: c.CompletePreparation, now: datetime, rules: Rules
) -> Decision:
    if not _stage_is(s, Stage.PREPARATION):
        return _not_now("preparation sessions come after approval and before the first dose")
    count = s.preparation_sessions + 1
    return [ev.PreparationCompleted(sessions_completed=count, **_meta(cmd, now))]


# --- dosing -------------------------------------------------------------------------------


def _follow_up_blocker(s: JourneyState, at: datetime, rules: Rules) -> Rejection | None:
    """A dose at `at` would come after the prescriber follow-up's due date, still unrecorded
    (Journey Clinical: a follow-up about 30 days after approval before treatment continues)."""
    rx = s.prescription
    if not rules.course_governance or rx is None or rx.follow_up_done:
        return None
    if at >= rx.follow_up_due_at:
        return _not_now(
            f"the prescriber follow-up is due by {rx.follow_up_due_at:%Y-%m-%d}: no dose after"
            " that date until the prescriber records it"
        )
    return None


def _dosing_blocker(s: JourneyState) -> Rejection | None:
    """What stops dosing now, whatever the session (shared by scheduling and starting)."""
    if s.stopping is not None:
        return _not_now(
            f"the course is stopping ({s.stopping.reason.value}): no more doses; the"
            " prescriber's discharge follow-up closes it"
        )
    if s.safety_hold is not None:
        return _not_now("the journey is on a safety hold: a clinician must clear it first")
    if s.paused:
        return _not_now("the journey is paused: resume it first")
    if s.eligibility is not Eligibility.ELIGIBLE or s.consent is None:
        return _not_now("dosing needs an eligible client with informed consent on record")
    if s.prescription is None:
        return _not_now("dosing needs the prescriber's approval")
    if s.doses.remaining <= 0:
        if not s.prescription.follow_up_done:
            return _not_now("the authorized doses are used: the prescriber follow-up comes next")
        return _not_now("no authorized dose is left")
    if s.doses_since_integration >= s.protocol.doses_per_integration:
        return _not_now("an integration session is owed before the next dose")
    if _stage_is(s, Stage.CONSULTATION, Stage.REFERRAL, Stage.MEDICATION_REVIEW, Stage.PREPARATION):
        return _not_now("complete the preparation before dosing")
    return None


def _schedule_dosing(
    s: JourneyState, cmd: c.ScheduleDosing, now: datetime, rules: Rules
) -> Decision:
    blocker = _dosing_blocker(s)
    if blocker is not None:
        return blocker
    assert s.prescription is not None
    if cmd.session_id in s.sessions:
        return _invalid(f"session id {cmd.session_id} is already used in this journey")
    if s.open_sessions() or s.session_in_progress() is not None:
        return _not_now("a dosing session is already planned: cancel it to reschedule")
    if cmd.scheduled_at <= now:
        return _invalid("the session must be scheduled in the future")
    if cmd.scheduled_at >= s.prescription.expires_at:
        return _not_now("the prescription expires before that session")
    late = _follow_up_blocker(s, cmd.scheduled_at, rules)
    if late is not None:
        return late
    if s.last_dose_started_at is not None:
        earliest = s.last_dose_started_at + timedelta(hours=s.protocol.min_hours_between_doses)
        if cmd.scheduled_at < earliest:
            hours = s.protocol.min_hours_between_doses
            return _not_now(f"doses must be at least {hours} hours apart")
    if cmd.mode is SessionMode.REMOTE and cmd.chaperone_id is None:
        return _invalid("a remote session needs a named chaperone")
    return [
        ev.DosingSessionScheduled(
            session_id=cmd.session_id,
            scheduled_at=cmd.scheduled_at,
            mode=cmd.mode,
            chaperone_id=cmd.chaperone_id,
            **_meta(cmd, now),
        )
    ]


def _start_dosing(s: JourneyState, cmd: c.StartDosing, now: datetime, rules: Rules) -> Decision:
    session = _session(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.HELD):
        return _not_now(f"session {cmd.session_id} is {session.status.value}")
    blocker = _dosing_blocker(s)
    if blocker is not None:
        return blocker
    if not s.prescription_valid_at(now):
        return _not_now("the prescription has expired")
    late = _follow_up_blocker(s, now, rules)
    if late is not None:
        return late
    if s.session_in_progress() is not None:
        return _not_now("another dosing session is in progress")
    early = timedelta(minutes=s.protocol.early_start_minutes)
    if now < session.scheduled_at - early:
        return _not_now("the session cannot start this long before its scheduled time")
    if not cmd.transport_confirmed:
        return _not_now("confirm the client's transport home before dosing")
    if session.mode is SessionMode.REMOTE and not cmd.chaperone_present:
        return _not_now("a remote session needs its chaperone present before dosing")
    meta = _meta(cmd, now)
    p = s.protocol
    if cmd.vitals.systolic > p.bp_systolic_limit or cmd.vitals.diastolic > p.bp_diastolic_limit:
        return [
            ev.DosingSessionHeld(
                session_id=cmd.session_id, vitals=cmd.vitals, reason="bp_above_limit", **meta
            )
        ]
    return [
        ev.DosingSessionStarted(
            session_id=cmd.session_id, vitals=cmd.vitals, dose_number=s.doses.used + 1, **meta
        )
    ]


def _check_in(
    s: JourneyState, cmd: c.RecordChaperoneCheckIn, now: datetime, rules: Rules
) -> Decision:
    session = _session(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.status is not SessionStatus.IN_PROGRESS or session.mode is not SessionMode.REMOTE:
        return _not_now("check-ins are for a remote session in progress")
    return [ev.ChaperoneCheckedIn(session_id=cmd.session_id, **_meta(cmd, now))]


def _in_progress(s: JourneyState, session_id: str) -> DosingSession | Rejection:
    session = _session(s, session_id)
    if isinstance(session, Rejection):
        return session
    if session.status is not SessionStatus.IN_PROGRESS or session.started_at is None:
        return _not_now(f"session {session_id} is not in progress")
    return session


def _minutes_since(start: datetime, now: datetime) -> int:
    return int((now - start).total_seconds() // 60)


def _record_monitoring(
    s: JourneyState, cmd: c.RecordSessionMonitoring, now: datetime, rules: Rules
) -> Decision:
    session = _in_progress(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    assert session.started_at is not None
    return [
        ev.SessionMonitoringRecorded(
            session_id=cmd.session_id,
            vitals=cmd.vitals,
            sedation=cmd.sedation,
            dissociation=cmd.dissociation,
            minutes_after_dose=_minutes_since(session.started_at, now),
            **_meta(cmd, now),
        )
    ]


def _given(s: JourneyState, session_id: str) -> DosingSession | Rejection:
    """A session whose dose was given (in progress or completed)."""
    session = _session(s, session_id)
    if isinstance(session, Rejection):
        return session
    if session.started_at is None or session.status not in (
        SessionStatus.IN_PROGRESS,
        SessionStatus.COMPLETED,
    ):
        return _not_now(f"session {session_id} has no dose given ({session.status.value})")
    return session


def _record_dose(s: JourneyState, cmd: c.RecordDose, now: datetime, rules: Rules) -> Decision:
    session = _given(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.record_signed_at is not None:
        return _not_now(f"the record of session {cmd.session_id} is signed: amend it instead")
    return [ev.DoseRecorded(session_id=cmd.session_id, dose=cmd.dose, **_meta(cmd, now))]


def _discharge_exception(
    s: JourneyState, cmd: c.GrantDischargeException, now: datetime, rules: Rules
) -> Decision:
    session = _in_progress(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.discharge_exception is not None:
        return _not_now(f"session {cmd.session_id} already has a discharge exception")
    return [
        ev.DischargeExceptionGranted(
            session_id=cmd.session_id, reason=cmd.reason, **_meta(cmd, now)
        )
    ]


_CLEAR_HEADED = (ObservedLevel.NONE, ObservedLevel.MILD)


def _discharge_blocker(
    s: JourneyState, session: DosingSession, cmd: c.CompleteDosing
) -> Rejection | None:
    """What the monitoring record still lacks for a safe discharge (docs/pathway.md)."""
    p = s.protocol
    if session.during_reading_after(p.vitals_interval_minutes) is None:
        return _not_now(
            f"record the vitals taken {p.vitals_interval_minutes} minutes after the dose first"
        )
    last = session.last_observation
    if last is not None and (
        last.sedation not in _CLEAR_HEADED or last.dissociation not in _CLEAR_HEADED
    ):
        return _not_now(
            "the last check found the client sedated or dissociated: observe again before discharge"
        )
    if session.dose is None:
        return _not_now("record the dose given (mg, route, lot) before discharge")
    vitals = cmd.vitals
    high = vitals.systolic > p.discharge_systolic_limit or (
        vitals.diastolic > p.discharge_diastolic_limit
    )
    if high and session.discharge_exception is None:
        return _not_now(
            f"blood pressure {vitals.systolic}/{vitals.diastolic} is above the discharge limit"
            f" {p.discharge_systolic_limit}/{p.discharge_diastolic_limit}: monitor and check"
            " again, or the prescriber may grant an exception"
        )
    if not cmd.ready_for_discharge:
        return _not_now("assess the client ready to leave before discharge")
    if not cmd.transport_confirmed:
        return _not_now("confirm the client's transport home before discharge")
    return None


def _is_serious(severity: AdverseEventSeverity, seriousness: Sequence[object] = ()) -> bool:
    return severity is AdverseEventSeverity.SERIOUS or bool(seriousness)


def _complete_dosing(
    s: JourneyState, cmd: c.CompleteDosing, now: datetime, rules: Rules
) -> Decision:
    session = _in_progress(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    assert session.started_at is not None
    monitored = now - session.started_at
    minimum = timedelta(minutes=s.protocol.min_monitoring_minutes)
    if monitored < minimum:
        left = int((minimum - monitored).total_seconds() // 60) + 1
        return _not_now(
            f"monitoring must last at least {s.protocol.min_monitoring_minutes} minutes"
            f" ({left} more)"
        )
    if rules.session_safety:
        blocker = _discharge_blocker(s, session, cmd)
        if blocker is not None:
            return blocker
    meta = _meta(cmd, now)
    out: list[Event] = [
        ev.DosingSessionCompleted(
            session_id=cmd.session_id,
            vitals=cmd.vitals,
            adverse_events=list(cmd.adverse_events),
            monitoring_minutes=int(monitored.total_seconds() // 60),
            **meta,
        )
    ]
    grave = {AdverseEventSeverity.SEVERE, AdverseEventSeverity.SERIOUS}
    if s.safety_hold is None and any(a.severity in grave for a in cmd.adverse_events):
        out.append(
            ev.SafetyHoldRaised(
                source=SafetyHoldSource.ADVERSE_EVENT, reason="severe_adverse_event", **meta
            )
        )
    return out


def _sign_record(
    s: JourneyState, cmd: c.SignSessionRecord, now: datetime, rules: Rules
) -> Decision:
    session = _session(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.status is not SessionStatus.COMPLETED:
        return _not_now(
            f"session {cmd.session_id} is {session.status.value}: sign it after discharge"
        )
    if session.record_signed_at is not None:
        return _not_now(f"the record of session {cmd.session_id} is already signed")
    if session.dose is None:
        return _not_now("record the dose given (mg, route, lot) before signing")
    meta = _meta(cmd, now)
    out: list[Event] = [ev.SessionRecordSigned(session_id=cmd.session_id, **meta)]
    unsigned = [r for r in s.unsigned_records() if r.session_id != cmd.session_id]
    if rules.session_safety and not unsigned and s.stage is Stage.COMPLETED and s.stopping is None:
        out += _close(s, meta, ClosedReason.COMPLETED, "course_complete")
    return out


def _amend_record(
    s: JourneyState, cmd: c.AmendSessionRecord, now: datetime, rules: Rules
) -> Decision:
    session = _session(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.record_signed_at is None:
        return _not_now(
            f"the record of session {cmd.session_id} is not signed: record the change instead"
        )
    return [
        ev.SessionRecordAmended(
            session_id=cmd.session_id,
            reason=cmd.reason,
            dose=cmd.dose,
            note_ref=cmd.note_ref,
            **_meta(cmd, now),
        )
    ]


def _report_adverse_event(
    s: JourneyState, cmd: c.ReportAdverseEvent, now: datetime, rules: Rules
) -> Decision:
    session = _given(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    assert session.started_at is not None
    window = timedelta(days=s.protocol.adverse_event_window_days)
    if now > session.started_at + window:
        return _not_now(
            f"adverse events are reported against a session within"
            f" {s.protocol.adverse_event_window_days} days of its dose: raise a safety hold instead"
        )
    onset = cmd.onset_at or now
    if onset > now:
        return _invalid("an adverse event's onset cannot be in the future")
    if onset < session.started_at:
        return _invalid("an adverse event's onset cannot be before the session's dose")
    serious = _is_serious(cmd.severity, cmd.seriousness)
    meta = _meta(cmd, now)
    out: list[Event] = [
        ev.AdverseEventReported(
            session_id=cmd.session_id,
            code=cmd.code,
            severity=cmd.severity,
            seriousness=sorted(set(cmd.seriousness)),
            serious=serious,
            outcome=cmd.outcome,
            onset_at=onset,
            **meta,
        )
    ]
    grave = serious or cmd.severity is AdverseEventSeverity.SEVERE
    if grave and s.safety_hold is None:
        reason = "serious_adverse_event" if serious else "severe_adverse_event"
        out.append(
            ev.SafetyHoldRaised(source=SafetyHoldSource.ADVERSE_EVENT, reason=reason, **meta)
        )
    return out


def _cancel_session(s: JourneyState, cmd: c.CancelSession, now: datetime, rules: Rules) -> Decision:
    session = _session(s, cmd.session_id)
    if isinstance(session, Rejection):
        return session
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.HELD):
        return _not_now(
            f"session {cmd.session_id} is {session.status.value}: it cannot be cancelled"
        )
    return [
        ev.DosingSessionCancelled(session_id=cmd.session_id, reason=cmd.reason, **_meta(cmd, now))
    ]


def _complete_integration(
    s: JourneyState, cmd: c.CompleteIntegration, now: datetime, rules: Rules
) -> Decision:
    if s.doses_since_integration == 0:
        return _not_now("no dosing session is waiting for integration")
    if s.paused:
        return _not_now("the journey is paused: resume it first")
    meta = _meta(cmd, now)
    out: list[Event] = [
        ev.IntegrationCompleted(
            note_ref=cmd.note_ref, doses_integrated=s.doses_since_integration, **meta
        )
    ]
    if (
        _course_complete(s)
        and s.stopping is None
        and not (rules.session_safety and s.unsigned_records())
    ):
        # With session records still to sign, the course closes when the last one is signed.
        out += _close(s, meta, ClosedReason.COMPLETED, "course_complete")
    return out


def _course_complete(s: JourneyState) -> bool:
    """No dose left and the prescriber's follow-up done: nothing more to give."""
    rx = s.prescription
    return s.doses.remaining <= 0 and rx is not None and rx.follow_up_done


def _follow_up(
    s: JourneyState, cmd: c.RecordPrescriberFollowUp, now: datetime, rules: Rules
) -> Decision:
    rx = s.prescription
    if rx is None:
        return _not_now("the follow-up comes after medication is approved")
    if s.session_in_progress() is not None:
        return _not_now("a dosing session is in progress")
    meta = _meta(cmd, now)
    if rules.course_governance and s.stopping is not None:
        # The discharge follow-up: it closes the stopping course.
        if cmd.outcome is not FollowUpOutcome.DISCONTINUE:
            return _not_now("the course is stopping: record the discharge follow-up as discontinue")
        return [
            ev.PrescriberFollowUpRecorded(
                outcome=cmd.outcome, additional_doses=0, expires_at=None, **meta
            ),
            *_close(s, meta, s.stopping.reason, s.stopping.detail),
        ]
    if rx.follow_up_done:
        return _not_now("the prescriber follow-up is already recorded")
    if not _stage_is(s, Stage.DOSING, Stage.INTEGRATION, Stage.PRESCRIBER_FOLLOW_UP):
        return _not_now("the follow-up comes after preparation")
    if rules.course_governance and s.doses.used == 0:
        return _not_now(
            "the follow-up reviews the doses given: it comes after the first dose (to stop"
            " before any dose, discharge the client)"
        )
    if (
        rules.course_governance
        and s.safety_hold is not None
        and cmd.outcome is not FollowUpOutcome.DISCONTINUE
    ):
        return _not_now(_ON_HOLD)
    if cmd.outcome is FollowUpOutcome.DISCONTINUE:
        return [
            ev.PrescriberFollowUpRecorded(
                outcome=cmd.outcome, additional_doses=0, expires_at=None, **meta
            ),
            *_close(s, meta, ClosedReason.DISCHARGED, "prescriber_discontinued"),
        ]
    doses = cmd.additional_doses or s.protocol.follow_up_doses_authorized
    if doses > s.protocol.max_doses_per_authorization:
        limit = s.protocol.max_doses_per_authorization
        return _invalid(f"at most {limit} doses may be authorized at once")
    if cmd.expires_at is None or cmd.expires_at <= now:
        return _invalid("continuing needs a new prescription expiry in the future")
    return [
        ev.PrescriberFollowUpRecorded(
            outcome=cmd.outcome, additional_doses=doses, expires_at=cmd.expires_at, **meta
        )
    ]


# --- at any point -------------------------------------------------------------------------


def _raise_hold(s: JourneyState, cmd: c.RaiseSafetyHold, now: datetime, rules: Rules) -> Decision:
    if s.safety_hold is not None:
        return _not_now("the journey is already on a safety hold")
    source = SafetyHoldSource.CLINICIAN
    return [ev.SafetyHoldRaised(source=source, reason=cmd.reason, **_meta(cmd, now))]


def _clear_hold(s: JourneyState, cmd: c.ClearSafetyHold, now: datetime, rules: Rules) -> Decision:
    if s.safety_hold is None:
        return _not_now("the journey is not on a safety hold")
    return [ev.SafetyHoldCleared(assessment_ref=cmd.assessment_ref, **_meta(cmd, now))]


def _pause(s: JourneyState, cmd: c.Pause, now: datetime, rules: Rules) -> Decision:
    if s.paused:
        return _not_now("the journey is already paused")
    if s.session_in_progress() is not None:
        return _not_now("a dosing session is in progress: complete it first")
    return [ev.JourneyPaused(reason=cmd.reason, **_meta(cmd, now))]


def _resume(s: JourneyState, cmd: c.Resume, now: datetime, rules: Rules) -> Decision:
    if not s.paused:
        return _not_now("the journey is not paused")
    return [ev.JourneyResumed(**_meta(cmd, now))]


# A stopping course's discharge follow-up is late after this many days.
DISCHARGE_FOLLOW_UP_DAYS = 7


def _stop(
    s: JourneyState,
    cmd: c.Withdraw | c.Discharge,
    now: datetime,
    rules: Rules,
    reason: ClosedReason,
) -> Decision:
    """Close the journey; after a dose, unless the prescriber stops it, the course stops first
    and closes at the prescriber's discharge follow-up."""
    if s.session_in_progress() is not None:
        return _not_now("a dosing session is in progress: complete the discharge assessment first")
    meta = _meta(cmd, now)
    if not rules.course_governance or s.doses.used == 0 or cmd.actor.role is Role.PRESCRIBER:
        return _close(s, meta, reason, cmd.reason)
    if s.stopping is not None:
        return _not_now(
            "the course is already stopping: the prescriber's discharge follow-up closes it"
        )
    due_at = now + timedelta(days=DISCHARGE_FOLLOW_UP_DAYS)
    # A paused course that stops is no longer paused: the follow-up it owes comes due.
    resumed: list[Event] = [ev.JourneyResumed(**meta)] if s.paused else []
    return [
        *resumed,
        *_cancel_open_sessions(s, meta, "course_stopping"),
        ev.CourseStopping(reason=reason, detail=cmd.reason, follow_up_due_at=due_at, **meta),
    ]


def _withdraw(s: JourneyState, cmd: c.Withdraw, now: datetime, rules: Rules) -> Decision:
    return _stop(s, cmd, now, rules, ClosedReason.WITHDRAWN)


def _discharge(s: JourneyState, cmd: c.Discharge, now: datetime, rules: Rules) -> Decision:
    return _stop(s, cmd, now, rules, ClosedReason.DISCHARGED)


# --- visits and assignments ---------------------------------------------------------------

_VISIT_BOOKERS: dict[VisitKind, frozenset[Role]] = {
    VisitKind.PREPARATION: frozenset({Role.THERAPIST, Role.OPS}),
    VisitKind.INTEGRATION: frozenset({Role.THERAPIST, Role.OPS}),
    VisitKind.PRESCRIBER_FOLLOW_UP: frozenset({Role.PRESCRIBER, Role.OPS}),
}


def _visit_owed(s: JourneyState, kind: VisitKind) -> str | None:
    """Why a visit of `kind` cannot be booked now; None when it can."""
    if kind is VisitKind.PREPARATION:
        if s.stage is not Stage.PREPARATION and not (
            s.stage is Stage.MEDICATION_REVIEW and s.intake_at is not None
        ):
            return "preparation visits are booked from the prescriber's intake until the first dose"
    elif kind is VisitKind.INTEGRATION:
        if s.doses.used == 0 and not s.sessions:
            return "integration visits follow a dosing session: schedule one first"
    else:
        rx = s.prescription
        if rx is None:
            return "the prescriber follow-up comes after medication is approved"
        if rx.follow_up_done and s.stopping is None:
            return "the prescriber follow-up is already recorded"
    return None


def _schedule_visit(s: JourneyState, cmd: c.ScheduleVisit, now: datetime, rules: Rules) -> Decision:
    if cmd.actor.role not in _VISIT_BOOKERS[cmd.kind]:
        booker = (
            "the prescriber or ops"
            if cmd.kind is VisitKind.PRESCRIBER_FOLLOW_UP
            else ("the therapist or ops")
        )
        return _no(RejectionCode.FORBIDDEN_ROLE, f"{booker} book {cmd.kind.value} visits")
    if cmd.visit_id in s.visits:
        return _invalid(f"visit id {cmd.visit_id} is already used in this journey")
    if cmd.scheduled_at <= now:
        return _invalid("the visit must be scheduled in the future")
    if s.paused:
        return _not_now("the journey is paused: resume it first")
    why = _visit_owed(s, cmd.kind)
    if why is not None:
        return _not_now(why)
    return [
        ev.VisitScheduled(
            visit_id=cmd.visit_id, kind=cmd.kind, scheduled_at=cmd.scheduled_at, **_meta(cmd, now)
        )
    ]


def _cancel_visit(s: JourneyState, cmd: c.CancelVisit, now: datetime, rules: Rules) -> Decision:
    visit = s.visits.get(cmd.visit_id)
    if visit is None:
        return _invalid(f"there is no visit {cmd.visit_id} in this journey")
    if visit.status is not VisitStatus.SCHEDULED:
        return _not_now(f"visit {cmd.visit_id} is {visit.status.value}: it cannot be cancelled")
    return [ev.VisitCancelled(visit_id=cmd.visit_id, reason=cmd.reason, **_meta(cmd, now))]


def _reassign(s: JourneyState, cmd: c.ReassignClinician, now: datetime, rules: Rules) -> Decision:
    current = s.therapist_id if cmd.role is Role.THERAPIST else s.prescriber_id
    if cmd.clinician_id == current:
        return _invalid(f"{cmd.clinician_id} is already this client's {cmd.role.value}")
    return [
        ev.ClinicianReassigned(
            role=cmd.role,
            clinician_id=cmd.clinician_id,
            previous_id=current,
            reason=cmd.reason,
            **_meta(cmd, now),
        )
    ]


def _ended_outside(
    s: JourneyState, cmd: c.RecordEndedOutside, now: datetime, rules: Rules
) -> Decision:
    """Whatever the journey was doing, it has ended: open sessions are cancelled with it."""
    return _close(s, _meta(cmd, now), ClosedReason.ENDED_OUTSIDE, cmd.how.value)


def _due_reached(s: JourneyState, cmd: c.RecordDueReached, now: datetime, rules: Rules) -> Decision:
    for item in due(s, rules):
        if item.kind is cmd.kind and item.ref == cmd.ref and item.at == cmd.due_at:
            if item.at > now:
                return _not_now(f"{cmd.kind.value} is not due until {item.at.isoformat()}")
            meta = _meta(cmd, now)
            return [ev.DueReached(kind=cmd.kind, ref=cmd.ref, due_at=cmd.due_at, **meta)]
    return _not_now(f"{cmd.kind.value} for {cmd.ref} is no longer due")


_ON_HOLD = (
    "the journey is on a safety hold: until a clinician clears it, only assessment, clearing"
    " the hold, pausing and withdrawal are accepted"
)
# What a safety hold stops: every step that moves the course on. What a hold lets through is
# assessment, the hold itself, pause, withdrawal and discharge, and the record of what already
# happened (a session in progress is monitored and discharged; records are signed).
HOLD_STOPS = frozenset(
    {
        "complete_consultation",
        "record_medical_clearance",
        "refer_to_prescriber",
        "schedule_prescriber_intake",
        "approve_medication",
        "complete_preparation",
        "schedule_dosing",
        "start_dosing",
        "complete_integration",
    }
)
# Everything else, named so that a new decision must be placed on one side (a test checks).
HOLD_ALLOWS = frozenset(
    {
        "record_screening",
        "record_consent",  # a signature already given, on record
        "raise_safety_hold",
        "clear_safety_hold",
        "pause",
        "resume",
        "withdraw",
        "discharge",
        "decline_medication",
        "record_prescriber_follow_up",  # discontinue only (checked by its rule)
        "acknowledge_referral",
        "record_referral_rejected",
        "record_chaperone_check_in",
        "record_session_monitoring",
        "record_dose",
        "grant_discharge_exception",
        "complete_dosing",
        "sign_session_record",
        "amend_session_record",
        "report_adverse_event",
        "cancel_session",
        "schedule_visit",  # a visit is where the hold is assessed
        "cancel_visit",
        "reassign_clinician",
        "record_due_reached",
        "record_ended_outside",
    }
)
# What a stopping course no longer does: move towards more treatment (what a hold stops, but
# the integration it still owes), or pause (which would hide the discharge follow-up it owes).
_STOPPING_STOPS = (HOLD_STOPS - {"complete_integration"}) | {"pause"}

C = TypeVar("C")
_Handler = Callable[[JourneyState, Any, datetime, Rules], Decision]

_HANDLERS: dict[str, _Handler] = {
    "record_screening": _record_screening,
    "record_consent": _record_consent,
    "complete_consultation": _complete_consultation,
    "record_medical_clearance": _record_medical_clearance,
    "refer_to_prescriber": _refer,
    "acknowledge_referral": _acknowledge,
    "record_referral_rejected": _referral_rejected,
    "schedule_prescriber_intake": _schedule_intake,
    "approve_medication": _approve,
    "decline_medication": _decline,
    "complete_preparation": _complete_preparation,
    "schedule_dosing": _schedule_dosing,
    "start_dosing": _start_dosing,
    "record_chaperone_check_in": _check_in,
    "record_session_monitoring": _record_monitoring,
    "record_dose": _record_dose,
    "grant_discharge_exception": _discharge_exception,
    "complete_dosing": _complete_dosing,
    "sign_session_record": _sign_record,
    "amend_session_record": _amend_record,
    "report_adverse_event": _report_adverse_event,
    "cancel_session": _cancel_session,
    "schedule_visit": _schedule_visit,
    "cancel_visit": _cancel_visit,
    "reassign_clinician": _reassign,
    "complete_integration": _complete_integration,
    "record_prescriber_follow_up": _follow_up,
    "raise_safety_hold": _raise_hold,
    "clear_safety_hold": _clear_hold,
    "pause": _pause,
    "resume": _resume,
    "withdraw": _withdraw,
    "discharge": _discharge,
    "record_due_reached": _due_reached,
    "record_ended_outside": _ended_outside,
}


def decide(
    state: JourneyState | None, command: Command, now: datetime, rules: Rules = CURRENT
) -> Decision:
    """The events a command causes, or why the pathway forbids it. `now` must be aware."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    denied = _authorize(state, command)
    if denied is not None:
        return denied
    if state is None:
        if not isinstance(command, c.StartJourney):
            return _no(RejectionCode.NOT_STARTED, "this journey has not been started")
        meta = _meta(command, now)
        started: list[Event] = [
            ev.JourneyStarted(
                journey_id=command.journey_id,
                client_id=command.client_id,
                therapist_id=command.therapist_id,
                prescriber_id=command.prescriber_id,
                clinic_id=command.clinic_id,
                protocol=command.protocol,
                **meta,
            )
        ]
        if command.held_over is not None:
            source = SafetyHoldSource.PREVIOUS_JOURNEY
            reason = command.held_over.reason
            started.append(ev.SafetyHoldRaised(source=source, reason=reason, **meta))
        return started
    if isinstance(command, c.StartJourney):
        return _no(RejectionCode.ALREADY_STARTED, "this client's journey has already started")
    if state.closed_reason is not None:
        return _no(
            RejectionCode.CLOSED,
            f"this journey is closed ({state.closed_reason.value}): it accepts no more decisions",
        )
    if rules.course_governance and state.safety_hold is not None and command.type in HOLD_STOPS:
        return _not_now(_ON_HOLD)
    if rules.course_governance and state.stopping is not None and command.type in _STOPPING_STOPS:
        return _not_now(
            f"the course is stopping ({state.stopping.reason.value}): the prescriber's discharge"
            " follow-up closes it"
        )
    return _HANDLERS[command.type](state, command, now, rules)
