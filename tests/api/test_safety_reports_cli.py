"""`carepath journey sessions`, `carepath report adverse-events` and `carepath report substances`
as real subprocesses against `serve_api` (which follows the event log for the read models)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from database.pgtypes import Pool
from records.users import add_user
from tests.api.test_cli import Run, Served
from tests.net import served_api

PHQ9 = [2, 2, 1, 1, 1, 2, 1, 2, 0]
GAD7 = [2, 2, 2, 1, 1, 1, 2]
VITALS = {"systolic": 122, "diastolic": 80}
DOSE = {
    "dose_mg": "50",
    "route": "intramuscular",
    "lot": "KET-CLI-7",
    "dispensed_mg": "60",
    "wasted_mg": "5",
}


@pytest_asyncio.fixture
async def served(
    temporal_env: WorkflowEnvironment, db_pool: Pool, db_url: str
) -> AsyncIterator[Served]:
    async with served_api(
        temporal_env.client, db_pool, db_url, api_runs_projections=True
    ) as settings:
        yield Served(settings, db_url)


class Clinic:
    def __init__(self, http: httpx.AsyncClient, env: WorkflowEnvironment, tokens: dict[str, str]):
        self.http = http
        self.env = env
        self.tokens = tokens

    async def decide(self, role: str, client_id: str, type_: str, **fields: Any) -> None:
        body = {"type": type_, "decision_id": f"d-{uuid.uuid4().hex[:12]}", **fields}
        response = await self.http.post(
            f"/journeys/{client_id}/decisions",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    async def later(self, **delta: float) -> str:
        return (await self.env.get_current_time() + timedelta(**delta)).isoformat()

    async def wait(self, **delta: float) -> None:
        await self.env.sleep(timedelta(**delta))


async def dosed_and_discharged(clinic: Clinic, client_id: str) -> None:
    """The first dose given and recorded (5 mg unaccounted for), discharged, signed; then a
    serious adverse event reported."""
    d = clinic.decide
    await d("therapist", client_id, "record_screening", instrument="phq9", answers=PHQ9)
    await d("therapist", client_id, "record_screening", instrument="gad7", answers=GAD7)
    signed = await clinic.later()
    await d("therapist", client_id, "record_consent", consent_version="v3", signed_at=signed)
    await d("therapist", client_id, "complete_consultation", treatment_goals=["sleep better"])
    await d("therapist", client_id, "refer_to_prescriber")
    intake = await clinic.later(days=2)
    await d("prescriber", client_id, "schedule_prescriber_intake", scheduled_at=intake)
    await clinic.wait(days=2)
    expires = await clinic.later(days=90)
    await d("prescriber", client_id, "approve_medication", expires_at=expires)
    await d("therapist", client_id, "complete_preparation")
    at = await clinic.later(minutes=30)
    await d("therapist", client_id, "schedule_dosing", session_id="s1", scheduled_at=at)
    await d("therapist", client_id, "start_dosing", session_id="s1", vitals=VITALS,
            transport_confirmed=True)  # fmt: skip
    await clinic.wait(minutes=45)
    check = {"vitals": VITALS, "sedation": "mild", "dissociation": "none"}
    await d("therapist", client_id, "record_session_monitoring", session_id="s1", **check)
    await d("therapist", client_id, "record_dose", session_id="s1", dose=DOSE)
    await clinic.wait(minutes=80)
    await d("therapist", client_id, "complete_dosing", session_id="s1", vitals=VITALS,
            ready_for_discharge=True, transport_confirmed=True,
            adverse_events=[{"code": "nausea", "severity": "mild"}])  # fmt: skip
    await d("prescriber", client_id, "sign_session_record", session_id="s1")
    await d("prescriber", client_id, "report_adverse_event", session_id="s1",
            code="hypertension", severity="severe", seriousness=["hospitalisation"],
            outcome="recovering")  # fmt: skip


async def until(served: Served, args: list[str], token: str, wanted: str) -> Run:
    """The CLI's answer once the API's projection followers show `wanted` in it."""
    deadline = time.monotonic() + 15
    while True:
        run = await served.cli(*args, token=token)
        assert run.code == 0, run.err
        if wanted in run.out or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.2)


async def test_the_session_and_safety_report_verbs(
    served: Served, db_pool: Pool, temporal_env: WorkflowEnvironment
) -> None:
    ids, tokens = {}, {}
    for role in ("ops", "therapist", "prescriber"):
        ids[role], tokens[role] = await add_user(db_pool, f"CLI {role}", role)
    client_id = f"cl-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=served.settings.api_url) as http:
        body = {"client_id": client_id, "therapist_id": ids["therapist"],
                "prescriber_id": ids["prescriber"]}  # fmt: skip
        headers = {"Authorization": f"Bearer {tokens['ops']}"}
        started = await http.post("/journeys", json=body, headers=headers, timeout=30)
        assert started.status_code == 201, started.text
        await dosed_and_discharged(Clinic(http, temporal_env, tokens), client_id)

    sessions, as_json = await asyncio.gather(
        served.cli("journey", "sessions", client_id, token=tokens["therapist"]),
        served.cli("journey", "sessions", client_id, "--json", token=tokens["therapist"]),
    )
    assert sessions.code == 0, sessions.err
    [row] = [line.split() for line in sessions.out.splitlines() if line.startswith("s1 ")]
    assert row[1:3] == ["1", "completed"] and "KET-CLI-7" in row
    assert "50 mg intramuscular" in sessions.out and "2 (1 serious)" in sessions.out
    assert "doses: 1 started of 2 authorized, 1 on record" in sessions.out
    assert "dispensed 60 = administered 50 + wasted 5 + unaccounted 5" in sessions.out
    assert "NOT RECONCILED" in sessions.out
    answer = as_json.json()
    assert isinstance(answer, dict) and answer["reconciled"] is False
    assert Decimal(answer["ledger"]["unaccounted_mg"]) == 5

    adverse = await until(served, ["report", "adverse-events"], tokens["ops"], "hypertension")
    lines = adverse.out.splitlines()
    assert lines[0].split()[:4] == ["RECORDED", "CLIENT", "SESSION", "CODE"]
    assert "hypertension" in lines[1] and "SERIOUS" in lines[1] and "hospitalisation" in lines[1]
    assert "nausea" in lines[2] and "at_discharge" in lines[2]
    serious, since, listed, none_since = await asyncio.gather(
        served.cli("report", "adverse-events", "--serious", token=tokens["prescriber"]),
        served.cli("report", "adverse-events", "--since", "2000-01-01T00:00:00Z",
                   token=tokens["therapist"]),
        served.cli("report", "adverse-events", "--json", token=tokens["ops"]),
        served.cli("report", "adverse-events", "--since", "2999-01-01T00:00:00Z",
                   token=tokens["ops"]),
    )  # fmt: skip
    assert serious.code == 0 and "hypertension" in serious.out and "nausea" not in serious.out
    assert since.code == 0 and "hypertension" in since.out and "nausea" in since.out
    entries = listed.json()
    assert isinstance(entries, list) and [e["code"] for e in entries] == ["hypertension", "nausea"]
    assert none_since.code == 0 and none_since.out.strip() == "no adverse events"
    bad = await served.cli("report", "adverse-events", "--since", "yesterday", token=tokens["ops"])
    assert bad.code == 2

    substances = await until(served, ["report", "substances"], tokens["prescriber"], "KET-CLI-7")
    out = substances.out
    assert "controlled substances, clinic default: 1 discrepancies" in out
    assert client_id in out and "KET-CLI-7" in out
    assert "total: 1 journeys, 1 doses started of 2 authorized, 1 on record" in out
    assert f"unaccounted: client {client_id}: session s1: 5.00 mg of lot KET-CLI-7" in out
    report = (await served.cli("report", "substances", "--json", token=tokens["ops"])).json()
    assert isinstance(report, dict) and report["reconciled"] is False
    assert [d["kind"] for d in report["discrepancies"]] == ["unaccounted"]
    refused = await served.cli("report", "substances", token=tokens["therapist"])
    assert refused.code == 1
    assert "the controlled-substance report is for prescribers and ops (403)" in refused.err
