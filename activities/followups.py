"""After a course that gave a dose (closed `completed`, or `discharged` early: the caseload read
model's `finished_courses`): what is due, starting the outcome check-ins, recording their
outcomes; and each clinician's daily digest.

Opaque ids, instrument codes and scores (the clinical record) only: never a name, a contact
detail or a note, in the database, the logs or a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.channels import Channel, ChannelError, RejectedMessage, channel_for
from activities.notify import CLAIM, CLINICIAN, FINISH, OPS, Messaging
from domain import is_overdue
from domain.followups import (
    FOLLOW_UP_INSTRUMENTS,
    MAINTENANCE_REMINDERS,
    check_ins_due,
    maintenance_due,
)
from domain.ids import check_in_workflow_id, journey_workflow_id
from domain.notifications import Recipient, Template
from domain.vocabulary import Instrument, Status
from projections.caseload_queries import finished_courses, open_journeys

CHECK_IN_WORKFLOW = "FollowUpCheckIn"  # the workflow type the sweep starts


def maintenance_key(journey_id: str, number: int) -> str:
    """The idempotency key of a journey's `number`-th maintenance reminder (one per interval)."""
    recipient, template = Recipient.THERAPIST.value, Template.MAINTENANCE_DUE.value
    return f"maintenance:{journey_id}:{number}:{recipient}:{template}"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CompletedJourney(_Message):
    """A journey whose course is over and is followed up: closed `completed`, or `discharged`
    after a dose (the name is kept: it is in running check-ins' inputs)."""

    journey_id: str
    client_id: str
    therapist_id: str
    clinic_id: str


class CheckInInput(_Message):
    """The input of one check-in workflow (`followup-<journey id>-<check-in>`)."""

    journey: CompletedJourney
    check_in: str  # "week-2"
    due_at: AwareDatetime
    instruments: tuple[Instrument, ...] = FOLLOW_UP_INSTRUMENTS
    reminders: int = Field(default=3, ge=0, le=10)  # one a day while answers are outstanding
    reminder_every: timedelta = timedelta(days=1)


class MaintenanceDue(_Message):
    journey: CompletedJourney
    number: int  # the how-many-th interval since the course ended
    due_at: AwareDatetime


class SweepRequest(_Message):
    as_of: AwareDatetime
    grace: timedelta
    limit: int
    maintenance_reminders: int = Field(default=MAINTENANCE_REMINDERS, ge=0, le=100)  # per course


class DueFollowUps(_Message):
    check_ins: list[CheckInInput]  # due and not started (no row in follow_up_check_ins)
    maintenance: list[MaintenanceDue]  # due and not reminded (no row in notifications)


class StartCheckIns(_Message):
    check_ins: list[CheckInInput]


class StartedCheckIns(_Message):
    running: list[str]  # workflow ids started now, or found running (not started twice)
    finished: list[str]  # ran to their end before: refused, never run twice


class CheckInRecord(_Message):
    journey_id: str
    check_in: str
    instrument: Instrument
    status: Literal["sent", "answered", "missed"]
    total: int | None = None
    band: str | None = None
    risk: bool | None = None
    recorded_at: AwareDatetime


class DigestRequest(_Message):
    as_of: AwareDatetime
    time_zone: str = "UTC"  # names the digest's day


class DigestOutcome(_Message):
    digests: int  # clinicians (or clinics, for ops) with something to report
    sent: int  # of them, reached on a channel


_STARTED = (
    "SELECT DISTINCT journey_id, check_in FROM follow_up_check_ins "
    "WHERE journey_id = ANY($1::text[])"
)
# A reminder claimed but never finished ('sending': its sweep gave up) is tried again.
_REMINDED = (
    "SELECT idempotency_key FROM notifications "
    "WHERE idempotency_key = ANY($1::text[]) AND status <> 'sending'"
)
_RECORD = """
INSERT INTO follow_up_check_ins AS f
       (journey_id, check_in, instrument, status, total, band, risk, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (journey_id, check_in, instrument) DO UPDATE
   SET status = EXCLUDED.status, total = EXCLUDED.total, band = EXCLUDED.band,
       risk = EXCLUDED.risk, recorded_at = EXCLUDED.recorded_at
 WHERE f.status = 'sent' AND EXCLUDED.status <> 'sent'
"""


@dataclass
class _Digest:
    holds: list[str] = field(default_factory=list)  # journey workflow ids
    overdue: list[str] = field(default_factory=list)


def render_digest(day: str, digest: _Digest, link: str) -> tuple[str, str]:
    """(subject, body): counts, journey workflow ids and links; nothing else."""
    lines = [
        f"Daily digest {day}: {len(digest.holds)} on safety hold, {len(digest.overdue)} overdue.",
    ]
    for title, ids in (("Safety holds", digest.holds), ("Overdue", digest.overdue)):
        if ids:
            lines += ["", f"{title}:"]
            lines += [f"- {workflow_id} {link}/{workflow_id}" for workflow_id in ids]
    return f"Carepath: daily digest {day}", "\n".join(lines) + "\n"


class FollowUpActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: dict[str, Channel],
        messaging: Messaging,
        *,
        namespace: str = "default",
    ) -> None:
        self._pool = pool
        self._channels = channels
        self._messaging = messaging
        self._namespace = namespace

    # --- the sweep ------------------------------------------------------------------

    @activity.defn(name="find_due_follow_ups")
    async def find_due_follow_ups(self, request: SweepRequest) -> DueFollowUps:
        check_ins: list[CheckInInput] = []
        maintenance: list[MaintenanceDue] = []
        for course in await finished_courses(self._pool):
            journey = CompletedJourney(
                journey_id=course.journey_id,
                client_id=course.client_id,
                therapist_id=course.therapist_id,
                clinic_id=course.clinic_id,
            )
            ended_at = course.closed_at
            weeks = course.follow_up_check_in_weeks
            for label, at in check_ins_due(ended_at, weeks, request.as_of, request.grace):
                check_ins.append(CheckInInput(journey=journey, check_in=label, due_at=at))
            interval = course.maintenance_interval_days
            due = maintenance_due(ended_at, interval, request.as_of, request.maintenance_reminders)
            if due is not None:
                maintenance.append(MaintenanceDue(journey=journey, number=due[0], due_at=due[1]))
        started = {
            (r["journey_id"], r["check_in"])
            for r in await self._pool.fetch(_STARTED, [c.journey.journey_id for c in check_ins])
        }
        check_ins = [c for c in check_ins if (c.journey.journey_id, c.check_in) not in started]
        keys = [maintenance_key(m.journey.journey_id, m.number) for m in maintenance]
        reminded = {r["idempotency_key"] for r in await self._pool.fetch(_REMINDED, keys)}
        maintenance = [
            m
            for m in maintenance
            if maintenance_key(m.journey.journey_id, m.number) not in reminded
        ]
        check_ins.sort(key=lambda c: (c.due_at, c.journey.journey_id))
        maintenance.sort(key=lambda m: (m.due_at, m.journey.journey_id))
        activity.logger.info(
            "follow-ups due", extra={"check_ins": len(check_ins), "maintenance": len(maintenance)}
        )
        return DueFollowUps(
            check_ins=check_ins[: request.limit], maintenance=maintenance[: request.limit]
        )

    @activity.defn(name="start_follow_up_check_ins")
    async def start_check_ins(self, request: StartCheckIns) -> StartedCheckIns:
        """Start each check-in workflow once: a running one is used as it is, and one that has
        run to its end is refused (its id's reuse policy), so nothing is ever sent twice."""
        client = activity.client()
        task_queue = activity.info().task_queue
        running: list[str] = []
        finished: list[str] = []
        for n, check_in in enumerate(request.check_ins):
            journey = check_in.journey
            workflow_id = check_in_workflow_id(
                journey.journey_id, check_in.check_in, journey.clinic_id
            )
            try:
                await client.start_workflow(
                    CHECK_IN_WORKFLOW,
                    check_in,
                    id=workflow_id,
                    task_queue=task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
                running.append(workflow_id)
            except WorkflowAlreadyStartedError:
                finished.append(workflow_id)
            activity.heartbeat(n)
        return StartedCheckIns(running=running, finished=finished)

    @activity.defn(name="record_follow_up_check_in")
    async def record_check_in(self, record: CheckInRecord) -> None:
        """Idempotent: `sent` once; then `answered` or `missed`, which never change again."""
        await self._pool.execute(
            _RECORD,
            record.journey_id,
            record.check_in,
            record.instrument.value,
            record.status,
            record.total,
            record.band,
            record.risk,
            record.recorded_at,
        )

    # --- the daily digest -----------------------------------------------------------

    @activity.defn(name="send_daily_digests")
    async def send_daily_digests(self, request: DigestRequest) -> DigestOutcome:
        """Each clinician's open journeys that are overdue or on a safety hold (the therapist's
        and the prescriber's own, the clinic's for ops): one message a day, ids and links."""
        try:
            day = request.as_of.astimezone(ZoneInfo(request.time_zone)).date().isoformat()
        except (ZoneInfoNotFoundError, ValueError):
            raise ApplicationError(
                f"unknown time zone {request.time_zone!r}",
                type="InvalidTimeZone",
                non_retryable=True,
            ) from None
        digests: dict[tuple[Recipient, str], _Digest] = {}
        for journey in await open_journeys(self._pool):
            held = journey.status is Status.SAFETY_HOLD
            overdue = is_overdue(journey.state, request.as_of)
            if not (held or overdue):
                continue
            workflow_id = journey_workflow_id(journey.client_id, journey.clinic_id)
            for recipient, recipient_id in (
                (Recipient.THERAPIST, journey.therapist_id),
                (Recipient.PRESCRIBER, journey.prescriber_id),
                (Recipient.OPS, journey.clinic_id),
            ):
                digest = digests.setdefault((recipient, recipient_id), _Digest())
                if held:
                    digest.holds.append(workflow_id)
                if overdue:
                    digest.overdue.append(workflow_id)
        sent = 0
        unavailable: str | None = None
        for (recipient, recipient_id), digest in sorted(digests.items()):
            try:
                sent += await self._send_digest(day, recipient, recipient_id, digest)
            except ChannelError as error:  # the others still get theirs; then retry this one
                unavailable = str(error)
            activity.heartbeat(recipient_id)
        if unavailable is not None:
            raise ApplicationError(unavailable, type="ChannelUnavailable")
        activity.logger.info("daily digests", extra={"digests": len(digests), "sent": sent})
        return DigestOutcome(digests=len(digests), sent=sent)

    async def _send_digest(
        self, day: str, recipient: Recipient, recipient_id: str, digest: _Digest
    ) -> int:
        key = f"digest:{day}:{recipient.value}:{recipient_id}"
        status = await self._pool.fetchval(
            CLAIM, key, f"digest-{day}", Template.DAILY_DIGEST.value, recipient.value
        )
        if status in ("sent", "skipped"):
            return 0
        query = OPS if recipient is Recipient.OPS else CLINICIAN
        contacts = await self._pool.fetch(query, recipient_id)
        link = f"{self._messaging.ui_base_url}/namespaces/{self._namespace}/workflows"
        subject, body = render_digest(day, digest, link)
        channel_name: str | None = None
        for contact in contacts:
            route = channel_for(
                self._channels,
                email=contact["email"],
                phone=contact["phone"],
                recipient=recipient,
                urgent=False,
            )
            if route is None:
                continue
            channel, address = route
            try:
                await channel.send(address, subject, body, f"{key}:{contact['clinician_id']}")
            except RejectedMessage:
                continue  # one bad address must not keep the digest from the others
            channel_name = channel.name
        final = "sent" if channel_name else "skipped"
        await self._pool.execute(FINISH, key, final, channel_name)
        return 1 if channel_name else 0
