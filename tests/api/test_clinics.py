"""Clinics share a deployment and see nothing of each other (issue 10): client ids are per
clinic, and nothing of clinic "default" is visible to, or changed by, clinic "other".

Each test is one of the holes found, against the real Temporal test server, PostgreSQL and
tokens; every one of them failed before clinics were told apart. Every test runs twice: with
contact details and notes in plaintext and sealed at rest.
"""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from config.settings import Settings
from domain.ids import DEFAULT_CLINIC, journey_workflow_id
from privacy.keys import KeyRing, load_key_ring
from records.clients import get_client
from tests.api.conftest import OTHER_CLINIC, Api

PHQ9 = [2, 2, 1, 1, 1, 2, 1, 2, 0]
NOTE = "Spoke about the lake house; grief work next time."
CONTACT = {"display_name": "Wren Q. Example", "email": "wren@example.org", "phone": "+15550101234"}
OTHER_CONTACT = {"display_name": "Ivo Other", "email": "ivo@example.net", "phone": "+15550109999"}
PAYLOAD_KEYS = f"k1:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture(params=["plaintext", "sealed"])
def settings(request: pytest.FixtureRequest) -> Settings:
    keys = PAYLOAD_KEYS if request.param == "sealed" else None
    return Settings(
        task_queue=f"api-{uuid.uuid4().hex[:8]}", api_runs_projections=False, payload_keys=keys
    )


def keys_of(api: Api) -> KeyRing | None:
    return load_key_ring(api.settings.payload_keys, api.settings.payload_key_file)


async def _counts(api: Api) -> tuple[int, ...]:
    row = await api.pool.fetchrow(
        "SELECT (SELECT count(*) FROM events) AS events,"
        " (SELECT count(*) FROM clients WHERE erased_at IS NOT NULL) AS erased,"
        " (SELECT count(*) FROM psychotherapy_notes WHERE erased_at IS NOT NULL) AS notes"
    )
    assert row is not None
    return tuple(row.values())


async def test_ops_of_another_clinic_cannot_erase_a_client(api: Api) -> None:
    client_id = await api.started(contact=CONTACT)
    ref = (
        await api.http.post(
            f"/journeys/{client_id}/notes", json={"text": NOTE}, headers=api.th.headers
        )
    ).json()["note_ref"]
    before = await _counts(api)

    theirs = await api.http.delete(f"/clients/{client_id}", headers=api.ops_b.headers)
    unknown = await api.http.delete("/clients/cl-nobody", headers=api.ops.headers)

    assert theirs.status_code == 404
    assert theirs.json() == unknown.json() == {"detail": "no such client in your clinic"}
    assert unknown.status_code == 404
    assert await _counts(api) == before
    kept = await get_client(api.pool, client_id, keys=keys_of(api))
    assert kept is not None and (kept.display_name, kept.email) == (
        CONTACT["display_name"],
        CONTACT["email"],
    )
    note = await api.get(api.th, f"/notes/{ref}")
    assert note.status_code == 200 and note.json()["text"] == NOTE
    assert await api.pool.fetchval("SELECT count(*) FROM clients WHERE erased_at IS NULL") == 1
    attempts = await api.pool.fetch(
        "SELECT actor_id, outcome, clinic_id FROM access_log WHERE resource = 'erasure'"
    )
    assert sorted(tuple(r.values()) for r in attempts) == sorted(
        [
            (api.ops_b.clinician_id, "not_found", OTHER_CLINIC),
            (api.ops.clinician_id, "not_found", DEFAULT_CLINIC),
        ]
    )
    mine = await api.http.delete(f"/clients/{client_id}", headers=api.ops.headers)
    assert mine.status_code == 200
    assert mine.json() == {"client_id": client_id, "contact_erased": True, "notes_erased": 1}


async def test_the_audit_log_shows_only_the_callers_clinic(api: Api) -> None:
    client_id = await api.started(contact=CONTACT)
    screened = await api.decide(
        api.th, client_id, "record_screening", instrument="phq9", answers=PHQ9
    )
    assert screened.status_code == 200
    assert (await api.decide(api.th2, client_id, "pause")).status_code == 403
    assert (await api.get(api.th, f"/journeys/{client_id}")).status_code == 200
    theirs = await api.started(api.ops_b, therapist=api.th_b, prescriber=api.rx_b)
    assert (await api.get(api.th_b, f"/journeys/{theirs}")).status_code == 200
    await api.catch_up()

    for filters in ({"client_id": client_id}, {"clinician_id": api.th.clinician_id}, {}):
        seen = await api.get(api.ops_b, "/audit", **filters)
        assert seen.status_code == 200
        assert all(e["client_id"] != client_id for e in seen.json()), filters
        default_actors = (api.th.clinician_id, api.th2.clinician_id, api.ops.clinician_id)
        assert all(e["actor_id"] not in default_actors for e in seen.json())
    assert (await api.get(api.ops_b, "/audit", client_id=client_id)).json() == []
    own = (await api.get(api.ops_b, "/audit", client_id=theirs)).json()
    assert {e["kind"] for e in own} == {"decision", "read"}
    mine = (await api.get(api.ops, "/audit")).json()
    assert all(e["client_id"] != theirs for e in mine)
    assert {e["client_id"] for e in mine if e["kind"] == "decision"} == {client_id}


async def test_the_same_client_id_in_another_clinic_is_another_client(api: Api) -> None:
    client_id = await api.started(contact=CONTACT)
    journey_id = (await api.get(api.th, f"/journeys/{client_id}")).json()["journey_id"]
    assert (await api.decide(api.th, client_id, "discharge")).status_code == 200
    await api.finish(client_id)

    started = await api.start(
        api.th_b, client_id, therapist=api.th_b, prescriber=api.rx_b, contact=OTHER_CONTACT
    )
    assert started.status_code == 201, started.text
    assert started.json()["clinic_id"] == OTHER_CLINIC
    assert started.json()["journey_id"] != journey_id

    mine = await api.get(api.th, f"/journeys/{client_id}")
    assert mine.status_code == 200
    assert (mine.json()["journey_id"], mine.json()["therapist_id"]) == (
        journey_id,
        api.th.clinician_id,
    )
    assert (await api.get(api.th_b, f"/journeys/{client_id}")).json()["therapist_id"] == (
        api.th_b.clinician_id
    )
    kept = await get_client(api.pool, client_id, keys=keys_of(api))
    assert kept is not None and kept.email == CONTACT["email"]
    other = await get_client(api.pool, client_id, keys=keys_of(api), clinic_id=OTHER_CLINIC)
    assert other is not None and other.email == OTHER_CONTACT["email"]
    handle = api.env.client.get_workflow_handle(journey_workflow_id(client_id, OTHER_CLINIC))
    assert handle.id == f"journey-{OTHER_CLINIC}~{client_id}"
    assert (await handle.describe()).id == handle.id
    # A journey of each clinic, open at once under one client id, and neither sees the other.
    again = await api.start(api.ops, client_id)
    assert again.status_code == 201, again.text
    assert (await api.get(api.th_b, f"/journeys/{client_id}")).json()["clinic_id"] == OTHER_CLINIC
    events = (await api.get(api.ops_b, f"/journeys/{client_id}/events")).json()
    assert {e["data"].get("clinic_id") for e in events["events"]} <= {OTHER_CLINIC, None}


async def test_a_used_decision_id_replayed_by_someone_who_may_not_see_it_is_refused(
    api: Api,
) -> None:
    client_id = await api.started()
    first = await api.decide(
        api.th, client_id, "record_screening", "d-used", instrument="phq9", answers=PHQ9
    )
    assert first.status_code == 200
    journey_id = first.json()["journey_id"]

    unassigned = await api.decide(api.th2, client_id, "pause", "d-used")
    elsewhere = await api.decide(api.ops_b, client_id, "pause", "d-used")
    nobody = await api.decide(api.ops_b, "cl-nobody", "pause", "d-used")
    assert unassigned.status_code == 403 and unassigned.json()["code"] == "not_assigned"
    assert "events" not in unassigned.json()
    assert elsewhere.status_code == 404 and elsewhere.json() == nobody.json()
    rejected = await api.pool.fetch(
        "SELECT actor_id, rejection_code, journey_id, clinic_id FROM audit_rejected ORDER BY id"
    )
    assert [tuple(r.values()) for r in rejected] == [
        (api.th2.clinician_id, "not_assigned", journey_id, DEFAULT_CLINIC),
        (
            api.ops_b.clinician_id,
            "not_started",
            journey_workflow_id(client_id, OTHER_CLINIC),
            OTHER_CLINIC,
        ),
        (
            api.ops_b.clinician_id,
            "not_started",
            journey_workflow_id("cl-nobody", OTHER_CLINIC),
            OTHER_CLINIC,
        ),
    ]

    # Someone who may see the journey: another's decision id is another decision (409,
    # audited); their own repeat gets the first answer, and the repeat is audited too.
    theirs = await api.decide(
        api.rx, client_id, "record_screening", "d-used", instrument="phq9", answers=PHQ9
    )
    assert theirs.status_code == 409 and theirs.json()["code"] == "decision_id_reused"
    assert "events" not in theirs.json()
    own = await api.decide(
        api.th, client_id, "record_screening", "d-used", instrument="phq9", answers=PHQ9
    )
    assert own.status_code == 200 and own.json() == first.json()
    replays = await api.pool.fetch(
        "SELECT actor_id, journey_id, outcome, clinic_id FROM access_log"
        " WHERE resource = 'decision' ORDER BY id"
    )
    assert [tuple(r.values()) for r in replays] == [
        (api.th.clinician_id, journey_id, "ok", DEFAULT_CLINIC),
    ]
    reused = await api.pool.fetch(
        "SELECT actor_id, clinic_id FROM audit_rejected WHERE rejection_code = 'decision_id_reused'"
    )
    assert [tuple(r.values()) for r in reused] == [(api.rx.clinician_id, DEFAULT_CLINIC)]
    await api.catch_up()
    audit = (await api.get(api.ops, "/audit", client_id=client_id)).json()
    assert (api.th.clinician_id, "decision") in {
        (e["actor_id"], e["read"]) for e in audit if e["kind"] == "read"
    }


async def test_notes_and_contact_lookups_stay_in_their_clinic(api: Api) -> None:
    client_id = await api.started(contact=CONTACT)
    theirs = await api.start(
        api.ops_b, client_id, therapist=api.th_b, prescriber=api.rx_b, contact=OTHER_CONTACT
    )
    assert theirs.status_code == 201, theirs.text
    ref = (
        await api.http.post(
            f"/journeys/{client_id}/notes", json={"text": NOTE}, headers=api.th_b.headers
        )
    ).json()["note_ref"]
    assert (await api.get(api.th, f"/notes/{ref}")).status_code == 404
    erased = await api.http.delete(f"/clients/{client_id}", headers=api.ops.headers)
    assert erased.json() == {"client_id": client_id, "contact_erased": True, "notes_erased": 0}
    assert (await api.get(api.th_b, f"/notes/{ref}")).json()["text"] == NOTE
    other = await get_client(api.pool, client_id, keys=keys_of(api), clinic_id=OTHER_CLINIC)
    assert other is not None and not other.erased and other.email == OTHER_CONTACT["email"]
    stored = await api.pool.fetch(
        "SELECT clinic_id, row_key FROM clients WHERE client_id = $1 ORDER BY clinic_id", client_id
    )
    assert [tuple(r.values()) for r in stored] == [
        (DEFAULT_CLINIC, client_id),
        (OTHER_CLINIC, f"{OTHER_CLINIC}~{client_id}"),
    ]
