"""Concurrent appends to different streams, written together: one statement per group.

An append is written at once while fewer than ``max_statements`` are in flight; beyond
that it waits in a queue, and each writer that comes free takes what is waiting
(distinct streams, in arrival order) and writes it with one plain ``INSERT``, so that
concurrent callers share round trips, statement overhead and WAL flushes. Large appends
are batches already and are always written alone. Every
append in a group succeeds or fails on its own: the statement inserts an append's rows
only if its stream is at the expected version, and reports which rows it wrote. A unique
violation (an occupied version, a stored event id), or any other statement error, fails the
whole statement; then every append of the group is judged on its own (``EventStore``'s
judging statement), so a conflict in one never fails another.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from database.pgtypes import Connection, Pool

# $1/$2: per append, stream and expected version; $3..$9: per event, its append (1-based),
# its place in its append (1-based) and its columns. A stream not at its expected version
# (a gap) gets no rows; an occupied version or a stored id raises a unique violation.
INSERT_GROUP_SQL = """
WITH ok AS (
    SELECT a.stream_id, a.expected, a.idx
    FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS a (stream_id, expected, idx)
    WHERE a.expected = 0
       OR EXISTS (SELECT FROM events e
                  WHERE e.stream_id = a.stream_id AND e.stream_version = a.expected)
)
INSERT INTO events
    (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
SELECT ok.stream_id, ok.expected + b.n, b.event_id, b.event_type, b.schema_version,
       b.data::jsonb, b.metadata::jsonb
FROM unnest($3::integer[], $4::integer[], $5::uuid[], $6::text[], $7::integer[],
            $8::text[], $9::text[])
    WITH ORDINALITY AS b (idx, n, event_id, event_type, schema_version, data, metadata, ord)
JOIN ok ON ok.idx = b.idx
ORDER BY b.ord
RETURNING stream_id, stream_version, global_position
"""


# One append alone: the same rules, a simpler statement (cheaper to plan: ~0.1 ms less
# server CPU than a group of one).
INSERT_ONE_SQL = """
INSERT INTO events
    (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
SELECT $1, $2 + b.n, b.event_id, b.event_type, b.schema_version, b.data::jsonb, b.metadata::jsonb
FROM unnest($3::uuid[], $4::text[], $5::integer[], $6::text[], $7::text[])
    WITH ORDINALITY AS b (event_id, event_type, schema_version, data, metadata, n)
WHERE $2 = 0 OR EXISTS (SELECT FROM events WHERE stream_id = $1 AND stream_version = $2)
ORDER BY b.n
RETURNING stream_id, stream_version, global_position
"""


class NotWritten(Exception):
    """The group wrote nothing for this append: it must be judged on its own."""


@dataclass(eq=False)
class Pending:
    """One append waiting for its group: its stream, expected version and column arrays."""

    stream_id: str
    expected_version: int
    event_ids: list[Any]
    types: list[str]
    schema_versions: list[int]
    data: list[str]
    metadata: list[str]
    done: asyncio.Future[list[int]] = field(default_factory=lambda: _future())


def _future() -> asyncio.Future[list[int]]:
    return asyncio.get_running_loop().create_future()


def group_args(group: list[Pending]) -> tuple[list[Any], ...]:
    """The statement's parameters for ``group``."""
    args: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [], [])
    streams, expected, idx, n, ids, types, versions, data, metadata = args
    for i, p in enumerate(group, start=1):
        streams.append(p.stream_id)
        expected.append(p.expected_version)
        idx.extend([i] * len(p.event_ids))
        n.extend(range(1, len(p.event_ids) + 1))
        ids.extend(p.event_ids)
        types.extend(p.types)
        versions.extend(p.schema_versions)
        data.extend(p.data)
        metadata.extend(p.metadata)
    return args


async def insert_group(conn: Connection, group: list[Pending]) -> dict[str, list[int]]:
    """Write ``group`` in one statement: each written stream's positions, in version order."""
    if len(group) == 1:
        (p,) = group
        args: tuple[Any, ...] = (p.stream_id, p.expected_version, p.event_ids, p.types)
        args += (p.schema_versions, p.data, p.metadata)
        rows = await conn.fetch(INSERT_ONE_SQL, *args)
    else:
        rows = await conn.fetch(INSERT_GROUP_SQL, *group_args(group))
    written: dict[str, list[tuple[int, int]]] = {}
    for stream_id, version, position in rows:
        written.setdefault(stream_id, []).append((version, position))
    return {s: [position for _, position in sorted(pairs)] for s, pairs in written.items()}


class Groups:
    """The queue of waiting appends and the tasks that write them."""

    def __init__(
        self,
        pool: Pool,
        *,
        max_statements: int = 4,
        max_events: int = 1000,
        alone_from: int = 50,
    ) -> None:
        self._pool = pool
        self._max_statements = max_statements  # statements in flight at once, at most
        self._max_events = max_events  # events in one group, at most
        self._alone_from = alone_from  # an append this large is a batch already
        self._waiting: deque[Pending] = deque()
        self._writers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.statements = 0  # statements sent, for tests and diagnostics

    async def write(self, pending: Pending) -> list[int]:
        """The positions of ``pending``'s events once committed; ``NotWritten`` if not."""
        if len(pending.event_ids) >= self._alone_from:
            return await self._alone(pending)
        if self._writers < self._max_statements and not self._waiting:
            # Nobody to share with: write at once, in the caller's task.
            self._writers += 1
            try:
                return await self._alone(pending)
            finally:
                self._writers -= 1
                self._wake()
        self._waiting.append(pending)
        self._wake()
        return await pending.done

    async def _alone(self, pending: Pending) -> list[int]:
        self.statements += 1
        async with self._pool.acquire() as conn:
            written = await insert_group(conn, [pending])
        if not written:
            raise NotWritten
        return written[pending.stream_id]

    def _wake(self) -> None:
        """Start a writer for the waiting appends, if there are any and a slot is free."""
        if self._waiting and self._writers < self._max_statements:
            self._writers += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._tasks.add(task)  # kept until done (the loop holds tasks weakly)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[Pending]:
        group: list[Pending] = []
        streams: set[str] = set()
        events = 0
        later: deque[Pending] = deque()
        while self._waiting:
            p = self._waiting.popleft()
            if p.done.done():  # its caller was cancelled before it was sent
                continue
            too_many = group and events + len(p.event_ids) > self._max_events
            if p.stream_id in streams or too_many:
                later.append(p)  # a second append to a stream waits for the first
                continue
            group.append(p)
            streams.add(p.stream_id)
            events += len(p.event_ids)
        self._waiting = later
        return group

    async def _drain(self) -> None:
        try:
            while group := self._take():
                self.statements += 1
                try:
                    async with self._pool.acquire() as conn:
                        written = await insert_group(conn, group)
                except asyncpg.PostgresError:
                    # A unique violation or any other statement error: each append is
                    # judged alone, so that it gets its own answer.
                    _fail(group, NotWritten)
                    continue
                except Exception as error:
                    # A lost connection, a timeout: each caller gets its own error.
                    _fail(group, functools.partial(_lost, error))
                    continue
                except BaseException:  # cancelled: no caller may wait forever
                    _fail([*group, *self._waiting], lambda: ConnectionError(_INTERRUPTED))
                    self._waiting.clear()
                    raise
                for p in group:
                    if p.done.done():
                        continue
                    positions = written.get(p.stream_id)
                    if positions is None:
                        p.done.set_exception(NotWritten())
                    else:
                        p.done.set_result(positions)
        finally:
            self._writers -= 1


_INTERRUPTED = "the append was interrupted; it may or may not be stored: retry it"


def _lost(error: Exception) -> ConnectionError:
    lost = ConnectionError(f"the append failed ({type(error).__name__}): retry it")
    lost.__cause__ = error
    return lost


def _fail(group: list[Pending], make: Callable[[], BaseException]) -> None:
    for p in group:
        if not p.done.done():
            p.done.set_exception(make())
