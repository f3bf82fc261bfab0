"""Projections always equal the fold of the events they have read; a crash neither skips nor
double-applies; a rebuild gives the same rows."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import pytest

from activities.messages import AppendRequest, EventEnvelope
from activities.store import to_new_event
from database.pgtypes import Pool
from domain import Event, JourneyState, Role, fold, next_due, parse_event
from domain.events import ScreeningRecorded
from domain.instruments import NOT_JUDGED, judge
from eventstore import EventStore
from projections import (
    AuditProjection,
    CaseloadProjection,
    LogEvent,
    OutcomesProjection,
    ProjectionRunner,
    all_projections,
)
from projections.runner import Conn, drop_abandoned_staging, staging_lock_key
from projections.safety import SafetyProjection
from tests.domain.journey import PRESCRIBER, SYSTEM, Journey


def journeys() -> list[Journey]:
    """Journeys ending at different stages and statuses."""
    made = []
    j = Journey().prepared()
    j.dose("s1")
    j.do("record_screening", instrument="phq9", answers=[1, 1, 0, 0, 1, 0, 0, 1, 0])
    made.append(j)
    j = Journey().eligible()
    j.do("withdraw")
    made.append(j)
    j = Journey().referred()
    j.do("decline_medication", PRESCRIBER)
    made.append(j)
    j = Journey().started()
    j.do("record_screening", instrument="phq9", answers=[0] * 8 + [1])  # safety hold
    j.do("record_screening", instrument="pcl5", answers=[2] * 20)
    made.append(j)
    j = Journey().prepared()
    j.do("pause")
    made.append(j)
    j = Journey().referred()
    j.wait(days=2)
    j.do("record_ended_outside", SYSTEM, how="terminated")  # closed by the engine
    made.append(j)
    return made


async def append(store: EventStore, stream: str, events: Sequence[Event], version: int) -> None:
    envelopes = [
        EventEnvelope(
            event_id=str(uuid.uuid4()),
            stream_version=version + n + 1,
            decision_type="test",
            event=e,
        )
        for n, e in enumerate(events)
    ]
    request = AppendRequest(
        stream_id=stream,
        expected_version=version,
        events=envelopes,
        workflow_id=stream,
        run_id="run",
    )
    await store.append(stream, [to_new_event(request, i) for i in range(len(envelopes))], version)


async def write_journeys(store: EventStore, made: list[Journey]) -> list[str]:
    streams = []
    for n, j in enumerate(made):
        stream = f"journey-cl-{n}-{uuid.uuid4().hex[:6]}"
        # In two appends, so batches and decisions straddle them.
        half = len(j.events) // 2
        await append(store, stream, j.events[:half], 0)
        await append(store, stream, j.events[half:], half)
        streams.append(stream)
    return streams


def expected_closed_at(events: Sequence[Event]) -> datetime | None:
    """When the journey closed, as the follow-ups have always read it: the time of the decision
    that closed it, or if the engine closed it, of the last decision before."""
    if not any(e.type == "journey_closed" for e in events):
        return None
    decided = [e for e in events if e.actor.role is not Role.SYSTEM]
    if decided[-1].type == "journey_closed":
        return decided[-1].occurred_at
    return max(e.occurred_at for e in decided)


async def assert_projections_equal_the_fold(pool: Pool, store: EventStore) -> None:
    rows = await pool.fetch("SELECT * FROM caseload ORDER BY journey_id")
    streams = {r["stream_id"] for r in await pool.fetch("SELECT DISTINCT stream_id FROM events")}
    assert {r["journey_id"] for r in rows} == streams
    total_events = 0
    for row in rows:
        records = await store.read_stream(row["journey_id"])
        total_events += len(records)
        state = fold(parse_event(r.data) for r in records)
        assert state is not None
        raw = row["state"]
        assert (
            JourneyState.model_validate(json.loads(raw) if isinstance(raw, str) else raw) == state
        )
        item = next_due(state)
        assert (row["stage"], row["status"], row["version"]) == (
            state.stage.value,
            state.status.value,
            len(records),
        )
        assert (row["doses_authorized"], row["doses_used"]) == (
            state.doses.authorized,
            state.doses.used,
        )
        assert row["next_due_kind"] == (item.kind.value if item else None)
        assert row["next_due_at"] == (item.at if item else None)
        events = [parse_event(r.data) for r in records]
        assert (
            row["started_at"],
            row["closed_at"],
            row["follow_up_check_in_weeks"],
            row["maintenance_interval_days"],
        ) == (
            events[0].occurred_at,
            expected_closed_at(events),
            list(state.protocol.follow_up_check_in_weeks),
            state.protocol.maintenance_interval_days,
        )
        screenings = [
            (r.global_position, parse_event(r.data))
            for r in records
            if r.type == "screening_recorded"
        ]
        outcome_rows = await pool.fetch(
            "SELECT * FROM outcomes WHERE journey_id = $1 ORDER BY global_position",
            row["journey_id"],
        )
        assert [r["global_position"] for r in outcome_rows] == [p for p, _ in screenings]
        baselines: dict[str, int] = {}
        for out, (_, event) in zip(outcome_rows, screenings, strict=True):
            assert isinstance(event, ScreeningRecorded)
            score = event.score
            if event.baseline:
                baselines[score.instrument.value] = score.total
            base = baselines[score.instrument.value]
            assert (out["total"], out["band"], out["baseline_total"]) == (
                score.total,
                score.band,
                base,
            )
            judged = NOT_JUDGED if event.baseline else judge(score.instrument, base, score.total)
            assert (out["response"], out["remission"]) == (judged.response, judged.remission)
    audited = await pool.fetchval("SELECT coalesce(sum(cardinality(event_types)), 0) FROM audit")
    assert audited == total_events


async def run_all(pool: Pool, batch_size: int = 1000) -> None:
    for projection in all_projections():
        await ProjectionRunner(pool, projection, batch_size=batch_size).catch_up()


async def test_projections_equal_the_fold_in_any_batch_size(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    await run_all(db_pool, batch_size=7)
    await assert_projections_equal_the_fold(db_pool, event_store)
    # More events later: the projections catch up from their checkpoints.
    await write_journeys(event_store, journeys())
    await run_all(db_pool, batch_size=3)
    await assert_projections_equal_the_fold(db_pool, event_store)


async def test_a_rebuild_gives_the_same_rows_and_keeps_rejections(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    await db_pool.execute(
        "INSERT INTO audit_rejected (journey_id, decision_id, decision_type, actor_id, actor_role,"
        " rejection_code, reason) VALUES ('journey-x', 'd-1', 'approve_medication', 'ops-1',"
        " 'ops', 'forbidden_role', 'only a prescriber may approve medication')"
    )
    before = {
        t: await db_pool.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")
        for t in ("caseload", "outcomes", "audit_accepted")
    }
    for projection in all_projections():
        await ProjectionRunner(db_pool, projection).rebuild()
    after = {t: await db_pool.fetch(f"SELECT * FROM {t} ORDER BY 1, 2") for t in before}
    for table in before:
        assert [dict(r) for r in after[table]] == [dict(r) for r in before[table]], table
    assert await db_pool.fetchval("SELECT count(*) FROM audit WHERE outcome = 'rejected'") == 1


class CrashingCaseload(CaseloadProjection):
    """Writes its rows, then fails before the batch commits."""

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        await super().apply(conn, events)
        raise RuntimeError("crash mid-batch")


async def test_a_crash_mid_batch_neither_skips_nor_double_applies(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    crashing = ProjectionRunner(db_pool, CrashingCaseload(), batch_size=10)
    with pytest.raises(RuntimeError):
        await crashing.step()
    assert await db_pool.fetchval("SELECT count(*) FROM caseload") == 0
    assert (await crashing.checkpoint()).global_position == 0
    await run_all(db_pool, batch_size=10)
    await assert_projections_equal_the_fold(db_pool, event_store)


class FailingTwice(CaseloadProjection):
    """Fails its first two batches (a database outage, a bug since fixed), then works."""

    failures = 0

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        if self.failures < 2:
            self.failures += 1
            raise RuntimeError("the batch failed")
        await super().apply(conn, events)


async def test_a_follower_survives_failing_batches_and_catches_up(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    flaky = FailingTwice()
    runner = ProjectionRunner(db_pool, [flaky, *all_projections()[1:]])
    follower = asyncio.create_task(runner.follow(poll_interval=0.05))
    try:
        total = await db_pool.fetchval("SELECT count(*) FROM events")
        for _ in range(200):
            applied = await db_pool.fetchval("SELECT coalesce(sum(version), 0) FROM caseload")
            if applied == total:
                break
            await asyncio.sleep(0.05)
        assert not follower.done()  # still following after the failures
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    assert flaky.failures == 2
    await assert_projections_equal_the_fold(db_pool, event_store)


async def test_a_follower_whose_listening_connection_dies_listens_again_and_still_stops(
    db_pool: Pool, event_store: EventStore
) -> None:
    """Found by `make chaos`: a dead LISTEN connection went unnoticed (no more wake-ups), and
    its clean-up error swallowed the cancellation, so the process never stopped."""
    runner = ProjectionRunner(db_pool, all_projections())
    follower = asyncio.create_task(runner.follow(poll_interval=60))  # wakes by NOTIFY only
    listening = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
    try:
        for _ in range(100):
            if await db_pool.fetchval(listening) == 1:
                break
            await asyncio.sleep(0.05)
        await db_pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
        )
        await write_journeys(event_store, journeys())
        total = await db_pool.fetchval("SELECT count(*) FROM events")
        for _ in range(200):  # well before the 60 s poll: a new listener was woken
            applied = await db_pool.fetchval("SELECT coalesce(sum(version), 0) FROM caseload")
            if applied == total:
                break
            await asyncio.sleep(0.05)
        assert applied == total
    finally:
        follower.cancel()
        done, _ = await asyncio.wait([follower], timeout=5)
    assert done and follower.cancelled()  # stopped at once, not "retrying" forever
    await assert_projections_equal_the_fold(db_pool, event_store)


async def test_a_stop_during_a_batch_after_the_listener_died_is_not_swallowed(
    db_pool: Pool, event_store: EventStore
) -> None:
    runner = ProjectionRunner(db_pool, all_projections())
    in_batch, never = asyncio.Event(), asyncio.Event()
    real_catch_up = runner.catch_up
    calls = 0

    async def slow_catch_up() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return await real_catch_up()
        in_batch.set()
        await never.wait()  # a long batch, or a slow reconnect
        return 0

    runner.catch_up = slow_catch_up  # type: ignore[method-assign]
    follower = asyncio.create_task(runner.follow(poll_interval=0.05))
    await asyncio.wait_for(in_batch.wait(), 10)
    await db_pool.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
    )
    await asyncio.sleep(0.3)  # the listener's loss is seen while the batch runs
    follower.cancel()
    done, _ = await asyncio.wait([follower], timeout=5)
    assert done and follower.cancelled()


async def test_concurrent_writers_and_a_following_projection_see_every_event_once(
    db_pool: Pool, event_store: EventStore
) -> None:
    runners = [ProjectionRunner(db_pool, p, batch_size=5) for p in all_projections()]
    followers = [asyncio.create_task(r.follow(poll_interval=0.05)) for r in runners]

    async def writer(n: int) -> None:
        j = Journey()
        j.started()
        stream = f"journey-w{n}-{uuid.uuid4().hex[:6]}"
        version = 0
        await append(event_store, stream, j.events, version)
        version = len(j.events)
        for step in range(6):
            before = len(j.events)
            j.do("pause" if step % 2 == 0 else "resume")
            await append(event_store, stream, j.events[before:], version)
            version = len(j.events)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(writer(n) for n in range(12)))
        total = await db_pool.fetchval("SELECT count(*) FROM events")
        for _ in range(200):
            applied = await db_pool.fetchval("SELECT coalesce(sum(version), 0) FROM caseload")
            audited = await db_pool.fetchval(
                "SELECT coalesce(sum(cardinality(event_types)), 0) FROM audit_accepted"
            )
            if applied == audited == total:
                break
            await asyncio.sleep(0.05)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    assert applied == audited == total == 12 * 7
    await assert_projections_equal_the_fold(db_pool, event_store)


def test_every_projection_is_listed() -> None:
    names = {p.name for p in all_projections()}
    assert names == {
        CaseloadProjection.name,
        AuditProjection.name,
        OutcomesProjection.name,
        SafetyProjection.name,
    }


async def test_the_caseload_state_is_queryable_json(db_pool: Pool, event_store: EventStore) -> None:
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    stages = await db_pool.fetch("SELECT stage, state->>'stage' AS folded FROM caseload")
    assert stages and all(r["stage"] == r["folded"] for r in stages)


async def test_the_caseload_never_trusts_a_cached_state_the_table_does_not_hold(
    db_pool: Pool, event_store: EventStore
) -> None:
    """A batch rolled back after the caseload applied it, and another runner's batches, leave
    its cache stale: it must check the stored versions and decode what differs."""
    await write_journeys(event_store, journeys())
    caseload = CaseloadProjection()
    runner = ProjectionRunner(db_pool, caseload, batch_size=4)
    await runner.step()
    # The next batch applied, then rolled back behind the runner's back (no forget()).
    async with db_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        from projections.log import read_log

        await caseload.apply(conn, await read_log(conn, await runner.checkpoint(), 30))
        await tx.rollback()
    # Another runner (another process) moves the same read model on in between.
    other = ProjectionRunner(db_pool, CaseloadProjection(), batch_size=5)
    for _ in range(3):
        await runner.step()
        await other.step()
    await runner.catch_up()
    await run_all(db_pool)
    await assert_projections_equal_the_fold(db_pool, event_store)


class FailingOutcomes(OutcomesProjection):
    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        raise RuntimeError("outcomes failed")


async def test_one_runner_applies_each_projection_from_its_own_checkpoint(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    await ProjectionRunner(db_pool, AuditProjection(), batch_size=6).catch_up()
    await write_journeys(event_store, journeys())
    await ProjectionRunner(db_pool, OutcomesProjection(), batch_size=9).step()
    # A failure of one projection rolls back the whole batch, every checkpoint included.
    caseload = CaseloadProjection()
    failing = ProjectionRunner(db_pool, [caseload, AuditProjection(), FailingOutcomes()])
    with pytest.raises(RuntimeError):
        await failing.catch_up()
    assert await db_pool.fetchval("SELECT count(*) FROM caseload") == 0
    runner = ProjectionRunner(
        db_pool, [caseload, AuditProjection(), OutcomesProjection()], batch_size=8
    )
    await runner.catch_up()
    await assert_projections_equal_the_fold(db_pool, event_store)
    ends = {
        (c.transaction_id, c.global_position)
        for c in [await runner.checkpoint(n) for n in ("caseload", "audit", "outcomes")]
    }
    assert len(ends) == 1


async def test_an_event_committed_late_behind_a_checkpoint_is_not_skipped(
    db_pool: Pool, event_store: EventStore
) -> None:
    """Gap safety, through the runner's own read and its read ahead: an append holding a lower
    position commits after a later one has been read."""
    held, release = asyncio.Event(), asyncio.Event()

    async def hold(_: object) -> None:
        held.set()
        await release.wait()

    slow = EventStore(db_pool, max_event_bytes=64 * 1024)
    slow._before_commit = hold
    j = Journey()
    j.started()
    late = asyncio.create_task(append(slow, f"journey-late-{uuid.uuid4().hex[:6]}", j.events, 0))
    await held.wait()
    await write_journeys(event_store, journeys())
    runner = ProjectionRunner(db_pool, all_projections(), batch_size=7)
    await runner.catch_up()  # nothing readable yet: the held transaction holds back the xmin
    release.set()
    await late
    await runner.catch_up()
    await assert_projections_equal_the_fold(db_pool, event_store)


async def test_a_rebuild_swaps_in_complete_tables_readers_never_see_half_built(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    indexes = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 2"
    indexes_before = [tuple(r) for r in await db_pool.fetch(indexes)]
    model = "SELECT count(*) || '/' || sum(version) FROM caseload"
    complete = await db_pool.fetchval(model)
    audited = await db_pool.fetchval("SELECT count(*) FROM audit")
    seen: list[str] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            seen.append(await db_pool.fetchval(model))
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    try:
        await ProjectionRunner(db_pool, all_projections(), batch_size=5).rebuild()
    finally:
        done.set()
        await reading
    assert len(seen) > 10 and set(seen) == {complete}
    await assert_projections_equal_the_fold(db_pool, event_store)
    assert [tuple(r) for r in await db_pool.fetch(indexes)] == indexes_before
    assert await db_pool.fetchval("SELECT count(*) FROM audit") == audited
    leftovers = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'carepath_rebuild_%'"
    assert await db_pool.fetchval(leftovers) == 0
    # The live runners carry on from the swapped-in checkpoints.
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    await assert_projections_equal_the_fold(db_pool, event_store)


async def test_a_rebuild_drops_what_a_dead_rebuild_left_and_spares_a_running_ones(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    dead, running = "carepath_rebuild_dead00000000", "carepath_rebuild_0123456789ab"
    for schema in (dead, running, "carepath_rebuild_backup"):  # the last one is not a rebuild's
        await db_pool.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.caseload (x int)")
    async with db_pool.acquire() as other:  # another process's rebuild, still at work
        await other.execute("SELECT pg_advisory_lock($1)", staging_lock_key(running))
        await ProjectionRunner(db_pool, all_projections()).rebuild()
        schemas = """SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace
                      WHERE nspname LIKE 'carepath_re%'"""
        assert await db_pool.fetchval(schemas) == [running, "carepath_rebuild_backup"]
        await other.execute("SELECT pg_advisory_unlock($1)", staging_lock_key(running))
    async with db_pool.acquire() as conn:  # its owner died: the next rebuild (or this) drops it
        assert await drop_abandoned_staging(conn) == [running]
    await assert_projections_equal_the_fold(db_pool, event_store)


async def test_a_rebuild_keeps_what_other_roles_may_read(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    role, owner = (f"carepath_{who}_{uuid.uuid4().hex[:8]}" for who in ("reader", "owner"))
    await db_pool.execute(f"CREATE ROLE {role}; CREATE ROLE {owner}")
    owners = """SELECT relname, pg_get_userbyid(relowner) FROM pg_class
                 WHERE relname IN ('caseload', 'audit', 'outcomes') ORDER BY 1"""
    try:
        # The app's role owns them; the rebuild runs as another (here: the superuser).
        await db_pool.execute(f"ALTER TABLE caseload OWNER TO {owner}")
        await db_pool.execute(f"ALTER VIEW audit OWNER TO {owner}")
        owned_before = [tuple(r) for r in await db_pool.fetch(owners)]
        await db_pool.execute(f"GRANT SELECT ON caseload, audit TO {role}")
        await db_pool.execute(f"GRANT SELECT, UPDATE ON outcomes TO {role} WITH GRANT OPTION")
        privileges = """
            SELECT t, p, has_table_privilege($1, t, p),
                   has_table_privilege($1, t, p || ' WITH GRANT OPTION')
              FROM unnest(ARRAY['caseload', 'audit', 'outcomes', 'audit_accepted']) t,
                   unnest(ARRAY['SELECT', 'UPDATE', 'DELETE']) p ORDER BY t, p"""
        before = [tuple(r) for r in await db_pool.fetch(privileges, role)]
        assert ("audit", "SELECT", True, False) in before
        await ProjectionRunner(db_pool, all_projections()).rebuild()
        assert [tuple(r) for r in await db_pool.fetch(privileges, role)] == before
        assert [tuple(r) for r in await db_pool.fetch(owners)] == owned_before
    finally:
        for name in (role, owner):
            await db_pool.execute(
                f"REASSIGN OWNED BY {name} TO CURRENT_USER; DROP OWNED BY {name}; DROP ROLE {name}"
            )


async def test_two_rebuilds_at_once_both_finish_and_leave_the_fold(
    db_pool: Pool, event_store: EventStore
) -> None:
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    await asyncio.gather(
        *(ProjectionRunner(db_pool, all_projections(), batch_size=5).rebuild() for _ in range(2))
    )  # each spares the other's staging schema while it runs
    await assert_projections_equal_the_fold(db_pool, event_store)
    leftovers = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'carepath_rebuild_%'"
    assert await db_pool.fetchval(leftovers) == 0


class Hold:
    """A rebuild hook that holds the rebuild at one named point until released."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.reached, self.release = asyncio.Event(), asyncio.Event()

    async def __call__(self, point: str) -> None:
        if point == self.point:
            self.reached.set()
            await self.release.wait()


async def waiting_for_a_lock(pool: Pool) -> int:
    """Backends of this database waiting for a lock."""
    waiting: int = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return waiting


@pytest.mark.parametrize("other_at", ["creating", "indexing"])
async def test_a_rebuild_never_reads_the_definitions_of_tables_another_is_swapping_out(
    db_pool: Pool, event_store: EventStore, other_at: str
) -> None:
    """Issue 10: a rebuild read the live tables' index definitions while another dropped them
    at its swap (`could not open relation with OID ...`). One rebuild is held in its swap, the
    live tables dropped and replaced but not committed; the other goes on from just before it
    reads the live tables' definitions (for its staging tables, or for their indexes). It must
    wait for the swap to commit, then read the new tables, and both finish."""
    await write_journeys(event_store, journeys())
    await run_all(db_pool)
    indexes = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 2"
    indexes_before = [tuple(r) for r in await db_pool.fetch(indexes)]
    other = ProjectionRunner(db_pool, all_projections(), batch_size=5)
    other._rebuild_hook = other_hold = Hold(other_at)
    first = ProjectionRunner(db_pool, all_projections(), batch_size=5)
    first._rebuild_hook = first_hold = Hold("swapped")
    other_rebuild = asyncio.create_task(other.rebuild())
    first_rebuild: asyncio.Task[int] | None = None
    try:
        await asyncio.wait_for(other_hold.reached.wait(), 30)
        first_rebuild = asyncio.create_task(first.rebuild())
        await asyncio.wait_for(first_hold.reached.wait(), 30)
        assert await waiting_for_a_lock(db_pool) == 0
        other_hold.release.set()
        # The other rebuild goes on until it waits for the held swap (its locks).
        for _ in range(600):
            if other_rebuild.done() or await waiting_for_a_lock(db_pool):
                break
            await asyncio.sleep(0.05)
        assert not other_rebuild.done() and await waiting_for_a_lock(db_pool) == 1
        first_hold.release.set()  # the swap commits: the tables the other saw are gone
        await asyncio.wait_for(asyncio.gather(first_rebuild, other_rebuild), 60)
    finally:
        other_hold.release.set()
        first_hold.release.set()
        running = [t for t in (other_rebuild, first_rebuild) if t is not None]
        await asyncio.wait(running, timeout=30)
    await assert_projections_equal_the_fold(db_pool, event_store)
    assert [tuple(r) for r in await db_pool.fetch(indexes)] == indexes_before
    leftovers = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'carepath_rebuild_%'"
    assert await db_pool.fetchval(leftovers) == 0
