"""``EventStore``'s stream read and its row decoding; the channel that wakes the log's readers.

The read of the whole log is ``eventstore.log``'s."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from eventstore.errors import EventStoreError
from eventstore.types import RecordedEvent

NOTIFY_CHANNEL = "carepath_events"

_COLUMNS = """
    event_id, event_type, schema_version, data, metadata, stream_id, stream_version,
    global_position, transaction_id, recorded_at
"""

READ_STREAM_SQL = f"""
SELECT {_COLUMNS}
FROM events
WHERE stream_id = $1 AND stream_version >= $2
ORDER BY stream_version
LIMIT $3
"""


def to_events(rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
    """Rows of ``_COLUMNS`` as events. The schema guarantees the types, so no re-validation."""
    events = []
    for row in rows:
        data, metadata = row["data"], row["metadata"]
        if not (isinstance(data, dict) and isinstance(metadata, dict)):
            raise EventStoreError(
                "jsonb came back as text: create the pool with eventstore.open_pool, "
                "or pass init=eventstore.init_connection"
            )
        events.append(
            RecordedEvent.model_construct(
                event_id=row["event_id"],
                type=row["event_type"],
                schema_version=row["schema_version"],
                data=data,
                metadata=metadata,
                stream_id=row["stream_id"],
                stream_version=row["stream_version"],
                global_position=row["global_position"],
                transaction_id=row["transaction_id"],
                recorded_at=row["recorded_at"],
            )
        )
    return events
