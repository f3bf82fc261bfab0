"""The daily sweep: from the caseload projection, it starts exactly the check-ins that are due
and missing, never one twice, and reminds therapists once per maintenance interval."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from activities.followups import maintenance_key
from domain import Protocol
from domain.ids import check_in_workflow_id
from domain.vocabulary import Instrument
from records.clients import erase_client, upsert_client
from tests.schedules.conftest import FollowUps
from tests.schedules.support import (
    Clinicians,
    completed_journey,
    new_ids,
    started_journey,
)
from workflows.followups import SurveyAnswers, SurveyReceipt

DAY = timedelta(days=1)


async def completed(followups: FollowUps, days_ago: float, **fields: object) -> tuple[str, str]:
    journey_id, client_id = new_ids()
    at = await followups.now() - timedelta(days=days_ago)
    await followups.caseload.add(journey_id, completed_journey(journey_id, client_id, at, **fields))
    return journey_id, client_id


async def wait_for_sent(followups: FollowUps, journey_ids: list[str]) -> None:
    for _ in range(200):
        count = await followups.pool.fetchval(
            "SELECT count(DISTINCT journey_id) FROM follow_up_check_ins "
            "WHERE journey_id = ANY($1::text[])",
            journey_ids,
        )
        if count == len(journey_ids):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the check-ins did not record their invitations")


async def test_the_sweep_starts_exactly_the_check_ins_due_and_never_one_twice(
    followups: FollowUps,
) -> None:
    week2, _ = await completed(followups, 15)  # week 2 due
    week4, _ = await completed(followups, 29)  # week 4 due; week 2 is past its grace week
    week12, _ = await completed(followups, 85)  # week 12 due
    await completed(followups, 5)  # nothing due yet
    _, erased_client = await completed(followups, 15)
    await upsert_client(
        followups.pool,
        erased_client,
        display_name="X Y",
        email="x@example.org",
        phone=None,
        keys=None,
    )
    await erase_client(followups.pool, erased_client)
    open_id, open_client = new_ids()  # not completed: no follow-ups
    await followups.caseload.add(
        open_id, started_journey(open_id, open_client, await followups.now(), Clinicians())
    )
    # A client who completed a course and then started another gets no follow-ups for the first.
    again, again_client = await completed(followups, 15)
    newer = f"{again}-2"
    await followups.caseload.add(
        newer, started_journey(newer, again_client, await followups.now(), Clinicians())
    )
    expected = {
        check_in_workflow_id(week2, "week-2"),
        check_in_workflow_id(week4, "week-4"),
        check_in_workflow_id(week12, "week-12"),
    }

    first = await followups.sweep()

    assert set(first.check_ins_running) == expected and first.check_ins_finished == []
    runs = {
        workflow_id: (await followups.env.client.get_workflow_handle(workflow_id).describe()).run_id
        for workflow_id in expected
    }
    # At once again (the check-ins may not have recorded anything yet): the running ones are
    # used as they are, not started again.
    second = await followups.sweep()
    assert set(second.check_ins_running) <= expected
    for workflow_id, run_id in runs.items():
        description = await followups.env.client.get_workflow_handle(workflow_id).describe()
        assert description.run_id == run_id
    # Once they have sent their invitations, the sweep finds nothing to start.
    await wait_for_sent(followups, [week2, week4, week12])
    third = await followups.sweep()
    assert third.check_ins_running == [] and third.check_ins_finished == []
    invitations = await followups.pool.fetch(
        "SELECT idempotency_key FROM notifications WHERE template = 'survey_invitation'"
    )
    assert sorted(r["idempotency_key"] for r in invitations) == sorted(
        f"{workflow_id}:client:invitation" for workflow_id in expected
    )


async def test_a_check_in_that_has_run_is_never_started_again(followups: FollowUps) -> None:
    journey_id, _ = await completed(followups, 15)
    first = await followups.sweep()
    [workflow_id] = first.check_ins_running
    handle = followups.env.client.get_workflow_handle(workflow_id)
    answers = SurveyAnswers(answers={Instrument.PHQ9: [0] * 9, Instrument.GAD7: [0] * 7})
    await handle.execute_update("answer", answers, result_type=SurveyReceipt)
    await handle.result()
    # Even if its rows were lost, the workflow id's reuse policy refuses a second run.
    await followups.pool.execute(
        "DELETE FROM follow_up_check_ins WHERE journey_id = $1", journey_id
    )

    again = await followups.sweep()

    assert again.check_ins_running == [] and again.check_ins_finished == [workflow_id]
    invitations = await followups.pool.fetchval(
        "SELECT count(*) FROM notifications WHERE template = 'survey_invitation'"
    )
    assert invitations == 1


async def test_maintenance_reminders_come_once_per_interval_to_the_therapist(
    followups: FollowUps,
) -> None:
    first_interval, _ = await completed(followups, 50)  # 45-day interval: the first is due
    third_interval, _ = await completed(followups, 140)  # the third is due (only the latest)
    not_yet, _ = await completed(followups, 40)
    short, _ = await completed(
        followups, 35, protocol=Protocol(maintenance_interval_days=30)
    )  # the clinic's protocol: every 30 days

    outcome = await followups.sweep()

    assert outcome.maintenance_reminders == 3
    rows = await followups.pool.fetch(
        "SELECT idempotency_key, template, recipient_role FROM notifications "
        "WHERE template = 'maintenance_due' ORDER BY idempotency_key"
    )
    assert sorted(r["idempotency_key"] for r in rows) == sorted(
        [
            maintenance_key(first_interval, 1),
            maintenance_key(third_interval, 3),
            maintenance_key(short, 1),
        ]
    )
    assert {r["recipient_role"] for r in rows} == {"therapist"}
    assert not any(not_yet in r["idempotency_key"] for r in rows)

    again = await followups.sweep()  # the same day, or any day before the next interval
    assert again.maintenance_reminders == 0
    count = await followups.pool.fetchval(
        "SELECT count(*) FROM notifications WHERE template = 'maintenance_due'"
    )
    assert count == 3

    # A reminder claimed by a sweep that gave up before finishing it is tried again.
    await followups.pool.execute(
        "UPDATE notifications SET status = 'sending' WHERE idempotency_key = $1",
        maintenance_key(short, 1),
    )
    retried = await followups.sweep()
    assert retried.maintenance_reminders == 1
    status = await followups.pool.fetchval(
        "SELECT status FROM notifications WHERE idempotency_key = $1", maintenance_key(short, 1)
    )
    assert status == "skipped"  # no channels in these tests: recorded, not sent


async def test_maintenance_reminders_stop_after_the_clinics_number_of_them(
    followups: FollowUps,
) -> None:
    third_interval, _ = await completed(followups, 140)  # 45-day interval: the third is due

    assert (await followups.sweep(maintenance_reminders=2)).maintenance_reminders == 0
    assert (await followups.sweep(maintenance_reminders=3)).maintenance_reminders == 1
    keys = await followups.pool.fetch(
        "SELECT idempotency_key FROM notifications WHERE template = 'maintenance_due'"
    )
    assert [k["idempotency_key"] for k in keys] == [maintenance_key(third_interval, 3)]
