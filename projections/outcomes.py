"""Outcomes: instrument scores over time per journey, with response and remission flags."""

from __future__ import annotations

from collections.abc import Sequence

from domain import parse_event
from domain.events import ScreeningRecorded
from domain.instruments import meaningful_change, remitted
from eventstore import RecordedEvent
from projections.runner import Conn

_BASELINES = """
SELECT journey_id, instrument, total FROM outcomes
 WHERE is_baseline AND journey_id = ANY($1::text[])
"""
_INSERT = """
INSERT INTO outcomes (journey_id, global_position, instrument, recorded_at, total, band,
                      is_baseline, baseline_total, response, remission)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


class OutcomesProjection:
    name: str = "outcomes"
    tables: Sequence[str] = ("outcomes",)

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        screenings = [e for e in events if e.type == "screening_recorded"]
        if not screenings:
            return
        journeys = sorted({e.stream_id for e in screenings})
        baselines = {
            (r["journey_id"], r["instrument"]): r["total"]
            for r in await conn.fetch(_BASELINES, journeys)
        }
        rows = []
        for record in screenings:
            event = parse_event(record.data)
            assert isinstance(event, ScreeningRecorded)
            score = event.score
            key = (record.stream_id, score.instrument.value)
            if event.baseline:
                baselines[key] = score.total
            baseline = baselines.get(key, score.total)
            rows.append(
                (
                    record.stream_id,
                    record.global_position,
                    score.instrument.value,
                    event.occurred_at,
                    score.total,
                    score.band,
                    event.baseline,
                    baseline,
                    not event.baseline
                    and meaningful_change(score.instrument, baseline, score.total),
                    remitted(score.instrument, score.total),
                )
            )
        await conn.executemany(_INSERT, rows)
