"""A decision id names one decision: reused for another, it answers 409 and changes nothing."""

from __future__ import annotations

from tests.api.conftest import Api


async def _event_count(api: Api) -> int:
    count: int = await api.pool.fetchval("SELECT count(*) FROM events")
    return count


async def test_a_decision_id_reused_for_another_decision_is_409_and_audited(api: Api) -> None:
    client_id = await api.started()
    paused = await api.decide(api.th, client_id, "pause", "d-001")
    assert paused.status_code == 200, paused.text
    events = await _event_count(api)

    same = await api.decide(api.th, client_id, "pause", "d-001")  # a retry: the first answer
    assert same.status_code == 200 and same.json()["events"] == paused.json()["events"]

    other = await api.decide(api.th, client_id, "resume", "d-001")
    assert other.status_code == 409, other.text
    body = other.json()
    assert body["code"] == "decision_id_reused"
    assert "another decision" in body["detail"]
    assert await _event_count(api) == events
    shown = await api.http.get(f"/journeys/{client_id}", headers=api.th.headers)
    assert shown.json()["status"] == "paused"  # the resume did not happen
    refused = await api.pool.fetch(
        "SELECT decision_type, rejection_code FROM audit_rejected WHERE decision_id = 'd-001'"
    )
    assert [tuple(r) for r in refused] == [("resume", "decision_id_reused")]
