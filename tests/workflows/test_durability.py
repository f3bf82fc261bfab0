"""Long journeys continue as new; decisions stay idempotent."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain import fold, parse_event
from eventstore import EventStore
from tests.workflows.driver import OPS, JourneyDriver
from workflows.journey import JourneyWorkflow


async def test_a_long_journey_continues_as_new_carrying_its_state(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start(decisions_per_run=4)
    first_run = (await j.handle.describe()).run_id
    await j.decide("pause", decision_id="pause-1")
    for n in range(5):
        await j.decide("resume", decision_id=f"resume-{n}")
        await j.decide("pause", decision_id=f"pause-{n + 2}")
    await asyncio.sleep(0.5)
    latest = journeys.env.client.get_workflow_handle(j.handle.id)
    assert (await latest.describe()).run_id != first_run
    # A decision from an earlier run is still recognised after continue-as-new.
    repeat = await j.decide("pause", decision_id="pause-6")
    assert repeat.events == ["journey_paused"]
    state = await latest.query(JourneyWorkflow.state)
    records = await event_store.read_stream(j.journey_id)
    assert state is not None and fold(parse_event(r.data) for r in records) == state
    assert state.version == len(records) == 12


async def test_the_same_decision_sent_at_once_applies_once(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    outcomes = await asyncio.gather(*(j.decide("pause", decision_id="same") for _ in range(5)))
    assert all(o == outcomes[0] for o in outcomes)
    records = await event_store.read_stream(j.journey_id)
    assert [r.type for r in records].count("journey_paused") == 1


async def test_a_client_may_start_a_new_journey_once_the_last_one_closed(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    first = await journeys.start(client_id="cl-returning")
    with pytest.raises(WorkflowAlreadyStartedError):
        await journeys.start(client_id="cl-returning")
    await first.decide("withdraw", OPS)
    await first.handle.result()
    second = await journeys.start(client_id="cl-returning")
    await second.decide("pause")
    assert second.journey_id != first.journey_id
    assert await event_store.stream_version(first.journey_id) == 2
    assert [r.type for r in await event_store.read_stream(second.journey_id)] == [
        "journey_started",
        "journey_paused",
    ]
