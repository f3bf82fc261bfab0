"""The session records and the safety reports through the real API (Temporal test server,
PostgreSQL): `GET /journeys/{client_id}/sessions` is the domain's fold of the stored events;
`GET /reports/adverse-events` and `GET /reports/controlled-substances` read the safety read
model, each clinic its own, each role what it may; every read audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from domain import fold, parse_event
from domain.ledger import session_records, substance_ledger
from eventstore import EventStore
from tests.api.conftest import Api, User

PHQ9 = [2, 2, 1, 1, 1, 2, 1, 2, 0]
GAD7 = [2, 2, 2, 1, 1, 1, 2]
VITALS = {"systolic": 122, "diastolic": 80}
CHECK = {"vitals": VITALS, "sedation": "mild", "dissociation": "none"}
DISCHARGE = {"vitals": VITALS, "ready_for_discharge": True, "transport_confirmed": True}


def dose(mg: str, lot: str = "KET-24-001", **more: str) -> dict[str, str]:
    return {"dose_mg": mg, "route": "intramuscular", "lot": lot, **more}


async def ok(api: Api, user: User, client_id: str, type_: str, **fields: Any) -> dict[str, Any]:
    response = await api.decide(user, client_id, type_, **fields)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def wait(api: Api, **delta: float) -> None:
    await api.env.sleep(timedelta(**delta))


async def later(api: Api, **delta: float) -> str:
    return (await api.env.get_current_time() + timedelta(**delta)).isoformat()


async def dosed(api: Api, th: User, rx: User, ops: User | None = None) -> str:
    """A new journey of `th` and `rx` whose first dose (session s1) was just started."""
    client_id = await api.started(ops or api.ops, therapist=th, prescriber=rx)
    await ok(api, th, client_id, "record_screening", instrument="phq9", answers=PHQ9)
    await ok(api, th, client_id, "record_screening", instrument="gad7", answers=GAD7)
    await ok(api, th, client_id, "record_consent", consent_version="v3", signed_at=await later(api))
    await ok(api, th, client_id, "complete_consultation", treatment_goals=["sleep better"])
    await ok(api, th, client_id, "refer_to_prescriber")
    intake = await later(api, days=2)
    await ok(api, rx, client_id, "schedule_prescriber_intake", scheduled_at=intake)
    await wait(api, days=2)
    await ok(api, rx, client_id, "approve_medication", expires_at=await later(api, days=90))
    await ok(api, th, client_id, "complete_preparation")
    at = await later(api, minutes=30)  # may start up to an hour early
    await ok(api, th, client_id, "schedule_dosing", session_id="s1", scheduled_at=at)
    start = {"session_id": "s1", "vitals": VITALS, "transport_confirmed": True}
    await ok(api, th, client_id, "start_dosing", **start)
    return client_id


async def discharged(api: Api, th: User, client_id: str, *doses: dict[str, str]) -> None:
    """Monitored 45 minutes after the dose, `doses` recorded (each replacing the one before),
    discharged after 125 minutes with a mild adverse event."""
    await wait(api, minutes=45)
    await ok(api, th, client_id, "record_session_monitoring", session_id="s1", **CHECK)
    for given in doses:
        await ok(api, th, client_id, "record_dose", session_id="s1", dose=given)
    await wait(api, minutes=80)
    nausea = [{"code": "nausea", "severity": "mild"}]
    await ok(
        api, th, client_id, "complete_dosing", session_id="s1", adverse_events=nausea, **DISCHARGE
    )


async def reads(api: Api, resource: str) -> list[tuple[str, str, str]]:
    rows = await api.pool.fetch(
        "SELECT actor_id, outcome, clinic_id FROM access_log WHERE resource = $1 ORDER BY read_at",
        resource,
    )
    return [tuple(r) for r in rows]


async def test_session_records_are_the_domain_s_fold_of_the_stored_events(api: Api) -> None:
    th, rx = api.th, api.rx
    client_id = await dosed(api, th, rx)
    await discharged(api, th, client_id, dose("40"), dose("50", wasted_mg="10"))
    await ok(api, rx, client_id, "sign_session_record", session_id="s1")
    corrected = dose("45", wasted_mg="15")
    await ok(api, th, client_id, "amend_session_record", session_id="s1", reason="dose_corrected",
             dose=corrected)  # fmt: skip

    response = await api.get(th, f"/journeys/{client_id}/sessions")
    assert response.status_code == 200, response.text
    body = response.json()
    journey = (await api.get(th, f"/journeys/{client_id}")).json()
    store = EventStore(api.pool, max_event_bytes=api.settings.max_event_bytes)
    state = fold(parse_event(r.data) for r in await store.read_stream(journey["journey_id"]))
    assert state is not None
    assert body["journey_id"] == journey["journey_id"] and body["client_id"] == client_id
    assert body["sessions"] == [s.model_dump(mode="json") for s in session_records(state)]
    assert body["ledger"] == substance_ledger(state).model_dump(mode="json")
    [session] = body["sessions"]
    assert session["dose"]["dose_mg"] == "45" and session["amendments"] == 1
    assert session["signed_at"] is not None and session["adverse_events"] == 1
    assert [r["minutes_after_dose"] for r in session["readings"]] == [None, 45, 125]
    ledger = body["ledger"]
    assert (Decimal(ledger["administered_mg"]), Decimal(ledger["wasted_mg"])) == (
        Decimal(45),
        Decimal(15),
    )
    assert Decimal(ledger["dispensed_mg"]) == 60 and body["reconciled"] is True
    assert (ledger["doses_authorized"], ledger["doses_started"], ledger["doses_recorded"]) == (
        2,
        1,
        1,
    )

    # Who may read it: as for the journey itself.
    assert (await api.get(rx, f"/journeys/{client_id}/sessions")).status_code == 200
    assert (await api.get(api.ops, f"/journeys/{client_id}/sessions")).status_code == 200
    refused = await api.get(api.th2, f"/journeys/{client_id}/sessions")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this client is not on your caseload"
    theirs = await api.get(api.ops_b, f"/journeys/{client_id}/sessions")
    nobody = await api.get(api.ops_b, "/journeys/cl-nobody/sessions")
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json() == nobody.json()
    outcomes = [(actor, outcome) for actor, outcome, _ in await reads(api, "sessions")]
    assert outcomes == [
        (th.clinician_id, "ok"),
        (rx.clinician_id, "ok"),
        (api.ops.clinician_id, "ok"),
        (api.th2.clinician_id, "forbidden"),
        (api.ops_b.clinician_id, "not_found"),
        (api.ops_b.clinician_id, "not_found"),
    ]


async def test_the_clinic_s_adverse_event_and_controlled_substance_reports(api: Api) -> None:
    th, rx = api.th, api.rx
    # Client A: a dose recorded and signed, a mild adverse event at discharge and a serious one
    # reported later (which puts the journey on a safety hold).
    a = await dosed(api, th, rx)
    await discharged(api, th, a, dose("50", "LOT-A", dispensed_mg="60", wasted_mg="5"))
    await ok(api, th, a, "sign_session_record", session_id="s1")
    await wait(api, hours=6)
    serious = {
        "code": "hypertension",
        "severity": "severe",
        "seriousness": ["hospitalisation"],
        "outcome": "recovering",
        "onset_at": await later(api, hours=-2),
    }
    reported = await ok(api, rx, a, "report_adverse_event", session_id="s1", **serious)
    assert reported["events"] == ["adverse_event_reported", "safety_hold_raised"]
    # Client B, another therapist's: the dose started, nothing on record yet.
    b = await dosed(api, api.th2, api.rx2)
    # Client C, another clinic's, with an adverse event of its own.
    c = await dosed(api, api.th_b, api.rx_b, api.ops_b)
    await discharged(api, api.th_b, c, dose("70", "LOT-C"))
    await api.catch_up()

    listed = await api.get(api.ops, "/reports/adverse-events")
    assert listed.status_code == 200, listed.text
    entries = listed.json()
    assert [(e["client_id"], e["code"], e["source"], e["serious"]) for e in entries] == [
        (a, "hypertension", "reported", True),
        (a, "nausea", "at_discharge", False),
    ]  # newest first, nothing of clinic C
    first = entries[0]
    assert first["seriousness"] == ["hospitalisation"] and first["outcome"] == "recovering"
    assert (first["actor_id"], first["actor_role"]) == (rx.clinician_id, "prescriber")
    assert first["onset_at"] is not None and entries[1]["onset_at"] is None
    only_serious = (await api.get(api.ops, "/reports/adverse-events", serious="true")).json()
    assert [e["code"] for e in only_serious] == ["hypertension"]
    since = (await api.get(api.ops, "/reports/adverse-events", since=first["recorded_at"])).json()
    assert [e["code"] for e in since] == ["hypertension"]
    assert [e["code"] for e in (await api.get(rx, "/reports/adverse-events")).json()] == [
        "hypertension",
        "nausea",
    ]
    assert len((await api.get(api.rx2, "/reports/adverse-events")).json()) == 2  # the clinic's
    assert len((await api.get(th, "/reports/adverse-events")).json()) == 2  # th's own client
    assert (await api.get(api.th2, "/reports/adverse-events")).json() == []  # none of B's
    others = (await api.get(api.ops_b, "/reports/adverse-events")).json()
    assert [(e["client_id"], e["code"]) for e in others] == [(c, "nausea")]
    bad = await api.get(api.ops, "/reports/adverse-events", since="1700000000")
    assert bad.status_code == 422

    refused = await api.get(th, "/reports/controlled-substances")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "the controlled-substance report is for prescribers and ops"
    answered = await api.get(rx, "/reports/controlled-substances")
    assert answered.status_code == 200, answered.text
    report = answered.json()
    assert report == (await api.get(api.ops, "/reports/controlled-substances")).json()
    assert report["clinic_id"] == "default" and report["reconciled"] is False
    rows = {j["client_id"]: j for j in report["journeys"]}
    assert set(rows) == {a, b}
    assert (rows[a]["doses_started"], rows[a]["doses_recorded"]) == (1, 1)
    assert [Decimal(rows[a][k]) for k in ("dispensed_mg", "administered_mg", "wasted_mg")] == [
        60,
        50,
        5,
    ]
    assert Decimal(rows[a]["unaccounted_mg"]) == 5 and rows[a]["records_unsigned"] == []
    assert rows[b]["sessions_without_dose_record"] == ["s1"] and rows[b]["doses_recorded"] == 0
    assert [(lot["lot"], lot["doses"]) for lot in report["lots"]] == [("LOT-A", 1)]
    totals = report["totals"]
    assert (totals["journeys"], totals["doses_authorized"], totals["doses_started"]) == (2, 4, 2)
    assert totals["sessions_without_dose_record"] == 1
    kinds = sorted((d["kind"], d["client_id"], d["session_id"]) for d in report["discrepancies"])
    assert kinds == [("no_dose_record", b, "s1"), ("unaccounted", a, "s1")]
    assert all(d["detail"] for d in report["discrepancies"])
    theirs = (await api.get(api.rx_b, "/reports/controlled-substances")).json()
    assert [j["client_id"] for j in theirs["journeys"]] == [c] and theirs["reconciled"] is True
    assert [lot["lot"] for lot in theirs["lots"]] == ["LOT-C"]
    for secret in (a, b, "LOT-A", th.clinician_id):
        assert secret not in str(theirs) and secret not in str(others)

    # Both reports are audited, a refused read too, each in the caller's clinic.
    substances = await reads(api, "controlled_substances")
    assert substances == [
        (th.clinician_id, "forbidden", "default"),
        (rx.clinician_id, "ok", "default"),
        (api.ops.clinician_id, "ok", "default"),
        (api.rx_b.clinician_id, "ok", "other"),
    ]
    adverse = await reads(api, "adverse_events")
    assert len(adverse) == 8 and (api.ops_b.clinician_id, "ok", "other") in adverse
