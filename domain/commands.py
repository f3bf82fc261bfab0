"""Commands: a clinician's (or the engine's) decisions, one pydantic model each.

Every command carries a client-made `decision_id` (so a repeat is recognised) and the acting
`actor` (id and role). Fields hold opaque ids and codes, never names or free-text notes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from domain.protocol import NewProtocol, Protocol
from domain.vocabulary import (
    Actor,
    AdverseEventOutcome,
    AdverseEventSeverity,
    Contraindication,
    DoseRoute,
    DueKind,
    EndedHow,
    FollowUpOutcome,
    Instrument,
    Label,
    LotNumber,
    ObservedLevel,
    OpaqueId,
    PlainText,
    ReasonCode,
    Role,
    Seriousness,
    SessionMode,
    VisitKind,
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


# A quantity of the drug in milligrams, to the hundredth: exact, so a ledger adds up.
Milligrams = Annotated[Decimal, Field(ge=0, le=2000, max_digits=7, decimal_places=2)]


class DoseGiven(BaseModel):
    """What was given at a session, and what was drawn from stock for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dose_mg: Milligrams = Field(gt=0)
    route: DoseRoute
    lot: LotNumber
    dispensed_mg: Milligrams | None = None  # drawn from stock; None: the dose plus the waste
    wasted_mg: Milligrams = Decimal(0)  # drawn but not given, witnessed as destroyed

    @model_validator(mode="after")
    def _accounted(self) -> DoseGiven:
        if self.dispensed_mg is not None and self.dose_mg + self.wasted_mg > self.dispensed_mg:
            raise ValueError("the dose and the waste cannot exceed what was dispensed")
        return self

    @property
    def dispensed(self) -> Decimal:
        return self.dose_mg + self.wasted_mg if self.dispensed_mg is None else self.dispensed_mg


class HeldOver(BaseModel):
    """The safety hold the client's last journey closed on: the new journey starts held."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    journey_id: OpaqueId
    reason: ReasonCode


class StartJourney(_Command):
    type: Literal["start_journey"] = "start_journey"
    journey_id: OpaqueId  # this journey's own id (its event stream); a client may have several
    client_id: OpaqueId
    therapist_id: OpaqueId
    prescriber_id: OpaqueId
    clinic_id: OpaqueId = "default"
    # Both set by the engine, never by the caller: the clinic's current protocol, and the hold
    # the client's last journey closed on.
    protocol: NewProtocol = Field(default_factory=Protocol)
    held_over: HeldOver | None = None


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


class RecordSessionMonitoring(_Command):
    """A check during the session: vitals, sedation and dissociation as observed now."""

    type: Literal["record_session_monitoring"] = "record_session_monitoring"
    session_id: OpaqueId
    vitals: Vitals
    sedation: ObservedLevel
    dissociation: ObservedLevel


class RecordDose(_Command):
    """The dose given at a session (mg, route, lot): until the record is signed, a later one
    replaces it; after, only an amendment changes it."""

    type: Literal["record_dose"] = "record_dose"
    session_id: OpaqueId
    dose: DoseGiven


class GrantDischargeException(_Command):
    """The prescriber allows discharge with vitals outside the protocol's discharge limits."""

    type: Literal["grant_discharge_exception"] = "grant_discharge_exception"
    session_id: OpaqueId
    reason: ReasonCode


class CompleteDosing(_Command):
    """The discharge: after the monitoring time, with the discharge vitals, the client assessed
    ready to leave and the transport home confirmed."""

    type: Literal["complete_dosing"] = "complete_dosing"
    session_id: OpaqueId
    vitals: Vitals
    adverse_events: list[AdverseEvent] = Field(default_factory=list, max_length=20)
    ready_for_discharge: bool = False
    transport_confirmed: bool = False


class SignSessionRecord(_Command):
    """Sign the session's monitoring record: from then on it changes only by amendment."""

    type: Literal["sign_session_record"] = "sign_session_record"
    session_id: OpaqueId


class AmendSessionRecord(_Command):
    """Correct a signed record: a corrected dose and/or a reference to the written amendment."""

    type: Literal["amend_session_record"] = "amend_session_record"
    session_id: OpaqueId
    reason: ReasonCode
    dose: DoseGiven | None = None
    note_ref: OpaqueId | None = None

    @model_validator(mode="after")
    def _something(self) -> AmendSessionRecord:
        if self.dose is None and self.note_ref is None:
            raise ValueError("an amendment needs a corrected dose or a note_ref")
        return self


class ReportAdverseEvent(_Command):
    """An adverse event after a session's dose, at any time within the protocol's window."""

    type: Literal["report_adverse_event"] = "report_adverse_event"
    session_id: OpaqueId
    code: ReasonCode  # e.g. nausea, dissociation_distress, hypertension
    severity: AdverseEventSeverity
    seriousness: list[Seriousness] = Field(default_factory=list, max_length=6)
    outcome: AdverseEventOutcome = AdverseEventOutcome.UNKNOWN
    onset_at: AwareDatetime | None = None  # None: now


class CancelSession(_Command):
    type: Literal["cancel_session"] = "cancel_session"
    session_id: OpaqueId
    reason: ReasonCode = "rescheduled"


class ScheduleVisit(_Command):
    """Book a preparation, integration or prescriber follow-up visit: the client is reminded."""

    type: Literal["schedule_visit"] = "schedule_visit"
    visit_id: OpaqueId
    kind: VisitKind
    scheduled_at: AwareDatetime


class CancelVisit(_Command):
    type: Literal["cancel_visit"] = "cancel_visit"
    visit_id: OpaqueId
    reason: ReasonCode = "rescheduled"


class ReassignClinician(_Command):
    """Ops move the client to another therapist or prescriber of the clinic (cover, leave)."""

    type: Literal["reassign_clinician"] = "reassign_clinician"
    role: Literal[Role.THERAPIST, Role.PRESCRIBER]
    clinician_id: OpaqueId
    reason: ReasonCode = "cover"


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
    | RecordSessionMonitoring
    | RecordDose
    | GrantDischargeException
    | CompleteDosing
    | SignSessionRecord
    | AmendSessionRecord
    | ReportAdverseEvent
    | CancelSession
    | ScheduleVisit
    | CancelVisit
    | ReassignClinician
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
