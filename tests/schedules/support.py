"""Journeys for the follow-up tests: decided by the real domain, stored in the real event store
and projected into the real caseload, at times relative to the test server's clock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from activities.messages import AppendRequest, EventEnvelope
from activities.store import to_new_event
from database.pgtypes import Pool
from domain import ClosedReason, Event, Status
from domain.vocabulary import Actor, Role
from eventstore import EventStore
from projections import CaseloadProjection, ProjectionRunner
from tests.domain.journey import GAD7_MODERATE, OPS, PHQ9_MODERATE, Journey

FIRST_NAME = "Marisol"
SURNAME = "Okonkwo-Lindqvist"
CLIENT_EMAIL = "marisol.ol@example.org"
CLIENT_PHONE = "+15550199123"


def new_ids() -> tuple[str, str]:
    """(journey id, client id): opaque, unique per test."""
    tag = uuid.uuid4().hex[:10]
    return f"j-{tag}", f"cl-{tag}"


@dataclass
class Clinicians:
    therapist: str = "th-1"
    prescriber: str = "rx-1"

    @property
    def therapist_actor(self) -> Actor:
        return Actor(id=self.therapist, role=Role.THERAPIST)

    @property
    def prescriber_actor(self) -> Actor:
        return Actor(id=self.prescriber, role=Role.PRESCRIBER)


def _start(j: Journey, journey_id: str, client_id: str, who: Clinicians, **fields: Any) -> None:
    j.do(
        "start_journey",
        OPS,
        journey_id=journey_id,
        client_id=client_id,
        therapist_id=who.therapist,
        prescriber_id=who.prescriber,
        **fields,
    )


def _to_completion(j: Journey, journey_id: str, client_id: str, **fields: Any) -> None:
    """The whole course: three doses, each integrated, the prescriber's follow-up between."""
    who = Clinicians()
    _start(j, journey_id, client_id, who, **fields)
    j.screened()
    j.do("complete_consultation", treatment_goals=["feel more like myself"])
    j.do("refer_to_prescriber")
    j.do(
        "schedule_prescriber_intake",
        who.prescriber_actor,
        scheduled_at=j.now + timedelta(days=5),
    )
    j.wait(days=5)
    j.do("approve_medication", who.prescriber_actor, expires_at=j.now + timedelta(days=120))
    j.do("complete_preparation")
    j.dose("s1")
    j.do(
        "record_prescriber_follow_up",
        who.prescriber_actor,
        outcome="continue",
        additional_doses=1,
        expires_at=j.now + timedelta(days=150),
    )
    j.dose("s2")
    j.dose("s3", integrate=False)
    j.do("complete_integration")


def completed_journey(
    journey_id: str, client_id: str, completed_at: datetime, **fields: Any
) -> list[Event]:
    """A course completed exactly at `completed_at`."""
    probe = Journey(now=completed_at)
    _to_completion(probe, journey_id, client_id, **fields)
    j = Journey(now=completed_at - (probe.now - completed_at))
    _to_completion(j, journey_id, client_id, **fields)
    assert j.now == completed_at and j.s.closed_reason is ClosedReason.COMPLETED
    return j.events


def referred_journey(
    journey_id: str, client_id: str, referred_at: datetime, who: Clinicians
) -> list[Event]:
    """Referred to the prescriber at `referred_at`: overdue once the referral SLA passes."""
    j = Journey(now=referred_at)
    _start(j, journey_id, client_id, who)
    for instrument, answers in (("phq9", PHQ9_MODERATE), ("gad7", GAD7_MODERATE)):
        j.do("record_screening", who.therapist_actor, instrument=instrument, answers=answers)
    j.do("record_consent", who.therapist_actor, consent_version="kap-v3", signed_at=j.now)
    j.do("complete_consultation", who.therapist_actor, treatment_goals=["sleep better"])
    j.do("refer_to_prescriber", who.therapist_actor)
    return j.events


def held_journey(journey_id: str, client_id: str, at: datetime, who: Clinicians) -> list[Event]:
    """On a safety hold raised by the therapist at `at`."""
    j = Journey(now=at)
    _start(j, journey_id, client_id, who)
    j.do("raise_safety_hold", who.therapist_actor, reason="clinical_concern")
    assert j.s.status is Status.SAFETY_HOLD
    return j.events


def started_journey(journey_id: str, client_id: str, at: datetime, who: Clinicians) -> list[Event]:
    j = Journey(now=at)
    _start(j, journey_id, client_id, who)
    return j.events


@dataclass
class Caseload:
    """Writes journeys' events to the event store and brings the caseload projection up to date."""

    pool: Pool
    streams: dict[str, list[Event]] = field(default_factory=dict)

    async def add(self, journey_id: str, events: Sequence[Event]) -> None:
        store = EventStore(self.pool, max_event_bytes=64 * 1024)
        envelopes = [
            EventEnvelope(
                event_id=str(uuid.uuid4()), stream_version=n, decision_type="test", event=event
            )
            for n, event in enumerate(events, start=1)
        ]
        request = AppendRequest(
            stream_id=journey_id,
            expected_version=0,
            events=envelopes,
            workflow_id=f"journey-{journey_id}",
            run_id="run",
        )
        new = [to_new_event(request, i) for i in range(len(envelopes))]
        await store.append(journey_id, new, 0)
        await ProjectionRunner(self.pool, CaseloadProjection()).catch_up()
        self.streams[journey_id] = list(events)
