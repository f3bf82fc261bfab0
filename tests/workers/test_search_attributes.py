"""Ops find journeys in the Temporal UI by search attributes that follow the state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from database.pgtypes import Pool
from domain import Actor, Command, Role, is_overdue
from domain.commands import StartJourney
from domain.ids import journey_workflow_id
from tests.temporal import terminate_if_running
from workers.worker import build_worker
from workflows import search_attributes as sa
from workflows.journey import JourneyWorkflow
from workflows.messages import DecisionOutcome, DecisionRequest, JourneyInput

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
OPS = Actor(id="ops-1", role=Role.OPS)
TH = Actor(id="th-sa", role=Role.THERAPIST)
RX = Actor(id="rx-sa", role=Role.PRESCRIBER)


async def decide(handle: WorkflowHandle[Any, Any], type_: str, actor: Actor, **fields: Any) -> None:
    decision_id = f"d-{uuid.uuid4().hex[:10]}"
    command = COMMAND.validate_python(
        {"type": type_, "decision_id": decision_id, "actor": actor, **fields}
    )
    await handle.execute_update(
        "decide", DecisionRequest(command=command), id=decision_id, result_type=DecisionOutcome
    )


async def assert_attributes_match_state(handle: WorkflowHandle[Any, Any]) -> None:
    state = await handle.query(JourneyWorkflow.state)
    assert state is not None
    found = (await handle.describe()).typed_search_attributes
    expected = sa.values_for(state, is_overdue(state, datetime.now(UTC)))
    for update in expected:
        value = getattr(update, "value", None)
        assert found.get(update.key) == value, update.key.name


async def test_search_attributes_follow_every_decision(
    dev_server: WorkflowEnvironment, db_pool: Pool
) -> None:
    queue = f"sa-{uuid.uuid4().hex[:8]}"
    client_id = f"cl-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    async with build_worker(dev_server.client, db_pool, Settings(task_queue=queue)):
        start = StartJourney(
            decision_id=f"s-{client_id}",
            actor=OPS,
            journey_id=f"j-{client_id}",
            client_id=client_id,
            therapist_id=TH.id,
            prescriber_id=RX.id,
        )
        handle = await dev_server.client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(start=start),
            id=journey_workflow_id(client_id),
            task_queue=queue,
        )
        steps: list[tuple[str, Actor, dict[str, Any]]] = [
            ("record_screening", TH, {"instrument": "phq9", "answers": [1] * 8 + [0]}),
            ("record_screening", TH, {"instrument": "gad7", "answers": [1] * 7}),
            ("record_consent", TH, {"consent_version": "v3", "signed_at": now}),
            ("complete_consultation", TH, {"treatment_goals": ["g"]}),
            ("refer_to_prescriber", TH, {}),
            ("schedule_prescriber_intake", RX, {"scheduled_at": now + timedelta(days=2)}),
            ("approve_medication", RX, {"expires_at": now + timedelta(days=90)}),
            ("raise_safety_hold", TH, {}),
        ]
        await assert_attributes_match_state(handle)
        for type_, actor, fields in steps:
            await decide(handle, type_, actor, **fields)
            await assert_attributes_match_state(handle)
        found = (await handle.describe()).typed_search_attributes
        assert found.get(sa.STATUS) == "safety_hold" and found.get(sa.DOSES_AUTHORIZED) == 2
        # Ops' saved query from docs/operations.md finds it (visibility is eventually consistent).
        query = f'CarepathStatus = "safety_hold" AND CarepathTherapist = "{TH.id}"'
        for _ in range(50):
            ids = [w.id async for w in dev_server.client.list_workflows(query)]
            if handle.id in ids:
                break
            await asyncio.sleep(0.1)
        assert handle.id in ids
        # Ops move the client to another therapist: the UI finds it under the new one.
        await decide(handle, "reassign_clinician", OPS, role="therapist", clinician_id="th-sa2")
        await assert_attributes_match_state(handle)
        found = (await handle.describe()).typed_search_attributes
        assert found.get(sa.THERAPIST) == "th-sa2"
        await terminate_if_running(handle)
