"""Contact details sealed at rest: notices still reach the client's real address and number,
opened with the worker's payload keys; legacy plaintext rows still work."""

from __future__ import annotations

import dataclasses
import os

import pytest
from temporalio.exceptions import ApplicationError

from activities.notify import NotifyActivities
from database.pgtypes import Pool
from domain.notifications import Recipient, Template
from privacy.keys import KeyRing
from records.clients import upsert_client
from tests.activities.servers import HttpServer, SmtpServer
from tests.activities.support import (
    CLIENT_EMAIL,
    CLIENT_ID,
    CLIENT_PHONE,
    FIRST_NAME,
    FULL_NAME,
    MESSAGING,
    add_client,
    email_channel,
    request_for,
    send,
    sms_channel,
)

KEYS = KeyRing(keys={"k1": os.urandom(32)}, current="k1")
KEYED = dataclasses.replace(MESSAGING, keys=KEYS)


async def add_sealed_client(pool: Pool) -> None:
    await upsert_client(
        pool,
        CLIENT_ID,
        display_name=FULL_NAME,
        email=CLIENT_EMAIL,
        phone=CLIENT_PHONE,
        keys=KEYS,
    )
    stored = await pool.fetchrow("SELECT * FROM clients WHERE client_id = $1", CLIENT_ID)
    assert stored is not None and stored["sealed_with"] == "k1"
    assert not any(part in str(dict(stored)) for part in (FIRST_NAME, CLIENT_EMAIL, "0100777"))


async def test_email_goes_to_the_opened_address(db_pool: Pool, smtp: SmtpServer) -> None:
    await add_sealed_client(db_pool)
    acts = NotifyActivities(db_pool, {"email": email_channel(smtp)}, KEYED)

    outcome = await send(acts, request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER))

    assert outcome.sent and outcome.channel == "email"
    [mail] = smtp.mails
    assert mail.rcpt_tos == [CLIENT_EMAIL]
    assert mail.body.startswith(f"Hello {FIRST_NAME},")


async def test_sms_goes_to_the_opened_number(db_pool: Pool, sms_gateway: HttpServer) -> None:
    await add_sealed_client(db_pool)
    acts = NotifyActivities(db_pool, {"sms": sms_channel(sms_gateway)}, KEYED)

    outcome = await send(acts, request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER))

    assert outcome.sent and outcome.channel == "sms"
    [posted] = sms_gateway.requests
    assert posted.json()["to"] == CLIENT_PHONE
    assert posted.json()["body"].startswith(f"Hello {FIRST_NAME},")


async def test_legacy_plaintext_details_still_reach_the_client(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_client(db_pool, phone=None)  # written before sealing
    acts = NotifyActivities(db_pool, {"email": email_channel(smtp)}, KEYED)

    outcome = await send(acts, request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER))

    assert outcome.sent
    assert [mail.rcpt_tos for mail in smtp.mails] == [[CLIENT_EMAIL]]


@pytest.mark.parametrize(
    "ring",
    [None, KeyRing(keys={"k2": os.urandom(32)}, current="k2")],  # no keys; k1 retired too soon
    ids=["no-keys", "key-missing"],
)
async def test_details_sealed_with_a_key_this_worker_lacks_wait_for_one_that_has_it(
    db_pool: Pool, smtp: SmtpServer, ring: KeyRing | None
) -> None:
    await add_sealed_client(db_pool)
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)
    lacking = NotifyActivities(
        db_pool, {"email": email_channel(smtp)}, dataclasses.replace(MESSAGING, keys=ring)
    )

    with pytest.raises(ApplicationError) as caught:
        await send(lacking, request)

    assert caught.value.type == "ContactKeyMissing" and not caught.value.non_retryable
    assert smtp.mails == []  # never sent to a guess
    said = f"{caught.value} {caught.value!r}"
    assert FIRST_NAME not in said and CLIENT_EMAIL not in said and "0100777" not in said
    # The retry, on a worker with the key: sent once.
    outcome = await send(NotifyActivities(db_pool, {"email": email_channel(smtp)}, KEYED), request)
    assert outcome.sent and [m.rcpt_tos for m in smtp.mails] == [[CLIENT_EMAIL]]


async def test_altered_details_are_refused_for_good_and_say_nothing_personal(
    db_pool: Pool, smtp: SmtpServer
) -> None:
    await add_sealed_client(db_pool)
    await db_pool.execute(  # the email column now holds the name's ciphertext
        "UPDATE clients SET email = display_name WHERE client_id = $1", CLIENT_ID
    )
    request = request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER)
    acts = NotifyActivities(db_pool, {"email": email_channel(smtp)}, KEYED)

    with pytest.raises(ApplicationError) as caught:
        await send(acts, request)

    assert caught.value.type == "ContactUnreadable" and caught.value.non_retryable
    assert smtp.mails == []
    status = await db_pool.fetchval(
        "SELECT status FROM notifications WHERE idempotency_key = $1", request.notice.key
    )
    assert status == "rejected"  # not left 'sending' for a retry
    said = f"{caught.value} {caught.value!r}"
    assert FIRST_NAME not in said and CLIENT_EMAIL not in said and "0100777" not in said
