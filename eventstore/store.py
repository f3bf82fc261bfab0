"""The event store: append to streams with optimistic concurrency, read streams (the whole log:
``eventstore.log``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from asyncpg.exceptions import DeadlockDetectedError, UniqueViolationError

from config.settings import get_settings
from database.codec import check_json, encode_json
from database.pgtypes import Connection, Pool
from eventstore import queries
from eventstore.errors import (
    ConcurrencyError,
    DuplicateEventError,
    InvalidEventError,
    PayloadTooLargeError,
)
from eventstore.groups import Groups, NotWritten, Pending, insert_group
from eventstore.notifier import Notifier
from eventstore.types import (
    MAX_EVENT_TYPE_LENGTH,
    OPAQUE_ID,
    AppendResult,
    NewEvent,
    RecordedEvent,
)

_MAX_VERSION = 2**31 - 1  # stream_version is a PostgreSQL integer

# One statement, one round trip, whatever the batch size. It reports, for the caller
# to judge: the stream's current version, which of the batch's ids are already stored
# (where, and whether with the same content), and the positions of the rows it inserted.
# It inserts only when the stream is at $2 and none of the ids exist. A concurrent
# append that commits first makes the insert fail on a unique constraint instead;
# EventStore.append then re-runs the statement to judge against the committed rows.
# Being one statement, it is atomic without an explicit transaction (one exchange
# instead of three), and readers are woken after the commit by the Notifier.
_APPEND_SQL = """
WITH batch AS (
    SELECT *
    FROM unnest($3::uuid[], $4::text[], $5::integer[], $6::text[], $7::text[])
        WITH ORDINALITY AS b (event_id, event_type, schema_version, data, metadata, ord)
),
existing AS (
    SELECT b.ord, e.event_id, e.stream_id, e.stream_version, e.global_position,
           e.event_type = b.event_type
               AND e.schema_version = b.schema_version
               AND e.data = b.data::jsonb AS same_content
    FROM batch b
    JOIN events e ON e.event_id = b.event_id
),
current_version AS (
    SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = $1
),
inserted AS (
    INSERT INTO events
        (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
    SELECT $1, $2 + b.ord, b.event_id, b.event_type, b.schema_version,
           b.data::jsonb, b.metadata::jsonb
    FROM batch b
    WHERE (SELECT version FROM current_version) = $2 AND NOT EXISTS (SELECT FROM existing)
    ORDER BY b.ord
    RETURNING global_position, stream_version
)
SELECT
    (SELECT version FROM current_version) AS current_version,
    ARRAY(SELECT global_position FROM inserted ORDER BY stream_version) AS positions,
    (SELECT coalesce(jsonb_agg(existing ORDER BY ord), '[]') FROM existing) AS existing
"""

_STREAM_VERSION_SQL = "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1"

BeforeCommitHook = Callable[[Connection], Awaitable[None]]


@dataclass(frozen=True)
class _Batch:
    """A validated batch as the column arrays ``_APPEND_SQL`` takes."""

    event_ids: list[UUID]
    types: list[str]
    schema_versions: list[int]
    data: list[str]
    metadata: list[str]

    def columns(self) -> tuple[list[UUID], list[str], list[int], list[str], list[str]]:
        return self.event_ids, self.types, self.schema_versions, self.data, self.metadata

    def pending(self, stream_id: str, expected_version: int) -> Pending:
        """This batch, waiting to be written to ``stream_id`` at ``expected_version``."""
        return Pending(stream_id, expected_version, *self.columns())


class EventStore:
    """Streams of events in PostgreSQL, over an asyncpg pool made by ``open_pool``."""

    def __init__(self, pool: Pool, *, max_event_bytes: int | None = None) -> None:
        self._pool = pool
        self._max_event_bytes = (
            get_settings().max_event_bytes if max_event_bytes is None else max_event_bytes
        )
        # Test seam: when set, the append runs in an explicit transaction and awaits this
        # after the insert, before commit, to hold it open (crash and gap tests).
        self._before_commit: BeforeCommitHook | None = None
        self._notifier = Notifier(pool)
        self._groups = Groups(pool)

    @property
    def pool(self) -> Pool:
        return self._pool

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> AppendResult:
        """Append ``events`` to the stream, which the caller believes is at ``expected_version``.

        ``expected_version`` is the stream's current version (0 for a new stream); the
        events get versions ``expected_version + 1`` onwards, all or none.

        Raises ``ConcurrencyError`` if the stream is at another version. Appending a batch
        that is already stored at exactly those versions with the same types, schema
        versions and data writes nothing and returns ``written=False``: a retried call
        is harmless. Reusing an event id otherwise raises ``DuplicateEventError``.
        Malformed input raises ``InvalidEventError`` before anything is sent.
        """
        batch = self._validate(stream_id, events, expected_version)
        pending = batch.pending(stream_id, expected_version)
        try:
            if self._before_commit is None:
                positions = await self._groups.write(pending)
            else:
                positions = await self._insert_alone(pending, self._before_commit)
        except (UniqueViolationError, DeadlockDetectedError, NotWritten):
            # Not a plain append: a version conflict, a retry, a reused id, or a concurrent
            # append that crossed ours. The judging statement reports which.
            pass
        else:
            self._notifier.mark()
            return AppendResult.written_at(stream_id, expected_version, positions)
        for _ in range(2):
            try:
                return await self._append_once(stream_id, batch, expected_version)
            except (UniqueViolationError, DeadlockDetectedError):
                # A concurrent append committed first. Now that its rows are committed,
                # the same statement reports what happened.
                pass
        # Lost the race again and again: the stream is moving; report where it is.
        actual = await self.stream_version(stream_id)
        raise ConcurrencyError(stream_id, expected_version, actual)

    async def _insert_alone(self, pending: Pending, before_commit: BeforeCommitHook) -> list[int]:
        """The test seam's path: the plain insert in a transaction held open by the hook."""
        async with self._pool.acquire() as conn, conn.transaction():
            written = await insert_group(conn, [pending])
            if not written:
                raise NotWritten
            await before_commit(conn)
        return written[pending.stream_id]

    async def _append_once(
        self, stream_id: str, batch: _Batch, expected_version: int
    ) -> AppendResult:
        args = (stream_id, expected_version, *batch.columns())
        async with self._pool.acquire() as conn:
            if self._before_commit is None:
                row = await conn.fetchrow(_APPEND_SQL, *args)
            else:
                async with conn.transaction():
                    row = await conn.fetchrow(_APPEND_SQL, *args)
                    if row is not None and row["positions"]:
                        await self._before_commit(conn)
        assert row is not None  # the outer SELECT always yields one row
        positions: list[int] = row["positions"]
        if not positions:
            # Raises unless the batch is already stored; the statement wrote nothing.
            return _judge_unwritten(
                stream_id, batch, expected_version, row["current_version"], row["existing"]
            )
        self._notifier.mark()
        return AppendResult.written_at(stream_id, expected_version, positions)

    def _validate(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> _Batch:
        check_stream_id(stream_id)
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise InvalidEventError("expected_version must be an int")
        if expected_version < 0:
            raise InvalidEventError(f"expected_version must be 0 or more, not {expected_version}")
        if not events:
            raise InvalidEventError("cannot append an empty batch")
        if expected_version + len(events) > _MAX_VERSION:
            raise InvalidEventError(f"stream versions cannot exceed {_MAX_VERSION}")
        batch = _Batch([], [], [], [], [])
        seen: set[UUID] = set()
        for index, event in enumerate(events):
            if not isinstance(event, NewEvent):
                raise InvalidEventError(f"event {index} is a {type(event).__name__}, not NewEvent")
            where = f"event {index} ({event.event_id}, type {event.type!r})"
            if not isinstance(event.event_id, UUID):
                raise InvalidEventError(f"{where}: event_id must be a UUID")
            if event.event_id in seen:
                raise InvalidEventError(f"{where}: the batch holds this event id twice")
            seen.add(event.event_id)
            _check_event_type(event.type, where)
            version = event.schema_version
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise InvalidEventError(f"{where}: schema_version must be 1 or more")
            data = _encode_object(event.data, f"{where}: data")
            metadata = _encode_object(event.metadata, f"{where}: metadata")
            size = len(data.encode("utf-8")) + len(metadata.encode("utf-8"))
            if size > self._max_event_bytes:
                raise PayloadTooLargeError(event.event_id, event.type, size, self._max_event_bytes)
            batch.event_ids.append(event.event_id)
            batch.types.append(event.type)
            batch.schema_versions.append(event.schema_version)
            batch.data.append(data)
            batch.metadata.append(metadata)
        return batch

    async def read_stream(
        self, stream_id: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events from ``from_version`` on, oldest first ([] if no such stream)."""
        check_stream_id(stream_id)
        if from_version < 1:
            raise InvalidEventError("from_version must be 1 or more")
        if limit is not None and limit < 1:
            raise InvalidEventError("limit must be 1 or more")
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(queries.READ_STREAM_SQL, stream_id, from_version, limit)
        return queries.to_events(rows)

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version: its last event's version, 0 if it has none."""
        check_stream_id(stream_id)
        async with self._pool.acquire() as conn:
            version: int = await conn.fetchval(_STREAM_VERSION_SQL, stream_id)
        return version


def check_stream_id(stream_id: str) -> None:
    if not isinstance(stream_id, str) or OPAQUE_ID.fullmatch(stream_id) is None:
        raise InvalidEventError("a stream id must be 1 to 200 characters from A-Z a-z 0-9 _ . : -")


def _check_event_type(event_type: str, where: str) -> None:
    if not isinstance(event_type, str) or not event_type or event_type.strip() != event_type:
        raise InvalidEventError(f"{where}: the type must be non-empty, without outer spaces")
    if len(event_type) > MAX_EVENT_TYPE_LENGTH or not event_type.isprintable():
        raise InvalidEventError(
            f"{where}: the type must be printable and at most {MAX_EVENT_TYPE_LENGTH} characters"
        )


def _encode_object(value: dict[str, Any], what: str) -> str:
    if not isinstance(value, dict):
        raise InvalidEventError(f"{what} must be a JSON object (a dict)")
    try:
        text = encode_json(value)
        # Fast path, all in C: the text decodes back to an equal value, so no key was
        # coerced to a string; no NUL; valid UTF-8. Anything else gets the exact check.
        if "\\u0000" not in text and json.loads(text) == value:
            text.encode("utf-8")
            return text
    except (ValueError, TypeError, RecursionError):
        pass
    try:
        check_json(value)
    except ValueError as error:
        raise InvalidEventError(f"{what} {error}") from None
    except RecursionError:
        raise InvalidEventError(f"{what} is nested too deeply") from None
    return encode_json(value)


def _judge_unwritten(
    stream_id: str,
    batch: _Batch,
    expected_version: int,
    current_version: int,
    existing: list[dict[str, Any]],
) -> AppendResult:
    """The statement inserted nothing: succeed if the batch is already stored, else raise."""
    if not existing:
        raise ConcurrencyError(stream_id, expected_version, current_version)
    for row in existing:
        event_id = UUID(row["event_id"])
        wanted_version = expected_version + row["ord"]
        if row["stream_id"] != stream_id or row["stream_version"] != wanted_version:
            raise DuplicateEventError(
                event_id,
                f"at stream {row['stream_id']!r} version {row['stream_version']}, "
                f"not stream {stream_id!r} version {wanted_version}",
            )
        if not row["same_content"]:
            raise DuplicateEventError(
                event_id, "at that position with a different type, schema version or data"
            )
    if len(existing) != len(batch.event_ids):
        missing = len(batch.event_ids) - len(existing)
        raise DuplicateEventError(
            UUID(existing[0]["event_id"]),
            f"but {missing} of the batch's {len(batch.event_ids)} events are not: "
            "the batch is partly stored",
        )
    return AppendResult(
        stream_id=stream_id,
        first_version=expected_version + 1,
        last_version=expected_version + len(existing),
        global_positions=tuple(row["global_position"] for row in existing),
        written=False,
    )
