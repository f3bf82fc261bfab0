"""GET /caseload from the caseload projection; GET /audit: decisions and reads, ops only."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import pytest

from tests.api.conftest import Api

PHQ9 = [2, 2, 1, 1, 1, 2, 1, 2, 0]


async def test_each_clinician_sees_their_own_caseload_and_ops_the_clinics(api: Api) -> None:
    mine = await api.started(api.ops, therapist=api.th, prescriber=api.rx)
    theirs = await api.started(api.ops, therapist=api.th2, prescriber=api.rx)
    closed = await api.started(api.ops, therapist=api.th, prescriber=api.rx2)
    assert (await api.decide(api.th, closed, "withdraw")).status_code == 200
    await api.catch_up()

    def clients(response: object) -> set[str]:
        assert getattr(response, "status_code", None) == 200
        return {entry["client_id"] for entry in response.json()}  # type: ignore[attr-defined]

    assert clients(await api.get(api.th, "/caseload")) == {mine}
    assert clients(await api.get(api.th2, "/caseload")) == {theirs}
    assert clients(await api.get(api.rx, "/caseload")) == {mine, theirs}
    assert clients(await api.get(api.rx2, "/caseload")) == set()
    assert clients(await api.get(api.rx2, "/caseload", include_closed="true")) == {closed}
    assert clients(await api.get(api.ops, "/caseload")) == {mine, theirs}
    assert clients(await api.get(api.ops, "/caseload", include_closed="true")) == {
        mine,
        theirs,
        closed,
    }
    by_th2 = await api.get(api.ops, "/caseload", clinician_id=api.th2.clinician_id)
    assert clients(by_th2) == {theirs}
    assert clients(await api.get(api.th, "/caseload", clinician_id=api.th.clinician_id)) == {mine}
    refused = await api.get(api.th, "/caseload", clinician_id=api.th2.clinician_id)
    assert refused.status_code == 403

    entry = (await api.get(api.th, "/caseload")).json()[0]
    assert entry["therapist_id"] == api.th.clinician_id
    assert (entry["stage"], entry["status"], entry["doses_used"]) == ("consultation", "active", 0)
    assert entry["next_due_kind"] == "inactivity_nudge"


async def test_the_audit_log_is_for_ops_only(api: Api) -> None:
    for user in (api.th, api.rx):
        response = await api.get(user, "/audit")
        assert response.status_code == 403
        assert response.json() == {"detail": "only ops may do this"}
    assert (await api.get(api.ops, "/audit")).status_code == 200


async def test_the_audit_log_holds_every_decision_and_every_read(api: Api) -> None:
    client_id = await api.started(api.ops)
    other = await api.started(api.ops, therapist=api.th2)
    screened = await api.decide(
        api.th, client_id, "record_screening", "d-screen", instrument="phq9", answers=PHQ9
    )
    assert screened.status_code == 200
    assert (await api.decide(api.th2, client_id, "pause", "d-not-mine")).status_code == 403
    assert (await api.get(api.th, f"/journeys/{client_id}")).status_code == 200
    assert (await api.get(api.th, f"/journeys/{client_id}/events")).status_code == 200
    assert (await api.get(api.th2, f"/journeys/{client_id}")).status_code == 403
    assert (await api.get(api.th2, f"/journeys/{other}")).status_code == 200
    assert (await api.get(api.th2, "/journeys/cl-nobody")).status_code == 404
    await api.catch_up()
    journey_id = screened.json()["journey_id"]

    response = await api.get(api.ops, "/audit", client_id=client_id)
    assert response.status_code == 200
    entries = response.json()
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True)
    decisions = {(e["decision_id"], e["outcome"]) for e in entries if e["kind"] == "decision"}
    assert decisions == {
        (f"start-{journey_id}", "accepted"),
        ("d-screen", "accepted"),
        ("d-not-mine", "rejected"),
    }
    rejected = next(e for e in entries if e["decision_id"] == "d-not-mine")
    assert rejected["actor_id"] == api.th2.clinician_id
    assert rejected["rejection_code"] == "not_assigned"
    assert rejected["reason"] == "this client is not assigned to this therapist"
    assert rejected["client_id"] == client_id
    accepted = next(e for e in entries if e["decision_id"] == "d-screen")
    assert accepted["event_types"] == ["screening_recorded"]
    assert accepted["decision_type"] == "record_screening"
    reads = [(e["actor_id"], e["read"], e["outcome"]) for e in entries if e["kind"] == "read"]
    assert sorted(reads) == sorted(
        [
            (api.th.clinician_id, "journey", "ok"),
            (api.th.clinician_id, "events", "ok"),
            (api.th2.clinician_id, "journey", "forbidden"),
        ]
    )
    assert all(e["client_id"] == client_id for e in entries)

    mine = (await api.get(api.ops, "/audit", clinician_id=api.th2.clinician_id)).json()
    assert {(e["kind"], e["client_id"], e["outcome"]) for e in mine} == {
        ("decision", client_id, "rejected"),
        ("read", client_id, "forbidden"),
        ("read", other, "ok"),
        ("read", "cl-nobody", "not_found"),
    }
    only_reads = (await api.get(api.ops, "/audit", kind="read", limit=2)).json()
    assert len(only_reads) == 2
    assert {e["kind"] for e in only_reads} == {"read"}
    assert (await api.get(api.ops, "/audit", limit=0)).status_code == 422
    older = await api.get(api.ops, "/audit", before=only_reads[-1]["at"], kind="read")
    assert all(e["at"] < only_reads[-1]["at"] for e in older.json())


async def test_the_access_log_is_append_only(api: Api) -> None:
    await api.get(api.th, "/caseload")
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await api.pool.execute("DELETE FROM access_log")
