"""The clinicians' web app (issue 14), served by the API process: server-rendered pages, forms
that work without JavaScript. This module holds signing in and out and the landing page (my
tasks); the pages share `api/templates/web/layout.html` (who is signed in, the alerts to
acknowledge, sign out).

Signing in (`records/signin.py`): a password per clinician, a server-side session in a cookie
(`HttpOnly`, `SameSite=Lax`, `Secure` over TLS, path `/app`), a CSRF token in every form: the
session's own once signed in; before it, the sign-in form's double-submit cookie. Every page
goes through the same authorization as the API (the caller is a `Clinician`), and its reads are
audited like the API's (`api.audit.record_read`). No PHI in URLs or titles: ids and codes only.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.alerts import acknowledge_as
from api.audit import record_read
from api.context import Api, Services
from api.decisions import BODY_SCHEMAS, COMMAND, decide_for, offers_for
from api.errors import ApiError, log
from api.journeys import ClientId, visible_view
from api.templates import HEADERS, render
from api.web_forms import FormError, decision_form, read_body
from domain.due import is_overdue
from domain.view import JourneyView
from domain.vocabulary import Stage, Status
from projections.caseload_queries import caseload_entries, caseload_states
from records.alerts import alerts_for
from records.signin import WebSession, csrf_ok, session_of, sign_in, sign_out

router = APIRouter(prefix="/app", include_in_schema=False)

SESSION_COOKIE = "carepath_session"
SIGN_IN_COOKIE = "carepath_sign_in"  # the sign-in form's CSRF token (double submit)
MAX_FORM_BYTES = 4096
_REFUSED = "That clinician id and password do not match, or the password is locked for a while."


class SignedOut(Exception):
    """No live session: the caller is sent to the sign-in page."""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {name: values[0] for name, values in fields.items() if values}


async def current_session(request: Request, api: Api) -> WebSession:
    session = await session_of(api.pool, request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise SignedOut
    return session


Session = Annotated[WebSession, Depends(current_session)]


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status, headers=HEADERS)


async def _layout(api: Services, session: WebSession) -> dict[str, Any]:
    """What every signed-in page's header shows."""
    who = session.clinician
    alerts = await alerts_for(api.pool, who.clinic_id, who.role.value, who.clinician_id)
    return {"session": session, "alerts": len(alerts)}


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def signed_out_response() -> Response:
    return _to("/app/sign-in")


def _sign_in_page(status: int, error: str | None = None, clinician_id: str = "") -> Response:
    csrf = secrets.token_urlsafe(32)
    page = _page(
        "web/sign_in.html",
        status,
        title="Sign in",
        session=None,
        csrf=csrf,
        error=error,
        clinician_id=clinician_id,
    )
    page.set_cookie(SIGN_IN_COOKIE, csrf, httponly=True, samesite="strict", path="/app")
    return page


@router.get("/sign-in")
async def sign_in_page() -> Response:
    return _sign_in_page(200)


@router.post("/sign-in")
async def sign_in_submit(request: Request, api: Api) -> Response:
    form = await _form(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    submitted = form.get("csrf", "")
    if not expected or not hmac.compare_digest(expected, submitted):
        return _sign_in_page(403, "The form had expired: sign in again.")
    clinician_id = form.get("clinician_id", "")[:100]
    outcome, session = await sign_in(api.pool, clinician_id, form.get("password", ""))
    if session is None:
        log.info("web sign-in refused", outcome=outcome)
        return _sign_in_page(401, _REFUSED, clinician_id)
    await record_read(
        api.pool,
        session.clinician,
        client_id=None,
        journey_id=None,
        resource="signed_in",
        outcome="ok",
    )
    response = _to("/app")
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/app",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/app")
    return response


@router.post("/sign-out")
async def sign_out_submit(request: Request, api: Api, session: Session) -> Response:
    form = await _form(request)
    if not csrf_ok(session, form.get("csrf")):
        return _page("web/sign_in.html", 403, title="Sign in", session=None, csrf="",
                     error="The form had expired.", clinician_id="")  # fmt: skip
    await sign_out(api.pool, session.token)
    await record_read(
        api.pool,
        session.clinician,
        client_id=None,
        journey_id=None,
        resource="signed_out",
        outcome="ok",
    )
    response = _to("/app/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response


@dataclass(frozen=True)
class Task:
    client_id: str
    stage: str
    status: str
    due_kind: str | None
    due_at: str | None
    overdue: bool


def _minute(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else None


@router.get("")
async def my_tasks(api: Api, session: Session) -> Response:
    """What is due for me, most urgent first (ops: the clinic's)."""
    who = session.clinician
    whose = None if who.is_ops else who.clinician_id
    entries = await caseload_entries(
        api.pool, who.clinic_id, whose, as_role=who.role, include_closed=False
    )
    await record_read(
        api.pool, who, client_id=None, journey_id=None, resource="caseload", outcome="ok"
    )
    now = datetime.now(UTC)
    rows = [entry.model_dump() for entry in entries]  # fields made from the view at import
    states = await caseload_states(api.pool, [r["journey_id"] for r in rows])
    # Overdue as the domain says (a due time passed, or an escalation fired and unresolved).
    late = {j for j, state in states.items() if is_overdue(state, now)}
    rows.sort(
        key=lambda r: (
            r["journey_id"] not in late,
            r["next_due_at"] is None,
            r["next_due_at"] or now,
            r["client_id"],
        )
    )
    tasks = [
        Task(
            client_id=r["client_id"],
            stage=r["stage"].value,
            status=r["status"].value,
            due_kind=r["next_due_kind"].value if r["next_due_kind"] else None,
            due_at=_minute(r["next_due_at"]),
            overdue=r["journey_id"] in late,
        )
        for r in rows
    ]
    return _page("web/tasks.html", title="My tasks", tasks=tasks, **await _layout(api, session))


# --- a journey: where it is, its timeline, the decisions I may take now ---------------------


@dataclass(frozen=True)
class TimelineLine:
    at: str | None
    what: str
    who: str


async def _visible(api: Services, session: WebSession, client_id: str) -> JourneyView:
    """The journey if this clinician may see it (audited like the API's reads); else an error
    page: 404 for none in their clinic, 403 for another clinician's client."""
    return await visible_view(api, session.clinician, client_id, "journey")


async def _journey_page(
    api: Services,
    session: WebSession,
    client_id: str,
    *,
    status: int = 200,
    refused: tuple[str, str] | None = None,
) -> Response:
    view = await _visible(api, session, client_id)
    offers = [] if view.closed_reason else await offers_for(api, session.clinician, view)
    forms = [decision_form(offer, BODY_SCHEMAS[offer.type]) for offer in offers]
    recorded = await api.store.read_stream(view.journey_id)
    timeline = [
        TimelineLine(
            at=_minute(datetime.fromisoformat(at)) if (at := e.data.get("occurred_at")) else None,
            what=e.type.replace("_", " "),
            who=f"{e.metadata.get('actor_role', '')} {e.metadata.get('actor_id', '')}".strip(),
        )
        for e in reversed(recorded)
    ]
    return _page(
        "web/journey.html",
        status,
        title=f"Journey {view.journey_id}",
        view=view,
        forms=forms,
        timeline=timeline,
        refused=refused,
        decision_id=lambda: f"web-{uuid.uuid4().hex[:20]}",
        minute=_minute,
        **await _layout(api, session),
    )


@router.get("/journeys/{client_id}")
async def journey_page(client_id: ClientId, api: Api, session: Session) -> Response:
    try:
        return await _journey_page(api, session, client_id)
    except ApiError as error:
        return error_page(error)


@router.post("/journeys/{client_id}/decisions")
async def decide_on_page(
    client_id: ClientId, request: Request, api: Api, session: Session
) -> Response:
    try:
        return await _decide_on_page(client_id, request, api, session)
    except ApiError as error:
        return error_page(error)


async def _decide_on_page(
    client_id: str, request: Request, api: Services, session: WebSession
) -> Response:
    """One decision from its form; refused, the page again with the reason beside the form. The
    form's decision id makes a repeated submit the same decision, answered once."""
    form = await _form(request)
    if not csrf_ok(session, form.get("csrf")):
        return await _journey_page(
            api, session, client_id, status=403, refused=("", "The form had expired: try again.")
        )
    type_ = form.get("type", "")
    schema = BODY_SCHEMAS.get(type_)
    if schema is None:
        return await _journey_page(
            api, session, client_id, status=422, refused=(type_, "There is no such decision.")
        )
    try:
        body = read_body(schema, form)
        command = COMMAND.validate_python(
            {
                **body,
                "type": type_,
                "decision_id": form.get("decision_id", ""),
                "actor": session.clinician.actor,
            }
        )
    except FormError as error:
        return await _journey_page(api, session, client_id, status=422, refused=(type_, str(error)))
    except ValidationError as error:
        reason = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        return await _journey_page(api, session, client_id, status=422, refused=(type_, reason))
    try:
        await decide_for(api, session.clinician, client_id, command)
    except ApiError as error:
        if error.status in (403, 404):
            return error_page(error)
        return await _journey_page(
            api, session, client_id, status=error.status, refused=(type_, error.detail)
        )
    return _to(f"/app/journeys/{client_id}")


def error_page(error: ApiError) -> Response:
    """An ApiError raised on a web page, as a page (the API's routes answer JSON)."""
    return _page(
        "web/error.html", error.status, title=f"{error.status}", session=None, detail=error.detail
    )


# --- alerts ---------------------------------------------------------------------------------


@router.get("/alerts")
async def alerts_page(api: Api, session: Session) -> Response:
    who = session.clinician
    listed = await alerts_for(api.pool, who.clinic_id, who.role.value, who.clinician_id)
    await record_read(
        api.pool, who, client_id=None, journey_id=None, resource="alerts", outcome="ok"
    )
    return _page(
        "web/alerts.html",
        title="Alerts",
        listed=listed,
        minute=_minute,
        **await _layout(api, session),
    )


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_on_page(
    alert_id: uuid.UUID, request: Request, api: Api, session: Session
) -> Response:
    form = await _form(request)
    try:
        if not csrf_ok(session, form.get("csrf")):
            raise ApiError(403, "the form had expired: try again")
        await acknowledge_as(api, session.clinician, alert_id)
    except ApiError as error:
        return error_page(error)
    return _to("/app/alerts")


# --- caseload -------------------------------------------------------------------------------


@router.get("/caseload")
async def caseload_page(
    api: Api,
    session: Session,
    stage: Stage | None = None,
    status: Status | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Every journey I may see (ops: the clinic's), filterable by stage and status, searchable
    by client id."""
    who = session.clinician
    whose = None if who.is_ops else who.clinician_id
    entries = await caseload_entries(
        api.pool, who.clinic_id, whose, as_role=who.role, include_closed=status is Status.CLOSED
    )
    await record_read(
        api.pool, who, client_id=None, journey_id=None, resource="caseload", outcome="ok"
    )
    rows = [entry.model_dump() for entry in entries]  # fields made from the view at import
    shown = [
        r
        for r in rows
        if (stage is None or r["stage"] is stage)
        and (status is None or r["status"] is status)
        and q.strip().lower() in r["client_id"].lower()
    ]
    shown.sort(key=lambda r: r["client_id"])
    return _page(
        "web/caseload.html",
        title="Caseload",
        rows=shown,
        stages=[s.value for s in Stage],
        statuses=[s.value for s in Status],
        chosen={"stage": stage.value if stage else "", "status": status.value if status else ""},
        q=q,
        minute=_minute,
        **await _layout(api, session),
    )
