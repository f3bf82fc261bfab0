"""Which events call for a message, to whom, and with which template: pure intents that the
workflow hands to the notification activities.

Messages to clients carry the minimum (a name, a time, a callback): never the drug, a
diagnosis, a score or safety status. Templates are codes; activities render them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain import events as ev
from domain.events import Event
from domain.instruments import spec_of
from domain.rules import CURRENT, Rules
from domain.state import JourneyState
from domain.vocabulary import AdverseEventSeverity, ClosedReason, DueKind, Role


class Recipient(StrEnum):
    CLIENT = "client"
    THERAPIST = "therapist"
    PRESCRIBER = "prescriber"
    OPS = "ops"


class Template(StrEnum):
    APPOINTMENT_REMINDER = "appointment_reminder"  # client: a time and a callback
    SESSION_CONFIRMATION_REQUEST = "session_confirmation_request"  # client: transport/chaperone
    INTEGRATION_REMINDER = "integration_reminder"  # client: please book a session
    DISCHARGE_ASSESSMENT_DUE = "discharge_assessment_due"
    CHAPERONE_CHECK_IN_MISSED = "chaperone_check_in_missed"
    INTEGRATION_OVERDUE = "integration_overdue"
    REFERRAL_SLA_BREACHED = "referral_sla_breached"
    FOLLOW_UP_DUE = "follow_up_due"
    PRESCRIPTION_EXPIRED = "prescription_expired"
    INACTIVE_JOURNEY = "inactive_journey"
    SAFETY_HOLD_RAISED = "safety_hold_raised"
    CLIENT_WITHDRAWN = "client_withdrawn"  # prescriber: hold the discharge visit
    REFERRAL_REJECTED = "referral_rejected"
    JOURNEY_ENDED_OUTSIDE = "journey_ended_outside"  # ops, therapist: ended in Temporal, not here
    DECISION_NOT_RECORDED = "decision_not_recorded"  # ops, urgent: the store refused a decision
    # The dosing session's safety (docs/pathway.md, "The dosing session")
    BP_HOLD = "bp_hold"  # therapist, prescriber, urgent: pre-dose blood pressure over the limit
    VITALS_CHECK_DUE = "vitals_check_due"  # therapist, urgent: the mid-session reading is due
    SERIOUS_ADVERSE_EVENT = "serious_adverse_event"  # prescriber, therapist, urgent
    SCREENING_REVIEW_NEEDED = "screening_review_needed"  # therapist, prescriber: moderate risk
    MONITORING_RECORD_OVERDUE = "monitoring_record_overdue"  # therapist, ops: not signed in time
    ALERT_UNDELIVERED = "alert_undelivered"  # ops, urgent: no channel reached a clinician
    # The course as the clinic governs it (docs/pathway.md, "Governing the course")
    DISCHARGE_FOLLOW_UP_DUE = "discharge_follow_up_due"  # prescriber (+ ops when late)
    CLIENT_ASSIGNED = "client_assigned"  # the clinician a client was reassigned to
    # After a course that gave a dose (workflows/followups.py)
    SURVEY_INVITATION = "survey_invitation"  # client: a short check-in, answer by a time
    SURVEY_REMINDER = "survey_reminder"  # client: the check-in is still open
    SURVEY_RISK_FLAGGED = "survey_risk_flagged"  # therapist, urgent: check-in answers need review
    MAINTENANCE_DUE = "maintenance_due"  # therapist: a maintenance interval has come due
    DAILY_DIGEST = "daily_digest"  # each clinician: overdue journeys and safety holds (ids)


CLIENT_TEMPLATES = frozenset(
    {
        Template.APPOINTMENT_REMINDER,
        Template.SESSION_CONFIRMATION_REQUEST,
        Template.INTEGRATION_REMINDER,
        Template.SURVEY_INVITATION,
        Template.SURVEY_REMINDER,
    }
)


class Notice(BaseModel):
    """One message to send. `key` makes the send idempotent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    recipient: Recipient
    recipient_id: str  # opaque: the client id or the clinician id
    template: Template
    urgent: bool = False
    at: AwareDatetime | None = None  # the appointment time a reminder is about
    survey: str | None = None  # the check-in a survey notice invites to answer (its workflow id)


def _appointment_time(state: JourneyState, kind: DueKind, ref: str) -> AwareDatetime | None:
    if kind is DueKind.INTAKE_REMINDER:
        return state.intake_at
    if kind is DueKind.VISIT_REMINDER:
        visit = state.visits.get(ref)
        return visit.scheduled_at if visit else None
    session = state.sessions.get(ref)
    return session.scheduled_at if session else None


_DUE: dict[DueKind, list[tuple[Recipient, Template, bool]]] = {
    DueKind.INTAKE_REMINDER: [(Recipient.CLIENT, Template.APPOINTMENT_REMINDER, False)],
    DueKind.SESSION_REMINDER: [
        (Recipient.CLIENT, Template.APPOINTMENT_REMINDER, False),
        (Recipient.CLIENT, Template.SESSION_CONFIRMATION_REQUEST, False),
    ],
    DueKind.MONITORING_END: [(Recipient.THERAPIST, Template.DISCHARGE_ASSESSMENT_DUE, True)],
    DueKind.CHAPERONE_CHECK_IN: [(Recipient.THERAPIST, Template.CHAPERONE_CHECK_IN_MISSED, True)],
    DueKind.INTEGRATION_REMINDER: [(Recipient.CLIENT, Template.INTEGRATION_REMINDER, False)],
    DueKind.INTEGRATION_OVERDUE: [
        (Recipient.THERAPIST, Template.INTEGRATION_OVERDUE, False),
        (Recipient.OPS, Template.INTEGRATION_OVERDUE, False),
    ],
    DueKind.REFERRAL_SLA: [(Recipient.OPS, Template.REFERRAL_SLA_BREACHED, False)],
    DueKind.PRESCRIBER_FOLLOW_UP: [(Recipient.PRESCRIBER, Template.FOLLOW_UP_DUE, False)],
    DueKind.PRESCRIPTION_EXPIRY: [(Recipient.PRESCRIBER, Template.PRESCRIPTION_EXPIRED, False)],
    DueKind.INACTIVITY_NUDGE: [(Recipient.THERAPIST, Template.INACTIVE_JOURNEY, False)],
    DueKind.VITALS_CHECK: [(Recipient.THERAPIST, Template.VITALS_CHECK_DUE, True)],
    DueKind.MONITORING_RECORD: [
        (Recipient.THERAPIST, Template.MONITORING_RECORD_OVERDUE, False),
        (Recipient.OPS, Template.MONITORING_RECORD_OVERDUE, False),
    ],
    DueKind.VISIT_REMINDER: [(Recipient.CLIENT, Template.APPOINTMENT_REMINDER, False)],
    DueKind.DISCHARGE_FOLLOW_UP: [
        (Recipient.PRESCRIBER, Template.DISCHARGE_FOLLOW_UP_DUE, True),
        (Recipient.OPS, Template.DISCHARGE_FOLLOW_UP_DUE, False),
    ],
}
# Under the session-safety rules a missed check-in reaches the prescriber too.
_DUE_SESSION_SAFETY: dict[DueKind, list[tuple[Recipient, Template, bool]]] = {
    **_DUE,
    DueKind.CHAPERONE_CHECK_IN: [
        (Recipient.THERAPIST, Template.CHAPERONE_CHECK_IN_MISSED, True),
        (Recipient.PRESCRIBER, Template.CHAPERONE_CHECK_IN_MISSED, True),
    ],
}


def _recipient_id(state: JourneyState, recipient: Recipient) -> str:
    return {
        Recipient.CLIENT: state.client_id,
        Recipient.THERAPIST: state.therapist_id,
        Recipient.PRESCRIBER: state.prescriber_id,
        Recipient.OPS: state.clinic_id,
    }[recipient]


def _review_band(event: ev.ScreeningRecorded) -> bool:
    score = event.score
    return not score.risk and score.band in spec_of(score.instrument).review_bands


def notices(
    state: JourneyState, events: Sequence[tuple[str, Event]], rules: Rules = CURRENT
) -> list[Notice]:
    """The messages that `events` (each with its event id) call for, given the state after them."""
    out: list[Notice] = []
    due_table = _DUE_SESSION_SAFETY if rules.session_safety else _DUE

    def add(
        event_id: str,
        recipient: Recipient,
        template: Template,
        urgent: bool,
        at: AwareDatetime | None = None,
    ) -> None:
        out.append(
            Notice(
                key=f"{event_id}:{recipient.value}:{template.value}",
                recipient=recipient,
                recipient_id=_recipient_id(state, recipient),
                template=template,
                urgent=urgent,
                at=at,
            )
        )

    for event_id, event in events:
        match event:
            case ev.DueReached(kind=kind, ref=ref):
                at = _appointment_time(state, kind, ref)
                for recipient, template, urgent in due_table[kind]:
                    add(event_id, recipient, template, urgent, at)
            case ev.SafetyHoldRaised():
                add(event_id, Recipient.THERAPIST, Template.SAFETY_HOLD_RAISED, True)
                add(event_id, Recipient.PRESCRIBER, Template.SAFETY_HOLD_RAISED, True)
            case ev.DosingSessionHeld() if rules.session_safety:
                add(event_id, Recipient.THERAPIST, Template.BP_HOLD, True)
                add(event_id, Recipient.PRESCRIBER, Template.BP_HOLD, True)
            case ev.AdverseEventReported(serious=True) if rules.session_safety:
                add(event_id, Recipient.PRESCRIBER, Template.SERIOUS_ADVERSE_EVENT, True)
                add(event_id, Recipient.THERAPIST, Template.SERIOUS_ADVERSE_EVENT, True)
            case ev.DosingSessionCompleted(adverse_events=reported) if rules.session_safety and any(
                a.severity is AdverseEventSeverity.SERIOUS for a in reported
            ):
                add(event_id, Recipient.PRESCRIBER, Template.SERIOUS_ADVERSE_EVENT, True)
                add(event_id, Recipient.THERAPIST, Template.SERIOUS_ADVERSE_EVENT, True)
            case ev.ScreeningRecorded() if rules.session_safety and _review_band(event):
                add(event_id, Recipient.THERAPIST, Template.SCREENING_REVIEW_NEEDED, True)
                add(event_id, Recipient.PRESCRIBER, Template.SCREENING_REVIEW_NEEDED, True)
            case ev.ReferralRejected():
                add(event_id, Recipient.THERAPIST, Template.REFERRAL_REJECTED, False)
                add(event_id, Recipient.OPS, Template.REFERRAL_REJECTED, False)
            case ev.CourseStopping():
                add(event_id, Recipient.PRESCRIBER, Template.DISCHARGE_FOLLOW_UP_DUE, False)
            case ev.ClinicianReassigned(role=role):
                to = Recipient.THERAPIST if role is Role.THERAPIST else Recipient.PRESCRIBER
                add(event_id, to, Template.CLIENT_ASSIGNED, False)
            case ev.JourneyClosed(reason=ClosedReason.WITHDRAWN) if not (
                rules.course_governance and event.actor.role is Role.PRESCRIBER
            ):
                # A prescriber closing it has just held the discharge visit themselves.
                add(event_id, Recipient.PRESCRIBER, Template.CLIENT_WITHDRAWN, False)
            case ev.JourneyClosed(reason=ClosedReason.ENDED_OUTSIDE):
                add(event_id, Recipient.OPS, Template.JOURNEY_ENDED_OUTSIDE, True)
                add(event_id, Recipient.THERAPIST, Template.JOURNEY_ENDED_OUTSIDE, False)
            case _:
                pass
    return out


def not_recorded_notice(state: JourneyState, key: str) -> Notice:
    """Ops are told at once when the event store refused a decision's events for good."""
    return Notice(
        key=f"{key}:{Recipient.OPS.value}:{Template.DECISION_NOT_RECORDED.value}",
        recipient=Recipient.OPS,
        recipient_id=_recipient_id(state, Recipient.OPS),
        template=Template.DECISION_NOT_RECORDED,
        urgent=True,
    )


def undelivered_notice(state: JourneyState, undelivered: Notice) -> Notice:
    """Ops are told at once when no channel reached a clinician with an alert."""
    return Notice(
        key=f"{undelivered.key}:{Recipient.OPS.value}:{Template.ALERT_UNDELIVERED.value}",
        recipient=Recipient.OPS,
        recipient_id=_recipient_id(state, Recipient.OPS),
        template=Template.ALERT_UNDELIVERED,
        urgent=True,
    )
