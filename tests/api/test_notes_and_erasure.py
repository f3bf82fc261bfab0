"""Psychotherapy notes stay apart and private to their author; erasure keeps the log whole."""

from __future__ import annotations

from domain import fold, parse_event
from eventstore import EventStore, get_client
from tests.api.conftest import Api

NOTE = "Client spoke about the lake house and her brother; grief work next time."
CONTACT = {"display_name": "Wren Q. Example", "email": "wren@example.org", "phone": "+15550101234"}


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
    assert (await get_client(api.pool, client_id)) is not None
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
    client = await get_client(api.pool, client_id)
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
