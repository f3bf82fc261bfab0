"""Events: what happened to a journey. Versioned, never changed once shipped.

To change an event that has shipped: add `schema_version: Literal[2]` to a new model, keep the old
shape only as an upcaster from version 1 to 2 in `UPCASTERS`, and `parse_event` brings old
records forward before validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from domain.commands import AdverseEvent, DoseGiven, Vitals
from domain.instruments import Score
from domain.protocol import Protocol
from domain.vocabulary import (
    Actor,
    AdverseEventOutcome,
    AdverseEventSeverity,
    ClosedReason,
    Contraindication,
    DueKind,
    Eligibility,
    FollowUpOutcome,
    ObservedLevel,
    OpaqueId,
    ReasonCode,
    Role,
    SafetyHoldSource,
    Seriousness,
    SessionMode,
    VisitKind,
)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime
    actor: Actor
    decision_id: OpaqueId | None = None


class JourneyStarted(_Event):
    type: Literal["journey_started"] = "journey_started"
    journey_id: OpaqueId
    client_id: OpaqueId
    therapist_id: OpaqueId
    prescriber_id: OpaqueId
    clinic_id: OpaqueId
    protocol: Protocol


class ScreeningRecorded(_Event):
    type: Literal["screening_recorded"] = "screening_recorded"
    answers: list[int]
    score: Score
    baseline: bool


class ConsentRecorded(_Event):
    type: Literal["consent_recorded"] = "consent_recorded"
    consent_version: str
    signed_at: AwareDatetime


class ConsultationCompleted(_Event):
    type: Literal["consultation_completed"] = "consultation_completed"
    outcome: Eligibility
    contraindications: list[Contraindication]
    treatment_goals: list[str]
    deemed_unsuitable: bool


class MedicalClearanceRecorded(_Event):
    type: Literal["medical_clearance_recorded"] = "medical_clearance_recorded"
    cleared: bool


class ReferralSent(_Event):
    type: Literal["referral_sent"] = "referral_sent"
    sla_due_at: AwareDatetime


class ReferralAcknowledged(_Event):
    type: Literal["referral_acknowledged"] = "referral_acknowledged"


class ReferralRejected(_Event):
    type: Literal["referral_rejected"] = "referral_rejected"
    reason: ReasonCode


class PrescriberIntakeScheduled(_Event):
    type: Literal["prescriber_intake_scheduled"] = "prescriber_intake_scheduled"
    scheduled_at: AwareDatetime


class MedicationApproved(_Event):
    type: Literal["medication_approved"] = "medication_approved"
    doses_authorized: int
    expires_at: AwareDatetime
    follow_up_due_at: AwareDatetime


class MedicationDeclined(_Event):
    type: Literal["medication_declined"] = "medication_declined"
    reason: ReasonCode


class PreparationCompleted(_Event):
    type: Literal["preparation_completed"] = "preparation_completed"
    sessions_completed: int


class DosingSessionScheduled(_Event):
    type: Literal["dosing_session_scheduled"] = "dosing_session_scheduled"
    session_id: OpaqueId
    scheduled_at: AwareDatetime
    mode: SessionMode
    chaperone_id: OpaqueId | None


class DosingSessionHeld(_Event):
    """Pre-dose vitals over the protocol's limit: no dose used; the session may be re-checked."""

    type: Literal["dosing_session_held"] = "dosing_session_held"
    session_id: OpaqueId
    vitals: Vitals
    reason: ReasonCode


class DosingSessionStarted(_Event):
    type: Literal["dosing_session_started"] = "dosing_session_started"
    session_id: OpaqueId
    vitals: Vitals
    dose_number: int


class ChaperoneCheckedIn(_Event):
    type: Literal["chaperone_checked_in"] = "chaperone_checked_in"
    session_id: OpaqueId


class SessionMonitoringRecorded(_Event):
    type: Literal["session_monitoring_recorded"] = "session_monitoring_recorded"
    session_id: OpaqueId
    vitals: Vitals
    sedation: ObservedLevel
    dissociation: ObservedLevel
    minutes_after_dose: int


class DoseRecorded(_Event):
    type: Literal["dose_recorded"] = "dose_recorded"
    session_id: OpaqueId
    dose: DoseGiven


class DischargeExceptionGranted(_Event):
    type: Literal["discharge_exception_granted"] = "discharge_exception_granted"
    session_id: OpaqueId
    reason: ReasonCode


class SessionRecordSigned(_Event):
    type: Literal["session_record_signed"] = "session_record_signed"
    session_id: OpaqueId


class SessionRecordAmended(_Event):
    type: Literal["session_record_amended"] = "session_record_amended"
    session_id: OpaqueId
    reason: ReasonCode
    dose: DoseGiven | None
    note_ref: OpaqueId | None


class AdverseEventReported(_Event):
    type: Literal["adverse_event_reported"] = "adverse_event_reported"
    session_id: OpaqueId
    code: ReasonCode
    severity: AdverseEventSeverity
    seriousness: list[Seriousness]
    serious: bool
    outcome: AdverseEventOutcome
    onset_at: AwareDatetime


class DosingSessionCompleted(_Event):
    type: Literal["dosing_session_completed"] = "dosing_session_completed"
    session_id: OpaqueId
    vitals: Vitals
    adverse_events: list[AdverseEvent]
    monitoring_minutes: int


class DosingSessionCancelled(_Event):
    type: Literal["dosing_session_cancelled"] = "dosing_session_cancelled"
    session_id: OpaqueId
    reason: ReasonCode


class IntegrationCompleted(_Event):
    type: Literal["integration_completed"] = "integration_completed"
    note_ref: OpaqueId | None
    doses_integrated: int


class PrescriberFollowUpRecorded(_Event):
    type: Literal["prescriber_follow_up_recorded"] = "prescriber_follow_up_recorded"
    outcome: FollowUpOutcome
    additional_doses: int
    expires_at: AwareDatetime | None


class CourseStopping(_Event):
    """The client withdrew or was discharged after a dose: no more doses; the journey closes
    with `reason` when the prescriber records the discharge follow-up (due by
    `follow_up_due_at`)."""

    type: Literal["course_stopping"] = "course_stopping"
    reason: ClosedReason
    detail: ReasonCode | None = None
    follow_up_due_at: AwareDatetime


class VisitScheduled(_Event):
    type: Literal["visit_scheduled"] = "visit_scheduled"
    visit_id: OpaqueId
    kind: VisitKind
    scheduled_at: AwareDatetime


class VisitCancelled(_Event):
    type: Literal["visit_cancelled"] = "visit_cancelled"
    visit_id: OpaqueId
    reason: ReasonCode


class ClinicianReassigned(_Event):
    """Ops moved the client to another therapist or prescriber (cover, leave)."""

    type: Literal["clinician_reassigned"] = "clinician_reassigned"
    role: Role
    clinician_id: OpaqueId
    previous_id: OpaqueId
    reason: ReasonCode


class SafetyHoldRaised(_Event):
    type: Literal["safety_hold_raised"] = "safety_hold_raised"
    source: SafetyHoldSource
    reason: ReasonCode


class SafetyHoldCleared(_Event):
    type: Literal["safety_hold_cleared"] = "safety_hold_cleared"
    assessment_ref: OpaqueId


class JourneyPaused(_Event):
    type: Literal["journey_paused"] = "journey_paused"
    reason: ReasonCode


class JourneyResumed(_Event):
    type: Literal["journey_resumed"] = "journey_resumed"


class JourneyClosed(_Event):
    type: Literal["journey_closed"] = "journey_closed"
    reason: ClosedReason
    detail: ReasonCode | None = None


class DueReached(_Event):
    """A due item's time came (reminder sent, escalation raised, …)."""

    type: Literal["due_reached"] = "due_reached"
    kind: DueKind
    ref: str
    due_at: AwareDatetime


Event = Annotated[
    JourneyStarted
    | ScreeningRecorded
    | ConsentRecorded
    | ConsultationCompleted
    | MedicalClearanceRecorded
    | ReferralSent
    | ReferralAcknowledged
    | ReferralRejected
    | PrescriberIntakeScheduled
    | MedicationApproved
    | MedicationDeclined
    | PreparationCompleted
    | DosingSessionScheduled
    | DosingSessionHeld
    | DosingSessionStarted
    | ChaperoneCheckedIn
    | SessionMonitoringRecorded
    | DoseRecorded
    | DischargeExceptionGranted
    | DosingSessionCompleted
    | SessionRecordSigned
    | SessionRecordAmended
    | AdverseEventReported
    | DosingSessionCancelled
    | IntegrationCompleted
    | PrescriberFollowUpRecorded
    | CourseStopping
    | VisitScheduled
    | VisitCancelled
    | ClinicianReassigned
    | SafetyHoldRaised
    | SafetyHoldCleared
    | JourneyPaused
    | JourneyResumed
    | JourneyClosed
    | DueReached,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def _current_versions() -> dict[str, int]:
    versions: dict[str, int] = {}
    for model in _Event.__subclasses__():
        type_name = model.model_fields["type"].default
        versions[type_name] = model.model_fields["schema_version"].default
    return versions


CURRENT_VERSIONS: dict[str, int] = _current_versions()

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (type, from_version) → function returning the data at from_version + 1. None have shipped yet.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventError(ValueError):
    """A stored record whose type or version this code does not know."""


def upcast(
    data: Mapping[str, Any],
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
    current_versions: Mapping[str, int] = CURRENT_VERSIONS,
) -> dict[str, Any]:
    """Bring a stored event's data forward to the current schema version of its type."""
    record = dict(data)
    type_name = record.get("type")
    if not isinstance(type_name, str) or type_name not in current_versions:
        raise UnknownEventError(f"unknown event type {type_name!r}")
    version = record.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise UnknownEventError(f"event {type_name} has an invalid schema version")
    current = current_versions[type_name]
    while version < current:
        step = upcasters.get((type_name, version))
        if step is None:
            raise UnknownEventError(f"no upcaster for {type_name} v{version}")
        record = step(record)
        version += 1
        record["schema_version"] = version
    if version > current:
        raise UnknownEventError(f"event {type_name} v{version} is newer than this code")
    return record


def parse_event(data: Mapping[str, Any]) -> Event:
    """Decode a stored event (any shipped version) into the current model."""
    return EVENT_ADAPTER.validate_python(upcast(data))
