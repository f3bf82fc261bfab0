"""Clients read times in the clinic's time zone; a wrong zone name fails at start, clearly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from activities.notify import Messaging, NotifyActivities
from database.pgtypes import Pool
from domain.notifications import Recipient, Template
from tests.activities.servers import HttpServer
from tests.activities.support import MESSAGING, add_client, request_for, send, sms_channel


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("UTC", "Tuesday 04 March at 10:05 UTC"),
        ("America/Chicago", "Tuesday 04 March at 04:05 CST"),
        ("Europe/London", "Tuesday 04 March at 10:05 GMT"),
        ("Australia/Sydney", "Tuesday 04 March at 21:05 AEDT"),
    ],
)
async def test_an_appointment_reminder_shows_the_clinic_s_local_time(
    db_pool: Pool, sms_gateway: HttpServer, zone: str, shown: str
) -> None:
    await add_client(db_pool)
    messaging = replace(MESSAGING, time_zone=zone)
    acts = NotifyActivities(db_pool, {"sms": sms_channel(sms_gateway)}, messaging)

    await send(acts, request_for(Recipient.CLIENT, Template.APPOINTMENT_REMINDER))

    assert shown in sms_gateway.requests[0].json()["body"]


def test_a_wrong_time_zone_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CAREPATH_SCHEDULE_TIME_ZONE 'Mars/Olympus'"):
        Messaging(clinic_name="c", clinic_callback="1", ui_base_url="u", time_zone="Mars/Olympus")
