"""What the journey view shows clinicians of a course: the hold and why, a stopping course,
booked visits, and each dosing session's vitals and monitoring end."""

from __future__ import annotations

from datetime import timedelta

from domain.view import journey_view
from domain.vocabulary import SessionStatus
from tests.domain.journey import OPS, THERAPIST, Journey

HIGH = {"systolic": 170, "diastolic": 104}
OK = {"systolic": 122, "diastolic": 80}


def test_the_view_shows_the_session_vitals_and_when_monitoring_may_end() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=1))
    j.wait(days=1)
    j.do("start_dosing", session_id="s1", vitals=HIGH, transport_confirmed=True)
    (held,) = journey_view(j.s).sessions
    assert held.status is SessionStatus.HELD and held.last_vitals is not None
    assert (held.last_vitals.systolic, held.last_vitals.diastolic) == (170, 104)
    assert held.monitoring_ends_at is None
    j.wait(minutes=20)
    j.do("start_dosing", session_id="s1", vitals=OK, transport_confirmed=True)
    (started,) = journey_view(j.s).sessions
    minutes = j.s.protocol.min_monitoring_minutes
    assert started.started_at == j.now
    assert started.monitoring_ends_at == j.now + timedelta(minutes=minutes)
    assert started.last_vitals is not None and started.last_vitals.systolic == 122


def test_the_view_shows_the_hold_the_stop_and_the_visits() -> None:
    j = Journey().approved()
    at = j.now + timedelta(days=3)
    j.do("schedule_visit", visit_id="v1", kind="preparation", scheduled_at=at)
    j.do("raise_safety_hold", THERAPIST, reason="clinical_concern")
    view = journey_view(j.s)
    assert view.safety_hold is not None and view.safety_hold.reason == "clinical_concern"
    assert [(v.visit_id, v.scheduled_at) for v in view.visits] == [("v1", at)]
    j.do("clear_safety_hold", THERAPIST, assessment_ref="as-1")
    j.do("cancel_visit", OPS, visit_id="v1")
    j.do("complete_preparation")
    j.dose("s1")
    j.do("withdraw", OPS)
    view = journey_view(j.s)
    assert view.safety_hold is None and view.visits == []
    assert view.stopping is not None and view.stopping.reason.value == "withdrawn"
