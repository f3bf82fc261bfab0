"""Follow-ups after a course tell clients apart by clinic: one client id in two clinics is two
clients, with their own contact details, erasure, check-ins and digests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest_asyncio

from activities.channels import Channel
from domain.ids import check_in_workflow_id, clinic_of_workflow, journey_workflow_id
from records.clients import erase_client, upsert_client
from tests.domain.journey import Journey
from tests.schedules.conftest import FollowUps, RecordingChannel
from tests.schedules.support import Clinicians, _start, completed_journey, new_ids

DAY = timedelta(days=1)
OTHER = "other"
DEFAULT_EMAIL = "default.client@example.org"
OTHER_EMAIL = "other.client@example.net"


@pytest_asyncio.fixture
async def email() -> RecordingChannel:
    return RecordingChannel()


@pytest_asyncio.fixture
async def channels(email: RecordingChannel) -> dict[str, Channel]:
    return {"email": email}


async def _contact(followups: FollowUps, client_id: str, clinic: str, address: str) -> None:
    await upsert_client(
        followups.pool,
        client_id,
        display_name="Ada Example",
        email=address,
        phone=None,
        keys=None,
        clinic_id=clinic,
    )


async def _invitations(followups: FollowUps, expected: int) -> list[tuple[str, str]]:
    for _ in range(200):
        rows = await followups.pool.fetch(
            "SELECT journey_id, status FROM notifications"
            " WHERE template = 'survey_invitation' AND status <> 'sending' ORDER BY journey_id"
        )
        if len(rows) >= expected:
            return [(r["journey_id"], r["status"]) for r in rows]
        await asyncio.sleep(0.05)
    raise AssertionError("the check-ins did not send their invitations")


async def test_one_client_id_in_two_clinics_is_two_clients(
    followups: FollowUps, email: RecordingChannel
) -> None:
    now = await followups.now()
    mine, client_id = new_ids()
    theirs = f"{mine}-b"
    await followups.caseload.add(mine, completed_journey(mine, client_id, now - 15 * DAY))
    await followups.caseload.add(
        theirs, completed_journey(theirs, client_id, now - 15 * DAY, clinic_id=OTHER)
    )
    await _contact(followups, client_id, "default", DEFAULT_EMAIL)
    await _contact(followups, client_id, OTHER, OTHER_EMAIL)

    first = await followups.sweep()

    expected = {
        check_in_workflow_id(mine, "week-2"),
        check_in_workflow_id(theirs, "week-2", OTHER),
    }
    assert set(first.check_ins_running) == expected
    assert check_in_workflow_id(theirs, "week-2", OTHER) == f"followup-{OTHER}~{theirs}-week-2"
    assert {clinic_of_workflow(w) for w in expected} == {"default", OTHER}
    sent = await _invitations(followups, 2)
    assert sent == sorted(
        [
            (journey_workflow_id(client_id, "default"), "sent"),
            (journey_workflow_id(client_id, OTHER), "sent"),
        ]
    )
    assert sorted(m.to for m in email.sent) == sorted([DEFAULT_EMAIL, OTHER_EMAIL])


async def test_erasure_and_a_new_course_count_in_their_own_clinic_only(
    followups: FollowUps, email: RecordingChannel
) -> None:
    now = await followups.now()
    erased, client_id = new_ids()
    kept = f"{erased}-b"
    await followups.caseload.add(erased, completed_journey(erased, client_id, now - 15 * DAY))
    await followups.caseload.add(
        kept, completed_journey(kept, client_id, now - 15 * DAY, clinic_id=OTHER)
    )
    await _contact(followups, client_id, "default", DEFAULT_EMAIL)
    await erase_client(followups.pool, client_id)  # in the clinic "default"
    # A newer course of the same client id, in the clinic "default": the other clinic's
    # completed course still gets its follow-ups.
    again = f"{erased}-2"
    j = Journey(now=now)
    _start(j, again, client_id, Clinicians())
    await followups.caseload.add(again, j.events)
    # The other clinic has no contact details for this client: nothing is sent to the other
    # clinic's client's details, ever.
    outcome = await followups.sweep()

    assert outcome.check_ins_running == [check_in_workflow_id(kept, "week-2", OTHER)]
    assert await _invitations(followups, 1) == [(journey_workflow_id(client_id, OTHER), "skipped")]
    assert email.sent == []


async def test_each_clinics_ops_get_their_own_clinics_digest(
    followups: FollowUps, email: RecordingChannel
) -> None:
    now = await followups.now()
    for clinician_id, clinic in (("ops-a", "default"), ("ops-b", OTHER)):
        await followups.pool.execute(
            "INSERT INTO clinicians (clinician_id, role, clinic_id, email)"
            " VALUES ($1, 'ops', $2, $3)",
            clinician_id,
            clinic,
            f"{clinician_id}@clinic.example",
        )
    journey_id, client_id = new_ids()
    j = Journey(now=now - DAY)
    _start(j, journey_id, client_id, Clinicians("th-b", "rx-b"), clinic_id=OTHER)
    j.do("raise_safety_hold", Clinicians("th-b", "rx-b").therapist_actor, reason="clinical_concern")
    await followups.caseload.add(journey_id, j.events)

    await followups.digest()

    held = journey_workflow_id(client_id, OTHER)
    to_ops = {m.to: m.body for m in email.sent if m.to.startswith("ops-")}
    assert list(to_ops) == ["ops-b@clinic.example"]
    assert f"- {held} " in to_ops["ops-b@clinic.example"]
