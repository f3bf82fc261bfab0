"""What is due: deadlines and reminders derived from state, as data the workflow turns into
timers. Paused and closed journeys have nothing due; each occurrence fires once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.evolve import due_key
from domain.rules import CURRENT, Rules
from domain.state import JourneyState
from domain.vocabulary import DueKind, SessionMode, SessionStatus, Stage


class DueItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DueKind
    at: AwareDatetime
    ref: str  # what it is about: a session id, "referral", "intake", …

    @property
    def key(self) -> str:
        return due_key(self.kind, self.ref, self.at)


def _candidates(state: JourneyState, rules: Rules) -> list[DueItem]:
    p = state.protocol
    items: list[DueItem] = []
    lead = timedelta(hours=p.appointment_reminder_hours)

    def add(kind: DueKind, at: datetime, ref: str) -> None:
        items.append(DueItem(kind=kind, at=at, ref=ref))

    if state.referral_sla_due_at is not None and state.intake_at is None:
        add(DueKind.REFERRAL_SLA, state.referral_sla_due_at, "referral")
    if (
        state.stage is Stage.MEDICATION_REVIEW
        and state.intake_at is not None
        and state.intake_scheduled_on is not None
        and state.intake_at - lead > state.intake_scheduled_on
    ):
        add(DueKind.INTAKE_REMINDER, state.intake_at - lead, "intake")
    for session in state.sessions.values():
        if (
            session.status is SessionStatus.SCHEDULED
            and state.safety_hold is None
            and session.scheduled_at - lead > session.scheduled_on
        ):
            add(DueKind.SESSION_REMINDER, session.scheduled_at - lead, session.session_id)
        if session.status is SessionStatus.IN_PROGRESS and session.started_at is not None:
            end = session.started_at + timedelta(minutes=p.min_monitoring_minutes)
            add(DueKind.MONITORING_END, end, session.session_id)
            if session.mode is SessionMode.REMOTE and session.check_in_anchor is not None:
                every = timedelta(minutes=p.chaperone_check_in_minutes)
                add(DueKind.CHAPERONE_CHECK_IN, session.check_in_anchor + every, session.session_id)
            if (
                rules.session_safety
                and session.during_reading_after(p.vitals_interval_minutes) is None
            ):
                at = session.started_at + timedelta(minutes=p.vitals_interval_minutes)
                add(DueKind.VITALS_CHECK, at, session.session_id)
        if (
            rules.session_safety
            and session.completed_at is not None
            and session.status is SessionStatus.COMPLETED
            and session.record_signed_at is None
        ):
            at = session.completed_at + timedelta(days=p.monitoring_record_days)
            add(DueKind.MONITORING_RECORD, at, session.session_id)
    if state.first_unintegrated_at is not None and state.first_unintegrated_ref is not None:
        start, ref = state.first_unintegrated_at, state.first_unintegrated_ref
        add(
            DueKind.INTEGRATION_REMINDER,
            start + timedelta(days=p.integration_reminder_after_days),
            ref,
        )
        add(DueKind.INTEGRATION_OVERDUE, start + timedelta(days=p.integration_window_days), ref)
    for visit in state.scheduled_visits():
        if visit.scheduled_at - lead > visit.scheduled_on:
            add(DueKind.VISIT_REMINDER, visit.scheduled_at - lead, visit.visit_id)
    rx = state.prescription
    if state.stopping is not None:
        # No more doses: the discharge follow-up replaces the course's follow-up and expiry.
        add(DueKind.DISCHARGE_FOLLOW_UP, state.stopping.follow_up_due_at, "discharge_follow_up")
    else:
        if rx is not None and not rx.follow_up_done:
            add(DueKind.PRESCRIBER_FOLLOW_UP, rx.follow_up_due_at, "follow_up")
        if rx is not None and state.doses.remaining > 0:
            add(DueKind.PRESCRIPTION_EXPIRY, rx.expires_at, "prescription")
    anchor = max(state.last_activity_at, state.last_nudge_at or state.last_activity_at)
    add(DueKind.INACTIVITY_NUDGE, anchor + timedelta(days=p.inactivity_nudge_days), "inactivity")
    return items


def due(state: JourneyState | None, rules: Rules = CURRENT) -> list[DueItem]:
    """Everything still to fire, soonest first."""
    if state is None or state.is_closed or state.paused:
        return []
    pending = [item for item in _candidates(state, rules) if item.key not in state.fired]
    return sorted(pending, key=lambda item: (item.at, item.kind.value, item.ref))


def next_due(state: JourneyState | None, rules: Rules = CURRENT) -> DueItem | None:
    """The soonest due item: the one timer the workflow keeps."""
    items = due(state, rules)
    return items[0] if items else None


# Escalations that stay overdue after they fire, until the state resolves them.
def _unresolved_escalation(state: JourneyState, kind: DueKind, ref: str, rules: Rules) -> bool:
    if rules.session_safety and kind is DueKind.CHAPERONE_CHECK_IN:
        session = state.sessions.get(ref)
        return (
            session is not None
            and session.status is SessionStatus.IN_PROGRESS
            and session.check_in_missed
        )
    if rules.session_safety and kind is DueKind.MONITORING_RECORD:
        session = state.sessions.get(ref)
        return session is not None and session.record_signed_at is None
    if kind is DueKind.INTEGRATION_OVERDUE:
        return state.doses_since_integration > 0
    if kind is DueKind.REFERRAL_SLA:
        return state.referral_sent_at is not None and state.intake_at is None
    if kind is DueKind.PRESCRIBER_FOLLOW_UP:
        return state.prescription is not None and not state.prescription.follow_up_done
    if kind is DueKind.DISCHARGE_FOLLOW_UP:
        return state.stopping is not None
    return False


def is_overdue(state: JourneyState | None, now: datetime, rules: Rules = CURRENT) -> bool:
    """Something is late: a due time has passed, or an escalation fired and is unresolved."""
    if state is None or state.is_closed or state.paused:
        return False
    if any(item.at < now for item in due(state, rules)):
        return True
    fired = {_kind_and_ref(key) for key in state.fired}
    return any(_unresolved_escalation(state, kind, ref, rules) for kind, ref in fired)


# A due key is `kind:ref:time` (`due_key`); a ref may hold ':', the time always does.
_KEY = re.compile(
    r"^([a-z_]+):(.*):(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2})?)$"
)


def _kind_and_ref(key: str) -> tuple[DueKind, str]:
    match = _KEY.match(key)
    if match is None:  # pragma: no cover - every key is made by due_key
        raise ValueError(f"not a due key: {key!r}")
    return DueKind(match.group(1)), match.group(2)
