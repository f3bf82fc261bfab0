"""`carepath dev --demo`: a few journeys at different stages, so the UI is not empty.

Idempotent: fixed demo client ids; a journey already started is left as it is. The journeys
start on the clinic's current protocol from the registry, as the API's starts do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from config.settings import Settings
from database import open_pool
from domain import Actor, Command, Protocol, Role
from domain.commands import StartJourney
from domain.ids import DEFAULT_CLINIC, journey_workflow_id
from records.protocols import current_protocol
from workflows.details import static_summary
from workflows.journey import JourneyWorkflow
from workflows.messages import DecisionOutcome, DecisionRequest, JourneyInput

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
OPS = Actor(id="ops-demo", role=Role.OPS)
THERAPIST = Actor(id="th-demo", role=Role.THERAPIST)
PRESCRIBER = Actor(id="rx-demo", role=Role.PRESCRIBER)

Step = tuple[str, Actor, dict[str, Any]]


def _steps(now: datetime) -> dict[str, list[Step]]:
    screening: list[Step] = [
        (
            "record_screening",
            THERAPIST,
            {"instrument": "phq9", "answers": [2, 2, 1, 2, 1, 2, 1, 1, 0]},
        ),
        ("record_screening", THERAPIST, {"instrument": "gad7", "answers": [2, 1, 2, 1, 1, 2, 1]}),
        ("record_consent", THERAPIST, {"consent_version": "kap-2026-11", "signed_at": now}),
    ]
    eligible = [*screening, ("complete_consultation", THERAPIST, {"treatment_goals": ["mood"]})]
    referred = [*eligible, ("refer_to_prescriber", THERAPIST, {})]
    in_review = [
        *referred,
        ("schedule_prescriber_intake", PRESCRIBER, {"scheduled_at": now + timedelta(days=3)}),
    ]
    approved = [
        *in_review,
        ("approve_medication", PRESCRIBER, {"expires_at": now + timedelta(days=120)}),
        ("complete_preparation", THERAPIST, {}),
    ]
    scheduled = [
        *approved,
        (
            "schedule_dosing",
            THERAPIST,
            {"session_id": "demo-s1", "scheduled_at": now + timedelta(days=2)},
        ),
    ]
    return {
        "demo-consultation": screening,
        "demo-referral": referred,
        "demo-medication-review": in_review,
        "demo-dosing-scheduled": scheduled,
        "demo-safety-hold": [
            *approved,
            ("raise_safety_hold", THERAPIST, {"reason": "clinician_concern"}),
        ],
        "demo-paused": [*approved, ("pause", OPS, {"reason": "client_request"})],
        "demo-withdrawn": [*referred, ("withdraw", OPS, {"reason": "client_choice"})],
    }


async def _decide(handle: WorkflowHandle[Any, Any], n: int, step: Step) -> None:
    type_, actor, fields = step
    decision_id = f"{handle.id}-demo-{n}"
    command = COMMAND.validate_python(
        {"type": type_, "decision_id": decision_id, "actor": actor, **fields}
    )
    await handle.execute_update(
        "decide", DecisionRequest(command=command), id=decision_id, result_type=DecisionOutcome
    )


async def clinic_protocol(settings: Settings, clinic_id: str = DEFAULT_CLINIC) -> Protocol:
    """The clinic's current protocol from the registry, as the API pins it for a start."""
    if settings.database_url is None:
        raise ValueError("the demo journeys pin the clinic's protocol: set the database URL")
    pool = await open_pool(settings.database_url, min_size=1, max_size=1)
    try:
        return (await current_protocol(pool, clinic_id)).protocol
    finally:
        await pool.close()


async def seed_demo(client: Client, settings: Settings, now: datetime | None = None) -> int:
    """Start the demo journeys that do not exist yet, on the clinic's current protocol; the
    number started."""
    now = now or datetime.now(UTC)
    protocol = await clinic_protocol(settings)
    started = 0
    for client_id, steps in _steps(now).items():
        start = StartJourney(
            decision_id=f"start-{client_id}",
            actor=OPS,
            journey_id=f"j-{client_id}",
            client_id=client_id,
            therapist_id=THERAPIST.id,
            prescriber_id=PRESCRIBER.id,
            protocol=protocol,
        )
        try:
            handle = await client.start_workflow(
                JourneyWorkflow.run,
                JourneyInput(start=start),
                id=journey_workflow_id(client_id, start.clinic_id),
                task_queue=settings.task_queue,
                static_summary=static_summary(client_id, start.journey_id),
            )
        except WorkflowAlreadyStartedError:
            continue
        await _run(handle, steps)
        started += 1
    return started


async def _run(handle: WorkflowHandle[Any, Any], steps: Sequence[Step]) -> None:
    for n, step in enumerate(steps):
        await _decide(handle, n, step)
