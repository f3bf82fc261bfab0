"""Alerts that always land: every notice to a clinician is kept in the alert list (`alerts`)
before any channel is tried; its delivery is marked after; a clinician's notice that no channel
delivered fails as the non-retryable `Undelivered` (the history shows the step failed), but for
ops' `alert_undelivered`, the escalation itself. Clients' notices are as they were."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.messages import NotificationRequest
from database.pgtypes import Pool
from domain.notifications import Notice, Recipient, Template
from records.alerts import alert_by_key
from tests.activities.servers import HttpServer, Reply, SmtpServer
from tests.activities.support import (
    CLIENT_ID,
    add_client,
    add_clinician,
    email_channel,
    notification_row,
    notify,
    request_for,
    send,
    sms_channel,
)
from workflows.retries import NOTIFY_RETRY

TH_EMAIL = "kim@clinic.example"


async def _alert(pool: Pool, key: str) -> dict[str, Any]:
    alert = await alert_by_key(pool, key)
    assert alert is not None, f"no alert for {key}"
    return alert.__dict__


async def _alerts_of(pool: Pool, key: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM alerts WHERE idempotency_key = $1", key)
    return count


async def _undelivered(acts: Any, request: NotificationRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await send(acts, request)
    error = raised.value
    assert error.type == "Undelivered" and error.non_retryable
    return error


def test_undelivered_is_final_and_no_contact_details_is_gone() -> None:
    kinds = NOTIFY_RETRY.non_retryable_error_types or []
    assert "Undelivered" in kinds and "NoContactDetails" not in kinds


async def test_a_therapist_notice_is_kept_in_the_alert_list_with_no_channel_at_all(
    db_pool: Pool,
) -> None:
    await add_clinician(db_pool, "th-kim", "therapist", email=TH_EMAIL, phone="+15550100")
    request = request_for(
        Recipient.THERAPIST, Template.SAFETY_HOLD_RAISED, recipient_id="th-kim", urgent=True
    )

    error = await _undelivered(notify(db_pool), request)

    alert = await _alert(db_pool, request.notice.key)
    assert {k: alert[k] for k in ("clinic_id", "journey_id", "client_id")} == {
        "clinic_id": "default",
        "journey_id": f"journey-{CLIENT_ID}",
        "client_id": CLIENT_ID,
    }
    assert (alert["recipient_role"], alert["recipient_id"]) == ("therapist", "th-kim")
    assert (alert["template"], alert["urgent"]) == ("safety_hold_raised", True)
    assert (alert["delivery"], alert["channel"], alert["acknowledged_at"]) == (
        "undelivered",
        None,
        None,
    )
    # The history's words: the template and the role, nothing of the person or the client.
    assert "safety_hold_raised" in error.message and "therapist" in error.message
    for detail in ("th-kim", TH_EMAIL, "+15550100", CLIENT_ID):
        assert detail not in error.message
    row = await notification_row(db_pool, request.notice.key)
    assert row["status"] == "skipped"


@pytest.mark.parametrize(
    ("recipient", "template"),
    [
        (Recipient.THERAPIST, Template.INACTIVE_JOURNEY),
        (Recipient.PRESCRIBER, Template.FOLLOW_UP_DUE),
    ],
)
async def test_a_clinician_without_an_address_is_undelivered_though_channels_exist(
    db_pool: Pool,
    smtp: SmtpServer,
    sms_gateway: HttpServer,
    recipient: Recipient,
    template: Template,
) -> None:
    clinician = f"{recipient.value[:2]}-{uuid.uuid4().hex[:6]}"
    await add_clinician(db_pool, clinician, recipient.value)
    acts = notify(db_pool, email=email_channel(smtp), sms=sms_channel(sms_gateway))
    request = request_for(recipient, template, recipient_id=clinician)

    await _undelivered(acts, request)

    assert smtp.mails == [] and sms_gateway.requests == []
    alert = await _alert(db_pool, request.notice.key)
    assert (alert["recipient_role"], alert["recipient_id"]) == (recipient.value, clinician)
    assert alert["delivery"] == "undelivered"


async def test_an_unknown_clinician_and_a_clinic_without_ops_are_undelivered(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    acts = notify(db_pool, email=email_channel(smtp))
    for request in (
        request_for(Recipient.THERAPIST, Template.INACTIVE_JOURNEY, recipient_id="nobody"),
        request_for(Recipient.OPS, Template.REFERRAL_SLA_BREACHED, recipient_id="default"),
    ):
        await _undelivered(acts, request)
        assert (await _alert(db_pool, request.notice.key))["delivery"] == "undelivered"


async def test_every_address_refused_is_undelivered(db_pool: Pool, smtp: SmtpServer) -> None:
    await add_clinician(db_pool, "th-refused", "therapist", email="gone@clinic.example")
    smtp.handler.refused_addresses["gone@clinic.example"] = "550 5.1.1 No such mailbox"
    request = request_for(Recipient.THERAPIST, Template.BP_HOLD, recipient_id="th-refused")

    await _undelivered(notify(db_pool, email=email_channel(smtp)), request)

    assert (await _alert(db_pool, request.notice.key))["delivery"] == "undelivered"
    assert (await notification_row(db_pool, request.notice.key))["status"] == "rejected"


async def test_a_sent_notice_is_marked_delivered_on_its_channel(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_clinician(db_pool, "th-reached", "therapist", email=TH_EMAIL)
    request = request_for(
        Recipient.THERAPIST, Template.INTEGRATION_OVERDUE, recipient_id="th-reached"
    )

    outcome = await send(notify(db_pool, email=email_channel(smtp)), request)

    assert outcome.sent and outcome.channel == "email"
    assert len(smtp.mails) == 1
    alert = await _alert(db_pool, request.notice.key)
    assert (alert["delivery"], alert["channel"]) == ("delivered", "email")


async def test_ops_reached_by_one_of_two_is_delivered(db_pool: Pool, smtp: SmtpServer) -> None:
    await add_clinician(db_pool, "ops-a", "ops", clinic_id="north", email="a@ops.example")
    await add_clinician(db_pool, "ops-b", "ops", clinic_id="north")  # no address
    request = request_for(Recipient.OPS, Template.REFERRAL_SLA_BREACHED, recipient_id="north")
    request = request.model_copy(update={"journey_id": "journey-north~cl-1", "client_id": "cl-1"})

    assert (await send(notify(db_pool, email=email_channel(smtp)), request)).sent

    alert = await _alert(db_pool, request.notice.key)
    assert (alert["clinic_id"], alert["recipient_role"], alert["recipient_id"]) == (
        "north",
        "ops",
        "north",
    )
    assert (alert["delivery"], alert["channel"]) == ("delivered", "email")


async def test_the_alert_is_recorded_before_any_channel_is_tried(
    db_pool: Pool, sms_gateway: HttpServer
) -> None:
    """While the gateway holds the message, the alert is already in the list, pending; the
    gateway timing out leaves it undelivered (retried: ChannelUnavailable)."""
    await add_clinician(db_pool, "th-wait", "therapist", phone="+15550100")
    sms_gateway.reply(Reply(200, hang=True))
    request = request_for(
        Recipient.THERAPIST, Template.SAFETY_HOLD_RAISED, recipient_id="th-wait", urgent=True
    )
    sending = asyncio.create_task(send(notify(db_pool, sms=sms_channel(sms_gateway, 2)), request))
    for _ in range(200):
        if sms_gateway.requests:
            break
        await asyncio.sleep(0.01)
    assert sms_gateway.requests, "the gateway was never called"

    assert (await _alert(db_pool, request.notice.key))["delivery"] == "pending"

    with pytest.raises(ApplicationError) as raised:
        await sending
    assert raised.value.type == "ChannelUnavailable" and not raised.value.non_retryable
    assert (await _alert(db_pool, request.notice.key))["delivery"] == "undelivered"


async def test_a_retried_notice_is_one_alert_and_ends_delivered(
    db_pool: Pool, sms_gateway: HttpServer
) -> None:
    await add_clinician(db_pool, "th-retry", "therapist", phone="+15550100")
    sms_gateway.reply(Reply(503))
    acts = notify(db_pool, sms=sms_channel(sms_gateway))
    request = request_for(
        Recipient.THERAPIST, Template.SAFETY_HOLD_RAISED, recipient_id="th-retry", urgent=True
    )
    with pytest.raises(ApplicationError):  # the gateway is down: retried
        await send(acts, request)
    first = await _alert(db_pool, request.notice.key)
    assert first["delivery"] == "undelivered"

    assert (await send(acts, request)).sent  # the retry gets through
    assert not (await send(acts, request)).sent  # a retry whose result was lost: nothing more

    assert await _alerts_of(db_pool, request.notice.key) == 1
    last = await _alert(db_pool, request.notice.key)
    assert last["alert_id"] == first["alert_id"] and last["created_at"] == first["created_at"]
    assert (last["delivery"], last["channel"]) == ("delivered", "sms")
    assert len(sms_gateway.requests) == 2


async def test_an_undelivered_notice_run_again_is_one_alert_and_fails_again(
    db_pool: Pool,
) -> None:
    await add_clinician(db_pool, "th-again", "therapist")
    request = request_for(Recipient.THERAPIST, Template.BP_HOLD, recipient_id="th-again")
    acts = notify(db_pool)

    await _undelivered(acts, request)
    await _undelivered(acts, request)  # a worker lost the first result: the same answer

    assert await _alerts_of(db_pool, request.notice.key) == 1
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["attempts"]) == ("skipped", 2)


async def test_the_escalation_to_ops_is_recorded_but_never_undelivered_again(
    db_pool: Pool,
) -> None:
    await add_clinician(db_pool, "ops-quiet", "ops")  # no address, and no channel anyway
    request = request_for(
        Recipient.OPS, Template.ALERT_UNDELIVERED, recipient_id="default", urgent=True
    )

    outcome = await send(notify(db_pool), request)

    assert not outcome.sent
    alert = await _alert(db_pool, request.notice.key)
    assert (alert["recipient_role"], alert["template"], alert["delivery"]) == (
        "ops",
        "alert_undelivered",
        "undelivered",
    )


async def test_a_client_notice_is_skipped_as_before_and_is_no_alert(db_pool: Pool) -> None:
    await add_client(db_pool, email=None, phone=None)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    outcome = await send(notify(db_pool), request)  # no raise

    assert not outcome.sent and outcome.channel is None
    assert (await notification_row(db_pool, request.notice.key))["status"] == "skipped"
    assert await _alerts_of(db_pool, request.notice.key) == 0


async def test_the_alert_takes_the_journeys_clinic(db_pool: Pool) -> None:
    await add_clinician(db_pool, "th-south", "therapist", clinic_id="south")
    notice = Notice(
        key=f"{uuid.uuid4()}:therapist:bp_hold",
        recipient=Recipient.THERAPIST,
        recipient_id="th-south",
        template=Template.BP_HOLD,
        urgent=True,
    )
    request = NotificationRequest(client_id="cl-9", journey_id="journey-south~cl-9", notice=notice)

    await _undelivered(notify(db_pool), request)

    alert = await _alert(db_pool, notice.key)
    assert (alert["clinic_id"], alert["journey_id"], alert["client_id"]) == (
        "south",
        "journey-south~cl-9",
        "cl-9",
    )


async def test_record_alert_keeps_the_alert_without_sending_and_the_send_marks_it(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_clinician(db_pool, "th-kept", "therapist", email=TH_EMAIL)
    acts = notify(db_pool, email=email_channel(smtp))
    request = request_for(
        Recipient.THERAPIST, Template.SURVEY_RISK_FLAGGED, recipient_id="th-kept", urgent=True
    )

    assert await ActivityEnvironment().run(acts.record_alert, request) is True
    assert await ActivityEnvironment().run(acts.record_alert, request) is True  # a retry

    assert smtp.mails == []
    assert (await _alert(db_pool, request.notice.key))["delivery"] == "pending"
    assert (await send(acts, request)).sent
    assert await _alerts_of(db_pool, request.notice.key) == 1
    assert (await _alert(db_pool, request.notice.key))["delivery"] == "delivered"
    client = request_for(Recipient.CLIENT, Template.SURVEY_INVITATION)
    assert await ActivityEnvironment().run(acts.record_alert, client) is False
