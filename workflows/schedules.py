"""The clinic's Temporal Schedules, created or brought up to date by `carepath schedules apply`
(and by `carepath dev` when it starts). Applying twice changes nothing.

- `carepath-follow-up-sweep`, daily at FOLLOW_UP_HOUR clinic time: outcome check-ins and
  maintenance reminders after courses that gave a dose (`workflows/followups.py`).
- `carepath-daily-digest`, daily at `settings.digest_hour` clinic time: each clinician's overdue
  journeys and safety holds.
- `carepath-journey-reconcile`, every RECONCILE_MINUTES: journeys whose workflow was terminated
  (or timed out, failed, replaced) outside the pathway are closed in the store
  (`workflows/reconcile.py`).

All skip a run while the previous one is still going (overlap SKIP) and, after an outage, still
take a missed run if the server is back within the catch-up window. Times are in
`settings.schedule_time_zone`. An update keeps the schedule's state: a schedule ops paused in
the UI stays paused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.messages import ReconcileInput
from config.settings import Settings
from workflows.followups import (
    DailyDigestWorkflow,
    DigestInput,
    FollowUpSweepWorkflow,
    SweepInput,
)
from workflows.reconcile import ReconcileJourneysWorkflow

FOLLOW_UP_SWEEP = "carepath-follow-up-sweep"
DAILY_DIGEST = "carepath-daily-digest"
RECONCILE = "carepath-journey-reconcile"
SCHEDULE_IDS = (FOLLOW_UP_SWEEP, DAILY_DIGEST, RECONCILE)
RECONCILE_MINUTES = 15  # how long a terminated journey may show as open, at most
FOLLOW_UP_HOUR = 10  # survey invitations reach clients mid-morning, clinic time
SWEEP_CATCH_UP = timedelta(hours=12)  # the sweep is idempotent: a late run is harmless
DIGEST_CATCH_UP = timedelta(hours=4)  # a digest much later than the morning is stale


@dataclass(frozen=True)
class ClinicSchedule:
    id: str
    schedule: Schedule
    input_type: type[BaseModel]  # the workflow's input, to read a described schedule's args


def _daily(hour: int, time_zone: str, comment: str) -> ScheduleSpec:
    calendar = ScheduleCalendarSpec(hour=(ScheduleRange(hour),), comment=comment)
    return ScheduleSpec(calendars=[calendar], time_zone_name=time_zone)


def clinic_schedules(settings: Settings) -> list[ClinicSchedule]:
    """The schedules `settings` call for."""
    time_zone = settings.schedule_time_zone
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"CAREPATH_SCHEDULE_TIME_ZONE {time_zone!r} is not an IANA time zone name "
            "(for example Europe/London or America/Chicago)"
        ) from None
    sweep = Schedule(
        action=ScheduleActionStartWorkflow(
            FollowUpSweepWorkflow.run,
            SweepInput(maintenance_reminders=settings.maintenance_reminders),
            id=FOLLOW_UP_SWEEP,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=_daily(FOLLOW_UP_HOUR, time_zone, "follow-up check-ins and maintenance reminders"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=SWEEP_CATCH_UP),
    )
    digest = Schedule(
        action=ScheduleActionStartWorkflow(
            DailyDigestWorkflow.run,
            DigestInput(time_zone=time_zone),
            id=DAILY_DIGEST,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=2),
        ),
        spec=_daily(settings.digest_hour, time_zone, "each clinician's daily digest"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=DIGEST_CATCH_UP),
    )
    every = ScheduleCalendarSpec(
        minute=(ScheduleRange(0, 59, RECONCILE_MINUTES),),
        hour=(ScheduleRange(0, 23),),
        comment="journeys ended outside the pathway",
    )
    reconcile = Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileJourneysWorkflow.run,
            ReconcileInput(),
            id=RECONCILE,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=1),
        ),
        spec=ScheduleSpec(calendars=[every], time_zone_name=time_zone),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=RECONCILE_MINUTES)
        ),
    )
    return [
        ClinicSchedule(FOLLOW_UP_SWEEP, sweep, SweepInput),
        ClinicSchedule(DAILY_DIGEST, digest, DigestInput),
        ClinicSchedule(RECONCILE, reconcile, ReconcileInput),
    ]


def _calendars(calendars: Sequence[ScheduleCalendarSpec]) -> tuple[object, ...]:
    return tuple(
        (
            tuple(c.second),
            tuple(c.minute),
            tuple(c.hour),
            tuple(c.day_of_month),
            tuple(c.month),
            tuple(c.year),
            tuple(c.day_of_week),
            c.comment,
        )
        for c in calendars
    )


async def comparable(
    client: Client, schedule: Schedule, input_type: type[BaseModel]
) -> tuple[object, ...]:
    """What `apply` sets on a schedule, in a form a described schedule compares with (its
    workflow arguments decoded: encrypted payloads differ every time they are encoded)."""
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow):
        return ("not a workflow start",)
    args = list(action.args)
    if args and all(isinstance(arg, Payload) for arg in args):
        args = await client.data_converter.decode(args, [input_type] * len(args))
    spec, policy = schedule.spec, schedule.policy
    return (
        _calendars(spec.calendars),
        tuple((i.every, i.offset) for i in spec.intervals),
        tuple(spec.cron_expressions),
        _calendars(spec.skip),
        spec.start_at,
        spec.end_at,
        spec.jitter,
        spec.time_zone_name or None,
        policy.overlap,
        policy.catchup_window,
        policy.pause_on_failure,
        action.workflow,
        action.id,
        action.task_queue,
        action.execution_timeout,
        action.run_timeout,
        action.task_timeout,
        action.retry_policy,
        tuple(args),
    )


async def _apply_one(client: Client, wanted: ClinicSchedule) -> bool:
    """Create the schedule, or update it if it differs; True when something changed."""
    handle = client.get_schedule_handle(wanted.id)
    try:
        await handle.describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            await client.create_schedule(wanted.id, wanted.schedule)
            return True
        except ScheduleAlreadyRunningError:
            pass  # another apply created it just now: compare with it below
    target = await comparable(client, wanted.schedule, wanted.input_type)
    changed = False

    async def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        described = current.description.schedule
        changed = await comparable(client, described, wanted.input_type) != target
        if not changed:
            return None
        # Keep the schedule's state (paused by ops, their note) as it is.
        return ScheduleUpdate(schedule=dataclasses.replace(wanted.schedule, state=described.state))

    await handle.update(update)
    return changed


async def apply_schedules(client: Client, settings: Settings) -> list[str]:
    """Create or update the clinic's schedules; the ids of those created or changed."""
    changed = []
    for wanted in clinic_schedules(settings):
        if await _apply_one(client, wanted):
            changed.append(wanted.id)
    return changed
