"""The outcomes read model applies `domain.instruments.judge`: nothing judged on a baseline, on a
PHQ-9 or GAD-7 baseline below 10, or for the C-SSRS (NULL, not false). Migration 0066 corrects
rows judged by the rules before it in a database that already has them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from activities.messages import AppendRequest, EventEnvelope
from activities.store import to_new_event
from database.migrations import load_migrations
from database.pgtypes import Pool
from domain import Event
from domain.instruments import judge
from eventstore import EventStore
from projections import OutcomesProjection, ProjectionRunner, all_projections
from tests.domain.journey import Journey

# Screenings of one journey, in order: (instrument, answers). The first of each is its baseline.
SCREENINGS = [
    ("phq9", [1, 1, 1, 1, 0, 0, 0, 0, 0]),  # 4: a baseline below 10
    ("phq9", [1, 1, 0, 0, 0, 0, 0, 0, 0]),  # 2: was "response" and "remission"
    ("gad7", [3, 3, 2, 2, 2, 2, 1]),  # 15
    ("gad7", [1, 1, 1, 1, 1, 1, 0]),  # 6: a response (15 -> 6), no remission
    ("gad7", [1, 1, 1, 1, 0, 0, 0]),  # 4: a response and a remission
    ("cssrs", [1, 1, 0, 0, 0, 0, 0]),  # 2 yes answers
    ("cssrs", [0, 0, 0, 0, 0, 0, 0]),  # 0: was a "response"
    ("pcl5", [2] * 20),  # 40
    ("pcl5", [1] * 20),  # 20: a 10-point drop; PCL-5 has no remission
]
# (instrument, total, is_baseline, response, remission) of each row, as the rules judge them.
EXPECTED = [
    ("phq9", 4, True, None, None),
    ("phq9", 2, False, None, None),
    ("gad7", 15, True, None, None),
    ("gad7", 6, False, True, False),
    ("gad7", 4, False, True, True),
    ("cssrs", 2, True, None, None),
    ("cssrs", 0, False, None, None),
    ("pcl5", 40, True, None, None),
    ("pcl5", 20, False, True, None),
]


def screened_journey() -> Journey:
    j = Journey().started()
    for instrument, answers in SCREENINGS:
        j.do("record_screening", instrument=instrument, answers=answers)
    return j


async def append(store: EventStore, stream: str, events: Sequence[Event]) -> None:
    envelopes = [
        EventEnvelope(event_id=str(uuid.uuid4()), stream_version=n, decision_type="t", event=e)
        for n, e in enumerate(events, start=1)
    ]
    request = AppendRequest(
        stream_id=stream, expected_version=0, events=envelopes, workflow_id=stream, run_id="run"
    )
    await store.append(stream, [to_new_event(request, i) for i in range(len(envelopes))], 0)


async def rows(pool: Pool, stream: str) -> list[tuple[Any, ...]]:
    found = await pool.fetch(
        "SELECT instrument, total, is_baseline, response, remission FROM outcomes"
        " WHERE journey_id = $1 ORDER BY global_position",
        stream,
    )
    return [tuple(r) for r in found]


async def test_the_projection_judges_only_what_the_rules_judge(
    db_pool: Pool, event_store: EventStore
) -> None:
    stream = f"journey-{uuid.uuid4().hex[:8]}"
    await append(event_store, stream, screened_journey().events)

    await ProjectionRunner(db_pool, OutcomesProjection(), batch_size=3).catch_up()

    assert await rows(db_pool, stream) == EXPECTED
    # The same as the domain's rule, row by row (against the instrument's baseline).
    baselines: dict[str, int] = {}
    for instrument, total, is_baseline, response, remission in EXPECTED:
        if is_baseline:
            baselines[instrument] = total
            continue
        judged = judge(instrument, baselines[instrument], total)
        assert (judged.response, judged.remission) == (response, remission)


async def test_a_baseline_row_cannot_be_judged(db_pool: Pool) -> None:
    """What a projection runner of the version before 0066 wrote on a journey's first screening
    is refused: it fails its batch until it is upgraded."""
    with pytest.raises(asyncpg.CheckViolationError):
        await db_pool.execute(
            "INSERT INTO outcomes (journey_id, global_position, instrument, recorded_at, total,"
            " band, is_baseline, baseline_total, response, remission)"
            " VALUES ('j-old', 1, 'phq9', now(), 3, 'minimal', true, 3, false, true)"
        )


OLD_RULES = """
ALTER TABLE outcomes DROP CONSTRAINT outcomes_baseline_not_judged;
UPDATE outcomes SET
    response = NOT is_baseline AND CASE instrument
        WHEN 'pcl5' THEN baseline_total - total >= 10
        ELSE baseline_total > 0 AND total * 2 <= baseline_total END,
    remission = instrument IN ('phq9', 'gad7') AND total < 5;
ALTER TABLE outcomes ALTER COLUMN response SET NOT NULL, ALTER COLUMN remission SET NOT NULL;
"""


async def test_migration_0066_corrects_rows_judged_by_the_old_rules(
    db_pool: Pool, event_store: EventStore
) -> None:
    stream = f"journey-{uuid.uuid4().hex[:8]}"
    await append(event_store, stream, screened_journey().events)
    for projection in all_projections():
        await ProjectionRunner(db_pool, projection).catch_up()
    # The database as it was before 0066: its rows judged by the old rules (as the projection
    # of the version before judged them), every projection caught up.
    await db_pool.execute(OLD_RULES)
    old = await rows(db_pool, stream)
    assert old[0] == ("phq9", 4, True, False, True)  # a baseline of 4 "in remission"
    assert old[1] == ("phq9", 2, False, True, True)  # 4 -> 2 a "response"
    assert old[6] == ("cssrs", 0, False, True, False)  # a C-SSRS "response"
    checkpoints = "SELECT name, global_position FROM projection_checkpoints ORDER BY name"
    before = await db_pool.fetch(checkpoints)
    caseload = await db_pool.fetch("SELECT * FROM caseload ORDER BY journey_id")

    [migration] = [m for m in load_migrations() if m.name == "0066_outcomes_rules"]
    async with db_pool.acquire() as conn, conn.transaction():
        await conn.execute(migration.sql)
    # Baselines at once; the rest when the projector replays the log for the outcomes alone.
    assert [r[2:] for r in await rows(db_pool, stream) if r[2]] == [(True, None, None)] * 4
    await ProjectionRunner(db_pool, all_projections()).catch_up()

    assert await rows(db_pool, stream) == EXPECTED
    assert await db_pool.fetch(checkpoints) == before
    assert await db_pool.fetch("SELECT * FROM caseload ORDER BY journey_id") == caseload
