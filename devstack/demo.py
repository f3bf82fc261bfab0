"""`carepath dev --demo`: journeys at every stage and status, a completed course with an open
check-in and its survey link, and the demo clinicians to sign in as.

Idempotent: fixed demo client ids; a journey that exists (running or closed) is left as it is,
the demo clinicians are created once (their tokens kept in `<data dir>/demo/clinicians.json`,
beside the dev payload key file, so a rerun prints them again), and the check-in is started once.
The journeys start on the clinic's current protocol from the registry, as the API's starts do.

Two kinds of demo journey:

- **Driven now** (`_live`): started and decided through the journey workflow's `decide` update,
  as the API does, at the real time of the dev server. Everything up to "a dose scheduled" can be
  reached this way.
- **With a past** (`_with_a_past`): a dose given, an integration owed, a prescriber follow-up
  due, a course stopping after a withdrawal, a completed course. The pathway's rules are about
  real time (2 hours' monitoring after a dose, 24 hours between doses, a check-in 2 weeks after
  the course closed), the dev server's Temporal runs on real time, and no protocol may shorten
  them (`domain/protocol.py`'s bounds). So these histories are decided by the pathway's own
  rules (`domain.decide`, `domain.evolve`, with the engine's due items fired in time as the
  workflow's timers fire them) at times in the past, appended to the event store as one batch,
  and the journey's workflow is then started on their fold (`JourneyInput.carried`, the way a
  run continued as new begins): the store holds exactly what the workflow's state is the fold of,
  the read models follow the store as always, and Temporal's workflow (running for an open
  journey, completed at once for the closed one) answers the same view. What is not there: the
  messages those past decisions would have sent (nobody was waiting for them), and the past
  decisions as updates in the Temporal history (as after a continue-as-new, the run begins with
  the state).

The completed course closed 16 days ago, so its week-2 check-in is due; the follow-up sweep
itself (`FollowUpSweep`, what the daily schedule runs) starts it, once.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.messages import AppendRequest
from activities.store import to_new_event
from config.settings import Settings
from database import open_pool
from devstack.demo_journeys import (
    COMPLETED,
    Cast,
    DemoError,
    DemoJourney,
    Step,
    cast_of,
    command_of,
    demo_journeys,
    history,
    start_command,
)
from domain import Actor, Role, fold
from domain.commands import StartJourney
from domain.events import parse_event
from domain.followups import check_in_label
from domain.ids import DEFAULT_CLINIC, check_in_workflow_id
from domain.view import JourneyView
from eventstore import EventStore
from privacy.keys import load_key_ring
from privacy.links import survey_token
from projections.caseload_queries import finished_courses
from records.protocols import current_protocol
from records.tokens import clinician_of_token
from records.users import add_user, issue_token, list_users
from workflows.details import static_summary
from workflows.followups import FollowUpSweepWorkflow, SurveyStatus, SweepInput
from workflows.journey import JourneyWorkflow
from workflows.messages import Carried, DecisionOutcome, DecisionRequest, JourneyInput
from workflows.schedules import FOLLOW_UP_SWEEP

AUDIT_ACTOR = "dev:demo"  # who created the demo clinicians, in the access log
SWEEP_ID = f"{FOLLOW_UP_SWEEP}-demo"
HISTORY_RUN = "demo-history"  # the events' run_id: no workflow run decided them
WAIT_FOR_READ_MODEL = 60.0  # seconds: the projector puts the completed course in the caseload


# --- who to sign in as ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoClinician:
    role: Role
    name: str
    clinician_id: str
    token: str | None  # None: unknown here (created elsewhere); `carepath users rotate` gives one

    @property
    def actor(self) -> Actor:
        return Actor(id=self.clinician_id, role=self.role)


DEMO_CLINICIANS: tuple[tuple[Role, str], ...] = (
    (Role.THERAPIST, "Demo therapist"),
    (Role.PRESCRIBER, "Demo prescriber"),
    (Role.OPS, "Demo ops"),
)


def _tokens_file(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "demo" / "clinicians.json"


def _read_kept(path: Path) -> dict[str, dict[str, str]]:
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def _keep(path: Path, clinicians: Sequence[DemoClinician]) -> None:
    kept = {
        c.role.value: {"clinician_id": c.clinician_id, "token": c.token}
        for c in clinicians
        if c.token is not None
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(kept, out, indent=2)


async def demo_clinicians(pool: asyncpg.Pool, settings: Settings) -> list[DemoClinician]:
    """The demo's therapist, prescriber and ops, created once through `records.users` (audited
    as `dev:demo`), with a token that works now: the one kept from before while it works."""
    path = _tokens_file(settings)
    kept = _read_kept(path)
    found: list[DemoClinician] = []
    existing: list[Any] | None = None
    changed = False
    for role, name in DEMO_CLINICIANS:
        entry = kept.get(role.value) or {}
        token = entry.get("token")
        if token:
            who = await clinician_of_token(pool, token)
            if (
                who is not None
                and who.role is role
                and who.clinician_id == entry.get("clinician_id")
            ):
                found.append(DemoClinician(role, name, who.clinician_id, token))
                continue
        # Not kept (or no longer working): the clinician by name, else a new one.
        if existing is None:
            existing = await list_users(pool, DEFAULT_CLINIC, actor=AUDIT_ACTOR)
        same = [u for u in existing if u.role == role.value and u.display_name == name]
        if same:
            clinician_id = same[0].clinician_id
            token = await issue_token(pool, clinician_id, actor=AUDIT_ACTOR)
        else:
            clinician_id, token = await add_user(pool, name, role, actor=AUDIT_ACTOR)
        found.append(DemoClinician(role, name, clinician_id, token))
        changed = True
    if changed:
        _keep(path, found)
    return found


def _cast(clinicians: Sequence[DemoClinician]) -> Cast:
    by_role = {c.role: c.actor for c in clinicians}
    return Cast(by_role[Role.THERAPIST], by_role[Role.PRESCRIBER], by_role[Role.OPS])


# --- driven now -------------------------------------------------------------------------------


async def _live(
    client: Client, settings: Settings, journey: DemoJourney, start: StartJourney, now: datetime
) -> bool:
    try:
        handle = await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(start=start),
            id=journey.workflow_id,
            task_queue=settings.task_queue,
            # A demo journey that ran to its end (withdrawn) is not started again.
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=static_summary(start.client_id, start.journey_id),
        )
    except WorkflowAlreadyStartedError:
        return False
    await _drive(handle, journey.steps(now, cast_of(start)))
    return True


async def _drive(handle: WorkflowHandle[Any, Any], steps: Sequence[Step]) -> None:
    for n, step in enumerate(steps):
        decision_id = f"{handle.id}-demo-{n}"
        await handle.execute_update(
            "decide",
            DecisionRequest(command=command_of(step, decision_id)),
            id=decision_id,
            result_type=DecisionOutcome,
        )


# --- with a past ------------------------------------------------------------------------------


async def _with_a_past(
    client: Client,
    settings: Settings,
    store: EventStore,
    journey: DemoJourney,
    start: StartJourney,
    now: datetime,
) -> bool:
    if await _exists(client, journey.workflow_id):
        return False
    recorded = await store.read_stream(journey.journey_id)
    if recorded:  # stored by an earlier run that stopped before its workflow started
        state = fold(parse_event(r.data) for r in recorded)
        assert state is not None
        start = start.model_copy(update={"protocol": state.protocol})
    else:
        envelopes, state = history(start, journey.steps(now, cast_of(start)), now)
        request = AppendRequest(
            stream_id=journey.journey_id,
            expected_version=0,
            events=envelopes,
            workflow_id=journey.workflow_id,
            run_id=HISTORY_RUN,
        )
        events = [to_new_event(request, i) for i in range(len(envelopes))]
        await store.append(journey.journey_id, events, 0)
    try:
        await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(start=start, carried=Carried(state=state)),
            id=journey.workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=static_summary(start.client_id, start.journey_id),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


# --- the check-in -----------------------------------------------------------------------------


async def open_check_in(
    client: Client, settings: Settings, pool: asyncpg.Pool, within: float = WAIT_FOR_READ_MODEL
) -> str | None:
    """The completed course's week-2 check-in: started by the follow-up sweep (the workflow the
    daily schedule runs), once the caseload shows the course finished; its workflow id. None
    when the sweep does not start it (a demo seeded weeks ago: its time has passed)."""
    journey_id = f"j-{COMPLETED}"
    check_in = check_in_workflow_id(journey_id, check_in_label(2), DEFAULT_CLINIC)
    if await _exists(client, check_in):
        return check_in
    deadline = time.monotonic() + within
    while journey_id not in {c.journey_id for c in await finished_courses(pool)}:
        if time.monotonic() > deadline:
            raise DemoError(
                f"the completed demo course did not reach the caseload within {within:.0f} s "
                "(is the API, which runs the projections, up?)"
            )
        await asyncio.sleep(0.2)
    outcome = await client.execute_workflow(
        FollowUpSweepWorkflow.run,
        SweepInput(maintenance_reminders=settings.maintenance_reminders),
        id=SWEEP_ID,
        task_queue=settings.task_queue,
        execution_timeout=timedelta(minutes=5),
    )
    return check_in if check_in in outcome.check_ins_running else None


async def _is_open(client: Client, check_in: str) -> bool:
    handle = client.get_workflow_handle(check_in)
    status: SurveyStatus = await handle.query("survey", result_type=SurveyStatus)
    return status.open


def survey_url(settings: Settings, check_in: str) -> str | None:
    """The check-in's survey page, as the invitation links it (`activities/notify.py`)."""
    keys = load_key_ring(settings.payload_keys, settings.payload_key_file)
    if keys is None:
        return None
    base = (settings.survey_base_url or settings.api_url).rstrip("/")
    return f"{base}/s/{survey_token(keys, check_in)}"


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class DemoSeed:
    clinicians: list[DemoClinician]
    views: dict[str, JourneyView]  # client id -> the journey's view, from its workflow
    shows: dict[str, str]
    started: list[str] = field(default_factory=list)  # client ids started by this run
    check_in: str | None = None
    check_in_open: bool = False
    survey_url: str | None = None

    def table(self) -> str:
        lines = ["Demo journeys (client id, stage, status, what it shows):"]
        for client_id, view in self.views.items():
            status = view.status.value
            if view.closed_reason is not None:
                status += f" {view.closed_reason.value}"
            elif view.stopping is not None:
                status += " (stopping)"
            lines.append(
                f"  {client_id:<24} {view.stage.value:<21} {status:<18} {self.shows[client_id]}"
            )
        lines.append("Sign in as (API tokens; CAREPATH_API_TOKEN=... for the CLI):")
        for c in self.clinicians:
            token = c.token or f"(not kept here: carepath users rotate {c.clinician_id})"
            lines.append(f"  {c.role.value:<11} {c.clinician_id:<14} {token}")
        if self.survey_url is not None:
            state = "Open check-in" if self.check_in_open else "Check-in (closed now)"
            lines.append(f"{state} {self.check_in}, the client's survey page:")
            lines.append(f"  {self.survey_url}")
        return "\n".join(lines) + "\n"


async def seed_demo(client: Client, settings: Settings, now: datetime | None = None) -> DemoSeed:
    """Create what is missing of the demo (clinicians, journeys, the check-in); what it holds."""
    if settings.database_url is None:
        raise ValueError("the demo needs the database URL")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    pool = await open_pool(settings.database_url, min_size=1, max_size=2)
    try:
        protocol = (await current_protocol(pool, DEFAULT_CLINIC)).protocol
        clinicians = await demo_clinicians(pool, settings)
        cast = _cast(clinicians)
        store = EventStore(pool, max_event_bytes=settings.max_event_bytes)
        journeys = demo_journeys()
        started: list[str] = []
        for journey in journeys:
            start = start_command(journey, cast, protocol)
            if journey.past:
                made = await _with_a_past(client, settings, store, journey, start, now)
            else:
                made = await _live(client, settings, journey, start, now)
            if made:
                started.append(journey.client_id)
        check_in = await open_check_in(client, settings, pool)
        views = {
            j.client_id: await client.get_workflow_handle(j.workflow_id).query(
                "view", result_type=JourneyView
            )
            for j in journeys
        }
        return DemoSeed(
            clinicians=clinicians,
            views=views,
            shows={j.client_id: j.shows for j in journeys},
            started=started,
            check_in=check_in,
            check_in_open=check_in is not None and await _is_open(client, check_in),
            survey_url=survey_url(settings, check_in) if check_in else None,
        )
    finally:
        await pool.close()
