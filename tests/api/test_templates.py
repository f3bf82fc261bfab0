"""The HTML pages' templates: package data of `api`, autoescaped, on one base layout."""

from __future__ import annotations

from importlib.resources import files
from types import SimpleNamespace
from typing import Any

import pytest
from jinja2 import UndefinedError

from api.survey_page import _shown, sections
from api.templates import ENVIRONMENT, HEADERS, render
from config.settings import Settings
from domain.instruments import SPECS, Band, InstrumentSpec, SurveyWording
from domain.vocabulary import Instrument
from workflows.followups import SurveyStatus

TEMPLATES = ("base.html", "not_found.html", "survey.html")


def test_the_templates_are_package_data_of_api() -> None:
    # The wheel ships every file of `api` (pyproject's hatch packages), the image copies api/:
    # the loader finds them through the package, wherever it is installed.
    for name in TEMPLATES:
        assert (files("api") / "templates" / name).is_file()
    assert set(TEMPLATES) <= set(ENVIRONMENT.list_templates())


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_escapes_what_it_is_given(name: str) -> None:
    assert ENVIRONMENT.autoescape is True
    page = render(
        name,
        title="<script>alert(1)</script>",
        detail="<img src=x onerror=alert(1)>",
        state="closed",
        crisis=True,
        crisis_resources="<a href=//evil>call</a>",
        callback="0800 <b>",
        incomplete=False,
        sections=[],
    )
    assert "<script>alert" not in page and "<img" not in page and "<a href" not in page
    assert "<b>" not in page


def test_a_name_the_template_does_not_get_fails_rather_than_renders_empty() -> None:
    with pytest.raises(UndefinedError):
        render("not_found.html", title="Check-in not found")


def test_every_page_extends_the_base_layout() -> None:
    page = render("not_found.html", title="Gone", detail="no such check-in")
    assert page.startswith("<!doctype html>") and "<h1>Gone</h1>" in page
    assert "<p>no such check-in.</p>" in page and "<script" not in page


def _api(**settings: Any) -> Any:
    return SimpleNamespace(settings=Settings(**settings))


def _status(outstanding: list[Instrument], **fields: Any) -> SurveyStatus:
    return SurveyStatus(
        check_in="week-2", open=True, closes_at=None, answered=[], outstanding=outstanding, **fields
    )


def test_the_survey_page_escapes_an_instruments_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = InstrumentSpec(
        name="markup_test",
        title="Markup",
        position=50,
        items=1,
        top=1,
        bands=(Band(floor=0, name="any"),),
        survey=SurveyWording(
            preamble="</p><script>alert('preamble')</script>",
            items=("<script>alert('item')</script>",),
            answers=("<b>no</b>", "yes & <i>more</i>"),
        ),
    )
    monkeypatch.setitem(SPECS, spec.name, spec)
    response = _shown(
        _api(clinic_name="<Clinic>", crisis_resources="Call <999>"),
        _status([Instrument("markup_test")], crisis_resources=True),
    )
    page = bytes(response.body).decode()
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#39;item&#39;)&lt;/script&gt;" in page
    assert "&lt;/p&gt;&lt;script&gt;" in page and "yes &amp; &lt;i&gt;more&lt;/i&gt;" in page
    assert "&lt;Clinic&gt;" in page and "Call &lt;999&gt;" in page
    assert {k: response.headers[k] for k in HEADERS} == HEADERS


def test_instruments_sharing_their_wording_share_a_preamble() -> None:
    asked = sections([Instrument.PHQ9, Instrument.GAD7, Instrument.PCL5])
    assert [len(s.questions) for s in asked] == [9 + 7, 20]
    assert asked[0].questions[9].field == "gad7-1" and len(asked[1].answers) == 5
    assert sections([Instrument.CSSRS]) == []  # asked by a clinician, never on this page
    assert sections([]) == []
