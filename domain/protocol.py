"""The clinic's protocol: every number of the pathway, tunable and versioned.

A journey records the protocol it started with, so a new protocol never changes a running one.
`Protocol` reads a recorded protocol as it was recorded (its values, `ProtocolValues`, and the
version label it was recorded under); `NewProtocol` is one a journey may start with now, and
`NewProtocolValues` the values a clinic may publish: both hold the evidence-based bounds below
(`NEW_PROTOCOL_BOUNDS`), which no clinic may loosen.

A clinic's protocols are versions in a registry (`records/protocols.py`), each identified by its
content: the SHA-256 of its values as canonical JSON (`protocol_digest`), named in its label
`<name>.<n>+<first 12 hex digits of the digest>` (`version_label`). `identified` says whether a
protocol's label names its own values; it is checked where a protocol is published or pinned to
a journey, never when one is parsed (recorded protocols carry labels such as "2026-11").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    model_validator,
)

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


class ProtocolValues(BaseModel):
    """A protocol's values, without its version label. Defaults follow the Journey Clinical
    model and the Spravato REMS (see docs/pathway.md). The ranges here are what a recorded
    protocol may hold; a new one is held to `NEW_PROTOCOL_BOUNDS` as well."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    # Instruments. Recorded protocols may hold up to 40; a new one 31 to 33 (see below).
    pcl5_provisional_ptsd_cutoff: int = Field(default=33, ge=31, le=40)

    # After a course that gave a dose (completed or discharged): PHQ-9 and GAD-7 check-ins
    # (weeks after it closed) and reminders to the therapist each time a maintenance interval
    # comes due.
    follow_up_check_in_weeks: tuple[Annotated[int, Field(ge=1, le=104)], ...] = (2, 4, 12)
    maintenance_interval_days: int = Field(default=45, ge=30, le=60)

    @model_validator(mode="after")
    def _consistent(self) -> ProtocolValues:
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

    # Sets are written in order, so that the same values always read the same (and digest
    # alike): a set's own order changes from one process to the next.
    @field_serializer("absolute_exclusions", "case_by_case")
    def _in_order(self, found: frozenset[Contraindication]) -> list[Contraindication]:
        return sorted(found)


class Protocol(ProtocolValues):
    """A protocol as a journey records it: its values and the version label they had."""

    version: str = Field(default="2026-11", min_length=1, max_length=40)


# --- the bounds a new protocol keeps ------------------------------------------------------


def _at_most(limit: int, why: str) -> AfterValidator:
    def check(value: int) -> int:
        if value > limit:
            raise ValueError(f"must be at most {limit} for a new protocol: {why}")
        return value

    return AfterValidator(check)


def _at_least(limit: int, why: str) -> AfterValidator:
    def check(value: int) -> int:
        if value < limit:
            raise ValueError(f"must be at least {limit} for a new protocol: {why}")
        return value

    return AfterValidator(check)


def _keeps(required: frozenset[Contraindication], why: str) -> AfterValidator:
    def check(found: frozenset[Contraindication]) -> frozenset[Contraindication]:
        missing = sorted(required - found)
        if missing:
            raise ValueError(f"must keep {', '.join(missing)}: {why}")
        return found

    return AfterValidator(check)


_BP = (
    "no dose above 140/90 mmHg (Spravato label and REMS; the clinics' policies), and no "
    "discharge either; a clinic may set a lower limit, never a higher one"
)
_EXCLUSIONS = (
    "the absolute exclusions of the Journey Clinical eligibility FAQ; a clinic may add "
    "contraindications, never remove one"
)


class _ValueBounds(BaseModel):
    """`NEW_PROTOCOL_BOUNDS` as a model: a new protocol's values are checked against it, each
    error named by its field."""

    # Spravato label: blood pressure before the dose; the discharge assessment to the same limit.
    bp_systolic_limit: Annotated[int, _at_most(140, _BP)]
    bp_diastolic_limit: Annotated[int, _at_most(90, _BP)]
    discharge_systolic_limit: Annotated[int, _at_most(140, _BP)]
    discharge_diastolic_limit: Annotated[int, _at_most(90, _BP)]
    # Spravato REMS: at least 2 hours of monitoring after the dose before discharge is assessed.
    min_monitoring_minutes: Annotated[
        int, _at_least(120, "the Spravato REMS monitors at least 2 hours after the dose")
    ]
    # Spravato REMS Patient Monitoring Form: blood pressure again about 40 minutes after the dose;
    # the form within 7 days of the session.
    vitals_interval_minutes: Annotated[
        int, _at_most(40, "the Spravato REMS checks blood pressure about 40 minutes after the dose")
    ]
    monitoring_record_days: Annotated[
        int, _at_most(7, "the Spravato REMS monitoring form is due within 7 days of the session")
    ]
    # Journey Clinical remote-session guide: a visual check by the chaperone every 15 minutes.
    chaperone_check_in_minutes: Annotated[
        int,
        _at_most(15, "a remote session's chaperone checks in every 15 minutes (Journey Clinical)"),
    ]
    # One dosing session a day at most: each ends with 2 hours' monitoring and no driving until
    # the next day (Spravato label; Journey Clinical). The usual cadence is about 2 weeks.
    min_hours_between_doses: Annotated[
        int, _at_least(24, "at most one dosing session a day (Spravato label; Journey Clinical)")
    ]
    # Journey Clinical: the prescriber's follow-up is mandatory about 30 days after the intake.
    prescriber_follow_up_days: Annotated[
        int, _at_most(30, "the prescriber follow-up is due about 30 days after the intake")
    ]
    # PCL-5 (National Center for PTSD): a provisional PTSD diagnosis at 31 to 33.
    pcl5_provisional_ptsd_cutoff: Annotated[
        int,
        _at_least(31, "the PCL-5's evidence-based cutoff for provisional PTSD is 31 to 33"),
        _at_most(33, "the PCL-5's evidence-based cutoff for provisional PTSD is 31 to 33"),
    ]
    # Journey Clinical eligibility FAQ: the absolute exclusions stay absolute.
    absolute_exclusions: Annotated[
        frozenset[Contraindication], _keeps(ABSOLUTE_EXCLUSIONS, _EXCLUSIONS)
    ]

    @model_validator(mode="before")
    @classmethod
    def _case_by_case_kept(cls, data: Any) -> Any:
        # A case-by-case contraindication may become absolute, never be dropped altogether.
        if isinstance(data, dict):
            kept = frozenset(data.get("absolute_exclusions", ())) | frozenset(
                data.get("case_by_case", ())
            )
            missing = sorted(CASE_BY_CASE - kept)
            if missing:
                raise ValueError(
                    f"case_by_case must keep {', '.join(missing)} (or make it absolute): the "
                    "Journey Clinical eligibility FAQ asks for a clinician's judgement on each"
                )
        return data


class _NewBounds(_ValueBounds):
    version: Label


# The settings a new protocol is bounded on (its other settings: `ProtocolValues`' ranges).
NEW_PROTOCOL_BOUNDS: frozenset[str] = frozenset(_ValueBounds.model_fields)


def _checked(bounds: type[_ValueBounds]) -> Callable[[Any], Any]:
    def check(protocol: Any) -> Any:
        # Errors read as the protocol's own: `protocol.bp_systolic_limit`, `protocol.version`.
        fields = {*bounds.model_fields, "case_by_case"}
        bounds.model_validate(protocol.model_dump(include=fields))
        return protocol

    return check


# A protocol a journey may start with. Not on `Protocol` itself: journey_started events hold
# protocols recorded before versions and bounds were checked, and they must still read. Its label
# is only checked to be plain text here (histories replay with "2026-11"): that it names its
# values is checked where it is pinned (`identified`).
NewProtocol = Annotated[Protocol, AfterValidator(_checked(_NewBounds))]
# The values a clinic may publish as a new version of its protocol.
NewProtocolValues = Annotated[ProtocolValues, AfterValidator(_checked(_ValueBounds))]


# --- identified by content ----------------------------------------------------------------

# A protocol's name in its clinic's registry: short enough that every label fits a `Label`.
PROTOCOL_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"
ProtocolName = Annotated[str, StringConstraints(pattern=PROTOCOL_NAME_PATTERN)]
DEFAULT_NAME = "standard"  # the built-in defaults, published as a clinic's first version
MAX_VERSION_NUMBER = 999_999
DIGEST_IN_LABEL = 12  # hex digits of the digest a label carries
_LABEL = re.compile(r"^([a-z][a-z0-9-]{0,19})\.([1-9][0-9]{0,5})\+([0-9a-f]{12})$")


def canonical_values(values: ProtocolValues) -> dict[str, Any]:
    """The protocol's values (never its label) as JSON values, sets in order."""
    return ProtocolValues.model_validate(values.model_dump(exclude={"version"})).model_dump(
        mode="json"
    )


def canonical_json(values: ProtocolValues | Mapping[str, Any]) -> str:
    """The values as canonical JSON: keys sorted, no spaces, UTF-8. Values as JSON (a stored
    version's) are written as they are."""
    data = values if isinstance(values, Mapping) else canonical_values(values)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def protocol_digest(values: ProtocolValues | Mapping[str, Any]) -> str:
    """SHA-256 of the values' canonical JSON, in hex: what identifies a protocol's content."""
    return hashlib.sha256(canonical_json(values).encode("utf-8")).hexdigest()


def version_label(name: str, number: int, digest: str) -> str:
    """`<name>.<n>+<first 12 hex digits of the digest>`: at most 40 characters."""
    if re.fullmatch(PROTOCOL_NAME_PATTERN, name) is None:
        raise ValueError("a protocol's name is a lower-case letter, then up to 19 more: a-z 0-9 -")
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise ValueError(f"a version number is 1 to {MAX_VERSION_NUMBER}")
    if re.fullmatch(r"[0-9a-f]{64}", digest) is None:
        raise ValueError("a digest is 64 lower-case hex digits (SHA-256)")
    return f"{name}.{number}+{digest[:DIGEST_IN_LABEL]}"


def label_parts(label: str) -> tuple[str, int, str] | None:
    """(name, number, digest prefix) of a registry label; None for any other label."""
    found = _LABEL.fullmatch(label)
    if found is None:
        return None
    return found[1], int(found[2]), found[3]


def identified(protocol: Protocol) -> bool:
    """Whether the protocol's label is a registry label naming these very values."""
    parts = label_parts(protocol.version)
    return parts is not None and protocol_digest(protocol).startswith(parts[2])


def pinned(values: ProtocolValues, label: str) -> Protocol:
    """The protocol a journey starts with: these values under their registry label. ValueError
    when the label does not name these values."""
    protocol = Protocol.model_validate({**values.model_dump(exclude={"version"}), "version": label})
    if not identified(protocol):
        raise ValueError("the protocol's version label does not name its values")
    return protocol
