"""Events per second through ``EventStore.append``, beside raw COPY of the same rows.

Same server, same process, same batches, same concurrency:
- baseline: asyncpg ``copy_records_to_table`` of each batch into a scratch copy of the
  events table (same columns, indexes and defaults; no trigger, no checks made by us);
- the store: ``EventStore.append`` (validation, concurrency check, idempotency check,
  one INSERT ... unnest, NOTIFY), one transaction per batch.
Each worker appends to its own streams, so no append conflicts.

    .venv/bin/python -m bench.eventstore_append [--events 4000] [--concurrency 8] [--streams 64]

Uses CAREPATH_DATABASE_URL if set, else a throwaway embedded PostgreSQL with its default
(durable) settings. Writes bench/results/eventstore_append.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from eventstore import EventStore, NewEvent, migrate, open_pool
from eventstore.codec import encode_json
from eventstore.pgtypes import Pool
from eventstore.server import embedded_server

RESULTS = Path(__file__).parent / "results"
BATCH_SIZES = (1, 20)
COPY_COLUMNS = [
    "stream_id",
    "stream_version",
    "event_id",
    "event_type",
    "schema_version",
    "data",
    "metadata",
]

Batch = tuple[str, int, list[NewEvent]]  # stream id, expected version, events


def make_event(n: int) -> NewEvent:
    """About 300 bytes of JSON, like a typical journey event."""
    return NewEvent(
        event_id=uuid.uuid4(),
        type="DoseAdministered",
        data={
            "journey_id": f"j-{n % 997}",
            "session": n,
            "dose_mg_per_kg": 0.5,
            "route": "intramuscular",
            "observations": {"bp_systolic": 128, "bp_diastolic": 82, "spo2": 98},
            "notes_ref": f"note-{uuid.uuid4().hex}",
        },
        metadata={
            "actor_id": "clinician-17",
            "actor_role": "prescriber",
            "correlation_id": f"wf-{n % 997}",
            "causation_id": f"decision-{n}",
            "workflow_id": f"journey-{n % 997}",
            "run_id": "run-1",
        },
    )


def plan(total: int, batch_size: int, workers: int, streams: int, tag: str) -> list[list[Batch]]:
    """Each worker's batches, in order: its own streams, round-robin, versions tracked."""
    per_worker = max(1, streams // workers)
    plans: list[list[Batch]] = []
    n = 0
    for worker in range(workers):
        own = [f"bench:{tag}:{worker}:{s}" for s in range(per_worker)]
        versions = dict.fromkeys(own, 0)
        batches: list[Batch] = []
        for i in range(total // batch_size // workers):
            stream = own[i % per_worker]
            events = [make_event(n + k) for k in range(batch_size)]
            n += batch_size
            batches.append((stream, versions[stream], events))
            versions[stream] += batch_size
        plans.append(batches)
    return plans


async def run(
    plans: list[list[Batch]], append: Callable[[int, Batch], Awaitable[None]]
) -> dict[str, Any]:
    latencies: list[float] = []

    async def worker(index: int, batches: list[Batch]) -> None:
        for batch in batches:
            began = time.perf_counter()
            await append(index, batch)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker(i, batches) for i, batches in enumerate(plans)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    events = sum(len(b[2]) for batches in plans for b in batches)
    return {
        "events": events,
        "appends": len(latencies),
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


async def measure(
    pool: Pool, raw: list[asyncpg.Connection[Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    store = EventStore(pool, max_event_bytes=64 * 1024)

    async def via_store(_: int, batch: Batch) -> None:
        stream, expected, events = batch
        await store.append(stream, events, expected)

    async def via_copy(worker: int, batch: Batch) -> None:
        stream, expected, events = batch
        records = [
            (
                stream,
                expected + k + 1,
                e.event_id,
                e.type,
                e.schema_version,
                encode_json(e.data),
                encode_json(e.metadata),
            )
            for k, e in enumerate(events)
        ]
        await raw[worker].copy_records_to_table(
            "bench_events", records=records, columns=COPY_COLUMNS
        )

    # Warm up both paths (connections, prepared statements, caches).
    await run(plan(200, 1, args.concurrency, args.streams, "warm-s"), via_store)
    await run(plan(200, 1, args.concurrency, args.streams, "warm-c"), via_copy)

    rows: list[dict[str, Any]] = []
    for batch_size in BATCH_SIZES:
        tag = f"b{batch_size}"
        base = await run(
            plan(args.events, batch_size, args.concurrency, args.streams, tag), via_copy
        )
        ours = await run(
            plan(args.events, batch_size, args.concurrency, args.streams, tag), via_store
        )
        base |= {"name": f"COPY baseline, batch {batch_size}", "batch": batch_size}
        ours |= {"name": f"EventStore.append, batch {batch_size}", "batch": batch_size}
        base["ratio_to_baseline"] = 1.0
        ours["ratio_to_baseline"] = ours["events_per_s"] / base["events_per_s"]
        rows += [base, ours]
    return rows


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work: Path | None = None
    server: Any = None
    server_uri = os.environ.get("CAREPATH_DATABASE_URL")
    if not server_uri:
        work = Path(tempfile.mkdtemp(prefix="carepath-bench-"))
        server = embedded_server(work / "pgdata")
        server_uri = server.get_uri()
    database = f"carepath_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_uri)
    await admin.execute(f"CREATE DATABASE {database}")
    url = urlunsplit(urlsplit(server_uri)._replace(path="/" + database))
    try:
        pool = await open_pool(url, min_size=args.concurrency, max_size=args.concurrency)
        raw = [await asyncpg.connect(url) for _ in range(args.concurrency)]
        try:
            await migrate(pool)
            await pool.execute("CREATE TABLE bench_events (LIKE events INCLUDING ALL)")
            settings = {
                name: await pool.fetchval(f"SHOW {name}")
                for name in ("server_version", "fsync", "synchronous_commit")
            }
            rows = await measure(pool, raw, args)
        finally:
            for conn in raw:
                await conn.close()
            await pool.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await admin.close()
        if server is not None:
            server.cleanup()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return {"args": vars(args), "server": settings, "rows": rows}


def report(result: dict[str, Any]) -> None:
    args, server = result["args"], result["server"]
    print(
        f"\n{args['events']} events per scenario, {args['concurrency']} concurrent appenders, "
        f"{args['streams']} streams; PostgreSQL {server['server_version']} "
        f"(fsync={server['fsync']}, synchronous_commit={server['synchronous_commit']})\n"
    )
    header = f"{'scenario':<30} {'events/s':>10} {'appends/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{header} {'vs COPY':>8}")
    for r in result["rows"]:
        print(
            f"{r['name']:<30} {r['events_per_s']:>10.0f} {r['appends'] / r['seconds']:>10.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['ratio_to_baseline']:>8.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "eventstore_append.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {out}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.eventstore_append")
    parser.add_argument("--events", type=int, default=4000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--streams", type=int, default=64)
    return parser.parse_args(argv)


if __name__ == "__main__":
    report(asyncio.run(main(parse_args())))
