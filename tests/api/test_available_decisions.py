"""`GET /journeys/{client_id}/decisions`: the decisions the caller may take now, through the real
API (Temporal test server, PostgreSQL, tokens). An offer's fields, with what it asks for filled
in, are a decision the API accepts; a course is taken from consultation to the prescriber's
approval by offers alone."""

from __future__ import annotations

import shlex
from typing import Any

from cli.client import _available_text, parse_fields
from tests.api.conftest import Api, User

PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 0]
GAD7 = [1, 1, 1, 1, 1, 1, 1]
# What a clinician fills in where an offer asks (`needs_input`), by decision and field.
FILLED: dict[str, dict[str, Any]] = {
    "record_screening": {"answers": None},  # by instrument, below
    "record_consent": {"consent_version": "kap-v3"},
    "complete_consultation": {"treatment_goals": ["sleep better"], "contraindications": []},
}


async def offers(api: Api, user: User, client_id: str) -> list[dict[str, Any]]:
    response = await api.get(user, f"/journeys/{client_id}/decisions")
    assert response.status_code == 200, response.text
    answer: list[dict[str, Any]] = response.json()
    return answer


def types(answer: list[dict[str, Any]]) -> list[str]:
    return [o["type"] for o in answer]


def filled(offer: dict[str, Any]) -> dict[str, Any]:
    """The offer's fields with what it asks for filled in by the clinician."""
    fields = dict(offer["fields"])
    for name in offer["needs_input"]:
        if offer["type"] == "record_screening" and name == "answers":
            fields[name] = {"phq9": PHQ9, "gad7": GAD7}[fields["instrument"]]
        elif name in FILLED.get(offer["type"], {}):
            fields[name] = FILLED[offer["type"]][name]
    return fields


async def take(api: Api, user: User, client_id: str, type_: str) -> dict[str, Any]:
    """Take the offer of `type_` (it must be offered), its input filled; answered 200."""
    offer = next(o for o in await offers(api, user, client_id) if o["type"] == type_)
    response = await api.decide(user, client_id, type_, **filled(offer))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_therapist_at_consultation_is_offered_screening_and_consent(api: Api) -> None:
    client_id = await api.started()
    answer = await offers(api, api.th, client_id)
    assert types(answer)[:2] == ["record_screening", "record_consent"]
    assert "approve_medication" not in types(answer)
    screening = answer[0]
    assert screening["next_step"] is True
    assert screening["needs_input"] == ["answers"]
    assert screening["fields"] == {"instrument": "phq9", "answers": [0] * 9}
    # The body's JSON schema: the form's fields, their types and bounds.
    schema = screening["schema"]
    assert {"type", "decision_id", "instrument", "answers"} <= set(schema["properties"])
    assert "actor" not in schema["properties"]
    assert all(o["schema"]["properties"]["type"] for o in answer)
    # The prescriber may screen too, but not consent.
    assert "record_consent" not in types(await offers(api, api.rx, client_id))
    # Ops decide nothing clinical.
    assert not {"record_screening", "record_consent"} & set(
        types(await offers(api, api.ops, client_id))
    )


async def test_offers_taken_one_by_one_reach_the_prescribers_approval(api: Api) -> None:
    client_id = await api.started()
    th, rx = api.th, api.rx
    for step in (
        "record_screening",  # phq9
        "record_screening",  # gad7
        "record_consent",
        "complete_consultation",
        "refer_to_prescriber",
    ):
        assert (await offers(api, th, client_id))[0]["type"] == step
        await take(api, th, client_id, step)
    assert "approve_medication" not in types(await offers(api, rx, client_id))
    view = await take(api, th, client_id, "schedule_prescriber_intake")
    assert view["stage"] == "medication_review"
    answer = await offers(api, rx, client_id)
    assert types(answer)[:2] == ["approve_medication", "decline_medication"]
    assert "approve_medication" not in types(await offers(api, th, client_id))
    view = await take(api, rx, client_id, "approve_medication")  # prefilled: one click
    assert view["stage"] == "preparation"
    assert (await offers(api, th, client_id))[0]["type"] == "complete_preparation"


async def test_another_therapist_gets_403_another_clinic_404_and_reads_are_audited(
    api: Api,
) -> None:
    client_id = await api.started()
    assert (await api.get(api.th2, f"/journeys/{client_id}/decisions")).status_code == 403
    assert (await api.get(api.rx2, f"/journeys/{client_id}/decisions")).status_code == 403
    for user in (api.th_b, api.ops_b):
        response = await api.get(user, f"/journeys/{client_id}/decisions")
        assert response.status_code == 404, response.text
    await offers(api, api.th, client_id)
    rows = await api.pool.fetch(
        "SELECT actor_id, outcome FROM access_log WHERE resource = 'decisions_available'"
        " AND client_id = $1 ORDER BY read_at",
        client_id,
    )
    seen = [(r["actor_id"], r["outcome"]) for r in rows]
    assert (api.th2.clinician_id, "forbidden") in seen
    assert (api.th.clinician_id, "ok") in seen
    # The other clinic's reads are filed in its own clinic, as not found.
    assert (api.th_b.clinician_id, "not_found") in seen


async def test_a_held_journey_offers_clearing_and_a_closed_one_nothing(api: Api) -> None:
    client_id = await api.started()
    await take(api, api.ops, client_id, "raise_safety_hold")
    held = await offers(api, api.th, client_id)
    assert held[0]["type"] == "clear_safety_hold"
    assert held[0]["needs_input"] == ["assessment_ref"]
    assert "clear_safety_hold" not in types(await offers(api, api.ops, client_id))
    response = await api.decide(
        api.th, client_id, "clear_safety_hold", assessment_ref="risk-assessment-1"
    )
    assert response.status_code == 200, response.text
    await take(api, api.th, client_id, "withdraw")
    assert await offers(api, api.th, client_id) == []
    assert await offers(api, api.ops, client_id) == []


async def test_no_journey_is_404(api: Api) -> None:
    response = await api.get(api.th, "/journeys/cl-nobody-here/decisions")
    assert response.status_code == 404, response.text


async def test_the_cli_prints_each_offer_as_the_decide_command_that_takes_it(api: Api) -> None:
    client_id = await api.started()
    await take(api, api.th, client_id, "record_screening")
    answer = await offers(api, api.th, client_id)
    text = _available_text(client_id, answer)
    commands = [line.strip() for line in text.splitlines() if "carepath decide" in line]
    assert len(commands) == len(answer)
    assert text.splitlines()[1] == "* record_screening"  # gad7 now: the next step
    for offer, line in zip(answer, commands, strict=True):
        words = shlex.split(line)
        assert words[:4] == ["carepath", "decide", client_id, offer["type"]]
        fields, _, _ = parse_fields(words[4:])
        assert fields == {k: v for k, v in offer["fields"].items() if v is not None}
    assert "fill in: answers" in text
    assert _available_text("cl-x", []) == "no decision is open to you on cl-x now"
