"""Who gets a notice, by which channel, and when nothing is sent at all."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import Channel, message_id
from database.pgtypes import Pool
from domain.notifications import Recipient, Template
from records.clients import erase_client
from tests.activities.servers import HttpServer, SmtpServer
from tests.activities.support import (
    CLIENT_EMAIL,
    CLIENT_ID,
    CLIENT_PHONE,
    add_client,
    add_clinician,
    email_channel,
    notification_row,
    notify,
    request_for,
    send,
    sms_channel,
)

THERAPIST_EMAIL = "t.one@clinic.example"
THERAPIST_PHONE = "+15550100001"


# --- clients ---------------------------------------------------------------------------------


async def test_a_client_with_a_phone_gets_an_sms(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool)
    acts = notify(db_pool, email=email_channel(smtp), sms=sms_channel(sms_gateway))

    outcome = await send(acts, request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER))

    assert outcome.channel == "sms"
    assert [r.json()["to"] for r in sms_gateway.requests] == [CLIENT_PHONE]
    assert smtp.mails == []


async def test_a_client_gets_email_when_there_is_no_sms_channel(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_client(db_pool)

    outcome = await send(
        notify(db_pool, email=email_channel(smtp)),
        request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER),
    )

    assert outcome.channel == "email"
    assert [m.rcpt_tos for m in smtp.mails] == [[CLIENT_EMAIL]]


async def test_a_client_without_a_phone_gets_email(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool, phone=None)
    acts = notify(db_pool, email=email_channel(smtp), sms=sms_channel(sms_gateway))

    outcome = await send(acts, request_for(Recipient.CLIENT, Template.INTEGRATION_REMINDER))

    assert outcome.channel == "email"
    assert sms_gateway.requests == []


# --- staff -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Recipient.THERAPIST, Recipient.PRESCRIBER])
async def test_staff_get_email_unless_urgent(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer, role: Recipient
) -> None:
    await add_clinician(db_pool, "clin-1", role.value, email=THERAPIST_EMAIL, phone=THERAPIST_PHONE)
    acts = notify(db_pool, email=email_channel(smtp), sms=sms_channel(sms_gateway))

    outcome = await send(
        acts, request_for(role, Template.FOLLOW_UP_DUE, recipient_id="clin-1", urgent=False)
    )

    assert outcome.channel == "email"
    assert [m.rcpt_tos for m in smtp.mails] == [[THERAPIST_EMAIL]]
    assert sms_gateway.requests == []


async def test_urgent_staff_notices_go_by_sms_to_those_with_a_phone(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_clinician(
        db_pool, "clin-1", "therapist", email=THERAPIST_EMAIL, phone=THERAPIST_PHONE
    )
    await add_clinician(db_pool, "clin-2", "prescriber", email="p.two@clinic.example")
    acts = notify(db_pool, email=email_channel(smtp), sms=sms_channel(sms_gateway))

    by_phone = await send(
        acts,
        request_for(
            Recipient.THERAPIST, Template.SAFETY_HOLD_RAISED, recipient_id="clin-1", urgent=True
        ),
    )
    by_email = await send(
        acts,
        request_for(
            Recipient.PRESCRIBER, Template.SAFETY_HOLD_RAISED, recipient_id="clin-2", urgent=True
        ),
    )

    assert (by_phone.channel, by_email.channel) == ("sms", "email")
    assert [r.json()["to"] for r in sms_gateway.requests] == [THERAPIST_PHONE]
    assert [m.rcpt_tos for m in smtp.mails] == [["p.two@clinic.example"]]


async def test_ops_notices_go_to_every_ops_clinician_of_the_clinic(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_clinician(db_pool, "ops-b", "ops", clinic_id="north", email="b@ops.example")
    await add_clinician(db_pool, "ops-a", "ops", clinic_id="north", email="a@ops.example")
    await add_clinician(db_pool, "ops-x", "ops", clinic_id="south", email="x@ops.example")
    await add_clinician(db_pool, "ther-n", "therapist", clinic_id="north", email="t@n.example")
    await add_clinician(db_pool, "ops-c", "ops", clinic_id="north")  # no contact details
    request = request_for(Recipient.OPS, Template.REFERRAL_SLA_BREACHED, recipient_id="north")

    outcome = await send(notify(db_pool, email=email_channel(smtp)), request)

    assert outcome.sent and outcome.channel == "email"
    received = {m.rcpt_tos[0]: m.message["Message-ID"] for m in smtp.mails}
    assert received == {
        "a@ops.example": message_id(f"{request.notice.key}:ops-a"),
        "b@ops.example": message_id(f"{request.notice.key}:ops-b"),
    }
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["recipient_role"]) == ("sent", "ops")


async def test_one_refused_ops_address_does_not_keep_the_notice_from_the_others(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    """Before, the first refusal ended the activity (non-retryable): ops clinicians after the
    refused one in the list never heard of the breach."""
    for clinician in ("ops-a", "ops-b", "ops-c"):
        await add_clinician(db_pool, clinician, "ops", email=f"{clinician}@ops.example")
    smtp.handler.refused_addresses["ops-a@ops.example"] = "550 5.1.1 No such mailbox"
    request = request_for(Recipient.OPS, Template.REFERRAL_SLA_BREACHED)

    outcome = await send(notify(db_pool, email=email_channel(smtp)), request)

    assert outcome.sent
    assert sorted(m.rcpt_tos[0] for m in smtp.mails) == ["ops-b@ops.example", "ops-c@ops.example"]
    assert (await notification_row(db_pool, request.notice.key))["status"] == "sent"


async def test_an_ops_notice_refused_for_everyone_is_rejected(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_clinician(db_pool, "ops-a", "ops", email="ops-a@ops.example")
    smtp.handler.refused_addresses["ops-a@ops.example"] = "550 5.1.1 No such mailbox"
    request = request_for(Recipient.OPS, Template.REFERRAL_SLA_BREACHED)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, email=email_channel(smtp)), request)

    # A clinician's notice no channel delivered: in the alert list, and Undelivered (final).
    assert raised.value.type == "Undelivered" and raised.value.non_retryable
    assert (await notification_row(db_pool, request.notice.key))["status"] == "rejected"


async def _move_to_the_end(db_pool: Pool, clinician_id: str) -> None:
    """Delete and re-insert the row: it now comes last from a query without ORDER BY."""
    async with db_pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM clinicians WHERE clinician_id = $1 RETURNING *", clinician_id
        )
        assert row is not None
        await conn.execute(
            "INSERT INTO clinicians (clinician_id, role, clinic_id, display_name, email, phone) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            *(row[c] for c in ("clinician_id", "role", "clinic_id", "display_name", "email")),
            row["phone"],
        )
    unordered = await db_pool.fetch("SELECT clinician_id FROM clinicians WHERE role = 'ops'")
    assert unordered[-1]["clinician_id"] == clinician_id


async def test_each_ops_clinician_keeps_the_same_message_id_across_retries(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    """Per-person keys used to be the position in an unordered query result (`key:0`,
    `key:1`). When the rows came back in another order on the retry, one person's message
    carried another's id, and a receiver deduplicating on it dropped a real message."""
    await add_clinician(db_pool, "ops-a", "ops", email="a@ops.example")
    await add_clinician(db_pool, "ops-b", "ops", email="b@ops.example")
    await _move_to_the_end(db_pool, "ops-a")
    # The first attempt reaches one person and is deferred for the other: a retry.
    smtp.handler.rcpt_replies.extend([None, "451 4.3.0 Try again later"])
    acts = notify(db_pool, email=email_channel(smtp))
    request = request_for(Recipient.OPS, Template.INTEGRATION_OVERDUE)

    with pytest.raises(ApplicationError):
        await send(acts, request)
    [reached_first] = smtp.mails
    await _move_to_the_end(db_pool, "ops-a" if reached_first.rcpt_tos[0][0] == "a" else "ops-b")
    assert (await send(acts, request)).sent

    ids: dict[str, set[str]] = {}
    for mail in smtp.mails:
        ids.setdefault(mail.rcpt_tos[0], set()).add(mail.message["Message-ID"])
    assert len(smtp.mails) == 3  # at-least-once: the one reached first got it twice
    assert ids == {
        "a@ops.example": {message_id(f"{request.notice.key}:ops-a")},
        "b@ops.example": {message_id(f"{request.notice.key}:ops-b")},
    }


# --- nothing to send -------------------------------------------------------------------------


async def _assert_skipped(
    db_pool: Pool,
    smtp: SmtpServer,
    sms_gateway: HttpServer,
    recipient: Recipient,
    template: Template,
    recipient_id: str | None = None,
    channels: dict[str, Channel] | None = None,
) -> None:
    if channels is None:
        channels = {"email": email_channel(smtp), "sms": sms_channel(sms_gateway)}
    request = request_for(recipient, template, recipient_id=recipient_id)

    outcome = await send(notify(db_pool, **channels), request)

    assert not outcome.sent and outcome.channel is None
    assert smtp.mails == [] and sms_gateway.requests == []
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["channel"]) == ("skipped", None)
    assert row["finished_at"] is not None


async def test_a_client_without_contact_details_is_skipped(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool, email=None, phone=None)
    await _assert_skipped(
        db_pool, smtp, sms_gateway, Recipient.CLIENT, Template.APPOINTMENT_REMINDER
    )


async def test_an_unknown_client_is_skipped(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await _assert_skipped(
        db_pool, smtp, sms_gateway, Recipient.CLIENT, Template.APPOINTMENT_REMINDER
    )


async def test_an_erased_client_is_skipped(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool)
    await erase_client(db_pool, CLIENT_ID)
    await _assert_skipped(
        db_pool, smtp, sms_gateway, Recipient.CLIENT, Template.SESSION_CONFIRMATION_REQUEST
    )


async def _assert_undelivered(
    db_pool: Pool,
    smtp: SmtpServer,
    sms_gateway: HttpServer,
    recipient: Recipient,
    template: Template,
    recipient_id: str,
) -> None:
    """A clinician's notice with no one to send it to: recorded as skipped, kept in the alert
    list, and failed as Undelivered (tests/activities/test_alerts_notify.py)."""
    channels: dict[str, Channel] = {"email": email_channel(smtp), "sms": sms_channel(sms_gateway)}
    request = request_for(recipient, template, recipient_id=recipient_id)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, **channels), request)

    assert raised.value.type == "Undelivered" and raised.value.non_retryable
    assert smtp.mails == [] and sms_gateway.requests == []
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["channel"]) == ("skipped", None)


async def test_an_unknown_clinician_is_undelivered(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await _assert_undelivered(
        db_pool, smtp, sms_gateway, Recipient.THERAPIST, Template.INACTIVE_JOURNEY, "nobody"
    )


async def test_a_clinic_without_ops_is_undelivered(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_clinician(db_pool, "ops-elsewhere", "ops", clinic_id="south", email="o@x.example")
    await _assert_undelivered(
        db_pool, smtp, sms_gateway, Recipient.OPS, Template.REFERRAL_SLA_BREACHED, "north"
    )


async def test_no_channels_configured_is_skipped(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool)
    await _assert_skipped(
        db_pool,
        smtp,
        sms_gateway,
        Recipient.CLIENT,
        Template.APPOINTMENT_REMINDER,
        channels={},
    )


async def test_a_phone_only_client_is_skipped_without_an_sms_channel(
    db_pool: Pool, smtp: SmtpServer, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool, email=None)
    await _assert_skipped(
        db_pool,
        smtp,
        sms_gateway,
        Recipient.CLIENT,
        Template.APPOINTMENT_REMINDER,
        channels={"email": email_channel(smtp)},
    )
