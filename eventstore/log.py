"""The global log, read gap-safe: every stream's events in the one order every reader sees.

This is the only read of the whole log (``READ_LOG_SQL``). ``fetch_log`` returns its rows as they
come, for readers that decode only what they need (the projections: ``projections.log``);
``read_log`` returns them as ``RecordedEvent``. ``eventstore.follower.follow_log`` says when to
read again.

Gap-safe: a reader that resumes from each event's checkpoint sees every committed event exactly
once. Ordering by ``global_position`` alone is unsafe: positions are handed out when rows are
inserted, not when they commit, so transaction A can take position 10, then transaction B takes
11 and commits first; a reader that saw 11 and checkpointed there would never see 10, which
becomes visible only when A commits. So events are ordered by (writing transaction id, position)
and only events of transactions older than the reading snapshot's xmin are returned. Every
transaction below xmin has finished, and every transaction that has yet to commit has an id at or
above it, so nothing can ever appear behind a checkpoint. The price is that an event waits until
every older writing transaction has ended, on the whole server (xids are server-wide, so other
databases count too): keep transactions short.
"""

from __future__ import annotations

import json

import asyncpg

from database.pgtypes import Connection, Pool
from eventstore.errors import InvalidEventError
from eventstore.types import Checkpoint, RecordedEvent

# `data` comes as text, for the reader to decode if and when it needs it; `metadata` too, but
# only if $4 asks for it (the server's serialising it would cost lean readers a third of their
# read), else NULL. The fields the projections use are extracted by the server, so they decode
# neither: the conventional metadata (see NewEvent) and the data's `occurred_at`, each NULL
# where absent.
READ_LOG_SQL = """
SELECT event_id, event_type, schema_version, stream_id, stream_version, global_position,
       transaction_id, recorded_at, data::text AS data,
       CASE WHEN $4::boolean THEN metadata::text END AS metadata,
       data->>'occurred_at' AS occurred_at,
       metadata->>'decision_id' AS decision_id, metadata->>'decision_type' AS decision_type,
       metadata->>'actor_id' AS actor_id, metadata->>'actor_role' AS actor_role
FROM events
WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position
LIMIT $3
"""


async def fetch_log(
    db: Connection | Pool, after: Checkpoint, limit: int, *, metadata: bool = False
) -> list[asyncpg.Record]:
    """Up to ``limit`` rows of ``READ_LOG_SQL`` strictly after ``after``, gap-safe; with the
    whole ``metadata`` (as text) only if asked.

    Each row's (``transaction_id``, ``global_position``) is the checkpoint that resumes after it.
    On a connection in a transaction, the read is part of it.
    """
    if limit < 1:
        raise InvalidEventError("limit must be 1 or more")
    rows: list[asyncpg.Record] = await db.fetch(
        READ_LOG_SQL, after.transaction_id, after.global_position, limit, metadata
    )
    return rows


async def read_log(db: Connection | Pool, after: Checkpoint, limit: int) -> list[RecordedEvent]:
    """Up to ``limit`` events from every stream strictly after ``after``, gap-safe, in the
    log's order. Resume from the last one's ``checkpoint``."""
    return [recorded_event(row) for row in await fetch_log(db, after, limit, metadata=True)]


def recorded_event(row: asyncpg.Record) -> RecordedEvent:
    """A row of ``READ_LOG_SQL`` read with its metadata as a ``RecordedEvent``. The schema
    guarantees the types, so no re-validation."""
    return RecordedEvent.model_construct(
        event_id=row["event_id"],
        type=row["event_type"],
        schema_version=row["schema_version"],
        data=json.loads(row["data"]),
        metadata=json.loads(row["metadata"]),
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        global_position=row["global_position"],
        transaction_id=row["transaction_id"],
        recorded_at=row["recorded_at"],
    )
