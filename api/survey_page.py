"""The page a client opens from the survey link in a text or an email: `/s/{link}`.

Plain HTML, no script, no account: the questions still to answer, in the words of each
instrument's spec (`domain/instruments/`, as their authors publish them), sent back as a form to
the same address. What comes back is a thank you, never a score; if an answer asks for a safety
review, crisis resources, and that the therapist has been told only when the alert is recorded
for the care team (`alert_recorded`), else a request to call the clinic. The JSON routes
(`/surveys/{link}`) do the work; the page is `api/templates/survey.html`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.context import Api
from api.errors import ApiError
from api.surveys import answer, survey
from api.templates import page as render_page
from domain.instruments import specs
from domain.vocabulary import Instrument
from workflows.followups import SurveyAnswers, SurveyStatus

router = APIRouter(include_in_schema=False)

Link = Annotated[str, Path(max_length=1000)]  # anything else: "not found" below

MAX_BODY = 10_000  # bytes; a page's answers are a few hundred


@dataclass(frozen=True)
class Question:
    field: str  # the form field: "phq9-1"
    text: str


@dataclass(frozen=True)
class Section:
    """Questions asked alike: one preamble, one set of answers, for one instrument or several
    in a row that share them (PHQ-9 and GAD-7)."""

    preamble: str
    answers: tuple[str, ...]
    questions: list[Question]


def field(instrument: str, item: int) -> str:
    return f"{instrument}-{item}"


def sections(outstanding: list[Instrument]) -> list[Section]:
    """What the form asks, in the order the instruments are outstanding. An instrument without
    survey wording is not asked here (a follow-up instrument always has it)."""
    out: list[Section] = []
    for instrument in outstanding:
        wording = instrument.spec.survey
        if wording is None:
            continue
        questions = [
            Question(field(instrument.value, n), text)
            for n, text in enumerate(wording.items, start=1)
        ]
        last = out[-1] if out else None
        if last and (last.preamble, last.answers) == (wording.preamble, wording.answers):
            last.questions.extend(questions)
        else:
            out.append(Section(wording.preamble, wording.answers, questions))
    return out


def _title(api: Api) -> str:
    return f"A short check-in from {api.settings.clinic_name}"


def _shown(api: Api, status: SurveyStatus, incomplete: bool = False) -> HTMLResponse:
    """The page for a check-in as it stands; crisis resources first whenever an answer asked
    for a safety review, on every visit, saying the therapist was told only once the alert is
    recorded."""
    if not status.outstanding:  # all answered (the check-in then closes)
        state, code = "done", 200
    elif not status.open:
        state, code = "closed", 410
    else:
        state, code = "form", 422 if incomplete else 200
    return render_page(
        "survey.html",
        code,
        title=_title(api),
        state=state,
        crisis=status.crisis_resources,
        told=status.alert_recorded,
        crisis_resources=api.settings.crisis_resources,
        callback=api.settings.clinic_callback,
        incomplete=incomplete,
        sections=sections(status.outstanding) if state == "form" else [],
    )


def _not_found(error: ApiError) -> HTMLResponse:
    return render_page(
        "not_found.html", error.status, title="Check-in not found", detail=error.detail
    )


@router.get("/s/{link}", response_class=HTMLResponse)
async def page(api: Api, link: Link) -> HTMLResponse:
    try:
        return _shown(api, await survey(api, link))
    except ApiError as error:
        return _not_found(error)


def read_form(fields: dict[str, list[str]]) -> tuple[dict[Instrument, list[int]], bool]:
    """The instruments answered in full, and whether any other was answered in part."""
    answers: dict[Instrument, list[int]] = {}
    partial = False
    for spec in specs():
        if spec.survey is None:
            continue
        allowed = {str(value) for value in range(spec.top + 1)}
        given = [fields.get(field(spec.name, n), [""])[0] for n in range(1, spec.items + 1)]
        if all(v in allowed for v in given):
            answers[Instrument(spec.name)] = [int(v) for v in given]
        elif any(given):
            partial = True
    return answers, partial


@router.post("/s/{link}", response_class=HTMLResponse)
async def submit(api: Api, link: Link, request: Request) -> HTMLResponse:
    """Instruments answered in full are recorded; one answered in part is asked again."""
    body = await request.body()
    too_long = len(body) > MAX_BODY
    fields = {} if too_long else parse_qs(body.decode("utf-8", "replace"))
    answers, partial = read_form(fields)
    partial = partial or too_long
    try:
        status = await survey(api, link)
        wanted = {i: a for i, a in answers.items() if i in status.outstanding}
        if status.open and wanted:
            try:
                await answer(api, link, SurveyAnswers(answers=wanted))
            except ApiError as error:
                if error.status not in (410, 422):  # closed meanwhile, or refused: shown below
                    raise
                partial = partial or error.status == 422
            status = await survey(api, link)
    except ApiError as error:
        return _not_found(error)
    incomplete = partial or not wanted
    return _shown(api, status, incomplete and bool(status.outstanding))
