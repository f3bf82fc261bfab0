"""A small driver for domain tests: applies decisions through `decide` and `evolve` on a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from pydantic import TypeAdapter

from domain import Command, Event, JourneyState, Rejection, decide, evolve, fold
from domain.rules import Rules
from domain.vocabulary import Actor, Role

COMMAND = TypeAdapter(Command)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

THERAPIST = Actor(id="th-1", role=Role.THERAPIST)
PRESCRIBER = Actor(id="rx-1", role=Role.PRESCRIBER)
OPS = Actor(id="ops-1", role=Role.OPS)
SYSTEM = Actor(id="carepath", role=Role.SYSTEM)
PHQ9_MODERATE = [2, 2, 1, 1, 1, 2, 1, 2, 0]  # 12, item 9 = 0
GAD7_MODERATE = [2, 2, 2, 1, 1, 1, 2]  # 11
VITALS_OK = {"systolic": 125, "diastolic": 82}
CHECK_OK = {"vitals": VITALS_OK, "sedation": "mild", "dissociation": "none"}
DOSE = {"dose_mg": "50", "route": "intramuscular", "lot": "KET-24-001"}
DISCHARGE_OK = {"vitals": VITALS_OK, "ready_for_discharge": True, "transport_confirmed": True}
_ids = count(1)


def command(type_: str, actor: Actor = THERAPIST, **fields: Any) -> Command:
    data = {"type": type_, "decision_id": f"d-{next(_ids)}", "actor": actor, **fields}
    return COMMAND.validate_python(data)


def decide_with(j: Journey, rules: Rules, type_: str, **fields: Any) -> list[Event] | Rejection:
    """Decide under other rules (a journey's run on an earlier generation); changes nothing."""
    return decide(j.state, command(type_, THERAPIST, **fields), j.now, rules)


class Rejected(AssertionError):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(f"{rejection.code.value}: {rejection.reason}")
        self.rejection = rejection


@dataclass
class Journey:
    now: datetime = T0
    state: JourneyState | None = None
    events: list[Event] = field(default_factory=list)

    def try_(
        self, type_: str, actor: Actor = THERAPIST, /, **fields: Any
    ) -> list[Event] | Rejection:
        result = decide(self.state, command(type_, actor, **fields), self.now)
        if not isinstance(result, Rejection):
            for event in result:
                self.state = evolve(self.state, event)
            self.events.extend(result)
        return result

    def do(self, type_: str, actor: Actor = THERAPIST, /, **fields: Any) -> list[Event]:
        result = self.try_(type_, actor, **fields)
        if isinstance(result, Rejection):
            raise Rejected(result)
        return result

    def reject(self, type_: str, actor: Actor = THERAPIST, /, **fields: Any) -> Rejection:
        before = self.state
        result = self.try_(type_, actor, **fields)
        assert isinstance(result, Rejection), f"{type_} was accepted: {result}"
        assert self.state == before
        return result

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    @property
    def s(self) -> JourneyState:
        assert self.state is not None
        return self.state

    def refolded(self) -> JourneyState | None:
        return fold(self.events)

    # Steps of the pathway, each ending where the next can begin.
    def started(self, **fields: Any) -> Journey:
        self.do(
            "start_journey",
            OPS,
            journey_id="j-1",
            client_id="cl-1",
            therapist_id="th-1",
            prescriber_id="rx-1",
            **fields,
        )
        return self

    def screened(self) -> Journey:
        self.do("record_screening", instrument="phq9", answers=PHQ9_MODERATE)
        self.do("record_screening", instrument="gad7", answers=GAD7_MODERATE)
        self.do("record_consent", consent_version="kap-v3", signed_at=self.now)
        return self

    def eligible(self) -> Journey:
        self.started().screened()
        self.do("complete_consultation", treatment_goals=["reduce depressive symptoms"])
        return self

    def referred(self) -> Journey:
        self.eligible()
        self.do("refer_to_prescriber")
        self.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=self.now + timedelta(days=5))
        return self

    def approved(self, **fields: Any) -> Journey:
        self.referred()
        self.wait(days=5)
        expires = self.now + timedelta(days=120)
        self.do("approve_medication", PRESCRIBER, expires_at=expires, **fields)
        return self

    def prepared(self) -> Journey:
        self.approved()
        self.do("complete_preparation")
        return self

    def monitored(self, session_id: str) -> None:
        """The 40-minute check and the dose on record, 45 minutes after the dose."""
        self.wait(minutes=45)
        self.do("record_session_monitoring", session_id=session_id, **CHECK_OK)
        self.do("record_dose", session_id=session_id, dose=DOSE)

    def discharged(self, session_id: str, **fields: Any) -> None:
        self.do("complete_dosing", session_id=session_id, **(DISCHARGE_OK | fields))

    def dose(self, session_id: str, *, integrate: bool = True, **start: Any) -> None:
        self.do("schedule_dosing", session_id=session_id, scheduled_at=self.now + timedelta(days=2))
        self.wait(days=2)
        fields = {"vitals": {"systolic": 120, "diastolic": 80}, "transport_confirmed": True}
        self.do("start_dosing", session_id=session_id, **(fields | start))
        self.monitored(session_id)
        self.wait(minutes=80)
        self.discharged(session_id)
        self.do("sign_session_record", session_id=session_id)
        if integrate:
            self.wait(days=3)
            self.do("complete_integration")
        self.wait(days=9)
