"""`carepath dev` as a person runs it: one command, addresses printed, Ctrl-C stops it all,
and a restart keeps every journey."""

from __future__ import annotations

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

from tests.net import free_port

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
                "workers.cli",
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
            [sys.executable, "-m", "workers.cli", *args],
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
