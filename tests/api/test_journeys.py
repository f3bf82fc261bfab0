"""Starting a journey and reading it: who may, what they see, one open journey per client."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from domain.ids import journey_workflow_id
from records.clients import get_client
from tests.api.conftest import Api

CONTACT = {
    "display_name": "Alice Example",
    "email": "alice@example.org",
    "phone": "+44 7700 900123",
}


async def test_ops_start_a_journey_and_get_its_view(api: Api) -> None:
    response = await api.start(api.ops)
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["journey_id"].startswith("j-") and len(view["journey_id"]) == 34
    assert view["therapist_id"] == api.th.clinician_id
    assert view["prescriber_id"] == api.rx.clinician_id
    assert (view["stage"], view["status"], view["closed_reason"]) == (
        "consultation",
        "active",
        None,
    )
    assert view["doses"] == {"authorized": 0, "used": 0, "remaining": 0}
    assert view["due"] and {"kind", "at", "ref"} <= set(view["due"][0])
    assert view["last_decision"]["type"] == "journey_started"
    assert view["last_decision"]["actor_id"] == api.ops.clinician_id
    shown = await api.get(api.ops, f"/journeys/{view['client_id']}")
    assert shown.status_code == 200
    assert shown.json() == view
    events = (await api.get(api.ops, f"/journeys/{view['client_id']}/events")).json()["events"]
    assert [e["type"] for e in events] == ["journey_started"]  # stored before the 201


async def test_a_therapist_starts_only_their_own_clients_and_prescribers_none(api: Api) -> None:
    assert (await api.start(api.th, therapist=api.th)).status_code == 201
    other = await api.start(api.th, therapist=api.th2)
    assert other.status_code == 403
    assert other.json()["code"] == "not_assigned"
    prescriber = await api.start(api.rx)
    assert prescriber.status_code == 403
    assert prescriber.json()["code"] == "forbidden_role"
    elsewhere = await api.start(api.ops, clinic_id="other-clinic")
    assert elsewhere.status_code == 403
    rejected = await api.pool.fetch(
        "SELECT decision_type, actor_id, rejection_code FROM audit_rejected ORDER BY id"
    )
    assert [(r["decision_type"], r["rejection_code"]) for r in rejected] == [
        ("start_journey", "not_assigned"),
        ("start_journey", "forbidden_role"),
        ("start_journey", "not_assigned"),
    ]


async def test_the_assignees_must_be_clinicians_of_the_right_role(api: Api) -> None:
    swapped = await api.start(api.ops, therapist=api.rx, prescriber=api.th)
    assert swapped.status_code == 422
    assert "therapist_id" in swapped.json()["detail"]
    body = {"client_id": api.new_client(), "therapist_id": "th-nobody", "prescriber_id": "rx-1"}
    unknown = await api.http.post("/journeys", json=body, headers=api.ops.headers)
    assert unknown.status_code == 422


async def test_the_start_body_is_checked_and_never_takes_an_actor_or_journey_id(api: Api) -> None:
    for extra in ({"actor": {"id": "x", "role": "ops"}}, {"journey_id": "j-mine"}):
        response = await api.start(api.ops, **extra)
        assert response.status_code == 422
    bad_id = await api.start(api.ops, client_id="Alice Example")
    assert bad_id.status_code == 422
    assert "Alice Example" not in bad_id.text


async def test_one_open_journey_per_client_and_a_new_one_after_it_closed(api: Api) -> None:
    client_id = await api.started(api.ops)
    first = (await api.get(api.ops, f"/journeys/{client_id}")).json()["journey_id"]
    again = await api.start(api.ops, client_id)
    assert again.status_code == 409
    assert again.json()["detail"] == "this client already has an open journey"
    assert (await api.decide(api.th, client_id, "withdraw")).status_code == 200
    await api.finish(client_id)
    restarted = await api.start(api.ops, client_id)
    assert restarted.status_code == 201, restarted.text
    second = restarted.json()
    assert second["journey_id"] != first
    assert second["status"] == "active"
    shown = (await api.get(api.th, f"/journeys/{client_id}")).json()
    assert shown["journey_id"] == second["journey_id"]
    streams = await api.pool.fetch("SELECT DISTINCT stream_id FROM events")
    assert {r["stream_id"] for r in streams} == {first, second["journey_id"]}


async def test_a_closed_journey_still_draining_does_not_block_a_new_start(api: Api) -> None:
    client_id = await api.started(api.ops)
    assert (await api.decide(api.th, client_id, "withdraw")).status_code == 200
    restarted = await api.start(api.ops, client_id)  # no wait: the API lets the old run finish
    assert restarted.status_code == 201, restarted.text


async def test_who_may_read_a_journey(api: Api) -> None:
    client_id = await api.started(api.ops)
    path = f"/journeys/{client_id}"
    for user in (api.th, api.rx, api.ops):
        assert (await api.get(user, path)).status_code == 200, user.role
        assert (await api.get(user, f"{path}/events")).status_code == 200, user.role
    for user in (api.th2, api.rx2):
        response = await api.get(user, path)
        assert response.status_code == 403
        assert response.json()["detail"] == "this client is not on your caseload"
        assert (await api.get(user, f"{path}/events")).status_code == 403
    missing = await api.get(api.ops, "/journeys/cl-nobody")
    assert missing.status_code == 404
    assert (await api.get(api.ops, "/journeys/cl-nobody/events")).status_code == 404
    assert (await api.get(api.ops, "/journeys/not%20an%20id")).status_code == 422


async def test_the_events_timeline_comes_from_the_store(api: Api) -> None:
    client_id = await api.started(api.ops)
    answers = [2, 2, 1, 1, 1, 2, 1, 2, 0]
    screened = await api.decide(
        api.th, client_id, "record_screening", instrument="phq9", answers=answers
    )
    assert screened.status_code == 200
    assert (await api.decide(api.rx, client_id, "pause", reason="client_request")).is_success
    response = await api.get(api.th, f"/journeys/{client_id}/events")
    assert response.status_code == 200
    timeline = response.json()
    view = (await api.get(api.th, f"/journeys/{client_id}")).json()
    assert timeline["journey_id"] == view["journey_id"]
    events = timeline["events"]
    assert [e["type"] for e in events] == [
        "journey_started",
        "screening_recorded",
        "journey_paused",
    ]
    assert [e["version"] for e in events] == [1, 2, 3]
    assert events[0]["position"] < events[1]["position"] < events[2]["position"]
    assert [(e["actor_id"], e["actor_role"]) for e in events] == [
        (api.ops.clinician_id, "ops"),
        (api.th.clinician_id, "therapist"),
        (api.rx.clinician_id, "prescriber"),
    ]
    assert events[1]["data"]["answers"] == answers
    assert events[1]["decision_id"] == screened.json()["decision_id"]
    assert all(e["occurred_at"] and e["recorded_at"] for e in events)


def _payload_texts(message: Message) -> list[str]:
    """Every payload inside a history event (or any proto), decoded."""
    if isinstance(message, Payload):
        return [message.data.decode("utf-8", errors="replace")]
    found: list[str] = []
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif descriptor.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                found.extend(_payload_texts(item))
    return found


async def test_contact_details_never_reach_events_or_the_workflow(api: Api) -> None:
    response = await api.start(api.ops, contact=CONTACT)
    assert response.status_code == 201
    client_id = response.json()["client_id"]
    assert (await api.decide(api.th, client_id, "pause")).status_code == 200
    stored = await get_client(api.pool, client_id)
    assert stored is not None
    assert (stored.display_name, stored.email, stored.phone) == (
        CONTACT["display_name"],
        CONTACT["email"],
        CONTACT["phone"],
    )
    rows = await api.pool.fetch("SELECT data::text AS d, metadata::text AS m FROM events")
    in_events = " ".join(r["d"] + r["m"] for r in rows)
    assert client_id in in_events
    handle = api.env.client.get_workflow_handle(journey_workflow_id(client_id))
    history = await handle.fetch_history()
    payloads = [text for event in history.events for text in _payload_texts(event)]
    in_history = " ".join(payloads)
    assert client_id in in_history  # the payloads were found and decoded
    for secret in CONTACT.values():
        assert secret not in in_events
        assert secret not in in_history
    assert api.ops.clinician_id in in_history


async def test_errors_do_not_echo_contact_details(api: Api) -> None:
    bad: dict[str, Any] = {**CONTACT, "email": ["alice@example.org"]}
    response = await api.start(api.ops, contact=bad)
    assert response.status_code == 422
    for secret in CONTACT.values():
        assert secret not in response.text
