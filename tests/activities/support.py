"""Helpers for the activity tests: shared test data, activity runners, database rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities.channels import Channel, SmsGatewayChannel, SmtpChannel
from activities.messages import NotificationOutcome, NotificationRequest
from activities.notify import Messaging, NotifyActivities
from database.pgtypes import Pool
from domain.notifications import Notice, Recipient, Template
from records.clients import upsert_client
from tests.activities.servers import HttpServer, SmtpServer

CLIENT_ID = "client-7f3a"
FIRST_NAME = "Ana"
SURNAME = "Quintero-Blackwood"
FULL_NAME = f"{FIRST_NAME} {SURNAME}"
CLIENT_EMAIL = "ana.q@example.org"
CLIENT_PHONE = "+15550100777"
CLINIC = "Riverside Wellness"
CALLBACK = "+1-555-0142"
UI = "https://temporal.example.org"
SMS_TOKEN = "gw-token-123"
APPOINTMENT = datetime(2031, 3, 4, 10, 5, tzinfo=UTC)  # a Tuesday
MESSAGING = Messaging(clinic_name=CLINIC, clinic_callback=CALLBACK, ui_base_url=UI)


def email_channel(smtp: SmtpServer) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", smtp.port, "clinic@example.org", timeout=5)


def sms_channel(gateway: HttpServer, timeout: float = 5) -> SmsGatewayChannel:
    return SmsGatewayChannel(gateway.url("/messages"), SMS_TOKEN, timeout=timeout)


def notify(pool: Pool, **channels: Channel) -> NotifyActivities:
    return NotifyActivities(pool, dict(channels), MESSAGING)


async def send(acts: NotifyActivities, request: NotificationRequest) -> NotificationOutcome:
    """Run the activity as a worker would, in an activity context."""
    return await ActivityEnvironment().run(acts.send_notification, request)


def request_for(
    recipient: Recipient,
    template: Template,
    *,
    recipient_id: str | None = None,
    urgent: bool = False,
    at: datetime | None = APPOINTMENT,
    event_id: str | None = None,
) -> NotificationRequest:
    """A request shaped as the workflow makes it: key `<event id>:<role>:<template>`."""
    event_id = event_id or str(uuid.uuid4())
    if recipient_id is None:
        recipient_id = CLIENT_ID if recipient is Recipient.CLIENT else "default"
    notice = Notice(
        key=f"{event_id}:{recipient.value}:{template.value}",
        recipient=recipient,
        recipient_id=recipient_id,
        template=template,
        urgent=urgent,
        at=at,
    )
    return NotificationRequest(
        client_id=CLIENT_ID, journey_id=f"journey-{CLIENT_ID}", notice=notice
    )


async def add_client(
    pool: Pool,
    *,
    display_name: str | None = FULL_NAME,
    email: str | None = CLIENT_EMAIL,
    phone: str | None = CLIENT_PHONE,
) -> None:
    await upsert_client(
        pool, CLIENT_ID, display_name=display_name, email=email, phone=phone, keys=None
    )


async def add_clinician(
    pool: Pool,
    clinician_id: str,
    role: str,
    *,
    clinic_id: str = "default",
    email: str | None = None,
    phone: str | None = None,
    display_name: str | None = "Dr Kim Example",
) -> None:
    await pool.execute(
        "INSERT INTO clinicians (clinician_id, role, clinic_id, display_name, email, phone) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        clinician_id,
        role,
        clinic_id,
        display_name,
        email,
        phone,
    )


async def notification_row(pool: Pool, key: str) -> dict[str, object]:
    row = await pool.fetchrow("SELECT * FROM notifications WHERE idempotency_key = $1", key)
    assert row is not None, f"no notifications row for {key}"
    return dict(row)


# Words a client message must never hold: the drug, clinical status, and more of the name
# than the first name.
FORBIDDEN_FOR_CLIENTS = ("ketamine", "dose", "safety", "hold", "phq", "suicid", "score")


def assert_fit_for_a_client(text: str) -> None:
    lowered = text.lower()
    for word in (*FORBIDDEN_FOR_CLIENTS, SURNAME.lower(), FULL_NAME.lower(), "quintero"):
        assert word not in lowered, f"a client message holds {word!r}"


def assert_no_score(body: str) -> None:
    """The only numbers in a client's message are the appointment time and the callback."""
    rest = body.replace(CALLBACK, "").replace("04 March", "").replace("10:05", "")
    assert not any(ch.isdigit() for ch in rest), f"a number in a client message: {body!r}"
