"""Request bodies refuse text PostgreSQL would refuse (or that has no place in a label): a 422."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.decisions import BODY_MODELS
from api.errors import from_validation_error
from api.models import StartJourneyBody

SECRET = "SECRET-NAME"  # stands in for contact details that must never reach a message
PLAIN = "must be plain text, without control characters, unpaired surrogates or noncharacters"


def body(**contact: str) -> dict[str, Any]:
    return {
        "client_id": "cl-1",
        "therapist_id": "th-1",
        "prescriber_id": "rx-1",
        "contact": contact,
    }


@pytest.mark.parametrize("field", ["display_name", "email", "phone"])
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x7f", "\x85", "\ud800", "\uffff"])
def test_contact_details_refuse_control_characters(field: str, char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StartJourneyBody.model_validate(body(**{field: f"{SECRET}{char}x"}))
    answer = from_validation_error(caught.value)
    assert answer.status == 422
    [error] = answer.errors or []
    assert error["loc"] == f"contact.{field}"
    if char != "\ud800":  # pydantic itself refuses a lone surrogate as not Unicode
        assert error["msg"] == PLAIN
    assert SECRET not in str(answer.body()) and SECRET not in str(caught.value)


def test_contact_details_in_any_script_are_accepted() -> None:
    start = StartJourneyBody.model_validate(
        body(
            display_name=" Zoë Ólafsdóttir 山田 ", email="zoë@example.org", phone="+44 20 7946 0000"
        )
    )
    assert start.contact is not None
    assert start.contact.display_name == "Zoë Ólafsdóttir 山田"


def _decision(type_: str) -> type[BaseModel]:
    return next(
        m for m in BODY_MODELS if typing.get_args(m.model_fields["type"].annotation)[0] == type_
    )


def test_a_decision_body_refuses_nul_in_a_consent_version() -> None:
    with pytest.raises(ValidationError) as caught:
        _decision("record_consent").model_validate(
            {
                "type": "record_consent",
                "decision_id": "d-1",
                "consent_version": "v\x003",
                "signed_at": "2026-01-05T09:00:00Z",
            }
        )
    answer = from_validation_error(caught.value)
    assert [e["loc"] for e in answer.errors or []] == ["consent_version"]
