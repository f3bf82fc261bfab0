"""The `carepath` entry point exits without interpreter teardown (temporalio/sdk-python#300)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]

# A non-daemon thread that never ends: a normal interpreter exit would wait for it forever.
SCRIPT = """
import atexit, sys, threading, time
threading.Thread(target=time.sleep, args=(3600,)).start()
atexit.register(lambda: print("exit handler ran", flush=True))
sys.argv = ["carepath", *sys.argv[1:]]
from cli.main import entry
entry()
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_console_script_is_the_entry_that_skips_teardown() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["carepath"] == "cli.main:entry"


def test_a_finished_verb_exits_with_its_code_and_runs_exit_handlers() -> None:
    done = run("--help")
    assert done.returncode == 0
    assert "usage: carepath" in done.stdout
    assert done.stdout.rstrip().endswith("exit handler ran")


def test_a_usage_error_keeps_its_code() -> None:
    done = run("no-such-verb")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
    assert "exit handler ran" in done.stdout
