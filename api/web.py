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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.audit import record_read
from api.context import Api, Services
from api.errors import log
from api.templates import HEADERS, render
from projections.caseload_queries import caseload_entries
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
    rows.sort(key=lambda r: (r["next_due_at"] is None, r["next_due_at"] or now, r["client_id"]))
    tasks = [
        Task(
            client_id=r["client_id"],
            stage=r["stage"].value,
            status=r["status"].value,
            due_kind=r["next_due_kind"].value if r["next_due_kind"] else None,
            due_at=_minute(r["next_due_at"]),
            overdue=r["next_due_at"] is not None and r["next_due_at"] < now,
        )
        for r in rows
    ]
    return _page("web/tasks.html", title="My tasks", tasks=tasks, **await _layout(api, session))
