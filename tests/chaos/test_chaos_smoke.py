"""The chaos harness itself works: a short run with one worker kill passes every check, and
leaves no process or temp dir behind. (`make chaos` runs the long one.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).parents[2]


def _pids(log: list[dict[str, object]]) -> set[int]:
    found = set()
    for line in log:
        found |= {int(pid) for pid in re.findall(r"\bpid (\d+)", str(line["message"]))}
    return found


@pytest.mark.slow
def test_a_short_chaos_run_with_a_worker_kill_passes_every_check(tmp_path: Path) -> None:
    output = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    command = [
        sys.executable,
        "-m",
        "chaos",
        "--minutes",
        "0.3",
        "--journeys",
        "4",
        "--callers",
        "4",
        "--workers",
        "1",
        "--worker-kills",
        "1",
        "--projector-kills",
        "0",
        "--pg-terminations",
        "0",
        "--pg-restarts",
        "0",
        "--temporal-restarts",
        "0",
        "--seed",
        "7",
        "--settle-timeout",
        "60",
        "--output",
        str(output),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["passed"] is True
    checks = {c["name"]: c for c in result["checks"]}
    assert all(c["failed"] == 0 for c in checks.values()), checks
    assert checks["state_is_fold"]["passed"] >= 4
    assert checks["accepted_once"]["passed"] > 20
    assert checks["caseload_is_fold"]["passed"] == checks["state_is_fold"]["passed"]
    assert [f["kind"] for f in result["faults"]] == ["worker_kill"]
    assert result["observations"]["worker_starts"] >= 2
    assert result["decisions"]["unanswered"] == 0
    # Nothing left behind: the temp dir is gone, and so is every process the run started.
    roots = {
        m.group(1)
        for line in result["log"]
        if (m := re.search(r"data in (\S+)/pgdata", str(line["message"])))
    }
    assert roots and not any(Path(root).exists() for root in roots)
    assert not [pid for pid in _pids(result["log"]) if _ours(pid, roots)]


def _ours(pid: int, roots: set[str]) -> bool:
    """Still running, and started by that run (its temp dir in the command or environment)."""
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline())
        marker = process.environ().get("CAREPATH_CHAOS_RUN")
    except psutil.Error:
        return False
    return any(root in command or marker == root for root in roots)
