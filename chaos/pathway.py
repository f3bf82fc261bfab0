"""What a clinic does next on a journey: realistic decisions along the pathway, chosen by a
seeded RNG from the client's own picture of the journey (the fold of what it was told).

Consultation (screenings, some with a risk answer that raises a safety hold; consent; the
consultation's outcome, some ineligible or needing clearance) → referral (the partner's
acknowledgement comes as a signal) → the prescriber's intake → approval or decline →
preparation → dosing sessions (scheduled, cancelled, held for blood pressure, started; remote
ones with chaperone check-ins as signals). Detours anywhere: pauses, safety holds, withdrawals,
discharges, and decisions the pathway refuses (a wrong role, the wrong moment) as clinicians
sometimes send them.

Real time cannot be skipped, so the protocol asks for reminders one hour ahead and lets a
session start up to a day early: an intake or session scheduled an hour and some seconds ahead
makes its reminder timer fire seconds later, during the run. A journey leaves play when it
closes or its first dose is under way (the 30-minute monitoring cannot pass in a run).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from domain import Actor, Command, JourneyState, Protocol, Role, Stage
from domain.commands import (
    AcknowledgeReferral,
    ApproveMedication,
    CancelSession,
    ClearSafetyHold,
    CompleteConsultation,
    CompleteDosing,
    CompletePreparation,
    DeclineMedication,
    Discharge,
    DoseGiven,
    Pause,
    RaiseSafetyHold,
    RecordChaperoneCheckIn,
    RecordConsent,
    RecordDose,
    RecordMedicalClearance,
    RecordPrescriberFollowUp,
    RecordScreening,
    RecordSessionMonitoring,
    ReferToPrescriber,
    ReportAdverseEvent,
    Resume,
    ScheduleDosing,
    SchedulePrescriberIntake,
    StartDosing,
    Vitals,
    Withdraw,
)
from domain.state import DosingSession
from domain.vocabulary import (
    AdverseEventSeverity,
    Contraindication,
    DoseRoute,
    Eligibility,
    FollowUpOutcome,
    Instrument,
    ObservedLevel,
    SessionMode,
)

MAX_DECISIONS = 45  # per journey, then it leaves play
REMINDER_LEAD = timedelta(hours=1)
NORMAL_VITALS = Vitals(systolic=122, diastolic=80, heart_rate=72)
HIGH_VITALS = Vitals(systolic=152, diastolic=96, heart_rate=88)
PARTNER = Actor(id="partner-ehr", role=Role.SYSTEM)  # the prescriber partner's system
CHAPERONE_APP = Actor(id="chaperone-app", role=Role.SYSTEM)


def chaos_protocol(rng: random.Random) -> Protocol:
    return Protocol(
        version="chaos-2026-11",
        appointment_reminder_hours=1,  # reminders fire seconds into the run (see above)
        early_start_minutes=24 * 60,
        preparation_sessions_required=rng.choice([1, 1, 2]),
    )


@dataclass(frozen=True)
class Cast:
    therapist: Actor
    prescriber: Actor
    ops: Actor

    @property
    def anyone(self) -> list[Actor]:
        return [self.therapist, self.prescriber, self.ops]

    @property
    def clinicians(self) -> list[Actor]:
        return [self.therapist, self.prescriber]


@dataclass(frozen=True)
class Step:
    command: Command
    via: Literal["update", "signal"] = "update"
    misfire: bool = False  # sent knowing the pathway may refuse it
    rest: float = 0.0  # seconds the clinic leaves the journey alone afterwards


@dataclass
class Plan:
    """One journey's script state: who works on it and what has been done so far."""

    client_id: str
    journey_id: str
    cast: Cast
    rng: random.Random
    protocol: Protocol
    decisions_per_run: int  # small values make the workflow continue-as-new often
    pcl5: bool
    max_check_ins: int
    made: int = 0  # decision ids made so far
    sessions: int = 0
    ack_sent: bool = False
    intake_rescheduled: bool = False
    in_session_steps: int = 0
    misfired_early_completion: bool = False
    notes: list[str] = field(default_factory=list)

    def next_id(self) -> str:
        self.made += 1
        return f"{self.client_id}-d{self.made:03d}"


def _answers(rng: random.Random, count: int, top: int) -> list[int]:
    return [rng.randint(0, top) for _ in range(count)]


def _screening(p: Plan, instrument: Instrument) -> Step:
    rng = p.rng
    if instrument is Instrument.PHQ9:
        answers = [*_answers(rng, 8, 3), 1 if rng.random() < 0.08 else 0]
    elif instrument is Instrument.GAD7:
        answers = _answers(rng, 7, 3)
    else:
        answers = _answers(rng, 20, 4)
    actor = p.cast.therapist if rng.random() < 0.85 else p.cast.prescriber
    return Step(
        RecordScreening(
            decision_id=p.next_id(), actor=actor, instrument=instrument, answers=answers
        )
    )


def _soon(rng: random.Random, now: datetime) -> datetime:
    """An appointment whose reminder (one hour ahead) falls 3–20 s from now."""
    return now + REMINDER_LEAD + timedelta(seconds=rng.uniform(3, 20))


def _wait_for_reminder(rng: random.Random, at: datetime, now: datetime) -> float:
    """Half the time the clinic does nothing more until the reminder has gone out."""
    if rng.random() < 0.5:
        return 0.0
    return (at - REMINDER_LEAD - now).total_seconds() + rng.uniform(1, 4)


def choose(s: JourneyState, p: Plan, now: datetime) -> Step | None:
    """The next decision on this journey, or None when it leaves play."""
    if s.is_closed or p.made >= MAX_DECISIONS:
        return None
    session = s.session_in_progress()
    if session is not None:
        return _in_session(s, p, session)
    rng, cast = p.rng, p.cast
    if s.paused:
        return Step(Resume(decision_id=p.next_id(), actor=rng.choice(cast.anyone)))
    if s.safety_hold is not None:
        return Step(
            ClearSafetyHold(
                decision_id=p.next_id(),
                actor=rng.choice(cast.clinicians),
                assessment_ref=f"ra-{p.client_id}-{p.made}",
            )
        )
    r = rng.random()
    if r < 0.05:
        reason = rng.choice(["client_request", "travel", "illness"])
        return Step(Pause(decision_id=p.next_id(), actor=rng.choice(cast.anyone), reason=reason))
    if r < 0.08:
        return Step(RaiseSafetyHold(decision_id=p.next_id(), actor=rng.choice(cast.anyone)))
    if r < 0.13:
        return _misfire(s, p, now)
    if r < 0.14:
        return Step(Withdraw(decision_id=p.next_id(), actor=rng.choice(cast.anyone)))
    if r < 0.145:
        return Step(Discharge(decision_id=p.next_id(), actor=rng.choice(cast.clinicians)))
    return _along_the_pathway(s, p, now)


def _along_the_pathway(s: JourneyState, p: Plan, now: datetime) -> Step | None:
    rng, cast = p.rng, p.cast
    if s.stage is Stage.CONSULTATION:
        for instrument in (Instrument.PHQ9, Instrument.GAD7):
            if instrument.value not in s.baseline_scores:
                return _screening(p, instrument)
        if p.pcl5 and Instrument.PCL5.value not in s.baseline_scores:
            return _screening(p, Instrument.PCL5)
        if s.consent is None:
            signed = now - timedelta(days=rng.randint(0, 20), hours=rng.randint(1, 12))
            return Step(
                RecordConsent(
                    decision_id=p.next_id(),
                    actor=cast.therapist,
                    consent_version="kap-v3",
                    signed_at=signed,
                )
            )
        if s.eligibility is None:
            found: list[Contraindication] = []
            r = rng.random()
            if r < 0.05:
                found = [rng.choice(sorted(s.protocol.absolute_exclusions))]
            elif r < 0.15:
                found = [rng.choice(sorted(s.protocol.case_by_case))]
            return Step(
                CompleteConsultation(
                    decision_id=p.next_id(),
                    actor=cast.therapist,
                    contraindications=found,
                    treatment_goals=rng.sample(
                        ["feel less low", "sleep better", "less anxiety", "work again"], 2
                    ),
                )
            )
        if s.eligibility is Eligibility.NEEDS_MEDICAL_CLEARANCE:
            return Step(
                RecordMedicalClearance(
                    decision_id=p.next_id(),
                    actor=rng.choice(cast.clinicians),
                    cleared=rng.random() < 0.85,
                )
            )
        return None
    if s.stage is Stage.REFERRAL:
        if s.referral_sent_at is None:
            return Step(ReferToPrescriber(decision_id=p.next_id(), actor=cast.therapist))
        if not s.referral_acknowledged and not p.ack_sent and rng.random() < 0.7:
            p.ack_sent = True
            return Step(AcknowledgeReferral(decision_id=p.next_id(), actor=PARTNER), "signal")
        at = _soon(rng, now)
        return Step(
            SchedulePrescriberIntake(
                decision_id=p.next_id(),
                actor=rng.choice([cast.prescriber, cast.ops]),
                scheduled_at=at,
            ),
            rest=_wait_for_reminder(rng, at, now),
        )
    if s.stage is Stage.MEDICATION_REVIEW:
        r = rng.random()
        if r < 0.07:
            return Step(DeclineMedication(decision_id=p.next_id(), actor=cast.prescriber))
        if r < 0.17 and not p.intake_rescheduled:
            p.intake_rescheduled = True
            return Step(
                SchedulePrescriberIntake(
                    decision_id=p.next_id(), actor=cast.ops, scheduled_at=_soon(rng, now)
                )
            )
        return Step(
            ApproveMedication(
                decision_id=p.next_id(),
                actor=cast.prescriber,
                doses_authorized=rng.choice([None, 2, 3]),
                expires_at=now + timedelta(days=120),
            )
        )
    if s.stage is Stage.PREPARATION:
        return Step(CompletePreparation(decision_id=p.next_id(), actor=cast.therapist))
    if s.stage in (Stage.DOSING, Stage.INTEGRATION, Stage.PRESCRIBER_FOLLOW_UP):
        return _dosing(s, p, now)
    return None


def _dosing(s: JourneyState, p: Plan, now: datetime) -> Step:
    rng, cast = p.rng, p.cast
    planned = s.open_sessions()
    if planned:
        session = planned[0]
        if rng.random() < 0.15:
            return Step(
                CancelSession(
                    decision_id=p.next_id(),
                    actor=rng.choice([cast.therapist, cast.ops]),
                    session_id=session.session_id,
                    reason=rng.choice(["rescheduled", "client_unwell"]),
                )
            )
        remote = session.mode is SessionMode.REMOTE
        return Step(
            StartDosing(
                decision_id=p.next_id(),
                actor=cast.therapist,
                session_id=session.session_id,
                vitals=HIGH_VITALS if rng.random() < 0.15 else NORMAL_VITALS,
                transport_confirmed=rng.random() > 0.03,
                chaperone_present=remote,
            )
        )
    r = rng.random()
    rx = s.prescription
    if rx is not None and not rx.follow_up_done and r < 0.08:
        outcome = FollowUpOutcome.DISCONTINUE if rng.random() < 0.1 else FollowUpOutcome.CONTINUE
        return Step(
            RecordPrescriberFollowUp(
                decision_id=p.next_id(),
                actor=cast.prescriber,
                outcome=outcome,
                expires_at=now + timedelta(days=150),
            )
        )
    if r < 0.18:
        return _screening(p, Instrument.PHQ9)  # a later score: the outcomes read model
    p.sessions += 1
    remote = rng.random() < 0.3
    at = _soon(rng, now)
    return Step(
        ScheduleDosing(
            decision_id=p.next_id(),
            actor=rng.choice([cast.therapist, cast.ops]),
            session_id=f"{p.client_id}-s{p.sessions}",
            scheduled_at=at,
            mode=SessionMode.REMOTE if remote else SessionMode.IN_PERSON,
            chaperone_id=f"chap-{p.client_id}" if remote else None,
        ),
        rest=_wait_for_reminder(rng, at, now),
    )


def _in_session(s: JourneyState, p: Plan, session: DosingSession) -> Step | None:
    rng = p.rng
    p.in_session_steps += 1
    if p.in_session_steps > 6:
        return None
    if session.mode is SessionMode.REMOTE and p.in_session_steps <= p.max_check_ins:
        return Step(
            RecordChaperoneCheckIn(
                decision_id=p.next_id(), actor=CHAPERONE_APP, session_id=session.session_id
            ),
            "signal",
        )
    sid = session.session_id
    if session.dose is None and rng.random() < 0.5:  # the ledger's read model
        mg = rng.choice(["25", "50", "75.5"])
        dose = DoseGiven(dose_mg=mg, route=DoseRoute.INTRAMUSCULAR, lot=f"KET-{rng.randrange(4)}")
        return Step(
            RecordDose(decision_id=p.next_id(), actor=p.cast.therapist, session_id=sid, dose=dose)
        )
    if rng.random() < 0.3:
        return Step(
            RecordSessionMonitoring(
                decision_id=p.next_id(),
                actor=p.cast.therapist,
                session_id=sid,
                vitals=NORMAL_VITALS,
                sedation=rng.choice(list(ObservedLevel)),
                dissociation=ObservedLevel.NONE,
            )
        )
    if rng.random() < 0.1:  # the adverse-event report's read model; severe ones hold
        return Step(
            ReportAdverseEvent(
                decision_id=p.next_id(),
                actor=p.cast.therapist,
                session_id=sid,
                code="nausea",
                severity=rng.choice(list(AdverseEventSeverity)),
            )
        )
    if not p.misfired_early_completion and rng.random() < 0.4:
        p.misfired_early_completion = True  # refused: monitoring lasts at least 30 minutes
        return Step(
            CompleteDosing(
                decision_id=p.next_id(),
                actor=p.cast.therapist,
                session_id=session.session_id,
                vitals=NORMAL_VITALS,
            ),
            misfire=True,
        )
    if s.safety_hold is None and rng.random() < 0.2:
        return Step(RaiseSafetyHold(decision_id=p.next_id(), actor=p.cast.therapist))
    return None


def _misfire(s: JourneyState, p: Plan, now: datetime) -> Step:
    """A decision a clinician might send that the pathway may well refuse."""
    rng, cast = p.rng, p.cast
    did = p.next_id()
    stranger = Actor(id="th-not-assigned", role=Role.THERAPIST)
    options: list[Command] = [
        ApproveMedication(decision_id=did, actor=cast.ops, expires_at=now + timedelta(days=90)),
        CompleteConsultation(decision_id=did, actor=cast.therapist, treatment_goals=["once more"]),
        StartDosing(
            decision_id=did,
            actor=cast.therapist,
            session_id="no-such-session",
            vitals=NORMAL_VITALS,
            transport_confirmed=True,
        ),
        Resume(decision_id=did, actor=cast.therapist),
        ReferToPrescriber(decision_id=did, actor=stranger),
        RecordScreening(
            decision_id=did,
            actor=cast.therapist,
            instrument=Instrument.GAD7,
            answers=[1, 2, 3],
        ),
    ]
    return Step(rng.choice(options), misfire=True)
