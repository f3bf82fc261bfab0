"""The journey page in a real browser (issue 14): a therapist opens a journey from My tasks by
clicking its client id and takes the consultation by typing into the decision forms and clicking
(two screenings, consent, the consultation, the referral), each submit reloading the page with
the decision on the timeline; a refused decision shows its reason beside its form and records
nothing; another therapist's client answers 403, a client of another clinic or of no journey 404.
"""

from __future__ import annotations

import httpx
from playwright.async_api import Locator, Page, expect

from records.users import add_user
from tests.browser.conftest import NewTab, Stack, Tab

OTHER_CLINIC = "other"


async def _signed_in(tab: Tab, stack: Stack) -> None:
    await tab.page.goto("/app/sign-in")
    await tab.sign_in(stack.th)
    await tab.page.wait_for_url("**/app")
    await tab.landed("My tasks")


def _timeline(page: Page) -> Locator:
    return page.locator("section[aria-labelledby=timeline] li")


async def _decide(page: Page, title: str, recorded: str, **fields: str) -> None:
    """Fill the form `title` (its labelled fields by name) and click its button; the page
    reloads with `recorded` first on the timeline, by the therapist."""
    before = await _timeline(page).count()
    form = page.get_by_role("form", name=title, exact=True)
    for name, value in fields.items():
        await form.get_by_label(name.replace("_", " ")).fill(value)
    async with page.expect_navigation():
        await form.get_by_role("button", name=title, exact=True).click()
    await expect(page.get_by_role("alert")).to_have_count(0)
    await expect(_timeline(page)).to_have_count(before + 1)
    await expect(_timeline(page).first).to_contain_text(f"— {recorded} — therapist")


async def _at_a_glance(page: Page, term: str) -> str:
    return await page.locator(f"dt:text-is('{term}') + dd").inner_text()


async def test_a_therapist_takes_the_consultation_by_clicking(
    stack: Stack, new_tab: NewTab
) -> None:
    client_id = await stack.start(stack.th)
    await stack.catch_up()
    tab = await new_tab()
    page = tab.page
    await _signed_in(tab, stack)
    await page.get_by_role("link", name=client_id, exact=True).click()
    await page.wait_for_url(f"**/app/journeys/{client_id}")
    heading = await page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Journey j-")
    await tab.landed(heading)
    assert await _at_a_glance(page, "Stage") == "consultation"
    await expect(_timeline(page)).to_have_count(1)
    await expect(_timeline(page).first).to_contain_text("journey started")

    screening = page.get_by_role("form", name="record screening", exact=True)
    await expect(screening.locator("input[name='j.instrument']")).to_have_value('"phq9"')
    await _decide(page, "record screening", "screening recorded", answers="[2,2,1,1,1,2,1,2,0]")
    await expect(screening.locator("input[name='j.instrument']")).to_have_value('"gad7"')
    await _decide(page, "record screening", "screening recorded", answers="[2,2,2,1,1,1,2]")
    await _decide(page, "record consent", "consent recorded", consent_version="v1")
    await _decide(
        page,
        "complete consultation",
        "consultation completed",
        treatment_goals='["sleep better"]',
    )
    await _decide(page, "refer to prescriber", "referral sent")
    assert await _at_a_glance(page, "Stage") == "referral"
    await tab.landed(heading, screenshot="journey")
    tab.assert_never_cached()


async def test_a_refused_decision_shows_its_reason_and_records_nothing(
    stack: Stack, new_tab: NewTab
) -> None:
    client_id = await stack.start(stack.th)
    await stack.catch_up()
    tab = await new_tab()
    page = tab.page
    await _signed_in(tab, stack)
    await page.goto(f"/app/journeys/{client_id}")
    form = page.get_by_role("form", name="record screening", exact=True)
    for answers, status, reason in (
        (
            "[2,2]",
            422,
            "Refused: phq9 takes 9 answers, got 2",
        ),  # a PHQ-9 of two answers: the domain refuses
        ("[2,2,", 422, "Refused: answers must be JSON"),  # not JSON: the form refuses
    ):
        await form.get_by_label("answers").fill(answers)
        async with page.expect_response(lambda r: r.request.method == "POST") as answer:
            await form.get_by_role("button", name="record screening").click()
        assert (await answer.value).status == status, answers
        await expect(form.get_by_role("alert")).to_contain_text(reason)
        await expect(page.get_by_role("alert")).to_have_count(1)  # beside this form only
        await expect(_timeline(page)).to_have_count(1)  # journey started: nothing recorded
    # The refused submit's page still works: the same form, now right, goes through.
    await _decide(page, "record screening", "screening recorded", answers="[0,0,0,0,0,0,0,0,0]")
    tab.assert_never_cached()


async def test_a_client_not_mine_cannot_be_reached_by_url(stack: Stack, new_tab: NewTab) -> None:
    theirs = await stack.start(stack.th2)
    th_b, _ = await add_user(stack.pool, "Thea Therapist", "therapist", OTHER_CLINIC)
    rx_b, _ = await add_user(stack.pool, "Rolf Prescriber", "prescriber", OTHER_CLINIC)
    other_clinics = "cl-elsewhere"
    async with httpx.AsyncClient(base_url=stack.url) as http:
        ops_token = (await add_user(stack.pool, "Otto Ops", "ops", OTHER_CLINIC))[1]
        started = await http.post(
            "/journeys",
            json={"client_id": other_clinics, "therapist_id": th_b, "prescriber_id": rx_b},
            headers={"Authorization": f"Bearer {ops_token}"},
            timeout=30,
        )
    assert started.status_code == 201, started.text
    stack.client_ids.append(other_clinics)
    await stack.catch_up()

    tab = await new_tab()
    page = tab.page
    await _signed_in(tab, stack)
    await expect(page.get_by_role("link", name=theirs)).to_have_count(0)
    for client_id, status in ((theirs, 403), (other_clinics, 404), ("cl-nobody", 404)):
        response = await page.goto(f"/app/journeys/{client_id}")
        assert response is not None and response.status == status, client_id
        await tab.landed(str(status))
        await expect(page.get_by_role("alert")).to_be_visible()
        await expect(page.locator("main")).not_to_contain_text("Decisions you may take now")
        await expect(page.locator("form[action*='/decisions']")).to_have_count(0)
    tab.assert_never_cached()
