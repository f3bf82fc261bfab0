"""A journey never wedges: what the store refuses for good is answered, undone and shown to ops.

The refusals come from the event store itself (its own `InvalidEventError`, or a real
`ConcurrencyError` when another writer moved the stream on); the store stays the truth.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError

from activities.messages import AppendOutcome, AppendRequest
from activities.store import StoreActivities
from database.pgtypes import Pool
from domain import EVENT_ADAPTER, RejectionCode, fold, parse_event
from domain.events import JourneyPaused
from eventstore import EventStore, InvalidEventError, NewEvent
from tests.workflows.driver import COMMAND, OPS, THERAPIST, Journey, JourneyDriver, Rejected
from workflows.fingerprints import decision_fingerprint
from workflows.journey import JourneyWorkflow


class RefusingStore(StoreActivities):
    """The real store, which refuses (as it does malformed input) batches holding given types."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.refuse: set[str] = set()

    @activity.defn(name="append_events")
    async def append_events(self, request: AppendRequest) -> AppendOutcome:
        refused = {e.event.type for e in request.events} & self.refuse
        if refused:
            raise InvalidEventError(f"refused event type {sorted(refused)[0]}")
        return await StoreActivities.append_events(self, request)


@pytest.fixture
def store_activities(db_pool: Pool) -> StoreActivities:
    return RefusingStore(EventStore(db_pool))


async def _stored_fold_is_state(j: Journey, event_store: EventStore) -> None:
    records = await event_store.read_stream(j.journey_id)
    state = await j.handle.query(JourneyWorkflow.state)
    assert state is not None
    assert fold(parse_event(r.data) for r in records) == state


async def _templates(pool: Pool, journey: Journey) -> list[str]:
    rows = await pool.fetch(
        "SELECT template FROM notifications WHERE journey_id = $1", journey.handle.id
    )
    return [row["template"] for row in rows]


async def _eventually(check) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _details(j: Journey) -> str:
    metadata = await j.handle.query("__temporal_workflow_metadata")
    return str(metadata.current_details)


async def test_a_refused_decision_is_answered_undone_shown_and_the_journey_goes_on(
    journeys: JourneyDriver,
    event_store: EventStore,
    store_activities: RefusingStore,
    db_pool: Pool,
) -> None:
    j = await journeys.start()
    await j.to_eligible()
    before = await event_store.stream_version(j.journey_id)

    store_activities.refuse = {"journey_paused"}
    with pytest.raises(Rejected) as refused:
        await j.decide("pause", decision_id="d-pause")
    assert refused.value.rejection.code is RejectionCode.NOT_RECORDED
    assert "ops are alerted" in refused.value.rejection.reason

    # The workflow went back to what is stored, and says so where ops look.
    assert await event_store.stream_version(j.journey_id) == before
    view = await j.handle.query(JourneyWorkflow.view)
    assert view.status.value == "active" and view.version == before
    await _stored_fold_is_state(j, event_store)
    assert "NOT RECORDED" in await _details(j)

    async def ops_alerted() -> bool:
        return "decision_not_recorded" in await _templates(db_pool, j)

    await _eventually(ops_alerted)

    # The store accepts again: the decision, made again, is recorded once.
    store_activities.refuse = set()
    outcome = await j.decide("pause", decision_id="d-pause-again")
    assert outcome.events == ["journey_paused"]
    records = await event_store.read_stream(j.journey_id)
    assert [r.type for r in records].count("journey_paused") == 1
    await _stored_fold_is_state(j, event_store)
    assert "NOT RECORDED" in await _details(j)  # the last refusal stays in view
    await j.decide("resume")
    await _stored_fold_is_state(j, event_store)


async def test_a_stream_moved_on_by_another_writer_is_read_back_not_overwritten(
    journeys: JourneyDriver, event_store: EventStore
) -> None:
    """What a reset run meets: the store holds events the workflow has not folded."""
    j = await journeys.start()
    await j.to_eligible()
    version = await event_store.stream_version(j.journey_id)
    foreign = JourneyPaused(
        occurred_at=await j.now(), actor=OPS, decision_id="d-elsewhere", reason="client_request"
    )
    await event_store.append(
        j.journey_id,
        [
            NewEvent(
                event_id=uuid.uuid4(),
                type=foreign.type,
                data=EVENT_ADAPTER.dump_python(foreign, mode="json"),
                metadata={},
            )
        ],
        version,
    )

    with pytest.raises(Rejected) as refused:
        await j.decide("refer_to_prescriber")
    assert refused.value.rejection.code is RejectionCode.NOT_RECORDED
    await _stored_fold_is_state(j, event_store)
    view = await j.handle.query(JourneyWorkflow.view)
    assert view.status.value == "paused"  # the stored pause, folded in

    await j.decide("resume")
    await j.decide("refer_to_prescriber")
    await _stored_fold_is_state(j, event_store)


async def test_a_start_the_store_refuses_fails_the_run_and_stores_nothing(
    journeys: JourneyDriver, event_store: EventStore, store_activities: RefusingStore
) -> None:
    store_activities.refuse = {"journey_started"}
    j = await journeys.start()
    with pytest.raises(WorkflowFailureError) as failed:
        await j.handle.result()
    assert "could not be recorded" in str(failed.value.cause)
    assert await event_store.stream_version(j.journey_id) == 0


async def test_a_decision_id_reused_for_another_decision_is_refused(
    journeys: JourneyDriver,
) -> None:
    """Within a run Temporal answers a repeated update id with the first outcome, whose
    fingerprint the API compares; across runs (continue-as-new) the workflow refuses it."""
    j = await journeys.start(decisions_per_run=2)
    await j.to_eligible()
    first = await j.decide("pause", decision_id="d-once")
    same = COMMAND.validate_python({"type": "pause", "decision_id": "d-once", "actor": THERAPIST})
    assert first.fingerprint == decision_fingerprint(same)
    await j.decide("resume")
    await j.decide("pause")  # the journey has continued as new since d-once
    with pytest.raises(Rejected) as refused:
        await j.decide("resume", decision_id="d-once")
    assert refused.value.rejection.code is RejectionCode.DECISION_ID_REUSED
    with pytest.raises(Rejected) as by_other:  # same content, another clinician
        await j.decide("pause", OPS, decision_id="d-once")
    assert by_other.value.rejection.code is RejectionCode.DECISION_ID_REUSED
    again = await j.decide("pause", decision_id="d-once")  # the same decision: its answer
    assert again.events == first.events == ["journey_paused"]
    view = await j.handle.query(JourneyWorkflow.view)
    assert view.status.value == "paused"


async def test_a_cancellation_from_the_ui_closes_the_journey_with_an_event(
    journeys: JourneyDriver, event_store: EventStore, db_pool: Pool
) -> None:
    j = await journeys.start()
    await j.to_eligible()
    await j.decide("refer_to_prescriber")
    await j.handle.cancel()
    with pytest.raises(WorkflowFailureError) as ended:
        await j.handle.result()
    assert isinstance(ended.value.cause, CancelledError)

    records = await event_store.read_stream(j.journey_id)
    last = parse_event(records[-1].data)
    assert last.type == "journey_closed"
    assert last.reason.value == "ended_outside" and last.detail == "cancelled"
    assert last.actor.role.value == "system"
    await _stored_fold_is_state(j, event_store)
    templates = await _templates(db_pool, j)
    assert "journey_ended_outside" in templates
    # Closed: nothing is due any more, so no timer can fire for it.
    assert await j.handle.query(JourneyWorkflow.due_items) == []
