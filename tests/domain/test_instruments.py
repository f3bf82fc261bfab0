from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.instruments import (
    InstrumentError,
    meaningful_change,
    remitted,
    responded,
    score,
)
from domain.protocol import Protocol
from domain.vocabulary import Instrument


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_phq9_total_band_and_item9(answers: list[int]) -> None:
    result = score(Instrument.PHQ9, answers)
    assert result.total == sum(answers)
    assert 0 <= result.total <= Instrument.PHQ9.spec.max_total == 27
    bands = {
        range(0, 5): "minimal",
        range(5, 10): "mild",
        range(10, 15): "moderate",
        range(15, 20): "moderately_severe",
        range(20, 28): "severe",
    }
    assert result.band == next(b for r, b in bands.items() if result.total in r)
    assert result.risk == (answers[8] > 0)


@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_gad7_bands(answers: list[int]) -> None:
    result = score(Instrument.GAD7, answers)
    total = sum(answers)
    expected = (
        "minimal" if total < 5 else "mild" if total < 10 else "moderate" if total < 15 else "severe"
    )
    assert result.band == expected and not result.risk


@given(st.lists(st.integers(0, 4), min_size=20, max_size=20), st.integers(31, 40))
def test_pcl5_cutoff_is_the_protocols(answers: list[int], cutoff: int) -> None:
    protocol = Protocol(pcl5_provisional_ptsd_cutoff=cutoff)
    result = score(Instrument.PCL5, answers, protocol=protocol)
    assert (result.band == "provisional_ptsd") == (sum(answers) >= cutoff) and not result.risk
    default = score(Instrument.PCL5, answers)  # without a protocol: the default cutoff, 33
    assert (default.band == "provisional_ptsd") == (sum(answers) >= 33)


@pytest.mark.parametrize(
    ("answers", "band", "risk"),
    [
        ([0, 0, 0, 0, 0, 0, 0], "none", False),
        ([1, 1, 0, 0, 0, 0, 0], "low", False),
        ([1, 1, 1, 0, 0, 0, 0], "moderate", False),
        ([0, 0, 0, 0, 0, 1, 0], "moderate", False),  # behaviour, not recent
        ([1, 1, 1, 1, 0, 0, 0], "high", True),  # intent
        ([1, 1, 1, 0, 1, 0, 0], "high", True),  # plan
        ([0, 0, 0, 0, 0, 1, 1], "high", True),  # behaviour in the past 3 months
    ],
)
def test_cssrs_screener_triage(answers: list[int], band: str, risk: bool) -> None:
    result = score(Instrument.CSSRS, answers)
    assert (result.band, result.risk) == (band, risk)


@pytest.mark.parametrize(
    ("instrument", "answers", "message"),
    [
        (Instrument.PHQ9, [0] * 8, "takes 9 answers"),
        (Instrument.PHQ9, [0] * 8 + [4], "item 9"),
        (Instrument.GAD7, [0, 0, 0, -1, 0, 0, 0], "item 4"),
        (Instrument.PCL5, [5] + [0] * 19, "item 1"),
        (Instrument.CSSRS, [0, 0, 0, 0, 0, 2, 0], "item 6"),
        (Instrument.CSSRS, [0, 0, 0, 0, 0, 0, 1], "recent behaviour"),
    ],
)
def test_invalid_answers_are_rejected_in_plain_words(
    instrument: Instrument, answers: list[int], message: str
) -> None:
    with pytest.raises(InstrumentError, match=message):
        score(instrument, answers)


def test_booleans_are_not_answers() -> None:
    with pytest.raises(InstrumentError):
        score(Instrument.GAD7, [True, 0, 0, 0, 0, 0, 0])


@given(st.integers(0, 27), st.integers(0, 27))
def test_response_and_remission(baseline: int, current: int) -> None:
    assert responded(baseline, current) == (baseline > 0 and 2 * current <= baseline)
    assert remitted(Instrument.PHQ9, current) == (current < 5)
    assert not remitted(Instrument.PCL5, current)


def test_pcl5_meaningful_change_is_ten_points() -> None:
    assert meaningful_change(Instrument.PCL5, 50, 40)
    assert not meaningful_change(Instrument.PCL5, 50, 41)
    assert meaningful_change(Instrument.PHQ9, 20, 10)
