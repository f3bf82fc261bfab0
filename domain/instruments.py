"""Scoring of the screening instruments: PHQ-9, GAD-7, PCL-5 and the C-SSRS screener."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from domain.vocabulary import Instrument


class InstrumentError(ValueError):
    """Answers that do not fit the instrument; the message is safe to show."""


class Score(BaseModel):
    """A scored instrument. `risk` is True when the answers call for a safety assessment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument: Instrument
    total: int
    band: str
    risk: bool = False


# (item count, highest answer) per instrument; the C-SSRS screener is yes/no.
_SHAPE: dict[Instrument, tuple[int, int]] = {
    Instrument.PHQ9: (9, 3),
    Instrument.GAD7: (7, 3),
    Instrument.PCL5: (20, 4),
    # Items 1–6 of the screener, then item 6 asked for the past three months.
    Instrument.CSSRS: (7, 1),
}
MAX_TOTAL: dict[Instrument, int] = {i: n * top for i, (n, top) in _SHAPE.items()}


def _check(instrument: Instrument, answers: Sequence[int]) -> None:
    count, top = _SHAPE[instrument]
    if len(answers) != count:
        raise InstrumentError(f"{instrument.value} takes {count} answers, got {len(answers)}")
    for n, answer in enumerate(answers, start=1):
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= top:
            raise InstrumentError(f"{instrument.value} item {n} must be a whole number 0–{top}")


def _band(total: int, cuts: Sequence[tuple[int, str]]) -> str:
    band = cuts[0][1]
    for floor, name in cuts:
        if total >= floor:
            band = name
    return band


def score(instrument: Instrument, answers: Sequence[int], *, pcl5_cutoff: int = 33) -> Score:
    """Score answers; raise InstrumentError when they do not fit the instrument."""
    _check(instrument, answers)
    total = sum(answers)
    if instrument is Instrument.PHQ9:
        cuts = [
            (0, "minimal"),
            (5, "mild"),
            (10, "moderate"),
            (15, "moderately_severe"),
            (20, "severe"),
        ]
        return Score(
            instrument=instrument, total=total, band=_band(total, cuts), risk=answers[8] > 0
        )
    if instrument is Instrument.GAD7:
        cuts = [(0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")]
        return Score(instrument=instrument, total=total, band=_band(total, cuts))
    if instrument is Instrument.PCL5:
        band = "provisional_ptsd" if total >= pcl5_cutoff else "below_threshold"
        return Score(instrument=instrument, total=total, band=band)
    # C-SSRS screener: yes to 4 or 5, or behaviour in the past 3 months → imminent risk.
    wish, thoughts, method, intent, plan, behaviour, recent_behaviour = answers
    if recent_behaviour and not behaviour:
        raise InstrumentError("cssrs: recent behaviour needs behaviour answered yes")
    if intent or plan or recent_behaviour:
        band = "high"
    elif method or behaviour:
        band = "moderate"
    elif wish or thoughts:
        band = "low"
    else:
        band = "none"
    return Score(instrument=instrument, total=total, band=band, risk=band == "high")


def responded(baseline: int, current: int) -> bool:
    """Response: at least a 50% drop from a non-zero baseline."""
    return baseline > 0 and current <= baseline / 2


def remitted(instrument: Instrument, current: int) -> bool:
    """Remission: PHQ-9 (or GAD-7) below 5."""
    return instrument in (Instrument.PHQ9, Instrument.GAD7) and current < 5


def meaningful_change(instrument: Instrument, baseline: int, current: int) -> bool:
    """PCL-5: a 10-point drop is clinically meaningful; otherwise response."""
    if instrument is Instrument.PCL5:
        return baseline - current >= 10
    return responded(baseline, current)
