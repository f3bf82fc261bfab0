"""Client and staff notices sent by email through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import SmtpChannel, message_id
from database.pgtypes import Pool
from domain.notifications import CLIENT_TEMPLATES, Recipient, Template
from tests.activities.servers import SmtpServer, closed_port
from tests.activities.support import (
    CALLBACK,
    CLIENT_EMAIL,
    CLIENT_ID,
    CLINIC,
    FIRST_NAME,
    add_client,
    assert_fit_for_a_client,
    assert_no_score,
    email_channel,
    notification_row,
    notify,
    request_for,
    send,
)

WITH_A_TIME = {Template.APPOINTMENT_REMINDER, Template.SESSION_CONFIRMATION_REQUEST}


@pytest.mark.parametrize("template", sorted(CLIENT_TEMPLATES))
async def test_client_email_holds_a_first_name_a_time_a_callback_and_nothing_clinical(
    db_pool: Pool, smtp: SmtpServer, template: Template
) -> None:
    await add_client(db_pool, phone=None)
    request = request_for(Recipient.CLIENT, template)

    outcome = await send(notify(db_pool, email=email_channel(smtp)), request)

    assert outcome.sent and outcome.channel == "email"
    [mail] = smtp.mails
    assert mail.rcpt_tos == [CLIENT_EMAIL]
    message = mail.message
    assert message["To"] == CLIENT_EMAIL
    assert message["Subject"] == f"A message from {CLINIC}"
    per_person_key = f"{request.notice.key}:{CLIENT_ID}"
    assert message["Message-ID"] == message_id(per_person_key)
    assert unquote(message["Message-ID"].removeprefix("<").removesuffix("@carepath>")) == (
        per_person_key
    )
    body = mail.body
    assert body.startswith(f"Hello {FIRST_NAME},")
    assert CALLBACK in body and CLINIC in body
    if template in WITH_A_TIME:
        assert "Tuesday 04 March at 10:05 UTC" in body
    assert_fit_for_a_client(mail.text)
    assert_no_score(body)
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["channel"], row["attempts"]) == ("sent", "email", 1)
    assert row["recipient_role"] == "client" and row["template"] == template.value
    # The ledger holds ids and codes only: no name, no address.
    assert not any(
        needle in str(value).lower()
        for value in row.values()
        for needle in ("ana", "example.org", "quintero")
    )


async def test_message_ids_are_valid_and_distinct_for_notices_of_one_event(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    """A session reminder makes two client notices from one event. Their keys differ only
    after the first ':'; the Message-ID used to be cut there (RFC 5322 has no ':' in a
    msg-id), so both went out as `<event-id` and a receiver could drop one as a duplicate."""
    await add_client(db_pool, phone=None)
    acts = notify(db_pool, email=email_channel(smtp))
    event_id = "6f1c0a52-0d7e-4b8e-9a43-2f9a1d3c5b7e"
    for template in (Template.APPOINTMENT_REMINDER, Template.SESSION_CONFIRMATION_REQUEST):
        await send(acts, request_for(Recipient.CLIENT, template, event_id=event_id))

    headers = [mail.message["Message-ID"] for mail in smtp.mails]
    assert len(headers) == 2 and headers[0] != headers[1]
    for mail in smtp.mails:
        header = mail.message["Message-ID"]
        assert header.defects == ()
        assert header.endswith("@carepath>") and event_id in header


async def test_a_blank_display_name_greets_the_client_without_a_name(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_client(db_pool, display_name="   ", phone=None)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    outcome = await send(notify(db_pool, email=email_channel(smtp)), request)

    assert outcome.sent
    assert smtp.mails[0].body.startswith("Hello there,")


async def test_a_notice_without_a_time_names_no_time(db_pool: Pool, smtp: SmtpServer) -> None:
    await add_client(db_pool, phone=None)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER, at=None)

    await send(notify(db_pool, email=email_channel(smtp)), request)

    assert "on your scheduled time." in smtp.mails[0].body


async def test_a_greylisted_recipient_is_retried_then_delivered_once(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    """451 at RCPT is temporary: it used to be taken for a refusal for good (non-retryable),
    so greylisting mail servers silently lost every first message."""
    await add_client(db_pool, phone=None)
    smtp.handler.rcpt_replies.append("451 4.7.1 Greylisted, please try again later")
    acts = notify(db_pool, email=email_channel(smtp))
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(acts, request)
    assert raised.value.type == "ChannelUnavailable" and not raised.value.non_retryable
    assert (await notification_row(db_pool, request.notice.key))["status"] == "sending"

    outcome = await send(acts, request)  # Temporal's retry

    assert outcome.sent
    assert len(smtp.mails) == 1
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["attempts"]) == ("sent", 2)


@pytest.mark.parametrize(
    ("rcpt", "data"),
    [
        pytest.param("550 5.1.1 No such mailbox", None, id="recipient-refused"),
        pytest.param(None, "554 5.7.1 Message refused", id="data-refused"),
    ],
)
async def test_a_permanent_smtp_refusal_is_not_retried(
    db_pool: Pool, smtp: SmtpServer, rcpt: str | None, data: str | None
) -> None:
    await add_client(db_pool, phone=None)
    smtp.handler.rcpt_replies.extend([rcpt] if rcpt else [])
    smtp.handler.data_replies.extend([data] if data else [])
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, email=email_channel(smtp)), request)

    assert raised.value.type == "InvalidMessage" and raised.value.non_retryable
    assert CLIENT_EMAIL not in str(raised.value)  # failures travel to Temporal: no address
    assert smtp.mails == []
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["channel"]) == ("rejected", "email")


async def test_a_temporary_data_failure_is_retryable(db_pool: Pool, smtp: SmtpServer) -> None:
    await add_client(db_pool, phone=None)
    smtp.handler.data_replies.append("452 4.3.1 Insufficient system storage")

    with pytest.raises(ApplicationError) as raised:
        await send(
            notify(db_pool, email=email_channel(smtp)),
            request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER),
        )

    assert raised.value.type == "ChannelUnavailable" and not raised.value.non_retryable


async def test_a_mail_server_that_is_down_is_retryable(db_pool: Pool) -> None:
    await add_client(db_pool, phone=None)
    channel = SmtpChannel("127.0.0.1", closed_port(), "clinic@example.org", timeout=2)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, email=channel), request)

    assert raised.value.type == "ChannelUnavailable" and not raised.value.non_retryable
    assert (await notification_row(db_pool, request.notice.key))["status"] == "sending"


async def test_an_address_with_a_line_break_is_rejected_not_injected(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    """An address smuggling a header must not reach the server; the send is refused for good
    (before, a ValueError escaped and was retried for a day)."""
    await add_client(db_pool, email="ana.q@example.org\r\nBcc: someone@evil.example", phone=None)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, email=email_channel(smtp)), request)

    assert raised.value.type == "InvalidMessage" and raised.value.non_retryable
    assert smtp.mails == []
    assert (await notification_row(db_pool, request.notice.key))["status"] == "rejected"
