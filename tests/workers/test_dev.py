"""`carepath dev` as a person runs it: one command, addresses printed, Ctrl-C stops it all,
and a restart keeps every journey."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.ports import free_port

ROOT = Path(__file__).parents[2]


class Dev:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {
            "temporal": free_port(),
            "ui": free_port(),
            "api": free_port(),
            "codec": free_port(),
        }
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
        self.env["CAREPATH_DATA_DIR"] = str(data_dir)
        self.proc: subprocess.Popen[str] | None = None
        self.output = data_dir.parent / "dev.out"

    def start(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "dev",
                "--temporal-port",
                str(self.ports["temporal"]),
                "--ui-port",
                str(self.ports["ui"]),
                "--api-port",
                str(self.ports["api"]),
                "--codec-port",
                str(self.ports["codec"]),
                *extra,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.output.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, within: float = 120) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            text = self.output.read_text()
            if "Carepath is running" in text:
                return text
            assert self.proc is not None and self.proc.poll() is None, text
            time.sleep(0.3)
        raise AssertionError(self.output.read_text())

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)

    def carepath(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = self.env | {"CAREPATH_API_URL": f"http://127.0.0.1:{self.ports['api']}"}
        if token:
            env["CAREPATH_API_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    stack = Dev(tmp_path / "data")
    yield stack
    if stack.proc is not None and stack.proc.poll() is None:
        stack.proc.kill()
    # A supervisor killed hard leaves its children (own session): stop what uses the data dir.
    for proc in psutil.process_iter(["cmdline"]):
        if str(stack.data_dir) in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def test_dev_starts_everything_stops_on_ctrl_c_and_keeps_journeys(dev: Dev) -> None:
    dev.start("--demo")
    banner = dev.wait_ready()
    for port in dev.ports.values():
        assert f":{port}" in banner
    assert f"Web app    {dev.api}/app" in banner
    assert httpx.get(f"{dev.api}/app/sign-in", timeout=10).status_code == 200
    assert httpx.get(f"{dev.api}/healthz", timeout=10).json() == {
        "temporal": "ok",
        "database": "ok",
    }
    assert httpx.get(f"http://127.0.0.1:{dev.ports['ui']}/", timeout=10).status_code == 200
    # The UI's codec endpoint answers for the UI's origin (dev needs no credentials).
    ui_origin = f"http://127.0.0.1:{dev.ports['ui']}"
    codec = httpx.post(
        f"http://127.0.0.1:{dev.ports['codec']}/decode",
        json={"payloads": []},
        headers={"Origin": ui_origin},
        timeout=10,
    )
    assert codec.status_code == 200 and codec.headers["access-control-allow-origin"] == ui_origin
    # What the UI's journey page does: history from the UI server (ciphertext), then /decode.
    settings = httpx.get(f"{ui_origin}/api/v1/settings", timeout=10).json()
    assert settings["Codec"]["Endpoint"] == f"http://127.0.0.1:{dev.ports['codec']}"
    history = httpx.get(
        f"{ui_origin}/api/v1/namespaces/default/workflows/journey-demo-paused/history",
        timeout=10,
    ).json()
    started = history["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
    payloads = started["input"]["payloads"]
    assert base64.b64decode(payloads[0]["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"start_journey" not in base64.b64decode(payloads[0]["data"])
    decoded = httpx.post(
        f"{settings['Codec']['Endpoint']}/decode",
        json={"payloads": payloads},
        headers={"Origin": ui_origin},
        timeout=10,
    ).json()["payloads"]
    assert base64.b64decode(decoded[0]["metadata"]["encoding"]) == b"json/plain"
    start = json.loads(base64.b64decode(decoded[0]["data"]))["start"]
    assert start["type"] == "start_journey" and start["client_id"] == "demo-paused"
    added = dev.carepath("users", "add", "Dr Ops", "--role", "ops", "--json")
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    shown = dev.carepath("journey", "show", "demo-paused", "--json", token=token)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "paused"
    assert dev.stop() == 0
    for port in dev.ports.values():  # everything let go of its port
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    dev.start()
    dev.wait_ready()
    again = dev.carepath("journey", "show", "demo-paused", "--json", token=token)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "paused"
    assert dev.stop() == 0


def test_a_journey_through_the_running_stack_with_each_roles_token(dev: Dev) -> None:
    dev.start()
    dev.wait_ready()
    tokens: dict[str, tuple[str, str]] = {}
    for role in ("therapist", "prescriber", "ops"):
        added = dev.carepath("users", "add", f"Test {role}", "--role", role, "--json")
        assert added.returncode == 0, added.stderr
        user = json.loads(added.stdout)
        tokens[role] = (user["clinician_id"], user["token"])
    (th_id, th), (rx_id, rx), (_, ops) = tokens["therapist"], tokens["prescriber"], tokens["ops"]

    def post(token: str, path: str, body: dict[str, object]) -> httpx.Response:
        return httpx.post(
            f"{dev.api}{path}", json=body, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )

    started = post(
        ops, "/journeys", {"client_id": "cl-e2e", "therapist_id": th_id, "prescriber_id": rx_id}
    )
    assert started.status_code == 201, started.text
    steps: list[tuple[str, dict[str, object]]] = [
        ("record_screening", {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 0]}),
        ("record_screening", {"instrument": "gad7", "answers": [1, 1, 1, 1, 1, 1, 1]}),
        ("record_consent", {"consent_version": "v3", "signed_at": "2026-01-01T09:00:00Z"}),
        ("complete_consultation", {"treatment_goals": ["less anxiety"]}),
    ]
    for n, (type_, fields) in enumerate(steps):
        decided = dev.carepath(
            "decide",
            "cl-e2e",
            type_,
            "--decision-id",
            f"e2e-{n}",
            *[
                a
                for k, v in fields.items()
                for a in (
                    f"--{k.replace('_', '-')}",
                    json.dumps(v) if not isinstance(v, str) else v,
                )
            ],
            token=th,
        )
        assert decided.returncode == 0, decided.stderr
    # The pathway forbids it now (no referral yet), and roles are enforced.
    early = post(
        rx,
        "/journeys/cl-e2e/decisions",
        {
            "type": "approve_medication",
            "decision_id": "e2e-rx",
            "expires_at": "2027-01-01T00:00:00Z",
        },
    )
    assert early.status_code == 409, early.text
    by_ops = post(
        ops, "/journeys/cl-e2e/decisions", {"type": "refer_to_prescriber", "decision_id": "e2e-ops"}
    )
    assert by_ops.status_code == 403
    referred = post(
        th,
        "/journeys/cl-e2e/decisions",
        {"type": "refer_to_prescriber", "decision_id": "e2e-refer"},
    )
    assert referred.status_code == 200 and referred.json()["stage"] == "referral"
    timeline = httpx.get(
        f"{dev.api}/journeys/cl-e2e/events", timeout=30, headers={"Authorization": f"Bearer {th}"}
    ).json()
    types = [e["type"] for e in timeline["events"]]
    assert types[0] == "journey_started" and types[-1] == "referral_sent"
    audit = dev.carepath("audit", "--client", "cl-e2e", "--json", token=ops)
    assert audit.returncode == 0, audit.stderr
    entries = json.loads(audit.stdout)
    entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
    outcomes = {(e.get("decision_type"), e.get("outcome")) for e in entries}
    assert ("approve_medication", "rejected") in outcomes
    assert ("refer_to_prescriber", "accepted") in outcomes
    assert dev.stop() == 0


def test_a_port_already_taken_is_a_clear_error(dev: Dev) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", dev.ports["api"]))
        taken.listen()
        dev.start()
        assert dev.proc is not None
        code = dev.proc.wait(timeout=60)
    out = dev.output.read_text()
    assert code == 1
    assert f"port {dev.ports['api']}" in out and "--api-port" in out


def test_when_temporal_dies_dev_says_so_and_stops_the_rest(dev: Dev) -> None:
    dev.start()
    dev.wait_ready()
    assert dev.proc is not None
    supervisor = psutil.Process(dev.proc.pid)
    (temporal,) = [
        p for p in supervisor.children(recursive=True) if "start-dev" in " ".join(p.cmdline())
    ]
    temporal.kill()
    code = dev.proc.wait(timeout=90)
    out = dev.output.read_text()
    assert code == 1
    assert "the Temporal dev server exited" in out and "everything else was stopped" in out
    for port in dev.ports.values():  # nothing listens any more (killed sockets may linger)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
    # The embedded PostgreSQL stopped too: nothing runs from the data dir any more.
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(dev.data_dir) in " ".join(p.info["cmdline"] or [])
    ]
