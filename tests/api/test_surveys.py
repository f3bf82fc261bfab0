"""A client answers a check-in through the survey link: no account, never a score back."""

from __future__ import annotations

import asyncio
import base64
import html
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle

from activities.followups import CheckInInput, CompletedJourney
from config.settings import Settings
from domain.ids import check_in_workflow_id
from domain.instruments import SPECS, Band, InstrumentSpec, ItemRisk, SurveyWording
from domain.vocabulary import Instrument
from privacy.keys import parse_keys
from privacy.links import survey_token
from tests.api.conftest import Api
from tests.temporal import terminate_if_running
from workers.api import HideSurveyLinks
from workflows.followups import FollowUpCheckInWorkflow

KEYS = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
PHQ9_MILD = [1, 1, 1, 1, 1, 1, 1, 0, 0]
PHQ9_ITEM9 = [0, 0, 0, 0, 0, 0, 0, 0, 1]
GAD7 = [2, 2, 2, 1, 1, 1, 2]
CRISIS = "Call 116 123 (Samaritans, UK & Ireland) or 999."


@pytest_asyncio.fixture
async def settings() -> Settings:
    return Settings(
        task_queue=f"api-{uuid.uuid4().hex[:8]}",
        api_runs_projections=False,
        payload_keys=KEYS,
        crisis_resources=CRISIS,  # the clinic's own country's lines
    )


async def open_check_in(api: Api, **fields: Any) -> tuple[WorkflowHandle[Any, Any], str]:
    """A freshly opened check-in and its survey link."""
    journey_id, client_id = f"j-{uuid.uuid4().hex[:8]}", f"cl-{uuid.uuid4().hex[:8]}"
    journey = CompletedJourney(
        journey_id=journey_id,
        client_id=client_id,
        therapist_id=api.th.clinician_id,
        clinic_id="default",
    )
    workflow_id = check_in_workflow_id(journey_id, "week-2")
    now = await api.env.get_current_time()
    handle = await api.env.client.start_workflow(
        FollowUpCheckInWorkflow.run,
        CheckInInput(journey=journey, check_in="week-2", due_at=now, **fields),
        id=workflow_id,
        task_queue=api.settings.task_queue,
    )
    return handle, survey_token(parse_keys(KEYS), workflow_id)


@pytest_asyncio.fixture
async def link(api: Api) -> AsyncIterator[str]:
    handle, token = await open_check_in(api)
    yield token
    await terminate_if_running(handle)


async def test_the_link_shows_what_is_to_answer_and_takes_the_answers(api: Api, link: str) -> None:
    shown = await api.http.get(f"/surveys/{link}")
    assert shown.status_code == 200, shown.text
    status = shown.json()
    assert status["open"] and status["check_in"] == "week-2"
    assert set(status["outstanding"]) == {"phq9", "gad7"} and status["answered"] == []

    first = await api.http.post(f"/surveys/{link}", json={"answers": {"phq9": PHQ9_MILD}})
    assert first.status_code == 200, first.text
    assert first.json() == {
        "answered": ["phq9"],
        "outstanding": ["gad7"],
        "crisis_resources": False,
        "alert_recorded": False,
    }
    again = await api.http.post(f"/surveys/{link}", json={"answers": {"phq9": PHQ9_ITEM9}})
    assert again.json() == first.json()  # the first answers count

    last = await api.http.post(f"/surveys/{link}", json={"answers": {"gad7": GAD7}})
    assert last.json()["outstanding"] == [] and "total" not in last.text


async def test_an_answer_asking_for_a_safety_review_shows_crisis_resources(
    api: Api, link: str
) -> None:
    answered = await api.http.post(f"/surveys/{link}", json={"answers": {"phq9": PHQ9_ITEM9}})
    assert answered.status_code == 200 and answered.json()["crisis_resources"] is True


@pytest.mark.parametrize(
    "answers",
    [{"phq9": [1, 1, 1]}, {"phq9": [9] * 9}, {"pcl5": [0] * 20}, {}],
)
async def test_invalid_answers_are_refused_and_record_nothing(
    api: Api, link: str, answers: dict[str, list[int]]
) -> None:
    refused = await api.http.post(f"/surveys/{link}", json={"answers": answers})
    assert refused.status_code == 422
    assert "9, 9" not in refused.text  # never the values sent
    status = (await api.http.get(f"/surveys/{link}")).json()
    assert status["answered"] == []


async def test_a_wrong_or_altered_link_is_not_found(api: Api, link: str) -> None:
    altered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    for wrong in (altered, "k1.Zm9v.bar", "nonsense", "not%20a%20link!", "k1." + "A" * 900):
        for response in (
            await api.http.get(f"/surveys/{wrong}"),
            await api.http.post(f"/surveys/{wrong}", json={"answers": {"phq9": PHQ9_MILD}}),
        ):
            assert response.status_code == 404, (wrong, response.text)


async def test_a_closed_check_in_is_gone(api: Api) -> None:
    # Closes unanswered a second after it opens, without skipping time.
    handle, link = await open_check_in(api, reminders=0, reminder_every=timedelta(seconds=1))
    await asyncio.wait_for(handle.result(), 30)
    shown = (await api.http.get(f"/surveys/{link}")).json()
    assert shown["open"] is False and set(shown["outstanding"]) == {"phq9", "gad7"}
    late = await api.http.post(f"/surveys/{link}", json={"answers": {"phq9": PHQ9_MILD}})
    assert late.status_code == 410


def test_access_log_lines_never_show_a_link() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/surveys/k1.Zm9v.c2VjcmV0?x=1", "1.1", 200),
        None,
    )
    assert HideSurveyLinks().filter(record)
    assert "Zm9v" not in record.getMessage() and "/surveys/…?x=1" in record.getMessage()
    page = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "GET /s/k1.Zm9v.c2Vj", None, None
    )
    assert HideSurveyLinks().filter(page) and page.getMessage() == "GET /s/…"


def form(**answers: list[int]) -> str:
    return urlencode(
        {f"{name}-{n}": v for name, values in answers.items() for n, v in enumerate(values, 1)}
    )


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_the_page_asks_every_question_and_thanks_without_a_score(api: Api, link: str) -> None:
    page = await api.http.get(f"/s/{link}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("type=radio") == (9 + 7) * 4
    assert "Feeling down, depressed, or hopeless" in page.text

    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_MILD, gad7=GAD7), headers=FORM)
    assert sent.status_code == 200 and "Thank you" in sent.text
    assert "116 123" not in sent.text and "7" not in sent.text.split("<body>")[1]
    status = (await api.http.get(f"/surveys/{link}")).json()
    assert status["outstanding"] == []


async def test_the_page_shows_crisis_resources_when_an_answer_asks_for_it(
    api: Api, link: str
) -> None:
    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_ITEM9, gad7=GAD7), headers=FORM)
    assert sent.status_code == 200 and "class=crisis" in sent.text
    assert html.escape(CRISIS) in sent.text and "988" not in sent.text


async def test_crisis_resources_come_at_once_even_with_questions_left(api: Api, link: str) -> None:
    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_ITEM9), headers=FORM)
    assert sent.status_code == 200 and html.escape(CRISIS) in sent.text
    assert sent.text.index("class=crisis") < sent.text.index("<form")
    assert sent.text.count("type=radio") == 7 * 4  # GAD-7 is still to answer

    again = await api.http.get(f"/s/{link}")  # reopened from the text message later
    assert again.status_code == 200 and html.escape(CRISIS) in again.text
    assert again.text.index("class=crisis") < again.text.index("<form")
    assert (await api.http.get(f"/surveys/{link}")).json()["crisis_resources"] is True
    done = await api.http.post(f"/s/{link}", content=form(gad7=GAD7), headers=FORM)
    assert done.status_code == 200 and "Thank you" in done.text and html.escape(CRISIS) in done.text


async def test_a_whole_instrument_counts_even_beside_a_half_answered_one(
    api: Api, link: str
) -> None:
    sent = await api.http.post(
        f"/s/{link}", content=form(phq9=PHQ9_ITEM9, gad7=GAD7[:3]), headers=FORM
    )
    assert sent.status_code == 422 and "Please answer every question" in sent.text
    assert html.escape(CRISIS) in sent.text  # PHQ-9 item 9 was recorded: resources at once
    assert sent.text.count("type=radio") == 7 * 4  # only GAD-7 is asked again
    status = (await api.http.get(f"/surveys/{link}")).json()
    assert status["answered"] == ["phq9"] and status["crisis_resources"] is True


async def test_a_page_without_crisis_answers_never_shows_crisis_resources(
    api: Api, link: str
) -> None:
    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_MILD), headers=FORM)
    assert sent.status_code == 200 and "class=crisis" not in sent.text
    assert "class=crisis" not in (await api.http.get(f"/s/{link}")).text


async def test_a_half_answered_page_comes_back_with_nothing_recorded(api: Api, link: str) -> None:
    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_MILD[:5]), headers=FORM)
    assert sent.status_code == 422 and "Please answer every question" in sent.text
    assert sent.text.count("type=radio") == (9 + 7) * 4
    assert (await api.http.get(f"/surveys/{link}")).json()["answered"] == []


async def test_the_page_of_a_wrong_link_or_a_closed_check_in(api: Api) -> None:
    for bad in ("k1.Zm9v.bar", "not%20a%20link!"):
        wrong = await api.http.get(f"/s/{bad}")
        assert wrong.status_code == 404 and "not found" in wrong.text.lower()
        assert wrong.headers["content-type"].startswith("text/html")
    handle, link = await open_check_in(api, reminders=0, reminder_every=timedelta(seconds=1))
    await asyncio.wait_for(handle.result(), 30)
    closed = await api.http.get(f"/s/{link}")
    assert closed.status_code == 410 and "closed" in closed.text


# An instrument that exists only as this spec (no module, no migration, no template of its own),
# worded with markup that must reach the client as text.
SCRIPTED = InstrumentSpec(
    name="scripted_test",
    title="Scripted <b>test</b>",
    position=15,
    items=3,
    top=2,
    bands=(Band(floor=0, name="low"), Band(floor=4, name="high")),
    risk_items=(ItemRisk(item=3, above=1),),
    follow_up=True,
    survey=SurveyWording(
        preamble="In the past week & more, <em>how</em> often:",
        items=("<script>alert(1)</script>", 'Saying "hi" & going', "It's <b>bold</b>"),
        answers=("No", "Some", "<i>Yes</i>"),
    ),
)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Instrument]:
    monkeypatch.setitem(SPECS, SCRIPTED.name, SCRIPTED)
    yield Instrument(SCRIPTED.name)


async def test_an_instrument_defined_only_as_a_spec_is_asked_escaped_and_scored(
    api: Api, scripted: Instrument
) -> None:
    handle, link = await open_check_in(api, instruments=(Instrument.PHQ9, scripted))
    try:
        page = await api.http.get(f"/s/{link}")
        assert page.status_code == 200
        text = page.text
        assert text.count("type=radio") == 9 * 4 + 3 * 3
        assert text.count("Over the last 2 weeks") == 1  # PHQ-9's preamble, then the spec's
        assert "<p>In the past week &amp; more, &lt;em&gt;how&lt;/em&gt; often:</p>" in text
        assert "<legend>&lt;script&gt;alert(1)&lt;/script&gt;</legend>" in text
        assert "<legend>Saying &#34;hi&#34; &amp; going</legend>" in text
        assert "It&#39;s &lt;b&gt;bold&lt;/b&gt;" in text and "&lt;i&gt;Yes&lt;/i&gt;" in text
        assert "<script" not in text and "<b>" not in text and "<i>" not in text
        assert "name=scripted_test-3 value=2 required" in text

        # The spec's item 3 above 1 asks for a safety review: crisis resources at once.
        sent = await api.http.post(
            f"/s/{link}", content=form(scripted_test=[0, 1, 2]), headers=FORM
        )
        assert sent.status_code == 200 and html.escape(CRISIS) in sent.text
        assert sent.text.count("type=radio") == 9 * 4  # PHQ-9 is still to answer
        status = (await api.http.get(f"/surveys/{link}")).json()
        assert status["answered"] == ["scripted_test"] and status["outstanding"] == ["phq9"]

        done = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_MILD), headers=FORM)
        assert done.status_code == 200 and "Thank you" in done.text
        rows = await api.pool.fetch(  # a database of this test's own: this check-in's rows
            "SELECT instrument, status, total, band, risk FROM follow_up_check_ins "
            "WHERE status = 'answered' ORDER BY instrument"
        )
        assert [tuple(r) for r in rows] == [
            ("phq9", "answered", 7, "mild", False),
            ("scripted_test", "answered", 3, "low", True),
        ]
    finally:
        await terminate_if_running(handle)


async def test_an_answer_out_of_the_specs_range_is_asked_again(
    api: Api, scripted: Instrument
) -> None:
    handle, link = await open_check_in(api, instruments=(scripted,))
    try:
        fields = "scripted_test-1=0&scripted_test-2=3&scripted_test-3=0"  # 3 is above `top`
        sent = await api.http.post(f"/s/{link}", content=fields, headers=FORM)
        assert sent.status_code == 422 and "Please answer every question" in sent.text
        assert (await api.http.get(f"/surveys/{link}")).json()["answered"] == []
    finally:
        await terminate_if_running(handle)
