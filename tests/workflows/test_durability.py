"""Long journeys continue as new; decisions stay idempotent."""

from __future__ import annotations

import asyncio

from domain import fold, parse_event
from eventstore import EventStore
from tests.workflows.driver import JourneyDriver
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
    records = await event_store.read_stream(j.handle.id)
    assert state is not None and fold(parse_event(r.data) for r in records) == state
    assert state.version == len(records) == 12


async def test_the_same_decision_sent_at_once_applies_once(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    j = await journeys.start()
    outcomes = await asyncio.gather(*(j.decide("pause", decision_id="same") for _ in range(5)))
    assert all(o == outcomes[0] for o in outcomes)
    records = await event_store.read_stream(j.handle.id)
    assert [r.type for r in records].count("journey_paused") == 1
