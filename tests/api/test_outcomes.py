"""GET /journeys/{client_id}/outcomes: scores over time with response and remission, and the
check-ins after the course, for the client's clinicians only."""

from __future__ import annotations

from datetime import timedelta

from domain.instruments import remitted, responded, score
from domain.vocabulary import Instrument
from tests.api.conftest import Api

BASELINE = [2, 2, 2, 2, 2, 2, 2, 2, 0]
BETTER = [1, 1, 1, 1, 1, 1, 1, 1, 0]
GAD7 = [3, 3, 2, 2, 2, 2, 2]


async def test_scores_over_time_with_response_remission_and_check_ins(api: Api) -> None:
    client_id = await api.started(api.ops)
    for answers, instrument in ((BASELINE, "phq9"), (GAD7, "gad7"), (BETTER, "phq9")):
        recorded = await api.decide(
            api.th, client_id, "record_screening", instrument=instrument, answers=answers
        )
        assert recorded.status_code == 200, recorded.text
    journey_id = recorded.json()["journey_id"]
    await api.catch_up()
    # A check-in after the course (what workflows/followups.py records): PHQ-9 answered (a
    # response against the baseline, not against the session before; item 9 above 0), GAD-7
    # missed, PCL-5 answered with no baseline to judge it by.
    later = await api.env.get_current_time() + timedelta(weeks=2)
    week2 = score(Instrument.PHQ9, [1, 1, 1, 1, 1, 1, 0, 0, 1])
    pcl5 = score(Instrument.PCL5, [1] * 20)
    await api.pool.executemany(
        "INSERT INTO follow_up_check_ins (journey_id, check_in, instrument, status, total, band,"
        " risk, recorded_at) VALUES ($1, 'week-2', $2, $3, $4, $5, $6, $7)",
        [
            (journey_id, "phq9", "answered", week2.total, week2.band, week2.risk, later),
            (journey_id, "gad7", "missed", None, None, None, later),
            (journey_id, "pcl5", "answered", pcl5.total, pcl5.band, pcl5.risk, later),
        ],
    )

    response = await api.get(api.th, f"/journeys/{client_id}/outcomes")

    assert response.status_code == 200, response.text
    outcomes = response.json()
    assert outcomes["journey_id"] == journey_id
    by_instrument = {i["instrument"]: i for i in outcomes["instruments"]}
    assert set(by_instrument) == {"phq9", "gad7", "pcl5"}
    phq9 = by_instrument["phq9"]
    baseline, better = score(Instrument.PHQ9, BASELINE).total, score(Instrument.PHQ9, BETTER).total
    assert responded(baseline, week2.total) and not responded(better, week2.total)  # the fixture
    assert phq9["baseline"] == baseline
    totals = [(m["source"], m["check_in"], m["total"]) for m in phq9["measurements"]]
    assert totals == [
        ("session", None, baseline),
        ("session", None, better),
        ("check_in", "week-2", week2.total),
    ]
    for m in phq9["measurements"]:
        assert m["response"] == (not m["baseline"] and responded(baseline, m["total"]))
        assert m["remission"] == remitted(Instrument.PHQ9, m["total"])
    assert phq9["latest"] == phq9["measurements"][-1] and phq9["latest"]["risk"] is True
    assert [m["baseline"] for m in by_instrument["gad7"]["measurements"]] == [True]
    unjudged = by_instrument["pcl5"]
    assert unjudged["baseline"] is None and unjudged["latest"]["response"] is False
    statuses = {(c["check_in"], c["instrument"], c["status"]) for c in outcomes["check_ins"]}
    assert statuses == {
        ("week-2", "phq9", "answered"),
        ("week-2", "gad7", "missed"),
        ("week-2", "pcl5", "answered"),
    }


async def test_only_the_clients_clinicians_see_outcomes_and_every_read_is_logged(
    api: Api,
) -> None:
    client_id = await api.started(api.ops)
    fresh = await api.get(api.rx, f"/journeys/{client_id}/outcomes")
    assert fresh.status_code == 200 and fresh.json()["instruments"] == []
    assert (await api.get(api.th2, f"/journeys/{client_id}/outcomes")).status_code == 403
    assert (await api.get(api.ops, f"/journeys/{client_id}/outcomes")).status_code == 200
    assert (await api.get(api.th, "/journeys/cl-nobody/outcomes")).status_code == 404
    await api.catch_up()
    reads = (await api.get(api.ops, "/audit", kind="read")).json()
    logged = {(e["actor_id"], e["read"], e["outcome"]) for e in reads}
    assert (api.rx.clinician_id, "outcomes", "ok") in logged
    assert (api.th2.clinician_id, "outcomes", "forbidden") in logged
    assert (api.th.clinician_id, "outcomes", "not_found") in logged
