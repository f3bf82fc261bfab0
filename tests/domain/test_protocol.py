"""The clinic's protocol: the bounds a new one keeps, and its identity by content.

Recorded protocols (`Protocol`) read whatever they hold; a new one (`NewProtocol`,
`NewProtocolValues`) keeps the evidence-based bounds; a protocol's label names its values only
where it is pinned (`identified`, `pinned`), never when it is parsed, so that old histories
(the defaults labelled "2026-11") still replay.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain.commands import StartJourney
from domain.protocol import (
    ABSOLUTE_EXCLUSIONS,
    CASE_BY_CASE,
    NEW_PROTOCOL_BOUNDS,
    NewProtocol,
    NewProtocolValues,
    Protocol,
    ProtocolValues,
    canonical_json,
    identified,
    label_parts,
    pinned,
    protocol_digest,
    version_label,
)
from domain.vocabulary import Contraindication, Label
from tests.domain.journey import COMMAND, OPS

NEW = TypeAdapter(NewProtocol)
NEW_VALUES = TypeAdapter(NewProtocolValues)
LABEL = TypeAdapter(Label)


def start(**fields: Any) -> dict[str, Any]:
    return {
        "type": "start_journey",
        "decision_id": "d-1",
        "actor": OPS,
        "journey_id": "j-1",
        "client_id": "cl-1",
        "therapist_id": "th-1",
        "prescriber_id": "rx-1",
        **fields,
    }


def refused(values: dict[str, Any]) -> dict[str, str]:
    """Where and why a new protocol with these values is refused (its values alone too)."""
    with pytest.raises(ValidationError) as caught:
        NEW_VALUES.validate_python(values)
    with pytest.raises(ValidationError):
        NEW.validate_python(values)
    with pytest.raises(ValidationError):
        COMMAND.validate_python(start(protocol=values))
    return {
        ".".join(str(p) for p in error["loc"]): str(error["ctx"]["error"])
        for error in caught.value.errors(include_input=False)
    }


# --- the issue's repros -------------------------------------------------------------------


def test_the_issues_protocols_cannot_be_new_but_still_read_as_recorded() -> None:
    loose = {
        "bp_systolic_limit": 200,
        "bp_diastolic_limit": 130,
        "min_monitoring_minutes": 30,
        "vitals_interval_minutes": 20,  # before the monitoring ends (a cross-field rule)
    }
    errors = refused(loose)
    assert set(errors) == {"bp_systolic_limit", "bp_diastolic_limit", "min_monitoring_minutes"}
    assert "at most 140" in errors["bp_systolic_limit"]
    assert "at most 90" in errors["bp_diastolic_limit"]
    assert "at least 120" in errors["min_monitoring_minutes"]
    assert "Spravato" in errors["bp_systolic_limit"]
    # A journey that started on it before keeps reading it.
    recorded = Protocol.model_validate({**loose, "version": "2026-11"})
    assert recorded.bp_systolic_limit == 200


def test_no_absolute_exclusion_may_be_removed() -> None:
    errors = refused({"absolute_exclusions": []})
    assert "ketamine_allergy" in errors["absolute_exclusions"]
    assert "active_suicidal_ideation" in errors["absolute_exclusions"]
    for dropped in ABSOLUTE_EXCLUSIONS:
        kept = sorted(ABSOLUTE_EXCLUSIONS - {dropped})
        errors = refused({"absolute_exclusions": kept})
        assert list(errors) == ["absolute_exclusions"]
        assert dropped.value in errors["absolute_exclusions"]
    assert Protocol.model_validate({"absolute_exclusions": []}).absolute_exclusions == frozenset()


def test_a_clinic_may_add_exclusions_and_make_case_by_case_ones_absolute() -> None:
    stricter = NEW_VALUES.validate_python(
        {
            "absolute_exclusions": sorted(ABSOLUTE_EXCLUSIONS | {Contraindication.PREGNANCY}),
            "case_by_case": sorted(CASE_BY_CASE - {Contraindication.PREGNANCY}),
        }
    )
    assert Contraindication.PREGNANCY in stricter.absolute_exclusions


def test_a_case_by_case_contraindication_may_not_be_dropped() -> None:
    with pytest.raises(ValidationError, match="case_by_case must keep pregnancy"):
        NEW_VALUES.validate_python({"case_by_case": sorted(CASE_BY_CASE - {"pregnancy"})})


@pytest.mark.parametrize("cutoff", [31, 32, 33])
def test_the_pcl5_cutoff_is_31_to_33(cutoff: int) -> None:
    assert NEW_VALUES.validate_python({"pcl5_provisional_ptsd_cutoff": cutoff})


@pytest.mark.parametrize("cutoff", [34, 40])
def test_a_pcl5_cutoff_above_33_is_refused_but_reads_when_recorded(cutoff: int) -> None:
    errors = refused({"pcl5_provisional_ptsd_cutoff": cutoff})
    assert "31 to 33" in errors["pcl5_provisional_ptsd_cutoff"]
    assert Protocol(pcl5_provisional_ptsd_cutoff=cutoff).pcl5_provisional_ptsd_cutoff == cutoff


@pytest.mark.parametrize(
    ("field", "loosened", "tightened"),
    [
        ("bp_systolic_limit", 141, 130),
        ("bp_diastolic_limit", 91, 85),
        ("discharge_systolic_limit", 150, 135),
        ("discharge_diastolic_limit", 95, 85),
        ("min_monitoring_minutes", 119, 180),
        ("vitals_interval_minutes", 45, 30),
        ("monitoring_record_days", 8, 3),
        ("chaperone_check_in_minutes", 20, 10),
        ("min_hours_between_doses", 12, 72),
        ("prescriber_follow_up_days", 31, 28),
    ],
)
def test_each_bound_refuses_loosening_and_allows_tightening(
    field: str, loosened: int, tightened: int
) -> None:
    assert field in NEW_PROTOCOL_BOUNDS
    assert list(refused({field: loosened})) == [field]
    assert getattr(NEW_VALUES.validate_python({field: tightened}), field) == tightened
    assert getattr(Protocol.model_validate({field: loosened}), field) == loosened


def test_the_defaults_are_a_new_protocol() -> None:
    assert NEW.validate_python({}) == Protocol()
    assert NEW_VALUES.validate_python({}) == ProtocolValues()


def test_an_old_history_s_start_still_parses() -> None:
    # The histories under tests/workflows/histories start on the defaults labelled "2026-11".
    command = COMMAND.validate_python(start(protocol=Protocol().model_dump(mode="json")))
    assert isinstance(command, StartJourney)
    assert command.protocol.version == "2026-11"
    assert not identified(command.protocol)


# --- identified by content ----------------------------------------------------------------


def test_the_digest_is_of_the_values_alone_and_sets_in_any_order() -> None:
    a = Protocol(version="a")
    b = Protocol(version="b")
    assert protocol_digest(a) == protocol_digest(b) == protocol_digest(ProtocolValues())
    data = json.loads(canonical_json(a))
    assert "version" not in data
    assert data["absolute_exclusions"] == sorted(data["absolute_exclusions"])
    shuffled = {**data, "absolute_exclusions": list(reversed(data["absolute_exclusions"]))}
    assert protocol_digest(ProtocolValues.model_validate(shuffled)) == protocol_digest(a)
    # Stored JSON digests as its values do.
    assert protocol_digest(data) == protocol_digest(a)
    assert protocol_digest(Protocol(referral_sla_days=13)) != protocol_digest(a)


@given(
    name=st.from_regex(r"[a-z][a-z0-9-]{0,19}", fullmatch=True),
    number=st.integers(1, 999_999),
    referral_sla_days=st.integers(1, 90),
)
def test_every_label_is_a_label_and_names_its_values(
    name: str, number: int, referral_sla_days: int
) -> None:
    values = ProtocolValues(referral_sla_days=referral_sla_days)
    digest = protocol_digest(values)
    label = version_label(name, number, digest)
    assert LABEL.validate_python(label) == label  # at most 40 plain characters
    assert label_parts(label) == (name, number, digest[:12])
    protocol = pinned(values, label)
    assert identified(protocol)
    assert NEW.validate_python(protocol) == protocol
    other = ProtocolValues(referral_sla_days=referral_sla_days % 90 + 1)
    with pytest.raises(ValueError, match="does not name its values"):
        pinned(other, label)


def test_labels_that_do_not_name_values_are_not_identified() -> None:
    digest = protocol_digest(ProtocolValues())
    assert identified(Protocol(version=version_label("standard", 1, digest)))
    for label in ("2026-11", "standard.1", f"standard.0+{digest[:12]}", f"Std.1+{digest[:12]}"):
        assert not identified(Protocol(version=label)), label
    with pytest.raises(ValueError):
        version_label("Not a name", 1, digest)
    with pytest.raises(ValueError):
        version_label("standard", 1_000_000, digest)
    with pytest.raises(ValueError):
        version_label("standard", 1, "abc")
