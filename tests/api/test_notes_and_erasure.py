"""Psychotherapy notes stay apart and private to their author; erasure keeps the log whole.

Every test runs twice: without payload keys (plaintext, as before sealing) and with them (note
texts and contact details sealed at rest).
"""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from config.settings import Settings
from domain import fold, parse_event
from eventstore import EventStore
from privacy.keys import KeyRing, load_key_ring
from records.clients import get_client
from tests.api.conftest import Api

NOTE = "Client spoke about the lake house and her brother; grief work next time."
CONTACT = {"display_name": "Wren Q. Example", "email": "wren@example.org", "phone": "+15550101234"}
PAYLOAD_KEYS = f"k1:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture(params=["plaintext", "sealed"])
def settings(request: pytest.FixtureRequest) -> Settings:
    keys = PAYLOAD_KEYS if request.param == "sealed" else None
    return Settings(
        task_queue=f"api-{uuid.uuid4().hex[:8]}", api_runs_projections=False, payload_keys=keys
    )


def keys_of(api: Api) -> KeyRing | None:
    return load_key_ring(api.settings.payload_keys, api.settings.payload_key_file)


async def test_only_the_author_reads_a_note_and_events_hold_only_its_reference(
    api: Api, event_store: EventStore
) -> None:
    client_id = await api.started()
    written = await api.http.post(
        f"/journeys/{client_id}/notes", json={"text": NOTE}, headers=api.th.headers
    )
    assert written.status_code == 201, written.text
    ref = written.json()["note_ref"]
    mine = await api.get(api.th, f"/notes/{ref}")
    assert mine.status_code == 200 and mine.json()["text"] == NOTE
    for other in (api.th2, api.rx, api.ops):
        assert (await api.get(other, f"/notes/{ref}")).status_code == 404
    assert (
        await api.pool.fetchval(
            "SELECT count(*) FROM access_log WHERE resource = 'note' AND outcome = 'not_found'"
        )
        == 3
    )
    view = (await api.get(api.th, f"/journeys/{client_id}")).json()
    events = await event_store.read_stream(view["journey_id"])
    assert all(NOTE not in str(e.data) for e in events)
    stored = await api.pool.fetchrow("SELECT * FROM psychotherapy_notes WHERE note_id = $1", ref)
    assert stored is not None
    if keys_of(api) is not None:  # sealed: the table holds no word of the note
        assert stored["sealed_with"] == "k1" and stored["body"].startswith("f1.k1.")
        assert not any(word in str(dict(stored)) for word in ("lake", "brother", "grief"))
    else:
        assert stored["sealed_with"] is None and stored["body"] == NOTE


@pytest.mark.parametrize("settings", ["sealed"], indirect=True)
async def test_a_note_copied_into_another_row_does_not_open(api: Api) -> None:
    client_id = await api.started()
    refs = [
        (
            await api.http.post(
                f"/journeys/{client_id}/notes", json={"text": text}, headers=api.th.headers
            )
        ).json()["note_ref"]
        for text in (NOTE, "another note")
    ]
    await api.pool.execute(
        "UPDATE psychotherapy_notes SET body = (SELECT body FROM psychotherapy_notes"
        " WHERE note_id = $1) WHERE note_id = $2",
        *refs,
    )
    answer = await api.get(api.th, f"/notes/{refs[1]}")
    assert answer.status_code == 500 and "cannot be opened" in answer.json()["detail"]
    assert "lake" not in answer.text and "k1:" not in answer.text

    # Someone with the database hands the first note to another therapist: still sealed to its
    # author, so it does not open for them.
    await api.pool.execute(
        "UPDATE psychotherapy_notes SET author_id = $1 WHERE note_id = $2",
        api.th2.clinician_id,
        refs[0],
    )
    taken = await api.get(api.th2, f"/notes/{refs[0]}")
    assert taken.status_code == 500 and "lake" not in taken.text
    await api.catch_up()
    reads = (await api.get(api.ops, "/audit", kind="read", client_id=client_id)).json()
    notes = [(e["actor_id"], e["outcome"]) for e in reads if e["read"] == "note"]
    assert sorted(notes) == sorted(
        [(api.th.clinician_id, "unreadable"), (api.th2.clinician_id, "unreadable")]
    )


async def test_only_the_clients_therapist_writes_notes(api: Api) -> None:
    client_id = await api.started()
    for other, code in ((api.rx, 403), (api.th2, 403), (api.ops, 403)):
        answer = await api.http.post(
            f"/journeys/{client_id}/notes", json={"text": "x"}, headers=other.headers
        )
        assert answer.status_code == code
    empty = await api.http.post(
        f"/journeys/{client_id}/notes", json={"text": ""}, headers=api.th.headers
    )
    assert empty.status_code == 422 and NOTE not in empty.text


async def test_erasure_empties_contacts_and_notes_and_the_log_still_folds(
    api: Api, event_store: EventStore
) -> None:
    client_id = await api.started(contact=CONTACT)
    stored = await api.pool.fetchrow("SELECT * FROM clients WHERE client_id = $1", client_id)
    assert stored is not None
    assert (CONTACT["email"] in str(dict(stored))) is (keys_of(api) is None)
    before = await get_client(api.pool, client_id, keys=keys_of(api))
    assert before is not None and before.email == CONTACT["email"]
    ref = (
        await api.http.post(
            f"/journeys/{client_id}/notes", json={"text": NOTE}, headers=api.th.headers
        )
    ).json()["note_ref"]
    assert (
        await api.http.delete(f"/clients/{client_id}", headers=api.th.headers)
    ).status_code == 403
    erased = await api.http.delete(f"/clients/{client_id}", headers=api.ops.headers)
    assert erased.status_code == 200
    assert erased.json() == {"client_id": client_id, "contact_erased": True, "notes_erased": 1}
    client = await get_client(api.pool, client_id, keys=keys_of(api))
    assert client is not None and client.erased
    assert (client.display_name, client.email, client.phone) == (None, None, None)
    assert (await api.get(api.th, f"/notes/{ref}")).status_code == 410
    assert (
        await api.pool.fetchval("SELECT count(*) FROM psychotherapy_notes WHERE body IS NOT NULL")
        == 0
    )
    view = (await api.get(api.th, f"/journeys/{client_id}")).json()
    records = await event_store.read_stream(view["journey_id"])
    state = fold(parse_event(r.data) for r in records)
    assert state is not None and state.client_id == client_id
    assert (state.stage.value, state.status.value) == (view["stage"], view["status"])
    assert (await api.get(api.th, f"/journeys/{client_id}")).status_code == 200
