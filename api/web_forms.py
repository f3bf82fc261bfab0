"""Decision forms for the web app, made from the domain's offers and the decisions' JSON schemas
(`api.decisions.BODY_SCHEMAS`), and read back into a decision's body.

A prefilled field travels as a hidden input holding its JSON value (`j.<name>`); a field only a
clinician can fill (`needs_input`) is shown empty, as the schema says: a checkbox for a yes/no
(`c.<name>` marks it present, so unticked is no), a choice for an enumeration, a number, a
line of text, or JSON for a structure (vitals, a dose, answers), with the sample as a hint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from domain.available import Offer

HIDDEN, CHECKBOX, SELECT, NUMBER, TEXT, JSON = (
    "hidden",
    "checkbox",
    "select",
    "number",
    "text",
    "json",
)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str
    value: str = ""
    options: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class DecisionForm:
    type: str
    title: str
    next_step: bool
    fields: list[FormField] = field(default_factory=list)


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    """The property's own schema: a `$ref` followed, an optional (`anyOf` with null) unwrapped."""
    if "anyOf" in prop:
        others = [p for p in prop["anyOf"] if p.get("type") != "null"]
        if len(others) == 1:
            prop = others[0]
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        prop = schema.get("$defs", {}).get(name, prop)
    return prop


def field_kind(schema: dict[str, Any], name: str) -> tuple[str, tuple[str, ...]]:
    """How a clinician fills the field `name` of a decision's body schema (and its options)."""
    prop = _resolve(schema, schema.get("properties", {}).get(name, {}))
    if "enum" in prop:
        return SELECT, tuple(str(v) for v in prop["enum"])
    kind = prop.get("type")
    if kind == "boolean":
        return CHECKBOX, ()
    if kind in ("integer", "number"):
        return NUMBER, ()
    if kind == "string":
        return TEXT, ()
    return JSON, ()


def decision_form(offer: Offer, schema: dict[str, Any]) -> DecisionForm:
    fields = []
    for name, value in offer.fields.items():
        label = name.replace("_", " ")
        if name not in offer.needs_input:
            fields.append(FormField(name, label, HIDDEN, json.dumps(value)))
            continue
        kind, options = field_kind(schema, name)
        hint = "" if kind in (CHECKBOX, SELECT) else f"e.g. {json.dumps(value)}"
        fields.append(FormField(name, label, kind, "", options, hint))
    return DecisionForm(offer.type, offer.type.replace("_", " "), offer.next_step, fields)


class FormError(ValueError):
    """A field that does not read: the reason in plain words."""


def read_body(schema: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The decision's body from a submitted form (without type, decision_id or actor)."""
    body: dict[str, Any] = {}
    for key, raw in form.items():
        prefix, _, name = key.partition(".")
        if not name or name not in schema.get("properties", {}):
            continue
        if prefix == "j":
            try:
                body[name] = json.loads(raw)
            except ValueError:
                raise FormError(f"{name} was changed: reload the page") from None
        elif prefix == "c":
            body[name] = form.get(f"f.{name}") == "true"
        elif prefix == "f" and f"c.{name}" not in form and raw.strip():
            kind, _ = field_kind(schema, name)
            if kind in (NUMBER, JSON):
                try:
                    body[name] = json.loads(raw)
                except ValueError:
                    expected = "a number" if kind == NUMBER else "JSON, as the hint shows"
                    raise FormError(f"{name.replace('_', ' ')} must be {expected}") from None
            else:
                body[name] = raw.strip()
    return body
