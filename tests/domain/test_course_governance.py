"""Issue 13's rules of the course: the follow-up by date, a stopping course owes a discharge
follow-up, a safety hold stops progression and follows the client, every visit is scheduled,
clients can be reassigned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import Rejection, RejectionCode
from domain.decide import DISCHARGE_FOLLOW_UP_DAYS, HOLD_ALLOWS, HOLD_STOPS
from domain.due import due, is_overdue
from domain.events import CourseStopping, JourneyClosed, SafetyHoldRaised
from domain.notifications import Recipient, Template, notices
from domain.roles import ALLOWED_ROLES
from domain.rules import BEFORE_COURSE_GOVERNANCE
from domain.vocabulary import (
    Actor,
    ClosedReason,
    DueKind,
    Role,
    SessionStatus,
    Stage,
    Status,
    VisitStatus,
)
from tests.domain.journey import OPS, PRESCRIBER, THERAPIST, Journey, decide_with

START = {"vitals": {"systolic": 120, "diastolic": 80}, "transport_confirmed": True}


def kinds(j: Journey) -> dict[DueKind, list[Any]]:
    out: dict[DueKind, list[Any]] = {}
    for item in due(j.s):
        out.setdefault(item.kind, []).append(item)
    return out


def approved_for(doses: int) -> Journey:
    j = Journey().referred()
    j.wait(days=5)
    j.do(
        "approve_medication",
        PRESCRIBER,
        doses_authorized=doses,
        expires_at=j.now + timedelta(days=180),
    )
    j.do("complete_preparation")
    return j


# --- the prescriber follow-up by date -------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(days_after=st.integers(min_value=0, max_value=90), doses=st.integers(2, 8))
def test_no_dose_is_scheduled_after_the_follow_up_date_until_it_is_recorded(
    days_after: int, doses: int
) -> None:
    j = approved_for(doses)
    rx = j.s.prescription
    assert rx is not None
    at = j.now + timedelta(days=days_after, hours=1)
    result = j.try_("schedule_dosing", session_id="s1", scheduled_at=at)
    if at >= rx.follow_up_due_at:
        assert isinstance(result, Rejection)
        assert "follow-up is due by" in result.reason
        assert f"{rx.follow_up_due_at:%Y-%m-%d}" in result.reason
    else:
        assert not isinstance(result, Rejection), result


def quick_dose(j: Journey, session_id: str) -> None:
    """A dose a day after scheduling it, integrated the next day."""
    j.do("schedule_dosing", session_id=session_id, scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    j.do("start_dosing", session_id=session_id, **START)
    j.monitored(session_id)
    j.wait(minutes=80)
    j.discharged(session_id)
    j.do("sign_session_record", session_id=session_id)
    j.wait(days=1)
    j.do("complete_integration")


def test_dose_4_of_8_waits_for_the_follow_up_42_days_on() -> None:
    """The finding: 8 doses approved and 42 days without a follow-up, dose 4 still scheduled."""
    j = approved_for(8)
    approved_at = j.now
    for n in (1, 2, 3):
        quick_dose(j, f"s{n}")
    j.now = approved_at + timedelta(days=42)
    assert j.s.doses.remaining == 5
    rejection = j.reject("schedule_dosing", session_id="s4", scheduled_at=j.now + timedelta(1))
    assert "follow-up" in rejection.reason
    assert is_overdue(j.s, j.now)
    j.do(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        expires_at=j.now + timedelta(days=90),
    )
    j.do("schedule_dosing", session_id="s4", scheduled_at=j.now + timedelta(days=1))


def test_a_session_scheduled_before_the_date_does_not_start_after_it() -> None:
    j = approved_for(8)
    rx = j.s.prescription
    assert rx is not None
    j.do("schedule_dosing", session_id="s1", scheduled_at=rx.follow_up_due_at - timedelta(hours=2))
    j.now = rx.follow_up_due_at
    rejection = j.reject("start_dosing", session_id="s1", **START)
    assert "follow-up is due by" in rejection.reason


@given(outcome=st.sampled_from(["continue", "discontinue"]))
def test_a_follow_up_needs_a_dose_first(outcome: str) -> None:
    j = approved_for(2)
    fields: dict[str, Any] = {"outcome": outcome}
    if outcome == "continue":
        fields["expires_at"] = j.now + timedelta(days=90)
    rejection = j.reject("record_prescriber_follow_up", PRESCRIBER, **fields)
    assert "after the first dose" in rejection.reason
    j.dose("s1")
    j.do("record_prescriber_follow_up", PRESCRIBER, **fields)


def test_the_earlier_rules_still_gate_by_count_only() -> None:
    j = approved_for(8)
    j.now = j.s.started_at + timedelta(days=60)
    result = decide_with(
        j,
        BEFORE_COURSE_GOVERNANCE,
        "schedule_dosing",
        session_id="s1",
        scheduled_at=j.now + timedelta(days=1),
    )
    assert not isinstance(result, Rejection)


# --- a stopping course owes a discharge follow-up ---------------------------------------------


@given(how=st.sampled_from(["withdraw", "discharge"]), by=st.sampled_from([THERAPIST, OPS]))
def test_stopping_after_a_dose_owes_the_discharge_follow_up(how: str, by: Actor) -> None:
    if how == "discharge" and by.role is Role.OPS:
        by = THERAPIST  # ops may withdraw, not discharge
    j = approved_for(4)
    j.dose("s1")
    j.do("schedule_dosing", session_id="s2", scheduled_at=j.now + timedelta(days=1))
    events = j.do(how, by)
    reason = ClosedReason.WITHDRAWN if how == "withdraw" else ClosedReason.DISCHARGED
    assert not j.s.is_closed
    assert j.s.sessions["s2"].status is SessionStatus.CANCELLED
    stopping = [e for e in events if isinstance(e, CourseStopping)]
    assert stopping and stopping[0].reason is reason
    assert "stopping" in j.reject("schedule_dosing", session_id="s3", scheduled_at=j.now).reason
    (item,) = kinds(j)[DueKind.DISCHARGE_FOLLOW_UP]
    assert item.at == j.now + timedelta(days=DISCHARGE_FOLLOW_UP_DAYS)
    assert DueKind.PRESCRIBER_FOLLOW_UP not in kinds(j)
    told = notices(j.s, [("e1", e) for e in events])
    assert (Recipient.PRESCRIBER, Template.DISCHARGE_FOLLOW_UP_DUE) in {
        (n.recipient, n.template) for n in told
    }
    assert "already stopping" in j.reject(how, by).reason
    assert "stopping" in j.reject("pause", by).reason
    cont = {"outcome": "continue", "expires_at": j.now + timedelta(days=30)}
    assert "discontinue" in j.reject("record_prescriber_follow_up", PRESCRIBER, **cont).reason
    closed = j.do("record_prescriber_follow_up", PRESCRIBER, outcome="discontinue")
    assert j.s.closed_reason is reason
    assert isinstance(closed[-1], JourneyClosed) and closed[-1].detail == stopping[0].detail


def test_a_paused_course_that_stops_owes_its_follow_up_at_once() -> None:
    j = approved_for(2)
    j.dose("s1")
    j.do("pause", OPS, reason="client_travel")
    j.do("withdraw", OPS)
    assert not j.s.paused and j.s.stopping is not None
    assert DueKind.DISCHARGE_FOLLOW_UP in kinds(j)


def test_a_late_discharge_follow_up_stays_overdue_until_recorded() -> None:
    j = approved_for(2)
    j.dose("s1")
    j.do("withdraw", OPS)
    j.wait(days=DISCHARGE_FOLLOW_UP_DAYS, minutes=1)
    (item,) = kinds(j)[DueKind.DISCHARGE_FOLLOW_UP]
    j.do("record_due_reached", Actor(id="carepath", role=Role.SYSTEM), **_due(item))
    assert DueKind.DISCHARGE_FOLLOW_UP not in kinds(j)
    assert is_overdue(j.s, j.now)


def _due(item: Any) -> dict[str, Any]:
    return {"kind": item.kind.value, "ref": item.ref, "due_at": item.at}


def test_stopping_before_any_dose_or_by_the_prescriber_closes_at_once() -> None:
    j = approved_for(2)
    j.do("withdraw", OPS)
    assert j.s.closed_reason is ClosedReason.WITHDRAWN
    j = approved_for(2)
    j.dose("s1")
    j.do("discharge", PRESCRIBER)
    assert j.s.closed_reason is ClosedReason.DISCHARGED
    j = approved_for(2)
    j.dose("s1")
    result = decide_with(j, BEFORE_COURSE_GOVERNANCE, "withdraw")
    assert not isinstance(result, Rejection)
    assert isinstance(result[-1], JourneyClosed)


# --- a safety hold stops progression and follows the client -----------------------------------


def test_every_decision_is_placed_on_one_side_of_a_hold() -> None:
    decisions = set(ALLOWED_ROLES) - {"start_journey"}
    assert decisions == HOLD_STOPS | HOLD_ALLOWS
    assert not HOLD_STOPS & HOLD_ALLOWS


_STEPS = ["started", "eligible", "referred", "approved", "prepared"]
_PROGRESS: dict[str, tuple[str, Actor, dict[str, Any]]] = {
    "started": ("complete_consultation", THERAPIST, {"treatment_goals": ["feel better"]}),
    "eligible": ("refer_to_prescriber", THERAPIST, {}),
    "referred": ("approve_medication", PRESCRIBER, {"expires_at": None}),
    "approved": ("complete_preparation", THERAPIST, {}),
    "prepared": ("schedule_dosing", THERAPIST, {"session_id": "s9", "scheduled_at": None}),
}


@settings(max_examples=30, deadline=None)
@given(step=st.sampled_from(_STEPS), raiser=st.sampled_from([THERAPIST, PRESCRIBER, OPS]))
def test_while_held_the_course_does_not_move_on(step: str, raiser: Actor) -> None:
    j = Journey()
    getattr(j, step)()
    if step == "started":
        j.screened()
    if step == "referred":
        j.wait(days=5)
    j.do("raise_safety_hold", raiser, reason="clinical_concern")
    type_, actor, fields = _PROGRESS[step]
    fields = {k: (v if v is not None else j.now + timedelta(days=3)) for k, v in fields.items()}
    rejection = j.reject(type_, actor, **fields)
    assert rejection.code is RejectionCode.NOT_ALLOWED_NOW
    assert "safety hold" in rejection.reason
    j.do("record_screening", instrument="phq9", answers=[1] * 9)  # assessment goes on
    j.do("clear_safety_hold", PRESCRIBER, assessment_ref="as-1")
    j.do(type_, actor, **fields)


def test_a_held_course_still_discharges_the_client_in_the_chair() -> None:
    j = approved_for(2)
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    j.do("start_dosing", session_id="s1", **START)
    j.do("raise_safety_hold", THERAPIST, reason="clinical_concern")
    j.monitored("s1")
    j.wait(minutes=80)
    j.discharged("s1")
    j.do("sign_session_record", session_id="s1")
    assert "safety hold" in j.reject("complete_integration").reason
    j.do("withdraw", OPS)
    assert j.s.stopping is not None


def test_a_new_journey_starts_on_the_hold_its_client_left_with() -> None:
    held = {"journey_id": "j-0", "reason": "phq9_risk"}
    j = Journey().started(held_over=held)
    assert j.s.status is Status.SAFETY_HOLD
    assert j.s.safety_hold is not None and j.s.safety_hold.reason == "phq9_risk"
    assert isinstance(j.events[1], SafetyHoldRaised)
    j.screened()
    assert "safety hold" in j.reject("complete_consultation", treatment_goals=["x"]).reason
    assert j.reject("clear_safety_hold", OPS, assessment_ref="a-1").code is (
        RejectionCode.FORBIDDEN_ROLE
    )
    j.do("clear_safety_hold", THERAPIST, assessment_ref="a-1")
    j.do("complete_consultation", treatment_goals=["reduce depressive symptoms"])


# --- every visit can be scheduled ---------------------------------------------------------------


def test_a_preparation_visit_is_reminded_and_done_when_recorded() -> None:
    j = Journey().approved()
    at = j.now + timedelta(days=3)
    j.do("schedule_visit", visit_id="v1", kind="preparation", scheduled_at=at)
    (reminder,) = kinds(j)[DueKind.VISIT_REMINDER]
    assert reminder.at == at - timedelta(hours=j.s.protocol.appointment_reminder_hours)
    j.wait(days=2, hours=1)
    (item,) = kinds(j)[DueKind.VISIT_REMINDER]
    events = j.do("record_due_reached", Actor(id="carepath", role=Role.SYSTEM), **_due(item))
    (notice,) = notices(j.s, [("e1", events[0])])
    assert (notice.recipient, notice.template, notice.at) == (
        Recipient.CLIENT,
        Template.APPOINTMENT_REMINDER,
        at,
    )
    j.wait(days=1)
    j.do("complete_preparation")
    assert j.s.visits["v1"].status is VisitStatus.DONE


@given(
    kind=st.sampled_from(["preparation", "integration", "prescriber_follow_up"]),
    by=st.sampled_from([THERAPIST, PRESCRIBER, OPS]),
)
def test_who_books_which_visit(kind: str, by: Actor) -> None:
    j = Journey().approved()
    j.do("complete_preparation")
    j.dose("s1", integrate=False)
    if kind == "preparation":
        j = Journey().approved()
    result = j.try_(
        "schedule_visit", by, visit_id="v1", kind=kind, scheduled_at=j.now + timedelta(1)
    )
    books = {"prescriber_follow_up": {Role.PRESCRIBER, Role.OPS}}.get(
        kind, {Role.THERAPIST, Role.OPS}
    )
    assert isinstance(result, Rejection) is (by.role not in books)


def test_visits_refuse_the_past_a_used_id_and_a_closed_kind() -> None:
    j = Journey().eligible()
    past = j.now - timedelta(hours=1)
    assert (
        "future"
        in j.reject("schedule_visit", visit_id="v1", kind="preparation", scheduled_at=past).reason
    )
    later = j.now + timedelta(days=1)
    assert (
        "preparation"
        in j.reject("schedule_visit", visit_id="v1", kind="preparation", scheduled_at=later).reason
    )
    j = Journey().approved()
    j.do("schedule_visit", visit_id="v1", kind="preparation", scheduled_at=later + timedelta(5))
    assert (
        "already used"
        in j.reject(
            "schedule_visit", visit_id="v1", kind="preparation", scheduled_at=later + timedelta(6)
        ).reason
    )
    j.do("cancel_visit", OPS, visit_id="v1")
    assert DueKind.VISIT_REMINDER not in kinds(j)
    assert "cancelled" in j.reject("cancel_visit", visit_id="v1").reason


def test_a_follow_up_visit_is_done_when_the_follow_up_is_recorded() -> None:
    j = approved_for(2)
    j.dose("s1")
    at = j.now + timedelta(days=2)
    j.do("schedule_visit", PRESCRIBER, visit_id="fu", kind="prescriber_follow_up", scheduled_at=at)
    j.now = at
    j.do(
        "record_prescriber_follow_up",
        PRESCRIBER,
        outcome="continue",
        expires_at=j.now + timedelta(days=90),
    )
    assert j.s.visits["fu"].status is VisitStatus.DONE
    assert j.s.stage in (Stage.DOSING, Stage.INTEGRATION)


# --- reassignment ------------------------------------------------------------------------------


def test_ops_reassign_the_therapist_and_the_new_one_decides() -> None:
    j = Journey().eligible()
    assert j.reject(
        "reassign_clinician", THERAPIST, role="therapist", clinician_id="th-2"
    ).code is (RejectionCode.FORBIDDEN_ROLE)
    assert (
        "already"
        in j.reject("reassign_clinician", OPS, role="therapist", clinician_id="th-1").reason
    )
    events = j.do("reassign_clinician", OPS, role="therapist", clinician_id="th-2")
    assert j.s.therapist_id == "th-2"
    (notice,) = notices(j.s, [("e1", events[0])])
    assert (notice.recipient_id, notice.template) == ("th-2", Template.CLIENT_ASSIGNED)
    assert j.reject("refer_to_prescriber").code is RejectionCode.NOT_ASSIGNED
    j.do("refer_to_prescriber", Actor(id="th-2", role=Role.THERAPIST))
    j.do("reassign_clinician", OPS, role="prescriber", clinician_id="rx-2")
    assert j.s.prescriber_id == "rx-2"
    assert j.refolded() == j.state
