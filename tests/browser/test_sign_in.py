"""Signing in and out of the web app in a real browser (issue 14, item 1 and 2): each role types
its password and clicks, lands on My tasks with its own journeys only, signs out by clicking; a
wrong password and a form without its CSRF token are refused on the page; a session idle for
15 minutes is over. Every page is `Cache-Control: no-store` and no title holds a client id."""

from __future__ import annotations

from playwright.async_api import expect

from records.signin import session_hash
from tests.browser.conftest import NewTab, Stack, Tab

SESSION_COOKIE = "carepath_session"


async def _session_cookie(tab: Tab) -> str | None:
    cookies = await tab.page.context.cookies()
    return next((c["value"] for c in cookies if c["name"] == SESSION_COOKIE), None)


async def _signed_in(tab: Tab, stack: Stack) -> None:
    await tab.page.goto("/app/sign-in")
    await tab.sign_in(stack.th)
    await tab.page.wait_for_url("**/app")
    await tab.landed("My tasks")


async def test_each_role_signs_in_sees_its_own_tasks_and_signs_out(
    stack: Stack, new_tab: NewTab
) -> None:
    mine = [await stack.start(stack.th, f"cl-demo-0{n}") for n in (1, 2)]
    theirs = await stack.start(stack.th2, "cl-demo-03")
    await stack.catch_up()

    therapist = await new_tab()
    page = therapist.page
    await page.goto("/app")  # no session yet: the sign-in page
    await page.wait_for_url("**/app/sign-in")
    await therapist.landed("Sign in", screenshot="sign-in")
    await therapist.sign_in(stack.th)
    await page.wait_for_url("**/app")
    await therapist.landed("My tasks", screenshot="my-tasks-therapist")
    await expect(page.locator("header")).to_contain_text(f"Signed in as {stack.th.clinician_id}")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(2)
    for client_id in mine:
        await expect(rows.filter(has_text=client_id)).to_have_count(1)
    await expect(page.locator("main")).not_to_contain_text(theirs)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/app/sign-in")
    await therapist.landed("Sign in")
    assert await _session_cookie(therapist) is None
    await page.goto("/app")  # the session is over
    await page.wait_for_url("**/app/sign-in")
    therapist.assert_never_cached()

    ops = await new_tab()
    await ops.page.goto("/app/sign-in")
    await ops.sign_in(stack.ops)
    await ops.page.wait_for_url("**/app")
    await ops.landed("My tasks", screenshot="my-tasks-ops")
    await expect(ops.page.locator("header")).to_contain_text(f"({stack.ops.role}, default)")
    await expect(ops.page.locator("tbody tr")).to_have_count(3)  # the clinic's
    await expect(ops.page.locator("main")).to_contain_text(theirs)
    await ops.page.get_by_role("button", name="Sign out").click()
    await ops.page.wait_for_url("**/app/sign-in")
    ops.assert_never_cached()


async def test_a_wrong_password_is_refused_on_the_page(stack: Stack, new_tab: NewTab) -> None:
    tab = await new_tab()
    await tab.page.goto("/app/sign-in")
    async with tab.page.expect_response(lambda r: r.request.method == "POST") as answer:
        await tab.sign_in(stack.th, password="not the password at all")
    assert (await answer.value).status == 401
    await tab.landed("Sign in", screenshot="sign-in-refused")
    await expect(tab.page.get_by_role("alert")).to_contain_text("do not match")
    await expect(tab.page.get_by_label("Clinician id")).to_have_value(stack.th.clinician_id)
    await expect(tab.page.get_by_label("Password")).to_have_value("")
    assert await _session_cookie(tab) is None
    tab.assert_never_cached()


async def test_a_form_without_its_csrf_token_is_refused(stack: Stack, new_tab: NewTab) -> None:
    tab = await new_tab()
    page = tab.page
    await page.goto("/app/sign-in")
    await page.evaluate("document.querySelector('input[name=csrf]').remove()")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await tab.sign_in(stack.th)
    assert (await answer.value).status == 403
    await expect(page.get_by_role("alert")).to_contain_text("The form had expired")
    assert await _session_cookie(tab) is None

    await tab.sign_in(stack.th)  # the refusal's page has a fresh token: this one goes through
    await page.wait_for_url("**/app")
    await tab.landed("My tasks")
    await page.evaluate("document.querySelector('header input[name=csrf]').remove()")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Sign out").click()
    assert (await answer.value).status == 403
    # Nor from a script with the session's cookie but a wrong token.
    forged = await page.context.request.post("/app/sign-out", form={"csrf": "forged"})
    assert forged.status == 403 and forged.headers["cache-control"] == "no-store"
    await page.goto("/app")  # still signed in: neither sign-out went through
    await tab.landed("My tasks")
    tab.assert_never_cached()


async def test_an_idle_session_is_signed_out(stack: Stack, new_tab: NewTab) -> None:
    tab = await new_tab()
    await _signed_in(tab, stack)
    cookie = await _session_cookie(tab)
    assert cookie is not None
    idled = await stack.pool.execute(
        "UPDATE web_sessions SET last_seen_at = now() - interval '16 minutes'"
        " WHERE session_hash = $1",
        session_hash(cookie),
    )
    assert idled == "UPDATE 1"
    await tab.page.reload()
    await tab.page.wait_for_url("**/app/sign-in")
    await tab.landed("Sign in")
    await expect(tab.page.get_by_label("Clinician id")).to_be_visible()
    tab.assert_never_cached()
