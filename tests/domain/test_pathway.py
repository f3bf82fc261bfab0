"""Every rule of the pathway, stage by stage, with each rejection it makes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import ClosedReason, RejectionCode, Stage, Status, fold
from domain.events import JourneyClosed, SafetyHoldRaised
from domain.protocol import Protocol
from domain.vocabulary import Eligibility, SessionStatus
from tests.domain.journey import OPS, PRESCRIBER, SYSTEM, THERAPIST, Journey

VITALS_OK = {"systolic": 128, "diastolic": 84}


def start_fields(**more: object) -> dict[str, Any]:
    return {"vitals": VITALS_OK, "transport_confirmed": True, **more}


# --- starting ---------------------------------------------------------------------------


def test_a_journey_starts_in_consultation_with_its_protocol() -> None:
    protocol = Protocol(referral_sla_days=10)
    j = Journey().started(protocol=protocol)
    assert (j.s.stage, j.s.status, j.s.version) == (Stage.CONSULTATION, Status.ACTIVE, 1)
    assert j.s.protocol == protocol


def test_nothing_but_a_start_before_the_journey_exists() -> None:
    rejection = Journey().reject("record_consent", consent_version="v1", signed_at=Journey().now)
    assert rejection.code is RejectionCode.NOT_STARTED


def test_a_journey_starts_once() -> None:
    j = Journey().started()
    assert (
        j.reject(
            "start_journey",
            OPS,
            journey_id="j-2",
            client_id="cl-1",
            therapist_id="th-1",
            prescriber_id="rx-1",
        ).code
        is RejectionCode.ALREADY_STARTED
    )


def test_a_therapist_starts_only_their_own_clients() -> None:
    j = Journey()
    rejection = j.reject(
        "start_journey",
        THERAPIST,
        journey_id="j-3",
        client_id="c",
        therapist_id="th-2",
        prescriber_id="rx-1",
    )
    assert rejection.code is RejectionCode.NOT_ASSIGNED


# --- consultation -----------------------------------------------------------------------


def test_consultation_needs_baseline_screening_and_consent() -> None:
    j = Journey().started()
    goals = {"treatment_goals": ["sleep better"]}
    assert "baseline screening" in j.reject("complete_consultation", **goals).reason
    j.do("record_screening", instrument="phq9", answers=[1, 1, 1, 1, 1, 1, 1, 1, 0])
    j.do("record_screening", instrument="gad7", answers=[1] * 7)
    assert "consent" in j.reject("complete_consultation", **goals).reason
    j.do("record_consent", consent_version="kap-v3", signed_at=j.now)
    j.do("complete_consultation", **goals)
    assert (j.s.stage, j.s.eligibility) == (Stage.REFERRAL, Eligibility.ELIGIBLE)
    assert j.reject("complete_consultation", **goals).code is RejectionCode.NOT_ALLOWED_NOW


def test_consent_cannot_be_signed_in_the_future() -> None:
    j = Journey().started()
    rejection = j.reject("record_consent", consent_version="v1", signed_at=j.now + timedelta(1))
    assert rejection.code is RejectionCode.INVALID


@pytest.mark.parametrize("exclusion", ["glaucoma", "ketamine_allergy", "acute_mania"])
def test_an_absolute_exclusion_declines_the_client(exclusion: str) -> None:
    j = Journey().started().screened()
    events = j.do("complete_consultation", treatment_goals=["g"], contraindications=[exclusion])
    assert isinstance(events[-1], JourneyClosed)
    assert (j.s.status, j.s.closed_reason) == (Status.CLOSED, ClosedReason.DECLINED)


def test_the_therapists_judgement_can_decline() -> None:
    j = Journey().started().screened()
    j.do("complete_consultation", treatment_goals=["g"], deemed_unsuitable=True)
    assert j.s.closed_reason is ClosedReason.DECLINED


@pytest.mark.parametrize("cleared", [True, False])
def test_case_by_case_needs_medical_clearance(cleared: bool) -> None:
    j = Journey().started().screened()
    j.do("complete_consultation", treatment_goals=["g"], contraindications=["liver_disease"])
    assert (j.s.stage, j.s.eligibility) == (Stage.CONSULTATION, Eligibility.NEEDS_MEDICAL_CLEARANCE)
    assert j.reject("refer_to_prescriber").code is RejectionCode.NOT_ALLOWED_NOW
    j.do("record_medical_clearance", PRESCRIBER, cleared=cleared)
    if cleared:
        assert j.s.stage is Stage.REFERRAL
        j.do("refer_to_prescriber")
    else:
        assert j.s.closed_reason is ClosedReason.DECLINED


def test_medical_clearance_only_when_needed() -> None:
    j = Journey().eligible()
    assert j.reject("record_medical_clearance", PRESCRIBER, cleared=True).code is (
        RejectionCode.NOT_ALLOWED_NOW
    )


def test_invalid_screening_answers_are_rejected() -> None:
    j = Journey().started()
    rejection = j.reject("record_screening", instrument="phq9", answers=[0] * 5)
    assert rejection.code is RejectionCode.INVALID and "9 answers" in rejection.reason


# --- referral and medication review -----------------------------------------------------


def test_referral_tracks_its_sla_and_intake() -> None:
    j = Journey().eligible()
    j.do("refer_to_prescriber")
    assert j.s.referral_sla_due_at == j.now + timedelta(days=14)
    assert j.reject("refer_to_prescriber").code is RejectionCode.NOT_ALLOWED_NOW
    j.do("acknowledge_referral", SYSTEM)
    assert j.reject("acknowledge_referral", SYSTEM).code is RejectionCode.NOT_ALLOWED_NOW
    past = j.now - timedelta(hours=1)
    assert j.reject("schedule_prescriber_intake", PRESCRIBER, scheduled_at=past).code is (
        RejectionCode.INVALID
    )
    j.do("schedule_prescriber_intake", OPS, scheduled_at=j.now + timedelta(days=3))
    assert j.s.stage is Stage.MEDICATION_REVIEW
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=4))
    assert j.s.intake_at == j.now + timedelta(days=4)


def test_intake_needs_a_referral() -> None:
    j = Journey().eligible()
    rejection = j.reject(
        "schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(1)
    )
    assert "refer" in rejection.reason


def test_only_the_assigned_prescriber_approves() -> None:
    j = Journey().referred()
    expires = {"expires_at": j.now + timedelta(days=90)}
    assert j.reject("approve_medication", THERAPIST, **expires).code is RejectionCode.FORBIDDEN_ROLE
    assert j.reject("approve_medication", OPS, **expires).code is RejectionCode.FORBIDDEN_ROLE
    other = PRESCRIBER.model_copy(update={"id": "rx-2"})
    assert j.reject("approve_medication", other, **expires).code is RejectionCode.NOT_ASSIGNED
    j.do("approve_medication", PRESCRIBER, **expires)
    assert (j.s.doses.authorized, j.s.stage) == (2, Stage.PREPARATION)


def test_approval_limits() -> None:
    j = Journey().referred()
    assert (
        j.reject("approve_medication", PRESCRIBER, expires_at=j.now).code is RejectionCode.INVALID
    )
    later = j.now + timedelta(days=90)
    too_many = j.reject("approve_medication", PRESCRIBER, expires_at=later, doses_authorized=9)
    assert too_many.code is RejectionCode.INVALID


def test_declined_medication_closes_as_not_approved() -> None:
    j = Journey().referred()
    j.do("decline_medication", PRESCRIBER)
    assert j.s.closed_reason is ClosedReason.NOT_APPROVED


def test_no_preparation_required_goes_straight_to_dosing() -> None:
    j = Journey()
    j.started(protocol=Protocol(preparation_sessions_required=0))
    j.screened()
    j.do("complete_consultation", treatment_goals=["g"])
    j.do("refer_to_prescriber")
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=1))
    j.do("approve_medication", PRESCRIBER, expires_at=j.now + timedelta(days=60))
    assert j.s.stage is Stage.DOSING


# --- dosing -----------------------------------------------------------------------------


def test_dosing_waits_for_preparation() -> None:
    j = Journey().approved()
    rejection = j.reject("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(1))
    assert "preparation" in rejection.reason


def test_a_full_dose_is_counted_and_integration_follows() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=2))
    j.wait(days=2)
    j.do("start_dosing", session_id="s1", **start_fields())
    assert j.s.doses.used == 1 and j.s.sessions["s1"].status is SessionStatus.IN_PROGRESS
    j.monitored("s1")
    j.wait(minutes=15)
    rejection = j.reject("complete_dosing", session_id="s1", vitals=VITALS_OK)
    assert "120 minutes" in rejection.reason
    j.wait(minutes=60)
    j.discharged("s1")
    assert j.s.stage is Stage.INTEGRATION
    later = j.now + timedelta(days=3)
    owed = j.reject("schedule_dosing", session_id="s2", scheduled_at=later)
    assert "integration" in owed.reason
    j.do("complete_integration", note_ref="note-1")
    after = j.refolded()
    assert after is not None and after.stage is Stage.DOSING
    j.do("schedule_dosing", session_id="s2", scheduled_at=later)


def test_blood_pressure_over_the_limit_holds_the_session_without_using_a_dose() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    j.do("start_dosing", session_id="s1", **start_fields(vitals={"systolic": 150, "diastolic": 85}))
    assert j.s.sessions["s1"].status is SessionStatus.HELD and j.s.doses.used == 0
    j.do("start_dosing", session_id="s1", **start_fields(vitals={"systolic": 135, "diastolic": 91}))
    assert j.s.doses.used == 0
    j.wait(minutes=20)
    j.do("start_dosing", session_id="s1", **start_fields(vitals={"systolic": 140, "diastolic": 90}))
    assert j.s.doses.used == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"transport_confirmed": False}, "transport"),
    ],
)
def test_start_needs_transport(fields: dict[str, object], reason: str) -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    assert reason in j.reject("start_dosing", session_id="s1", **start_fields(**fields)).reason


def test_remote_sessions_need_a_chaperone() -> None:
    j = Journey().prepared()
    later = j.now + timedelta(days=1)
    no_chaperone = j.reject("schedule_dosing", session_id="s1", scheduled_at=later, mode="remote")
    assert "chaperone" in no_chaperone.reason
    j.do("schedule_dosing", session_id="s1", scheduled_at=later, mode="remote", chaperone_id="ch-1")
    j.wait(days=1)
    assert "chaperone" in j.reject("start_dosing", session_id="s1", **start_fields()).reason
    j.do("start_dosing", session_id="s1", **start_fields(chaperone_present=True))
    j.wait(minutes=10)
    j.do("record_chaperone_check_in", SYSTEM, session_id="s1")
    assert j.s.sessions["s1"].check_in_anchor == j.now


def test_a_session_cannot_start_long_before_its_time() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    assert (
        "before its scheduled time"
        in j.reject("start_dosing", session_id="s1", **start_fields()).reason
    )
    j.wait(hours=23)
    j.do("start_dosing", session_id="s1", **start_fields())


def test_scheduling_rules() -> None:
    j = Journey().prepared()
    assert j.reject("schedule_dosing", session_id="s1", scheduled_at=j.now).code is (
        RejectionCode.INVALID
    )
    after_expiry = j.now + timedelta(days=200)
    assert (
        "expires" in j.reject("schedule_dosing", session_id="s1", scheduled_at=after_expiry).reason
    )
    j.do("schedule_dosing", OPS, session_id="s1", scheduled_at=j.now + timedelta(days=1))
    second = j.reject("schedule_dosing", session_id="s2", scheduled_at=j.now + timedelta(days=3))
    assert "already planned" in second.reason
    j.do("cancel_session", session_id="s1")
    again = j.reject("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=3))
    assert "already used" in again.reason
    j.do("schedule_dosing", session_id="s2", scheduled_at=j.now + timedelta(days=3))
    assert j.reject("cancel_session", session_id="nope").code is RejectionCode.INVALID


def test_doses_respect_the_minimum_interval() -> None:
    j = Journey().prepared()
    j.dose("s1")  # ends 12 days after the dose
    protocol = j.s.protocol.model_copy(update={"min_hours_between_doses": 24 * 20})
    j.state = j.s.model_copy(update={"protocol": protocol})
    soon = j.reject("schedule_dosing", session_id="s2", scheduled_at=j.now + timedelta(days=1))
    assert "apart" in soon.reason


def test_an_expired_prescription_stops_dosing() -> None:
    j = Journey().referred()
    j.wait(days=5)  # a prescription that expires before its follow-up is due
    j.do("approve_medication", PRESCRIBER, expires_at=j.now + timedelta(days=20))
    j.do("complete_preparation")
    expiry = j.s.prescription.expires_at if j.s.prescription else None
    assert expiry is not None
    j.do("schedule_dosing", session_id="s1", scheduled_at=expiry - timedelta(hours=1))
    j.now = expiry
    assert "expired" in j.reject("start_dosing", session_id="s1", **start_fields()).reason


def test_the_follow_up_authorizes_more_doses() -> None:
    j = Journey().prepared()
    j.dose("s1")
    j.dose("s2")
    assert j.s.stage is Stage.PRESCRIBER_FOLLOW_UP
    rejection = j.reject("schedule_dosing", session_id="s3", scheduled_at=j.now + timedelta(1))
    assert "follow-up" in rejection.reason
    assert j.reject("record_prescriber_follow_up", PRESCRIBER, outcome="continue").code is (
        RejectionCode.INVALID
    )
    j.do(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        expires_at=j.now + timedelta(days=150),
    )
    assert (j.s.doses.authorized, j.s.doses.used, j.s.stage) == (8, 2, Stage.DOSING)
    assert j.reject(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        expires_at=j.now + timedelta(days=150),
    ).reason


def test_the_course_completes_when_every_dose_is_integrated() -> None:
    j = Journey().prepared()
    j.dose("s1")
    j.do(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        additional_doses=1,
        expires_at=j.now + timedelta(days=150),
    )
    j.dose("s2")
    j.dose("s3", integrate=False)
    assert j.s.status is Status.ACTIVE and j.s.stage is Stage.INTEGRATION
    j.do("complete_integration")
    assert (j.s.stage, j.s.closed_reason) == (Stage.COMPLETED, ClosedReason.COMPLETED)


def test_discontinuing_at_follow_up_discharges() -> None:
    j = Journey().prepared()
    j.dose("s1")
    j.do("schedule_dosing", session_id="s2", scheduled_at=j.now + timedelta(days=2))
    j.do("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    assert j.s.closed_reason is ClosedReason.DISCHARGED
    assert j.s.sessions["s2"].status is SessionStatus.CANCELLED


def test_relaxed_protocol_allows_two_doses_per_integration() -> None:
    j = Journey()
    j.started(protocol=Protocol(doses_per_integration=2))
    j.screened()
    j.do("complete_consultation", treatment_goals=["g"])
    j.do("refer_to_prescriber")
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=1))
    j.do(
        "approve_medication", PRESCRIBER, expires_at=j.now + timedelta(days=90), doses_authorized=4
    )
    j.do("complete_preparation")
    j.dose("s1", integrate=False)
    j.do("schedule_dosing", session_id="s2", scheduled_at=j.now + timedelta(days=1))
    j.do("cancel_session", session_id="s2")
    j.dose("s3", integrate=False)
    assert (
        "integration"
        in j.reject(
            "schedule_dosing", session_id="s4", scheduled_at=j.now + timedelta(days=1)
        ).reason
    )
    j.do("complete_integration")
    assert j.events[-1].doses_integrated == 2  # type: ignore[union-attr]


def test_a_session_in_progress_cannot_be_cancelled_or_walked_away_from() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    j.do("start_dosing", session_id="s1", **start_fields())
    for type_ in ("pause", "withdraw", "discharge"):
        assert "in progress" in j.reject(type_, THERAPIST).reason
    assert "in_progress" in j.reject("cancel_session", session_id="s1").reason


# --- at any point -----------------------------------------------------------------------


def test_safety_hold_stops_dosing_until_a_clinician_clears_it() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.do("raise_safety_hold", OPS, reason="crisis_call")
    assert j.s.status is Status.SAFETY_HOLD
    assert j.reject("raise_safety_hold").code is RejectionCode.NOT_ALLOWED_NOW
    j.wait(days=1)
    assert "safety hold" in j.reject("start_dosing", session_id="s1", **start_fields()).reason
    assert j.reject("clear_safety_hold", OPS, assessment_ref="a-1").code is (
        RejectionCode.FORBIDDEN_ROLE
    )
    j.do("clear_safety_hold", THERAPIST, assessment_ref="risk-assessment-1")
    j.do("start_dosing", session_id="s1", **start_fields())


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1]), ("cssrs", [1, 1, 1, 1, 0, 0, 0])],
)
def test_instruments_raise_a_safety_hold(instrument: str, answers: list[int]) -> None:
    j = Journey().started()
    events = j.do("record_screening", instrument=instrument, answers=answers)
    assert isinstance(events[-1], SafetyHoldRaised) and j.s.status is Status.SAFETY_HOLD
    # Another risky answer while held records the screening but raises nothing new.
    assert len(j.do("record_screening", instrument=instrument, answers=answers)) == 1


def test_a_severe_adverse_event_raises_a_safety_hold() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    j.do("start_dosing", session_id="s1", **start_fields())
    j.monitored("s1")
    j.wait(hours=2)
    j.discharged("s1", adverse_events=[{"code": "dissociation_distress", "severity": "severe"}])
    assert j.s.safety_hold is not None and j.s.safety_hold.source.value == "adverse_event"


def test_pause_and_resume() -> None:
    j = Journey().prepared()
    j.do("pause", OPS)
    assert j.s.status is Status.PAUSED
    assert j.reject("pause").code is RejectionCode.NOT_ALLOWED_NOW
    later = j.now + timedelta(days=2)
    assert "paused" in j.reject("schedule_dosing", session_id="s1", scheduled_at=later).reason
    j.do("resume")
    assert j.reject("resume").code is RejectionCode.NOT_ALLOWED_NOW
    j.do("schedule_dosing", session_id="s1", scheduled_at=later)


def test_withdraw_closes_and_cancels_planned_sessions() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.do("withdraw", OPS)
    assert (j.s.closed_reason, j.s.sessions["s1"].status) == (
        ClosedReason.WITHDRAWN,
        SessionStatus.CANCELLED,
    )


@pytest.mark.parametrize("type_", ["pause", "resume", "withdraw", "discharge", "raise_safety_hold"])
def test_closed_journeys_accept_nothing(type_: str) -> None:
    j = Journey().eligible()
    j.do("discharge")
    assert j.reject(type_).code is RejectionCode.CLOSED


def test_ops_decide_nothing_clinical() -> None:
    j = Journey().prepared()
    for type_ in ("complete_preparation", "discharge", "complete_integration"):
        assert j.reject(type_, OPS).code is RejectionCode.FORBIDDEN_ROLE


def test_a_clinician_cannot_act_as_the_engine() -> None:
    j = Journey().eligible()
    rejection = j.reject(
        "record_due_reached", THERAPIST, kind="inactivity_nudge", ref="inactivity", due_at=j.now
    )
    assert rejection.code is RejectionCode.FORBIDDEN_ROLE


def test_other_therapists_are_not_assigned() -> None:
    j = Journey().eligible()
    other = THERAPIST.model_copy(update={"id": "th-9"})
    assert j.reject("refer_to_prescriber", other).code is RejectionCode.NOT_ASSIGNED


def test_every_decision_is_attributed() -> None:
    j = Journey().prepared()
    assert all(e.actor and e.decision_id for e in j.events)
    assert j.s.last_decision is not None and j.s.last_decision.actor == THERAPIST
    assert fold(j.events) == j.s
