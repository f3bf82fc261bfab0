"""A retried append (the answer lost after the commit) neither duplicates nor loses events."""

from __future__ import annotations

import pytest
from temporalio import activity

from activities.messages import AppendOutcome, AppendRequest
from activities.store import StoreActivities
from database.pgtypes import Pool
from domain import fold, parse_event
from eventstore import EventStore
from tests.workflows.driver import JourneyDriver
from workflows.journey import JourneyWorkflow


class AnswerLostStore(StoreActivities):
    """Appends, then fails as if the answer were lost: Temporal retries the activity."""

    def __init__(self, store: EventStore, failures: int) -> None:
        super().__init__(store)
        self.failures = failures
        self.attempts = 0

    @activity.defn(name="append_events")
    async def append_events(self, request: AppendRequest) -> AppendOutcome:
        self.attempts += 1
        outcome = await StoreActivities.append_events(self, request)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("connection lost after commit")
        return outcome


@pytest.fixture
def store_activities(db_pool: Pool) -> StoreActivities:
    return AnswerLostStore(EventStore(db_pool), failures=2)


async def test_a_retried_append_neither_duplicates_nor_loses_events(
    journeys: JourneyDriver, event_store: EventStore, store_activities: AnswerLostStore
) -> None:
    j = await journeys.start()
    await j.to_eligible()
    assert store_activities.attempts > store_activities.failures == 0
    records = await event_store.read_stream(j.journey_id)
    assert len({r.event_id for r in records}) == len(records)
    state = await j.handle.query(JourneyWorkflow.state)
    assert state is not None and fold(parse_event(r.data) for r in records) == state
