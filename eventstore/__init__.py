"""Carepath's event store: append-only streams of events in PostgreSQL (asyncpg)."""

from eventstore.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    InvalidEventError,
    PayloadTooLargeError,
)
from eventstore.follower import follow_log
from eventstore.log import fetch_log, read_log
from eventstore.queries import NOTIFY_CHANNEL
from eventstore.store import EventStore
from eventstore.types import AppendResult, Checkpoint, NewEvent, RecordedEvent

__all__ = [
    "NOTIFY_CHANNEL",
    "AppendResult",
    "Checkpoint",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventStore",
    "EventStoreError",
    "InvalidEventError",
    "NewEvent",
    "PayloadTooLargeError",
    "RecordedEvent",
    "fetch_log",
    "follow_log",
    "read_log",
]
