"""The page a client opens from the survey link in a text or an email: `/s/{link}`.

Plain HTML, no script, no account: the questions still to answer (PHQ-9, GAD-7, as published by
their authors, free to use), sent back as a form to the same address. What comes back is a thank
you, never a score; if an answer asks for a safety review, crisis resources, and the therapist
has already been alerted. The JSON routes (`/surveys/{link}`) do the work.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.context import Api
from api.errors import ApiError
from api.surveys import answer, survey
from domain.vocabulary import Instrument
from workflows.followups import SurveyAnswers, SurveyStatus

router = APIRouter(include_in_schema=False)

Link = Annotated[str, Path(max_length=1000)]  # anything else: "not found" below

OPTIONS = ("Not at all", "Several days", "More than half the days", "Nearly every day")
STEM = "Over the last 2 weeks, how often have you been bothered by the following problems?"
QUESTIONS: dict[Instrument, tuple[str, ...]] = {
    Instrument.PHQ9: (
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed, or the opposite: "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    Instrument.GAD7: (
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
}
TOLD = "Your therapist has been told and will contact you."


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<meta name=referrer content="no-referrer">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;"
        "padding:0 1rem;line-height:1.4}fieldset{margin:1rem 0}legend{font-weight:600}"
        "label{display:block;margin:.2rem 0}.crisis{border:2px solid #b00;padding:.8rem}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'",
        },
    )


def _call(api: Api) -> str:
    return f"<p>Questions? Call {html.escape(api.settings.clinic_callback)}.</p>"


def _form(api: Api, outstanding: list[Instrument], problem: str | None = None) -> str:
    parts = [f"<p class=error role=alert>{html.escape(problem)}</p>" if problem else ""]
    parts.append(f"<p>{STEM}</p><form method=post>")
    for instrument in outstanding:
        for n, question in enumerate(QUESTIONS[instrument], start=1):
            name = f"{instrument.value}-{n}"
            parts.append(f"<fieldset><legend>{html.escape(question)}</legend>")
            for value, option in enumerate(OPTIONS):
                parts.append(
                    f"<label><input type=radio name={name} value={value} required> {option}</label>"
                )
            parts.append("</fieldset>")
    parts.append("<button type=submit>Send my answers</button></form>")
    return "".join(parts) + _call(api)


def _crisis(api: Api) -> str:
    text = html.escape(api.settings.crisis_resources)
    return f"<p class=crisis role=alert>{text} {TOLD}</p>"


def _done(api: Api, crisis: bool) -> str:
    thanks = "<p>Thank you: your answers have reached your care team.</p>"
    return (_crisis(api) if crisis else "") + thanks + _call(api)


def _title(api: Api) -> str:
    return f"A short check-in from {api.settings.clinic_name}"


def _closed(api: Api) -> str:
    return "<p>This check-in has closed.</p>" + _call(api)


def _shown(api: Api, status: SurveyStatus, problem: str | None = None) -> HTMLResponse:
    """The page for a check-in as it stands; crisis resources first whenever an answer asked
    for a safety review, on every visit."""
    crisis = _crisis(api) if status.crisis_resources else ""
    if not status.outstanding:  # all answered (the check-in then closes)
        return _page(_title(api), _done(api, status.crisis_resources))
    if not status.open:
        return _page(_title(api), crisis + _closed(api), 410)
    return _page(
        _title(api), crisis + _form(api, status.outstanding, problem), 422 if problem else 200
    )


def _not_found(error: ApiError) -> HTMLResponse:
    return _page("Check-in not found", f"<p>{html.escape(error.detail)}.</p>", error.status)


@router.get("/s/{link}", response_class=HTMLResponse)
async def page(api: Api, link: Link) -> HTMLResponse:
    try:
        return _shown(api, await survey(api, link))
    except ApiError as error:
        return _not_found(error)


ANSWER_ALL = "Please answer every question."


@router.post("/s/{link}", response_class=HTMLResponse)
async def submit(api: Api, link: Link, request: Request) -> HTMLResponse:
    """Instruments answered in full are recorded; one answered in part is asked again."""
    body = await request.body()
    fields = parse_qs(body.decode("utf-8", "replace")) if len(body) <= 10_000 else {}
    answers: dict[Instrument, list[int]] = {}
    partial = len(body) > 10_000  # 16 answers are a few hundred bytes
    for instrument, questions in QUESTIONS.items():
        given = [
            fields.get(f"{instrument.value}-{n}", [""])[0] for n in range(1, len(questions) + 1)
        ]
        if all(v in ("0", "1", "2", "3") for v in given):
            answers[instrument] = [int(v) for v in given]
        elif any(given):
            partial = True
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
    problem = ANSWER_ALL if partial or not wanted else None
    return _shown(api, status, problem if status.outstanding else None)
