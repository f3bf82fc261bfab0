"""The caseload's columns and its reads: the follow-ups read real columns (filled by the
projection, and by migration 0062 for rows written before it), never the serialized state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
import pytest

from database.migrations import load_migrations
from database.pgtypes import Pool
from domain import ClosedReason, Event, JourneyState, Protocol, Role, Status, fold
from domain.view import JourneyView, ShownAs, journey_view, shaped_from_view, view_values
from projections import CaseloadProjection, ProjectionRunner
from projections.caseload import (
    CASELOAD_SHAPE,
    COLUMNS,
    STATE_COLUMNS,
    CaseloadEntry,
    decode_state,
    row,
)
from projections.caseload_queries import (
    FinishedCourse,
    caseload_entries,
    finished_courses,
    open_journeys,
    open_journeys_after,
)
from records.clients import erase_client, upsert_client
from tests.conftest import DatabaseFactory
from tests.domain.journey import OPS, SYSTEM, Journey
from tests.schedules.support import (
    Caseload,
    Clinicians,
    completed_journey,
    held_journey,
    new_ids,
    started_journey,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SHORT = Protocol(follow_up_check_in_weeks=(1, 3), maintenance_interval_days=30)


Ending = Literal["discontinued", "discharged", "withdrawn"]


def ended_journey(
    journey_id: str, client_id: str, ended_at: datetime, how: Ending, doses: int, **fields: Any
) -> list[Event]:
    """A course ended early exactly at `ended_at`, after `doses` doses (0: prepared, none
    given): the prescriber discontinued at the follow-up or discharged (closed `discharged`),
    or the client withdrew (closed `withdrawn`, after a dose at the discharge follow-up)."""

    def run(j: Journey) -> None:
        who = Clinicians()
        j.do(
            "start_journey",
            OPS,
            journey_id=journey_id,
            client_id=client_id,
            therapist_id=who.therapist,
            prescriber_id=who.prescriber,
            **fields,
        )
        j.screened()
        j.do("complete_consultation", treatment_goals=["feel more like myself"])
        j.do("refer_to_prescriber")
        j.do(
            "schedule_prescriber_intake",
            who.prescriber_actor,
            scheduled_at=j.now + timedelta(days=5),
        )
        j.wait(days=5)
        j.do("approve_medication", who.prescriber_actor, expires_at=j.now + timedelta(days=120))
        j.do("complete_preparation")
        for n in range(1, doses + 1):
            j.dose(f"s{n}")
        if how == "discontinued":
            j.do("record_prescriber_follow_up", who.prescriber_actor, outcome="discontinue")
        elif how == "discharged":
            j.do("discharge", who.prescriber_actor)
        else:
            j.do("withdraw", who.therapist_actor)
            if doses:  # the course stops; the prescriber's discharge follow-up closes it
                j.do("record_prescriber_follow_up", who.prescriber_actor, outcome="discontinue")

    probe = Journey(now=ended_at)
    run(probe)
    j = Journey(now=ended_at - (probe.now - ended_at))
    run(j)
    expected = ClosedReason.WITHDRAWN if how == "withdrawn" else ClosedReason.DISCHARGED
    assert j.now == ended_at and j.s.closed_reason is expected and j.s.doses.used == doses
    return j.events


async def test_finished_courses_are_read_from_the_columns(db_pool: Pool) -> None:
    caseload = Caseload(db_pool)
    short, short_client = new_ids()
    await caseload.add(
        short, completed_journey(short, short_client, NOW - 20 * DAY, protocol=SHORT)
    )
    plain, plain_client = new_ids()
    await caseload.add(plain, completed_journey(plain, plain_client, NOW - 3 * DAY))
    elsewhere = f"{plain}-b"  # the same client id in another clinic: another client
    await caseload.add(
        elsewhere, completed_journey(elsewhere, plain_client, NOW - 9 * DAY, clinic_id="north")
    )
    open_id, open_client = new_ids()
    await caseload.add(open_id, started_journey(open_id, open_client, NOW, Clinicians()))
    again, again_client = new_ids()  # completed, then started again: no follow-ups
    await caseload.add(again, completed_journey(again, again_client, NOW - 30 * DAY))
    await caseload.add(
        f"{again}-2", started_journey(f"{again}-2", again_client, NOW - DAY, Clinicians())
    )
    erased, erased_client = new_ids()
    await caseload.add(erased, completed_journey(erased, erased_client, NOW - 15 * DAY))
    await upsert_client(
        db_pool, erased_client, display_name="A B", email="a@example.org", phone=None, keys=None
    )
    await erase_client(db_pool, erased_client)

    def course(
        journey_id: str, client_id: str, at: datetime, protocol: Protocol, clinic: str = "default"
    ) -> FinishedCourse:
        return FinishedCourse(
            journey_id=journey_id,
            client_id=client_id,
            therapist_id="th-1",
            clinic_id=clinic,
            closed_reason=ClosedReason.COMPLETED,
            closed_at=at,
            follow_up_check_in_weeks=protocol.follow_up_check_in_weeks,
            maintenance_interval_days=protocol.maintenance_interval_days,
        )

    expected = sorted(
        [
            course(short, short_client, NOW - 20 * DAY, SHORT),
            course(plain, plain_client, NOW - 3 * DAY, Protocol()),
            course(elsewhere, plain_client, NOW - 9 * DAY, Protocol(), clinic="north"),
        ],
        key=lambda c: c.journey_id,
    )
    assert await finished_courses(db_pool) == expected

    # The state is not read: without it the answer is the same; the columns are read.
    await db_pool.execute("UPDATE caseload SET state = '{}'::jsonb")
    assert await finished_courses(db_pool) == expected
    await db_pool.execute(
        "UPDATE caseload SET closed_at = closed_at - interval '1 day',"
        " follow_up_check_in_weeks = '{5}', maintenance_interval_days = 60"
        " WHERE journey_id = $1",
        plain,
    )
    [changed] = [c for c in await finished_courses(db_pool) if c.journey_id == plain]
    assert (changed.closed_at, changed.follow_up_check_in_weeks) == (NOW - 4 * DAY, (5,))
    assert changed.maintenance_interval_days == 60


async def test_a_course_discharged_after_a_dose_is_followed_up_and_no_other(
    db_pool: Pool,
) -> None:
    """Issue 13: a prescriber who stops after the initial doses closes the journey `discharged`;
    its client is followed up like one who completed. Not a journey discharged before any dose,
    nor one the client withdrew from."""
    caseload = Caseload(db_pool)
    ended: dict[str, tuple[str, datetime]] = {}
    cases: list[tuple[Ending, int]] = [
        ("discontinued", 1),
        ("discharged", 2),
        ("discharged", 0),
        ("withdrawn", 1),
    ]
    for how, doses in cases:
        journey_id, client_id = new_ids()
        at = NOW - len(ended) * DAY
        await caseload.add(journey_id, ended_journey(journey_id, client_id, at, how, doses))
        ended[f"{how}-{doses}"] = (journey_id, at)
    # The same client id in another clinic, discharged before a dose: nothing, and the first
    # clinic's discharged-after-a-dose journey does not stand for it.
    other_id, other_client = new_ids()
    await caseload.add(
        other_id,
        ended_journey(other_id, other_client, NOW, "discharged", 0, clinic_id="north"),
    )
    mine = f"{other_id}-a"
    await caseload.add(mine, ended_journey(mine, other_client, NOW - 9 * DAY, "discharged", 1))

    found = {c.journey_id: c for c in await finished_courses(db_pool)}

    assert set(found) == {ended["discontinued-1"][0], ended["discharged-2"][0], mine}
    for key in ("discontinued-1", "discharged-2"):
        journey_id, at = ended[key]
        assert (found[journey_id].closed_reason, found[journey_id].closed_at) == (
            ClosedReason.DISCHARGED,
            at,
        )
    assert (found[mine].clinic_id, found[mine].closed_at) == ("default", NOW - 9 * DAY)


async def test_open_journeys_with_their_state_and_in_pages(db_pool: Pool) -> None:
    caseload = Caseload(db_pool)
    held, held_client = new_ids()
    await caseload.add(held, held_journey(held, held_client, NOW - DAY, Clinicians()))
    started, started_client = new_ids()
    await caseload.add(
        started, started_journey(started, started_client, NOW, Clinicians("th-2", "rx-2"))
    )
    done, done_client = new_ids()
    await caseload.add(done, completed_journey(done, done_client, NOW - DAY))

    found = await open_journeys(db_pool)
    assert [j.journey_id for j in found] == sorted([held, started])
    by_id = {j.journey_id: j for j in found}
    assert by_id[held].status is Status.SAFETY_HOLD
    assert (by_id[started].therapist_id, by_id[started].prescriber_id) == ("th-2", "rx-2")
    for journey in found:
        stored = await db_pool.fetchval(
            "SELECT state::text FROM caseload WHERE journey_id = $1", journey.journey_id
        )
        assert journey.state == decode_state(stored)

    first = await open_journeys_after(db_pool, "", 1)
    rest = await open_journeys_after(db_pool, first[0].journey_id, 10)
    assert [r.journey_id for r in first + rest] == sorted([held, started])
    assert {(r.client_id, r.clinic_id) for r in first + rest} == {
        (held_client, "default"),
        (started_client, "default"),
    }


async def test_caseload_entries_are_the_views_of_a_clinicians_journeys(db_pool: Pool) -> None:
    caseload = Caseload(db_pool)
    mine, mine_client = new_ids()
    mine_events = started_journey(mine, mine_client, NOW, Clinicians("th-1", "rx-1"))
    await caseload.add(mine, mine_events)
    theirs, theirs_client = new_ids()
    await caseload.add(
        theirs, started_journey(theirs, theirs_client, NOW, Clinicians("th-2", "rx-1"))
    )
    closed, closed_client = new_ids()
    await caseload.add(closed, completed_journey(closed, closed_client, NOW - DAY))

    def ids(entries: list[CaseloadEntry]) -> set[str]:
        return {e.model_dump()["journey_id"] for e in entries}  # fields made at import: untyped

    async def of(who: str | None, role: Role, closed: bool = False) -> set[str]:
        found = await caseload_entries(db_pool, "default", who, as_role=role, include_closed=closed)
        return ids(found)

    assert await of("th-1", Role.THERAPIST) == {mine}
    assert await of("rx-1", Role.THERAPIST) == set()
    assert await of("rx-1", Role.PRESCRIBER) == {mine, theirs}
    assert await of("rx-1", Role.PRESCRIBER, closed=True) == {mine, theirs, closed}
    assert await of(None, Role.OPS) == {mine, theirs}
    assert await of("th-2", Role.OPS) == {theirs}
    assert (
        await caseload_entries(db_pool, "north", None, as_role=Role.OPS, include_closed=True) == []
    )

    [entry] = await caseload_entries(
        db_pool, "default", "th-1", as_role=Role.THERAPIST, include_closed=False
    )
    state = fold(mine_events)
    assert state is not None
    view = journey_view(state)
    recorded_at = await db_pool.fetchval(
        "SELECT max(recorded_at) FROM events WHERE stream_id = $1", mine
    )
    assert entry == CaseloadEntry(
        journey_id=view.journey_id,
        client_id=view.client_id,
        therapist_id=view.therapist_id,
        prescriber_id=view.prescriber_id,
        clinic_id=view.clinic_id,
        stage=view.stage,
        status=view.status,
        closed_reason=view.closed_reason,
        doses_authorized=view.doses.authorized,
        doses_used=view.doses.used,
        next_due_kind=view.due[0].kind,
        next_due_at=view.due[0].at,
        version=view.version,
        updated_at=recorded_at,
    )


def test_every_field_of_the_view_is_a_column_or_left_out_on_purpose() -> None:
    assert list(COLUMNS) == [*CaseloadEntry.model_fields, *STATE_COLUMNS]
    for name in JourneyView.model_fields:
        shown = CASELOAD_SHAPE.get(name, "as it is")
        if shown == "as it is":
            assert name in CaseloadEntry.model_fields
        elif isinstance(shown, ShownAs):
            assert set(shown.fields) <= set(CaseloadEntry.model_fields)
    # A shape naming a field the view does not have fails where the reader is defined.
    with pytest.raises(TypeError, match="JourneyView has no field"):
        shaped_from_view({"no_such_field": None})
    # And values that are not the fields a shape declares are refused.
    wrong: Any = {"doses": ShownAs({"doses_authorized": int}, lambda d: {"authorized": 1})}
    view = journey_view(Journey().started().s)
    with pytest.raises(ValueError, match="doses is shown as"):
        view_values(view, wrong)


# --- migration 0062: rows written before it ------------------------------------------------

_BEFORE_0062 = """
INSERT INTO caseload (journey_id, client_id, therapist_id, prescriber_id, clinic_id, stage,
                      status, closed_reason, doses_authorized, doses_used, next_due_kind,
                      next_due_at, version, state, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15)
"""


def _before_0062(state: JourneyState, stored: str) -> tuple[JourneyState, str]:
    """The state as read back, and its `state` column as the caseload stored it before: `object`
    (today's), `string` (JSON text in a JSON string, as before the follow-ups), or
    `old_protocol` (a protocol from before it had follow-up settings)."""
    text = state.model_dump_json()
    if stored == "string":
        return state, json.dumps(text)
    if stored == "old_protocol":
        data = json.loads(text)
        del data["protocol"]["follow_up_check_in_weeks"]
        del data["protocol"]["maintenance_interval_days"]
        return JourneyState.model_validate(data), json.dumps(data)
    return state, text


async def test_migration_0062_fills_the_columns_of_rows_written_before_it(
    database_factory: DatabaseFactory,
) -> None:
    withdrawn = Journey().eligible()
    withdrawn.do("withdraw")
    ended = Journey().referred()
    ended.wait(days=2)
    last_decided = ended.s.last_activity_at
    ended.do("record_ended_outside", SYSTEM, how="terminated")
    journeys = {
        "j-short": (_fold(completed_journey("j-short", "cl-1", NOW, protocol=SHORT)), "object"),
        "j-plain": (_fold(completed_journey("j-plain", "cl-2", NOW - DAY)), "string"),
        "j-withdrawn": (withdrawn.s, "old_protocol"),
        "j-ended": (ended.s, "object"),
        "j-open": (Journey().prepared().s, "string"),
    }
    url = await database_factory.create()
    conn = await asyncpg.connect(url)
    try:
        migrations = load_migrations()
        names = [m.name for m in migrations]
        at = names.index("0062_caseload_columns")
        for migration in migrations[:at]:
            await conn.execute(migration.sql)
        expected: dict[str, dict[str, Any]] = {}
        for journey_id, (folded, stored) in journeys.items():
            state, text = _before_0062(folded, stored)
            values = row(journey_id, state, NOW)
            old = [values[c] for c in CaseloadEntry.model_fields if c != "updated_at"]
            await conn.execute(_BEFORE_0062, *old, text, NOW)
            expected[journey_id] = values
        await conn.execute(migrations[at].sql)

        rows = await conn.fetch(
            "SELECT journey_id, jsonb_typeof(state) AS kind, started_at, closed_at,"
            " follow_up_check_in_weeks::text AS weeks, maintenance_interval_days FROM caseload"
        )
        assert len(rows) == len(journeys)
        for r in rows:
            values = expected[r["journey_id"]]
            assert r["kind"] == "object", r["journey_id"]
            assert (
                r["started_at"],
                r["closed_at"],
                r["weeks"],
                r["maintenance_interval_days"],
            ) == (
                values["started_at"],
                values["closed_at"],
                values["follow_up_check_in_weeks"],
                values["maintenance_interval_days"],
            ), r["journey_id"]
        by_id = {r["journey_id"]: r for r in rows}
        assert by_id["j-short"]["weeks"] == "{1,3}"
        assert by_id["j-withdrawn"]["weeks"] == "{2,4,12}"  # the protocol's defaults
        assert by_id["j-short"]["closed_at"] == NOW
        assert by_id["j-ended"]["closed_at"] == last_decided  # closed by the engine
        assert by_id["j-open"]["closed_at"] is None
        # Rows the projection writes from now on take the same columns.
        for migration in migrations[at + 1 :]:
            await conn.execute(migration.sql)
        nulls = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'caseload'"
            " AND column_name = ANY($1::text[]) AND is_nullable = 'NO'",
            ["started_at", "follow_up_check_in_weeks", "maintenance_interval_days"],
        )
        assert nulls == 3
    finally:
        await conn.close()
        await database_factory.drop(url)


def _fold(events: list[Event]) -> JourneyState:
    state = fold(events)
    assert state is not None
    return state


async def test_a_rebuild_gives_the_same_columns_as_the_live_projection(db_pool: Pool) -> None:
    caseload = Caseload(db_pool)
    for n in range(3):
        journey_id, client_id = new_ids()
        protocol = SHORT if n == 0 else Protocol()
        await caseload.add(
            journey_id,
            completed_journey(journey_id, client_id, NOW - n * DAY, protocol=protocol),
        )
    open_id, open_client = new_ids()
    await caseload.add(open_id, started_journey(open_id, open_client, NOW, Clinicians()))
    query = f"SELECT {', '.join(COLUMNS)} FROM caseload ORDER BY journey_id"
    live = [dict(r) for r in await db_pool.fetch(query)]
    assert all(r["started_at"] is not None for r in live)
    assert sum(r["closed_at"] is not None for r in live) == 3
    await ProjectionRunner(db_pool, CaseloadProjection()).rebuild()
    assert [dict(r) for r in await db_pool.fetch(query)] == live
