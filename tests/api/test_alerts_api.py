"""The in-app alert list through the real API: `GET /alerts` (the caller's, newest first,
unacknowledged unless asked) and `POST /alerts/{alert_id}/acknowledge` (the recipient only; any
ops of the clinic for an ops alert; the first acknowledgement kept). Clinic scoping is absolute:
another clinic's alert answers 404 exactly as one that does not exist. Both are audited."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from domain.ids import DEFAULT_CLINIC, journey_workflow_id
from records.alerts import NewAlert, RecipientRole, record_alert
from tests.api.conftest import OTHER_CLINIC, Api, User, register


async def _alert(
    api: Api,
    role: RecipientRole,
    recipient_id: str,
    *,
    clinic: str = DEFAULT_CLINIC,
    template: str = "safety_hold_raised",
    client_id: str = "cl-alerted",
) -> str:
    """An alert as the notify activity records it (`records.alerts`); its id."""
    alert = await record_alert(
        api.pool,
        NewAlert(
            key=f"{uuid.uuid4()}:{role}:{template}",
            clinic_id=clinic,
            journey_id=journey_workflow_id(client_id, clinic),
            client_id=client_id,
            recipient_role=role,
            recipient_id=recipient_id,
            template=template,
            urgent=True,
        ),
    )
    return str(alert.alert_id)


async def _ids(api: Api, user: User, **params: Any) -> list[str]:
    answer = await api.get(user, "/alerts", **params)
    assert answer.status_code == 200, answer.text
    return [a["alert_id"] for a in answer.json()]


async def _ack(api: Api, user: User, alert_id: str) -> Any:
    return await api.http.post(f"/alerts/{alert_id}/acknowledge", headers=user.headers)


async def _access(api: Api, actor: User, resource: str) -> list[tuple[str, str | None]]:
    rows = await api.pool.fetch(
        "SELECT outcome, client_id FROM access_log WHERE actor_id = $1 AND resource = $2 "
        "ORDER BY id",
        actor.clinician_id,
        resource,
    )
    return [(r["outcome"], r["client_id"]) for r in rows]


async def test_a_safety_hold_lands_in_the_therapists_and_prescribers_lists_without_email(
    api: Api,
) -> None:
    """End to end: the journey's notices (no channel configured here) are in both lists,
    marked undelivered; no other clinician's list has them."""
    client_id = await api.started()
    held = await api.decide(api.rx, client_id, "raise_safety_hold", reason="clinician_concern")
    assert held.status_code == 200, held.text

    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(200):
        for name, user in (("th", api.th), ("rx", api.rx)):
            answer = await api.get(user, "/alerts")
            found[name] = [a for a in answer.json() if a["client_id"] == client_id]
        done = all(a["delivery"] == "undelivered" for alerts in found.values() for a in alerts)
        if all(found.values()) and done:
            break
        await asyncio.sleep(0.05)
    for name, user in (("th", api.th), ("rx", api.rx)):
        [alert] = found[name]
        assert alert["template"] == "safety_hold_raised" and alert["urgent"] is True
        assert alert["recipient_id"] == user.clinician_id
        assert alert["journey_id"] == journey_workflow_id(client_id)
        assert (alert["delivery"], alert["channel"]) == ("undelivered", None)
    for user in (api.th2, api.rx2, api.th_b, api.ops_b):
        assert client_id not in (await api.get(user, "/alerts")).text
    # Ops get at most the escalations of what was undelivered (workflows/journey.py).
    ops = [a for a in (await api.get(api.ops, "/alerts")).json() if a["client_id"] == client_id]
    assert all(a["template"] == "alert_undelivered" for a in ops), ops


async def test_each_caller_sees_their_own_alerts_newest_first(api: Api) -> None:
    th_old = await _alert(api, "therapist", api.th.clinician_id)
    th_new = await _alert(api, "therapist", api.th.clinician_id, template="bp_hold")
    th2 = await _alert(api, "therapist", api.th2.clinician_id)
    rx = await _alert(api, "prescriber", api.rx.clinician_id)
    ops = await _alert(api, "ops", DEFAULT_CLINIC, template="referral_sla_breached")
    ops_b = await _alert(api, "ops", OTHER_CLINIC, clinic=OTHER_CLINIC)
    th_b = await _alert(api, "therapist", api.th_b.clinician_id, clinic=OTHER_CLINIC)
    # An alert naming th in another clinic's list: not th's to see in this clinic.
    stray = await _alert(api, "therapist", api.th.clinician_id, clinic=OTHER_CLINIC)

    assert await _ids(api, api.th) == [th_new, th_old]
    assert await _ids(api, api.th, limit=1) == [th_new]
    assert await _ids(api, api.th2) == [th2]
    assert await _ids(api, api.rx) == [rx]
    assert await _ids(api, api.rx2) == []
    assert await _ids(api, api.ops) == [ops]
    assert await _ids(api, api.ops_b) == [ops_b]
    assert await _ids(api, api.th_b) == [th_b]
    assert stray not in await _ids(api, api.th, include_acknowledged="true")

    shown = (await api.get(api.th, "/alerts")).json()[0]
    assert set(shown) == {
        "alert_id",
        "journey_id",
        "client_id",
        "recipient_role",
        "recipient_id",
        "template",
        "urgent",
        "created_at",
        "delivery",
        "channel",
        "acknowledged_at",
        "acknowledged_by",
    }
    assert (shown["template"], shown["delivery"], shown["acknowledged_at"]) == (
        "bp_hold",
        "pending",
        None,
    )


async def test_the_recipient_acknowledges_once_and_the_first_time_is_kept(api: Api) -> None:
    alert_id = await _alert(api, "therapist", api.th.clinician_id)

    first = await _ack(api, api.th, alert_id)
    second = await _ack(api, api.th, alert_id)

    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["acknowledged_by"] == api.th.clinician_id
    assert first.json()["acknowledged_at"] is not None
    assert second.json() == first.json()
    assert await _ids(api, api.th) == []  # acknowledged: hidden by default
    assert await _ids(api, api.th, include_acknowledged="true") == [alert_id]


async def test_only_the_recipient_may_acknowledge(api: Api) -> None:
    alert_id = await _alert(api, "therapist", api.th.clinician_id)
    for user in (api.th2, api.rx, api.ops):
        refused = await _ack(api, user, alert_id)
        assert refused.status_code == 403, (user.role, refused.text)
    assert await _ids(api, api.th) == [alert_id]  # still unacknowledged


async def test_any_ops_of_the_clinic_acknowledges_an_ops_alert_and_the_first_is_kept(
    api: Api,
) -> None:
    alert_id = await _alert(api, "ops", DEFAULT_CLINIC, template="referral_sla_breached")
    ops2 = await register(api.pool, "Oda Ops", "ops")
    assert await _ids(api, ops2) == [alert_id]
    assert (await _ack(api, api.th, alert_id)).status_code == 403

    first = await _ack(api, ops2, alert_id)
    later = await _ack(api, api.ops, alert_id)

    assert first.status_code == later.status_code == 200
    assert later.json()["acknowledged_by"] == ops2.clinician_id
    assert later.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert await _ids(api, api.ops) == [] and await _ids(api, ops2) == []


async def test_another_clinics_alert_is_not_there(api: Api) -> None:
    theirs = await _alert(api, "ops", OTHER_CLINIC, clinic=OTHER_CLINIC)
    th_b = await _alert(api, "therapist", api.th_b.clinician_id, clinic=OTHER_CLINIC)
    nothing = str(uuid.uuid4())

    for user in (api.ops, api.th, api.rx):
        for alert_id in (theirs, th_b):
            refused = await _ack(api, user, alert_id)
            missing = await _ack(api, user, nothing)
            assert refused.status_code == missing.status_code == 404
            assert refused.json() == missing.json()  # the same answer, word for word
    assert await _ids(api, api.ops_b) == [theirs]  # still theirs, unacknowledged
    assert await _ids(api, api.th_b) == [th_b]
    assert (await _ack(api, api.ops, "not-an-id")).status_code == 422


async def test_reads_and_acknowledgements_are_audited(api: Api) -> None:
    alert_id = await _alert(api, "therapist", api.th.clinician_id, client_id="cl-audited")
    theirs = await _alert(api, "ops", OTHER_CLINIC, clinic=OTHER_CLINIC, client_id="cl-theirs")

    await _ids(api, api.th)
    await _ack(api, api.th, alert_id)
    await _ack(api, api.th2, alert_id)
    await _ack(api, api.ops, theirs)

    assert await _access(api, api.th, "alerts") == [("ok", None)]
    assert await _access(api, api.th, "alert_acknowledged") == [("ok", "cl-audited")]
    assert await _access(api, api.th2, "alert_acknowledged") == [("forbidden", "cl-audited")]
    # Nothing of the other clinic's alert goes to this clinic's audit.
    assert await _access(api, api.ops, "alert_acknowledged") == [("not_found", None)]
    entries = (await api.get(api.ops, "/audit", kind="read")).json()
    reads = {(e["actor_id"], e["read"], e["outcome"]) for e in entries}
    assert {
        (api.th.clinician_id, "alerts", "ok"),
        (api.th.clinician_id, "alert_acknowledged", "ok"),
        (api.th2.clinician_id, "alert_acknowledged", "forbidden"),
        (api.ops.clinician_id, "alert_acknowledged", "not_found"),
    } <= reads
    assert "cl-theirs" not in str(entries)
    their_audit = (await api.get(api.ops_b, "/audit", kind="read")).json()
    assert not any(e["read"] in ("alerts", "alert_acknowledged") for e in their_audit)
