"""Outcomes: instrument scores over time per journey, with response and remission flags."""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import ScreeningRecorded
from domain.instruments import meaningful_change, remitted
from projections.log import LogEvent
from projections.runner import Conn

_BASELINES = """
SELECT journey_id, instrument, total FROM outcomes
 WHERE is_baseline AND journey_id = ANY($1::text[])
"""
_INSERT = """
INSERT INTO outcomes (journey_id, global_position, instrument, recorded_at, total, band,
                      is_baseline, baseline_total, response, remission)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::int[],
                     $6::text[], $7::bool[], $8::int[], $9::bool[], $10::bool[])
"""


class OutcomesProjection:
    name: str = "outcomes"
    tables: Sequence[str] = ("outcomes",)

    def prepare(self, events: Sequence[LogEvent]) -> None:
        for event in events:
            if event.type == "screening_recorded":
                event.event  # noqa: B018 - parsed once, kept on the event

    def forget(self) -> None:
        pass

    async def apply(self, conn: Conn, events: Sequence[LogEvent]) -> None:
        screenings = [e for e in events if e.type == "screening_recorded"]
        if not screenings:
            return
        journeys = sorted({e.stream_id for e in screenings})
        baselines = {
            (r["journey_id"], r["instrument"]): r["total"]
            for r in await conn.fetch(_BASELINES, journeys)
        }
        columns: list[list[object]] = [[] for _ in range(10)]
        for record in screenings:
            event = record.event
            assert isinstance(event, ScreeningRecorded)
            score = event.score
            key = (record.stream_id, score.instrument.value)
            if event.baseline:
                baselines[key] = score.total
            baseline = baselines.get(key, score.total)
            values = (
                record.stream_id,
                record.global_position,
                score.instrument.value,
                event.occurred_at,
                score.total,
                score.band,
                event.baseline,
                baseline,
                not event.baseline and meaningful_change(score.instrument, baseline, score.total),
                remitted(score.instrument, score.total),
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        await conn.execute(_INSERT, *columns)
