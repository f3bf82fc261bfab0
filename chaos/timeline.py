"""The run's clock and its log: every line says when it happened (wall time and seconds in)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    verbose: bool = True
    lines: list[dict[str, Any]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def log(self, message: str, **fields: Any) -> dict[str, Any]:
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "t": round(self.elapsed(), 2),
            "message": message,
            **fields,
        }
        self.lines.append(entry)
        if self.verbose:
            print(f"[{entry['at'][11:23]} +{entry['t']:7.2f}s] {message}", flush=True)
        return entry

    def warn(self, message: str) -> None:
        self.log(message)
        if not self.verbose:
            print(message, file=sys.stderr, flush=True)
