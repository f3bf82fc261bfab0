"""Terminated journeys are never ghosts: the reconcile sweep closes them in the store."""

from __future__ import annotations

import uuid

from temporalio.client import WorkflowExecutionStatus

from activities.messages import ReconcileInput, ReconcileOutcome
from database.pgtypes import Pool
from domain import fold, parse_event
from eventstore import EventStore
from projections import ProjectionRunner, all_projections
from tests.workflows.driver import JourneyDriver
from workflows.reconcile import ReconcileJourneysWorkflow


async def _sweep(journeys: JourneyDriver, pool: Pool, page_size: int = 200) -> ReconcileOutcome:
    await ProjectionRunner(pool, all_projections()).catch_up()
    outcome: ReconcileOutcome = await journeys.env.client.execute_workflow(
        ReconcileJourneysWorkflow.run,
        ReconcileInput(page_size=page_size),
        id=f"reconcile-{uuid.uuid4().hex[:8]}",
        task_queue=journeys.task_queue,
    )
    await ProjectionRunner(pool, all_projections()).catch_up()
    return outcome


async def _open_rows(pool: Pool) -> list[str]:
    rows = await pool.fetch("SELECT journey_id FROM caseload WHERE status <> 'closed'")
    return sorted(row["journey_id"] for row in rows)


async def test_a_terminated_journey_is_closed_and_a_running_one_is_left_alone(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    running = await journeys.start()
    await running.to_eligible()
    ghost = await journeys.start()
    await ghost.to_eligible()
    await ghost.handle.terminate(reason="ops pressed Terminate")

    outcome = await _sweep(journeys, db_pool, page_size=1)  # two pages
    assert outcome.closed == [ghost.journey_id]
    assert outcome.checked == 2
    records = await event_store.read_stream(ghost.journey_id)
    closed = parse_event(records[-1].data)
    assert closed.type == "journey_closed"
    assert (closed.reason.value, closed.detail) == ("ended_outside", "terminated")
    assert await _open_rows(db_pool) == [running.journey_id]
    notified = await db_pool.fetch(
        "SELECT template, recipient_role FROM notifications WHERE journey_id = $1",
        ghost.handle.id,
    )
    assert ("journey_ended_outside", "ops") in {tuple(r) for r in notified}

    # Idempotent: a second sweep finds nothing more to do and changes nothing.
    again = await _sweep(journeys, db_pool)
    assert again.closed == []
    assert len(await event_store.read_stream(ghost.journey_id)) == len(records)
    # The store's fold still says what the running journey's workflow says.
    state = await running.handle.query("state")
    stored = await event_store.read_stream(running.journey_id)
    folded = fold(parse_event(r.data) for r in stored)
    assert folded is not None and folded.version == state["version"]


async def test_a_journey_replaced_after_a_terminate_leaves_one_open_row(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    first = await journeys.start()
    await first.to_eligible()
    await first.handle.terminate(reason="started again by mistake")
    described = await first.handle.describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED
    second = await journeys.start(client_id=first.client_id)  # the same client, a new journey
    await second.to_eligible()

    outcome = await _sweep(journeys, db_pool)
    assert outcome.closed == [first.journey_id]
    closed = parse_event((await event_store.read_stream(first.journey_id))[-1].data)
    assert closed.type == "journey_closed" and closed.detail == "replaced"
    assert await _open_rows(db_pool) == [second.journey_id]
