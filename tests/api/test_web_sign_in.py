"""The web app's sign-in, sign-out and task list through the real API app (issue 14, item 1
and 2): a password opens a session cookie, every form carries its CSRF token, a page without a
session goes to the sign-in page, reads are audited, another clinician's clients never show."""

from __future__ import annotations

import re

import httpx

from records.signin import session_hash, set_password
from tests.api.conftest import Api, User

PASSWORD = "a long enough passphrase"
CSRF = re.compile(r'name=csrf value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def signed_in(api: Api, user: User) -> httpx.AsyncClient:
    """A browser-like client (its own cookie jar) signed in as `user`."""
    await set_password(api.pool, user.clinician_id, PASSWORD)
    browser = httpx.AsyncClient(transport=api.http._transport, base_url="http://api")
    form = await browser.get("/app/sign-in")
    answer = await browser.post(
        "/app/sign-in",
        data={"csrf": csrf_of(form), "clinician_id": user.clinician_id, "password": PASSWORD},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/app", answer.text
    return browser


async def test_sign_in_lands_on_my_tasks_with_only_my_clients(api: Api) -> None:
    mine = await api.started()
    theirs = await api.started(therapist=api.th2)
    await api.catch_up()
    browser = await signed_in(api, api.th)
    cookie = browser.cookies.get("carepath_session")
    assert cookie is not None
    stored = await api.pool.fetchval(
        "SELECT count(*) FROM web_sessions WHERE session_hash = $1", session_hash(cookie)
    )
    assert stored == 1
    page = await browser.get("/app")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert f"Signed in as <strong>{api.th.clinician_id}</strong>" in page.text
    assert mine in page.text and theirs not in page.text
    assert "<title>My tasks · Carepath</title>" in page.text
    logged = await api.pool.fetch(
        "SELECT resource FROM access_log WHERE actor_id = $1 AND resource IN"
        " ('signed_in', 'caseload') ORDER BY id",
        api.th.clinician_id,
    )
    assert [r["resource"] for r in logged][-2:] == ["signed_in", "caseload"]


async def test_a_page_without_a_session_goes_to_sign_in(api: Api) -> None:
    answer = await api.http.get("/app")
    assert answer.status_code == 303 and answer.headers["location"] == "/app/sign-in"
    forged = await api.http.get("/app", headers={"cookie": "carepath_session=ws_forged"})
    assert forged.status_code == 303


async def test_a_wrong_password_or_a_form_without_its_token_is_refused(api: Api) -> None:
    await set_password(api.pool, api.rx.clinician_id, PASSWORD)
    browser = httpx.AsyncClient(transport=api.http._transport, base_url="http://api")
    form = await browser.get("/app/sign-in")
    wrong = await browser.post(
        "/app/sign-in",
        data={"csrf": csrf_of(form), "clinician_id": api.rx.clinician_id, "password": "nope"},
    )
    assert wrong.status_code == 401 and "do not match" in wrong.text
    assert "carepath_session" not in browser.cookies
    no_token = await browser.post(
        "/app/sign-in", data={"clinician_id": api.rx.clinician_id, "password": PASSWORD}
    )
    assert no_token.status_code == 403 and "expired" in no_token.text
    assert "carepath_session" not in browser.cookies


async def test_sign_out_needs_its_token_and_ends_the_session(api: Api) -> None:
    browser = await signed_in(api, api.ops)
    page = await browser.get("/app")
    forged = await browser.post("/app/sign-out", data={"csrf": "not-it"})
    assert forged.status_code == 403
    assert (await browser.get("/app")).status_code == 200
    out = await browser.post("/app/sign-out", data={"csrf": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"] == "/app/sign-in"
    cookie = page.request.headers.get("cookie", "")
    assert (await api.http.get("/app", headers={"cookie": cookie})).status_code == 303
