"""Assembling a worker: the journey workflow and the activities with their dependencies."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.channels import Channel, SmsGatewayChannel, SmtpChannel
from activities.notify import Messaging, NotifyActivities
from activities.referral import ReferralActivities
from activities.store import StoreActivities
from config.settings import Settings
from eventstore import EventStore
from workflows.journey import JourneyWorkflow

WORKFLOWS = [JourneyWorkflow]


def channels_from(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    if settings.smtp_host:
        channels["email"] = SmtpChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_sender
        )
    if settings.sms_gateway_url:
        channels["sms"] = SmsGatewayChannel(settings.sms_gateway_url, settings.sms_gateway_token)
    return channels


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    channels: dict[str, Channel] | None = None,
    task_queue: str | None = None,
    store: StoreActivities | None = None,
) -> Worker:
    store = store or StoreActivities(EventStore(pool, max_event_bytes=settings.max_event_bytes))
    notify = NotifyActivities(
        pool,
        channels if channels is not None else channels_from(settings),
        Messaging(settings.clinic_name, settings.clinic_callback, settings.ui_base_url),
    )
    referral = ReferralActivities(settings.referral_url, settings.referral_token)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        activities=[store.append_events, notify.send_notification, referral.send_referral],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
