"""Saved workflow histories, replayed with the current code (the replay tests share this)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workers.temporal import DATA_CONVERTER

RECORDING = os.environ.get("CAREPATH_RECORD_HISTORIES") == "1"


def saved(histories: Path) -> list[Path]:
    return sorted(histories.glob("*.json"))


async def replay(path: Path, workflows: Sequence[type]) -> None:
    """Raises if the history at ``path`` does not replay with ``workflows`` as they are now."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(workflows=workflows, data_converter=DATA_CONVERTER).replay_workflow(history)
