"""What is due is derived from state; each occurrence fires once; pause and close empty it."""

from __future__ import annotations

from datetime import timedelta

from domain import DueKind, RejectionCode, due, is_overdue, next_due
from domain.due import DueItem
from tests.domain.journey import PRESCRIBER, SYSTEM, Journey


def kinds(j: Journey) -> dict[DueKind, list[DueItem]]:
    out: dict[DueKind, list[DueItem]] = {}
    for item in due(j.state):
        out.setdefault(item.kind, []).append(item)
    return out


def fire(j: Journey, item: DueItem) -> None:
    j.now = max(j.now, item.at)
    j.do("record_due_reached", SYSTEM, kind=item.kind, ref=item.ref, due_at=item.at)


def test_due_is_sorted_and_next_due_is_the_soonest() -> None:
    j = Journey().prepared()
    items = due(j.state)
    assert items == sorted(items, key=lambda i: i.at)
    assert next_due(j.state) == items[0]
    assert next_due(None) is None and due(None) == []


def test_referral_sla_until_the_intake_is_scheduled() -> None:
    j = Journey().eligible()
    j.do("refer_to_prescriber")
    (sla,) = kinds(j)[DueKind.REFERRAL_SLA]
    assert sla.at == j.now + timedelta(days=14)
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=3))
    assert DueKind.REFERRAL_SLA not in kinds(j)


def test_intake_reminder_moves_with_the_intake() -> None:
    j = Journey().eligible()
    j.do("refer_to_prescriber")
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=3))
    (first,) = kinds(j)[DueKind.INTAKE_REMINDER]
    assert first.at == j.now + timedelta(days=2)
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=6))
    (moved,) = kinds(j)[DueKind.INTAKE_REMINDER]
    assert moved.at == j.now + timedelta(days=5)
    # Less than a day ahead: no reminder (it would come after the decision itself).
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(hours=5))
    assert DueKind.INTAKE_REMINDER not in kinds(j)


def test_session_reminder_follows_the_session() -> None:
    j = Journey().prepared()
    at = j.now + timedelta(days=3)
    j.do("schedule_dosing", session_id="s1", scheduled_at=at)
    (reminder,) = kinds(j)[DueKind.SESSION_REMINDER]
    assert (reminder.at, reminder.ref) == (at - timedelta(hours=24), "s1")
    j.do("raise_safety_hold")
    assert DueKind.SESSION_REMINDER not in kinds(j)
    j.do("clear_safety_hold", assessment_ref="ra-1")
    j.do("cancel_session", session_id="s1")
    assert DueKind.SESSION_REMINDER not in kinds(j)


def test_each_occurrence_fires_once_and_not_early() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=3))
    (reminder,) = kinds(j)[DueKind.SESSION_REMINDER]
    early = j.reject(
        "record_due_reached", SYSTEM, kind=reminder.kind, ref=reminder.ref, due_at=reminder.at
    )
    assert early.code is RejectionCode.NOT_ALLOWED_NOW and "not due until" in early.reason
    fire(j, reminder)
    assert DueKind.SESSION_REMINDER not in kinds(j)
    again = j.reject(
        "record_due_reached", SYSTEM, kind=reminder.kind, ref=reminder.ref, due_at=reminder.at
    )
    assert "no longer due" in again.reason


def test_monitoring_end_and_chaperone_check_ins() -> None:
    j = Journey().prepared()
    j.do(
        "schedule_dosing",
        session_id="s1",
        scheduled_at=j.now + timedelta(hours=2),
        mode="remote",
        chaperone_id="ch-1",
    )
    j.wait(hours=2)
    j.do(
        "start_dosing",
        session_id="s1",
        vitals={"systolic": 120, "diastolic": 80},
        transport_confirmed=True,
        chaperone_present=True,
    )
    started = j.now
    (end,) = kinds(j)[DueKind.MONITORING_END]
    assert end.at == started + timedelta(minutes=120)
    (check,) = kinds(j)[DueKind.CHAPERONE_CHECK_IN]
    assert check.at == started + timedelta(minutes=15)
    j.wait(minutes=10)
    j.do("record_chaperone_check_in", SYSTEM, session_id="s1")
    (check,) = kinds(j)[DueKind.CHAPERONE_CHECK_IN]
    assert check.at == j.now + timedelta(minutes=15)
    fire(j, check)  # missed: the therapist is alerted, and the next one is expected
    (next_check,) = kinds(j)[DueKind.CHAPERONE_CHECK_IN]
    assert next_check.at == check.at + timedelta(minutes=15)
    j.monitored("s1")
    j.wait(minutes=120)
    j.discharged("s1")
    assert DueKind.CHAPERONE_CHECK_IN not in kinds(j) and DueKind.MONITORING_END not in kinds(j)


def test_integration_window_reminder_then_overdue() -> None:
    j = Journey().prepared()
    j.dose("s1", integrate=False)
    completed = j.s.first_unintegrated_at
    assert completed is not None
    (reminder,) = kinds(j)[DueKind.INTEGRATION_REMINDER]
    (overdue,) = kinds(j)[DueKind.INTEGRATION_OVERDUE]
    assert reminder.at == completed + timedelta(days=3)
    assert overdue.at == completed + timedelta(days=7)
    fire(j, reminder)
    fire(j, overdue)
    assert DueKind.INTEGRATION_OVERDUE not in kinds(j)
    j.do("complete_integration")
    assert DueKind.INTEGRATION_REMINDER not in kinds(j)


def test_follow_up_and_expiry_are_due_after_approval() -> None:
    j = Journey().prepared()
    rx = j.s.prescription
    assert rx is not None
    assert kinds(j)[DueKind.PRESCRIBER_FOLLOW_UP][0].at == rx.follow_up_due_at
    assert kinds(j)[DueKind.PRESCRIPTION_EXPIRY][0].at == rx.expires_at
    j.dose("s1")
    new_expiry = j.now + timedelta(days=100)
    j.do("record_prescriber_follow_up", PRESCRIBER, outcome="continue", expires_at=new_expiry)
    assert DueKind.PRESCRIBER_FOLLOW_UP not in kinds(j)
    assert kinds(j)[DueKind.PRESCRIPTION_EXPIRY][0].at == new_expiry


def test_inactivity_nudge_moves_with_activity_and_repeats() -> None:
    j = Journey().eligible()
    (nudge,) = kinds(j)[DueKind.INACTIVITY_NUDGE]
    assert nudge.at == j.now + timedelta(days=21)
    j.wait(days=5)
    j.do("refer_to_prescriber")
    (nudge,) = kinds(j)[DueKind.INACTIVITY_NUDGE]
    assert nudge.at == j.now + timedelta(days=21)
    fire(j, nudge)
    (again,) = kinds(j)[DueKind.INACTIVITY_NUDGE]
    assert again.at == nudge.at + timedelta(days=21)


def test_paused_and_closed_journeys_have_nothing_due() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=3))
    j.do("pause")
    assert due(j.state) == []
    j.do("resume")
    assert due(j.state)
    j.do("withdraw")
    assert due(j.state) == []


def test_overdue_when_a_time_has_passed_or_an_escalation_is_unresolved() -> None:
    j = Journey().prepared()
    assert not is_overdue(j.state, j.now)
    j.dose("s1", integrate=False)  # 12 days later: the window has passed, nothing fired yet
    assert is_overdue(j.state, j.now)
    for item in [i for i in due(j.state) if i.at <= j.now]:
        fire(j, item)
    assert DueKind.INTEGRATION_OVERDUE not in kinds(j)
    assert is_overdue(j.state, j.now)  # fired, still owed
    j.do("complete_integration")
    assert not is_overdue(j.state, j.now)
    j.do("pause")
    assert not is_overdue(j.state, j.now + timedelta(days=365))
