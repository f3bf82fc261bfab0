"""Sending notices. Every message has an idempotency key recorded in PostgreSQL before it is
sent, so a retried activity never sends a message twice that was recorded as sent.

Every notice to a clinician (therapist, prescriber, ops) is first kept in the clinician's alert
list (`records/alerts.py`), before any channel is tried, and its delivery is marked after. When
no channel reached anyone for it (no channel configured, no address, every address refused) the
activity fails with the non-retryable `Undelivered`, so that the Temporal history shows the step
failed and the workflow can escalate it to ops (`Template.ALERT_UNDELIVERED`, which is recorded
too but never raises `Undelivered` itself). A client's notice without contact details is skipped,
as before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import Channel, ChannelError, RejectedMessage, channel_for
from activities.messages import NotificationOutcome, NotificationRequest
from activities.templates import render
from domain.ids import clinic_of_workflow
from domain.notifications import Notice, Recipient, Template
from privacy.fields import SealedFieldError, UnknownFieldKeyError
from privacy.keys import KeyRing
from privacy.links import TOKEN_PATTERN, survey_token
from records import alerts
from records.clients import get_client

CLAIM = """
INSERT INTO notifications (idempotency_key, journey_id, template, recipient_role, status)
VALUES ($1, $2, $3, $4, 'sending')
ON CONFLICT (idempotency_key) DO UPDATE SET attempts = notifications.attempts + 1
RETURNING status
"""
FINISH = (
    "UPDATE notifications SET status = $2, channel = $3, finished_at = now() "
    "WHERE idempotency_key = $1"
)
CLINICIAN = "SELECT clinician_id, email, phone, clinic_id FROM clinicians WHERE clinician_id = $1"
OPS = (
    "SELECT clinician_id, email, phone FROM clinicians WHERE role = 'ops' AND clinic_id = $1 "
    "ORDER BY clinician_id"
)
_ALERT_ROLES: dict[Recipient, alerts.RecipientRole] = {
    Recipient.THERAPIST: "therapist",
    Recipient.PRESCRIBER: "prescriber",
    Recipient.OPS: "ops",
}
UNDELIVERED = "Undelivered"  # the error type of a clinician's notice no channel delivered


def is_alert(notice: Notice) -> bool:
    """Whether a notice is kept in the alert list: every notice to a clinician."""
    return notice.recipient is not Recipient.CLIENT


def escalates(notice: Notice) -> bool:
    """Whether a notice that no channel delivered fails as `Undelivered`: every clinician's
    notice but ops' `alert_undelivered`, which is the escalation itself."""
    if not is_alert(notice):
        return False
    return not (notice.recipient is Recipient.OPS and notice.template is Template.ALERT_UNDELIVERED)


def undelivered(notice: Notice) -> ApplicationError:
    """The failure the history shows: the template and the recipient's role, no PHI."""
    return ApplicationError(
        f"no channel delivered {notice.template.value} to the {notice.recipient.value}: "
        "it is in their alert list in Carepath",
        type=UNDELIVERED,
        non_retryable=True,
    )


@dataclass(frozen=True)
class Contact:
    ref: str  # the person's opaque id: each one's message key is `<notice key>:<ref>`
    first_name: str | None
    email: str | None
    phone: str | None


def _first_name(display_name: str | None) -> str | None:
    words = display_name.split() if display_name else []
    return words[0] if words else None  # a blank name is no name (not an IndexError)


@dataclass(frozen=True)
class Messaging:
    """What the activities need from settings."""

    clinic_name: str
    clinic_callback: str
    ui_base_url: str
    survey_base_url: str | None = None  # where clients answer check-ins (the API)
    keys: KeyRing | None = None  # signs survey links; without keys, no links
    time_zone: str = "UTC"  # the clinic's: times in clients' messages are shown in it

    def __post_init__(self) -> None:
        zone_of(self.time_zone)  # a wrong name fails when the worker starts, not at a send

    def survey_link(self, notice: Notice) -> str | None:
        if notice.survey is None or self.keys is None or self.survey_base_url is None:
            return None
        try:
            token = survey_token(self.keys, notice.survey)
        except ValueError:
            token = ""
        if re.fullmatch(TOKEN_PATTERN, token) is None:
            # The message still goes out, without a link: the client can call the clinic.
            activity.logger.warning("no survey link", extra={"template": notice.template.value})
            return None
        return f"{self.survey_base_url.rstrip('/')}/s/{token}"  # the page: api/survey_page.py


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"CAREPATH_SCHEDULE_TIME_ZONE {name!r} is not an IANA time zone name "
            "(for example Europe/London or America/Chicago)"
        ) from None


class NotifyActivities:
    def __init__(
        self, pool: asyncpg.Pool, channels: dict[str, Channel], messaging: Messaging
    ) -> None:
        self._pool = pool
        self._channels = channels
        self._messaging = messaging

    async def _contacts(self, request: NotificationRequest) -> list[Contact]:
        notice = request.notice
        if notice.recipient is Recipient.CLIENT:
            # Client ids are per clinic: the journey's workflow id names its clinic.
            clinic = clinic_of_workflow(request.journey_id)
            if clinic is None:
                activity.logger.warning(
                    "no clinic for a client notice: nothing sent",
                    extra={"template": notice.template.value},
                )
                return []
            try:
                client = await get_client(
                    self._pool, request.client_id, keys=self._messaging.keys, clinic_id=clinic
                )
            except UnknownFieldKeyError as error:
                # Sealed with a key this worker lacks (a host missed a rotation step): another
                # worker, or this one restarted on the right keys, can still send it.
                activity.logger.error(
                    "client contact details sealed with a key this worker lacks",
                    extra={"template": notice.template.value, "reason": str(error)},
                )
                raise ApplicationError(str(error), type="ContactKeyMissing") from None
            except SealedFieldError as error:
                # Altered: nothing is sent to a guess, and no retry can help. Recorded as
                # refused, and said loudly, without a detail of the client.
                await self._pool.execute(FINISH, notice.key, "rejected", None)
                activity.logger.error(
                    "client contact details do not open: altered",
                    extra={"template": notice.template.value, "reason": str(error)},
                )
                raise ApplicationError(
                    str(error), type="ContactUnreadable", non_retryable=True
                ) from None
            if client is None or client.erased:
                return []
            name = _first_name(client.display_name)
            return [Contact(request.client_id, name, client.email, client.phone)]
        query = OPS if notice.recipient is Recipient.OPS else CLINICIAN
        rows = await self._pool.fetch(query, notice.recipient_id)
        return [Contact(row["clinician_id"], None, row["email"], row["phone"]) for row in rows]

    async def _alert_of(self, request: NotificationRequest) -> alerts.NewAlert | None:
        """The alert a clinician's notice is kept as. Its clinic is the journey's (from its
        workflow id); for a workflow id that names none, the ops notice's clinic or the
        clinician's. None when no clinic is known (an unknown clinician of no journey)."""
        notice = request.notice
        clinic = clinic_of_workflow(request.journey_id)
        if clinic is None and notice.recipient is Recipient.OPS:
            clinic = notice.recipient_id
        if clinic is None:
            row = await self._pool.fetchrow(CLINICIAN, notice.recipient_id)
            clinic = row["clinic_id"] if row is not None else None
        if clinic is None:
            return None
        return alerts.NewAlert(
            key=notice.key,
            clinic_id=clinic,
            journey_id=request.journey_id,
            client_id=request.client_id,
            recipient_role=_ALERT_ROLES[notice.recipient],
            recipient_id=notice.recipient_id,
            template=notice.template.value,
            urgent=notice.urgent,
        )

    async def _record(self, request: NotificationRequest) -> bool:
        alert = await self._alert_of(request)
        if alert is None:
            activity.logger.error(
                "an alert names no clinic: not in any alert list",
                extra={"template": request.notice.template.value},
            )
            return False
        await alerts.record_alert(self._pool, alert)
        return True

    @activity.defn(name="record_alert")
    async def record_alert(self, request: NotificationRequest) -> bool:
        """Keep a clinician's notice in their alert list now, without sending it (the survey's
        answer waits for this before telling the client the care team knows). Idempotent on
        the notice's key; `send_notification` with the same notice sends it and marks how it
        went. False for a client's notice, or an alert that names no clinic."""
        if not is_alert(request.notice):
            return False
        return await self._record(request)

    @activity.defn(name="send_notification")
    async def send_notification(self, request: NotificationRequest) -> NotificationOutcome:
        notice = request.notice
        key = notice.key
        alert = is_alert(notice)
        # In the alert list before any channel is tried: no alert depends on email or SMS.
        if alert:
            await self._record(request)
        status = await self._pool.fetchval(
            CLAIM, key, request.journey_id, notice.template.value, notice.recipient.value
        )
        if status in ("sent", "skipped"):
            return await self._finished_before(request, status)
        contacts = await self._contacts(request)
        # Several contacts (ops): a retry after an outage re-sends to those already reached, with
        # the same per-person key so that receivers can drop the duplicate (at-least-once).
        channel_name: str | None = None
        rejection: tuple[str, str] | None = None  # (channel, why) of a refused send
        for contact in contacts:
            route = channel_for(
                self._channels,
                email=contact.email,
                phone=contact.phone,
                recipient=notice.recipient,
                urgent=notice.urgent,
            )
            if route is None:
                continue
            channel, address = route
            subject, body = render(
                notice,
                first_name=contact.first_name,
                journey_id=request.journey_id,
                clinic=self._messaging.clinic_name,
                callback=self._messaging.clinic_callback,
                ui_base_url=self._messaging.ui_base_url,
                survey_link=self._messaging.survey_link(notice),
                time_zone=zone_of(self._messaging.time_zone),
            )
            try:
                await channel.send(address, subject, body, f"{key}:{contact.ref}")
            except RejectedMessage as error:
                # One bad address must not keep the message from the other recipients.
                rejection = (channel.name, str(error))
                continue
            except ChannelError as error:
                # Retried; meanwhile the alert list says whether anyone has it yet.
                if alert:
                    await self._mark(key, channel_name)
                raise ApplicationError(str(error), type="ChannelUnavailable") from None
            channel_name = channel.name
        if channel_name is None and rejection is not None:
            await self._pool.execute(FINISH, key, "rejected", rejection[0])
            if alert:
                await self._mark(key, None)
            if escalates(notice):
                raise undelivered(notice)
            raise ApplicationError(rejection[1], type="InvalidMessage", non_retryable=True)
        if rejection is not None:
            activity.logger.warning(
                "notice refused for some recipients", extra={"template": notice.template.value}
            )
        final = "sent" if channel_name else "skipped"  # skipped: no contact or no channel
        await self._pool.execute(FINISH, key, final, channel_name)
        if alert:
            await self._mark(key, channel_name)
        log = activity.logger.warning if alert and channel_name is None else activity.logger.info
        log("notice %s", final, extra={"template": notice.template.value, "channel": channel_name})
        if channel_name is None and escalates(notice):
            raise undelivered(notice)
        return NotificationOutcome(sent=channel_name is not None, channel=channel_name)

    async def _finished_before(
        self, request: NotificationRequest, status: str
    ) -> NotificationOutcome:
        """A notice whose key was finished before (a retry whose first result was lost): nothing
        is sent again; a clinician's that no channel delivered fails again as it did."""
        notice = request.notice
        if is_alert(notice):
            reached = status == "sent"
            await self._mark(notice.key, None, reached=reached)
            if not reached and escalates(notice):
                raise undelivered(notice)
        return NotificationOutcome(sent=False)

    async def _mark(self, key: str, channel: str | None, *, reached: bool | None = None) -> None:
        """The alert's delivery: delivered when a channel reached someone, else undelivered."""
        delivered = channel is not None if reached is None else reached
        delivery: alerts.Delivery = "delivered" if delivered else "undelivered"
        await alerts.mark_delivery(self._pool, key, delivery, channel)
