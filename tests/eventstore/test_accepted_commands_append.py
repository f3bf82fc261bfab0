"""Whatever `decide` accepts, the event store accepts.

Every command schema is walked field by field: text fields get any Unicode at all (NUL, lone
surrogates, noncharacters, very long strings), other fields values inside and outside their
bounds. Each command that validates is decided against journeys folded to the stages where it
could be accepted, and every accepted decision is appended to a real PostgreSQL event store as
the workflow appends it (`activities.store.to_new_event`), then read back.
"""

from __future__ import annotations

import enum
import operator
import types
import typing
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from annotated_types import Ge, Le, MaxLen, MinLen
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, StringConstraints, ValidationError
from pydantic.fields import FieldInfo

from activities.messages import AppendRequest, EventEnvelope
from activities.store import to_new_event
from domain import Command, Event, JourneyState, Rejection, decide, due, parse_event
from domain.roles import ALLOWED_ROLES
from domain.vocabulary import Actor, Instrument, Role
from eventstore import EventStore
from tests.domain.journey import (
    COMMAND,
    GAD7_MODERATE,
    OPS,
    PHQ9_MODERATE,
    PRESCRIBER,
    SYSTEM,
    THERAPIST,
    Journey,
)
from tests.eventstore.helpers import stream_id

COMMAND_MODELS: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(Command)[0])
TYPES = [m.model_fields["type"].default for m in COMMAND_MODELS]
EXAMPLES = 40  # per command

# --- journeys folded to each stage --------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    state: JourneyState | None
    events: list[Event]
    now: datetime


@cache
def stages() -> dict[str, Stage]:
    def remote_session(j: Journey) -> Journey:
        when = j.now + timedelta(days=2)
        j.do(
            "schedule_dosing", session_id="s1", scheduled_at=when, mode="remote", chaperone_id="c1"
        )
        j.wait(days=2)
        return j

    def in_progress(j: Journey) -> Journey:
        vitals = {"systolic": 120, "diastolic": 80}
        j.do("start_dosing", session_id="s1", vitals=vitals, transport_confirmed=True,
             chaperone_present=True)  # fmt: skip
        return j

    def needs_clearance(j: Journey) -> Journey:
        j.do("complete_consultation", treatment_goals=["sleep"], contraindications=["pregnancy"])
        return j

    def monitored(j: Journey) -> Journey:
        j.monitored("s1")
        j.wait(minutes=80)
        return j

    def discharged(j: Journey, *, sign: bool = False) -> Journey:
        j.discharged("s1")
        if sign:
            j.do("sign_session_record", session_id="s1")
        return j

    def dosed(j: Journey) -> Journey:
        j.dose("s1", integrate=False)
        return j

    def do(j: Journey, type_: str, actor: Actor = THERAPIST) -> Journey:
        j.do(type_, actor)
        return j

    def visit_booked(j: Journey) -> Journey:
        when = j.now + timedelta(days=3)
        j.do("schedule_visit", visit_id="v1", kind="preparation", scheduled_at=when)
        return j

    built = {
        "new": Journey(),
        "started": Journey().started(),
        "screened": Journey().started().screened(),
        "needs_clearance": needs_clearance(Journey().started().screened()),
        "eligible": Journey().eligible(),
        "referral_sent": do(Journey().eligible(), "refer_to_prescriber"),
        "referred": Journey().referred(),
        "approved": Journey().approved(),
        "prepared": Journey().prepared(),
        "scheduled": remote_session(Journey().prepared()),
        "dosing": in_progress(remote_session(Journey().prepared())),
        "monitored": monitored(in_progress(remote_session(Journey().prepared()))),
        "discharged": discharged(monitored(in_progress(remote_session(Journey().prepared())))),
        "signed": discharged(
            monitored(in_progress(remote_session(Journey().prepared()))), sign=True
        ),
        "dosed": dosed(Journey().prepared()),
        "on_hold": do(Journey().started(), "raise_safety_hold"),
        "paused": do(Journey().eligible(), "pause"),
        "visit_booked": visit_booked(Journey().approved()),
    }
    return {name: Stage(j.state, list(j.events), j.now) for name, j in built.items()}


OPEN = [
    "started", "screened", "needs_clearance", "eligible", "referral_sent", "referred",
    "approved", "prepared", "scheduled", "dosing", "monitored", "discharged", "signed", "dosed",
    "on_hold", "paused", "visit_booked",
]  # fmt: skip
# Where each command can be accepted.
WHERE: dict[str, list[str]] = {
    "start_journey": ["new"],
    "record_screening": ["started", "screened", "dosed"],
    "record_consent": ["started", "screened", "eligible"],
    "complete_consultation": ["screened"],
    "record_medical_clearance": ["needs_clearance"],
    "refer_to_prescriber": ["eligible"],
    "acknowledge_referral": ["referral_sent"],
    "record_referral_rejected": ["referral_sent"],
    "schedule_prescriber_intake": ["referral_sent", "referred"],
    "approve_medication": ["referred"],
    "decline_medication": ["referred"],
    "complete_preparation": ["approved"],
    "schedule_dosing": ["prepared"],
    "start_dosing": ["scheduled"],
    "record_chaperone_check_in": ["dosing", "monitored"],
    "record_session_monitoring": ["dosing", "monitored"],
    "record_dose": ["dosing", "monitored", "discharged"],
    "grant_discharge_exception": ["dosing", "monitored"],
    "complete_dosing": ["monitored"],
    "sign_session_record": ["discharged"],
    "amend_session_record": ["signed"],
    "report_adverse_event": ["dosing", "discharged", "signed"],
    "cancel_session": ["scheduled"],
    "schedule_visit": ["approved", "dosed", "on_hold"],
    "cancel_visit": ["visit_booked"],
    "reassign_clinician": ["started", "dosed", "on_hold"],
    "complete_integration": ["dosed"],
    "record_prescriber_follow_up": ["dosed"],
    "raise_safety_hold": ["started", "dosed"],
    "clear_safety_hold": ["on_hold"],
    "pause": ["started", "prepared"],
    "resume": ["paused"],
    "withdraw": ["started", "scheduled"],
    "discharge": ["eligible", "dosed"],
    "record_due_reached": OPEN,
    "record_ended_outside": OPEN,
}

# --- values for any field -----------------------------------------------------------------

NASTY = ["\x00", "\x01", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udfff",
         "\ufdd0", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff", "\u2028", "\u202e",
         "\ufeff", "é", "😀", " "]  # fmt: skip
# Every code point, lone surrogates included, with the troublesome ones drawn often.
ANY_CHAR = st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=()))


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.sampled_from([s for n, s in choices for _ in range(n)]).flatmap(lambda s: s)


def mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine draws in ten from `usual`."""
    return weighted((9, usual), (1, other))


def chars(min_size: int, max_size: int | None = None) -> st.SearchStrategy[str]:
    # Not st.text(ANY_CHAR): hypothesis merges that alphabet into one set, losing the weights.
    return st.lists(ANY_CHAR, min_size=min_size, max_size=max_size).map("".join)


ANY_TEXT = weighted(
    (6, chars(1, 12)),
    (2, st.text(st.characters(exclude_categories=()))),  # anything, empty included
    # Very long: a few characters repeated up to 70,000 times.
    (1, st.builds(operator.mul, chars(1, 3), st.integers(1, 70_000))),
)
ACTOR_OF = {
    Role.THERAPIST: THERAPIST,
    Role.PRESCRIBER: PRESCRIBER,
    Role.OPS: OPS,
    Role.SYSTEM: SYSTEM,
}
OFFSETS = [timedelta(0), timedelta(hours=1), timedelta(hours=5), timedelta(days=2),
           timedelta(days=3), timedelta(days=30), timedelta(days=100), timedelta(days=200),
           -timedelta(hours=1), -timedelta(days=30), -timedelta(days=400)]  # fmt: skip


def _flatten(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *more = typing.get_args(annotation)
        metadata = [*metadata, *more]
    flat: list[Any] = []
    for item in metadata:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, flat


def _text(metadata: list[Any]) -> st.SearchStrategy[str]:
    pattern = next(
        (m.pattern for m in metadata if isinstance(m, StringConstraints) and m.pattern), None
    )
    if pattern is None:
        return ANY_TEXT  # free text: anything at all
    return mostly(st.from_regex(str(pattern), fullmatch=True), ANY_TEXT)


def _int(metadata: list[Any]) -> st.SearchStrategy[int]:
    low: Any = next((m.ge for m in metadata if isinstance(m, Ge)), -2)
    high: Any = next((m.le for m in metadata if isinstance(m, Le)), 30)
    return mostly(st.integers(low, high), st.integers())


def _decimal(metadata: list[Any]) -> st.SearchStrategy[Decimal]:
    low: Any = next((m.ge for m in metadata if isinstance(m, Ge)), -10)
    high: Any = next((m.le for m in metadata if isinstance(m, Le)), 1000)
    return st.decimals(low, high, places=2)


def _datetime(base: datetime) -> st.SearchStrategy[datetime]:
    zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    offsets = st.one_of(
        st.sampled_from(OFFSETS),
        st.integers(-800 * 24 * 60, 800 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    )
    return st.builds(lambda o, z: (base + o).astimezone(z), offsets, zones)


def value(annotation: Any, metadata: list[Any], base: datetime) -> st.SearchStrategy[Any]:
    """Values for a field of this annotation: mostly valid, sometimes anything."""
    annotation, metadata = _flatten(annotation, metadata)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([value(a, metadata, base) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (list, tuple, set, frozenset):
        low = next((m.min_length for m in metadata if isinstance(m, MinLen)), 0)
        high = next((m.max_length for m in metadata if isinstance(m, MaxLen)), 6)
        items = value(args[0], [], base)
        return st.lists(items, min_size=low, max_size=min(high, 12))
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return st.sampled_from(list(annotation))
        if annotation is Instrument:  # a name checked against the specs' registry
            return mostly(st.sampled_from(Instrument.all()), _text(metadata))
        if annotation is bool:
            return st.booleans()
        if annotation is int:
            return _int(metadata)
        if annotation is Decimal:
            return mostly(_decimal(metadata), st.decimals())
        if annotation is str:
            return _text(metadata)
        if annotation in (datetime, AwareDatetime):
            return _datetime(base)
        if issubclass(annotation, BaseModel):
            return model(annotation, base)
    raise AssertionError(f"no strategy for {annotation!r}: teach this test the new field type")


def model(cls: type[BaseModel], base: datetime) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in cls.model_fields.items():
        strategy = value(field.annotation, list(field.metadata), base)
        (required if field.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


# --- cases: a stage, a command as sent, and when it is decided ----------------------------


@dataclass(frozen=True)
class Case:
    stage: str
    payload: dict[str, Any]
    at: datetime


@st.composite
def cases(draw: st.DrawFn, type_: str) -> Case:
    name = draw(st.sampled_from(WHERE[type_]))
    stage = stages()[name]
    cls = COMMAND_MODELS[TYPES.index(type_)]
    payload = draw(model(cls, stage.now))
    payload["type"] = type_
    roles = sorted(ALLOWED_ROLES[type_])
    payload["actor"] = draw(
        mostly(st.sampled_from([ACTOR_OF[r] for r in roles]), model(Actor, stage.now))
    )
    at = stage.now + draw(st.sampled_from([timedelta(0), timedelta(hours=3)]))
    if "session_id" in payload:
        payload["session_id"] = draw(mostly(st.sampled_from(["s1", "s2"]), _text([])))
    if type_ == "cancel_visit":
        payload["visit_id"] = draw(mostly(st.just("v1"), _text([])))
    if type_ == "start_journey" and draw(st.booleans()):
        payload["therapist_id"] = THERAPIST.id
    if type_ == "start_journey" and draw(mostly(st.just(True), st.just(False))):
        payload["protocol"] = {"version": draw(ANY_TEXT)}  # the defaults, another version
    if type_ == "record_screening" and draw(st.booleans()):
        instrument, answers = draw(
            st.sampled_from([("phq9", PHQ9_MODERATE), ("gad7", GAD7_MODERATE)])
        )
        payload.update(instrument=instrument, answers=answers)
    items = due(stage.state)
    if type_ == "record_due_reached" and items and draw(st.booleans()):
        item = draw(st.sampled_from(items))
        payload.update(kind=item.kind, ref=item.ref, due_at=item.at)
        at = max(at, item.at)
    return Case(name, payload, at)


def decided(case: Case) -> tuple[Command, list[Event]] | None:
    """The command and its events if it validates and the pathway accepts it."""
    try:
        command = COMMAND.validate_python(case.payload)
    except ValidationError:
        return None
    result = decide(stages()[case.stage].state, command, case.at)
    return None if isinstance(result, Rejection) else (command, result)


# --- the property -------------------------------------------------------------------------


async def append(
    store: EventStore, stream: str, version: int, events: list[Event], decision: str | None
) -> int:
    """Append as the workflow does: envelopes with fresh ids, encoded by `to_new_event`."""
    envelopes = [
        EventEnvelope(
            event_id=str(uuid.uuid4()), stream_version=version + i, decision_type=decision, event=e
        )
        for i, e in enumerate(events, start=1)
    ]
    request = AppendRequest(
        stream_id=stream, expected_version=version, events=envelopes, workflow_id=stream,
        run_id="run-1",
    )  # fmt: skip
    new = [to_new_event(request, i) for i in range(len(envelopes))]
    result = await store.append(stream, new, version)
    assert result.written
    return result.last_version


# Each command gets its own examples: accepted free text is rare among all commands.
@pytest.mark.parametrize("type_", TYPES)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_an_accepted_command_always_appends(
    event_store: EventStore, type_: str, data: st.DataObject
) -> None:
    case = data.draw(cases(type_), label="case")
    outcome = decided(case)
    if outcome is None:
        return
    command, events = outcome
    stage = stages()[case.stage]
    stream = stream_id()  # examples share the database: a stream of their own
    version = 0
    if stage.events:
        version = await append(event_store, stream, 0, stage.events, None)
    await append(event_store, stream, version, events, command.type)
    recorded = await event_store.read_stream(stream)
    assert [parse_event(r.data) for r in recorded] == [*stage.events, *events]


@pytest.mark.parametrize("type_", TYPES)
def test_the_cases_reach_every_command_accepted(type_: str) -> None:
    # The property says nothing of a command no case gets accepted: find one for each.
    find(
        cases(type_),
        lambda case: decided(case) is not None,
        settings=settings(max_examples=3000, database=None, phases=[Phase.generate]),
    )


def test_every_command_has_a_stage() -> None:
    assert not set(TYPES) - set(WHERE)
