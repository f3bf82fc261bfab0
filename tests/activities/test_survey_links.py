"""A check-in's invitation and reminders carry the client's survey link, and only those."""

from __future__ import annotations

import os
import re
from dataclasses import replace

import pytest

from activities.messages import NotificationRequest
from activities.notify import NotifyActivities
from database.pgtypes import Pool
from domain.notifications import Recipient, Template
from privacy.keys import KeyRing
from privacy.links import check_in_of
from tests.activities.servers import HttpServer
from tests.activities.support import MESSAGING, add_client, request_for, send, sms_channel

CHECK_IN = "followup-j-7f3a-week-2"
BASE = "https://care.example.org/api"
KEYS = KeyRing(keys={"k1": os.urandom(32)}, current="k1")


def with_survey(template: Template, survey: str | None = CHECK_IN) -> NotificationRequest:
    request = request_for(Recipient.CLIENT, template)
    notice = request.notice.model_copy(update={"survey": survey})
    return request.model_copy(update={"notice": notice})


@pytest.mark.parametrize("template", [Template.SURVEY_INVITATION, Template.SURVEY_REMINDER])
async def test_survey_messages_carry_a_link_that_opens_the_check_in(
    db_pool: Pool, sms_gateway: HttpServer, template: Template
) -> None:
    await add_client(db_pool)
    messaging = replace(MESSAGING, survey_base_url=BASE, keys=KEYS)
    acts = NotifyActivities(db_pool, {"sms": sms_channel(sms_gateway)}, messaging)

    await send(acts, with_survey(template))

    body = sms_gateway.requests[0].json()["body"]
    found = re.search(rf"Answer here: {re.escape(BASE)}/s/(\S+)$", body)
    assert found is not None, body
    assert check_in_of(KEYS, found.group(1)) == CHECK_IN


async def test_without_keys_there_is_no_link(db_pool: Pool, sms_gateway: HttpServer) -> None:
    await add_client(db_pool)
    messaging = replace(MESSAGING, survey_base_url=BASE, keys=None)
    acts = NotifyActivities(db_pool, {"sms": sms_channel(sms_gateway)}, messaging)

    await send(acts, with_survey(Template.SURVEY_INVITATION))

    assert "Answer here" not in sms_gateway.requests[0].json()["body"]


async def test_other_messages_never_carry_one(db_pool: Pool, sms_gateway: HttpServer) -> None:
    await add_client(db_pool)
    messaging = replace(MESSAGING, survey_base_url=BASE, keys=KEYS)
    acts = NotifyActivities(db_pool, {"sms": sms_channel(sms_gateway)}, messaging)

    await send(acts, with_survey(Template.APPOINTMENT_REMINDER))

    assert "Answer here" not in sms_gateway.requests[0].json()["body"]


async def test_when_no_link_can_be_made_the_message_still_goes_out(
    db_pool: Pool, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool)
    messaging = replace(MESSAGING, survey_base_url=BASE, keys=KEYS)
    acts = NotifyActivities(db_pool, {"sms": sms_channel(sms_gateway)}, messaging)

    outcome = await send(acts, with_survey(Template.SURVEY_INVITATION, "not a check-in id"))

    assert outcome.sent
    assert "Answer here" not in sms_gateway.requests[0].json()["body"]
