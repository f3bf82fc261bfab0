"""The survey page promises contact only when the alert is recorded for the care team: after an
answer that asks for a safety review it says the therapist has been told only when the alert is
in the therapist's alert list; else it shows the crisis lines and asks the client to call the
clinic. Minimum-necessary wording either way: no score, no diagnosis."""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

from config.settings import Settings
from tests.api.conftest import Api
from tests.api.test_surveys import CRISIS, FORM, GAD7, KEYS, PHQ9_ITEM9, PHQ9_MILD, form
from tests.api.test_surveys import open_check_in as _open_check_in
from tests.temporal import terminate_if_running

CALLBACK = "+1-555-0142"
TOLD = "Your therapist has been told and will contact you."
CALL_US = f"Please also call {CALLBACK} today so that your care team knows."


@pytest_asyncio.fixture
async def settings() -> Settings:
    return Settings(
        task_queue=f"api-{uuid.uuid4().hex[:8]}",
        api_runs_projections=False,
        payload_keys=KEYS,
        crisis_resources=CRISIS,
        clinic_callback=CALLBACK,
    )


@pytest_asyncio.fixture
async def opened(api: Api) -> AsyncIterator[tuple[str, str]]:
    """(check-in workflow id, survey link)."""
    handle, link = await _open_check_in(api)
    yield handle.id, link
    await terminate_if_running(handle)


async def _alert_count(api: Api, workflow_id: str) -> int:
    count: int = await api.pool.fetchval(
        "SELECT count(*) FROM alerts WHERE idempotency_key = $1 AND recipient_id = $2",
        f"{workflow_id}:therapist:survey_risk_flagged",
        api.th.clinician_id,
    )
    return count


def _crisis_line(page: str) -> str:
    start = page.index("class=crisis")
    return page[start : page.index("</p>", start)]


async def test_the_page_says_the_therapist_was_told_once_the_alert_is_recorded(
    api: Api, opened: tuple[str, str]
) -> None:
    workflow_id, link = opened

    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_ITEM9), headers=FORM)

    assert sent.status_code == 200
    assert await _alert_count(api, workflow_id) == 1  # recorded before the page answered
    line = _crisis_line(sent.text)
    assert html.escape(CRISIS) in line and html.escape(TOLD) in line
    assert "call" not in line.replace(html.escape(CRISIS), "").lower()
    again = await api.http.get(f"/s/{link}")  # reopened later: the same words
    assert html.escape(TOLD) in _crisis_line(again.text)
    status = (await api.http.get(f"/surveys/{link}")).json()
    assert status["crisis_resources"] is True and status["alert_recorded"] is True
    done = await api.http.post(f"/s/{link}", content=form(gad7=GAD7), headers=FORM)
    assert "Thank you" in done.text and html.escape(TOLD) in _crisis_line(done.text)
    assert "7" not in done.text.split("<body>")[1].replace(CALLBACK, "")  # never a score


async def test_the_json_receipt_says_whether_the_alert_was_recorded(
    api: Api, opened: tuple[str, str]
) -> None:
    _, link = opened
    calm = await api.http.post(f"/surveys/{link}", json={"answers": {"phq9": PHQ9_MILD}})
    assert calm.json()["alert_recorded"] is False and calm.json()["crisis_resources"] is False

    _, other = await _open_check_in(api)
    flagged = await api.http.post(f"/surveys/{other}", json={"answers": {"phq9": PHQ9_ITEM9}})
    assert flagged.json()["crisis_resources"] is True and flagged.json()["alert_recorded"] is True


async def test_the_page_asks_the_client_to_call_when_the_alert_could_not_be_recorded(
    api: Api, opened: tuple[str, str]
) -> None:
    """The database refuses the alert (the answers themselves are still recorded): the page
    does not say anyone was told; it shows the crisis lines and asks the client to call."""
    workflow_id, link = opened
    await api.pool.execute("ALTER TABLE alerts ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")

    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_ITEM9), headers=FORM)

    assert sent.status_code == 200
    assert await _alert_count(api, workflow_id) == 0
    line = _crisis_line(sent.text)
    assert html.escape(CRISIS) in line and html.escape(CALL_US) in line
    assert "has been told" not in sent.text and "will contact you" not in sent.text
    status = (await api.http.get(f"/surveys/{link}")).json()
    assert status["crisis_resources"] is True and status["alert_recorded"] is False
    assert status["answered"] == ["phq9"]
    again = await api.http.get(f"/s/{link}")
    assert html.escape(CALL_US) in _crisis_line(again.text) and "has been told" not in again.text


async def test_no_crisis_no_promise(api: Api, opened: tuple[str, str]) -> None:
    _, link = opened
    sent = await api.http.post(f"/s/{link}", content=form(phq9=PHQ9_MILD), headers=FORM)
    assert "class=crisis" not in sent.text
    assert "has been told" not in sent.text and "Please also call" not in sent.text
