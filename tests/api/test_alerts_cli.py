"""`carepath alerts` (list, `--all`, `--json`) and `carepath alerts ack ALERT_ID` as a real
subprocess against the served API; and `carepath users add` warning on stderr of a clinician no
email or SMS can reach (no address given, or no SMTP and no SMS gateway configured)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from database.pgtypes import Pool
from domain.ids import journey_workflow_id
from records.alerts import NewAlert, record_alert
from records.users import add_user
from tests.api.test_cli import Served
from tests.net import served_api

NO_ADDRESS = "has no email or phone: alerts reach them only in Carepath's alert list"
NO_CHANNEL = "neither SMTP (CAREPATH_SMTP_HOST) nor an SMS gateway"


@pytest_asyncio.fixture
async def served(
    temporal_env: WorkflowEnvironment, db_pool: Pool, db_url: str
) -> AsyncIterator[Served]:
    async with served_api(temporal_env.client, db_pool, db_url) as settings:
        yield Served(settings, db_url)


async def _alert(pool: Pool, clinician_id: str, template: str, clinic: str = "default") -> str:
    alert = await record_alert(
        pool,
        NewAlert(
            key=f"{uuid.uuid4()}:therapist:{template}",
            clinic_id=clinic,
            journey_id=journey_workflow_id("cl-cli", clinic),
            client_id="cl-cli",
            recipient_role="therapist",
            recipient_id=clinician_id,
            template=template,
            urgent=template == "bp_hold",
        ),
    )
    return str(alert.alert_id)


async def test_alerts_lists_acknowledges_and_lists_all(served: Served, db_pool: Pool) -> None:
    therapist, token = await add_user(db_pool, "Theo Therapist", "therapist")
    colleague, colleague_token = await add_user(db_pool, "Tara Therapist", "therapist")
    older = await _alert(db_pool, therapist, "integration_overdue")
    newer = await _alert(db_pool, therapist, "bp_hold")
    theirs = await _alert(db_pool, colleague, "inactive_journey")
    elsewhere = await _alert(db_pool, "th-b", "inactive_journey", clinic="other")

    listed = await served.cli("alerts", token=token)
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split()[:3] == ["ALERT", "AT", "WHAT"]
    assert [line.split()[0] for line in lines[1:]] == [newer, older]  # newest first
    assert "URGENT bp_hold" in lines[1] and "pending" in lines[1]
    assert theirs not in listed.out and elsewhere not in listed.out

    acked = await served.cli("alerts", "ack", older, token=token)
    assert acked.code == 0, acked.err
    assert f"alert {older} acknowledged by {therapist}" in acked.out
    again = await served.cli("alerts", "ack", older, "--json", token=token)
    first = again.json()
    assert isinstance(first, dict) and first["acknowledged_by"] == therapist

    unacked = json.loads((await served.cli("alerts", "--json", token=token)).out)
    assert [a["alert_id"] for a in unacked] == [newer]
    everything = json.loads((await served.cli("alerts", "--all", "--json", token=token)).out)
    assert [a["alert_id"] for a in everything] == [newer, older]

    forbidden = await served.cli("alerts", "ack", older, token=colleague_token)
    assert forbidden.code == 1 and "only the alert's recipient may acknowledge it (403)" in (
        forbidden.err
    )
    missing = await served.cli("alerts", "ack", elsewhere, token=token)
    assert missing.code == 1 and "no such alert in your clinic (404)" in missing.err
    colleagues = await served.cli("alerts", token=colleague_token)
    assert colleagues.code == 0 and theirs in colleagues.out and older not in colleagues.out
    assert (await served.cli("alerts", "ack", theirs, token=colleague_token)).code == 0
    assert (await served.cli("alerts", token=colleague_token)).out.strip() == "no alerts"


async def test_users_add_warns_of_a_clinician_only_the_alert_list_reaches(served: Served) -> None:
    smtp = {"smtp_host": "mail.example"}
    sms = {"sms_gateway_url": "https://sms.example/messages"}
    bare, with_email, with_channel, with_phone = await asyncio.gather(
        served.cli("users", "add", "Nell NoAddress", "--role", "therapist", "--json"),
        served.cli("users", "add", "Ed Email", "--role", "prescriber", "--email", "e@x.example"),
        served.cli("users", "add", "Sam Smtp", "--role", "ops", "--email", "s@x.ex", **smtp),
        served.cli("users", "add", "Pia Phone", "--role", "therapist", "--phone", "+1555", **sms),
    )
    for run in (bare, with_email, with_channel, with_phone):
        assert run.code == 0, run.err

    added = json.loads(bare.out)  # stdout stays the JSON alone
    assert f"warning: {added['clinician_id']} {NO_ADDRESS}" in bare.err
    assert NO_CHANNEL in bare.err  # and no channel is configured either
    assert NO_ADDRESS not in with_email.err and NO_CHANNEL in with_email.err
    assert with_channel.err == "" and with_phone.err == ""  # reachable: no warning
    stranded = await served.cli("users", "add", "Nia Nothing", "--role", "prescriber", **smtp)
    assert NO_ADDRESS in stranded.err and NO_CHANNEL not in stranded.err
