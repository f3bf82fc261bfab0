"""Errors raised by the event store.

Messages name ids, types and versions only: event data is health data and never
goes into an exception message (these end up in logs and Temporal histories).
"""

from __future__ import annotations

from uuid import UUID


class EventStoreError(Exception):
    """Base class of every error the event store raises on purpose."""


class ConcurrencyError(EventStoreError):
    """The stream was not at the version the caller expected; nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected version {expected}; "
            "nothing was written"
        )


class DuplicateEventError(EventStoreError):
    """An event id in the batch is already stored with other content or at another place."""

    def __init__(self, event_id: UUID, reason: str) -> None:
        self.event_id = event_id
        self.reason = reason
        super().__init__(f"event {event_id} is already stored {reason}; nothing was written")


class InvalidEventError(EventStoreError, ValueError):
    """The append (or read) request is malformed; nothing was written."""


class PayloadTooLargeError(InvalidEventError):
    """One event's encoded data and metadata exceed the configured limit."""

    def __init__(self, event_id: UUID, event_type: str, size: int, limit: int) -> None:
        self.event_id = event_id
        self.event_type = event_type
        self.size = size
        self.limit = limit
        super().__init__(
            f"event {event_id} (type {event_type!r}) encodes to {size} bytes, "
            f"over the limit of {limit} bytes; nothing was written"
        )
