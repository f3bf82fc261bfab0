"""The CLI as a real subprocess against `serve_api` (uvicorn on 127.0.0.1, a free port), which
connects to the time-skipping Temporal server and PostgreSQL itself and follows the event log
for the read models."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from database.pgtypes import Pool
from devstack.ports import free_port
from domain.instruments import score
from domain.vocabulary import Instrument
from records.clients import get_client
from tests.net import served_api

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@dataclass
class Served:
    settings: Settings
    db_url: str

    async def cli(
        self,
        *args: str,
        token: str = "",
        url: str | None = None,
        stdin: str | None = None,
        **settings: str,
    ) -> Run:
        """`python -m cli.main ...` with only these CAREPATH_ settings: the API's, the
        database's and `settings` (by their lower-case names)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
        env.update(
            PYTHONPATH=str(ROOT),
            CAREPATH_API_URL=url or self.settings.api_url,
            CAREPATH_API_TOKEN=token,
            CAREPATH_DATABASE_URL=self.db_url,
            CAREPATH_LOG_LEVEL="WARNING",
            **{f"CAREPATH_{name.upper()}": value for name, value in settings.items()},
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            *args,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin else None), timeout=60
        )
        assert process.returncode is not None
        return Run(process.returncode, out.decode(), err.decode())


@pytest_asyncio.fixture
async def served(
    temporal_env: WorkflowEnvironment, db_pool: Pool, db_url: str
) -> AsyncIterator[Served]:
    async with served_api(
        temporal_env.client, db_pool, db_url, api_runs_projections=True
    ) as settings:
        yield Served(settings, db_url)


def _user(run: Run) -> tuple[str, str]:
    assert run.code == 0, run.err
    lines = dict(line.split(" ", 1) for line in run.out.splitlines()[:2])
    return lines["clinician"].split()[0], lines["token"]


async def test_the_cli_against_a_real_server(served: Served, tmp_path: Path) -> None:
    added = await asyncio.gather(
        served.cli("users", "add", "Olive Ops", "--role", "ops", "--json"),
        served.cli("users", "add", "Theo Therapist", "--role", "therapist"),
        served.cli("users", "add", "Rex Prescriber", "--role", "prescriber"),
    )
    ops = added[0].json()
    assert isinstance(ops, dict) and ops["clinician_id"].startswith("ops-")
    ops_token = ops["token"]
    therapist, th_token = _user(added[1])
    prescriber, rx_token = _user(added[2])
    assert therapist.startswith("th-") and prescriber.startswith("rx-")
    assert "shown only this once" in added[1].out

    client_id = f"cl-{uuid.uuid4().hex[:8]}"
    contact = tmp_path / "contact.json"
    contact.write_text(json.dumps({"display_name": "Alice Example", "email": "a@example.org"}))
    started = await served.cli(
        "journey",
        "start",
        client_id,
        "--therapist",
        therapist,
        "--prescriber",
        prescriber,
        "--contact",
        str(contact),
        token=ops_token,
    )
    assert started.code == 0, started.err
    assert "journey started" in started.out
    assert "consultation" in started.out
    assert f"therapist     {therapist}" in started.out

    shown = await served.cli("journey", "show", client_id, "--json", token=th_token)
    assert shown.code == 0, shown.err
    view = shown.json()
    assert isinstance(view, dict)
    assert (view["client_id"], view["stage"], view["status"]) == (
        client_id,
        "consultation",
        "active",
    )

    decided = await served.cli(
        "decide",
        client_id,
        "record_screening",
        "--instrument",
        "phq9",
        "--answers",
        "[2,2,1,1,1,2,1,2,0]",
        "--decision-id",
        "d-cli-1",
        token=th_token,
    )
    assert decided.code == 0, decided.err
    assert "accepted d-cli-1: recorded screening_recorded" in decided.out
    repeated = await served.cli(
        "decide", client_id, "record_screening", "--decision-id", "d-cli-1", "--json",
        "--instrument", "phq9", "--answers", "[2,2,1,1,1,2,1,2,0]", token=th_token,
    )  # fmt: skip
    assert repeated.code == 0, repeated.err
    answer = repeated.json()
    assert isinstance(answer, dict) and answer["events"] == ["screening_recorded"]
    assert answer["version"] == 2

    rejected, forbidden, malformed, events = await asyncio.gather(
        served.cli("decide", client_id, "resume", "--json", token=th_token),
        served.cli("decide", client_id, "refer_to_prescriber", token=rx_token),
        served.cli("decide", client_id, "pause", "--reason", "Not A Code", token=th_token),
        served.cli("journey", "events", client_id, token=th_token),
    )
    assert rejected.code == 1
    body = rejected.json()
    assert isinstance(body, dict)
    assert (body["status"], body["code"]) == (409, "not_allowed_now")
    assert "the journey is not paused (409)" in rejected.err
    assert forbidden.code == 1
    assert "only a therapist may refer to prescriber (403)" in forbidden.err
    assert malformed.code == 2
    assert "Not A Code" not in malformed.err
    assert events.code == 0, events.err
    assert "journey_started" in events.out and "screening_recorded" in events.out

    deadline = time.monotonic() + 15  # the API's projection followers fill the caseload
    while True:
        caseload = await served.cli("caseload", token=th_token)
        assert caseload.code == 0, caseload.err
        if client_id in caseload.out or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert client_id in caseload.out
    assert "consultation" in caseload.out

    outcomes = await served.cli("journey", "outcomes", client_id, token=th_token)
    assert outcomes.code == 0, outcomes.err
    [row] = [line.split() for line in outcomes.out.splitlines() if line.startswith("phq9")]
    screened = score(Instrument.PHQ9, [2, 2, 1, 1, 1, 2, 1, 2, 0])  # the screening above
    assert row[2:5] == ["baseline", str(screened.total), screened.band]

    closed_port = free_port()
    unreachable, no_token, bad_token, missing, audit = await asyncio.gather(
        served.cli("journey", "show", client_id, token=th_token, url=f"http://127.0.0.1:{closed_port}"),
        served.cli("journey", "show", client_id),
        served.cli("journey", "show", client_id, token="cp_wrong"),
        served.cli("journey", "show", "cl-nobody", token=ops_token),
        served.cli("audit", "--client", client_id, "--json", token=ops_token),
    )  # fmt: skip
    assert unreachable.code == 3
    assert "unreachable" in unreachable.err
    assert no_token.code == 2
    assert "CAREPATH_API_TOKEN" in no_token.err
    assert bad_token.code == 1
    assert "not authorised" in bad_token.err
    assert missing.code == 1
    assert "no journey (404)" in missing.err
    assert audit.code == 0, audit.err
    entries = audit.json()
    assert isinstance(entries, list)
    assert {e["kind"] for e in entries} == {"decision", "read"}

    stored = await get_client_from(served, client_id)
    assert stored == ("Alice Example", "a@example.org")

    revoked = await served.cli("users", "revoke", therapist)
    assert revoked.code == 0 and "revoked 1 token" in revoked.out
    after = await served.cli("journey", "show", client_id, token=th_token)
    assert after.code == 1


async def get_client_from(served: Served, client_id: str) -> tuple[str | None, str | None]:
    from database import open_pool

    pool = await open_pool(served.db_url)
    try:
        client = await get_client(pool, client_id)
    finally:
        await pool.close()
    assert client is not None
    return client.display_name, client.email


async def test_the_api_process_serves_until_sigterm_and_exits_cleanly(
    temporal_env: WorkflowEnvironment, db_url: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(
        PYTHONPATH=str(ROOT),
        CAREPATH_TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        CAREPATH_DATABASE_URL=db_url,
        CAREPATH_API_PORT=str(port),
        CAREPATH_API_RUNS_PROJECTIONS="false",
        CAREPATH_LOG_FORMAT="json",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from workers.api import main; main()",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, "the API process exited early"
                try:
                    health = await http.get("/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the API did not come up"
                    await asyncio.sleep(0.1)
        assert health.status_code == 200
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert any(line.get("event") == "api stopped" for line in lines), err.decode()[-3000:]
    assert all(line.get("process") == "api" for line in lines)


async def test_the_cli_with_another_clinics_token_finds_no_such_client(
    served: Served, db_pool: Pool
) -> None:
    from records.users import add_user

    _, ops = await add_user(db_pool, "Olive Ops", "ops")
    therapist, th = await add_user(db_pool, "Theo Therapist", "therapist")
    prescriber, _ = await add_user(db_pool, "Rex Prescriber", "prescriber")
    other_id, other_ops = await add_user(db_pool, "Otto Ops", "ops", "other")
    client_id = f"cl-{uuid.uuid4().hex[:8]}"
    started = await served.cli(
        "journey", "start", client_id, "--therapist", therapist, "--prescriber", prescriber,
        token=ops,
    )  # fmt: skip
    assert started.code == 0, started.err

    show, events, decide, nobody, audit = await asyncio.gather(
        served.cli("journey", "show", client_id, token=other_ops),
        served.cli("journey", "events", client_id, token=other_ops),
        served.cli("decide", client_id, "pause", "--reason", "client_request", token=other_ops),
        served.cli("journey", "show", "cl-nobody", token=other_ops),
        served.cli("audit", "--client", client_id, "--json", token=other_ops),
    )
    for run in (show, events, decide):
        assert run.code == 1, run.out
        assert "no journey (404)" in run.err
        assert therapist not in run.out + run.err and prescriber not in run.out + run.err
    assert show.err == nobody.err.replace("cl-nobody", client_id)
    assert audit.code == 0, audit.err
    entries = audit.json()  # the other clinic's own attempts on that id, nothing of ours
    assert isinstance(entries, list)
    mine = await served.cli("journey", "show", client_id, "--json", token=th)
    assert mine.code == 0, mine.err
    view = mine.json()
    assert isinstance(view, dict) and view["status"] == "active" and view["version"] == 1
    assert all(e["actor_id"] == other_id for e in entries)
    assert all(e["journey_id"] != view["journey_id"] for e in entries)
