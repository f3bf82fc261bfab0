"""The pathway's words: one name per thing, used alike in the domain, API, CLI and docs."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

# An instrument's name ("phq9"): one per spec module under `domain/instruments/`.
from domain.instruments.registry import Instrument as Instrument


class Stage(StrEnum):
    CONSULTATION = "consultation"
    REFERRAL = "referral"
    MEDICATION_REVIEW = "medication_review"
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    PRESCRIBER_FOLLOW_UP = "prescriber_follow_up"
    COMPLETED = "completed"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    SAFETY_HOLD = "safety_hold"
    CLOSED = "closed"


class ClosedReason(StrEnum):
    DECLINED = "declined"
    NOT_APPROVED = "not_approved"
    WITHDRAWN = "withdrawn"
    DISCHARGED = "discharged"
    COMPLETED = "completed"
    ENDED_OUTSIDE = "ended_outside"  # cancelled or terminated outside the pathway (Temporal UI)


class EndedHow(StrEnum):
    """How a journey was ended outside the pathway (by an operator in Temporal, not a decision)."""

    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    REPLACED = "replaced"  # a newer run for the same client exists, this journey never closed


class Role(StrEnum):
    THERAPIST = "therapist"
    PRESCRIBER = "prescriber"
    OPS = "ops"
    SYSTEM = "system"  # the engine itself (timers) or a partner system (prescriber's EHR)
    CLINICAL_LEAD = "clinical_lead"  # the medical director: governs the clinic's protocol


class SessionMode(StrEnum):
    IN_PERSON = "in_person"
    REMOTE = "remote"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"  # pre-dose vitals over the limit; no dose used; may be re-checked
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class VisitKind(StrEnum):
    """Appointments other than the intake and the dosing sessions."""

    PREPARATION = "preparation"  # therapist
    INTEGRATION = "integration"  # therapist
    PRESCRIBER_FOLLOW_UP = "prescriber_follow_up"  # prescriber: mid-course or at discharge


class VisitStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"  # the visit's decision was recorded (preparation, integration, follow-up)
    CANCELLED = "cancelled"


class Eligibility(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    NEEDS_MEDICAL_CLEARANCE = "needs_medical_clearance"


class Contraindication(StrEnum):
    UNCONTROLLED_HYPERTENSION = "uncontrolled_hypertension"
    GLAUCOMA = "glaucoma"
    SEVERE_BREATHING_PROBLEMS = "severe_breathing_problems"
    KETAMINE_ALLERGY = "ketamine_allergy"
    UNCONTROLLED_SUBSTANCE_USE = "uncontrolled_substance_use"
    ACUTE_MANIA = "acute_mania"
    PRIMARY_PSYCHOTIC_DISORDER = "primary_psychotic_disorder"
    ACTIVE_SUICIDAL_IDEATION = "active_suicidal_ideation"
    PREGNANCY = "pregnancy"
    LIVER_DISEASE = "liver_disease"
    CYSTITIS = "cystitis"
    HYPERTHYROIDISM = "hyperthyroidism"


class SafetyHoldSource(StrEnum):
    CLINICIAN = "clinician"
    ADVERSE_EVENT = "adverse_event"
    INSTRUMENT = "instrument"
    PREVIOUS_JOURNEY = "previous_journey"  # the client's last journey closed on a hold


class AdverseEventSeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    SERIOUS = "serious"  # regulatory sense: hospitalisation, life-threatening, …


class AdverseEventOutcome(StrEnum):
    """As FHIR's AdverseEvent.outcome."""

    RESOLVED = "resolved"
    RECOVERING = "recovering"
    ONGOING = "ongoing"
    RESOLVED_WITH_SEQUELAE = "resolved_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"


class Seriousness(StrEnum):
    """What makes an adverse event serious (ICH E2A): any one of these."""

    DEATH = "death"
    LIFE_THREATENING = "life_threatening"
    HOSPITALISATION = "hospitalisation"  # inpatient stay, or a longer one
    DISABILITY = "disability"  # persistent or significant
    CONGENITAL_ANOMALY = "congenital_anomaly"
    MEDICALLY_IMPORTANT = "medically_important"


class DoseRoute(StrEnum):
    INTRAMUSCULAR = "intramuscular"
    SUBLINGUAL = "sublingual"  # lozenge or troche
    ORAL = "oral"
    INTRANASAL = "intranasal"
    INTRAVENOUS = "intravenous"
    SUBCUTANEOUS = "subcutaneous"


class ObservedLevel(StrEnum):
    """Sedation or dissociation as observed at a monitoring check."""

    NONE = "none"
    MILD = "mild"  # e.g. drowsy, answers at once; or mild detachment
    MODERATE = "moderate"  # e.g. answers only when spoken to loudly; or marked detachment
    SEVERE = "severe"  # e.g. answers only to touch or not at all; or distress


class FollowUpOutcome(StrEnum):
    CONTINUE = "continue"
    DISCONTINUE = "discontinue"


class DueKind(StrEnum):
    REFERRAL_SLA = "referral_sla"
    INTAKE_REMINDER = "intake_reminder"
    SESSION_REMINDER = "session_reminder"  # also asks to confirm transport / chaperone
    MONITORING_END = "monitoring_end"  # discharge assessment due
    CHAPERONE_CHECK_IN = "chaperone_check_in"
    INTEGRATION_REMINDER = "integration_reminder"
    INTEGRATION_OVERDUE = "integration_overdue"
    PRESCRIBER_FOLLOW_UP = "prescriber_follow_up"
    PRESCRIPTION_EXPIRY = "prescription_expiry"
    INACTIVITY_NUDGE = "inactivity_nudge"
    VITALS_CHECK = "vitals_check"  # the mid-session reading is due (protocol interval)
    MONITORING_RECORD = "monitoring_record"  # the session's record is not signed in time
    VISIT_REMINDER = "visit_reminder"  # a preparation, integration or follow-up visit is near
    DISCHARGE_FOLLOW_UP = "discharge_follow_up"  # a stopping course's follow-up is late


# Opaque identifiers: never a name, never PHI.
OpaqueId = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
]
# A lot (batch) number as printed on the vial or pack.
LotNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]*$")
]
# A short machine-readable reason code, not free text.
ReasonCode = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")]

# What text from outside may not hold: C0 and C1 control characters and DEL; surrogates, which
# in a Python string are always unpaired (not UTF-8: PostgreSQL refuses them, as it refuses NUL);
# and Unicode's noncharacters, which are not meant for interchange.
_NOT_PLAIN = re.compile(
    r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(17))
    + "]"
)


def _plain_text(text: str) -> str:
    # A ValueError: the API answers a value_error with these words (never with the input).
    if _NOT_PLAIN.search(text):
        raise ValueError(
            "must be plain text, without control characters, unpaired surrogates or noncharacters"
        )
    return text


# Add to a str type that takes text from outside: Annotated[str, StringConstraints(...), PlainText]
PlainText = AfterValidator(_plain_text)
# A short label from outside (a consent form's or a protocol's version): plain, 1 to 40 characters.
Label = Annotated[str, StringConstraints(min_length=1, max_length=40), PlainText]


class Actor(BaseModel):
    """Who made a decision: every command and event is attributed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: OpaqueId
    role: Role
