"""`python -m chaos`: a soak test that no event is ever lost or duplicated under failures.

    .venv/bin/python -m chaos [--minutes 3] [--journeys 30] [--callers 8] [--seed N]

Starts PostgreSQL, Temporal's dev server and a worker as real processes, drives journeys for
`--minutes` while killing and restarting them on a schedule drawn from `--seed`, then waits for
every journey to finish its pending work and checks the record (docs/chaos.md). Prints a table,
writes JSON (`--output`, default bench/results/chaos.json). Exit code 0 only if every check
passed; 1 if one failed; 2 if the run itself could not be made; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import os
import random
import secrets
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from chaos.driver import Driver
from chaos.faults import (
    PG_RESTART,
    PG_TERMINATE,
    PROJECTOR_KILL,
    TEMPORAL_RESTART,
    WORKER_KILL,
    FaultInjector,
    plan_faults,
)
from chaos.report import check_rows, decision_numbers, print_report, worker_log_numbers, write_json
from chaos.stack import HARNESS_APP_NAME, ROOT, STOP_GRACE, Stack
from chaos.timeline import Timeline
from chaos.verify import Checks, settle, verify
from config.settings import Settings
from database import init_connection
from database.pool import StoreConnection
from privacy.keys import parse_keys
from workers.temporal import connect

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "chaos.json"
STAFF = {"therapist": 3, "prescriber": 2, "ops": 1}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="how long decisions are made")
    parser.add_argument("--journeys", type=int, default=30, help="journeys in play at once")
    parser.add_argument("--callers", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, one queue")
    parser.add_argument("--worker-kills", type=int, default=None, help="default: one per 30 s")
    parser.add_argument("--projector-kills", type=int, default=None, help="default: one a minute")
    parser.add_argument("--pg-terminations", type=int, default=None, help="default: one a minute")
    parser.add_argument("--pg-restarts", type=int, default=1)
    parser.add_argument("--temporal-restarts", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=240.0, help="seconds")
    parser.add_argument("--give-up-after", type=float, default=300.0, help="per decision, s")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy the logs here")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or min(args.journeys, args.callers, args.workers) < 1:
        parser.error("--minutes, --journeys, --callers and --workers must be positive")
    minutes = args.minutes
    if args.worker_kills is None:
        args.worker_kills = max(3, round(minutes * 2))
    if args.projector_kills is None:
        args.projector_kills = max(1, round(minutes))
    if args.pg_terminations is None:
        args.pg_terminations = max(1, round(minutes))
    if args.seed is None:
        args.seed = secrets.randbelow(1_000_000)
    return args


async def add_staff(pool: Any) -> dict[str, list[str]]:
    from records.users import add_user

    staff: dict[str, list[str]] = {}
    for role, count in STAFF.items():
        for n in range(count):
            clinician_id, _token = await add_user(
                pool, f"Chaos {role} {n}", role, email=f"{role}{n}@clinic.example"
            )
            staff.setdefault(role, []).append(clinician_id)
    return staff


async def machine(pool: Any) -> dict[str, Any]:
    from devstack.machine import describe_machine

    async with pool.acquire() as conn:
        described: dict[str, Any] = await describe_machine(conn)
        return described


async def count_continued(client: Any, task_queue: str) -> int | None:
    with contextlib.suppress(Exception):
        query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'ContinuedAsNew'"
        return int((await client.count_workflows(query)).count)
    return None


async def run(args: argparse.Namespace, timeline: Timeline) -> dict[str, Any]:
    seed = args.seed
    rng = random.Random(seed)
    duration = args.minutes * 60
    counts = {
        WORKER_KILL: args.worker_kills,
        PROJECTOR_KILL: args.projector_kills,
        PG_TERMINATE: args.pg_terminations,
        PG_RESTART: args.pg_restarts,
        TEMPORAL_RESTART: args.temporal_restarts,
    }
    faults = plan_faults(rng, duration, counts)
    keys = f"chaos:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    task_queue = f"chaos-{seed}"
    result: dict[str, Any] = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "seed": seed,
        "machine": {},
        "faults_planned": [dataclasses.asdict(f) for f in faults],
        "faults": [],
        "passed": False,
    }
    timing: dict[str, float] = {}
    began = time.monotonic()
    timeline.log(f"chaos run, seed {seed}: {len(faults)} faults planned")
    stack = Stack(timeline, keep_logs=args.keep_logs)
    pool: Any = None
    checks: Checks | None = None
    try:
        await stack.start(
            {
                "CAREPATH_ENV": "production",  # JSON logs, payload keys required
                "CAREPATH_TASK_QUEUE": task_queue,
                "CAREPATH_PAYLOAD_KEYS": keys,
                "CAREPATH_CLINIC_NAME": "Chaos Clinic",
                "CAREPATH_LOG_LEVEL": "INFO",
            },
            workers=args.workers,
        )
        timing["stack_start_s"] = round(time.monotonic() - began, 2)
        settings = Settings(
            env="production",
            temporal_address=stack.temporal.address,
            task_queue=task_queue,
            payload_keys=keys,
            database_url=stack.postgres.url,
        )
        client = await connect(settings)  # the same payload encryption as the worker
        pool = await asyncpg.create_pool(
            stack.postgres.url,
            min_size=0,
            max_size=6,
            init=init_connection,
            connection_class=StoreConnection,
            server_settings={"application_name": HARNESS_APP_NAME},
        )
        staff = await add_staff(pool)
        result["machine"] = await machine(pool)
        driver = Driver(
            client,
            pool,
            parse_keys(keys),
            task_queue,
            timeline,
            seed=seed,
            in_play=args.journeys,
            callers=args.callers,
            staff=staff,
            give_up_after=args.give_up_after,
        )
        injector = FaultInjector(stack, timeline, faults, random.Random(f"{seed}:faults"))
        timeline.log(
            f"driving {args.journeys} journeys at a time with {args.callers} callers "
            f"for {args.minutes} min"
        )
        drive_began = time.monotonic()
        fault_task = asyncio.create_task(injector.run(drive_began))
        try:
            await driver.run(duration)
        finally:
            if not fault_task.done():
                timeline.log("the fault schedule is stopped (a fault under way is cut short)")
                fault_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fault_task
        timing["drive_s"] = round(time.monotonic() - drive_began, 2)
        timeline.log(f"decisions stopped after {timing['drive_s']} s; bringing back anything down")
        result["faults"] = injector.records
        await injector.heal()
        settle_began = time.monotonic()
        from eventstore import EventStore

        unsettled = await settle(
            client, EventStore(pool), driver.journeys, timeline, args.settle_timeout
        )
        timing["settle_s"] = round(time.monotonic() - settle_began, 2)
        timeline.log(f"settled in {timing['settle_s']} s ({len(unsettled)} journeys still busy)")
        verify_began = time.monotonic()
        mail = stack.mail.delivered
        checks, facts = await verify(client, pool, driver.journeys, unsettled, mail, timeline)
        if driver.harness_errors:
            harness = checks.add("harness", "the harness itself ran without errors")
            for error in driver.harness_errors:
                harness.judge(False, error)
        timing["verify_s"] = round(time.monotonic() - verify_began, 2)
        started = [j for j in driver.journeys if j.handle is not None]
        statuses: dict[str, int] = {}
        for j in started:
            statuses[j.status] = statuses.get(j.status, 0) + 1
        assert stack.projector is not None
        result.update(
            decisions=decision_numbers(driver.journeys, timing["drive_s"]),
            journeys={
                "started": len(started),
                "by_status": statuses,
                "continued_as_new": await count_continued(client, task_queue),
                "client_view_resyncs": driver.resyncs,
            },
            events=facts.get("events"),
            streams=facts.get("streams"),
            notifications=facts.get("notifications", {}),
            projections=facts.get("projection_catch_up", {}),
            observations={
                "worker_starts": sum(w.starts for w in stack.workers),
                "worker_exits": [dataclasses.asdict(e) for w in stack.workers for e in w.exits],
                "worker_log": worker_log_numbers([w.log_path for w in stack.workers]),
                "projector_starts": stack.projector.starts,
                "projector_exits": [dataclasses.asdict(e) for e in stack.projector.exits],
                "projector_log": worker_log_numbers([stack.projector.log_path]),
                "retry_reasons": dict(driver.errors),
            },
        )
    finally:
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=10)
        await stack.close()
        timeline.log("everything stopped; temp dir removed")
    if checks is not None:
        clean = checks.add(
            "clean_stop", f"each Carepath process exited on SIGTERM within {STOP_GRACE:.0f} s"
        )
        for stopped in stack.stopped:
            clean.judge(
                not stopped.killed,
                f"{stopped.name} did not exit within {STOP_GRACE:.0f} s of SIGTERM: SIGKILL "
                f"(see docs/chaos.md, findings)",
            )
        result["stops"] = [dataclasses.asdict(s) for s in stack.stopped]
    timing["total_s"] = round(time.monotonic() - began, 2)
    result["timing"] = timing
    result["checks"] = check_rows(checks)
    result["passed"] = bool(result["checks"]) and all(c["failed"] == 0 for c in result["checks"])
    result["log"] = timeline.lines
    return result


def quiet_temporal_client() -> None:
    """The client's core logs every RPC it retries while a server is down: the run counts
    those itself, so only errors are printed."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))
    Runtime.set_default(runtime, error_if_already_set=False)


async def _main(args: argparse.Namespace, timeline: Timeline) -> dict[str, Any]:
    quiet_temporal_client()
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(args, timeline)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timeline = Timeline()
    try:
        result = asyncio.run(_main(args, timeline))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted: everything started was stopped", file=sys.stderr)
        return 130
    except Exception as error:
        traceback.print_exc()
        reason = f"{type(error).__name__}: {error}"
        print(f"\nthe chaos run could not be made: {reason}", file=sys.stderr)
        return 2
    print_report(result)
    write_json(result, args.output)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: Temporal's core threads may touch the GIL while CPython
    # finalizes (what cli/main.py's `entry` does too).
    os._exit(code)
