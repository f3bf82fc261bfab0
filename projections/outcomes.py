"""Outcomes: instrument scores over time per journey, each judged against its baseline.

The first screening of an instrument in a journey is its baseline; every later one is judged
against it by `domain.instruments.judge` (response and remission where the instrument's rules
judge at all, NULL where they do not: the baseline itself, a baseline below 10 for PHQ-9 and
GAD-7, the C-SSRS). This module only applies the rules.

Rows are upserted, so replaying the log over existing rows rewrites them by the current rules:
migration 0066 resets this projection's checkpoint so that rows judged by the rules before it
are judged again (as would `carepath projections rebuild --name outcomes`).
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import ScreeningRecorded
from domain.instruments import NOT_JUDGED, judge
from projections.log import LogEvent
from projections.runner import Conn

_BASELINES = """
SELECT journey_id, instrument, total FROM outcomes
 WHERE is_baseline AND journey_id = ANY($1::text[])
"""
_UPSERT = """
INSERT INTO outcomes (journey_id, global_position, instrument, recorded_at, total, band,
                      is_baseline, baseline_total, response, remission)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::int[],
                     $6::text[], $7::bool[], $8::int[], $9::bool[], $10::bool[])
ON CONFLICT (journey_id, global_position) DO UPDATE
   SET instrument = EXCLUDED.instrument, recorded_at = EXCLUDED.recorded_at,
       total = EXCLUDED.total, band = EXCLUDED.band, is_baseline = EXCLUDED.is_baseline,
       baseline_total = EXCLUDED.baseline_total, response = EXCLUDED.response,
       remission = EXCLUDED.remission
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
        baselines: dict[tuple[str, str], int] = {
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
                judgement = NOT_JUDGED  # a baseline is what later scores are judged against
            else:
                judgement = judge(score.instrument, baselines.get(key), score.total)
            values = (
                record.stream_id,
                record.global_position,
                score.instrument.value,
                event.occurred_at,
                score.total,
                score.band,
                event.baseline,
                baselines.get(key, score.total),
                judgement.response,
                judgement.remission,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        await conn.execute(_UPSERT, *columns)
