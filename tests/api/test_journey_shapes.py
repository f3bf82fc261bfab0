"""The journey's two shapes in the API, made from the domain's view: their JSON schemas are the
contract clients were given (pinned here as they were when the shapes were copies of the view's
fields), and their values are the view's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from api.models import CaseloadEntry, DecisionAnswer, Journey
from domain.view import journey_view
from tests.domain.journey import PRESCRIBER
from tests.domain.journey import Journey as Driver
from workflows.messages import DecisionOutcome

# Added since the contract was given (issue 13's governed course: the hold, a stopping course,
# booked visits, the dosing sessions): new properties only, nothing of the given ones changed.
ADDED_PROPERTIES: dict[str, Any] = {
    "safety_hold": {"anyOf": [{"$ref": "#/components/schemas/SafetyHold"}, {"type": "null"}]},
    "stopping": {"anyOf": [{"$ref": "#/components/schemas/Stopping"}, {"type": "null"}]},
    "visits": {"items": {"$ref": "#/components/schemas/Visit"}, "title": "Visits", "type": "array"},
    "sessions": {
        "items": {"$ref": "#/components/schemas/SessionView"},
        "title": "Sessions",
        "type": "array",
    },
}

JOURNEY: dict[str, Any] = {
    "properties": {
        "journey_id": {"type": "string", "title": "Journey Id"},
        "client_id": {"type": "string", "title": "Client Id"},
        "therapist_id": {"type": "string", "title": "Therapist Id"},
        "prescriber_id": {"type": "string", "title": "Prescriber Id"},
        "clinic_id": {"type": "string", "title": "Clinic Id"},
        "stage": {"$ref": "#/components/schemas/Stage"},
        "status": {"$ref": "#/components/schemas/Status"},
        "closed_reason": {
            "anyOf": [{"$ref": "#/components/schemas/ClosedReason"}, {"type": "null"}]
        },
        "doses": {"$ref": "#/components/schemas/Doses"},
        "due": {"items": {"$ref": "#/components/schemas/Due"}, "type": "array", "title": "Due"},
        "next_due": {"anyOf": [{"$ref": "#/components/schemas/Due"}, {"type": "null"}]},
        "overdue": {"type": "boolean", "title": "Overdue"},
        "last_decision": {
            "anyOf": [{"$ref": "#/components/schemas/LastDecision"}, {"type": "null"}]
        },
        "version": {"type": "integer", "title": "Version"},
        "protocol_version": {"type": "string", "title": "Protocol Version"},
        **ADDED_PROPERTIES,
    },
    "type": "object",
    "required": [
        "journey_id",
        "client_id",
        "therapist_id",
        "prescriber_id",
        "clinic_id",
        "stage",
        "status",
        "closed_reason",
        "doses",
        "due",
        "next_due",
        "overdue",
        "last_decision",
        "version",
        "protocol_version",
        *ADDED_PROPERTIES,
    ],
    "title": "Journey",
    "description": "A journey as clinicians see it: where it is, what is due, the doses, the "
    "last decision.",
}

DECISION_ANSWER: dict[str, Any] = {
    "properties": {
        "journey_id": {"type": "string", "title": "Journey Id"},
        "client_id": {"type": "string", "title": "Client Id"},
        "therapist_id": {"type": "string", "title": "Therapist Id"},
        "prescriber_id": {"type": "string", "title": "Prescriber Id"},
        "clinic_id": {"type": "string", "title": "Clinic Id"},
        "stage": {"$ref": "#/components/schemas/Stage"},
        "status": {"$ref": "#/components/schemas/Status"},
        "closed_reason": {
            "anyOf": [{"$ref": "#/components/schemas/ClosedReason"}, {"type": "null"}]
        },
        "doses": {"$ref": "#/components/schemas/Doses"},
        "due": {"items": {"$ref": "#/components/schemas/Due"}, "type": "array", "title": "Due"},
        "next_due": {"anyOf": [{"$ref": "#/components/schemas/Due"}, {"type": "null"}]},
        "overdue": {"type": "boolean", "title": "Overdue"},
        "last_decision": {
            "anyOf": [{"$ref": "#/components/schemas/LastDecision"}, {"type": "null"}]
        },
        "version": {"type": "integer", "title": "Version"},
        "protocol_version": {"type": "string", "title": "Protocol Version"},
        **ADDED_PROPERTIES,
        "decision_id": {"type": "string", "title": "Decision Id"},
        "events": {"items": {"type": "string"}, "type": "array", "title": "Events"},
    },
    "type": "object",
    "required": [
        "journey_id",
        "client_id",
        "therapist_id",
        "prescriber_id",
        "clinic_id",
        "stage",
        "status",
        "closed_reason",
        "doses",
        "due",
        "next_due",
        "overdue",
        "last_decision",
        "version",
        "protocol_version",
        *ADDED_PROPERTIES,
        "decision_id",
        "events",
    ],
    "title": "DecisionAnswer",
    "description": "The journey after the decision, with the decision's id and the events it "
    "recorded.",
}

CASELOAD_ENTRY: dict[str, Any] = {
    "properties": {
        "journey_id": {"type": "string", "title": "Journey Id"},
        "client_id": {"type": "string", "title": "Client Id"},
        "therapist_id": {"type": "string", "title": "Therapist Id"},
        "prescriber_id": {"type": "string", "title": "Prescriber Id"},
        "clinic_id": {"type": "string", "title": "Clinic Id"},
        "stage": {"$ref": "#/components/schemas/Stage"},
        "status": {"$ref": "#/components/schemas/Status"},
        "closed_reason": {
            "anyOf": [{"$ref": "#/components/schemas/ClosedReason"}, {"type": "null"}]
        },
        "doses_authorized": {"type": "integer", "title": "Doses Authorized"},
        "doses_used": {"type": "integer", "title": "Doses Used"},
        "next_due_kind": {"anyOf": [{"$ref": "#/components/schemas/DueKind"}, {"type": "null"}]},
        "next_due_at": {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
            "title": "Next Due At",
        },
        "version": {"type": "integer", "title": "Version"},
        "updated_at": {"type": "string", "format": "date-time", "title": "Updated At"},
    },
    "type": "object",
    "required": [
        "journey_id",
        "client_id",
        "therapist_id",
        "prescriber_id",
        "clinic_id",
        "stage",
        "status",
        "closed_reason",
        "doses_authorized",
        "doses_used",
        "next_due_kind",
        "next_due_at",
        "version",
        "updated_at",
    ],
    "title": "CaseloadEntry",
}


@pytest.mark.parametrize(
    ("model", "pinned"),
    [(Journey, JOURNEY), (DecisionAnswer, DECISION_ANSWER), (CaseloadEntry, CASELOAD_ENTRY)],
)
def test_the_response_schemas_are_the_ones_clients_were_given(
    model: type[BaseModel], pinned: dict[str, Any]
) -> None:
    schema = model.model_json_schema(
        mode="serialization", ref_template="#/components/schemas/{model}"
    )
    schema.pop("$defs", None)
    assert schema == pinned


def test_a_journey_is_its_view() -> None:
    j = Driver().prepared()
    j.dose("s1")
    j.wait(days=1)
    now = j.now + timedelta(days=400)  # everything overdue
    view = journey_view(j.s, now)
    last = view.last_decision
    assert last is not None and view.due and view.overdue
    expected: dict[str, Any] = {
        "journey_id": view.journey_id,
        "client_id": view.client_id,
        "therapist_id": view.therapist_id,
        "prescriber_id": view.prescriber_id,
        "clinic_id": view.clinic_id,
        "stage": view.stage.value,
        "status": view.status.value,
        "closed_reason": None,
        "doses": {
            "authorized": view.doses.authorized,
            "used": 1,
            "remaining": view.doses.authorized - 1,
        },
        "due": [
            {
                "kind": item.kind.value,
                "at": item.at.isoformat().replace("+00:00", "Z"),
                "ref": item.ref,
            }
            for item in view.due
        ],
        "overdue": True,
        "last_decision": {
            "type": last.type,
            "decision_id": last.decision_id,
            "actor_id": last.actor.id,
            "actor_role": last.actor.role.value,
            "at": last.at.isoformat().replace("+00:00", "Z"),
        },
        "version": view.version,
        "protocol_version": view.protocol_version,
        "safety_hold": None,
        "stopping": None,
        "visits": [],
        "sessions": [s.model_dump(mode="json") for s in view.sessions],
    }
    expected["next_due"] = expected["due"][0]
    (session,) = expected["sessions"]
    assert (session["session_id"], session["status"], session["dose_number"]) == (
        "s1",
        "completed",
        1,
    )
    assert session["last_vitals"] is not None and session["record_signed_at"] is not None
    assert Journey.from_view(view).model_dump(mode="json") == expected
    answer = DecisionAnswer.from_outcome(
        DecisionOutcome(decision_id="d-1", events=["dose_started"], view=view)
    )
    assert answer.model_dump(mode="json") == {
        **expected,
        "decision_id": "d-1",
        "events": ["dose_started"],
    }
    closed = Driver().referred()
    closed.do("decline_medication", PRESCRIBER)
    shown = Journey.from_view(journey_view(closed.s)).model_dump(mode="json")
    assert (shown["closed_reason"], shown["due"], shown["next_due"]) == ("not_approved", [], None)
