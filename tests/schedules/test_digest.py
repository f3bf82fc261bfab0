"""The daily digest: each clinician's overdue journeys and safety holds, from the caseload,
as journey ids and links only; once a day."""

from __future__ import annotations

from datetime import timedelta

import pytest_asyncio

from activities.channels import Channel
from database.pgtypes import Pool
from domain.ids import journey_workflow_id
from records.clients import upsert_client
from tests.schedules.conftest import FollowUps, RecordingChannel
from tests.schedules.support import (
    CLIENT_EMAIL,
    CLIENT_PHONE,
    FIRST_NAME,
    SURNAME,
    Clinicians,
    completed_journey,
    held_journey,
    new_ids,
    referred_journey,
    started_journey,
)

DAY = timedelta(days=1)
UI = "http://127.0.0.1:8233/namespaces/default/workflows"


@pytest_asyncio.fixture
async def email() -> RecordingChannel:
    return RecordingChannel()


@pytest_asyncio.fixture
async def channels(email: RecordingChannel) -> dict[str, Channel]:
    return {"email": email}


async def add_clinician(pool: Pool, clinician_id: str, role: str, address: str) -> None:
    await pool.execute(
        "INSERT INTO clinicians (clinician_id, role, clinic_id, display_name, email) "
        "VALUES ($1, $2, 'default', 'Dr Ilse Example', $3)",
        clinician_id,
        role,
        address,
    )


async def test_each_clinician_gets_their_overdue_and_held_journeys_as_ids_and_links(
    followups: FollowUps, email: RecordingChannel
) -> None:
    pool = followups.pool
    ana, ben = Clinicians("th-ana", "rx-kim"), Clinicians("th-ben", "rx-kim")
    for clinician_id, role in (
        ("th-ana", "therapist"),
        ("th-ben", "therapist"),
        ("rx-kim", "prescriber"),
        ("ops-1", "ops"),
    ):
        await add_clinician(pool, clinician_id, role, f"{clinician_id}@clinic.example")
    now = await followups.now()
    ids = {name: new_ids() for name in ("overdue", "held", "fine", "closed")}
    stories = {
        "overdue": referred_journey(*ids["overdue"], now - 20 * DAY, ana),
        "held": held_journey(*ids["held"], now - DAY, ben),
        "fine": started_journey(*ids["fine"], now - DAY, ana),
        "closed": completed_journey(*ids["closed"], now - 3 * DAY),
    }
    journeys: dict[str, str] = {}
    for name, (journey_id, client_id) in ids.items():
        await upsert_client(
            pool,
            client_id,
            display_name=f"{FIRST_NAME} {SURNAME}",
            email=CLIENT_EMAIL,
            phone=CLIENT_PHONE,
            keys=None,
        )
        await followups.caseload.add(journey_id, stories[name])
        journeys[name] = journey_workflow_id(client_id, "default")

    outcome = await followups.digest()

    assert (outcome.digests, outcome.sent) == (4, 4)
    bodies = {message.to.split("@")[0]: message.body for message in email.sent}
    assert set(bodies) == {"th-ana", "th-ben", "rx-kim", "ops-1"}
    overdue, held = journeys["overdue"], journeys["held"]
    day = now.date().isoformat()
    assert bodies["th-ana"] == (
        f"Daily digest {day}: 0 on safety hold, 1 overdue.\n\n"
        f"Overdue:\n- {overdue} {UI}/{overdue}\n"
    )
    assert bodies["th-ben"] == (
        f"Daily digest {day}: 1 on safety hold, 0 overdue.\n\nSafety holds:\n- {held} {UI}/{held}\n"
    )
    for everyone in ("rx-kim", "ops-1"):  # the prescriber of both; ops of the clinic
        assert f"- {held} {UI}/{held}" in bodies[everyone]
        assert f"- {overdue} {UI}/{overdue}" in bodies[everyone]
    for message in email.sent:
        text = f"{message.subject}\n{message.body}"
        assert journeys["fine"] not in text and journeys["closed"] not in text
        for detail in (FIRST_NAME, SURNAME, CLIENT_EMAIL, CLIENT_PHONE, "phq", "gad", "score"):
            assert detail.lower() not in text.lower(), f"a digest holds {detail!r}"
        assert message.subject == f"Carepath: daily digest {day}"

    # Once a day: a second run the same day sends nothing more.
    again = await followups.digest()
    assert again.sent == 0 and len(email.sent) == 4
    rows = await pool.fetch(
        "SELECT idempotency_key, recipient_role, status FROM notifications "
        "WHERE template = 'daily_digest' ORDER BY idempotency_key"
    )
    assert [(r["idempotency_key"], r["status"]) for r in rows] == [
        (f"digest:{day}:ops:default", "sent"),
        (f"digest:{day}:prescriber:rx-kim", "sent"),
        (f"digest:{day}:therapist:th-ana", "sent"),
        (f"digest:{day}:therapist:th-ben", "sent"),
    ]


async def test_nothing_to_report_sends_nothing(
    followups: FollowUps, email: RecordingChannel
) -> None:
    journey_id, client_id = new_ids()
    now = await followups.now()
    await followups.caseload.add(
        journey_id, started_journey(journey_id, client_id, now, Clinicians())
    )

    outcome = await followups.digest()

    assert (outcome.digests, outcome.sent) == (0, 0) and email.sent == []
