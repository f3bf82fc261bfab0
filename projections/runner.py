"""Running projections: catch up from the checkpoints, follow the log live, rebuild from zero.

One runner drives one or several projections from a single read of the log per batch: the batch
is applied to each projection in one transaction, with each projection's checkpoint, so rows and
checkpoints commit together and a crash neither skips nor applies twice. Projections whose
checkpoints differ (one rebuilt alone, one added later) each get only the events after their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, Protocol

import asyncpg
import structlog

from database.pgtypes import Pool
from eventstore import Checkpoint
from eventstore.follower import follow_log
from projections.log import LogEvent, read_log

log = structlog.get_logger("carepath.projections")

Conn = Any  # an asyncpg connection (or pool proxy) inside a transaction

BATCH_SIZE = 10_000  # events per read and transaction
_PREPARE_CHUNK = 500  # events prepared ahead between yields to the event loop


class Projection(Protocol):
    name: str
    tables: Sequence[str]  # replaced by a rebuild

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        """Apply a batch, in order, inside the caller's transaction."""

    def prepare(self, events: Sequence[LogEvent]) -> None:
        """Decode what ``apply`` will need and that needs no state (e.g. ``LogEvent.event``);
        done for the next batch while the current one is written."""

    def forget(self) -> None:
        """Drop anything kept in memory between batches (after a rollback, around a rebuild)."""


_CHECKPOINTS = """
SELECT name, transaction_id::text::bigint AS transaction_id, global_position
  FROM projection_checkpoints WHERE name = ANY($1::text[])
"""
_SAVE = """
INSERT INTO projection_checkpoints (name, transaction_id, global_position, updated_at)
SELECT name, $2::text::xid8, $3, now() FROM unnest($1::text[]) AS name
ON CONFLICT (name) DO UPDATE
   SET transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position,
       updated_at = now()
"""
# Keys in ascending order, so runners of overlapping sets of projections cannot deadlock.
_LOCK = "SELECT pg_advisory_xact_lock(key) FROM unnest($1::bigint[]) AS key"


def lock_key(name: str) -> int:
    """The advisory lock one runner of projection ``name`` holds at a time, across processes."""
    return zlib.crc32(f"projection:{name}".encode())


class ProjectionRunner:
    def __init__(
        self,
        pool: Pool,
        projections: Projection | Sequence[Projection],
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._pool = pool
        chosen = list(projections) if isinstance(projections, Sequence) else [projections]
        names = [p.name for p in chosen]
        if not chosen or len(set(names)) != len(names):
            raise ValueError(f"one or more projections, each once: {names}")
        self.projections = chosen
        self._names = names
        self._batch_size = batch_size
        self._lock_keys = sorted({lock_key(name) for name in names})
        # Test seam: when set, a rebuild awaits this at named points, to be held there:
        # "creating" (before it reads the live tables' definitions), "indexing" (its staging
        # tables filled, not yet indexed), "swapped" (the live tables dropped and replaced, in
        # the swap's transaction, not yet committed).
        self._rebuild_hook: Callable[[str], Awaitable[None]] | None = None

    async def checkpoint(self, name: str | None = None) -> Checkpoint:
        """Where projection ``name`` has read up to; by default, the earliest of them."""
        names = self._names if name is None else [name]
        return min((await _checkpoints(self._pool, names)).values(), key=lambda c: c.as_tuple())

    async def step(self) -> int:
        """Read one batch after the earliest checkpoint and apply it; the number of events read."""
        async with self._transaction() as conn:
            await conn.execute(_LOCK, self._lock_keys)
            read, _ = await self._step(conn, None, read_ahead=False)
            return read

    async def catch_up(self) -> int:
        """Apply everything committed so far; the number of events read.

        While a batch is applied, the next one is read on another connection and prepared, so
        that the server's work and this process's overlap.
        """
        return await self._steps(lock=True)

    async def rebuild(self) -> int:
        """Rebuild the projections' tables from the start of the log; the number of events read.

        The new tables are built beside the live ones, in a schema of their own, in batches that
        each commit (no long transaction holds back readers of the log); then they are indexed,
        analyzed, brought up to the end of the log and swapped in, with the checkpoints, in one
        transaction under the projections' locks. Readers see the old read model until then and
        the complete new one after; runners keep updating the old one meanwhile.

        The live tables' definitions (columns, keys, indexes, owner, grants, views) are read only
        under the projections' locks, with the tables locked: at the start (for the staging
        tables and their indexes) and in the swap. Another rebuild's swap, which drops the live
        tables, takes the same locks, so no rebuild reads the catalog entries of a table being
        dropped: two rebuilds at once take turns there, and both finish.
        """
        staging = f"{_STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        tables = [table for p in self.projections for table in p.tables]
        if self._pool.get_max_size() < REBUILD_CONNECTIONS:
            raise ValueError(f"a rebuild needs a pool of {REBUILD_CONNECTIONS} connections or more")
        self._forget()
        # A session lock on this connection says "staging is in use" until it is closed.
        owner = await self._pool.acquire()
        try:
            await owner.execute("SELECT pg_advisory_lock($1)", staging_lock_key(staging))
            await drop_abandoned_staging(owner)
            await self._at("creating")
            indexes = await _create_staging(owner, staging, tables, self._lock_keys)
            total = await self._steps(lock=False, staging=staging)
            await self._at("indexing")
            async with self._pool.acquire() as conn:
                await _index_and_analyze(conn, staging, tables, indexes)
            async with self._transaction() as conn:
                await conn.execute(_LOCK, self._lock_keys)
                path = await _search_staging_first(conn, staging)
                while (read := (await self._step(conn, None, read_ahead=False))[0]) > 0:
                    total += read
                await conn.execute("SELECT set_config('search_path', $1, true)", path)
                await _swap(conn, staging, tables, self._names)
                await self._at("swapped")
            return total
        finally:
            self._forget()
            try:
                await owner.execute(f"DROP SCHEMA IF EXISTS {staging} CASCADE")
                await owner.execute("SELECT pg_advisory_unlock($1)", staging_lock_key(staging))
            except BaseException:
                owner.terminate()  # never back in the pool holding the lock
                raise
            finally:
                await self._pool.release(owner)

    async def _at(self, point: str) -> None:
        if self._rebuild_hook is not None:
            await self._rebuild_hook(point)

    async def follow(self, *, poll_interval: float = 1.0, max_backoff: float = 60.0) -> None:
        """Keep up with the log until cancelled (``eventstore.follower.follow_log``): caught up
        on every NOTIFY and every ``poll_interval`` seconds; a dead listening connection is
        noticed and replaced.

        A failing batch (a lost connection, a bug in a projection) rolls back whole; it is
        logged and tried again after a pause that doubles up to ``max_backoff``, so the read
        models resume on their own once the cause is gone.
        """

        def on_error(error: Exception, retry_in: float) -> None:
            log.error(
                "projections failed; retrying",
                projections=self._names,
                error=type(error).__name__,
                retry_in_s=retry_in,
            )

        # Looked up on each call, not bound once: tests hold a catch-up by replacing it.
        await follow_log(
            self._pool,
            lambda: self.catch_up(),
            poll_interval=poll_interval,
            max_backoff=max_backoff,
            on_error=on_error,
        )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection in a transaction, with the cyclic garbage collector paused; what
        projections keep in memory is forgotten if it does not commit."""
        try:
            with _gc_paused():
                async with self._pool.acquire() as conn, conn.transaction():
                    yield conn
        except BaseException:
            self._forget()
            raise

    async def _steps(self, *, lock: bool, staging: str | None = None) -> int:
        """Steps until one reads nothing, each reading the next batch ahead."""
        total = 0
        ahead: _Ahead | None = None
        try:
            while True:
                async with self._transaction() as conn:
                    if lock:
                        await conn.execute(_LOCK, self._lock_keys)
                    if staging is not None:
                        await _search_staging_first(conn, staging)
                    read, ahead = await self._step(conn, ahead, read_ahead=True)
                if not read:
                    return total
                total += read
        finally:
            if ahead is not None:
                ahead.cancel()

    async def _step(
        self, conn: Conn, ahead: _Ahead | None, *, read_ahead: bool
    ) -> tuple[int, _Ahead | None]:
        """Apply the batch after the earliest checkpoint (``ahead``'s if it read from there);
        the number of events read and, with ``read_ahead``, the next batch being read."""
        checkpoints = await _checkpoints(conn, self._names)
        start = min(checkpoints.values(), key=lambda c: c.as_tuple())
        events: list[LogEvent] = []
        if ahead is not None:
            if ahead.after == start:
                events = await ahead.task
            else:  # another runner moved the checkpoints
                ahead.cancel()
        if not events:
            events = await read_log(conn, start, self._batch_size)
        if not events:
            return 0, None
        last = events[-1]
        ahead = _Ahead(self._read_ahead(last.checkpoint), last.checkpoint) if read_ahead else None
        try:
            saved = []
            for projection in self.projections:
                after = checkpoints[projection.name].as_tuple()
                mine = (
                    events
                    if after == start.as_tuple()
                    else [e for e in events if e.position > after]
                )
                if mine:
                    await projection.apply(conn, mine)
                    saved.append(projection.name)
            await conn.execute(_SAVE, saved, str(last.transaction_id), last.global_position)
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        return len(events), ahead

    async def _read_ahead(self, after: Checkpoint) -> list[LogEvent]:
        # A gap-safe read is valid whenever it is used: the step checks it starts from there.
        async with self._pool.acquire() as conn:
            events = await read_log(conn, after, self._batch_size)
        for first in range(0, len(events), _PREPARE_CHUNK):
            chunk = events[first : first + _PREPARE_CHUNK]
            for projection in self.projections:
                projection.prepare(chunk)
            await asyncio.sleep(0)  # lets the current batch's replies in
        return events

    def _forget(self) -> None:
        for projection in self.projections:
            projection.forget()


class _Ahead:
    """The next batch, being read (after ``after``) and prepared."""

    def __init__(self, read: Coroutine[Any, Any, list[LogEvent]], after: Checkpoint) -> None:
        self.after = after
        self.task = asyncio.ensure_future(read)

    def cancel(self) -> None:
        self.task.cancel()
        # Retrieve its outcome, so that a failed read ahead is not reported as never retrieved.
        self.task.add_done_callback(lambda t: t.cancelled() or t.exception())


_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is applied (reference counting still frees
    almost everything). A batch keeps thousands of new objects alive, and the collections their
    allocations trigger traverse them over and over: ~40% of the CPU of a caseload batch.
    Counted, so that concurrent runners in one process restore the collector only when the last
    one is done."""
    global _gc_pauses, _gc_was_enabled
    if _gc_pauses == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()


async def _checkpoints(conn: Conn, names: Sequence[str]) -> dict[str, Checkpoint]:
    found = {
        r["name"]: Checkpoint(
            transaction_id=r["transaction_id"], global_position=r["global_position"]
        )
        for r in await conn.fetch(_CHECKPOINTS, list(names))
    }
    return {name: found.get(name, Checkpoint.start()) for name in names}


_STAGING_PREFIX = "carepath_rebuild_"
_STAGING_NAME = r"^carepath_rebuild_[0-9a-f]{12}$"  # what `rebuild` makes, nothing else
REBUILD_CONNECTIONS = 3  # the staging lock's, a batch's, and the read-ahead's


def staging_lock_key(staging: str) -> int:
    """The session lock a running rebuild holds on its staging schema."""
    return zlib.crc32(f"rebuild:{staging}".encode())


async def drop_abandoned_staging(conn: Conn) -> list[str]:
    """Drop the staging schemas of rebuilds that died (their owner's lock is gone); the names.
    A rebuild still running holds its schema's lock, so its schema is left alone."""
    dropped = []
    names = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname ~ $1", _STAGING_NAME)
    for (name,) in names:
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", staging_lock_key(name)):
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
                dropped.append(name)
            except asyncpg.InsufficientPrivilegeError:
                log.warning("a dead rebuild's schema is not ours to drop", schema=name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", staging_lock_key(name))
    return dropped


async def _search_staging_first(conn: Conn, staging: str) -> str:
    """For this transaction, unqualified names find the staging tables first; the search path
    it had."""
    path: str = await conn.fetchval("SELECT current_setting('search_path')")
    await conn.execute("SELECT set_config('search_path', $1, true)", f"{staging}, {path}")
    return path


_SCHEMA_OF = """
SELECT quote_ident(n.nspname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = $1::regclass
"""
_CONSTRAINTS = """
SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname
"""
# Indexes that no constraint owns (a constraint's index comes with the constraint).
_INDEXES = """
SELECT quote_ident(i.relname), x.indisunique, pg_get_indexdef(x.indexrelid)
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
 WHERE x.indrelid = $1::regclass
   AND NOT EXISTS (SELECT FROM pg_constraint c
                    WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid)
 ORDER BY i.relname
"""
# Privileges granted on a relation to roles other than its owner (ownership is not copied).
_GRANTS = """
SELECT a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
       a.is_grantable
  FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
  LEFT JOIN pg_roles r ON r.oid = a.grantee
 WHERE c.oid = $1::regclass AND a.grantee <> c.relowner
"""
_OWNER = "SELECT quote_ident(pg_get_userbyid(relowner)) FROM pg_class WHERE oid = $1::regclass"
_VIEWS = """
SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(v.relname), pg_get_viewdef(v.oid),
       quote_ident(pg_get_userbyid(v.relowner))
  FROM pg_depend d
  JOIN pg_rewrite r ON r.oid = d.objid
  JOIN pg_class v ON v.oid = r.ev_class
  JOIN pg_namespace n ON n.oid = v.relnamespace
 WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::regclass AND v.oid <> d.refobjid
"""


async def _lock_live(conn: Conn, tables: Sequence[str], mode: str) -> None:
    """Inside the caller's transaction, which holds the projections' locks: lock the live
    tables, so that their names resolve to the tables as they are now (any swap before ours
    committed) and none is dropped while we read its definition."""
    await conn.execute(f"LOCK TABLE {', '.join(tables)} IN {mode} MODE")


async def _create_staging(
    conn: Conn, staging: str, tables: Sequence[str], lock_keys: Sequence[int]
) -> list[str]:
    """Empty copies of the live tables (and of the checkpoints) in schema ``staging``: columns,
    defaults, checks and keys (what upserts need), no other index yet; the statements that
    make the live tables' other indexes, under their names, on the copies.

    All in one short transaction under the projections' locks (so after any other rebuild's
    swap, never during one), with the live tables share-locked: the definitions are read from
    tables nobody can drop meanwhile. Live runners wait for it; it creates only empty tables."""
    indexes = []
    async with conn.transaction():
        await conn.execute(_LOCK, list(lock_keys))
        await _lock_live(conn, tables, "ACCESS SHARE")
        await conn.execute(f"CREATE SCHEMA {staging}")
        for table in [*tables, "projection_checkpoints"]:
            await conn.execute(
                f"CREATE TABLE {staging}.{table} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES)"
            )
            for name, definition in await conn.fetch(_CONSTRAINTS, table):
                await conn.execute(
                    f"ALTER TABLE {staging}.{table} ADD CONSTRAINT {name} {definition}"
                )
        for table in tables:
            for name, unique, definition in await conn.fetch(_INDEXES, table):
                method = definition.split(" USING ", 1)[1]
                kind = "UNIQUE INDEX" if unique else "INDEX"
                indexes.append(f"CREATE {kind} {name} ON {staging}.{table} USING {method}")
    return indexes


async def _index_and_analyze(
    conn: Conn, staging: str, tables: Sequence[str], indexes: Sequence[str]
) -> None:
    """The indexes ``_create_staging`` read, built once the rows are in; no live table's
    definition is read here (another rebuild may be swapping the live tables out)."""
    for statement in indexes:
        await conn.execute(statement)
    for table in tables:
        await conn.execute(f"ANALYZE {staging}.{table}")


async def _swap(conn: Conn, staging: str, tables: Sequence[str], names: Sequence[str]) -> None:
    """Inside the caller's transaction, under the projections' locks: the staging tables replace
    the live ones (views on them made again), and the staging checkpoints replace the live ones.
    The live tables are locked first, so the definitions read here are of the tables dropped."""
    await _lock_live(conn, tables, "ACCESS EXCLUSIVE")
    for table in tables:
        schema = await conn.fetchval(_SCHEMA_OF, table)
        # Owned by the live table's owner (whoever runs the rebuild), with the same grants.
        owner = await conn.fetchval(_OWNER, table)
        await conn.execute(f"ALTER TABLE {staging}.{table} OWNER TO {owner}")
        await _grant_as(conn, table, f"{staging}.{table}")
        views = [
            (view, definition, view_owner, await conn.fetch(_GRANTS, view))
            for view, definition, view_owner in await conn.fetch(_VIEWS, table)
        ]
        for view, *_ in views:
            await conn.execute(f"DROP VIEW {view}")
        await conn.execute(f"DROP TABLE {schema}.{table}")
        await conn.execute(f"ALTER TABLE {staging}.{table} SET SCHEMA {schema}")
        for view, definition, view_owner, grants in views:
            await conn.execute(f"CREATE VIEW {view} AS {definition}")
            await conn.execute(f"ALTER VIEW {view} OWNER TO {view_owner}")
            await _grant(conn, view, grants)
    await conn.execute("DELETE FROM projection_checkpoints WHERE name = ANY($1::text[])", names)
    await conn.execute(
        "INSERT INTO projection_checkpoints "
        f"SELECT * FROM {staging}.projection_checkpoints WHERE name = ANY($1::text[])",
        names,
    )


async def _grant_as(conn: Conn, live: str, new: str) -> None:
    """The privileges others hold on ``live``, granted on ``new`` too."""
    await _grant(conn, new, await conn.fetch(_GRANTS, live))


async def _grant(conn: Conn, relation: str, grants: Sequence[Any]) -> None:
    for privilege, grantee, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        await conn.execute(f"GRANT {privilege} ON {relation} TO {grantee}{option}")
