"""`GET /journeys/{client_id}/outcomes`: how a client is doing, instrument by instrument.

Scores from the sessions (the `outcomes` read model) and from the check-ins after a course that
gave a dose (`follow_up_check_ins`), in time order, each with response and remission against the
baseline as `domain.instruments.judge` rules them (null where they are not judged: the baseline
itself, a baseline below 10 for PHQ-9 and GAD-7, the C-SSRS, PCL-5 remission); and every
check-in's status (sent, answered, missed). Read models: a score recorded a moment ago may show a
moment later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.auth import CurrentClinician
from api.context import Api
from api.journeys import ERRORS, ClientId, visible_view
from domain.instruments import judge
from domain.vocabulary import Instrument

router = APIRouter(tags=["journeys"])

_SESSIONS = """
SELECT instrument, recorded_at, total, band, is_baseline, response, remission FROM outcomes
 WHERE journey_id = $1 ORDER BY recorded_at, global_position
"""
_CHECK_INS = """
SELECT check_in, instrument, status, total, band, risk, recorded_at FROM follow_up_check_ins
 WHERE journey_id = $1 ORDER BY recorded_at, check_in, instrument
"""


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Measurement(_Out):
    recorded_at: datetime
    total: int
    band: str
    source: Literal["session", "check_in"]
    check_in: str | None  # "week-2": a check-in after the course
    baseline: bool
    # Against the baseline (PHQ-9, GAD-7: a 50% drop from a baseline of 10 or more; PCL-5: a
    # 10-point drop); null where not judged (the baseline itself, a baseline below 10, C-SSRS).
    response: bool | None
    remission: bool | None  # PHQ-9, GAD-7: below 5, from a baseline of 10 or more; else null
    risk: bool | None  # a check-in answer asked for a safety review (sessions: see the events)


class InstrumentOutcome(_Out):
    instrument: Instrument
    baseline: int | None  # the latest baseline total, if one was recorded
    latest: Measurement
    measurements: list[Measurement]


class CheckIn(_Out):
    check_in: str
    instrument: Instrument
    status: Literal["sent", "answered", "missed"]
    total: int | None
    band: str | None
    risk: bool | None  # an answer asked for a safety review (the therapist was alerted)
    recorded_at: datetime


class Outcomes(_Out):
    client_id: str
    journey_id: str
    instruments: list[InstrumentOutcome]
    check_ins: list[CheckIn]


def _series(instrument: Instrument, measurements: list[Measurement]) -> InstrumentOutcome:
    in_time = sorted(measurements, key=lambda m: m.recorded_at)  # stable: sessions first
    baselines = [m.total for m in in_time if m.baseline]
    return InstrumentOutcome(
        instrument=instrument,
        baseline=baselines[-1] if baselines else None,
        latest=in_time[-1],
        measurements=in_time,
    )


@router.get(
    "/journeys/{client_id}/outcomes",
    response_model=Outcomes,
    summary="Scores over time per instrument (sessions and later check-ins), check-in statuses",
    responses=ERRORS,
)
async def journey_outcomes(client_id: ClientId, clinician: CurrentClinician, api: Api) -> Outcomes:
    view = await visible_view(api, clinician, client_id, "outcomes")
    series: dict[Instrument, list[Measurement]] = {}
    baseline: dict[Instrument, int] = {}  # the latest baseline of each instrument
    for r in await api.pool.fetch(_SESSIONS, view.journey_id):  # as the projection judged them
        instrument = Instrument(r["instrument"])
        if r["is_baseline"]:
            baseline[instrument] = r["total"]
        series.setdefault(instrument, []).append(
            Measurement(
                recorded_at=r["recorded_at"],
                total=r["total"],
                band=r["band"],
                source="session",
                check_in=None,
                baseline=r["is_baseline"],
                response=r["response"],
                remission=r["remission"],
                risk=None,
            )
        )
    check_ins = [CheckIn(**r) for r in await api.pool.fetch(_CHECK_INS, view.journey_id)]
    for c in check_ins:  # after the course: judged against the course's baseline the same way
        if c.status != "answered" or c.total is None or c.band is None:
            continue
        judgement = judge(c.instrument, baseline.get(c.instrument), c.total)
        series.setdefault(c.instrument, []).append(
            Measurement(
                recorded_at=c.recorded_at,
                total=c.total,
                band=c.band,
                source="check_in",
                check_in=c.check_in,
                baseline=False,
                response=judgement.response,
                remission=judgement.remission,
                risk=c.risk,
            )
        )
    instruments = [_series(i, measurements) for i, measurements in sorted(series.items())]
    return Outcomes(
        client_id=client_id,
        journey_id=view.journey_id,
        instruments=instruments,
        check_ins=check_ins,
    )
