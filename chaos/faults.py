"""Faults on a seeded schedule: kill the worker or the projector, cut PostgreSQL's connections,
crash PostgreSQL, kill Temporal's dev server; each part comes back after a while. Every fault
is logged with its time."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from chaos.stack import Stack
from chaos.timeline import Timeline

WORKER_KILL = "worker_kill"
PROJECTOR_KILL = "projector_kill"
PG_TERMINATE = "pg_terminate_backends"
PG_RESTART = "pg_crash_restart"
TEMPORAL_RESTART = "temporal_kill_restart"
KINDS = (WORKER_KILL, PROJECTOR_KILL, PG_TERMINATE, PG_RESTART, TEMPORAL_RESTART)

_DOWN_FOR = {  # seconds a part stays down, drawn uniformly
    WORKER_KILL: (0.5, 4.0),
    PROJECTOR_KILL: (0.5, 4.0),
    PG_TERMINATE: (0.0, 0.0),
    PG_RESTART: (2.0, 6.0),
    TEMPORAL_RESTART: (2.0, 6.0),
}


@dataclass(frozen=True)
class Fault:
    at: float  # seconds into the run
    kind: str
    down_for: float


def plan_faults(rng: random.Random, duration: float, counts: dict[str, int]) -> list[Fault]:
    """Where each fault falls: uniformly in 8–80 % of the run, so that the run's end is calm."""
    faults = []
    for kind in KINDS:
        for _ in range(counts.get(kind, 0)):
            low, high = _DOWN_FOR[kind]
            at = rng.uniform(0.08 * duration, 0.8 * duration)
            faults.append(Fault(round(at, 2), kind, round(rng.uniform(low, high), 2)))
    return sorted(faults, key=lambda f: f.at)


class FaultInjector:
    def __init__(
        self, stack: Stack, timeline: Timeline, faults: list[Fault], rng: random.Random
    ) -> None:
        self.stack = stack
        self.rng = rng  # which worker a kill hits
        self.timeline = timeline
        self.faults = faults
        self.records: list[dict[str, Any]] = []

    async def run(self, started: float) -> None:
        """Inject each fault at its time (seconds after `started`, a monotonic time)."""
        for fault in self.faults:
            delay = started + fault.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.inject(fault)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._record(fault, f"could not be injected: {type(error).__name__}: {error}")

    def _record(self, fault: Fault, detail: str, **extra: Any) -> None:
        entry = self.timeline.log(f"FAULT {fault.kind}: {detail}", kind=fault.kind, **extra)
        self.records.append({"planned_t": fault.at, **entry})

    async def inject(self, fault: Fault) -> None:
        stack = self.stack
        if fault.kind in (WORKER_KILL, PROJECTOR_KILL):
            if fault.kind == WORKER_KILL:
                alive = [w for w in stack.workers if w.alive()] or stack.workers
                service = self.rng.choice(alive)
            else:
                assert stack.projector is not None
                service = stack.projector
            service.held_down = True
            try:
                if service.alive():
                    pid = service.kill()
                    self._record(fault, f"SIGKILL {service.name} pid {pid}", down_s=fault.down_for)
                else:
                    self._record(fault, f"{service.name} was already down", down_s=fault.down_for)
                await asyncio.sleep(fault.down_for)
                service.start()
            finally:
                service.held_down = False
            assert service.proc is not None
            self.timeline.log(f"{service.name} restarted (pid {service.proc.pid})")
        elif fault.kind == PG_TERMINATE:
            if not stack.postgres.running():
                self._record(fault, "skipped: PostgreSQL is down")
                return
            count = await stack.postgres.terminate_backends()
            self._record(fault, f"pg_terminate_backend of {count} app backends", backends=count)
        elif fault.kind == PG_RESTART:
            postmaster = stack.postgres.pid()
            await stack.postgres.crash()
            self._record(
                fault,
                f"PostgreSQL pid {postmaster} stopped in immediate mode (a crash)",
                down_s=fault.down_for,
            )
            await asyncio.sleep(fault.down_for)
            await stack.postgres.start_again()
            self.timeline.log(f"PostgreSQL started again (pid {stack.postgres.pid()})")
        elif fault.kind == TEMPORAL_RESTART:
            proc = stack.temporal.proc
            stack.temporal.kill()
            self._record(
                fault,
                f"SIGKILL Temporal dev server pid {proc.pid if proc else None}",
                down_s=fault.down_for,
            )
            await asyncio.sleep(fault.down_for)
            stack.temporal.start()
            stack.save_processes()
            await stack.temporal.wait_ready()
            assert stack.temporal.proc is not None
            pid = stack.temporal.proc.pid
            self.timeline.log(f"Temporal dev server started again on the same file (pid {pid})")
        else:  # pragma: no cover - plan_faults makes only the kinds above
            raise ValueError(fault.kind)

    async def heal(self) -> None:
        """Bring back anything that is down (the faults have stopped)."""
        stack = self.stack
        if not stack.postgres.running():
            await stack.postgres.start_again()
            self.timeline.log("heal: PostgreSQL started again")
        if not stack.temporal.alive():
            stack.temporal.start()
            stack.save_processes()
            await stack.temporal.wait_ready()
            self.timeline.log("heal: Temporal started again")
        for service in stack.services():
            service.held_down = False
            if not service.alive():
                service.start()
                self.timeline.log(f"heal: {service.name} started again")
