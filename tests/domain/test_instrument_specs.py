"""Instruments are data: one spec module each, found by the registry, read by every rule."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import domain.instruments
from domain.events import SafetyHoldRaised, ScreeningRecorded
from domain.followups import FOLLOW_UP_INSTRUMENTS
from domain.instruments import (
    NOT_JUDGED,
    SPECS,
    Band,
    Instrument,
    InstrumentError,
    InstrumentSpec,
    ItemRisk,
    Judgement,
    Score,
    SurveyWording,
    baseline_instruments,
    follow_up_instruments,
    judge,
    meaningful_change,
    registry,
    remitted,
    score,
    spec_of,
    specs,
)
from domain.protocol import Protocol
from domain.vocabulary import Instrument as VocabularyInstrument
from tests.domain.journey import Journey
from tests.domain.test_purity import FORBIDDEN_CALLS, FORBIDDEN_MODULES

PACKAGE = Path(domain.instruments.__file__).parent

# A questionnaire that exists only here, as a spec: the WHO-5 well-being index's shape (5 items,
# 0–5), with a made-up risk rule so that every part of a spec is exercised.
WELLBEING = InstrumentSpec(
    name="wellbeing_test",
    title="Well-being (test)",
    position=25,
    items=5,
    top=5,
    bands=(Band(floor=0, name="poor"), Band(floor=13, name="fair"), Band(floor=19, name="good")),
    risk_items=(ItemRisk(item=5, above=3),),
    outcome=True,
    judged_from=6,
    reliable_change=4,
    remission_below=3,
    baseline=True,
    follow_up=True,
    survey=SurveyWording(
        preamble="Over the last two weeks:",
        items=tuple(f"Statement {n}" for n in range(1, 6)),
        answers=("At no time", "Some", "Less than half", "More than half", "Most", "All"),
    ),
)


@pytest.fixture
def wellbeing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Instrument]:
    monkeypatch.setitem(SPECS, WELLBEING.name, WELLBEING)
    yield Instrument(WELLBEING.name)


# --- the registry --------------------------------------------------------------------------


def test_every_spec_module_is_an_instrument_in_order() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "spec", "registry", "scoring"}
    assert set(SPECS) == modules == {"phq9", "gad7", "pcl5", "cssrs"}
    assert [s.name for s in specs()] == ["phq9", "gad7", "pcl5", "cssrs"]
    assert Instrument.all() == (Instrument.PHQ9, Instrument.GAD7, Instrument.PCL5, Instrument.CSSRS)
    assert VocabularyInstrument is Instrument  # callers' import keeps working


def test_baseline_and_follow_up_instruments_come_from_the_specs() -> None:
    assert baseline_instruments() == (Instrument.PHQ9, Instrument.GAD7)
    assert follow_up_instruments() == FOLLOW_UP_INSTRUMENTS == (Instrument.PHQ9, Instrument.GAD7)
    assert {s.name for s in specs() if s.survey is not None} == {"phq9", "gad7", "pcl5"}


def test_a_new_spec_module_is_found_with_nothing_else_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "brief_test.py").write_text(
        "from domain.instruments.spec import Band, InstrumentSpec\n"
        "SPEC = InstrumentSpec(name='brief_test', title='Brief', position=99, items=2, top=1,\n"
        "                      bands=(Band(floor=0, name='any'),))\n"
    )
    monkeypatch.setattr(
        domain.instruments, "__path__", [*domain.instruments.__path__, str(tmp_path)]
    )
    try:
        found = registry._discover()
    finally:
        sys.modules.pop("domain.instruments.brief_test", None)
    assert list(found) == ["brief_test", "cssrs", "gad7", "pcl5", "phq9"]
    assert found["brief_test"].max_total == 2


def test_a_module_without_a_spec_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "helpers_test.py").write_text("X = 1\n")
    monkeypatch.setattr(
        domain.instruments, "__path__", [*domain.instruments.__path__, str(tmp_path)]
    )
    try:
        with pytest.raises(TypeError, match="helpers_test defines no SPEC"):
            registry._discover()
    finally:
        sys.modules.pop("domain.instruments.helpers_test", None)


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_instrument_modules_are_pure(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
            if name.startswith("domain."):
                assert name.startswith("domain.instruments"), f"{path.name} imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{path.name} calls {called}()"


# --- the Instrument type ----------------------------------------------------------------------


class _Holder(BaseModel):
    instrument: Instrument
    answers: dict[Instrument, list[int]] = {}


def test_an_instrument_is_its_name() -> None:
    assert Instrument("phq9") is Instrument.PHQ9 == "phq9"
    assert (
        Instrument.PHQ9.value == "phq9" and f"{Instrument.GAD7}" == str(Instrument.GAD7) == "gad7"
    )
    assert {"phq9": 1}[Instrument.PHQ9] == 1 and sorted(Instrument.all()) == sorted(SPECS)
    assert Instrument.PCL5.spec is spec_of("pcl5") is SPECS["pcl5"]
    with pytest.raises(ValueError, match="not a known instrument"):
        Instrument("phq")


def test_pydantic_reads_and_writes_an_instrument_as_the_enum_did() -> None:
    held = _Holder.model_validate_json('{"instrument": "gad7", "answers": {"phq9": [1]}}')
    assert held.instrument is Instrument.GAD7 and list(held.answers) == [Instrument.PHQ9]
    assert held.model_dump_json() == '{"instrument":"gad7","answers":{"phq9":[1]}}'
    with pytest.raises(ValidationError) as refused:
        _Holder.model_validate({"instrument": "phq"})
    (error,) = refused.value.errors()
    assert error["type"] == "enum"
    assert error["msg"] == "Input should be 'phq9', 'gad7', 'pcl5' or 'cssrs'"
    schema = _Holder.model_json_schema()
    assert schema["$defs"]["Instrument"] == {
        "enum": ["phq9", "gad7", "pcl5", "cssrs"],
        "title": "Instrument",
        "type": "string",
    }


def test_a_score_stored_before_instruments_were_data_still_reads() -> None:
    stored = '{"instrument":"phq9","total":12,"band":"moderate","risk":true}'
    read = Score.model_validate_json(stored)
    assert read.instrument is Instrument.PHQ9 and read.model_dump_json() == stored


# --- one spec suffices --------------------------------------------------------------------------


@given(st.lists(st.integers(0, 5), min_size=5, max_size=5))
def test_an_instrument_defined_only_as_a_spec_is_scored_by_it(answers: list[int]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(SPECS, WELLBEING.name, WELLBEING)
        result = score(WELLBEING.name, answers)
        total = sum(answers)
        assert result.instrument is Instrument("wellbeing_test") and result.total == total
        assert result.band == ("poor" if total < 13 else "fair" if total < 19 else "good")
        assert result.risk == (answers[4] > 3)
        assert remitted(WELLBEING.name, total) == (total < 3)
        assert meaningful_change(WELLBEING.name, 20, 16) and not meaningful_change(
            WELLBEING.name, 20, 17
        )
        # Judged by its own spec: from a baseline of 6 (`judged_from`), a 4-point drop, below 3.
        assert judge(WELLBEING.name, 5, 0) == NOT_JUDGED
        assert judge(WELLBEING.name, 6, total) == Judgement(
            response=6 - total >= 4, remission=total < 3
        )


def test_an_instrument_defined_only_as_a_spec_is_asked_everywhere(
    wellbeing: Instrument,
) -> None:
    assert wellbeing in baseline_instruments() and wellbeing in follow_up_instruments()
    assert [s.name for s in specs()] == ["phq9", "gad7", "wellbeing_test", "pcl5", "cssrs"]
    with pytest.raises(InstrumentError, match="wellbeing_test item 2 must be a whole number 0–5"):
        score(wellbeing, [0, 6, 0, 0, 0])
    held = _Holder.model_validate_json('{"instrument": "wellbeing_test"}')
    assert held.instrument is wellbeing


def test_decide_screens_and_asks_for_an_instrument_defined_only_as_a_spec(
    wellbeing: Instrument,
) -> None:
    j = Journey().started().screened()  # PHQ-9, GAD-7 and consent
    goals = {"treatment_goals": ["sleep better"]}
    rejected = j.reject("complete_consultation", **goals)
    assert "record the baseline screening first (wellbeing_test)" in rejected.reason
    (recorded,) = j.do("record_screening", instrument="wellbeing_test", answers=[5, 5, 5, 5, 0])
    assert isinstance(recorded, ScreeningRecorded) and recorded.baseline
    assert (recorded.score.total, recorded.score.band) == (20, "good")
    j.do("complete_consultation", **goals)

    risky = Journey().started()
    raised = risky.do("record_screening", instrument="wellbeing_test", answers=[0, 0, 0, 0, 4])
    assert [type(e) for e in raised] == [ScreeningRecorded, SafetyHoldRaised]
    assert risky.s.safety_hold is not None


# --- the specs themselves -------------------------------------------------------------------


def test_a_protocol_setting_a_band_floor_exists_with_the_floor_as_its_default() -> None:
    protocol = Protocol()
    for spec in specs():
        for band in spec.bands:
            if band.protocol_setting is not None:
                assert getattr(protocol, band.protocol_setting) == band.floor, spec.name


def test_the_pcl5_spec_is_the_published_checklist() -> None:
    pcl5 = Instrument.PCL5.spec
    assert (pcl5.items, pcl5.top, pcl5.max_total, pcl5.reliable_change) == (20, 4, 80, 10)
    assert not (pcl5.baseline or pcl5.follow_up or pcl5.risk_items or pcl5.risk_bands)
    assert pcl5.survey is not None and len(pcl5.survey.answers) == 5


def _spec(**changes: object) -> InstrumentSpec:
    return InstrumentSpec.model_validate({**WELLBEING.model_dump(), **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Has Spaces"}, "pattern"),
        ({"bands": [{"floor": 1, "name": "a"}]}, "band floors must rise from 0"),
        ({"bands": [{"floor": 0, "name": "a"}, {"floor": 0, "name": "b"}]}, "must rise"),
        ({"bands": [{"floor": 0, "name": "a"}, {"floor": 9, "name": "a"}]}, "names must differ"),
        ({"bands": [{"floor": 0, "name": "a"}, {"floor": 26, "name": "b"}]}, "above the highest"),
        ({"risk_items": [{"item": 6}]}, "names an item it does not have"),
        ({"risk_items": [{"item": 1, "above": 5}]}, "a risk rule no answer can meet"),
        ({"risk_bands": ["dire"]}, "a risk band is not one of its bands"),
        ({"survey": {**WELLBEING.model_dump()["survey"], "items": ["x"]}}, "one text per item"),
        ({"survey": {**WELLBEING.model_dump()["survey"], "answers": ["n", "y"]}}, "label per"),
        ({"survey": None}, "a follow-up instrument needs its survey wording"),
        ({"outcome": False}, "a screener .* has no outcome rules"),
        ({"outcome": False, "reliable_change": None, "remission_below": None}, "no outcome rules"),
        ({"judged_from": 26}, "no baseline can be judged"),
    ],
)
def test_an_inconsistent_spec_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _spec(**changes)


def test_the_check_in_table_accepts_every_name_a_spec_may_have() -> None:
    from pathlib import Path

    from domain.instruments.spec import NAME_PATTERN

    sql = (Path(__file__).parents[2] / "database/migrations/0063_instrument_check.sql").read_text()
    assert f"instrument ~ '{NAME_PATTERN}'" in sql
