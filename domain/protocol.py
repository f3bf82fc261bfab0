"""The clinic's protocol: every number of the pathway, tunable and versioned.

A journey records the protocol it started with, so a new protocol never changes a running one.
`Protocol` reads a recorded protocol as it was recorded; `NewProtocol` is one a journey may start
with now (its version a plain `Label`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from domain.vocabulary import Contraindication, Label

ABSOLUTE_EXCLUSIONS: frozenset[Contraindication] = frozenset(
    {
        Contraindication.UNCONTROLLED_HYPERTENSION,
        Contraindication.GLAUCOMA,
        Contraindication.SEVERE_BREATHING_PROBLEMS,
        Contraindication.KETAMINE_ALLERGY,
        Contraindication.UNCONTROLLED_SUBSTANCE_USE,
        Contraindication.ACUTE_MANIA,
        Contraindication.PRIMARY_PSYCHOTIC_DISORDER,
        Contraindication.ACTIVE_SUICIDAL_IDEATION,
    }
)
CASE_BY_CASE: frozenset[Contraindication] = frozenset(
    {
        Contraindication.PREGNANCY,
        Contraindication.LIVER_DISEASE,
        Contraindication.CYSTITIS,
        Contraindication.HYPERTHYROIDISM,
    }
)


class Protocol(BaseModel):
    """Defaults follow the Journey Clinical model and the Spravato REMS (see docs/pathway.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(default="2026-11", min_length=1, max_length=40)

    # Referral and medication review
    referral_sla_days: int = Field(default=14, ge=1, le=90)
    initial_doses_authorized: int = Field(default=2, ge=1, le=12)
    follow_up_doses_authorized: int = Field(default=6, ge=1, le=12)
    max_doses_per_authorization: int = Field(default=8, ge=1, le=24)
    prescriber_follow_up_days: int = Field(default=30, ge=7, le=120)

    # Preparation and dosing
    preparation_sessions_required: int = Field(default=1, ge=0, le=6)
    bp_systolic_limit: int = Field(default=140, ge=90, le=200)
    bp_diastolic_limit: int = Field(default=90, ge=50, le=130)
    min_monitoring_minutes: int = Field(default=120, ge=30, le=480)
    min_hours_between_doses: int = Field(default=24, ge=12, le=24 * 60)
    early_start_minutes: int = Field(default=60, ge=0, le=24 * 60)
    chaperone_check_in_minutes: int = Field(default=15, ge=5, le=60)
    # The session's monitoring record: vitals again this long after the dose (Spravato REMS:
    # ~40 min), discharge only with the last vitals within these limits (or the prescriber's
    # signed exception), the record signed within this many days (the REMS form: 7).
    vitals_interval_minutes: int = Field(default=40, ge=10, le=120)
    discharge_systolic_limit: int = Field(default=140, ge=90, le=200)
    discharge_diastolic_limit: int = Field(default=90, ge=50, le=130)
    monitoring_record_days: int = Field(default=7, ge=1, le=30)
    # Adverse events may be reported against a session until this many days after its dose.
    adverse_event_window_days: int = Field(default=30, ge=1, le=90)

    # Integration: one integration session is owed per this many doses (1 = after every dose).
    doses_per_integration: int = Field(default=1, ge=1, le=2)
    integration_window_days: int = Field(default=7, ge=1, le=30)
    integration_reminder_after_days: int = Field(default=3, ge=1, le=29)

    # Reminders and nudges
    appointment_reminder_hours: int = Field(default=24, ge=1, le=24 * 7)
    inactivity_nudge_days: int = Field(default=21, ge=3, le=180)

    # Eligibility
    absolute_exclusions: frozenset[Contraindication] = ABSOLUTE_EXCLUSIONS
    case_by_case: frozenset[Contraindication] = CASE_BY_CASE

    # Instruments
    pcl5_provisional_ptsd_cutoff: int = Field(default=33, ge=31, le=40)

    # After a completed course: PHQ-9 and GAD-7 check-ins (weeks after completion) and
    # reminders to the therapist each time a maintenance interval comes due.
    follow_up_check_in_weeks: tuple[Annotated[int, Field(ge=1, le=104)], ...] = (2, 4, 12)
    maintenance_interval_days: int = Field(default=45, ge=30, le=60)

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        if self.integration_reminder_after_days >= self.integration_window_days:
            raise ValueError("the integration reminder must come before the window closes")
        if self.absolute_exclusions & self.case_by_case:
            raise ValueError("a contraindication cannot be both absolute and case by case")
        if self.initial_doses_authorized > self.max_doses_per_authorization:
            raise ValueError("initial doses exceed the per-authorization maximum")
        if self.vitals_interval_minutes >= self.min_monitoring_minutes:
            raise ValueError("the mid-session vitals must come before the monitoring ends")
        if self.follow_up_doses_authorized > self.max_doses_per_authorization:
            raise ValueError("follow-up doses exceed the per-authorization maximum")
        return self


class _NewVersion(BaseModel):
    version: Label


def _new(protocol: Protocol) -> Protocol:
    # Errors read as the protocol's own: `protocol.version`.
    _NewVersion(version=protocol.version)
    return protocol


# A protocol a journey may start with. Not on `Protocol` itself: journey_started events hold
# protocols recorded before versions were checked, and they must still read.
NewProtocol = Annotated[Protocol, AfterValidator(_new)]
