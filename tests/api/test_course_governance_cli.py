"""Issue 13 through the `carepath` CLI against a served API: ops reassign a client, a held
journey refuses to move on with the domain's reason, visits are booked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from tests.api.test_cli import Served, _user, served

__all__ = ["served"]  # the fixture


async def test_reassign_hold_and_visits_through_the_cli(served: Served) -> None:
    added = await asyncio.gather(
        served.cli("users", "add", "Olive Ops", "--role", "ops"),
        served.cli("users", "add", "Theo Therapist", "--role", "therapist"),
        served.cli("users", "add", "Tara Therapist", "--role", "therapist"),
        served.cli("users", "add", "Rex Prescriber", "--role", "prescriber"),
    )
    (_, ops), (th1, th1_token), (th2, th2_token), (rx, _) = (_user(run) for run in added)
    client_id = f"cl-{uuid.uuid4().hex[:8]}"
    started = await served.cli(
        "journey", "start", client_id, "--therapist", th1, "--prescriber", rx, token=ops
    )
    assert started.code == 0, started.err

    moved = await served.cli(
        "decide",
        client_id,
        "reassign_clinician",
        "--role",
        "therapist",
        "--clinician_id",
        th2,
        token=ops,
    )
    assert moved.code == 0, moved.err
    assert "clinician_reassigned" in moved.out
    gone = await served.cli("journey", "show", client_id, token=th1_token)
    assert gone.code != 0 and "not on your caseload" in gone.err

    held = await served.cli(
        "decide", client_id, "raise_safety_hold", "--reason", "clinical_concern", token=th2_token
    )
    assert held.code == 0, held.err
    shown_held = await served.cli("journey", "show", client_id, token=th2_token)
    assert shown_held.code == 0, shown_held.err
    assert f"safety hold   clinical_concern (clinician) by {th2} at " in shown_held.out
    refused = await served.cli(
        "decide",
        client_id,
        "complete_consultation",
        "--treatment_goals",
        '["sleep better"]',
        token=th2_token,
    )
    assert refused.code != 0
    assert "safety hold" in refused.err

    shown = await served.cli("journey", "show", client_id, "--json", token=th2_token)
    view = shown.json()
    assert isinstance(view, dict)
    # The journey's clock (the shared time-skipping server's), not the wall clock.
    when = (datetime.fromisoformat(view["last_decision"]["at"]) + timedelta(days=3)).isoformat()
    visit = await served.cli(
        "decide",
        client_id,
        "schedule_visit",
        "--visit_id",
        "v-1",
        "--kind",
        "integration",
        "--scheduled_at",
        when,
        token=th2_token,
    )
    assert visit.code != 0
    assert "integration visits follow a dosing session" in visit.err
