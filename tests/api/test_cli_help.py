"""`carepath decide --help` lists every decision the API takes and each of its fields, generated
from the domain's commands: run as the real CLI (a subprocess; the help needs no server) and
checked against the API's own decision bodies (`api.decisions.BODY_MODELS`), so the two cannot
drift apart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from api.decisions import BODY_MODELS, DECISION_TYPES
from domain.roles import ALLOWED_ROLES

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"decision_id", "schema_version"}  # every decision's: stated once in the full help


def carepath(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="100", CAREPATH_API_URL="http://127.0.0.1:9")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bodies() -> dict[str, type[BaseModel]]:
    found = {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in BODY_MODELS}
    assert set(found) == DECISION_TYPES
    return found


def flags(body: type[BaseModel]) -> set[str]:
    """The body's fields as the CLI takes them."""
    names = set(body.model_fields) - {"type"} - COMMON
    return {"--" + name.replace("_", "-") for name in names}


def sections(text: str) -> dict[str, str]:
    """The help's decisions: a line `name  (who: ...)` at the left edge opens one."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        opening = re.match(r"^([a-z_]+)  \(who: ", line)
        if opening:
            current = found.setdefault(opening.group(1), [])
        if current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def field_flags(section: str) -> set[str]:
    return set(re.findall(r"^  (--[a-z-]+)", section, flags=re.MULTILINE))


def test_decide_help_lists_every_decision_with_its_fields_and_who_may_make_it() -> None:
    done = carepath("decide", "--help")
    assert done.returncode == 0, done.stderr
    help_text = done.stdout
    assert all(len(line) <= 100 for line in help_text.splitlines()), "wider than 100 columns"
    before_the_decisions = help_text[: help_text.index("  (who: ")]
    for name in COMMON:  # every decision's fields, stated once
        assert f"--{name.replace('_', '-')}" in before_the_decisions, name
    found = sections(help_text)
    assert set(found) == DECISION_TYPES, "decisions missing from (or unknown to) the help"
    assert "start_journey" not in found
    for decision, body in bodies().items():
        section = found[decision]
        assert field_flags(section) == flags(body), decision
        who = re.search(r"\(who: ([a-z_, ]+)\)", section)
        assert who is not None
        assert set(who.group(1).split(", ")) == {r.value for r in ALLOWED_ROLES[decision]}
        for name, field in body.model_fields.items():
            if name in COMMON or name == "type":
                continue
            # the field's own text, up to the next field, states whether it is required
            own = re.split(r"\n  --", section.split(f"  --{name.replace('_', '-')} ", 1)[1])[0]
            assert requirement(field) in own, (decision, name, own)


def requirement(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    if field.default is None and field.default_factory is None:
        return "(optional)"
    return "(default: "


def test_the_help_states_types_constraints_and_summaries() -> None:
    help_text = carepath("decide", "--help").stdout
    found = sections(help_text)
    screening = found["record_screening"]
    assert "one of: phq9, gad7" in screening
    assert "up to 40 items" in screening
    approve = found["approve_medication"]
    assert "integer 1..24 (optional)" in approve
    assert "date-time" in approve
    # a nested object's fields are listed under it
    dose = found["record_dose"]
    assert "dose_mg" in dose and "lot" in dose and "one of: intramuscular" in dose
    # the command's docstring
    assert "outside the protocol's discharge limits" in found["grant_discharge_exception"]
    assert "(default: client_request)" in found["pause"]


@pytest.mark.parametrize(
    "argv",
    [
        ("decide", "cl-1", "record_consent", "--help"),
        ("decide", "--help", "record_consent"),
        ("decide", "cl-1", "record_consent", "--consent-version", "v3", "-h"),
    ],
)
def test_one_decisions_help_needs_no_server(argv: tuple[str, ...]) -> None:
    done = carepath(*argv)
    assert done.returncode == 0, done.stderr
    assert set(sections(done.stdout)) == {"record_consent"}
    assert {"--consent-version", "--signed-at", "--decision-id"} <= field_flags(done.stdout)
    assert "(who: therapist)" in done.stdout
    assert "unreachable" not in done.stderr


@pytest.mark.parametrize(
    "argv", [("decide", "cl-1", "start_journey", "--help"), ("decide", "--help", "nosuch")]
)
def test_help_for_what_is_not_a_decision_is_bad_input(argv: tuple[str, ...]) -> None:
    done = carepath(*argv)
    assert done.returncode == 2
    assert "is not a decision" in done.stderr and "carepath decide --help" in done.stderr
    assert done.stdout == ""
