"""The demo's journeys (`carepath dev --demo`): what each shows and the decisions that bring it
there, and `history`, which decides a journey's past by the pathway's own rules.

No I/O, only the pathway's rules: `devstack/demo.py` drives the journeys of today through their
workflows and stores the ones with a past (see its doc for why and how).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from activities.messages import EventEnvelope
from domain import Actor, Command, JourneyState, Protocol, Rejection, Role, decide, evolve
from domain import next_due as next_due_item
from domain.commands import RecordDueReached, StartJourney
from domain.ids import DEFAULT_CLINIC, journey_workflow_id
from domain.rules import CURRENT
from workflows.journey import ENGINE

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
COMPLETED = "demo-completed"  # the completed course's client id
CLOSED_DAYS_AGO = 16  # the completed course closed then: its week-2 check-in is due, in grace


class DemoError(Exception):
    """The demo could not be seeded, in plain words."""


@dataclass(frozen=True)
class Cast:
    therapist: Actor
    prescriber: Actor
    ops: Actor


# --- the journeys -----------------------------------------------------------------------------

# (when, who, decision type, its fields)
Step = tuple[datetime, Actor, str, dict[str, Any]]


@dataclass(frozen=True)
class DemoJourney:
    client_id: str
    shows: str  # what a person finds there, in a few words
    steps: Callable[[datetime, Cast], list[Step]]
    past: bool = False  # decided at past times (see the module's doc), not driven now

    @property
    def journey_id(self) -> str:
        return f"j-{self.client_id}"

    @property
    def workflow_id(self) -> str:
        return journey_workflow_id(self.client_id, DEFAULT_CLINIC)


def _screened(t: datetime, cast: Cast) -> list[Step]:
    th = cast.therapist
    return [
        (t, th, "record_screening", {"instrument": "phq9", "answers": [2, 2, 1, 2, 1, 2, 1, 1, 0]}),
        (t, th, "record_screening", {"instrument": "gad7", "answers": [2, 1, 2, 1, 1, 2, 1]}),
        (t, th, "record_consent", {"consent_version": "kap-2026-11", "signed_at": t}),
    ]


def _referred(t: datetime, cast: Cast) -> list[Step]:
    th = cast.therapist
    return [
        *_screened(t, cast),
        (t, th, "complete_consultation", {"treatment_goals": ["mood"]}),
        (t, th, "refer_to_prescriber", {}),
    ]


def _intake(t: datetime, cast: Cast, at: datetime) -> list[Step]:
    rx = cast.prescriber
    return [*_referred(t, cast), (t, rx, "schedule_prescriber_intake", {"scheduled_at": at})]


def _approved(t: datetime, cast: Cast, at: datetime, doses: int | None = None) -> list[Step]:
    """Approved at `at` (the intake's time), prescription for 120 days."""
    fields: dict[str, Any] = {"expires_at": at + timedelta(days=120)}
    if doses is not None:
        fields["doses_authorized"] = doses
    return [*_intake(t, cast, at), (at, cast.prescriber, "approve_medication", fields)]


def _ready(t: datetime, cast: Cast) -> list[Step]:
    """Driven now: the intake booked within the hour, approved, prepared: dosing may be
    scheduled."""
    return [
        *_approved(t, cast, t + timedelta(hours=1)),
        (t, cast.therapist, "complete_preparation", {}),
    ]


def _session(session_id: str, at: datetime, cast: Cast) -> list[Step]:
    """A dosing session at `at`, scheduled two days before: dose, checks, discharge, signature."""
    th = cast.therapist
    vitals = {"systolic": 124, "diastolic": 78, "heart_rate": 72}
    dose = {"dose_mg": "56", "route": "intramuscular", "lot": "KX-2611"}
    return [
        (
            at - timedelta(days=2),
            th,
            "schedule_dosing",
            {"session_id": session_id, "scheduled_at": at},
        ),
        (
            at,
            th,
            "start_dosing",
            {"session_id": session_id, "vitals": vitals, "transport_confirmed": True},
        ),
        (at + timedelta(minutes=5), th, "record_dose", {"session_id": session_id, "dose": dose}),
        (
            at + timedelta(minutes=45),
            th,
            "record_session_monitoring",
            {
                "session_id": session_id,
                "vitals": vitals,
                "sedation": "mild",
                "dissociation": "mild",
            },
        ),
        (
            at + timedelta(minutes=125),
            th,
            "complete_dosing",
            {
                "session_id": session_id,
                "vitals": vitals,
                "ready_for_discharge": True,
                "transport_confirmed": True,
            },
        ),
        (at + timedelta(hours=3), th, "sign_session_record", {"session_id": session_id}),
    ]


def _dosed(t0: datetime, cast: Cast, doses: int | None = None) -> list[Step]:
    """From `t0`: approved on day 2, prepared on day 4, the first dose on day 6."""
    return [
        *_approved(t0, cast, t0 + timedelta(days=2), doses),
        (t0 + timedelta(days=4), cast.therapist, "complete_preparation", {}),
        *_session("s1", t0 + timedelta(days=6), cast),
    ]


def _integrated(at: datetime, cast: Cast) -> Step:
    return (at, cast.therapist, "complete_integration", {})


def demo_journeys() -> list[DemoJourney]:
    day, hour = timedelta(days=1), timedelta(hours=1)
    return [
        DemoJourney(
            "demo-consultation", "consultation: screened, consultation not complete", _screened
        ),
        DemoJourney("demo-referral", "referral sent to the prescriber", _referred),
        DemoJourney(
            "demo-medication-review",
            "medication review: prescriber intake booked",
            lambda t, c: _intake(t, c, t + 3 * day),
        ),
        DemoJourney(
            "demo-preparation",
            "preparation: approved, a preparation visit booked",
            lambda t, c: [
                *_approved(t, c, t + hour),
                (
                    t,
                    c.therapist,
                    "schedule_visit",
                    {"visit_id": "v-prep", "kind": "preparation", "scheduled_at": t + 2 * day},
                ),
            ],
        ),
        DemoJourney(
            "demo-dosing-scheduled",
            "dosing: a session scheduled tomorrow",
            lambda t, c: [
                *_ready(t, c),
                (t, c.therapist, "schedule_dosing", {"session_id": "s1", "scheduled_at": t + day}),
            ],
        ),
        DemoJourney(
            "demo-safety-hold",
            "on a safety hold",
            lambda t, c: [
                *_ready(t, c),
                (t, c.therapist, "raise_safety_hold", {"reason": "clinician_concern"}),
            ],
        ),
        DemoJourney(
            "demo-paused",
            "paused at the client's request",
            lambda t, c: [*_ready(t, c), (t, c.ops, "pause", {"reason": "client_request"})],
        ),
        DemoJourney(
            "demo-withdrawn",
            "closed: withdrawn before any dose",
            lambda t, c: [*_referred(t, c), (t, c.ops, "withdraw", {"reason": "client_choice"})],
        ),
        # With a past: doses given on days before today.
        DemoJourney(
            "demo-integration",
            "integration owed after a dose 2 days ago; an integration visit booked",
            lambda t, c: [
                *_dosed(t - 8 * day, c),
                (
                    t - hour,
                    c.therapist,
                    "schedule_visit",
                    {"visit_id": "v-int", "kind": "integration", "scheduled_at": t + day},
                ),
            ],
            past=True,
        ),
        DemoJourney(
            "demo-follow-up-due",
            "prescriber follow-up due: both doses given and integrated; a follow-up visit booked",
            lambda t, c: [
                *_dosed(t - 20 * day, c),
                _integrated(t - 12 * day, c),
                *_session("s2", t - 8 * day, c),
                _integrated(t - 6 * day, c),
                (
                    t - hour,
                    c.prescriber,
                    "schedule_visit",
                    {
                        "visit_id": "v-rx",
                        "kind": "prescriber_follow_up",
                        "scheduled_at": t + 2 * day,
                    },
                ),
            ],
            past=True,
        ),
        DemoJourney(
            "demo-stopping",
            "course stopping: withdrawn after a dose, the prescriber's discharge follow-up due",
            lambda t, c: [
                *_dosed(t - 12 * day, c),
                _integrated(t - 4 * day, c),
                (t - day, c.ops, "withdraw", {"reason": "client_choice"}),
            ],
            past=True,
        ),
        DemoJourney(
            COMPLETED,
            "closed: completed course (2 doses, records signed, follow-up recorded)",
            _completed_course,
            past=True,
        ),
    ]


def _completed_course(t: datetime, cast: Cast) -> list[Step]:
    """One dose approved, given and integrated; the prescriber's follow-up continues with one
    more; given, signed and integrated: the course closes `completed` CLOSED_DAYS_AGO days ago."""
    day = timedelta(days=1)
    t0 = t - (CLOSED_DAYS_AGO + 15) * day
    follow_up = {
        "outcome": "continue",
        "additional_doses": 1,
        "expires_at": t0 + 120 * day,
    }
    return [
        *_dosed(t0, cast, doses=1),
        _integrated(t0 + 8 * day, cast),
        (t0 + 10 * day, cast.prescriber, "record_prescriber_follow_up", follow_up),
        *_session("s2", t0 + 13 * day, cast),
        _integrated(t0 + 15 * day, cast),
    ]


def start_command(journey: DemoJourney, cast: Cast, protocol: Protocol) -> StartJourney:
    return StartJourney(
        decision_id=f"start-{journey.client_id}",
        actor=cast.ops,
        journey_id=journey.journey_id,
        client_id=journey.client_id,
        therapist_id=cast.therapist.id,
        prescriber_id=cast.prescriber.id,
        protocol=protocol,
    )


def command_of(step: Step, decision_id: str) -> Command:
    _, actor, type_, fields = step
    return COMMAND.validate_python(
        {"type": type_, "decision_id": decision_id, "actor": actor, **fields}
    )


def cast_of(start: StartJourney) -> Cast:
    return Cast(
        therapist=Actor(id=start.therapist_id, role=Role.THERAPIST),
        prescriber=Actor(id=start.prescriber_id, role=Role.PRESCRIBER),
        ops=start.actor,
    )


# --- with a past ------------------------------------------------------------------------------


def _due_decision_id(kind: str, ref: str, at: datetime) -> str:
    # The id the journey workflow gives a due item's decision (`workflows/journey.py`).
    return f"due-{kind}-{ref}-{int(at.timestamp())}"


def history(
    start: StartJourney, steps: Sequence[Step], now: datetime
) -> tuple[list[EventEnvelope], JourneyState]:
    """The events of `steps`, each decided by the pathway's rules at its own time, with the
    engine's due items fired when they came due, as the workflow's timers fire them, up to
    `now`; and their fold. DemoError when the pathway refuses a step (the demo is wrong)."""
    envelopes: list[EventEnvelope] = []
    state: JourneyState | None = None

    def apply(command: Command, at: datetime) -> None:
        nonlocal state
        decided = decide(state, command, at, CURRENT)
        if isinstance(decided, Rejection):
            raise DemoError(f"{start.client_id}: {command.type} refused: {decided.reason}")
        for event in decided:
            state = evolve(state, event)
            version = state.version
            envelopes.append(
                EventEnvelope(
                    event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{start.journey_id}/{version}")),
                    stream_version=version,
                    decision_type=command.type,
                    event=event,
                )
            )

    def fire_due(until: datetime) -> None:
        while state is not None and (item := next_due_item(state, CURRENT)) is not None:
            if item.at > until:
                return
            command = RecordDueReached(
                decision_id=_due_decision_id(item.kind.value, item.ref, item.at),
                actor=ENGINE,
                kind=item.kind,
                ref=item.ref,
                due_at=item.at,
            )
            apply(command, item.at)

    ordered = sorted(steps, key=lambda step: step[0])  # stable: same-time steps keep their order
    apply(start, ordered[0][0])
    for n, step in enumerate(ordered):
        fire_due(step[0])
        apply(command_of(step, f"{start.journey_id}-demo-{n}"), step[0])
    fire_due(now)
    assert state is not None
    return envelopes, state
