"""Notices sent through a real (local) HTTP SMS gateway."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import SmsGatewayChannel
from database.pgtypes import Pool
from domain.notifications import CLIENT_TEMPLATES, Recipient, Template
from tests.activities.servers import HttpServer, Reply, closed_port
from tests.activities.support import (
    CALLBACK,
    CLIENT_ID,
    CLIENT_PHONE,
    FIRST_NAME,
    SMS_TOKEN,
    add_client,
    assert_fit_for_a_client,
    assert_no_score,
    notification_row,
    notify,
    request_for,
    send,
    sms_channel,
)


@pytest.mark.parametrize("template", sorted(CLIENT_TEMPLATES))
async def test_client_sms_posts_to_and_body_with_the_key_and_the_token(
    db_pool: Pool, sms_gateway: HttpServer, template: Template
) -> None:
    await add_client(db_pool)
    request = request_for(Recipient.CLIENT, template)

    outcome = await send(notify(db_pool, sms=sms_channel(sms_gateway)), request)

    assert outcome.sent and outcome.channel == "sms"
    [posted] = sms_gateway.requests
    assert (posted.method, posted.path) == ("POST", "/messages")
    assert posted.headers["content-type"] == "application/json"
    assert posted.headers["idempotency-key"] == f"{request.notice.key}:{CLIENT_ID}"
    assert posted.headers["authorization"] == f"Bearer {SMS_TOKEN}"
    payload = posted.json()
    assert set(payload) == {"to", "body"}
    assert payload["to"] == CLIENT_PHONE
    body = payload["body"]
    assert body.startswith(f"Hello {FIRST_NAME},") and CALLBACK in body
    if template is not Template.INTEGRATION_REMINDER:
        assert "Tuesday 04 March at 10:05 UTC" in body
    assert_fit_for_a_client(posted.body.decode())
    assert_no_score(body)
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["channel"]) == ("sent", "sms")


async def test_no_token_sends_no_authorization(db_pool: Pool, sms_gateway: HttpServer) -> None:
    await add_client(db_pool)
    channel = SmsGatewayChannel(sms_gateway.url("/messages"), None)

    await send(
        notify(db_pool, sms=channel), request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)
    )

    [posted] = sms_gateway.requests
    assert "authorization" not in posted.headers


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(500), id="500"),
        pytest.param(Reply(503), id="503"),
        pytest.param(Reply(429, headers={"Retry-After": "1"}), id="429"),
        pytest.param(Reply(408), id="408"),
        # A redirect is not a send: it used to be recorded as sent, and the message was lost.
        pytest.param(Reply(302, headers={"Location": "http://elsewhere.invalid/"}), id="302"),
    ],
)
async def test_a_gateway_failure_is_retryable_and_not_recorded_as_sent(
    db_pool: Pool, sms_gateway: HttpServer, reply: Reply
) -> None:
    await add_client(db_pool)
    sms_gateway.reply(reply)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, sms=sms_channel(sms_gateway)), request)

    assert raised.value.type == "ChannelUnavailable"
    assert raised.value.non_retryable is False
    assert (await notification_row(db_pool, request.notice.key))["status"] == "sending"


@pytest.mark.parametrize("status", [400, 422])
async def test_a_refused_message_is_not_retried_and_recorded_rejected(
    db_pool: Pool, sms_gateway: HttpServer, status: int
) -> None:
    await add_client(db_pool)
    sms_gateway.reply(Reply.json(status, {"error": "invalid number"}))
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)

    with pytest.raises(ApplicationError) as raised:
        await send(notify(db_pool, sms=sms_channel(sms_gateway)), request)

    assert raised.value.type == "InvalidMessage"
    assert raised.value.non_retryable is True
    assert CLIENT_PHONE not in str(raised.value)
    row = await notification_row(db_pool, request.notice.key)
    assert (row["status"], row["channel"]) == ("rejected", "sms")


async def test_a_gateway_that_is_down_is_retryable(db_pool: Pool) -> None:
    await add_client(db_pool)
    channel = SmsGatewayChannel(f"http://127.0.0.1:{closed_port()}/messages", SMS_TOKEN)

    with pytest.raises(ApplicationError) as raised:
        await send(
            notify(db_pool, sms=channel),
            request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER),
        )

    assert raised.value.type == "ChannelUnavailable" and not raised.value.non_retryable
