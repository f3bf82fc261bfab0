"""Assembling a worker: the journey workflow and the activities with their dependencies."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.channels import Channel, SmsGatewayChannel, SmtpChannel
from activities.followups import FollowUpActivities
from activities.notify import Messaging, NotifyActivities
from activities.reconcile import ReconcileActivities
from activities.referral import ReferralActivities
from activities.store import StoreActivities
from config.settings import Settings
from eventstore import EventStore
from privacy.keys import load_key_ring
from workflows.followups import DailyDigestWorkflow, FollowUpCheckInWorkflow, FollowUpSweepWorkflow
from workflows.journey import JourneyWorkflow
from workflows.reconcile import ReconcileJourneysWorkflow

WORKFLOWS = [
    JourneyWorkflow,
    FollowUpSweepWorkflow,
    FollowUpCheckInWorkflow,
    DailyDigestWorkflow,
    ReconcileJourneysWorkflow,
]


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
    channels = channels if channels is not None else channels_from(settings)
    messaging = Messaging(
        settings.clinic_name,
        settings.clinic_callback,
        settings.ui_base_url,
        survey_base_url=settings.survey_base_url or settings.api_url,
        keys=load_key_ring(settings.payload_keys, settings.payload_key_file),
        time_zone=settings.schedule_time_zone,
    )
    notify = NotifyActivities(pool, channels, messaging)
    followups = FollowUpActivities(pool, channels, messaging, namespace=settings.temporal_namespace)
    referral = ReferralActivities(settings.referral_url, settings.referral_token)
    reconcile = ReconcileActivities(pool, client, store.store)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            store.append_events,
            store.read_events,
            notify.send_notification,
            notify.record_alert,
            referral.send_referral,
            followups.find_due_follow_ups,
            followups.start_check_ins,
            followups.record_check_in,
            followups.send_daily_digests,
            reconcile.reconcile_journeys,
        ],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
