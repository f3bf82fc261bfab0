"""Random decision sequences against the pathway's invariants (hypothesis stateful testing)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain import Event, Rejection, RejectionCode, Status, decide, due, evolve, fold
from domain.events import (
    AdverseEventReported,
    DoseRecorded,
    DosingSessionCompleted,
    DosingSessionStarted,
    JourneyClosed,
    SafetyHoldRaised,
    SessionRecordSigned,
)
from domain.vocabulary import Actor, AdverseEventSeverity, Eligibility, ObservedLevel, Role
from tests.domain.journey import (
    CHECK_OK,
    DISCHARGE_OK,
    DOSE,
    OPS,
    PRESCRIBER,
    SYSTEM,
    THERAPIST,
    Journey,
    command,
)

SESSIONS = st.sampled_from(["s1", "s2", "s3"])
ACTORS = st.sampled_from(
    [THERAPIST] * 4
    + [PRESCRIBER] * 3
    + [OPS, SYSTEM, Actor(id="th-2", role=Role.THERAPIST), Actor(id="rx-2", role=Role.PRESCRIBER)]
)
VITALS = st.fixed_dictionaries(
    {"systolic": st.integers(100, 160), "diastolic": st.integers(60, 100)}
)
HOURS = st.integers(-2, 24 * 40).map(lambda h: timedelta(hours=h))
SETUPS = ["none", "started", "eligible", "referred", "approved"] + ["prepared"] * 5


class Pathway(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.j = Journey()

    @initialize(setup=st.sampled_from(SETUPS))
    def setup(self, setup: str) -> None:
        self.sessions = 0
        if setup != "none":
            getattr(self.j, setup)()

    # --- the step every rule takes ----------------------------------------------------

    def step(self, type_: str, actor: Actor, **fields: Any) -> None:
        before = self.j.state
        cmd = command(type_, actor, **fields)
        result = decide(before, cmd, self.j.now)
        assert result == decide(before, cmd, self.j.now), "decide is deterministic"
        if before is not None and before.is_closed:
            assert isinstance(result, Rejection), "a closed journey accepts nothing"
            if actor.role is not Role.SYSTEM and type_ != "start_journey":
                assert result.code in (
                    RejectionCode.CLOSED,
                    RejectionCode.FORBIDDEN_ROLE,
                    RejectionCode.NOT_ASSIGNED,
                )
        if isinstance(result, Rejection):
            assert result.reason
            return
        for event in result:
            hypothesis_event(event.type)
            if isinstance(event, DosingSessionStarted):
                self.check_dose_allowed(event)
            self.j.state = evolve(self.j.state, event)
        self.j.events.extend(result)

    def check_dose_allowed(self, event: Event) -> None:
        assert isinstance(event, DosingSessionStarted)
        s = self.j.state
        assert s is not None
        p = s.protocol
        assert s.eligibility is Eligibility.ELIGIBLE and s.consent is not None
        assert s.prescription is not None and event.occurred_at < s.prescription.expires_at
        assert event.vitals.systolic <= p.bp_systolic_limit
        assert event.vitals.diastolic <= p.bp_diastolic_limit
        assert s.safety_hold is None and not s.paused
        assert s.doses.used < s.doses.authorized
        assert s.doses_since_integration < p.doses_per_integration

    # --- rules: time, and every decision ----------------------------------------------

    @rule(minutes=st.integers(1, 60 * 24 * 10))
    def time_passes(self, minutes: int) -> None:
        self.j.wait(minutes=minutes)

    @precondition(lambda self: bool(due(self.j.state)))
    @rule()
    def a_timer_fires(self) -> None:
        item = due(self.j.state)[0]
        self.j.now = max(self.j.now, item.at)
        self.step("record_due_reached", SYSTEM, kind=item.kind, ref=item.ref, due_at=item.at)

    @rule(actor=ACTORS)
    def start_journey(self, actor: Actor) -> None:
        self.step(
            "start_journey",
            actor,
            journey_id="j-1",
            client_id="cl-1",
            therapist_id="th-1",
            prescriber_id="rx-1",
        )

    @rule(
        actor=ACTORS, instrument=st.sampled_from(["phq9", "gad7", "pcl5", "cssrs"]), data=st.data()
    )
    def record_screening(self, actor: Actor, instrument: str, data: st.DataObject) -> None:
        size, top = {"phq9": (9, 3), "gad7": (7, 3), "pcl5": (20, 4), "cssrs": (7, 1)}[instrument]
        # Mostly valid and mostly without risk; sometimes malformed or risky.
        answers = data.draw(st.lists(st.integers(0, top), min_size=size, max_size=size))
        if data.draw(st.integers(0, 4)):
            answers[-1] = 0
            if instrument == "cssrs":
                answers[3] = answers[4] = 0
        if not data.draw(st.integers(0, 9)):
            answers = answers[1:]
        self.step("record_screening", actor, instrument=instrument, answers=answers)

    @rule(actor=ACTORS, ago=st.integers(-2, 48))
    def record_consent(self, actor: Actor, ago: int) -> None:
        signed = self.j.now - timedelta(hours=ago)
        self.step("record_consent", actor, consent_version="kap-v3", signed_at=signed)

    @rule(
        actor=ACTORS,
        exclusions=st.lists(
            st.sampled_from(["glaucoma", "pregnancy", "liver_disease", "acute_mania"]), max_size=2
        ),
    )
    def complete_consultation(self, actor: Actor, exclusions: list[str]) -> None:
        self.step(
            "complete_consultation", actor, treatment_goals=["g"], contraindications=exclusions
        )

    @rule(actor=ACTORS, cleared=st.booleans())
    def record_medical_clearance(self, actor: Actor, cleared: bool) -> None:
        self.step("record_medical_clearance", actor, cleared=cleared)

    @rule(
        actor=ACTORS,
        type_=st.sampled_from(
            [
                "refer_to_prescriber",
                "acknowledge_referral",
                "complete_preparation",
                "complete_integration",
                "resume",
                "pause",
                "raise_safety_hold",
            ]
        ),
    )
    def simple_decision(self, actor: Actor, type_: str) -> None:
        self.step(type_, actor)

    @rule(
        actor=ACTORS,
        type_=st.sampled_from(["withdraw", "discharge", "decline_medication"]),
        dice=st.integers(0, 9),
    )
    def close_journey(self, actor: Actor, type_: str, dice: int) -> None:
        if dice == 0:  # rarely, so that random runs also reach the later stages
            self.step(type_, actor)

    @rule(bp=VITALS, remote=st.booleans(), wait=st.integers(60, 200), integrate=st.booleans())
    def a_dose_cycle(self, bp: dict[str, int], remote: bool, wait: int, integrate: bool) -> None:
        self.sessions += 1
        sid = f"c{self.sessions}"
        for planned in self.j.state.open_sessions() if self.j.state else []:
            self.step("cancel_session", THERAPIST, session_id=planned.session_id)
        mode = {"mode": "remote", "chaperone_id": "ch-1"} if remote else {}
        self.step(
            "schedule_dosing",
            THERAPIST,
            session_id=sid,
            scheduled_at=self.j.now + timedelta(days=1),
            **mode,
        )
        self.j.wait(days=1)
        self.step(
            "start_dosing",
            THERAPIST,
            session_id=sid,
            vitals=bp,
            transport_confirmed=True,
            chaperone_present=remote,
        )
        self.j.wait(minutes=45)
        self.step("record_session_monitoring", THERAPIST, session_id=sid, **CHECK_OK)
        self.step("record_dose", THERAPIST, session_id=sid, dose=DOSE)
        self.j.wait(minutes=wait)
        self.step("complete_dosing", THERAPIST, session_id=sid, **DISCHARGE_OK)
        self.step("sign_session_record", THERAPIST, session_id=sid)
        if integrate:
            self.j.wait(days=2)
            self.step("complete_integration", THERAPIST)

    @rule(actor=ACTORS, ahead=HOURS)
    def schedule_prescriber_intake(self, actor: Actor, ahead: timedelta) -> None:
        self.step("schedule_prescriber_intake", actor, scheduled_at=self.j.now + ahead)

    @rule(actor=ACTORS, ahead=HOURS, doses=st.none() | st.integers(1, 10))
    def approve_medication(self, actor: Actor, ahead: timedelta, doses: int | None) -> None:
        self.step(
            "approve_medication", actor, expires_at=self.j.now + ahead * 4, doses_authorized=doses
        )

    @rule(
        actor=ACTORS, session=SESSIONS, ahead=HOURS, remote=st.booleans(), chaperone=st.booleans()
    )
    def schedule_dosing(
        self, actor: Actor, session: str, ahead: timedelta, remote: bool, chaperone: bool
    ) -> None:
        self.step(
            "schedule_dosing",
            actor,
            session_id=session,
            scheduled_at=self.j.now + ahead,
            mode="remote" if remote else "in_person",
            chaperone_id="ch-1" if chaperone else None,
        )

    @rule(
        actor=ACTORS,
        session=SESSIONS,
        vitals=VITALS,
        transport=st.booleans(),
        chaperone=st.booleans(),
    )
    def start_dosing(
        self, actor: Actor, session: str, vitals: dict[str, int], transport: bool, chaperone: bool
    ) -> None:
        self.step(
            "start_dosing",
            actor,
            session_id=session,
            vitals=vitals,
            transport_confirmed=transport,
            chaperone_present=chaperone,
        )

    @rule(
        actor=ACTORS,
        session=SESSIONS,
        severe=st.booleans(),
        vitals=VITALS,
        ready=st.booleans(),
        transport=st.booleans(),
    )
    def complete_dosing(
        self,
        actor: Actor,
        session: str,
        severe: bool,
        vitals: dict[str, int],
        ready: bool,
        transport: bool,
    ) -> None:
        adverse = [{"code": "nausea", "severity": "severe" if severe else "mild"}]
        self.step(
            "complete_dosing",
            actor,
            session_id=session,
            vitals=vitals,
            adverse_events=adverse,
            ready_for_discharge=ready,
            transport_confirmed=transport,
        )

    @rule(
        actor=ACTORS,
        session=SESSIONS,
        vitals=VITALS,
        sedation=st.sampled_from(list(ObservedLevel)),
        dissociation=st.sampled_from(list(ObservedLevel)),
    )
    def record_session_monitoring(
        self,
        actor: Actor,
        session: str,
        vitals: dict[str, int],
        sedation: ObservedLevel,
        dissociation: ObservedLevel,
    ) -> None:
        self.step(
            "record_session_monitoring",
            actor,
            session_id=session,
            vitals=vitals,
            sedation=sedation,
            dissociation=dissociation,
        )

    @rule(actor=ACTORS, session=SESSIONS, mg=st.integers(1, 120), wasted=st.integers(0, 20))
    def record_dose(self, actor: Actor, session: str, mg: int, wasted: int) -> None:
        dose = {**DOSE, "dose_mg": str(mg), "wasted_mg": str(wasted)}
        self.step("record_dose", actor, session_id=session, dose=dose)

    @rule(actor=ACTORS, session=SESSIONS, mg=st.integers(1, 120))
    def sign_or_amend_the_record(self, actor: Actor, session: str, mg: int) -> None:
        self.step("sign_session_record", actor, session_id=session)
        dose = {**DOSE, "dose_mg": str(mg)}
        self.step("amend_session_record", actor, session_id=session, reason="typo", dose=dose)

    @rule(actor=ACTORS, session=SESSIONS)
    def grant_discharge_exception(self, actor: Actor, session: str) -> None:
        self.step("grant_discharge_exception", actor, session_id=session, reason="stable_trend")

    @rule(
        actor=ACTORS,
        session=SESSIONS,
        severity=st.sampled_from(list(AdverseEventSeverity)),
        hospitalised=st.booleans(),
    )
    def report_adverse_event(
        self, actor: Actor, session: str, severity: AdverseEventSeverity, hospitalised: bool
    ) -> None:
        self.step(
            "report_adverse_event",
            actor,
            session_id=session,
            code="headache",
            severity=severity,
            seriousness=["hospitalisation"] if hospitalised else [],
        )

    @rule(actor=ACTORS, session=SESSIONS)
    def session_odds_and_ends(self, actor: Actor, session: str) -> None:
        self.step("cancel_session", actor, session_id=session)
        self.step("record_chaperone_check_in", actor, session_id=session)

    @rule(actor=ACTORS, go_on=st.booleans(), ahead=HOURS)
    def record_prescriber_follow_up(self, actor: Actor, go_on: bool, ahead: timedelta) -> None:
        self.step(
            "record_prescriber_follow_up",
            actor,
            outcome="continue" if go_on else "discontinue",
            expires_at=self.j.now + ahead * 4,
        )

    @rule(actor=ACTORS)
    def clear_safety_hold(self, actor: Actor) -> None:
        self.step("clear_safety_hold", actor, assessment_ref="ra-1")

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def fold_equals_the_state_built_step_by_step(self) -> None:
        assert fold(self.j.events) == self.j.state

    @invariant()
    def doses_used_never_exceed_doses_authorized(self) -> None:
        s = self.j.state
        if s is not None:
            assert 0 <= s.doses.used <= s.doses.authorized
            assert s.version == len(self.j.events)

    @invariant()
    def closed_is_final(self) -> None:
        closes = [e for e in self.j.events if isinstance(e, JourneyClosed)]
        assert len(closes) <= 1
        if closes:
            assert self.j.events[-1] is closes[0] or self.j.state is not None
            assert self.j.state is not None and self.j.state.status is Status.CLOSED
            assert due(self.j.state) == []

    @invariant()
    def a_discharge_had_its_safety_checks(self) -> None:
        s = self.j.state
        if s is None:
            return
        p = s.protocol
        for event in self.j.events:
            if isinstance(event, DosingSessionCompleted):
                session = s.sessions[event.session_id]
                assert session.dose is not None
                assert session.during_reading_after(p.vitals_interval_minutes) is not None
                within = (
                    event.vitals.systolic <= p.discharge_systolic_limit
                    and event.vitals.diastolic <= p.discharge_diastolic_limit
                )
                assert within or session.discharge_exception is not None

    @invariant()
    def a_signed_record_changes_only_by_amendment(self) -> None:
        signed: set[str] = set()
        for event in self.j.events:
            if isinstance(event, SessionRecordSigned):
                signed.add(event.session_id)
            if isinstance(event, DoseRecorded):
                assert event.session_id not in signed

    @invariant()
    def a_serious_adverse_event_holds_the_journey(self) -> None:
        for i, event in enumerate(self.j.events):
            if isinstance(event, AdverseEventReported) and event.serious:
                before = fold(self.j.events[:i])
                held_before = before is not None and before.safety_hold is not None
                after = self.j.events[i + 1] if i + 1 < len(self.j.events) else None
                assert held_before or isinstance(after, SafetyHoldRaised)

    @invariant()
    def at_most_one_session_in_progress(self) -> None:
        s = self.j.state
        if s is not None:
            running = [x for x in s.sessions.values() if x.status.value == "in_progress"]
            assert len(running) <= 1


Pathway.TestCase.settings = settings(
    max_examples=3000 if os.environ.get("CAREPATH_HYPOTHESIS") == "long" else 150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPathway = Pathway.TestCase
