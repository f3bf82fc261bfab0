"""GET /journeys/{client_id}/outcomes: scores over time with response and remission (null where
`domain.instruments.judge` does not judge), and the check-ins after the course, for the client's
clinicians only."""

from __future__ import annotations

from datetime import timedelta

from domain.instruments import NOT_JUDGED, judge, responded, score
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
        judged = NOT_JUDGED if m["baseline"] else judge(Instrument.PHQ9, baseline, m["total"])
        assert (m["response"], m["remission"]) == (judged.response, judged.remission)
    assert [(m["response"], m["remission"]) for m in phq9["measurements"]] == [
        (None, None),  # the baseline is never judged
        (True, False),
        (True, False),
    ]
    assert phq9["latest"] == phq9["measurements"][-1] and phq9["latest"]["risk"] is True
    gad7 = by_instrument["gad7"]["measurements"]
    assert [(m["baseline"], m["response"], m["remission"]) for m in gad7] == [(True, None, None)]
    unjudged = by_instrument["pcl5"]  # no baseline to judge it by: not judged, not "no"
    assert unjudged["baseline"] is None
    assert (unjudged["latest"]["response"], unjudged["latest"]["remission"]) == (None, None)
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


async def test_low_baselines_and_the_cssrs_are_never_judged(api: Api) -> None:
    """Issue 13: a baseline PHQ-9 of 4 was in "remission" and 4 -> 2 a "response"; a C-SSRS
    with fewer yes answers a "response". None is judged; a GAD-7 from 10 is."""
    client_id = await api.started(api.ops)
    screenings = (
        ("phq9", [1, 1, 1, 1, 0, 0, 0, 0, 0]),  # 4: below 10
        ("gad7", [2, 2, 2, 1, 1, 1, 1]),  # 10
        ("cssrs", [1, 1, 0, 0, 0, 0, 0]),
        ("phq9", [1, 1, 0, 0, 0, 0, 0, 0, 0]),  # 2
        ("gad7", [1, 1, 1, 1, 0, 0, 0]),  # 4: a response and a remission
        ("cssrs", [0] * 7),
    )
    for instrument, answers in screenings:
        recorded = await api.decide(
            api.th, client_id, "record_screening", instrument=instrument, answers=answers
        )
        assert recorded.status_code == 200, recorded.text
    journey_id = recorded.json()["journey_id"]
    await api.catch_up()
    later = await api.env.get_current_time() + timedelta(weeks=2)
    week2 = score(Instrument.PHQ9, [0] * 9)  # 0 after a baseline of 4: still not judged
    await api.pool.execute(
        "INSERT INTO follow_up_check_ins (journey_id, check_in, instrument, status, total, band,"
        " risk, recorded_at) VALUES ($1, 'week-2', 'phq9', 'answered', $2, $3, $4, $5)",
        journey_id,
        week2.total,
        week2.band,
        week2.risk,
        later,
    )

    response = await api.get(api.th, f"/journeys/{client_id}/outcomes")

    assert response.status_code == 200, response.text
    judged = {
        i["instrument"]: [(m["total"], m["response"], m["remission"]) for m in i["measurements"]]
        for i in response.json()["instruments"]
    }
    assert judged == {
        "phq9": [(4, None, None), (2, None, None), (0, None, None)],
        "gad7": [(10, None, None), (4, True, True)],
        "cssrs": [(2, None, None), (0, None, None)],
    }


async def test_the_schema_says_response_and_remission_may_be_null(api: Api) -> None:
    schema = (await api.get(api.th, "/openapi.json")).json()
    measurement = schema["components"]["schemas"]["Measurement"]["properties"]
    for flag in ("response", "remission"):
        assert measurement[flag]["anyOf"] == [{"type": "boolean"}, {"type": "null"}]


def test_the_cli_shows_yes_no_and_blank_where_not_judged() -> None:
    from cli.client import _outcomes_text

    def measurement(total: int, baseline: bool, response: bool | None) -> dict[str, object]:
        return {
            "recorded_at": f"2027-01-{total + 1:02d}T09:00:00Z",
            "total": total,
            "band": "any",
            "source": "session",
            "check_in": None,
            "baseline": baseline,
            "response": response,
            "remission": response,
            "risk": None,
        }

    rows = [measurement(4, True, None), measurement(12, False, False), measurement(2, False, True)]
    text = _outcomes_text(
        {
            "client_id": "cl-1",
            "journey_id": "j-1",
            "instruments": [{"instrument": "phq9", "measurements": rows}],
            "check_ins": [],
        }
    )
    lines = [line.split() for line in text.splitlines() if line.startswith("phq9")]
    assert [line[2:] for line in lines] == [
        ["baseline", "4", "any"],
        ["session", "12", "any", "no", "no"],
        ["session", "2", "any", "yes", "yes"],
    ]
