"""`available(state, actor, now) -> list[Offer]`: the decisions this actor may take now.

Each offer names a decision and a prefilled body that `decide` accepts: the values a one-click
form would submit (the open session's id, a time a day ahead, the default reason codes). An
offer is made exactly when `decide(state, offer.command(actor), now, rules)` returns events: for
each decision a *probe* is built from the state (ids picked from it, times from `now` and the
protocol) and decided; the decisions whose probe is accepted are offered. Where a decision has
more than one sensible shape (which visit to book, whether a follow-up continues) the first
shape `decide` accepts is offered.

What only a clinician can say (answers, vitals, the dose, goals, an assessment's reference, a
confirmation) is filled with a sample value that `decide` accepts and named in `needs_input`:
a form asks for it rather than submitting the sample.

Never offered: `start_journey` (a journey is started, not decided on) and the engine's own
decisions (`record_due_reached`, `record_ended_outside`, `record_referral_rejected`, and any
only the system role may make).

Order: the pathway's next steps first (`Offer.next_step`: what the journey is waiting on in its
stage and state, e.g. the baseline screening at consultation, a session's record while it is in
progress, clearing a hold), then the rest; each group in `ORDER`, the pathway's own order.

Pure: no I/O, no clock (`now` comes in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from domain.commands import Command
from domain.decide import decide
from domain.instruments import baseline_instruments
from domain.rejection import Rejection
from domain.roles import ALLOWED_ROLES
from domain.rules import CURRENT, Rules
from domain.state import DosingSession, JourneyState
from domain.vocabulary import (
    Actor,
    FollowUpOutcome,
    Instrument,
    Role,
    SessionMode,
    SessionStatus,
    Stage,
    VisitKind,
)

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)

# The decision id a probe is decided under (decide never looks at it).
PROBE_ID = "probe"
# Fields of every command that are not the decision's own (the API fills them in).
_META = {"type", "decision_id", "actor", "schema_version"}

# Never offered: started, not decided; or the engine's (timers, partner systems, Temporal).
NOT_OFFERED = frozenset(
    {"start_journey", "record_due_reached", "record_ended_outside", "record_referral_rejected"}
) | frozenset(t for t, roles in ALLOWED_ROLES.items() if roles <= {Role.SYSTEM})

# Every decision that may be offered, in the pathway's order: the order of the offers within
# the next steps and within the rest.
ORDER: tuple[str, ...] = (
    # the safety hold and a pause come first: nothing moves on until they are lifted
    "clear_safety_hold",
    "resume",
    # consultation
    "record_screening",
    "record_consent",
    "complete_consultation",
    "record_medical_clearance",
    # referral and medication review
    "refer_to_prescriber",
    "acknowledge_referral",
    "schedule_prescriber_intake",
    "approve_medication",
    "decline_medication",
    # preparation
    "complete_preparation",
    # a dosing session, in the order it happens
    "start_dosing",
    "record_chaperone_check_in",
    "record_session_monitoring",
    "record_dose",
    "grant_discharge_exception",
    "complete_dosing",
    "sign_session_record",
    "schedule_dosing",
    # integration and the follow-up
    "complete_integration",
    "record_prescriber_follow_up",
    # bookings and the record of what happened
    "schedule_visit",
    "cancel_visit",
    "cancel_session",
    "report_adverse_event",
    "amend_session_record",
    # at any point
    "raise_safety_hold",
    "pause",
    "reassign_clinician",
    "withdraw",
    "discharge",
)
OFFERED = frozenset(ORDER)

# Prefilled times and sample values (a form shows them; `needs_input` ones it asks for).
SCHEDULE_AHEAD = timedelta(days=1)  # an intake, a dosing session, a visit: a day ahead
PRESCRIPTION_DAYS = 90  # a prescription's expiry, at approval and at a follow-up that continues
SAMPLE_SYSTOLIC, SAMPLE_DIASTOLIC = 120, 80
SAMPLE_CONSENT_VERSION = "v1"
SAMPLE_DOSE = {"dose_mg": "50", "route": "intramuscular", "lot": "LOT-1"}


class Offer(BaseModel):
    """A decision this actor may take now, with the body a one-click form would submit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    # The decision's own fields as JSON values (no type, decision_id or actor): `decide`
    # accepts them as they are, the sample values in `needs_input` included.
    fields: dict[str, Any]
    # Fields only a clinician can fill (answers, vitals, the dose, goals, a confirmation): a
    # form asks for them instead of submitting the sample.
    needs_input: tuple[str, ...] = ()
    # What the journey is waiting on now in its stage and state (offered first).
    next_step: bool = False

    def command(self, actor: Actor, decision_id: str = PROBE_ID, **filled: Any) -> Command:
        """The offer as a command, with `filled` (JSON values) over the prefilled fields."""
        body = {**self.fields, **filled}
        return COMMAND.validate_python(
            {**body, "type": self.type, "decision_id": decision_id, "actor": actor}
        )


@dataclass(frozen=True)
class _Shape:
    """One probe: the decision's fields it sets (the rest keep their defaults), and which of
    them need a clinician's input."""

    fields: dict[str, Any] = field(default_factory=dict)
    needs_input: tuple[str, ...] = ()


def _at(when: datetime) -> datetime:
    """A prefilled time, to the minute."""
    return when.replace(second=0, microsecond=0)


def _ceil(when: datetime) -> datetime:
    """The first whole minute at or after `when`."""
    return when if when == _at(when) else _at(when) + timedelta(minutes=1)


def _ahead(now: datetime) -> datetime:
    return _at(now + SCHEDULE_AHEAD)


def _vitals(s: JourneyState) -> dict[str, int]:
    """Sample vitals within every limit of the journey's protocol (for dosing and discharge)."""
    p = s.protocol
    return {
        "systolic": min(SAMPLE_SYSTOLIC, p.bp_systolic_limit, p.discharge_systolic_limit),
        "diastolic": min(SAMPLE_DIASTOLIC, p.bp_diastolic_limit, p.discharge_diastolic_limit),
    }


def _missing_session(s: JourneyState) -> str:
    """A session id this journey does not have (a probe with nothing to act on)."""
    return _new_id("s", s.sessions)


def _new_id(prefix: str, used: dict[str, Any]) -> str:
    n = len(used) + 1
    while f"{prefix}{n}" in used:
        n += 1
    return f"{prefix}{n}"


def _in_progress(s: JourneyState) -> str:
    session = s.session_in_progress()
    return session.session_id if session else _missing_session(s)


def _open(s: JourneyState) -> str:
    """The planned session (scheduled or held), soonest first."""
    planned = sorted(s.open_sessions(), key=lambda x: (x.scheduled_at, x.session_id))
    return planned[0].session_id if planned else _missing_session(s)


def _dosed(s: JourneyState) -> list[DosingSession]:
    """Sessions whose dose was given (in progress or completed), the latest dose first."""
    given = [
        x
        for x in s.sessions.values()
        if x.started_at is not None
        and x.status in (SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED)
    ]
    return sorted(given, key=lambda x: (x.started_at, x.session_id), reverse=True)


def _for_dose(s: JourneyState) -> str:
    """The session whose dose may be recorded: the one in progress, else an unsigned record
    (one without a dose first)."""
    current = s.session_in_progress()
    if current is not None:
        return current.session_id
    unsigned = sorted(s.unsigned_records(), key=lambda x: (x.dose is not None, x.session_id))
    return unsigned[0].session_id if unsigned else _missing_session(s)


def _to_sign(s: JourneyState) -> str:
    """The oldest unsigned record with its dose on record (else any unsigned one)."""
    unsigned = sorted(
        s.unsigned_records(), key=lambda x: (x.dose is None, x.completed_at, x.session_id)
    )
    return unsigned[0].session_id if unsigned else _missing_session(s)


def _signed(s: JourneyState) -> DosingSession | None:
    signed = [x for x in s.sessions.values() if x.record_signed_at is not None]
    return max(signed, key=lambda x: (x.record_signed_at, x.session_id), default=None)


# --- the probes: each decision's candidate shapes, the preferred first ---------------------

_Probe = Callable[[JourneyState, Actor, datetime], list[_Shape]]


def _screening(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    missing = [i for i in baseline_instruments() if i.value not in s.baseline_scores]
    instrument = (missing or list(baseline_instruments()))[0]
    answers = [0] * Instrument(instrument).spec.items
    return [
        _Shape(
            fields={"instrument": instrument.value, "answers": answers}, needs_input=("answers",)
        )
    ]


def _consent(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    fields = {"consent_version": SAMPLE_CONSENT_VERSION, "signed_at": _at(now)}
    return [_Shape(fields=fields, needs_input=("consent_version",))]


def _consultation(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    fields = {"treatment_goals": ["reduce symptoms"], "contraindications": []}
    return [_Shape(fields=fields, needs_input=("treatment_goals", "contraindications"))]


def _clearance(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    return [_Shape(fields={"cleared": True}, needs_input=("cleared",))]


def _nothing(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    return [_Shape()]


def _intake(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    return [_Shape(fields={"scheduled_at": _ahead(now)})]


def _approve(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    expires = _at(now + timedelta(days=PRESCRIPTION_DAYS))
    fields = {"doses_authorized": s.protocol.initial_doses_authorized, "expires_at": expires}
    return [_Shape(fields=fields)]


def _schedule_dosing(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    """A day ahead, or later when the last dose was too recent; sooner when the prescription
    (or the follow-up's date) comes before that."""
    earliest = now
    if s.last_dose_started_at is not None:
        gap = timedelta(hours=s.protocol.min_hours_between_doses)
        earliest = max(now, s.last_dose_started_at + gap)
    preferred = max(_ahead(now), _ceil(earliest))
    candidates = [preferred]
    rx = s.prescription
    if rx is not None:
        limit = rx.expires_at
        if not rx.follow_up_done:
            limit = min(limit, rx.follow_up_due_at)
        if earliest < limit <= preferred:
            candidates.append(earliest + (limit - earliest) / 2)
    session_id = _new_id("s", s.sessions)
    return [_Shape(fields={"session_id": session_id, "scheduled_at": at}) for at in candidates]


def _start_dosing(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    session_id = _open(s)
    session = s.sessions.get(session_id)
    remote = session is not None and session.mode is SessionMode.REMOTE
    fields = {
        "session_id": session_id,
        "vitals": _vitals(s),
        "transport_confirmed": True,
        "chaperone_present": remote,
    }
    asks = ("vitals", "transport_confirmed", *(("chaperone_present",) if remote else ()))
    return [_Shape(fields=fields, needs_input=asks)]


def _session_only(pick: Callable[[JourneyState], str]) -> _Probe:
    def probe(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
        return [_Shape(fields={"session_id": pick(s)})]

    return probe


def _monitoring(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    fields = {
        "session_id": _in_progress(s),
        "vitals": _vitals(s),
        "sedation": "none",
        "dissociation": "none",
    }
    return [_Shape(fields=fields, needs_input=("vitals", "sedation", "dissociation"))]


def _dose(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    fields = {"session_id": _for_dose(s), "dose": SAMPLE_DOSE}
    return [_Shape(fields=fields, needs_input=("dose",))]


def _exception(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    fields = {"session_id": _in_progress(s), "reason": "prescriber_assessed"}
    return [_Shape(fields=fields, needs_input=("reason",))]


def _complete_dosing(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    fields = {
        "session_id": _in_progress(s),
        "vitals": _vitals(s),
        "adverse_events": [],
        "ready_for_discharge": True,
        "transport_confirmed": True,
    }
    asks = ("vitals", "adverse_events", "ready_for_discharge", "transport_confirmed")
    return [_Shape(fields=fields, needs_input=asks)]


def _amend(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    signed = _signed(s)
    session_id = signed.session_id if signed else _missing_session(s)
    dose = signed.dose.model_dump(mode="json") if signed and signed.dose else SAMPLE_DOSE
    fields = {"session_id": session_id, "reason": "correction", "dose": dose}
    return [_Shape(fields=fields, needs_input=("reason", "dose"))]


def _adverse_event(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    dosed = _dosed(s)
    session_id = dosed[0].session_id if dosed else _missing_session(s)
    fields = {"session_id": session_id, "code": "nausea", "severity": "mild"}
    return [_Shape(fields=fields, needs_input=("code", "severity"))]


def _visit(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    """The visits this actor books, the one the stage calls for first."""
    mine = {
        Role.THERAPIST: [VisitKind.PREPARATION, VisitKind.INTEGRATION],
        Role.PRESCRIBER: [VisitKind.PRESCRIBER_FOLLOW_UP],
    }.get(
        actor.role, [VisitKind.PREPARATION, VisitKind.INTEGRATION, VisitKind.PRESCRIBER_FOLLOW_UP]
    )
    if s.stopping is not None or s.stage is Stage.PRESCRIBER_FOLLOW_UP:
        mine.sort(key=lambda k: k is not VisitKind.PRESCRIBER_FOLLOW_UP)
    visit_id = _new_id("v", s.visits)
    at = _ahead(now)
    return [
        _Shape(fields={"visit_id": visit_id, "kind": kind.value, "scheduled_at": at})
        for kind in mine
    ]


def _cancel_visit(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    booked = s.scheduled_visits()
    visit_id = booked[0].visit_id if booked else _new_id("v", s.visits)
    return [_Shape(fields={"visit_id": visit_id})]


def _reassign(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    sample = "clinician-id"
    fields = {"role": Role.THERAPIST.value, "clinician_id": sample}
    if sample == s.therapist_id:
        fields["clinician_id"] = "clinician-id-2"
    return [_Shape(fields=fields, needs_input=("role", "clinician_id"))]


def _follow_up(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    """Continue with a new prescription (the prescriber's choice), else discontinue (all that a
    stopping course or a held one accepts)."""
    expires = _at(now + timedelta(days=PRESCRIPTION_DAYS))
    go_on = {
        "outcome": FollowUpOutcome.CONTINUE.value,
        "additional_doses": s.protocol.follow_up_doses_authorized,
        "expires_at": expires,
    }
    stop = {"outcome": FollowUpOutcome.DISCONTINUE.value}
    return [_Shape(fields=go_on, needs_input=("outcome",)), _Shape(fields=stop)]


def _hold_cleared(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    return [_Shape(fields={"assessment_ref": "assessment-ref"}, needs_input=("assessment_ref",))]


def _defaults(s: JourneyState, actor: Actor, now: datetime) -> list[_Shape]:
    return [_Shape()]  # the command's defaults (its reason codes)


PROBES: dict[str, _Probe] = {
    "record_screening": _screening,
    "record_consent": _consent,
    "complete_consultation": _consultation,
    "record_medical_clearance": _clearance,
    "refer_to_prescriber": _nothing,
    "acknowledge_referral": _nothing,
    "schedule_prescriber_intake": _intake,
    "approve_medication": _approve,
    "decline_medication": _defaults,
    "complete_preparation": _nothing,
    "schedule_dosing": _schedule_dosing,
    "start_dosing": _start_dosing,
    "record_chaperone_check_in": _session_only(_in_progress),
    "record_session_monitoring": _monitoring,
    "record_dose": _dose,
    "grant_discharge_exception": _exception,
    "complete_dosing": _complete_dosing,
    "sign_session_record": _session_only(_to_sign),
    "amend_session_record": _amend,
    "report_adverse_event": _adverse_event,
    "cancel_session": _session_only(_open),
    "schedule_visit": _visit,
    "cancel_visit": _cancel_visit,
    "reassign_clinician": _reassign,
    "complete_integration": _nothing,
    "record_prescriber_follow_up": _follow_up,
    "raise_safety_hold": _defaults,
    "clear_safety_hold": _hold_cleared,
    "pause": _defaults,
    "resume": _nothing,
    "withdraw": _defaults,
    "discharge": _defaults,
}


def _probe(type_: str, shape: _Shape, actor: Actor) -> Command:
    body = {**shape.fields, "type": type_, "decision_id": PROBE_ID, "actor": actor}
    return COMMAND.validate_python(body)


def probes(state: JourneyState, actor: Actor, now: datetime, type_: str) -> list[Command]:
    """The commands tried for `type_` (an offered decision), the preferred first: the offer is
    the first that `decide` accepts; none accepted, none offered."""
    return [_probe(type_, shape, actor) for shape in PROBES[type_](state, actor, now)]


def _accepted(
    state: JourneyState, actor: Actor, now: datetime, rules: Rules, type_: str
) -> Offer | None:
    for shape in PROBES[type_](state, actor, now):
        command = _probe(type_, shape, actor)
        if not isinstance(decide(state, command, now, rules), Rejection):
            # Every field, the defaults too, as JSON: what a form shows and submits.
            fields = command.model_dump(mode="json", exclude=_META)
            return Offer(type=type_, fields=fields, needs_input=shape.needs_input)
    return None


def next_steps(state: JourneyState) -> frozenset[str]:
    """What the journey is waiting on now, in its stage and state (a decision of it may still
    be refused: `available` offers only what `decide` accepts)."""
    s = state
    steps: set[str] = set()
    if s.safety_hold is not None:
        steps.add("clear_safety_hold")
    if s.paused:
        steps.add("resume")
    if s.stopping is not None:
        steps.add("record_prescriber_follow_up")
    if s.session_in_progress() is not None:
        steps |= {
            "record_chaperone_check_in",
            "record_session_monitoring",
            "record_dose",
            "grant_discharge_exception",
            "complete_dosing",
        }
    if s.unsigned_records():
        steps |= {"record_dose", "sign_session_record"}
    if s.stage is Stage.CONSULTATION:
        if any(i.value not in s.baseline_scores for i in baseline_instruments()):
            steps.add("record_screening")
        if s.consent is None:
            steps.add("record_consent")
        steps |= {"complete_consultation", "record_medical_clearance"}
    elif s.stage is Stage.REFERRAL:
        steps |= {"refer_to_prescriber", "acknowledge_referral", "schedule_prescriber_intake"}
    elif s.stage is Stage.MEDICATION_REVIEW:
        steps |= {"approve_medication", "decline_medication"}
    elif s.stage is Stage.PREPARATION:
        steps.add("complete_preparation")
    elif s.stage in (Stage.DOSING, Stage.INTEGRATION, Stage.PRESCRIBER_FOLLOW_UP):
        if s.open_sessions():
            steps.add("start_dosing")
        steps |= {"complete_integration", "schedule_dosing", "record_prescriber_follow_up"}
    return frozenset(steps)


def _offers(state: JourneyState, actor: Actor, now: datetime, rules: Rules) -> Iterator[Offer]:
    steps = next_steps(state)
    for type_ in ORDER:
        offer = _accepted(state, actor, now, rules, type_)
        if offer is not None:
            yield offer.model_copy(update={"next_step": type_ in steps})


def available(
    state: JourneyState | None, actor: Actor, now: datetime, rules: Rules = CURRENT
) -> list[Offer]:
    """The decisions `actor` may take on this journey now, each with a body `decide` accepts:
    the pathway's next steps first, then the rest, each in `ORDER`. None for a journey that is
    not started or is closed."""
    if state is None or state.is_closed:
        return []
    offers = list(_offers(state, actor, now, rules))
    return sorted(offers, key=lambda o: not o.next_step)  # stable: ORDER within each group
