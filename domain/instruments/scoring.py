"""Scoring by the specs: a total, its band, and whether the answers call for a safety assessment;
then, over time, the outcome of a measurement against its baseline (`judge`: response and
remission, or nothing where they are not judged)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from domain.instruments.registry import Instrument
from domain.instruments.spec import Band, InstrumentSpec


class InstrumentError(ValueError):
    """Answers that do not fit the instrument; the message is safe to show (it names the item,
    never a value)."""


class Score(BaseModel):
    """A scored instrument. `risk` is True when the answers call for a safety assessment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument: Instrument
    total: int
    band: str
    risk: bool = False


def _check(spec: InstrumentSpec, answers: Sequence[int]) -> None:
    if len(answers) != spec.items:
        raise InstrumentError(f"{spec.name} takes {spec.items} answers, got {len(answers)}")
    for n, answer in enumerate(answers, start=1):
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= spec.top:
            raise InstrumentError(f"{spec.name} item {n} must be a whole number 0–{spec.top}")
    for rule in spec.requires:
        if answers[rule.item - 1] > 0 and answers[rule.needs - 1] == 0:
            raise InstrumentError(f"{spec.name}: {rule.message}")


def _floor(band: Band, protocol: object | None) -> int:
    if band.protocol_setting is None or protocol is None:
        return band.floor
    floor = getattr(protocol, band.protocol_setting)
    if not isinstance(floor, int):
        raise TypeError(f"the protocol's {band.protocol_setting} is not a whole number")
    return floor


def _band(spec: InstrumentSpec, answers: Sequence[int], protocol: object | None) -> str:
    for rule in spec.item_bands:
        if any(answers[n - 1] > 0 for n in rule.items):
            return rule.band
    total = sum(answers)
    band = spec.bands[0].name
    for candidate in spec.bands:
        if total >= _floor(candidate, protocol):
            band = candidate.name
    return band


def score(instrument: str, answers: Sequence[int], *, protocol: object | None = None) -> Score:
    """Score answers; raise InstrumentError when they do not fit the instrument.

    `protocol` is the journey's `Protocol`, for the band floors a clinic sets (PCL-5's cutoff);
    without it, the spec's defaults."""
    spec = Instrument(instrument).spec
    _check(spec, answers)
    band = _band(spec, answers, protocol)
    risk = band in spec.risk_bands or any(answers[r.item - 1] > r.above for r in spec.risk_items)
    return Score(instrument=Instrument(spec.name), total=sum(answers), band=band, risk=risk)


class Judgement(BaseModel):
    """A measurement's outcome against its baseline. None: not judged (the baseline itself, no
    baseline, a baseline below the instrument's `judged_from`, a screener; remission of an
    instrument without a remission rule)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    response: bool | None = None  # a meaningful change (PCL-5: 10 points; others: a 50% drop)
    remission: bool | None = None


NOT_JUDGED = Judgement()


def judged(instrument: str, baseline: int | None) -> bool:
    """Whether measurements after `baseline` (a total; None: none recorded) are judged: the
    instrument is an outcome measure and the baseline reaches its `judged_from`."""
    spec = Instrument(instrument).spec
    return spec.outcome and baseline is not None and baseline >= spec.judged_from


def judge(instrument: str, baseline: int | None, current: int) -> Judgement:
    """The outcome of a measurement taken after the baseline (`baseline`: its total; None when
    there is none or the measurement is the baseline itself, which is never judged): response
    and remission where `judged`, else `NOT_JUDGED`. PHQ-9 and GAD-7: a drop of 50% or more and
    a total below 5, from a baseline of 10 or more; PCL-5: a 10-point drop, no remission;
    C-SSRS: nothing (sources in each instrument's spec module)."""
    if baseline is None or not judged(instrument, baseline):
        return NOT_JUDGED
    has_remission = Instrument(instrument).spec.remission_below is not None
    return Judgement(
        response=meaningful_change(instrument, baseline, current),
        remission=remitted(instrument, current) if has_remission else None,
    )


# The arithmetic `judge` applies where it judges at all; never a judgement alone.


def responded(baseline: int, current: int) -> bool:
    """At least a 50% drop from a non-zero baseline."""
    return baseline > 0 and current <= baseline / 2


def remitted(instrument: str, current: int) -> bool:
    """A total below the spec's `remission_below` (PHQ-9, GAD-7: below 5); an instrument
    without one never remits."""
    below = Instrument(instrument).spec.remission_below
    return below is not None and current < below


def meaningful_change(instrument: str, baseline: int, current: int) -> bool:
    """A drop of the spec's `reliable_change` points (PCL-5: 10); without one, `responded`."""
    points = Instrument(instrument).spec.reliable_change
    if points is not None:
        return baseline - current >= points
    return responded(baseline, current)
