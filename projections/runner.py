"""Running projections: catch up from the checkpoint, follow the log live, rebuild from zero."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Sequence
from typing import Any, Protocol

from eventstore import NOTIFY_CHANNEL, Checkpoint, EventStore, RecordedEvent
from eventstore.pgtypes import Pool

Conn = Any  # an asyncpg connection (or pool proxy) inside a transaction


class Projection(Protocol):
    name: str
    tables: Sequence[str]  # emptied by a rebuild

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        """Apply a batch, in order, inside the caller's transaction."""


_CHECKPOINT = """
SELECT transaction_id::text::bigint AS transaction_id, global_position
  FROM projection_checkpoints WHERE name = $1
"""
_SAVE = """
INSERT INTO projection_checkpoints (name, transaction_id, global_position, updated_at)
VALUES ($1, $2::text::xid8, $3, now())
ON CONFLICT (name) DO UPDATE
   SET transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position,
       updated_at = now()
"""


class ProjectionRunner:
    def __init__(self, pool: Pool, projection: Projection, *, batch_size: int = 1000) -> None:
        self._pool = pool
        self._store = EventStore(pool)
        self.projection = projection
        self._batch_size = batch_size
        self._lock_key = zlib.crc32(f"projection:{projection.name}".encode())

    async def checkpoint(self) -> Checkpoint:
        row = await self._pool.fetchrow(_CHECKPOINT, self.projection.name)
        if row is None:
            return Checkpoint.start()
        return Checkpoint(
            transaction_id=row["transaction_id"], global_position=row["global_position"]
        )

    async def step(self) -> int:
        """Apply one batch after the checkpoint; the number of events applied."""
        async with self._pool.acquire() as conn, conn.transaction():
            # One runner per projection at a time, across processes.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            row = await conn.fetchrow(_CHECKPOINT, self.projection.name)
            after = (
                Checkpoint(
                    transaction_id=row["transaction_id"], global_position=row["global_position"]
                )
                if row
                else Checkpoint.start()
            )
            events = await self._store.read_all(after, limit=self._batch_size)
            if not events:
                return 0
            await self.projection.apply(conn, events)
            last = events[-1].checkpoint
            await conn.execute(
                _SAVE, self.projection.name, str(last.transaction_id), last.global_position
            )
            return len(events)

    async def catch_up(self) -> int:
        """Apply everything committed so far; the number of events applied."""
        total = 0
        while (applied := await self.step()) > 0:
            total += applied
        return total

    async def rebuild(self) -> int:
        """Empty the projection's tables and its checkpoint, then catch up from zero."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            for table in self.projection.tables:
                await conn.execute(f"TRUNCATE {table}")
            await conn.execute(
                "DELETE FROM projection_checkpoints WHERE name = $1", self.projection.name
            )
        return await self.catch_up()

    async def follow(self, *, poll_interval: float = 1.0) -> None:
        """Keep up with the log until cancelled: woken by NOTIFY, polling in case one is lost."""
        wake = asyncio.Event()

        def on_notify(*_: object) -> None:
            wake.set()

        async with self._pool.acquire() as listener:
            await listener.add_listener(NOTIFY_CHANNEL, on_notify)
            try:
                while True:
                    wake.clear()
                    await self.catch_up()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=poll_interval)
            finally:
                await listener.remove_listener(NOTIFY_CHANNEL, on_notify)


def all_projections() -> list[Projection]:
    from projections.audit import AuditProjection
    from projections.caseload import CaseloadProjection
    from projections.outcomes import OutcomesProjection

    return [CaseloadProjection(), AuditProjection(), OutcomesProjection()]
