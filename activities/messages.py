"""Activity inputs and outputs: one pydantic model per message, passed whole."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain import Actor, Event
from domain.notifications import Notice


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventEnvelope(_Message):
    """A domain event with the id the workflow made for it and its place in the stream."""

    event_id: str  # a UUID made in the workflow: appends are idempotent on it
    stream_version: int
    decision_type: str | None = None  # the command that caused it (for the audit log)
    event: Event = Field(discriminator="type")


class AppendRequest(_Message):
    stream_id: str
    expected_version: int
    events: list[EventEnvelope]
    workflow_id: str
    run_id: str


class ReadRequest(_Message):
    stream_id: str
    after_version: int  # the events stored after this version, oldest first


class StoredEvents(_Message):
    events: list[EventEnvelope]


class AppendOutcome(_Message):
    stream_version: int
    written: bool  # False when a retry found the events already stored


class NotificationRequest(_Message):
    client_id: str
    journey_id: str
    notice: Notice


class NotificationOutcome(_Message):
    sent: bool  # False: already sent before (idempotency key seen) or nothing to send
    channel: str | None = None


class ReferralRequest(_Message):
    referral_id: str  # the referral_sent event's id: the partner dedups on it
    client_id: str
    therapist_id: str
    prescriber_id: str
    clinic_id: str
    sent_at: AwareDatetime
    actor: Actor


class ReferralOutcome(_Message):
    accepted: bool
    partner_reference: str | None = None


class ReconcileInput(_Message):
    after: str = ""  # journey ids after this one (paging)
    page_size: int = Field(default=200, ge=1, le=1000)


class ReconcileOutcome(_Message):
    checked: int
    closed: list[str]  # journey ids closed as ended outside the pathway
    notifications: list[NotificationRequest] = []
    next_after: str | None = None  # where the next page starts; None: that was the last
