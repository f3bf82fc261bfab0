"""Projection catch-up and rebuild, in events per second, each beside a bare scan of the log.

One run, one PostgreSQL server (its defaults: fsync on), one process.

1. Catch-up. ``--journeys`` clients' journeys (about 43 events each), decided by the domain
   (``tests.domain.journey``), ``--active`` of them in flight at a time so that consecutive
   events mostly belong to different journeys, as in a clinic's log; each decision appended as
   the workflow does it (``activities.store.to_new_event``, ``EventStore.append`` with the
   expected version), on ``--connections`` connections. Then, alternating, ``--rounds`` times,
   each path from an emptied read model (tables and checkpoints):
   - baseline: ``eventstore.read_log`` from the start of the log to its end, in batches of 1000,
     as ``RecordedEvent``s: reading and decoding, nothing applied;
   - each projection alone (caseload, audit, outcomes): ``ProjectionRunner.catch_up()``;
   - all three in one runner (one read per batch), as ``carepath projections run`` runs them.
   Every path must build the read models one runner per projection builds in batches of 500
   (checked), or the run fails.
2. Rebuild. ``--rebuild-events`` events COPYed straight into ``events`` of a fresh database
   (rows as ``EventStore.append`` writes them, from ``--template-journeys`` journeys replicated
   with other ids), then ``ProjectionRunner(pool, all_projections()).rebuild()``, as
   ``carepath projections rebuild`` does; baseline: a bare ``read_log`` scan of the same events.

Diagnostic rows (``--diagnose``, on by default): the runner's read alone; three runners at once
(one runner per projection); one runner in batches of 1,000; each projection rebuilt alone (checked
to give the same read models as the rebuild of all three).

    .venv/bin/python -m bench.projections_catch_up [--journeys 700] [--rebuild-events 200000]
        [--rounds 3] [--active 500] [--connections 16] [--no-diagnose] [--profile]

``--profile`` adds a cProfile of one catch-up of each projection (top functions by own time).
Uses CAREPATH_DATABASE_URL if set (``python -m bench`` sets it), else a throwaway embedded
PostgreSQL. Writes bench/results/projections_catch_up.json (``--output``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from bench.eventstore_append import (
    RESULTS,
    Append,
    CpuClock,
    copy_log,
    interleave,
    scratch_database,
    template_log,
    to_appends,
)
from database import open_pool
from database.pgtypes import Pool
from devstack.machine import describe_machine, print_machine
from devstack.servers import throwaway_postgres
from domain import JourneyState
from eventstore import Checkpoint, EventStore, read_log
from projections import Projection, ProjectionRunner, all_projections
from projections import log as projection_log
from projections.runner import BATCH_SIZE

TARGET_CATCH_UP = 20_000.0  # events/s, all three projections
TARGET_REBUILD = (1_000_000, 60.0)  # events, seconds
READ_BATCH = 1000  # the baseline scan's batch
BASELINE = "read_log scan (baseline)"
HEADLINE = "all three projections, one runner"


async def reset(pool: Pool, projections: Sequence[Projection]) -> None:
    """Empty the projections' tables and checkpoints (what ``rebuild`` does before catching up)."""
    async with pool.acquire() as conn, conn.transaction():
        for projection in projections:
            for table in projection.tables:
                await conn.execute(f"TRUNCATE {table}")
            await conn.execute(
                "DELETE FROM projection_checkpoints WHERE name = $1", projection.name
            )


async def scan(pool: Pool) -> int:
    """Read the whole log as ``RecordedEvent``s (``eventstore.read_log``); applies nothing."""
    after, total = Checkpoint.start(), 0
    while events := await read_log(pool, after, READ_BATCH):
        total += len(events)
        after = events[-1].checkpoint
    return total


async def timed(
    name: str, run: Callable[[], Awaitable[int]], cpu: CpuClock, events: int
) -> dict[str, Any]:
    start = cpu.read()
    began = time.perf_counter()
    applied = await run()
    elapsed = time.perf_counter() - began
    client, server = cpu.since(start)
    if applied != events:
        raise AssertionError(f"{name}: {applied} events, expected {events}")
    return {
        "name": name,
        "events": events,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "client_cpu_s": client,
        "server_cpu_s": server,
    }


async def append_all(pool: Pool, appends: list[Append], connections: int) -> dict[str, Any]:
    """Append every decision through ``EventStore.append``, ``connections`` at a time; each
    stream's appends in order, by one appender (streams shared out by a hash of their ids)."""
    store = EventStore(pool)
    shares: list[list[Append]] = [[] for _ in range(connections)]
    for append in appends:
        shares[zlib.crc32(append.stream_id.encode()) % connections].append(append)

    async def appender(share: list[Append]) -> None:
        for a in share:
            await store.append(a.stream_id, a.events, a.expected_version)

    began = time.perf_counter()
    await asyncio.gather(*(appender(share) for share in shares))
    elapsed = time.perf_counter() - began
    events = sum(len(a.events) for a in appends)
    return {
        "appends": len(appends),
        "events": events,
        "seconds": elapsed,
        "appends_per_s": len(appends) / elapsed,
        "events_per_s": events / elapsed,
    }


def judge_catch_up(row: dict[str, Any]) -> None:
    if row["name"] == HEADLINE:
        row["target"] = f">= {TARGET_CATCH_UP:,.0f} events/s"
        row["met"] = bool(row["events_per_s"] >= TARGET_CATCH_UP)


async def read_models(pool: Pool, projections: Sequence[Projection]) -> dict[str, object]:
    """Each projection's tables, comparable with ``==``: the caseload's rows with their state
    decoded (its frozensets serialize in no fixed order), other tables as an md5 of every row."""
    out: dict[str, object] = {}
    for projection in projections:
        tables: list[object] = []
        for table in projection.tables:
            if table == "caseload":
                rows = await pool.fetch("SELECT * FROM caseload")
                tables.append(
                    {
                        r["journey_id"]: (
                            {k: v for k, v in r.items() if k != "state"},
                            JourneyState.model_validate(r["state"]),
                        )
                        for r in rows
                    }
                )
                continue
            tables.append(
                await pool.fetchval(
                    "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                    f"FROM {table} t"
                )
            )
        out[projection.name] = tables
    return out


async def read_log_scan(pool: Pool, batch: int = BATCH_SIZE) -> int:
    """Read the whole log as ``ProjectionRunner`` does (``projections.log.read_log``, one
    transaction per batch, ``data`` decoded); applies nothing."""
    after, total = Checkpoint.start(), 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            events = await projection_log.read_log(conn, after, batch)
        if not events:
            return total
        for event in events:
            event.data  # noqa: B018 - decoded, as the caseload does
        total += len(events)
        after = events[-1].checkpoint


async def measure_catch_up(url: str, args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    appends = list(to_appends(interleave(args.journeys, args.active, seed=1)))
    made = time.perf_counter() - began
    pool = await open_pool(url, min_size=1, max_size=max(10, args.connections))
    try:
        written = await append_all(pool, appends, args.connections)
        written["domain_driver_seconds"] = made
        events = written["events"]
        await pool.execute("VACUUM (ANALYZE) events")
        async with pool.acquire() as conn:
            cpu = await CpuClock.of(conn)
        projections = all_projections()

        def runner(chosen: Sequence[Projection], **kw: int) -> Callable[[], Awaitable[int]]:
            return ProjectionRunner(pool, chosen, **kw).catch_up

        async def concurrently() -> int:
            runners = [ProjectionRunner(pool, p) for p in all_projections()]
            counts = await asyncio.gather(*(r.catch_up() for r in runners))
            assert len(set(counts)) == 1, counts
            return counts[0]

        everything = [p.name for p in projections]
        paths: list[tuple[str, Callable[[], Awaitable[int]], list[str]]] = [
            (BASELINE, lambda: scan(pool), [])
        ]

        def alone(name: str) -> Callable[[], Awaitable[int]]:
            return lambda: runner([p for p in all_projections() if p.name == name])()

        paths += [(f"{name} projection alone", alone(name), [name]) for name in everything]
        paths.append((HEADLINE, lambda: runner(all_projections())(), everything))
        if args.diagnose:
            paths += [
                (
                    "  diagnostic: the runner's read alone (read_log)",
                    lambda: read_log_scan(pool),
                    [],
                ),
                (
                    "  diagnostic: three runners, one per projection, at once",
                    concurrently,
                    everything,
                ),
                (
                    "  diagnostic: one runner, batches of 1,000",
                    lambda: runner(all_projections(), batch_size=1000)(),
                    everything,
                ),
            ]

        # Warm-up (caches, prepared statements, the domain's validators), and the read models
        # every path must reproduce: one runner per projection, small batches.
        await scan(pool)
        await reset(pool, projections)
        for projection in all_projections():
            await ProjectionRunner(pool, projection, batch_size=500).catch_up()
        expected = await read_models(pool, projections)

        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in paths}
        for _ in range(args.rounds):
            for name, run, names in paths:
                await reset(pool, projections)
                runs[name].append(await timed(name, run, cpu, events))
                got = await read_models(pool, projections)
                wrong = [n for n in names if got[n] != expected[n]]
                if wrong:
                    raise AssertionError(f"{name}: {', '.join(wrong)} differ from the reference")
        profiles = await profile(pool, projections) if args.profile else {}
    finally:
        await pool.close()
    base = statistics.median(r["events_per_s"] for r in runs[BASELINE])
    rows = []
    for name, measured in runs.items():
        row: dict[str, Any] = {
            "name": name,
            "events": events,
            "rounds": measured,
            "seconds": statistics.median(m["seconds"] for m in measured),
            "events_per_s": statistics.median(m["events_per_s"] for m in measured),
            "client_cpu_us_per_event": 1e6
            * statistics.median(m["client_cpu_s"] for m in measured)
            / events,
            "server_cpu_us_per_event": None
            if measured[0]["server_cpu_s"] is None
            else 1e6 * statistics.median(m["server_cpu_s"] for m in measured) / events,
            "target": None,
            "met": None,
        }
        row["vs_scan"] = row["events_per_s"] / base
        judge_catch_up(row)
        rows.append(row)
    return {"log": written, "rows": rows, "profiles": profiles}


async def profile(pool: Pool, projections: Sequence[Projection]) -> dict[str, str]:
    """cProfile of one catch-up of each projection: the top functions by their own time."""
    out = {}
    for projection in projections:
        await reset(pool, [projection])
        profiler = cProfile.Profile()
        profiler.enable()
        await ProjectionRunner(pool, projection).catch_up()
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        out[projection.name] = text.getvalue()
    return out


async def measure_rebuild(server_uri: str, args: argparse.Namespace) -> dict[str, Any]:
    """COPY ``--rebuild-events`` events into a fresh database, then scan, then rebuild each."""
    n = args.rebuild_events
    began = time.perf_counter()
    template = template_log(args.template_journeys, args.active, seed=2)
    made = time.perf_counter() - began
    async with scratch_database(server_uri, "carepath_rebuild") as url:
        conns = [await asyncpg.connect(url) for _ in range(args.copy_connections)]
        try:
            began = time.perf_counter()
            share = -(-n // len(conns))
            await asyncio.gather(
                *(
                    copy_log(conn, "events", min(share, n - i * share), template, f"r{i}x")
                    for i, conn in enumerate(conns)
                )
            )
            copied = time.perf_counter() - began
            began = time.perf_counter()
            await conns[0].execute("VACUUM (ANALYZE) events")
            vacuumed = time.perf_counter() - began
            size = await conns[0].fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('events'))"
            )
            cpu = await CpuClock.of(conns[0])
        finally:
            for conn in conns:
                await conn.close()
        pool = await open_pool(url, min_size=1, max_size=10)  # as create_pool's defaults
        try:
            scanned = await timed(BASELINE, lambda: scan(pool), cpu, n)
            name = "rebuild all three (carepath projections rebuild)"
            whole = await timed(name, ProjectionRunner(pool, all_projections()).rebuild, cpu, n)
            expected = await read_models(pool, all_projections())
            diagnostics = []
            if args.diagnose:
                for projection in all_projections():
                    name = f"  diagnostic: rebuild {projection.name} alone"
                    runner = ProjectionRunner(pool, projection)
                    diagnostics.append(await timed(name, runner.rebuild, cpu, n))
                got = await read_models(pool, all_projections())
                if got != expected:
                    raise AssertionError("rebuilding one at a time gave other read models")
        finally:
            await pool.close()
    goal_events, goal_seconds = TARGET_REBUILD
    # The target is for 1M events; smaller runs are judged by the rate it implies.
    whole["target"] = f"{goal_events:,} events < {goal_seconds:.0f} s"
    whole["projected_seconds_for_target"] = goal_events / whole["events_per_s"]
    whole["met"] = bool(whole["projected_seconds_for_target"] < goal_seconds)
    rows = [scanned, whole, *diagnostics]
    for row in rows:
        row["vs_scan"] = row["events_per_s"] / scanned["events_per_s"]
    return {
        "events": n,
        "template_journeys": args.template_journeys,
        "template_events": len(template),
        "template_seconds": made,
        "copy_seconds": copied,
        "copy_events_per_s": n / copied,
        "vacuum_analyze_seconds": vacuumed,
        "events_table_size": size,
        "rows": rows,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"args": vars(args)}
    with throwaway_postgres("carepath-bench-") as server_uri:
        async with scratch_database(server_uri) as url:
            conn = await asyncpg.connect(url)
            try:
                result["machine"] = await describe_machine(conn)
            finally:
                await conn.close()
            if args.journeys:
                result["catch_up"] = await measure_catch_up(url, args)
        if args.rebuild_events:
            result["rebuild"] = await measure_rebuild(server_uri, args)
    result["machine"]["load_average_after"] = os.getloadavg()
    return result


def verdict(row: dict[str, Any]) -> str:
    if row.get("target") is None:
        return ""
    return f"{row['target']}: {'pass' if row['met'] else 'MISS'}"


def report(result: dict[str, Any]) -> None:
    args = result["args"]
    print()
    print_machine(result["machine"])
    if "catch_up" in result:
        catch_up = result["catch_up"]
        log = catch_up["log"]
        print(
            f"\nCatch-up: {log['events']:,} events of {args['journeys']:,} journeys "
            f"({args['active']} in flight), appended as {log['appends']:,} decisions on "
            f"{args['connections']} connections at {log['appends_per_s']:,.0f} appends/s "
            f"({log['events_per_s']:,.0f} events/s); median of {args['rounds']} rounds; "
            "cpu us: CPU microseconds per event, this process + the server\n"
        )
        header = f"{'path':<42} {'events/s':>9} {'seconds':>8} {'cpu us':>9} {'vs scan':>8}  target"
        print(header)
        print("-" * len(header))
        for r in catch_up["rows"]:
            server = r["server_cpu_us_per_event"]
            cpu = f"{r['client_cpu_us_per_event']:.0f}+" + (
                "?" if server is None else f"{server:.0f}"
            )
            print(
                f"{r['name']:<42} {r['events_per_s']:>9,.0f} {r['seconds']:>8.2f} {cpu:>9} "
                f"{r['vs_scan']:>8.2f}  {verdict(r)}"
            )
        for name, text in catch_up["profiles"].items():
            print(f"\n--- profile: {name} catch-up\n{text}")
    if "rebuild" in result:
        rebuild = result["rebuild"]
        print(
            f"\nRebuild: {rebuild['events']:,} events ({rebuild['events_table_size']} with "
            f"indexes), COPYed at {rebuild['copy_events_per_s']:,.0f} events/s from "
            f"{rebuild['template_journeys']:,} journeys ({rebuild['template_events']:,} events) "
            "replicated with other ids\n"
        )
        header = f"{'path':<54} {'events/s':>9} {'seconds':>8} {'vs scan':>8}  target"
        print(header)
        print("-" * len(header))
        for r in rebuild["rows"]:
            note = verdict(r)
            if "projected_seconds_for_target" in r and r["events"] != TARGET_REBUILD[0]:
                note += f" (1M events would take ~{r['projected_seconds_for_target']:.0f} s)"
            print(
                f"{r['name']:<54} {r['events_per_s']:>9,.0f} {r['seconds']:>8.1f} "
                f"{r['vs_scan']:>8.2f}  {note}"
            )
    out = Path(args["output"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwritten: {out}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.projections_catch_up")
    parser.add_argument("--journeys", type=int, default=700, help="about 43 events each")
    parser.add_argument("--active", type=int, default=500, help="journeys in flight at a time")
    parser.add_argument("--connections", type=int, default=16, help="appending the journeys")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild-events", type=int, default=200_000, help="0: skip")
    parser.add_argument(
        "--template-journeys", type=int, default=1000, help="journeys replicated for the rebuild"
    )
    parser.add_argument("--copy-connections", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile one catch-up of each")
    parser.add_argument(
        "--diagnose",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the runner's read alone, one runner per projection, batches of 1,000 "
        "and each projection rebuilt alone (checked to build the same read models)",
    )
    parser.add_argument("--output", default=str(RESULTS / "projections_catch_up.json"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    report(asyncio.run(main(parse_args())))
