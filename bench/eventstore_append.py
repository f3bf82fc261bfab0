"""Appends per second through ``EventStore.append``, each scenario beside raw COPY of the same rows.

One run, one PostgreSQL server (its defaults: fsync and synchronous_commit on), one process.
Scenarios, each measured against its ceiling at the same concurrency and batch size:
- single-event appends on 1 connection and on 16 connections (bounded concurrency: one
  appender per connection, each with its own streams, so no append conflicts);
- 100-event batches on 1 and on 16 connections.
The ceiling is asyncpg ``copy_records_to_table`` of the same rows into ``bench_events``, a
scratch table made ``LIKE events INCLUDING ALL`` (same columns, defaults, indexes and checks;
no append-only trigger), one COPY (one transaction) per batch, on plain connections. The
store's path is validation, the concurrency and idempotency checks and one INSERT ... unnest
statement per batch (atomic on its own), on a pool of that many connections, with readers
woken by the store's coalescing notifier after commit. Events are
journeys' events as ``activities.store.to_new_event`` makes them (about 530 bytes of JSON
each), from the domain driver. Both tables hold ``--prefill`` events first (COPY, then VACUUM
ANALYZE): a store in use, whose statistics the planner can trust.

Baseline and store alternate, ``--rounds`` times; the table shows medians, and CPU time per
append of this process and of the server's processes. Diagnostic rows (``--diagnose``, on by
default) run the store's own validation and statement with parts changed, to show where the
time goes: the append as it was before the fixes of 2026-11-24 (an explicit transaction,
asyncpg's reset query on release, ``pg_notify`` in the judging statement); the judging
statement instead of the plain insert; one statement per append instead of grouping
concurrent appends; without the notifier. Batches get only the "before" one.

    .venv/bin/python -m bench.eventstore_append [--single-events 3000] [--batch-events 30000]
        [--rounds 3] [--connections 1 16] [--streams 1024] [--prefill 100000] [--no-diagnose]

Uses CAREPATH_DATABASE_URL if set (``python -m bench`` points it at one server for the event
store benchmarks), else a throwaway embedded PostgreSQL. Each run creates, then drops, its own
database. Writes bench/results/eventstore_append.json (``--output``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil  # type: ignore[import-untyped, unused-ignore]  # stubs: types-psutil, if any

from activities.messages import AppendRequest, EventEnvelope
from activities.store import to_new_event
from database import init_connection, migrate, open_pool
from database.codec import encode_json
from database.pgtypes import Connection, Pool
from database.pool import StoreConnection
from devstack.machine import describe_machine, print_machine
from devstack.servers import throwaway_postgres
from domain import Actor, Event, Role, next_due
from eventstore import EventStore, NewEvent
from eventstore.groups import group_args, insert_group
from eventstore.queries import NOTIFY_CHANNEL
from eventstore.store import _APPEND_SQL
from eventstore.types import AppendResult
from tests.domain.journey import OPS, SYSTEM, Journey, Rejected

RESULTS = Path(__file__).parent / "results"
COPY_COLUMNS = [
    "stream_id",
    "stream_version",
    "event_id",
    "event_type",
    "schema_version",
    "data",
    "metadata",
]

# Targets from the issue; reported as pass/miss, never asserted.
TARGET_SINGLE_APPENDS = {1: 2000.0, 16: 6000.0}  # appends/s, by connections
TARGET_BATCH_RATIO = 0.60  # of COPY, at the same batch size and concurrency


# --- The server and scratch databases ------------------------------------------------------


@contextlib.asynccontextmanager
async def scratch_database(server_uri: str, prefix: str = "carepath_bench") -> AsyncIterator[str]:
    """A new, migrated database on the server; dropped afterwards. Yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_uri)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = urlunsplit(urlsplit(server_uri)._replace(path="/" + name))
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


# --- Realistic events: journeys from the domain driver, through to_new_event -----------------

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PHQ9_BASELINE = [2, 2, 1, 1, 1, 2, 1, 2, 0]
GAD7_BASELINE = [2, 2, 2, 1, 1, 1, 2]

Decision = tuple[str, list[Event]]  # the command's type, the events it made


def journey(n: int, rng: random.Random, client_prefix: str = "cl") -> tuple[str, list[Decision]]:
    """One client's journey, decided by the domain (``tests.domain.journey``): its stream id
    and its decisions in order. Most complete a course of doses; some withdraw, are declined,
    pause, hold a session for blood pressure, or are dosed remotely with a chaperone."""
    client = f"{client_prefix}-{n:07d}"
    stream = f"journey-{client}"
    therapist = Actor(id=f"th-{n % 40:02d}", role=Role.THERAPIST)
    prescriber = Actor(id=f"rx-{n % 12:02d}", role=Role.PRESCRIBER)
    j = Journey(now=T0 + timedelta(hours=rng.randrange(24 * 180)))
    decisions: list[Decision] = []

    def do(type_: str, actor: Actor = therapist, /, **fields: Any) -> None:
        before = len(j.events)
        j.do(type_, actor, **fields)
        decisions.append((type_, j.events[before:]))

    def wait(**delta: float) -> None:
        # The workflow's timer: record what fell due meanwhile, as the engine does.
        j.wait(**delta)
        item = next_due(j.state)
        if item is not None and item.at <= j.now:
            with contextlib.suppress(Rejected):
                do("record_due_reached", SYSTEM, kind=item.kind, ref=item.ref, due_at=item.at)

    def screening() -> None:
        answers = [max(0, a - rng.randrange(3)) for a in PHQ9_BASELINE]
        do("record_screening", instrument="phq9", answers=answers)

    def dose(session: str) -> None:
        remote = rng.random() < 0.2
        extra = {"mode": "remote", "chaperone_id": f"ch-{n % 7}"} if remote else {}
        do("schedule_dosing", session_id=session, scheduled_at=j.now + timedelta(days=2), **extra)
        wait(days=2)
        start = {"vitals": {"systolic": 120, "diastolic": 80}, "transport_confirmed": True}
        if remote:
            start["chaperone_present"] = True
        if rng.random() < 0.1:  # blood pressure over the limit: held, then started
            high = start | {"vitals": {"systolic": 150, "diastolic": 85}}
            do("start_dosing", session_id=session, **high)
            wait(minutes=20)
        do("start_dosing", session_id=session, **start)
        if remote:
            wait(minutes=10)
            do("record_chaperone_check_in", SYSTEM, session_id=session)
        wait(minutes=35 if remote else 45)
        vitals = {"systolic": 125, "diastolic": 82}
        check = {"vitals": vitals, "sedation": "mild", "dissociation": "none"}
        do("record_session_monitoring", session_id=session, **check)
        dose_given = {"dose_mg": "50", "route": "intramuscular", "lot": f"KET-{n % 5}"}
        do("record_dose", session_id=session, dose=dose_given)
        wait(minutes=80)
        discharge = {"ready_for_discharge": True, "transport_confirmed": True}
        do("complete_dosing", session_id=session, vitals=vitals, **discharge)
        do("sign_session_record", session_id=session)
        wait(days=3)
        do("complete_integration")
        if j.s.closed_reason is None:  # the last integration completes the course
            screening()
            wait(days=rng.randint(5, 12))

    do(
        "start_journey",
        OPS,
        journey_id=stream,
        client_id=client,
        therapist_id=therapist.id,
        prescriber_id=prescriber.id,
        clinic_id=f"clinic-{n % 3}",
    )
    wait(days=rng.randint(1, 4))
    do("record_screening", instrument="phq9", answers=PHQ9_BASELINE)
    do("record_screening", instrument="gad7", answers=GAD7_BASELINE)
    do("record_consent", consent_version="kap-v3", signed_at=j.now)
    path = rng.random()
    if path < 0.06:
        do("withdraw")
        return stream, decisions
    wait(days=rng.randint(2, 7))
    do("complete_consultation", treatment_goals=["reduce depressive symptoms"])
    do("refer_to_prescriber")
    do("acknowledge_referral", SYSTEM)
    do("schedule_prescriber_intake", prescriber, scheduled_at=j.now + timedelta(days=5))
    wait(days=5)
    if path < 0.11:
        do("decline_medication", prescriber)
        return stream, decisions
    do("approve_medication", prescriber, expires_at=j.now + timedelta(days=120))
    if rng.random() < 0.15:
        do("pause")
        wait(days=rng.randint(3, 14))
        do("resume")
    do("complete_preparation")
    dose("s1")
    dose("s2")
    if path < 0.25:
        do("record_prescriber_follow_up", prescriber, outcome="discontinue")
        return stream, decisions
    more = rng.randint(1, 4)
    do(
        "record_prescriber_follow_up",
        prescriber,
        outcome="continue",
        additional_doses=more,
        expires_at=j.now + timedelta(days=150),
    )
    for s in range(more):
        dose(f"s{s + 3}")
    return stream, decisions


def interleave(
    count: int, active: int, seed: int, client_prefix: str = "cl"
) -> Iterator[tuple[str, str, list[Event]]]:
    """``count`` journeys' decisions in log order: ``active`` journeys in flight at a time,
    the next decision from a random one, a new journey started when one ends. So consecutive
    events mostly belong to different journeys, as in a clinic's log."""
    rng = random.Random(seed)
    started = 0
    in_flight: list[tuple[str, Iterator[Decision]]] = []
    while started < count or in_flight:
        while started < count and len(in_flight) < active:
            stream, made = journey(started, rng, client_prefix)
            in_flight.append((stream, iter(made)))
            started += 1
        index = rng.randrange(len(in_flight))
        stream, decisions = in_flight[index]
        step = next(decisions, None)
        if step is None:
            in_flight[index] = in_flight[-1]
            in_flight.pop()
            continue
        yield stream, step[0], step[1]


@dataclass(frozen=True)
class Append:
    stream_id: str
    expected_version: int
    events: list[NewEvent]


def to_appends(decisions: Iterator[tuple[str, str, list[Event]]]) -> Iterator[Append]:
    """Each decision as the workflow's outbox appends it: ``to_new_event`` of an envelope per
    event, fresh event ids, the stream's expected version."""
    versions: dict[str, int] = {}
    for stream, decision_type, events in decisions:
        version = versions.get(stream, 0)
        envelopes = [
            EventEnvelope(
                event_id=str(uuid.uuid4()),
                stream_version=version + k + 1,
                decision_type=decision_type,
                event=event,
            )
            for k, event in enumerate(events)
        ]
        request = AppendRequest(
            stream_id=stream,
            expected_version=version,
            events=envelopes,
            workflow_id=stream,
            run_id="run-1",
        )
        yield Append(stream, version, [to_new_event(request, i) for i in range(len(envelopes))])
        versions[stream] = version + len(events)


def sample_events(count: int, seed: int = 7) -> list[NewEvent]:
    """``count`` realistic events (journeys' events, in log order) to use as payloads."""
    events: list[NewEvent] = []
    for append in to_appends(interleave(max(1, count // 20), 64, seed, "sample")):
        events += append.events
        if len(events) >= count:
            break
    return events[:count]


TEMPLATE_PREFIX = "tpl-"  # in the template journeys' client ids, replaced in each copy

Row = tuple[str, int, str, int, str, str]  # stream, version, type, schema version, data, metadata


def template_log(journeys: int, active: int, seed: int) -> list[Row]:
    """``journeys`` journeys' events in log order, as rows to COPY into ``events`` (the JSON as
    ``EventStore.append`` encodes it). Client and stream ids start with ``TEMPLATE_PREFIX``."""
    rows: list[Row] = []
    for append in to_appends(interleave(journeys, active, seed, TEMPLATE_PREFIX.rstrip("-"))):
        for k, event in enumerate(append.events):
            rows.append(
                (
                    append.stream_id,
                    append.expected_version + k + 1,
                    event.type,
                    event.schema_version,
                    encode_json(event.data),
                    encode_json(event.metadata),
                )
            )
    return rows


async def copy_log(
    conn: asyncpg.Connection[Any],
    table: str,
    events: int,
    template: Sequence[Row],
    prefix: str,
    chunk: int = 10_000,
) -> None:
    """COPY ``events`` valid events into ``table`` (``events`` or a copy of it), ``chunk`` rows
    per COPY (one transaction each): the template log over and over, each time with other
    client and stream ids (``{prefix}{n}-...``) and fresh event ids. Rows are what
    ``EventStore.append`` would have written, but without its checks: far faster."""
    copied, n = 0, 0
    while copied < events:
        replica = f"{prefix}{n}-"
        n += 1
        records: list[tuple[Any, ...]] = []
        for stream, version, type_, schema_version, data, metadata in template:
            if copied + len(records) >= events:
                break
            records.append(
                (
                    stream.replace(TEMPLATE_PREFIX, replica, 1),
                    version,
                    uuid.uuid4(),
                    type_,
                    schema_version,
                    data.replace(TEMPLATE_PREFIX, replica),
                    metadata.replace(TEMPLATE_PREFIX, replica),
                )
            )
            if len(records) == chunk:
                await conn.copy_records_to_table(table, records=records, columns=COPY_COLUMNS)
                copied += len(records)
                records = []
        if records:
            await conn.copy_records_to_table(table, records=records, columns=COPY_COLUMNS)
            copied += len(records)


# --- The append benchmark --------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    connections: int
    batch: int
    events: int

    @property
    def label(self) -> str:
        kind = "single events" if self.batch == 1 else f"{self.batch}-event batches"
        return f"{kind}, {self.connections} conn{'s' if self.connections > 1 else ''}"


Batch = tuple[str, int, list[NewEvent]]  # stream id, expected version, events
AppendFn = Callable[[int, Batch], Awaitable[None]]


class Planner:
    """Batches of the payload events, with fresh ids, on each worker's own streams."""

    def __init__(self, payloads: Sequence[NewEvent], streams: int) -> None:
        self._payloads = payloads
        self._streams = streams
        self._next = 0

    def plan(self, scenario: Scenario, tag: str) -> list[list[Batch]]:
        workers = scenario.connections
        per_worker = max(1, self._streams // workers)
        plans: list[list[Batch]] = []
        for worker in range(workers):
            own = [f"bench:{tag}:{worker}:{s}" for s in range(per_worker)]
            versions = dict.fromkeys(own, 0)
            batches: list[Batch] = []
            for i in range(max(1, scenario.events // scenario.batch // workers)):
                stream = own[i % per_worker]
                events = [self._fresh() for _ in range(scenario.batch)]
                batches.append((stream, versions[stream], events))
                versions[stream] += scenario.batch
            plans.append(batches)
        return plans

    def _fresh(self) -> NewEvent:
        payload = self._payloads[self._next % len(self._payloads)]
        self._next += 1
        return payload.model_copy(update={"event_id": uuid.uuid4()})


class CpuClock:
    """CPU seconds used by this process and by the PostgreSQL server's processes (the
    postmaster's children: backends, WAL writer, checkpointer...), when the server is local."""

    def __init__(self, postmaster: int | None) -> None:
        self._server: psutil.Process | None = None
        if postmaster is not None:
            with contextlib.suppress(psutil.Error):
                self._server = psutil.Process(postmaster)

    @classmethod
    async def of(cls, conn: Connection) -> CpuClock:
        """For the server ``conn`` is connected to, if its data directory is readable here."""
        pid = None
        with contextlib.suppress(OSError, ValueError, asyncpg.PostgresError):
            data_directory = await conn.fetchval("SHOW data_directory")
            pid = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
        return cls(pid)

    def read(self) -> tuple[float, dict[int, float]]:
        server: dict[int, float] = {}
        if self._server is not None:
            with contextlib.suppress(psutil.Error):
                for process in [self._server, *self._server.children()]:
                    with contextlib.suppress(psutil.Error):
                        times = process.cpu_times()
                        server[process.pid] = times.user + times.system
        return time.process_time(), server

    def since(self, start: tuple[float, dict[int, float]]) -> tuple[float, float | None]:
        """(this process's, the server's) CPU seconds since ``start = read()``."""
        client, server = self.read()
        if self._server is None:
            return client - start[0], None
        used = sum(max(0.0, t - start[1].get(pid, 0.0)) for pid, t in server.items())
        return client - start[0], used


async def run_plan(
    plans: list[list[Batch]], append: AppendFn, cpu: CpuClock | None = None
) -> dict[str, Any]:
    latencies: list[float] = []

    async def worker(index: int, batches: list[Batch]) -> None:
        for batch in batches:
            began = time.perf_counter()
            await append(index, batch)
            latencies.append(time.perf_counter() - began)

    cpu = cpu or CpuClock(None)
    cpu_start = cpu.read()
    began = time.perf_counter()
    await asyncio.gather(*(worker(i, batches) for i, batches in enumerate(plans)))
    elapsed = time.perf_counter() - began
    client_cpu, server_cpu = cpu.since(cpu_start)
    latencies.sort()
    events = sum(len(b[2]) for batches in plans for b in batches)
    appends = len(latencies)
    return {
        "events": events,
        "appends": appends,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "appends_per_s": appends / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (appends - 1))],
        "client_cpu_us_per_append": 1e6 * client_cpu / appends,
        "server_cpu_us_per_append": None if server_cpu is None else 1e6 * server_cpu / appends,
    }


def copy_records(batch: Batch) -> list[tuple[Any, ...]]:
    stream, expected, events = batch
    return [
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


# The statement as it was before the fixes of 2026-11-24: NOTIFY inside it.
NOTIFY_IN_SQL = (
    _APPEND_SQL.rstrip()
    + f""",
    (SELECT pg_notify('{NOTIFY_CHANNEL}', $1)
     FROM (SELECT FROM inserted LIMIT 1) AS any_inserted) AS notified
"""
)


@dataclass(frozen=True)
class Variant:
    """Diagnostics: the store's append with some parts changed. ``notify``: by the store's
    "notifier" (after commit, coalesced), "in" the statement, or "none"; ``statement``: the
    store's "grouped" plain insert, the plain insert "alone" (one statement per append), or
    the "judging" statement (``_APPEND_SQL``) for every append."""

    label: str
    notify: str = "notifier"
    statement: str = "grouped"
    transaction: bool = False  # an explicit BEGIN ... COMMIT around the one statement
    reset: bool = False  # asyncpg's reset query when a connection goes back to the pool


VARIANTS = [
    Variant("before the fixes (tx, pool reset, NOTIFY in)", "in", "judging", True, True),
    Variant("judging statement for every append", statement="judging"),
    Variant("one statement per append (no grouping)", statement="alone"),
    Variant("no notifier (readers would only poll)", notify="none"),
]


class VariantStore(EventStore):
    """``EventStore.append`` (same validation, same statements) with a ``Variant``'s change."""

    def __init__(self, pool: Pool, variant: Variant) -> None:
        super().__init__(pool, max_event_bytes=64 * 1024)
        self._variant = variant
        self._sql = NOTIFY_IN_SQL if variant.notify == "in" else _APPEND_SQL

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> AppendResult:
        batch = self._validate(stream_id, events, expected_version)
        pending = batch.pending(stream_id, expected_version)
        if self._variant.statement == "grouped":
            positions = await self._groups.write(pending)
        else:
            async with self._pool.acquire() as conn, contextlib.AsyncExitStack() as stack:
                if self._variant.transaction:
                    await stack.enter_async_context(conn.transaction())
                if self._variant.statement == "alone":
                    positions = (await insert_group(conn, [pending]))[stream_id]
                else:
                    args = (stream_id, expected_version, *group_args([pending])[4:])
                    row = await conn.fetchrow(self._sql, *args)
                    assert row is not None
                    positions = row["positions"]
        assert positions, "diagnostic appends never conflict"
        if self._variant.notify == "notifier":
            self._notifier.mark()
        return AppendResult.written_at(stream_id, expected_version, positions)


async def measure_scenario(
    url: str, scenario: Scenario, planner: Planner, rounds: int, diagnose: bool
) -> list[dict[str, Any]]:
    """COPY and the store alternately, ``rounds`` times, on ``scenario.connections`` connections
    each (a pool of that size for the store; that many plain connections for COPY)."""
    n = scenario.connections
    pool = await open_pool(url, min_size=n, max_size=n)
    pools: dict[bool, Pool] = {False: pool}
    raw = [await asyncpg.connect(url) for _ in range(n)]
    try:
        cpu = await CpuClock.of(raw[0])
        store = EventStore(pool, max_event_bytes=64 * 1024)
        paths: list[tuple[str, EventStore]] = [("EventStore.append", store)]
        variants = VARIANTS if scenario.batch == 1 else VARIANTS[:1]
        for v in variants if diagnose else []:
            if v.reset not in pools:
                pools[v.reset] = await asyncpg.create_pool(
                    url,
                    min_size=n,
                    max_size=n,
                    init=init_connection,
                    connection_class=asyncpg.Connection if v.reset else StoreConnection,
                )
            paths.append((f"  diagnostic: {v.label}", VariantStore(pools[v.reset], v)))

        async def via_copy(worker: int, batch: Batch) -> None:
            await raw[worker].copy_records_to_table(
                "bench_events", records=copy_records(batch), columns=COPY_COLUMNS
            )

        def via(chosen: EventStore) -> AppendFn:
            async def append(_: int, batch: Batch) -> None:
                stream, expected, events = batch
                await chosen.append(stream, events, expected)

            return append

        # Warm up every path: connections, prepared statements, caches.
        name = f"c{n}b{scenario.batch}"
        warm = Scenario(n, scenario.batch, max(n * scenario.batch, 20 * n))
        await run_plan(planner.plan(warm, f"{name}w"), via_copy)
        for i, (_, chosen) in enumerate(paths):
            await run_plan(planner.plan(warm, f"{name}w{i}"), via(chosen))

        runs: dict[str, list[dict[str, Any]]] = {"COPY (baseline)": []}
        runs |= {label: [] for label, _ in paths}
        for r in range(rounds):
            tag = f"{name}r{r}"
            plans = planner.plan(scenario, tag)
            runs["COPY (baseline)"].append(await run_plan(plans, via_copy, cpu))
            for i, (label, chosen) in enumerate(paths):
                plans = planner.plan(scenario, f"{tag}v{i}")
                runs[label].append(await run_plan(plans, via(chosen), cpu))
    finally:
        for conn in raw:
            await conn.close()
        for each in pools.values():
            await each.close()

    rows = []
    base = statistics.median(r["events_per_s"] for r in runs["COPY (baseline)"])
    for label, measured in runs.items():
        row: dict[str, Any] = {
            "scenario": scenario.label,
            "name": label,
            "connections": n,
            "batch": scenario.batch,
            "rounds": measured,
        }
        for key in ("events_per_s", "appends_per_s", "p50_ms", "p99_ms"):
            row[key] = statistics.median(m[key] for m in measured)
        for key in ("client_cpu_us_per_append", "server_cpu_us_per_append"):
            values = [m[key] for m in measured if m[key] is not None]
            row[key] = statistics.median(values) if values else None
        row["vs_copy"] = row["events_per_s"] / base
        row["target"], row["met"] = judge(row)
        rows.append(row)
    return rows


def judge(row: dict[str, Any]) -> tuple[str | None, bool | None]:
    """The issue's target for this row, if any, and whether it was met."""
    if row["name"] != "EventStore.append":
        return None, None
    if row["batch"] == 1 and row["connections"] in TARGET_SINGLE_APPENDS:
        goal = TARGET_SINGLE_APPENDS[row["connections"]]
        return f">= {goal:,.0f} appends/s", bool(row["appends_per_s"] >= goal)
    if row["batch"] > 1:
        return f">= {TARGET_BATCH_RATIO:.0%} of COPY", bool(row["vs_copy"] >= TARGET_BATCH_RATIO)
    return None, None


async def main(args: argparse.Namespace) -> dict[str, Any]:
    payloads = sample_events(2000)
    planner = Planner(payloads, args.streams)
    scenarios = [Scenario(c, 1, args.single_events) for c in args.connections]
    scenarios += [Scenario(c, 100, args.batch_events) for c in args.connections]
    rows: list[dict[str, Any]] = []
    with throwaway_postgres("carepath-bench-") as server_uri:
        async with scratch_database(server_uri) as url:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("CREATE TABLE bench_events (LIKE events INCLUDING ALL)")
                machine = await describe_machine(conn)
                # A store in use: history in both tables, vacuumed and analyzed, so that plans
                # are made against real statistics (an empty table's plans scan it whole).
                if args.prefill:
                    template = template_log(max(1, min(1000, args.prefill // 40)), 500, seed=11)
                    for table in ("events", "bench_events"):
                        await copy_log(conn, table, args.prefill, template, f"{table[:1]}h")
                        await conn.execute(f"VACUUM (ANALYZE) {table}")
            finally:
                await conn.close()
            began = time.perf_counter()
            for scenario in scenarios:
                rows += await measure_scenario(url, scenario, planner, args.rounds, args.diagnose)
            elapsed = time.perf_counter() - began
    machine["load_average_after"] = os.getloadavg()
    payload_bytes = statistics.mean(
        len(encode_json(e.data)) + len(encode_json(e.metadata)) for e in payloads
    )
    return {
        "args": vars(args),
        "machine": machine,
        "payload_bytes_mean": payload_bytes,
        "seconds": elapsed,
        "rows": rows,
    }


def report(result: dict[str, Any]) -> None:
    args = result["args"]
    print()
    print_machine(result["machine"])
    print(
        f"median of {args['rounds']} rounds, COPY and store alternating; events of "
        f"{result['payload_bytes_mean']:.0f} bytes (data + metadata JSON); "
        f"{args['streams']} streams split among the connections; "
        f"{args['prefill']:,} events stored beforehand; "
        "cpu us: CPU microseconds per append, this process + the server's processes\n"
    )
    header = (
        f"{'scenario':<28} {'path':<50} {'events/s':>9} {'appends/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'cpu us':>11} {'vs COPY':>7}  target"
    )
    print(header)
    print("-" * len(header))
    previous = None
    for r in result["rows"]:
        scenario = r["scenario"] if r["scenario"] != previous else ""
        previous = r["scenario"]
        verdict = ""
        if r["target"] is not None:
            verdict = f"{r['target']}: {'pass' if r['met'] else 'MISS'}"
        print(
            f"{scenario:<28} {r['name']:<50} {r['events_per_s']:>9.0f} {r['appends_per_s']:>9.0f} "
            f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {cpu_cell(r):>11} {r['vs_copy']:>7.2f}  "
            f"{verdict}"
        )
    out = Path(args["output"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\n{result['seconds']:.0f} s measuring; written: {out}")


def cpu_cell(row: dict[str, Any]) -> str:
    """CPU microseconds per append: this process + the server (client+server)."""
    client, server = row["client_cpu_us_per_append"], row["server_cpu_us_per_append"]
    if client is None:
        return "-"
    return f"{client:.0f}+{server:.0f}" if server is not None else f"{client:.0f}+?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.eventstore_append")
    parser.add_argument("--single-events", type=int, default=3000, help="per round and path")
    parser.add_argument("--batch-events", type=int, default=30000, help="per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--prefill", type=int, default=100_000, help="events already stored (COPY) before timing"
    )
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--streams", type=int, default=1024, help="split among the connections")
    parser.add_argument("--output", default=str(RESULTS / "eventstore_append.json"))
    parser.add_argument(
        "--diagnose",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the store's statement with parts changed (see the module's doc)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    report(asyncio.run(main(parse_args())))
