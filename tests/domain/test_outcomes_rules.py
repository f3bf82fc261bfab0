"""Outcomes done right (issue 13): response and remission are judged only on measurements after
the baseline, only against a baseline of 10 or more (PHQ-9, GAD-7), never for a screener
(C-SSRS); the PCL-5 keeps its 10-point reliable change. One property per rule, over every
total an instrument can have."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.instruments import (
    NOT_JUDGED,
    Instrument,
    InstrumentSpec,
    Judgement,
    judge,
    judged,
    specs,
)

PHQ9_GAD7 = st.sampled_from([Instrument.PHQ9, Instrument.GAD7])
ANY = st.sampled_from(Instrument.all())


def totals(instrument: Instrument) -> st.SearchStrategy[int]:
    return st.integers(0, instrument.spec.max_total)


@given(ANY.flatmap(lambda i: st.tuples(st.just(i), totals(i))))
def test_a_baseline_is_never_judged(case: tuple[Instrument, int]) -> None:
    """The baseline itself (or a measurement with no baseline) has no response or remission."""
    instrument, total = case
    assert judge(instrument, None, total) == NOT_JUDGED
    assert not judged(instrument, None)


@given(PHQ9_GAD7.flatmap(lambda i: st.tuples(st.just(i), st.integers(0, 9), totals(i))))
def test_phq9_and_gad7_below_10_at_baseline_are_never_judged(
    case: tuple[Instrument, int, int],
) -> None:
    instrument, baseline, current = case
    assert judge(instrument, baseline, current) == NOT_JUDGED
    assert judge(instrument, baseline, current).response is None


@given(
    PHQ9_GAD7.flatmap(lambda i: st.tuples(st.just(i), st.integers(10, i.spec.max_total), totals(i)))
)
def test_phq9_and_gad7_from_10_response_is_halving_and_remission_below_5(
    case: tuple[Instrument, int, int],
) -> None:
    """Response: a drop of 50% or more; remission: a total below 5 (Kroenke & Spitzer 2002)."""
    instrument, baseline, current = case
    assert judge(instrument, baseline, current) == Judgement(
        response=2 * current <= baseline, remission=current < 5
    )


@given(totals(Instrument.CSSRS), totals(Instrument.CSSRS))
def test_the_cssrs_is_a_screener_never_an_outcome(baseline: int, current: int) -> None:
    assert not Instrument.CSSRS.spec.outcome
    assert judge(Instrument.CSSRS, baseline, current) == NOT_JUDGED


@given(totals(Instrument.PCL5), totals(Instrument.PCL5))
def test_the_pcl5_is_judged_by_a_10_point_drop_and_never_remits(
    baseline: int, current: int
) -> None:
    assert judge(Instrument.PCL5, baseline, current) == Judgement(
        response=baseline - current >= 10, remission=None
    )


@given(ANY.flatmap(lambda i: st.tuples(st.just(i), totals(i), totals(i))))
def test_every_instrument_is_judged_by_its_spec_alone(case: tuple[Instrument, int, int]) -> None:
    """No instrument is special-cased by name: `outcome`, `judged_from`, `remission_below` and
    `reliable_change` say everything."""
    instrument, baseline, current = case
    spec: InstrumentSpec = instrument.spec
    judgement = judge(instrument, baseline, current)
    if not spec.outcome or baseline < spec.judged_from:
        assert judgement == NOT_JUDGED
        return
    drop = (
        baseline - current >= spec.reliable_change
        if spec.reliable_change is not None
        else baseline > 0 and 2 * current <= baseline
    )
    assert judgement.response == drop
    below = spec.remission_below
    assert judgement.remission == (None if below is None else current < below)


def test_the_findings_of_issue_13() -> None:
    # A baseline PHQ-9 of 3 is not "remission" (it is the baseline, and below 10); nor is a
    # later 2 against it, nor 4 -> 2 a "response".
    assert judge(Instrument.PHQ9, None, 3) == NOT_JUDGED
    assert judge(Instrument.PHQ9, 3, 2) == NOT_JUDGED
    assert judge(Instrument.PHQ9, 4, 2) == NOT_JUDGED
    # A count of C-SSRS yes answers falling is no "response".
    assert judge(Instrument.CSSRS, 3, 0) == NOT_JUDGED
    # What is judged: 12 -> 4 is a response and a remission; 10 -> 6 neither.
    assert judge(Instrument.PHQ9, 12, 4) == Judgement(response=True, remission=True)
    assert judge(Instrument.GAD7, 10, 6) == Judgement(response=False, remission=False)


def test_outcome_measures_are_marked_in_their_specs() -> None:
    assert {s.name: (s.outcome, s.judged_from) for s in specs()} == {
        "phq9": (True, 10),
        "gad7": (True, 10),
        "pcl5": (True, 0),
        "cssrs": (False, 0),
    }
