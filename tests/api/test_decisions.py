"""POST /journeys/{client}/decisions: every answer the route gives."""

from __future__ import annotations

import uuid

from tests.api.conftest import Api

PHQ9 = [2, 2, 1, 1, 1, 2, 1, 2, 0]


async def _rejections(api: Api) -> list[tuple[str, str, str, str]]:
    rows = await api.pool.fetch(
        "SELECT decision_type, actor_id, rejection_code, journey_id FROM audit_rejected ORDER BY id"
    )
    return [(r["decision_type"], r["actor_id"], r["rejection_code"], r["journey_id"]) for r in rows]


async def _event_count(api: Api) -> int:
    count: int = await api.pool.fetchval("SELECT count(*) FROM events")
    return count


async def test_an_accepted_decision_answers_with_the_new_view_and_its_events(api: Api) -> None:
    client_id = await api.started()
    response = await api.decide(
        api.th, client_id, "record_screening", "d-screen-1", instrument="phq9", answers=PHQ9
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["decision_id"] == "d-screen-1"
    assert answer["events"] == ["screening_recorded"]
    assert answer["client_id"] == client_id
    assert answer["version"] == 2
    assert answer["last_decision"]["decision_id"] == "d-screen-1"
    assert answer["last_decision"]["actor_id"] == api.th.clinician_id
    assert answer["last_decision"]["actor_role"] == "therapist"
    held = await api.decide(api.rx, client_id, "raise_safety_hold", reason="clinician_concern")
    assert held.status_code == 200
    assert held.json()["status"] == "safety_hold"


async def test_a_role_that_may_not_decide_gets_403_and_is_audited(api: Api) -> None:
    client_id = await api.started()
    journey_id = (await api.get(api.ops, f"/journeys/{client_id}")).json()["journey_id"]
    response = await api.decide(api.rx, client_id, "refer_to_prescriber")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "only a therapist may refer to prescriber",
        "code": "forbidden_role",
    }
    assert await _rejections(api) == [
        ("refer_to_prescriber", api.rx.clinician_id, "forbidden_role", journey_id)
    ]


async def test_a_clinician_not_assigned_gets_403(api: Api) -> None:
    client_id = await api.started()
    for user in (api.th2, api.rx2):
        response = await api.decide(user, client_id, "pause")
        assert response.status_code == 403
        assert response.json()["code"] == "not_assigned"
    assert [r[2] for r in await _rejections(api)] == ["not_assigned", "not_assigned"]


async def test_no_journey_is_404_and_audited_under_the_workflow_id(api: Api) -> None:
    response = await api.decide(api.th, "cl-nobody", "pause")
    assert response.status_code == 404
    assert response.json() == {"detail": "this client has no journey", "code": "not_started"}
    assert await _rejections(api) == [
        ("pause", api.th.clinician_id, "not_started", "journey-cl-nobody")
    ]


async def test_not_allowed_now_is_409(api: Api) -> None:
    client_id = await api.started()
    response = await api.decide(api.th, client_id, "resume")
    assert response.status_code == 409
    assert response.json() == {"detail": "the journey is not paused", "code": "not_allowed_now"}


async def test_values_that_cannot_be_right_are_422_from_the_domain(api: Api) -> None:
    client_id = await api.started()
    response = await api.decide(
        api.th, client_id, "record_screening", instrument="phq9", answers=[1, 2]
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert [r[2] for r in await _rejections(api)] == ["invalid"]


async def test_malformed_decisions_are_422_without_echoing_values(api: Api) -> None:
    client_id = await api.started()
    path = f"/journeys/{client_id}/decisions"
    secret = "alice@example.org"
    bodies = [
        {"type": "record_screening", "decision_id": "d-1", "instrument": secret, "answers": []},
        {"type": secret, "decision_id": "d-1"},
        {"decision_id": "d-1"},
        {"type": "pause", "decision_id": secret},
        {"type": "pause", "decision_id": "d-1", "reason": secret},
        {"type": "pause", "decision_id": "d-1", "note": secret},
        {"type": "pause", "decision_id": "d-1", secret: "note"},
        {
            "type": "schedule_dosing",
            "decision_id": "d-1",
            "session_id": "s1",
            "scheduled_at": secret,
        },
        [secret],
    ]
    for body in bodies:
        response = await api.http.post(path, json=body, headers=api.th.headers)
        assert response.status_code == 422, body
        assert secret not in response.text, response.text
        assert response.json()["detail"].startswith("the request is not valid")
    unknown = await api.http.post(
        path, json={"type": "fly", "decision_id": "d"}, headers=api.th.headers
    )
    assert "expected one of" in unknown.json()["detail"]
    not_json = await api.http.post(
        path,
        content=b"{not json " + secret.encode(),
        headers={**api.th.headers, "content-type": "application/json"},
    )
    assert not_json.status_code == 422
    assert secret not in not_json.text
    assert await _event_count(api) == 1
    assert await _rejections(api) == []


async def test_the_actor_is_the_token_never_the_body(api: Api) -> None:
    client_id = await api.started()
    response = await api.decide(
        api.th2, client_id, "pause", actor={"id": api.th.clinician_id, "role": "therapist"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "loc": "body.actor",
            "msg": "the actor is the clinician of the bearer token: do not send it",
        }
    ]
    assert await _event_count(api) == 1


async def test_a_start_goes_through_post_journeys_only(api: Api) -> None:
    client_id = await api.started()
    response = await api.decide(
        api.ops,
        client_id,
        "start_journey",
        journey_id="j-x",
        client_id=client_id,
        therapist_id=api.th.clinician_id,
        prescriber_id=api.rx.clinician_id,
    )
    assert response.status_code == 422


async def test_a_repeated_decision_returns_the_first_answer_and_does_nothing_more(
    api: Api,
) -> None:
    client_id = await api.started()
    decision_id = f"d-{uuid.uuid4().hex[:8]}"
    first = await api.decide(
        api.th, client_id, "record_screening", decision_id, instrument="phq9", answers=PHQ9
    )
    assert first.status_code == 200
    events = await _event_count(api)
    again = await api.decide(
        api.th, client_id, "record_screening", decision_id, instrument="phq9", answers=PHQ9
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert await _event_count(api) == events
    assert await _rejections(api) == []
    view = (await api.get(api.th, f"/journeys/{client_id}")).json()
    assert view["version"] == 2


async def test_repeats_after_the_journey_closed(api: Api) -> None:
    client_id = await api.started()
    withdrawn = await api.decide(api.th, client_id, "withdraw", "d-withdraw", reason="moved_away")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["events"] == ["journey_closed"]
    assert withdrawn.json()["closed_reason"] == "withdrawn"
    await api.finish(client_id)
    events = await _event_count(api)
    again = await api.decide(api.th, client_id, "withdraw", "d-withdraw", reason="moved_away")
    assert again.status_code == 200
    assert again.json() == withdrawn.json()
    late = await api.decide(api.th, client_id, "pause", "d-late")
    assert late.status_code == 409
    assert late.json() == {
        "detail": "this journey is closed (withdrawn): it accepts no more decisions",
        "code": "closed",
    }
    assert await _event_count(api) == events
    journey_id = withdrawn.json()["journey_id"]
    assert await _rejections(api) == [("pause", api.th.clinician_id, "closed", journey_id)]


async def test_a_closed_journey_refuses_decisions_while_it_drains(api: Api) -> None:
    client_id = await api.started()
    assert (await api.decide(api.th, client_id, "discharge")).status_code == 200
    response = await api.decide(api.th, client_id, "pause")
    assert response.status_code == 409
    assert response.json()["code"] == "closed"


async def test_ops_of_another_clinic_may_not_decide(api: Api) -> None:
    """Client ids are per clinic: another clinic's client does not exist for the caller."""
    client_id = await api.started()
    response = await api.decide(api.ops_b, client_id, "pause", "d-1")
    assert response.status_code == 404
    assert response.json() == {"detail": "this client has no journey", "code": "not_started"}
    seen = await api.get(api.ops_b, f"/journeys/{client_id}")
    assert seen.status_code == 404
    assert seen.json() == (await api.get(api.ops_b, "/journeys/cl-nobody")).json()
    assert (await api.get(api.ops, f"/journeys/{client_id}")).json()["status"] == "active"
