"""Commands: a clinician's (or the engine's) decisions, one pydantic model each.

Every command carries a client-made `decision_id` (so a repeat is recognised) and the acting
`actor` (id and role). Fields hold opaque ids and codes, never names or free-text notes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.protocol import NewProtocol, Protocol
from domain.vocabulary import (
    Actor,
    AdverseEventSeverity,
    Contraindication,
    DueKind,
    EndedHow,
    FollowUpOutcome,
    Instrument,
    Label,
    OpaqueId,
    PlainText,
    ReasonCode,
    SessionMode,
)

Goal = Annotated[
    str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), PlainText
]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    decision_id: OpaqueId
    actor: Actor


class Vitals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    systolic: int = Field(ge=50, le=300)
    diastolic: int = Field(ge=20, le=200)
    heart_rate: int | None = Field(default=None, ge=20, le=250)


class AdverseEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ReasonCode  # e.g. nausea, dissociation_distress, hypertension
    severity: AdverseEventSeverity


class StartJourney(_Command):
    type: Literal["start_journey"] = "start_journey"
    journey_id: OpaqueId  # this journey's own id (its event stream); a client may have several
    client_id: OpaqueId
    therapist_id: OpaqueId
    prescriber_id: OpaqueId
    clinic_id: OpaqueId = "default"
    protocol: NewProtocol = Field(default_factory=Protocol)


class RecordScreening(_Command):
    type: Literal["record_screening"] = "record_screening"
    instrument: Instrument
    answers: list[int] = Field(max_length=40)


class RecordConsent(_Command):
    type: Literal["record_consent"] = "record_consent"
    consent_version: Label
    signed_at: AwareDatetime


class CompleteConsultation(_Command):
    type: Literal["complete_consultation"] = "complete_consultation"
    contraindications: list[Contraindication] = Field(default_factory=list, max_length=20)
    treatment_goals: list[Goal] = Field(min_length=1, max_length=5)
    deemed_unsuitable: bool = False  # the therapist's judgement, beyond the checklist


class RecordMedicalClearance(_Command):
    type: Literal["record_medical_clearance"] = "record_medical_clearance"
    cleared: bool


class ReferToPrescriber(_Command):
    type: Literal["refer_to_prescriber"] = "refer_to_prescriber"


class AcknowledgeReferral(_Command):
    type: Literal["acknowledge_referral"] = "acknowledge_referral"


class RecordReferralRejected(_Command):
    """The prescriber partner refused the referral: the therapist may refer again."""

    type: Literal["record_referral_rejected"] = "record_referral_rejected"
    reason: ReasonCode = "partner_rejected"


class SchedulePrescriberIntake(_Command):
    type: Literal["schedule_prescriber_intake"] = "schedule_prescriber_intake"
    scheduled_at: AwareDatetime


class ApproveMedication(_Command):
    type: Literal["approve_medication"] = "approve_medication"
    doses_authorized: int | None = Field(default=None, ge=1, le=24)  # None: protocol default
    expires_at: AwareDatetime


class DeclineMedication(_Command):
    type: Literal["decline_medication"] = "decline_medication"
    reason: ReasonCode = "not_suitable"


class CompletePreparation(_Command):
    type: Literal["complete_preparation"] = "complete_preparation"


class ScheduleDosing(_Command):
    type: Literal["schedule_dosing"] = "schedule_dosing"
    session_id: OpaqueId
    scheduled_at: AwareDatetime
    mode: SessionMode = SessionMode.IN_PERSON
    chaperone_id: OpaqueId | None = None  # remote sessions: the chaperone's contact record


class StartDosing(_Command):
    type: Literal["start_dosing"] = "start_dosing"
    session_id: OpaqueId
    vitals: Vitals
    transport_confirmed: bool
    chaperone_present: bool = False


class RecordChaperoneCheckIn(_Command):
    type: Literal["record_chaperone_check_in"] = "record_chaperone_check_in"
    session_id: OpaqueId


class CompleteDosing(_Command):
    type: Literal["complete_dosing"] = "complete_dosing"
    session_id: OpaqueId
    vitals: Vitals
    adverse_events: list[AdverseEvent] = Field(default_factory=list, max_length=20)


class CancelSession(_Command):
    type: Literal["cancel_session"] = "cancel_session"
    session_id: OpaqueId
    reason: ReasonCode = "rescheduled"


class CompleteIntegration(_Command):
    type: Literal["complete_integration"] = "complete_integration"
    note_ref: OpaqueId | None = None  # psychotherapy notes live apart; only a reference here


class RecordPrescriberFollowUp(_Command):
    type: Literal["record_prescriber_follow_up"] = "record_prescriber_follow_up"
    outcome: FollowUpOutcome
    additional_doses: int | None = Field(default=None, ge=1, le=24)  # None: protocol default
    expires_at: AwareDatetime | None = None  # required to continue


class RaiseSafetyHold(_Command):
    type: Literal["raise_safety_hold"] = "raise_safety_hold"
    reason: ReasonCode = "clinician_concern"


class ClearSafetyHold(_Command):
    type: Literal["clear_safety_hold"] = "clear_safety_hold"
    assessment_ref: OpaqueId  # the documented risk assessment that lifts the hold


class Pause(_Command):
    type: Literal["pause"] = "pause"
    reason: ReasonCode = "client_request"


class Resume(_Command):
    type: Literal["resume"] = "resume"


class Withdraw(_Command):
    type: Literal["withdraw"] = "withdraw"
    reason: ReasonCode = "client_choice"


class Discharge(_Command):
    type: Literal["discharge"] = "discharge"
    reason: ReasonCode = "clinician_decision"


class RecordEndedOutside(_Command):
    """The engine noticed that the journey's workflow was ended outside the pathway."""

    type: Literal["record_ended_outside"] = "record_ended_outside"
    how: EndedHow


class RecordDueReached(_Command):
    """The engine's timer fired for a due item (`domain.due`)."""

    type: Literal["record_due_reached"] = "record_due_reached"
    kind: DueKind
    ref: OpaqueId  # a due item's ref: a session id, "referral", "intake", …
    due_at: AwareDatetime


Command = Annotated[
    StartJourney
    | RecordScreening
    | RecordConsent
    | CompleteConsultation
    | RecordMedicalClearance
    | ReferToPrescriber
    | AcknowledgeReferral
    | RecordReferralRejected
    | SchedulePrescriberIntake
    | ApproveMedication
    | DeclineMedication
    | CompletePreparation
    | ScheduleDosing
    | StartDosing
    | RecordChaperoneCheckIn
    | CompleteDosing
    | CancelSession
    | CompleteIntegration
    | RecordPrescriberFollowUp
    | RaiseSafetyHold
    | ClearSafetyHold
    | Pause
    | Resume
    | Withdraw
    | Discharge
    | RecordEndedOutside
    | RecordDueReached,
    Field(discriminator="type"),
]
