"""Staff messages hold no PHI: the journey id, the template, and a link; nothing else."""

from __future__ import annotations

import pytest

from database.pgtypes import Pool
from domain.notifications import CLIENT_TEMPLATES, Recipient, Template
from tests.activities.servers import HttpServer, SmtpServer
from tests.activities.support import (
    CLIENT_EMAIL,
    CLIENT_PHONE,
    FIRST_NAME,
    SURNAME,
    UI,
    add_client,
    add_clinician,
    email_channel,
    notify,
    request_for,
    send,
    sms_channel,
)

STAFF_TEMPLATES = sorted(set(Template) - CLIENT_TEMPLATES)


def _expected(template: Template, journey_id: str, urgent: bool) -> tuple[str, str]:
    title = template.value.replace("_", " ")
    prefix = "URGENT: " if urgent else ""
    link = f"{UI}/namespaces/default/workflows/{journey_id}"
    return f"{prefix}Carepath: {title}", f"{prefix}{title} for journey {journey_id}.\n{link}\n"


def _assert_no_client_details(text: str) -> None:
    for detail in (FIRST_NAME, SURNAME, CLIENT_EMAIL, CLIENT_PHONE, "04 March", "10:05"):
        assert detail not in text, f"a staff message holds {detail!r}"


@pytest.mark.parametrize("template", STAFF_TEMPLATES)
async def test_staff_email_is_the_journey_id_and_the_template_only(
    db_pool: Pool, smtp: SmtpServer, template: Template
) -> None:
    await add_client(db_pool)  # the client's details exist, and must not leak
    await add_clinician(db_pool, "ther-1", "therapist", email="t@clinic.example")
    request = request_for(Recipient.THERAPIST, template, recipient_id="ther-1")

    await send(notify(db_pool, email=email_channel(smtp)), request)

    [mail] = smtp.mails
    subject, body = _expected(template, request.journey_id, urgent=False)
    assert mail.message["Subject"] == subject
    assert mail.body == body
    _assert_no_client_details(mail.text)


async def test_urgent_staff_sms_is_the_journey_id_and_the_template_only(
    db_pool: Pool, sms_gateway: HttpServer
) -> None:
    await add_client(db_pool)
    await add_clinician(db_pool, "presc-1", "prescriber", phone="+15550100002")
    request = request_for(
        Recipient.PRESCRIBER, Template.SAFETY_HOLD_RAISED, recipient_id="presc-1", urgent=True
    )

    await send(notify(db_pool, sms=sms_channel(sms_gateway)), request)

    [posted] = sms_gateway.requests
    _, body = _expected(Template.SAFETY_HOLD_RAISED, request.journey_id, urgent=True)
    assert posted.json() == {"to": "+15550100002", "body": body}
    _assert_no_client_details(posted.body.decode())
