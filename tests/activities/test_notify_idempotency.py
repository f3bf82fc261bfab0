"""A retried notification activity: the key in `notifications` keeps it to one message."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import message_id
from database.pgtypes import Pool
from domain.notifications import Recipient, Template
from tests.activities.servers import HttpServer, Reply, SmtpServer
from tests.activities.support import (
    CLIENT_ID,
    add_client,
    email_channel,
    notification_row,
    notify,
    request_for,
    send,
    sms_channel,
)


async def test_a_notice_sent_twice_sends_one_message(
    db_pool: Pool, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool)
    acts = notify(db_pool, sms=sms_channel(sms_gateway))
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    first = await send(acts, request)
    second = await send(acts, request)  # a retry after the first result was lost

    assert first.sent and first.channel == "sms"
    assert not second.sent and second.channel is None
    assert len(sms_gateway.requests) == 1
    rows = await db_pool.fetch(
        "SELECT status, attempts FROM notifications WHERE idempotency_key = $1",
        request.notice.key,
    )
    assert [tuple(row) for row in rows] == [("sent", 2)]


async def test_a_skipped_notice_sent_again_stays_skipped(db_pool: Pool, smtp: SmtpServer) -> None:
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)
    acts = notify(db_pool, email=email_channel(smtp))

    assert not (await send(acts, request)).sent  # no such client yet
    await add_client(db_pool, phone=None)
    assert not (await send(acts, request)).sent

    assert smtp.mails == []
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["attempts"]) == ("skipped", 2)


async def test_a_row_left_sending_by_a_crash_is_sent_again_at_least_once(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    """At-least-once edge: a worker that crashed after claiming the key (status `sending`)
    may or may not have handed the message over. The retry sends it (never lose a reminder);
    the per-person Message-ID is the same as the first try's, so a receiver can drop the
    duplicate if the first one did get through."""
    await add_client(db_pool, phone=None)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)
    await db_pool.execute(
        "INSERT INTO notifications (idempotency_key, journey_id, template, recipient_role, "
        "status) VALUES ($1, $2, $3, 'client', 'sending')",
        request.notice.key,
        request.journey_id,
        request.notice.template.value,
    )

    outcome = await send(notify(db_pool, email=email_channel(smtp)), request)

    assert outcome.sent
    [mail] = smtp.mails
    assert mail.message["Message-ID"] == message_id(f"{request.notice.key}:{CLIENT_ID}")
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["attempts"]) == ("sent", 2)


async def test_a_send_that_timed_out_is_repeated_with_the_same_idempotency_key(
    db_pool: Pool, sms_gateway: HttpServer
) -> None:
    """At-least-once edge, for real: the gateway got the first request but did not answer in
    time. The retry sends again; the gateway sees the same Idempotency-Key and body both times
    and can dedup."""
    await add_client(db_pool)
    sms_gateway.reply(Reply(200, hang=True))
    acts = notify(db_pool, sms=sms_channel(sms_gateway, timeout=0.3))
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(acts, request)
    assert not raised.value.non_retryable
    assert (await send(acts, request)).sent

    first, second = sms_gateway.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["attempts"]) == ("sent", 2)
