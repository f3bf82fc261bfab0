"""`apply_schedules` (and `carepath schedules apply`) on the Temporal dev server: creates the
clinic's schedules, changes nothing when applied again (also with encrypted payloads), updates
what settings changed while keeping a paused schedule paused; the schedules start the real
workflows."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    ScheduleRange,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.followups import DigestOutcome
from config.settings import Settings
from database.pgtypes import Pool
from workers.temporal import data_converter
from workers.worker import build_worker
from workflows.followups import DigestInput, SweepInput, SweepOutcome
from workflows.schedules import (
    DAILY_DIGEST,
    FOLLOW_UP_HOUR,
    FOLLOW_UP_SWEEP,
    RECONCILE,
    RECONCILE_MINUTES,
    SCHEDULE_IDS,
    apply_schedules,
    clinic_schedules,
)

ROOT = Path(__file__).parents[2]


async def delete_schedules(client: Client) -> None:
    for schedule_id in SCHEDULE_IDS:
        with contextlib.suppress(RPCError):  # not there
            await client.get_schedule_handle(schedule_id).delete()


@pytest_asyncio.fixture
async def temporal(dev_server: WorkflowEnvironment) -> AsyncIterator[Client]:
    """The dev server with none of Carepath's schedules on it (it is shared by these tests)."""
    await delete_schedules(dev_server.client)
    yield dev_server.client
    await delete_schedules(dev_server.client)


async def describe_all(client: Client) -> dict[str, ScheduleDescription]:
    return {
        schedule_id: await client.get_schedule_handle(schedule_id).describe()
        for schedule_id in SCHEDULE_IDS
    }


def settings(**fields: object) -> Settings:
    return Settings(
        task_queue=f"sched-{uuid.uuid4().hex[:6]}",
        schedule_time_zone="America/Chicago",
        digest_hour=6,
        **fields,  # type: ignore[arg-type]
    )


async def test_apply_creates_the_schedules_and_applying_again_changes_nothing(
    temporal: Client,
) -> None:
    config = settings()

    assert await apply_schedules(temporal, config) == list(SCHEDULE_IDS)
    before = await describe_all(temporal)
    assert await apply_schedules(temporal, config) == []
    after = await describe_all(temporal)

    for schedule_id in SCHEDULE_IDS:
        assert after[schedule_id].raw_description.schedule == (
            before[schedule_id].raw_description.schedule
        )
        assert after[schedule_id].info.last_updated_at == before[schedule_id].info.last_updated_at
    sweep, digest = after[FOLLOW_UP_SWEEP].schedule, after[DAILY_DIGEST].schedule
    for schedule, hour in ((sweep, FOLLOW_UP_HOUR), (digest, 6)):
        assert schedule.spec.time_zone_name == "America/Chicago"
        assert [tuple(c.hour) for c in schedule.spec.calendars] == [(ScheduleRange(hour),)]
        assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        assert schedule.policy.catchup_window is not None
        assert isinstance(schedule.action, ScheduleActionStartWorkflow)
        assert schedule.action.task_queue == config.task_queue
    assert sweep.action.workflow == "FollowUpSweep"  # type: ignore[attr-defined]
    assert digest.action.workflow == "DailyDigest"  # type: ignore[attr-defined]
    reconcile = after[RECONCILE].schedule
    assert reconcile.action.workflow == "ReconcileJourneys"  # type: ignore[attr-defined]
    assert reconcile.policy.overlap is ScheduleOverlapPolicy.SKIP
    assert [tuple(c.minute) for c in reconcile.spec.calendars] == [
        (ScheduleRange(0, 59, RECONCILE_MINUTES),)
    ]
    [args] = await temporal.data_converter.decode(digest.action.args, [DigestInput])  # type: ignore[attr-defined]
    assert args == DigestInput(time_zone="America/Chicago")
    # 06:00 in Chicago is 11:00 or 12:00 UTC, depending on daylight saving time.
    next_digest = after[DAILY_DIGEST].info.next_action_times[0]
    assert (next_digest.hour, next_digest.minute) in ((11, 0), (12, 0))


async def test_encrypted_payloads_still_compare_equal(
    temporal: Client, dev_server: WorkflowEnvironment
) -> None:
    keys = f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    config = settings(payload_keys=keys)
    encrypting = await Client.connect(
        dev_server.client.service_client.config.target_host,
        data_converter=data_converter(config),
    )

    assert await apply_schedules(encrypting, config) == list(SCHEDULE_IDS)
    assert await apply_schedules(encrypting, config) == []


async def test_a_changed_setting_updates_its_schedule_and_a_paused_one_stays_paused(
    temporal: Client,
) -> None:
    config = settings()
    await apply_schedules(temporal, config)
    digest = temporal.get_schedule_handle(DAILY_DIGEST)
    await digest.pause(note="paused by ops")

    later = config.model_copy(update={"digest_hour": 8})
    assert await apply_schedules(temporal, later) == [DAILY_DIGEST]

    described = await digest.describe()
    assert [tuple(c.hour) for c in described.schedule.spec.calendars] == [(ScheduleRange(8),)]
    assert described.schedule.state.paused and described.schedule.state.note == "paused by ops"
    assert await apply_schedules(temporal, later) == []

    fewer = later.model_copy(update={"maintenance_reminders": 3})
    assert await apply_schedules(temporal, fewer) == [FOLLOW_UP_SWEEP]
    action = (await temporal.get_schedule_handle(FOLLOW_UP_SWEEP).describe()).schedule.action
    [args] = await temporal.data_converter.decode(action.args, [SweepInput])  # type: ignore[attr-defined]
    assert args.maintenance_reminders == 3


def test_a_time_zone_that_does_not_exist_is_refused_in_plain_words() -> None:
    with pytest.raises(ValueError, match="not an IANA time zone name"):
        clinic_schedules(Settings(schedule_time_zone="Mars/Olympus_Mons"))


async def test_the_schedules_start_the_sweep_and_the_digest(
    temporal: Client, db_pool: Pool
) -> None:
    config = settings()
    await apply_schedules(temporal, config)
    async with build_worker(temporal, db_pool, config, channels={}):
        for schedule_id, outcome_type in (
            (FOLLOW_UP_SWEEP, SweepOutcome),
            (DAILY_DIGEST, DigestOutcome),
        ):
            handle = temporal.get_schedule_handle(schedule_id)
            await handle.trigger()
            for _ in range(100):
                recent = (await handle.describe()).info.recent_actions
                if recent:
                    break
                await asyncio.sleep(0.1)
            [action] = recent
            assert isinstance(action.action, ScheduleActionExecutionStartWorkflow)
            workflow_id = action.action.workflow_id
            assert workflow_id.startswith(f"{schedule_id}-")
            run = temporal.get_workflow_handle(workflow_id, result_type=outcome_type)
            assert isinstance(await asyncio.wait_for(run.result(), timeout=30), outcome_type)


async def test_the_cli_verb_applies_the_schedules(
    temporal: Client, dev_server: WorkflowEnvironment
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env["CAREPATH_TEMPORAL_ADDRESS"] = dev_server.client.service_client.config.target_host
    env["CAREPATH_TASK_QUEUE"] = f"sched-{uuid.uuid4().hex[:6]}"

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "schedules", "apply"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = await asyncio.to_thread(run)
    second = await asyncio.to_thread(run)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"{s}: applied" for s in SCHEDULE_IDS]
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [f"{s}: unchanged" for s in SCHEDULE_IDS]
