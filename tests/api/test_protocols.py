"""Protocols per clinic through the real API: the registry's routes, a journey pinning the
clinic's current version, `POST /journeys` carrying no numbers, the hold following the client,
and `carepath protocol show|list|publish` as a real subprocess."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from database.pgtypes import Pool
from domain.protocol import (
    ABSOLUTE_EXCLUSIONS,
    Protocol,
    ProtocolValues,
    canonical_values,
    protocol_digest,
)
from records.users import add_user
from tests.api.conftest import OTHER_CLINIC, Api, User, register
from tests.api.test_cli import Served
from tests.net import served_api

STRICTER: dict[str, Any] = {"bp_systolic_limit": 130, "bp_diastolic_limit": 85}


async def lead(api: Api, clinic: str = "default") -> User:
    return await register(api.pool, "Cleo Lead", "clinical_lead", clinic)


async def publish(api: Api, user: User, values: dict[str, Any], **body: Any) -> Any:
    return await api.http.post("/protocols", json={"values": values, **body}, headers=user.headers)


async def access_log(api: Api, resource: str) -> list[tuple[str, str, str]]:
    rows = await api.pool.fetch(
        "SELECT actor_id, outcome, clinic_id FROM access_log WHERE resource = $1 ORDER BY read_at",
        resource,
    )
    return [(r["actor_id"], r["outcome"], r["clinic_id"]) for r in rows]


async def started_protocol(api: Api, client_id: str) -> dict[str, Any]:
    events = (await api.get(api.ops, f"/journeys/{client_id}/events")).json()["events"]
    protocol: dict[str, Any] = events[0]["data"]["protocol"]
    return protocol


# --- the registry -------------------------------------------------------------------------


async def test_every_clinician_sees_the_clinic_s_current_protocol(api: Api) -> None:
    for user in (api.th, api.rx, api.ops, await lead(api)):
        response = await api.get(user, "/protocols/current")
        assert response.status_code == 200, response.text
        current = response.json()
        digest = protocol_digest(ProtocolValues())
        assert current["label"] == f"standard.1+{digest[:12]}"  # the defaults, first used
        assert current["digest"] == digest and current["current"] is True
        assert current["values"]["bp_systolic_limit"] == 140
        assert current["publisher_role"] == "system"
    assert [outcome for _, outcome, _ in await access_log(api, "protocol")] == ["ok"] * 4


async def test_the_clinical_lead_publishes_and_journeys_pin_it(api: Api) -> None:
    cleo = await lead(api)
    before = await api.started()
    response = await publish(api, cleo, STRICTER)
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["label"].startswith("standard.2+")
    assert version["values"]["bp_systolic_limit"] == 130
    assert version["published_by"] == cleo.clinician_id
    assert (await api.get(api.th, "/protocols/current")).json() == version
    listed = (await api.get(api.th, "/protocols")).json()
    assert [v["number"] for v in listed] == [2, 1]
    assert [v["current"] for v in listed] == [True, False]

    after = await api.started()
    pinned = await started_protocol(api, after)
    assert pinned["version"] == version["label"]
    assert pinned["bp_systolic_limit"] == 130
    assert protocol_digest(Protocol.model_validate(pinned)) == version["digest"]
    # The journey started before keeps the version it started with.
    assert (await started_protocol(api, before))["version"] == listed[1]["label"]
    shown = (await api.get(api.ops, f"/journeys/{after}")).json()
    assert shown["protocol_version"] == version["label"]
    assert [o for _, o, _ in await access_log(api, "protocol_published")] == ["ok"]


async def test_the_same_values_again_answer_the_current_version(api: Api) -> None:
    cleo = await lead(api)
    first = await publish(api, cleo, STRICTER)
    again = await publish(api, cleo, STRICTER)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len((await api.get(cleo, "/protocols")).json()) == 2  # the defaults, then these
    # The defaults' own values, while they are current, are that version too.
    other = await lead(api, OTHER_CLINIC)
    defaults = await publish(api, other, {})
    assert defaults.status_code == 200 and defaults.json()["number"] == 1


async def test_out_of_bounds_values_are_422_in_plain_words_and_publish_nothing(
    api: Api,
) -> None:
    cleo = await lead(api)
    current = (await api.get(cleo, "/protocols/current")).json()
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"bp_systolic_limit": 200, "bp_diastolic_limit": 130},
            "body.values.bp_systolic_limit",
            "at most 140",
        ),
        (
            {"min_monitoring_minutes": 30, "vitals_interval_minutes": 20},
            "body.values.min_monitoring_minutes",
            "at least 120",
        ),
        ({"absolute_exclusions": []}, "body.values.absolute_exclusions", "ketamine_allergy"),
        (
            {"absolute_exclusions": sorted(ABSOLUTE_EXCLUSIONS - {"ketamine_allergy"})},
            "body.values.absolute_exclusions",
            "must keep ketamine_allergy",
        ),
        (
            {"pcl5_provisional_ptsd_cutoff": 40},
            "body.values.pcl5_provisional_ptsd_cutoff",
            "31 to 33",
        ),
        ({"version": "2027-01"}, "body.values.version", "not part of the request"),
    ]
    for values, loc, words in cases:
        response = await publish(api, cleo, values)
        assert response.status_code == 422, (values, response.text)
        errors = {e["loc"]: e["msg"] for e in response.json()["errors"]}
        assert words in errors[loc], (values, errors)
    bad_name = await publish(api, cleo, STRICTER, name="Not A Name")
    assert bad_name.status_code == 422 and bad_name.json()["errors"][0]["loc"] == "body.name"
    assert (await api.get(cleo, "/protocols/current")).json() == current
    assert len((await api.get(cleo, "/protocols")).json()) == 1


async def test_only_the_clinical_lead_may_publish(api: Api) -> None:
    for user in (api.th, api.rx, api.ops):
        # Refused before the values are looked at, whatever they are.
        for values in (STRICTER, {"bp_systolic_limit": 200}):
            response = await publish(api, user, values)
            assert response.status_code == 403, response.text
            assert "clinical lead" in response.json()["detail"]
    assert await api.pool.fetchval("SELECT count(*) FROM protocols") == 0
    logged = await access_log(api, "protocol_published")
    assert {(actor, outcome) for actor, outcome, _ in logged} == {
        (api.th.clinician_id, "forbidden"),
        (api.rx.clinician_id, "forbidden"),
        (api.ops.clinician_id, "forbidden"),
    }


async def test_another_clinic_s_protocols_are_never_visible_or_changed(api: Api) -> None:
    theirs = await lead(api, OTHER_CLINIC)
    published = (await publish(api, theirs, STRICTER, name="north-kap")).json()
    ours = await lead(api)
    mine = (await api.get(ours, "/protocols/current")).json()
    assert mine["values"]["bp_systolic_limit"] == 140
    listed = (await api.get(api.ops, "/protocols")).json()
    assert published["label"] not in json.dumps(listed)
    assert "north-kap" not in json.dumps(listed)
    # Our lead publishing changes our clinic only.
    await publish(api, ours, {"min_hours_between_doses": 48})
    assert (await api.get(api.ops_b, "/protocols/current")).json() == published
    # Their journeys pin theirs; ours, ours.
    their_client = await api.started(api.ops_b, therapist=api.th_b, prescriber=api.rx_b)
    events = (await api.get(api.ops_b, f"/journeys/{their_client}/events")).json()["events"]
    assert events[0]["data"]["protocol"]["version"] == published["label"]
    assert {c for _, _, c in await access_log(api, "protocol_published")} == {
        OTHER_CLINIC,
        "default",
    }


# --- a journey's start carries no numbers -------------------------------------------------


async def test_a_start_that_sends_a_protocol_is_422_and_starts_nothing(api: Api) -> None:
    loose = {
        "version": "2026-11",
        "bp_systolic_limit": 200,
        "bp_diastolic_limit": 130,
        "min_monitoring_minutes": 30,
        "absolute_exclusions": [],
    }
    for sent in (loose, {}, None):
        response = await api.start(protocol=sent)
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["loc"] == "body.protocol"
        assert "current protocol" in error["msg"] and "GET /protocols/current" in error["msg"]
    assert await api.pool.fetchval("SELECT count(*) FROM events") == 0


async def test_the_start_body_documents_no_protocol(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    body = spec["components"]["schemas"]["StartJourneyBody"]
    assert "protocol" not in body["properties"]
    assert body["additionalProperties"] is False


async def test_a_refused_start_publishes_nothing(api: Api) -> None:
    response = await api.start(api.rx)  # a prescriber may not start a journey
    assert response.status_code == 403
    assert await api.pool.fetchval("SELECT count(*) FROM protocols") == 0


async def _store_version(api: Api, values: dict[str, Any], digest: str, number: int) -> None:
    """A version put in the table by hand, past the API's checks."""
    await api.pool.execute(
        "INSERT INTO protocols (clinic_id, name, number, digest, label, protocol, published_by,"
        " publisher_role) VALUES ('default', 'standard', $1, $2, $3, $4, 'lead-x',"
        " 'clinical_lead')",
        number,
        digest,
        f"standard.{number}+{digest[:12]}",
        values,
    )


async def test_a_start_on_a_version_that_cannot_be_pinned_is_409_and_starts_nothing(
    api: Api,
) -> None:
    # Values outside today's bounds (published before they were tightened, say).
    loose = canonical_values(ProtocolValues(pcl5_provisional_ptsd_cutoff=40))
    await _store_version(api, loose, protocol_digest(loose), 1)
    response = await api.start()
    assert response.status_code == 409, response.text
    assert "outside the bounds" in response.json()["detail"]
    # Values that do not match their digest.
    tampered = {**canonical_values(ProtocolValues()), "bp_systolic_limit": 135}
    await _store_version(api, tampered, protocol_digest(ProtocolValues()), 2)
    response = await api.start()
    assert response.status_code == 409, response.text
    assert "must publish it again" in response.json()["detail"]
    assert await api.pool.fetchval("SELECT count(*) FROM events") == 0


# --- the hold follows the client ----------------------------------------------------------


async def test_a_client_whose_journey_closed_on_hold_starts_held_until_cleared(api: Api) -> None:
    client_id = await api.started()
    held = await api.decide(api.th, client_id, "raise_safety_hold", reason="clinician_concern")
    assert held.status_code == 200, held.text
    withdrawn = await api.decide(api.ops, client_id, "withdraw", reason="client_choice")
    assert withdrawn.status_code == 200, withdrawn.text
    first = (await api.get(api.ops, f"/journeys/{client_id}")).json()
    assert (first["status"], first["closed_reason"]) == ("closed", "withdrawn")
    await api.finish(client_id)

    again = await api.start(api.ops, client_id)
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "safety_hold"
    assert again.json()["journey_id"] != first["journey_id"]
    events = (await api.get(api.ops, f"/journeys/{client_id}/events")).json()["events"]
    assert [e["type"] for e in events[:2]] == ["journey_started", "safety_hold_raised"]
    assert events[1]["data"]["source"] == "previous_journey"
    assert events[1]["data"]["reason"] == "clinician_concern"

    # Ops may not clear it; the therapist may.
    refused = await api.decide(api.ops, client_id, "clear_safety_hold", assessment_ref="ra-1")
    assert refused.status_code == 403, refused.text
    cleared = await api.decide(api.th, client_id, "clear_safety_hold", assessment_ref="ra-1")
    assert cleared.status_code == 200, cleared.text
    assert (await api.get(api.th, f"/journeys/{client_id}")).json()["status"] == "active"


async def test_a_client_whose_journey_closed_without_a_hold_starts_active(api: Api) -> None:
    client_id = await api.started()
    held = await api.decide(api.th, client_id, "raise_safety_hold")
    assert held.status_code == 200, held.text
    cleared = await api.decide(api.th, client_id, "clear_safety_hold", assessment_ref="ra-1")
    assert cleared.status_code == 200, cleared.text
    assert (await api.decide(api.ops, client_id, "withdraw")).status_code == 200
    await api.finish(client_id)
    again = await api.start(api.ops, client_id)
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "active"


async def test_a_hold_in_another_clinic_does_not_follow_an_id_of_this_one(api: Api) -> None:
    client_id = api.new_client()
    await api.started(api.ops_b, client_id=client_id, therapist=api.th_b, prescriber=api.rx_b)
    held = await api.decide(api.th_b, client_id, "raise_safety_hold")
    assert held.status_code == 200, held.text
    assert (await api.decide(api.ops_b, client_id, "withdraw")).status_code == 200
    await api.finish(client_id, OTHER_CLINIC)
    ours = await api.start(api.ops, client_id)  # the same id, another client: per clinic
    assert ours.status_code == 201, ours.text
    assert ours.json()["status"] == "active"


# --- the CLI ------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def served(
    temporal_env: WorkflowEnvironment, db_pool: Pool, db_url: str
) -> AsyncIterator[Served]:
    async with served_api(temporal_env.client, db_pool, db_url) as settings:
        yield Served(settings, db_url)


async def test_carepath_protocol_show_list_publish(served: Served, tmp_path: Path) -> None:
    added = await served.cli("users", "add", "Cleo Lead", "--role", "clinical_lead", "--json")
    assert added.code == 0, added.err
    user = added.json()
    assert isinstance(user, dict) and user["clinician_id"].startswith("lead-")
    lead_token = user["token"]
    _, th_token = await add_user_token(served, "therapist")

    shown = await served.cli("protocol", "show", token=th_token)
    assert shown.code == 0, shown.err
    assert "standard.1+" in shown.out and "bp_systolic_limit" in shown.out

    current = await served.cli("protocol", "show", "--json", token=lead_token)
    version = current.json()
    assert isinstance(version, dict)
    # The answer of `show --json`, edited, is a file `publish` takes.
    version["values"]["bp_systolic_limit"] = 135
    edited = tmp_path / "protocol.json"
    edited.write_text(json.dumps(version))
    published = await served.cli("protocol", "publish", "--file", str(edited), token=lead_token)
    assert published.code == 0, published.err
    assert "standard.2+" in published.out

    values = tmp_path / "values.json"
    values.write_text(json.dumps({"bp_systolic_limit": 200}))
    refused = await served.cli("protocol", "publish", "--file", str(values), token=lead_token)
    assert refused.code == 2, refused.out
    assert "at most 140" in refused.err
    forbidden = await served.cli("protocol", "publish", "--file", str(edited), token=th_token)
    assert forbidden.code == 1 and "clinical lead" in forbidden.err

    listed = await served.cli("protocol", "list", token=th_token)
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[1].startswith("standard.2+") and "current" in lines[1]
    assert lines[2].startswith("standard.1+")
    as_json = await served.cli("protocol", "list", "--json", token=th_token)
    answer = as_json.json()
    assert isinstance(answer, list) and [v["number"] for v in answer] == [2, 1]


async def add_user_token(served: Served, role: str) -> tuple[str, str]:
    added = await served.cli("users", "add", f"Someone {role}", "--role", role, "--json")
    assert added.code == 0, added.err
    user = added.json()
    assert isinstance(user, dict)
    return user["clinician_id"], user["token"]


async def test_add_user_takes_the_clinical_lead(db_pool: Pool) -> None:
    clinician_id, _ = await add_user(db_pool, "Cleo Lead", "clinical_lead")
    role = await db_pool.fetchval(
        "SELECT role FROM clinicians WHERE clinician_id = $1", clinician_id
    )
    assert role == "clinical_lead"
