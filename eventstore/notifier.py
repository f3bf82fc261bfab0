"""Wakes the log's readers after appends, without slowing the appends down.

A NOTIFY inside the append's transaction would make commits take turns: PostgreSQL
holds a server-wide lock from a notifying transaction's commit through its WAL flush,
so concurrent appends could no longer share a flush. Instead each written append marks
the process's notifier, which waits ``delay`` seconds, then sends one ``NOTIFY`` for
every append marked meanwhile, on a pool connection of its own. Readers also
poll, so a notification lost in a crash delays an event by one poll, never loses it.
"""

from __future__ import annotations

import asyncio

import structlog

from database.pgtypes import Pool
from eventstore.queries import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

_NOTIFY_SQL = "SELECT pg_notify($1, '')"


class Notifier:
    """Coalesces wake-ups: at most one ``NOTIFY`` per ``delay``, none while nothing is marked."""

    def __init__(self, pool: Pool, delay: float = 0.02) -> None:
        self._pool = pool
        self._delay = delay
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # notifications sent, for tests and diagnostics

    def mark(self) -> None:
        """Something was committed: readers should look."""
        self._dirty = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Wait until every mark so far is covered by a sent (or failed) notification."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._dirty:
                await asyncio.sleep(self._delay)
                self._dirty = False
                try:
                    async with self._pool.acquire() as conn:
                        await conn.execute(_NOTIFY_SQL, NOTIFY_CHANNEL)
                    self.sent += 1
                except Exception as error:  # asyncpg's, the OS's, a dying pool's: any of them
                    # Readers poll too: an event is delayed by one poll, never lost.
                    log.warning("eventstore.notify_failed", error=type(error).__name__)
                    return
        finally:
            self._task = None
