"""Issue 13 through the API: the follow-up by date, the discharge follow-up a stopping course
owes, a safety hold that stops progression, visits, reassignment. Each refusal is a 409 (or
422) in plain words and records nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.api.conftest import Api
from tests.api.test_session_safety_refusals import (
    CHECK,
    DISCHARGE,
    DOSE,
    GAD7,
    PHQ9,
    VITALS,
    now,
    ok,
    refused,
    wait,
)


async def later(api: Api, **delta: float) -> str:
    return (await api.env.get_current_time() + timedelta(**delta)).isoformat()


async def eligible(api: Api) -> str:
    client_id = await api.started()
    th = api.th
    await ok(api, th, client_id, "record_screening", instrument="phq9", answers=PHQ9)
    await ok(api, th, client_id, "record_screening", instrument="gad7", answers=GAD7)
    await ok(
        api, th, client_id, "record_consent", consent_version="kap-v3", signed_at=await now(api)
    )
    await ok(api, th, client_id, "complete_consultation", treatment_goals=["sleep better"])
    return client_id


async def prepared(api: Api, doses: int = 8) -> str:
    client_id = await eligible(api)
    th, rx = api.th, api.rx
    await ok(api, th, client_id, "refer_to_prescriber")
    await ok(
        api, rx, client_id, "schedule_prescriber_intake", scheduled_at=await later(api, days=2)
    )
    await wait(api, days=2)
    await ok(
        api,
        rx,
        client_id,
        "approve_medication",
        doses_authorized=doses,
        expires_at=await later(api, days=150),
    )
    await ok(api, th, client_id, "complete_preparation")
    return client_id


async def dose(api: Api, client_id: str, session_id: str) -> None:
    th = api.th
    at = await later(api, days=1)
    await ok(api, th, client_id, "schedule_dosing", session_id=session_id, scheduled_at=at)
    await wait(api, days=1)
    start: dict[str, Any] = {"vitals": VITALS, "transport_confirmed": True}
    await ok(api, th, client_id, "start_dosing", session_id=session_id, **start)
    await wait(api, minutes=45)
    await ok(api, th, client_id, "record_session_monitoring", session_id=session_id, **CHECK)
    await ok(api, th, client_id, "record_dose", session_id=session_id, dose=DOSE)
    await wait(api, minutes=80)
    await ok(api, th, client_id, "complete_dosing", session_id=session_id, **DISCHARGE)
    await ok(api, th, client_id, "sign_session_record", session_id=session_id)
    await wait(api, days=1)
    await ok(api, th, client_id, "complete_integration")


async def test_no_dose_after_the_follow_up_date_until_it_is_recorded(api: Api) -> None:
    client_id = await prepared(api)
    rx = api.rx
    reason = await refused(
        api, rx, client_id, "record_prescriber_follow_up", 409, outcome="discontinue"
    )
    assert "after the first dose" in reason
    for n in (1, 2, 3):
        await dose(api, client_id, f"s{n}")
    await wait(api, days=35)  # 42 days on from approval, no follow-up
    reason = await refused(
        api,
        api.th,
        client_id,
        "schedule_dosing",
        409,
        session_id="s4",
        scheduled_at=await later(api, days=1),
    )
    assert "prescriber follow-up is due by" in reason
    journey = (await api.get(api.th, f"/journeys/{client_id}")).json()
    assert journey["overdue"] is True
    expires = await later(api, days=60)
    await ok(
        api, rx, client_id, "record_prescriber_follow_up", outcome="continue", expires_at=expires
    )
    await ok(
        api,
        api.th,
        client_id,
        "schedule_dosing",
        session_id="s4",
        scheduled_at=await later(api, days=1),
    )


async def test_a_withdrawal_after_a_dose_waits_for_the_discharge_follow_up(api: Api) -> None:
    client_id = await prepared(api, doses=2)
    await dose(api, client_id, "s1")
    answer = await ok(api, api.ops, client_id, "withdraw", reason="client_choice")
    assert answer["status"] != "closed"
    assert [d["kind"] for d in answer["due"]].count("discharge_follow_up") == 1
    reason = await refused(
        api,
        api.th,
        client_id,
        "schedule_dosing",
        409,
        session_id="s2",
        scheduled_at=await later(api, days=1),
    )
    assert "stopping" in reason
    answer = await ok(api, api.rx, client_id, "record_prescriber_follow_up", outcome="discontinue")
    assert answer["status"] == "closed"
    assert answer["closed_reason"] == "withdrawn"


async def test_a_held_journey_does_not_move_on_and_the_hold_follows_the_client(api: Api) -> None:
    client_id = await api.started()
    th = api.th
    await ok(api, th, client_id, "record_screening", instrument="phq9", answers=PHQ9)
    await ok(api, th, client_id, "record_screening", instrument="gad7", answers=GAD7)
    await ok(
        api, th, client_id, "record_consent", consent_version="kap-v3", signed_at=await now(api)
    )
    await ok(api, api.ops, client_id, "raise_safety_hold", reason="clinical_concern")
    reason = await refused(
        api, th, client_id, "complete_consultation", 409, treatment_goals=["sleep better"]
    )
    assert "safety hold" in reason
    await ok(api, th, client_id, "record_screening", instrument="phq9", answers=PHQ9)
    await ok(api, th, client_id, "clear_safety_hold", assessment_ref="as-1")
    await ok(api, th, client_id, "complete_consultation", treatment_goals=["sleep better"])


async def test_visits_are_booked_by_their_clinicians(api: Api) -> None:
    client_id = await eligible(api)
    th, rx = api.th, api.rx
    await ok(api, th, client_id, "refer_to_prescriber")
    await ok(
        api, rx, client_id, "schedule_prescriber_intake", scheduled_at=await later(api, days=2)
    )
    at = await later(api, days=5)
    answer = await ok(
        api, th, client_id, "schedule_visit", visit_id="prep-1", kind="preparation", scheduled_at=at
    )
    assert "visit_reminder" in {d["kind"] for d in answer["due"]}
    reason = await refused(
        api,
        rx,
        client_id,
        "schedule_visit",
        403,
        visit_id="prep-2",
        kind="preparation",
        scheduled_at=at,
    )
    assert "therapist or ops" in reason
    reason = await refused(
        api,
        th,
        client_id,
        "schedule_visit",
        422,
        visit_id="prep-3",
        kind="preparation",
        scheduled_at=await now(api),
    )
    assert "future" in reason


async def test_ops_reassign_a_client_and_the_new_therapist_takes_over(api: Api) -> None:
    client_id = await eligible(api)
    reason = await refused(
        api, api.ops, client_id, "reassign_clinician", 422, role="therapist", clinician_id="nobody"
    )
    assert "not a therapist of this clinic" in reason
    other_clinic = api.th_b.clinician_id
    reason = await refused(
        api,
        api.ops,
        client_id,
        "reassign_clinician",
        422,
        role="therapist",
        clinician_id=other_clinic,
    )
    assert "not a therapist of this clinic" in reason
    await refused(
        api,
        api.th,
        client_id,
        "reassign_clinician",
        403,
        role="therapist",
        clinician_id=api.th2.clinician_id,
    )
    answer = await ok(
        api,
        api.ops,
        client_id,
        "reassign_clinician",
        role="therapist",
        clinician_id=api.th2.clinician_id,
    )
    assert answer["therapist_id"] == api.th2.clinician_id
    assert (await api.get(api.th, f"/journeys/{client_id}")).status_code == 403
    await ok(api, api.th2, client_id, "refer_to_prescriber")
    events = (await api.get(api.th2, f"/journeys/{client_id}/events")).json()["events"]
    moved = [e for e in events if e["type"] == "clinician_reassigned"]
    assert moved and moved[0]["actor_id"] == api.ops.clinician_id


async def alerts_for(api: Api, user: Any, client_id: str, template: str) -> list[dict[str, Any]]:
    """The caller's alerts of `template` about the client, once the workflow has sent them."""
    found: list[dict[str, Any]] = []
    for _ in range(200):
        answer = (await api.get(user, "/alerts")).json()
        found = [a for a in answer if a["client_id"] == client_id and a["template"] == template]
        if found:
            break
        await asyncio.sleep(0.05)
    return found


async def test_a_moderate_cssrs_alerts_the_therapist_without_a_hold(api: Api) -> None:
    client_id = await api.started()
    moderate = [1, 1, 1, 0, 0, 0, 0]  # a method: moderate, no intent or plan
    answer = await ok(
        api, api.th, client_id, "record_screening", instrument="cssrs", answers=moderate
    )
    assert answer["status"] == "active"
    (alert,) = await alerts_for(api, api.th, client_id, "screening_review_needed")
    assert alert["recipient_id"] == api.th.clinician_id
    assert client_id not in (await api.get(api.th2, "/alerts")).text


async def test_the_clinician_a_client_moves_to_is_told(api: Api) -> None:
    client_id = await api.started()
    await ok(
        api,
        api.ops,
        client_id,
        "reassign_clinician",
        role="prescriber",
        clinician_id=api.rx2.clinician_id,
    )
    (alert,) = await alerts_for(api, api.rx2, client_id, "client_assigned")
    assert alert["recipient_id"] == api.rx2.clinician_id
