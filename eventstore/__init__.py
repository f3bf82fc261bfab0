"""Carepath's event store: append-only streams of events in PostgreSQL (asyncpg)."""

from eventstore.clients import Client, erase_client, get_client, upsert_client
from eventstore.codec import init_connection
from eventstore.errors import (
    ClientErasedError,
    ConcurrencyError,
    DuplicateEventError,
    EventStoreError,
    InvalidEventError,
    MigrationError,
    PayloadTooLargeError,
)
from eventstore.migrations import migrate
from eventstore.pool import create_pool, open_pool
from eventstore.queries import NOTIFY_CHANNEL
from eventstore.server import database_url, run_migrations
from eventstore.store import EventStore
from eventstore.subscription import Subscription
from eventstore.types import AppendResult, Checkpoint, NewEvent, RecordedEvent

__all__ = [
    "NOTIFY_CHANNEL",
    "AppendResult",
    "Checkpoint",
    "Client",
    "ClientErasedError",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventStore",
    "EventStoreError",
    "InvalidEventError",
    "MigrationError",
    "NewEvent",
    "PayloadTooLargeError",
    "RecordedEvent",
    "Subscription",
    "create_pool",
    "database_url",
    "erase_client",
    "get_client",
    "init_connection",
    "migrate",
    "open_pool",
    "run_migrations",
    "upsert_client",
]
