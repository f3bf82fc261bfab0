"""Appending a journey's events to the event store: idempotent on the workflow-made event ids."""

from __future__ import annotations

from uuid import UUID

from temporalio import activity

from activities.messages import (
    AppendOutcome,
    AppendRequest,
    EventEnvelope,
    ReadRequest,
    StoredEvents,
)
from domain import EVENT_ADAPTER, parse_event
from eventstore import EventStore, NewEvent


def to_new_event(request: AppendRequest, index: int) -> NewEvent:
    envelope = request.events[index]
    event = envelope.event
    data = EVENT_ADAPTER.dump_python(event, mode="json")
    metadata = {
        "actor_id": event.actor.id,
        "actor_role": event.actor.role.value,
        "decision_id": event.decision_id,
        "decision_type": envelope.decision_type,
        "causation_id": event.decision_id,
        "correlation_id": request.workflow_id,
        "workflow_id": request.workflow_id,
        "run_id": request.run_id,
        "occurred_at": event.occurred_at.isoformat(),
    }
    return NewEvent(
        event_id=UUID(envelope.event_id),
        type=event.type,
        schema_version=event.schema_version,
        data=data,
        metadata=metadata,
    )


class StoreActivities:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    @property
    def store(self) -> EventStore:
        return self._store

    @activity.defn(name="append_events")
    async def append_events(self, request: AppendRequest) -> AppendOutcome:
        events = [to_new_event(request, i) for i in range(len(request.events))]
        result = await self._store.append(request.stream_id, events, request.expected_version)
        activity.logger.info(
            "events appended",
            extra={
                "count": len(events),
                "stream_version": result.last_version,
                "written": result.written,
            },
        )
        return AppendOutcome(stream_version=result.last_version, written=result.written)

    @activity.defn(name="read_events")
    async def read_events(self, request: ReadRequest) -> StoredEvents:
        """The stream's events after a version, upcast: what the workflow folds to catch up."""
        recorded = await self._store.read_stream(
            request.stream_id, from_version=request.after_version + 1
        )
        return StoredEvents(
            events=[
                EventEnvelope(
                    event_id=str(event.event_id),
                    stream_version=event.stream_version,
                    decision_type=event.metadata.get("decision_type"),
                    event=parse_event(event.data),
                )
                for event in recorded
            ]
        )
