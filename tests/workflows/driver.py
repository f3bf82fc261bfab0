"""Drives journeys through the real workflow: decisions as updates, like the API will."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from database.pgtypes import Pool
from domain import Actor, Command, Rejection, Role
from domain.commands import StartJourney
from domain.ids import journey_workflow_id
from tests.temporal import terminate_if_running
from workflows.journey import JourneyWorkflow
from workflows.messages import DecisionOutcome, DecisionRequest, JourneyInput
from workflows.rejections import rejection_from_error

COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
THERAPIST = Actor(id="th-1", role=Role.THERAPIST)
PRESCRIBER = Actor(id="rx-1", role=Role.PRESCRIBER)
OPS = Actor(id="ops-1", role=Role.OPS)
SYSTEM = Actor(id="partner", role=Role.SYSTEM)
VITALS = {"systolic": 122, "diastolic": 80}
CHECK: dict[str, Any] = {"vitals": VITALS, "sedation": "mild", "dissociation": "none"}
DOSE: dict[str, Any] = {"dose_mg": "50", "route": "intramuscular", "lot": "KET-24-001"}
DISCHARGE: dict[str, Any] = {
    "vitals": VITALS,
    "ready_for_discharge": True,
    "transport_confirmed": True,
}


class Rejected(AssertionError):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.reason)
        self.rejection = rejection


@dataclass
class Journey:
    handle: WorkflowHandle[JourneyWorkflow, Any]
    client_id: str
    journey_id: str  # the journey's event stream
    env: WorkflowEnvironment
    decisions: list[str] = field(default_factory=list)

    async def decide(
        self, type_: str, actor: Actor = THERAPIST, /, decision_id: str | None = None, **fields: Any
    ) -> DecisionOutcome:
        decision_id = decision_id or f"d-{uuid.uuid4().hex[:12]}"
        command = COMMAND.validate_python(
            {"type": type_, "decision_id": decision_id, "actor": actor, **fields}
        )
        try:
            outcome: DecisionOutcome = await self.handle.execute_update(
                "decide",
                DecisionRequest(command=command),
                id=decision_id,
                result_type=DecisionOutcome,
            )
        except WorkflowUpdateFailedError as error:
            rejection = rejection_from_error(error)
            if rejection is None:
                raise
            raise Rejected(rejection) from error
        self.decisions.append(decision_id)
        return outcome

    async def signal(self, type_: str, actor: Actor = SYSTEM, /, **fields: Any) -> None:
        command = COMMAND.validate_python(
            {"type": type_, "decision_id": f"s-{uuid.uuid4().hex[:12]}", "actor": actor, **fields}
        )
        await self.handle.signal("input", DecisionRequest(command=command))

    async def now(self) -> Any:
        return await self.env.get_current_time()

    async def wait(self, **delta: float) -> None:
        await self.env.sleep(timedelta(**delta))

    # Steps of the pathway, for tests that need a journey at a later stage.
    async def to_eligible(self) -> None:
        await self.decide(
            "record_screening", instrument="phq9", answers=[2, 2, 1, 1, 1, 2, 1, 2, 0]
        )
        await self.decide("record_screening", instrument="gad7", answers=[2, 2, 2, 1, 1, 1, 2])
        await self.decide("record_consent", consent_version="kap-v3", signed_at=await self.now())
        await self.decide("complete_consultation", treatment_goals=["feel less low"])

    async def to_preparation_done(self) -> None:
        await self.to_eligible()
        await self.decide("refer_to_prescriber")
        intake = await self.now() + timedelta(days=3)
        await self.decide("schedule_prescriber_intake", PRESCRIBER, scheduled_at=intake)
        await self.wait(days=3)  # approval happens at the intake
        expires = await self.now() + timedelta(days=120)
        await self.decide("approve_medication", PRESCRIBER, expires_at=expires)
        await self.decide("complete_preparation")

    async def start_session(self, session_id: str, *, remote: bool = False, days: int = 2) -> None:
        """Schedule a dosing session `days` ahead, wait for it, and give the dose."""
        mode = {"mode": "remote", "chaperone_id": "ch-1"} if remote else {}
        when = await self.now() + timedelta(days=days)
        await self.decide("schedule_dosing", session_id=session_id, scheduled_at=when, **mode)
        await self.wait(days=days)
        await self.decide(
            "start_dosing",
            session_id=session_id,
            vitals=VITALS,
            transport_confirmed=True,
            chaperone_present=remote,
        )

    async def monitor_and_discharge(self, session_id: str, *, sign: bool = True) -> None:
        """From a dose just started: the 40-minute check, the dose on record, the discharge."""
        await self.wait(minutes=45)
        await self.decide("record_session_monitoring", session_id=session_id, **CHECK)
        await self.decide("record_dose", session_id=session_id, dose=DOSE)
        await self.wait(minutes=80)
        await self.decide("complete_dosing", session_id=session_id, **DISCHARGE)
        if sign:
            await self.decide("sign_session_record", session_id=session_id)


@dataclass
class JourneyDriver:
    env: WorkflowEnvironment
    task_queue: str
    pool: Pool
    started: list[WorkflowHandle[JourneyWorkflow, Any]] = field(default_factory=list)

    async def terminate_all(self) -> None:
        """Leave no journey running for the next test (the time-skipping server is shared)."""
        for workflow_id in {h.id for h in self.started}:
            await terminate_if_running(self.env.client.get_workflow_handle(workflow_id))

    async def start(self, client_id: str | None = None, **input_fields: Any) -> Journey:
        client_id = client_id or f"cl-{uuid.uuid4().hex[:10]}"
        journey_id = f"j-{uuid.uuid4().hex[:12]}"
        start = StartJourney(
            decision_id=f"start-{client_id}",
            actor=OPS,
            journey_id=journey_id,
            client_id=client_id,
            therapist_id="th-1",
            prescriber_id="rx-1",
        )
        handle = await self.env.client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(start=start, **({"search_attributes": False} | input_fields)),
            id=journey_workflow_id(client_id, start.clinic_id),
            task_queue=self.task_queue,
        )
        self.started.append(handle)
        return Journey(handle, client_id, journey_id, self.env)
