"""The web app's journey page through the real API app: the decisions I may take now as forms,
taken by submitting them; a refused one shows the domain's reason beside its form; a repeated
submit decides once; another therapist's client cannot be reached by URL; alerts acknowledged."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx

from tests.api.conftest import Api
from tests.api.test_course_governance_api import eligible
from tests.api.test_web_sign_in import signed_in

FORM = re.compile(
    r'<form method=post action="(/app/journeys/[^"]+/decisions)" aria-label="([^"]+)">(.*?)</form>',
    re.S,
)
HIDDEN = re.compile(r'<input type=hidden name="?([^" >]+)"? value="([^"]*)">')


def forms_of(page: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    """Each decision form on the page: its action and its hidden fields, by decision type."""
    found = {}
    for action, _title, body in FORM.findall(page.text):
        hidden = {
            name: value.replace("&#34;", '"').replace("&quot;", '"')
            for name, value in HIDDEN.findall(body)
        }
        found[hidden["type"]] = (action, hidden)
    return found


async def test_a_therapist_decides_from_the_journey_page(api: Api) -> None:
    client_id = await api.started()
    browser = await signed_in(api, api.th)
    page = await browser.get(f"/app/journeys/{client_id}")
    assert page.status_code == 200, page.text
    assert client_id not in page.text.split("<title>")[1].split("</title>")[0]
    forms = forms_of(page)
    assert "record_screening" in forms and "approve_medication" not in forms
    action, hidden = forms["record_screening"]

    # Refused by the domain: the reason beside the form, nothing recorded.
    before = await api.pool.fetchval("SELECT count(*) FROM events")
    bad = await browser.post(action, data={**hidden, "f.instrument": "phq9", "f.answers": "[1, 2]"})
    assert bad.status_code == 422 and "Refused:" in bad.text
    assert await api.pool.fetchval("SELECT count(*) FROM events") == before

    # Accepted, and the same form submitted again decides once.
    good = {**hidden, "f.instrument": "phq9", "f.answers": "[1, 1, 1, 1, 1, 1, 1, 1, 0]"}
    first = await browser.post(action, data=good)
    assert first.status_code == 303, first.text
    again = await browser.post(action, data=good)
    assert again.status_code == 303
    recorded = await api.pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'screening_recorded'"
        " AND metadata->>'decision_id' = $1",
        hidden["decision_id"],
    )
    assert recorded == 1
    shown = await browser.get(f"/app/journeys/{client_id}")
    assert "screening recorded" in shown.text

    # A form without its CSRF token changes nothing.
    forged = {k: v for k, v in good.items() if k != "csrf"} | {"decision_id": "web-forged-1"}
    assert (await browser.post(action, data=forged)).status_code == 403


async def test_another_therapists_client_is_not_reached_by_url(api: Api) -> None:
    theirs = await api.started(therapist=api.th2)
    browser = await signed_in(api, api.th)
    page = await browser.get(f"/app/journeys/{theirs}")
    assert page.status_code == 403 and "not on your caseload" in page.text
    nobody = await browser.get("/app/journeys/cl-nobody-here")
    assert nobody.status_code == 404
    other_clinic = await api.started(api.ops_b, therapist=api.th_b, prescriber=api.rx_b)
    assert (await browser.get(f"/app/journeys/{other_clinic}")).status_code == 404
    post = await browser.post(
        f"/app/journeys/{theirs}/decisions", data={"type": "pause", "decision_id": "web-x-1"}
    )
    assert post.status_code == 403


async def test_alerts_are_listed_and_acknowledged_with_one_click(api: Api) -> None:
    client_id = await api.started()
    held = await api.decide(api.rx, client_id, "raise_safety_hold", reason="clinician_concern")
    assert held.status_code == 200
    browser = await signed_in(api, api.th)
    for _ in range(200):
        page = await browser.get("/app/alerts")
        if client_id in page.text:
            break
        await asyncio.sleep(0.05)
    assert "safety hold raised" in page.text
    action = re.search(r'action="(/app/alerts/[^"]+/acknowledge)"', page.text)
    csrf = re.search(r'name=csrf value="([^"]+)"', page.text)
    assert action and csrf
    done = await browser.post(action.group(1), data={"csrf": csrf.group(1)})
    assert done.status_code == 303
    assert client_id not in (await browser.get("/app/alerts")).text


async def test_the_caseload_filters_by_stage_status_and_client_id(api: Api) -> None:
    screened = await api.started()
    plain = await api.started()
    await api.decide(api.th, plain, "pause", reason="client_travel")
    await api.started(therapist=api.th2)  # not mine
    await api.catch_up()
    browser = await signed_in(api, api.th)
    everything = (await browser.get("/app/caseload")).text
    assert screened in everything and plain in everything
    paused = (await browser.get("/app/caseload", params={"status": "paused"})).text
    assert plain in paused and screened not in paused
    found = (await browser.get("/app/caseload", params={"q": screened[-6:]})).text
    assert screened in found and plain not in found
    bad = await browser.get("/app/caseload", params={"stage": "nonsense"})
    assert bad.status_code == 422


async def test_my_tasks_marks_overdue_as_the_domain_does(api: Api) -> None:
    """A referral whose deadline fired is overdue until the intake is booked, though its due
    time has passed and the next due item is in the future."""
    late = await eligible(api)
    await api.decide(api.th, late, "refer_to_prescriber")
    await api.env.sleep(timedelta(days=15))  # the referral SLA (14 days) fires
    on_time = await api.started()
    await api.catch_up()
    browser = await signed_in(api, api.th)
    page = (await browser.get("/app")).text
    rows = {
        client: row for client in (late, on_time) for row in page.split("<tr>") if client in row
    }
    assert "(overdue)" in rows[late] and "(overdue)" not in rows[on_time]
    assert page.index(late) < page.index(on_time)  # the overdue one first
