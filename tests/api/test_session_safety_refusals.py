"""Issue 12 through the API: each finding is refused (409/403/422 with the reason in plain words,
nothing recorded) or alerted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.conftest import Api, User

PHQ9 = [2, 2, 1, 1, 1, 2, 1, 2, 0]
GAD7 = [2, 2, 2, 1, 1, 1, 2]
VITALS = {"systolic": 122, "diastolic": 80}
CHECK = {"vitals": VITALS, "sedation": "mild", "dissociation": "none"}
DOSE = {"dose_mg": "50", "route": "intramuscular", "lot": "KET-24-001"}
DISCHARGE = {"vitals": VITALS, "ready_for_discharge": True, "transport_confirmed": True}


async def ok(api: Api, user: User, client_id: str, type_: str, **fields: Any) -> dict[str, Any]:
    response = await api.decide(user, client_id, type_, **fields)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def refused(
    api: Api, user: User, client_id: str, type_: str, status: int, **fields: Any
) -> str:
    before = await api.pool.fetchval("SELECT count(*) FROM events")
    response = await api.decide(user, client_id, type_, **fields)
    assert response.status_code == status, response.text
    assert await api.pool.fetchval("SELECT count(*) FROM events") == before
    detail: str = response.json()["detail"]
    return detail


async def wait(api: Api, **delta: float) -> None:
    await api.env.sleep(timedelta(**delta))


async def now(api: Api) -> str:
    return (await api.env.get_current_time()).isoformat()


async def in_session(api: Api) -> str:
    """A journey whose first dose has just been given."""
    client_id = await api.started()
    th, rx = api.th, api.rx
    await ok(api, th, client_id, "record_screening", instrument="phq9", answers=PHQ9)
    await ok(api, th, client_id, "record_screening", instrument="gad7", answers=GAD7)
    await ok(
        api, th, client_id, "record_consent", consent_version="kap-v3", signed_at=await now(api)
    )
    await ok(api, th, client_id, "complete_consultation", treatment_goals=["sleep better"])
    await ok(api, th, client_id, "refer_to_prescriber")
    intake = (await api.env.get_current_time() + timedelta(days=2)).isoformat()
    await ok(api, rx, client_id, "schedule_prescriber_intake", scheduled_at=intake)
    await wait(api, days=2)
    expires = (await api.env.get_current_time() + timedelta(days=90)).isoformat()
    await ok(api, rx, client_id, "approve_medication", expires_at=expires)
    await ok(api, th, client_id, "complete_preparation")
    session_at = (await api.env.get_current_time() + timedelta(days=1)).isoformat()
    await ok(api, th, client_id, "schedule_dosing", session_id="s1", scheduled_at=session_at)
    await wait(api, days=1)
    await ok(
        api, th, client_id, "start_dosing", session_id="s1", vitals=VITALS, transport_confirmed=True
    )
    return client_id


async def test_a_discharge_without_the_monitoring_record_is_refused_step_by_step(api: Api) -> None:
    client_id = await in_session(api)
    th, rx = api.th, api.rx
    await wait(api, minutes=125)
    reason = await refused(api, th, client_id, "complete_dosing", 409, session_id="s1", **DISCHARGE)
    assert reason == "record the vitals taken 40 minutes after the dose first"
    await ok(api, th, client_id, "record_session_monitoring", session_id="s1", **CHECK)
    reason = await refused(api, th, client_id, "complete_dosing", 409, session_id="s1", **DISCHARGE)
    assert reason == "record the dose given (mg, route, lot) before discharge"
    too_much = DOSE | {"dispensed_mg": "20"}
    reason = await refused(api, th, client_id, "record_dose", 422, session_id="s1", dose=too_much)
    assert "dispensed" in reason
    await ok(api, th, client_id, "record_dose", session_id="s1", dose=DOSE)
    high = DISCHARGE | {"vitals": {"systolic": 195, "diastolic": 125}}
    reason = await refused(api, th, client_id, "complete_dosing", 409, session_id="s1", **high)
    assert "195/125 is above the discharge limit 140/90" in reason
    reason = await refused(
        api, th, client_id, "grant_discharge_exception", 403, session_id="s1", reason="stable"
    )
    assert reason == "only a prescriber may grant discharge exception"
    for missing, words in (
        ("ready_for_discharge", "ready to leave"),
        ("transport_confirmed", "transport"),
    ):
        body = DISCHARGE | {missing: False}
        assert words in await refused(
            api, th, client_id, "complete_dosing", 409, session_id="s1", **body
        )
    await ok(
        api, rx, client_id, "grant_discharge_exception", session_id="s1", reason="stable_trend"
    )
    done = await ok(api, th, client_id, "complete_dosing", session_id="s1", **high)
    assert done["events"] == ["dosing_session_completed"]


async def test_a_signed_record_is_amended_and_late_adverse_events_are_refused(api: Api) -> None:
    client_id = await in_session(api)
    th = api.th
    reason = await refused(api, th, client_id, "sign_session_record", 409, session_id="s1")
    assert reason == "session s1 is in_progress: sign it after discharge"
    await wait(api, minutes=45)
    await ok(api, th, client_id, "record_session_monitoring", session_id="s1", **CHECK)
    await ok(api, th, client_id, "record_dose", session_id="s1", dose=DOSE)
    await wait(api, minutes=80)
    await ok(api, th, client_id, "complete_dosing", session_id="s1", **DISCHARGE)
    await ok(api, th, client_id, "sign_session_record", session_id="s1")
    reason = await refused(api, th, client_id, "record_dose", 409, session_id="s1", dose=DOSE)
    assert reason == "the record of session s1 is signed: amend it instead"
    assert "a corrected dose or a note_ref" in await refused(
        api, th, client_id, "amend_session_record", 422, session_id="s1", reason="typo"
    )
    amended = await ok(
        api, th, client_id, "amend_session_record", session_id="s1", reason="typo", dose=DOSE
    )
    assert amended["events"] == ["session_record_amended"]
    future = (await api.env.get_current_time() + timedelta(hours=2)).isoformat()
    assert "future" in await refused(
        api, th, client_id, "report_adverse_event", 422, session_id="s1", code="nausea",
        severity="mild", onset_at=future,
    )  # fmt: skip
    await wait(api, days=31)
    reason = await refused(
        api, th, client_id, "report_adverse_event", 409, session_id="s1", code="nausea",
        severity="mild",
    )  # fmt: skip
    assert "within 30 days of its dose" in reason
