"""`carepath dev --demo` on a fresh data dir, beside nothing else: journeys at every stage and
status, a completed course with its check-in open and the survey link printed, the demo
clinicians to sign in as; a second run changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from devstack.demo_journeys import COMPLETED, Cast, demo_journeys, history, start_command
from domain import Actor, Protocol, Role
from domain.followups import check_ins_due, closed_at
from domain.vocabulary import ClosedReason
from tests.workers.test_dev import Dev

ROW = re.compile(r"^  (demo-[a-z-]+) ", re.MULTILINE)
SIGN_IN = re.compile(r"^  (therapist|prescriber|ops) +([a-z]+-[0-9a-f]+) +(cp_\S+)$", re.MULTILINE)
SURVEY = re.compile(r"^  (http://\S+/s/\S+)$", re.MULTILINE)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    stack = Dev(tmp_path / "data")
    yield stack
    if stack.proc is not None and stack.proc.poll() is None:
        stack.proc.kill()
    for proc in psutil.process_iter(["cmdline"]):
        if str(stack.data_dir) in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def _seeded(banner: str) -> tuple[list[str], dict[str, tuple[str, str]], str]:
    """The client ids, {role: (clinician id, token)} and the survey link the table prints."""
    table = banner[banner.index("Demo journeys") :]
    clients = ROW.findall(table)
    sign_in = {role: (who, token) for role, who, token in SIGN_IN.findall(table)}
    (survey,) = SURVEY.findall(table)
    return clients, sign_in, survey


def _get(dev: Dev, token: str, path: str) -> Any:
    answer = httpx.get(f"{dev.api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def test_demo_seeds_every_stage_a_completed_course_and_an_open_check_in(dev: Dev) -> None:
    dev.start("--demo")
    clients, sign_in, survey = _seeded(dev.wait_ready())
    assert set(sign_in) == {"therapist", "prescriber", "ops"}
    ops = sign_in["ops"][1]
    views = {c: _get(dev, ops, f"/journeys/{c}") for c in clients}

    # Every stage and status a clinic's user looks for, from the journeys' own views.
    assert {v["stage"] for v in views.values()} >= {
        "consultation",
        "referral",
        "medication_review",
        "preparation",
        "dosing",
        "integration",
        "prescriber_follow_up",
        "completed",
    }
    assert {v["status"] for v in views.values()} >= {"active", "paused", "safety_hold", "closed"}
    assert {v["closed_reason"] for v in views.values()} >= {"completed", "withdrawn"}
    stopping = [v for v in views.values() if v["stopping"] is not None]
    assert stopping and all(
        v["stopping"]["reason"] == "withdrawn"
        and "discharge_follow_up" in {d["kind"] for d in v["due"]}
        for v in stopping
    )
    assert {visit["kind"] for v in views.values() for visit in v["visits"]} >= {
        "preparation",
        "integration",
        "prescriber_follow_up",
    }
    sessions = [s for v in views.values() for s in v["sessions"]]
    assert "scheduled" in {s["status"] for s in sessions}
    dosing = [v for v in views.values() if v["stage"] == "dosing" and v["status"] == "active"]
    assert any(s["status"] == "scheduled" for v in dosing for s in v["sessions"])
    owed = [v for v in views.values() if v["stage"] == "integration"]
    assert owed and all(v["doses"]["used"] >= 1 for v in owed)
    follow_up = [v for v in views.values() if v["stage"] == "prescriber_follow_up"]
    assert follow_up and all(
        "prescriber_follow_up" in {d["kind"] for d in v["due"]} for v in follow_up
    )

    # The completed course: every dose given, every record signed, the follow-up recorded.
    (done,) = [c for c, v in views.items() if v["closed_reason"] == "completed"]
    course = views[done]
    assert course["doses"]["used"] == course["doses"]["authorized"] >= 1
    assert course["sessions"] and all(s["record_signed_at"] for s in course["sessions"])
    timeline = _get(dev, ops, f"/journeys/{done}/events")["events"]
    types = [e["type"] for e in timeline]
    assert "prescriber_follow_up_recorded" in types and types[-1] == "journey_closed"
    assert types.count("integration_completed") >= 1

    # The demo clinicians sign in with the tokens printed: the therapist's caseload is the demo.
    therapist_id, therapist = sign_in["therapist"]
    assert {v["therapist_id"] for v in views.values()} == {therapist_id}
    caseload = _get(dev, therapist, "/caseload?include_closed=true")
    assert {e["client_id"] for e in caseload} >= set(clients)

    # The open check-in's survey page answers, as a client opens it from the link.
    page = httpx.get(survey, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert re.search(r'name="?phq9-1\b', page.text) and re.search(r'name="?gad7-1\b', page.text)

    # A second run changes nothing: the same journeys at the same versions, the same sign-ins.
    before = sorted((e["client_id"], e["version"]) for e in caseload)
    assert dev.stop() == 0
    dev.start("--demo")
    clients_again, sign_in_again, survey_again = _seeded(dev.wait_ready())
    assert clients_again == clients and sign_in_again == sign_in
    after = _get(dev, therapist, "/caseload?include_closed=true")
    assert sorted((e["client_id"], e["version"]) for e in after) == before
    assert httpx.get(survey_again, timeout=30).status_code == 200
    assert dev.stop() == 0


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 23, 59, tzinfo=UTC),
        datetime.now(UTC).replace(microsecond=0),
    ],
)
def test_every_demo_history_is_one_the_pathway_accepts(now: datetime) -> None:
    """Each journey, decided by the rules at its steps' times, reaches what it is said to show;
    the completed course closed CLOSED_DAYS_AGO days ago, so its week-2 check-in is due now."""
    cast = Cast(
        therapist=Actor(id="th-1", role=Role.THERAPIST),
        prescriber=Actor(id="rx-1", role=Role.PRESCRIBER),
        ops=Actor(id="ops-1", role=Role.OPS),
    )
    for journey in demo_journeys():
        start = start_command(journey, cast, Protocol())
        steps = journey.steps(now, cast)
        if not journey.past:  # driven now: every step at the time it is made
            steps = [(now, actor, type_, fields) for _, actor, type_, fields in steps]
        envelopes, state = history(start, steps, now)
        assert [e.stream_version for e in envelopes] == list(range(1, len(envelopes) + 1))
        assert all(e.event.occurred_at <= now for e in envelopes)
        if journey.client_id == COMPLETED:
            assert state.closed_reason is ClosedReason.COMPLETED
            ended = closed_at(state)
            assert ended is not None
            assert check_ins_due(ended, (2,), now, timedelta(days=7)) == [
                ("week-2", ended + timedelta(weeks=2))
            ]
