"""`carepath decide --help`: every decision, who may make it and its fields, generated from the
domain's command models (the same ones the API's decision bodies are made from), so the help
cannot drift from what the API accepts.

A decision's fields are its command's fields but `actor` (the token's clinician) and `type` (the
decision's name); `decision_id` and `schema_version` are every decision's, so the full help
states them once. Types and constraints come from the command's JSON schema, who may decide from
`domain.roles.ALLOWED_ROLES`, the summary from the command's docstring.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from domain.commands import Command
from domain.roles import ALLOWED_ROLES
from domain.vocabulary import Role

NOT_DECISIONS = frozenset({"start_journey"})  # `carepath journey start` (POST /journeys)
NOT_FIELDS = frozenset({"actor", "type"})  # the token's clinician; the decision's name
COMMON = ("decision_id", "schema_version")  # every decision's
COMMON_TEXT = {
    "decision_id": "made up when left out; repeat one to retry safely",
    "schema_version": "the command's version (default: 1)",
}
MAX_WIDTH, MIN_WIDTH = 100, 60
_NAME_COLUMN = 26  # where a field's text starts, counted from its indent
_KEEP = "\N{NO-BREAK SPACE}"  # a space the wrapping does not break at
_PLURALS = (("a JSON object", "JSON objects"), ("integer", "integers"), ("number", "numbers"))


def decisions() -> dict[str, type[BaseModel]]:
    """Each decision's command model by its type, in the pathway's order."""
    commands: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(Command)[0])
    found = {_type_of(command): command for command in commands}
    return {tag: command for tag, command in found.items() if tag not in NOT_DECISIONS}


def fields_of(command: type[BaseModel]) -> list[str]:
    """The decision's own fields as clinicians send them (not the common ones)."""
    return [n for n in command.model_fields if n not in NOT_FIELDS and n not in COMMON]


def width() -> int:
    return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size().columns))


def all_decisions(columns: int | None = None) -> str:
    """The `carepath decide --help` epilog: every decision and its fields."""
    columns = columns or width()
    intro = (
        "Every decision also takes --decision-id (made up when left out; repeat one to retry "
        "safely) and --schema-version (default: 1). Values are JSON when they parse (numbers, "
        "true/false, [lists], {objects}), else text. Who: the roles that may make the decision "
        "(system: the engine or a partner system, never a person). `carepath decide --help TYPE` "
        "shows one decision."
    )
    blocks = [
        "decisions (generated from the domain's commands):",
        textwrap.fill(intro, columns),
    ]
    blocks += [_block(tag, command, columns) for tag, command in decisions().items()]
    return "\n\n".join(blocks) + "\n"


def one_decision(tag: str, columns: int | None = None) -> str:
    """`carepath decide CLIENT TYPE --help`: one decision, its common fields included."""
    columns = columns or width()
    command = decisions().get(tag)
    if command is None:
        raise KeyError(f"{tag!r} is not a decision (`carepath decide --help` lists them)")
    usage = f"usage: carepath decide [--json] CLIENT {tag} [--FIELD VALUE ...]"
    text = [textwrap.fill(usage, columns, subsequent_indent=" " * 23), ""]
    text.append(_block(tag, command, columns))
    for name in COMMON:
        text += _field_lines(f"--{_flag(name)}", COMMON_TEXT[name], columns, indent=2)
    text += [
        "",
        textwrap.fill(
            "Values are JSON when they parse (numbers, true/false, [lists], {objects}), else "
            "text. `carepath decide --help` lists every decision.",
            columns,
        ),
    ]
    return "\n".join(text) + "\n"


# --- one decision ------------------------------------------------------------------------------


def _type_of(command: type[BaseModel]) -> str:
    tag: str = typing.get_args(command.model_fields["type"].annotation)[0]
    return tag


def _who(tag: str) -> str:
    allowed = ALLOWED_ROLES.get(tag, frozenset())
    return ", ".join(role.value for role in Role if role in allowed) or "nobody"


def _summary(command: type[BaseModel]) -> str:
    """The docstring's first paragraph (its first line, completed), or nothing."""
    doc = (command.__doc__ or "").strip()
    return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())


def _block(tag: str, command: type[BaseModel], columns: int) -> str:
    lines = [textwrap.fill(f"{tag}  (who: {_who(tag)})", columns, subsequent_indent="    ")]
    summary = _summary(command)
    if summary:
        lines.append(textwrap.fill(summary, columns, initial_indent="  ", subsequent_indent="  "))
    schema = command.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    names = fields_of(command)
    for name in names:
        info = command.model_fields[name]
        prop = schema["properties"][name]
        text = f"{_kind(prop, defs)} {_unbroken(_requirement_of(info))}"
        lines += _field_lines(f"--{_flag(name)}", text, columns, indent=2)
        lines += _nested(prop, defs, columns, indent=6)
    if not names:
        lines.append("  (no fields)")
    return "\n".join(lines)


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _field_lines(name: str, text: str, columns: int, *, indent: int) -> list[str]:
    """`name  text`, the text wrapped in its column (on the next line when the name is long)."""
    column = indent + _NAME_COLUMN
    head = " " * indent + name
    lines = [head] if len(head) + 2 > column else []
    first = " " * column if lines else head.ljust(column)
    lines += textwrap.wrap(text, columns, initial_indent=first, subsequent_indent=" " * column)
    return [line.replace(_KEEP, " ") for line in lines]


def _unbroken(text: str) -> str:
    """Text that wrapping keeps on one line, e.g. `(default: client_request)`."""
    return text.replace(" ", _KEEP)


def _requirement_of(info: FieldInfo) -> str:
    if info.is_required():
        return "(required)"
    if info.default_factory is not None:
        return f"(default: {_shown(info.default_factory())})"  # type: ignore[call-arg]
    if info.default is None:
        return "(optional)"
    return f"(default: {_shown(info.default)})"


def _shown(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


# --- types from the JSON schema ----------------------------------------------------------------


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if ref is None:
        return prop
    resolved: dict[str, Any] = defs[ref.rsplit("/", 1)[-1]]
    return resolved


def _objects(prop: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects a field holds (itself, its list's items, its non-null alternative)."""
    prop = _resolve(prop, defs)
    if prop.get("type") == "object" and "properties" in prop:
        return [prop]
    if prop.get("type") == "array" and "items" in prop:
        return _objects(prop["items"], defs)
    found: list[dict[str, Any]] = []
    for choice in prop.get("anyOf", []):
        found += _objects(choice, defs)
    return found


def _nested(prop: dict[str, Any], defs: dict[str, Any], columns: int, indent: int) -> list[str]:
    lines: list[str] = []
    for obj in _objects(prop, defs):
        required = set(obj.get("required", []))
        for name, sub in obj["properties"].items():
            if name in required:
                need = "(required)"
            elif sub.get("default") is None:
                need = "(optional)"
            else:
                need = f"(default: {_shown(sub['default'])})"
            text = f"{_kind(sub, defs)} {_unbroken(need)}"
            lines += _field_lines(name, text, columns, indent=indent)
            lines += _nested(sub, defs, columns, indent + 4)
    return lines


def _kind(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A field's type and constraints in a few words."""
    prop = _resolve(prop, defs)
    if "const" in prop:
        return f"exactly {_shown(prop['const'])}"
    if "enum" in prop:
        return "one of: " + ", ".join(_shown(v) for v in prop["enum"])
    if "anyOf" in prop:
        choices = [c for c in prop["anyOf"] if c.get("type") != "null"]
        numbers = [c for c in choices if c.get("type") == "number"]
        if numbers and all(c.get("type") in ("number", "string") for c in choices):
            choices = numbers  # a decimal: a number, or the same as a string
        return " or ".join(_kind(c, defs) for c in choices)
    kind = prop.get("type")
    if kind == "object":
        title = prop.get("title")
        return f"a JSON object ({title})" if title and "properties" in prop else "a JSON object"
    if kind == "array":
        items = _kind(prop.get("items", {}), defs)
        for one, many in _PLURALS:
            if items.startswith(one):
                items = many + items.removeprefix(one)
        return f"a JSON list{_count(prop, 'Items', 'items')} of {items}"
    if kind in ("integer", "number"):
        return f"{kind}{_range(prop)}"
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        if prop.get("format") == "date-time":
            return "date-time with its zone (ISO 8601, e.g. 2026-11-24T09:00:00Z)"
        if prop.get("format") == "date":
            return "date (ISO 8601, e.g. 2026-11-24)"
        text = "text" + _count(prop, "Length", "chars")
        pattern = prop.get("pattern")
        if pattern:
            text += f" matching {pattern.removeprefix('^').removesuffix('$')}"
        return text
    return "any JSON value"


def _count(prop: dict[str, Any], key: str, unit: str) -> str:
    low, high = prop.get(f"min{key}"), prop.get(f"max{key}")
    if low is not None and high is not None:
        return f" ({low}-{high} {unit})"
    if high is not None:
        return f" (up to {high} {unit})"
    if low is not None:
        return f" (at least {low} {unit})"
    return ""


def _range(prop: dict[str, Any]) -> str:
    def number(value: float) -> str:
        return f"{value:g}"

    low = (
        f"more than {number(prop['exclusiveMinimum'])}"
        if "exclusiveMinimum" in prop
        else (number(prop["minimum"]) if "minimum" in prop else None)
    )
    high = number(prop["maximum"]) if "maximum" in prop else None
    if low is not None and high is not None:
        return f" {low}..{high}" if "exclusiveMinimum" not in prop else f" {low}, up to {high}"
    if low is not None:
        return f" from {low}" if "exclusiveMinimum" not in prop else f" {low}"
    if high is not None:
        return f" up to {high}"
    return ""
