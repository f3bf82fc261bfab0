"""Text from outside is plain and bounded at the domain's edge; recorded text still reads."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

import pytest
from annotated_types import MaxLen
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from domain import Command, Protocol, fold, parse_event
from domain.commands import CompleteConsultation, RecordConsent, StartJourney
from domain.vocabulary import Label, PlainText
from tests.domain.journey import COMMAND, OPS, SYSTEM, T0, THERAPIST, Journey

NOT_PLAIN = [
    "\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f",
    "\ud800", "\udbff", "\udc00", "\udfff",
    "\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0001ffff", "\U0010ffff",
]  # fmt: skip
PLAIN = [
    "kap-v3",
    "Einwilligung v3 – 2026",
    "同意書 第3版",
    "הסכמה 3",
    "v3 😀",
    "\u00a0v3",
    "\ufdf0",
]
C = TypeVar("C", bound=BaseModel)
SECRET = "SECRET-DIAGNOSIS"  # stands in for what a message must never repeat


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


def consent(version: str) -> dict[str, Any]:
    return {
        "type": "record_consent",
        "decision_id": "d-2",
        "actor": THERAPIST,
        "consent_version": version,
        "signed_at": T0,
    }


def goals(*goals: str) -> dict[str, Any]:
    return {
        "type": "complete_consultation",
        "decision_id": "d-3",
        "actor": THERAPIST,
        "treatment_goals": list(goals),
    }


def accepted(data: dict[str, Any], cls: type[C]) -> C:
    command = COMMAND.validate_python(data)
    assert isinstance(command, cls)
    return command


def refused(data: dict[str, Any]) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        COMMAND.validate_python(data)
    errors = caught.value.errors(include_input=False)
    for error in errors:
        assert SECRET not in error["msg"]
    return errors


# --- the repros ---------------------------------------------------------------------------


def test_nul_in_a_protocol_version_is_refused_naming_the_field() -> None:
    [error] = refused(start(protocol={"version": "2026-11\x00"}))
    assert error["loc"] == ("start_journey", "protocol", "version")
    assert "plain text" in error["msg"]


def test_nul_in_a_consent_version_is_refused_naming_the_field() -> None:
    [error] = refused(consent("v\x003"))
    assert error["loc"] == ("record_consent", "consent_version")
    assert "plain text" in error["msg"]


def test_a_protocol_instance_is_checked_too() -> None:
    # As POST /journeys builds the command: a Protocol already made, then StartJourney.
    protocol = Protocol(version="2026-11\x00")
    with pytest.raises(ValidationError) as caught:
        StartJourney(**{**start(), "protocol": protocol})
    [error] = caught.value.errors()
    assert error["loc"] == ("protocol", "version")


# --- every kind of character, every text field --------------------------------------------


@pytest.mark.parametrize("char", NOT_PLAIN, ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_surrogates_and_noncharacters_are_refused(char: str) -> None:
    text = f"{SECRET}{char}x"
    for data, loc in [
        (start(protocol={"version": text}), ("start_journey", "protocol", "version")),
        (consent(text), ("record_consent", "consent_version")),
        (goals("sleep better", text), ("complete_consultation", "treatment_goals", 1)),
    ]:
        [error] = refused(data)
        assert error["loc"] == loc


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_in_any_script_is_accepted(text: str) -> None:
    assert accepted(start(protocol={"version": text}), StartJourney).protocol.version == text
    assert accepted(consent(text), RecordConsent).consent_version == text
    assert accepted(goals(text), CompleteConsultation).treatment_goals == [text.strip()]


def test_sizes_are_bounded() -> None:
    assert COMMAND.validate_python(consent("v" * 40))
    [error] = refused(consent("\x00" * 70_000))
    assert error["type"] == "string_too_long"
    [error] = refused(start(protocol={"version": "v" * 41}))
    assert error["loc"] == ("start_journey", "protocol", "version")
    assert COMMAND.validate_python(goals("g" * 200))
    [error] = refused(goals("g" * 201))
    assert error["type"] == "string_too_long"
    assert refused(goals(*["g"] * 6))


def test_a_due_reached_ref_is_an_opaque_id() -> None:
    data = {
        "type": "record_due_reached",
        "decision_id": "d-4",
        "actor": SYSTEM,
        "kind": "inactivity_nudge",
        "due_at": T0,
    }
    assert COMMAND.validate_python({**data, "ref": "inactivity"})
    [error] = refused({**data, "ref": "s1\x00"})
    assert error["loc"] == ("record_due_reached", "ref")


def test_the_default_protocol_is_a_plain_protocol() -> None:
    command = COMMAND.validate_python(start())
    assert isinstance(command, StartJourney)
    assert type(command.protocol) is Protocol
    assert command.protocol == Protocol()


# --- recorded text still reads ------------------------------------------------------------


def test_events_recorded_before_the_check_still_read_and_fold() -> None:
    # The store took any text but NUL and lone surrogates: such events must still read.
    j = Journey().started().screened()
    j.do("complete_consultation", treatment_goals=["sleep"])
    stored = []
    for event in j.events:
        data = event.model_dump(mode="json")
        if data["type"] == "journey_started":
            data["protocol"]["version"] = "2026-11\x01\x85"
        if data["type"] == "consent_recorded":
            data["consent_version"] = "v\x7f3\ufffe"
        if data["type"] == "consultation_completed":
            data["treatment_goals"] = ["sleep\tbetter", "x" * 500]
        stored.append(parse_event(data))
    state = fold(stored)
    assert state is not None
    assert state.protocol.version == "2026-11\x01\x85"
    assert state.consent is not None and state.consent.version == "v\x7f3\ufffe"
    # A recorded protocol reads; the same protocol cannot start a journey.
    assert Protocol.model_validate({"version": "2026-11\x01"}).version == "2026-11\x01"
    refused(start(protocol={"version": "2026-11\x01"}))


# --- every text field of every command is plain and bounded -------------------------------


def _strings(annotation: Any, metadata: list[Any], path: str) -> list[tuple[str, list[Any]]]:
    """Each str reached from an annotation, with its metadata, by path."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *more = typing.get_args(annotation)
        metadata = [*metadata, *more]
    flat: list[Any] = []
    for item in metadata:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, dict):
        inner = path if origin in (typing.Union, types.UnionType) else f"{path}[]"
        found: list[tuple[str, list[Any]]] = []
        for arg in typing.get_args(annotation):
            found += _strings(arg, [], inner)
        return found
    if annotation is str:
        return [(path, flat)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [
            found
            for name, field in annotation.model_fields.items()
            for found in _strings(field.annotation, list(field.metadata), f"{path}.{name}")
        ]
    return []


def _bounded_and_plain(metadata: list[Any]) -> bool:
    max_length = any(
        isinstance(m, MaxLen) or (isinstance(m, StringConstraints) and m.max_length)
        for m in metadata
    )
    pattern = any(isinstance(m, StringConstraints) and m.pattern for m in metadata)
    return max_length and (pattern or PlainText in metadata)


def test_every_text_field_of_every_command_is_plain_and_bounded() -> None:
    # A protocol's text is checked as a whole by NewProtocol (`domain.protocol._new`): today
    # its version only. A new text field on Protocol must be checked there too.
    assert [path for path, _ in _strings(Protocol, [], "Protocol")] == ["Protocol.version"]
    commands = typing.get_args(typing.get_args(Command)[0])
    unchecked = [
        path
        for command in commands
        for path, metadata in _strings(command, [], command.__name__)
        if not path.startswith(f"{command.__name__}.protocol.") and not _bounded_and_plain(metadata)
    ]
    assert unchecked == []


def test_label_is_plain_and_short() -> None:
    label: TypeAdapter[str] = TypeAdapter(Label)
    assert label.validate_python("v3") == "v3"
    for bad in ["", "v" * 41, "v\x00"]:
        with pytest.raises(ValidationError):
            label.validate_python(bad)
