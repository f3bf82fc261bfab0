"""Following the global log: LISTEN/NOTIFY to wake up, polling so nothing is ever lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType
from typing import Any

from asyncpg.exceptions import AdminShutdownError, ConnectionDoesNotExistError, InterfaceError
from asyncpg.pool import PoolConnectionProxy

from database.pgtypes import Pool
from eventstore import queries
from eventstore.types import Checkpoint, RecordedEvent

# What a dropped or terminated connection raises.
_CONNECTION_LOST = (ConnectionDoesNotExistError, AdminShutdownError, OSError)


def _is_gone(conn: PoolConnectionProxy[Any]) -> bool:
    """Whether the connection has closed (the pool takes a closed one back at once)."""
    try:
        return conn.is_closed()
    except InterfaceError:  # "released back to the pool"
        return True


class Subscription:
    """Async iterator over every event after a checkpoint, in ``read_all`` order, forever.

    ::

        async with store.subscribe(checkpoint) as events:
            async for event in events:
                ...  # then save event.checkpoint to resume from it later

    It holds one pool connection, which LISTENs on ``carepath_events`` and runs the
    reads. Cancelling the consuming task, or leaving the ``async with``, releases it.
    """

    def __init__(
        self, pool: Pool, after: Checkpoint, *, poll_interval: float, batch_size: int
    ) -> None:
        if poll_interval <= 0 or batch_size < 1:
            raise ValueError("poll_interval must be positive and batch_size at least 1")
        self._pool = pool
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._checkpoint = after  # of the last event handed out
        self._read_from = after  # of the last event fetched
        self._pending: deque[RecordedEvent] = deque()
        self._wake = asyncio.Event()
        self._conn: PoolConnectionProxy[Any] | None = None
        self._closed = False

    @property
    def checkpoint(self) -> Checkpoint:
        """Where this subscription is: just after the last event it yielded."""
        return self._checkpoint

    async def __aenter__(self) -> Subscription:
        await self._connection()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> RecordedEvent:
        if self._closed:
            raise StopAsyncIteration
        while not self._pending:
            await self._fetch_or_wait()
        event = self._pending.popleft()
        self._checkpoint = event.checkpoint
        return event

    async def aclose(self) -> None:
        """Stop listening and give the connection back to the pool."""
        self._closed = True
        await self._drop_connection()

    async def _fetch_or_wait(self) -> None:
        conn = await self._connection()
        # Clear before reading: a notification that lands during the read wakes the wait.
        self._wake.clear()
        try:
            events = await queries.read_all(conn, self._read_from, self._batch_size)
        except (InterfaceError, *_CONNECTION_LOST):
            if not _is_gone(conn):
                raise
            # Reconnect after a pause; reading resumes from the same checkpoint.
            await self._drop_connection()
            await asyncio.sleep(self._poll_interval)
            return
        if events:
            self._pending.extend(events)
            self._read_from = events[-1].checkpoint
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_interval):
                await self._wake.wait()

    async def _connection(self) -> PoolConnectionProxy[Any]:
        if self._closed:
            raise RuntimeError("the subscription is closed")
        if self._conn is not None and _is_gone(self._conn):
            await self._drop_connection()
        if self._conn is None:
            conn = await self._pool.acquire()
            try:
                await conn.add_listener(queries.NOTIFY_CHANNEL, self._on_notify)
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn = conn
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not _is_gone(conn):
                await conn.remove_listener(queries.NOTIFY_CHANNEL, self._on_notify)
        except _CONNECTION_LOST:
            pass
        finally:
            await self._pool.release(conn)  # does nothing if the pool already took it back

    def _on_notify(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._wake.set()
