"""Clients driving journeys: a bounded number of callers, each decision with a client-made
decision id, sent again with the SAME id after a timeout or while a part is down (the workflow
answers a repeat with its first answer). Every decision and its answer go to a ledger that the
checks compare with the event store afterwards.

The client keeps its own picture of each journey: the fold of the events `domain.decide`
predicts for the decisions it was told were accepted. It chooses the next decision from it
(chaos.pathway) and notes whether each answer is the one the domain predicts. A mismatch is
reported, and the picture is taken again from the workflow's `state` query.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from chaos.pathway import Cast, Plan, Step, chaos_protocol, choose
from chaos.timeline import Timeline
from database.pgtypes import Pool
from domain import Actor, Command, JourneyState, Rejection, RejectionCode, Role, decide, evolve
from domain.commands import StartJourney
from domain.ids import DEFAULT_CLINIC, journey_workflow_id
from privacy.keys import KeyRing
from records.clients import upsert_client
from workflows.journey import JourneyWorkflow
from workflows.messages import DecisionOutcome, DecisionRequest, JourneyInput
from workflows.rejections import rejection_from_error

# How long a client waits for an answer before it sends the same decision again (same
# decision id), drawn per attempt: clients differ in patience (the API waits 30 s).
ATTEMPT_TIMEOUT = (3.0, 15.0)
QUERY_TIMEOUT = 10.0
Via = Literal["start", "update", "signal"]
Answer = Literal[
    "pending", "accepted", "rejected", "failed", "unanswered", "delivered", "undelivered"
]
T = TypeVar("T")
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


@dataclass
class Record:
    """One decision the client made, and what it was told."""

    client_id: str
    stream_id: str  # the journey's event stream
    decision_id: str
    type: str
    via: Via
    misfire: bool
    predicted: list[str] | None  # event types the domain predicts; None: a rejection
    predicted_code: str | None
    answer: Answer = "pending"
    events: list[str] = field(default_factory=list)  # the types in the answer
    code: str | None = None  # the rejection's code
    attempts: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # why attempts were repeated
    seconds: float = 0.0
    agrees: bool = True  # the answer is the one the domain predicts
    repeats: int = 0  # sent again after its answer (a double click): same answer expected
    repeat_differs: list[str] = field(default_factory=list)
    note: str = ""

    def summary(self) -> str:
        return f"{self.decision_id} ({self.type} via {self.via}) on {self.stream_id}"


@dataclass
class Journey:
    plan: Plan
    handle: WorkflowHandle[Any, Any] | None = None
    picture: JourneyState | None = None  # the client's own fold
    status: str = "new"  # new, active, closed, in_session, done, stuck
    rest: float = 0.0  # seconds to leave it alone after the last step
    records: list[Record] = field(default_factory=list)

    @property
    def client_id(self) -> str:
        return self.plan.client_id

    @property
    def stream_id(self) -> str:
        return self.plan.journey_id

    @property
    def workflow_id(self) -> str:
        return journey_workflow_id(self.plan.client_id, DEFAULT_CLINIC)


class Driver:
    def __init__(
        self,
        client: Client,
        pool: Pool,
        keys: KeyRing,
        task_queue: str,
        timeline: Timeline,
        *,
        seed: int,
        in_play: int,
        callers: int,
        staff: dict[str, list[str]],
        give_up_after: float,
    ) -> None:
        self.client = client
        self.pool = pool
        self.keys = keys
        self.task_queue = task_queue
        self.timeline = timeline
        self.seed = seed
        self.in_play = in_play
        self.callers = callers
        self.staff = staff
        self.give_up_after = give_up_after
        self.jitter = random.Random()  # retry back-off only (timing, not content)
        self.journeys: list[Journey] = []
        self.errors: Counter[str] = Counter()
        self.harness_errors: list[str] = []
        self._deadline = 0.0
        self._ready: asyncio.Queue[Journey] = asyncio.Queue()
        self.resyncs = 0

    # --- the run -------------------------------------------------------------------------

    def _time_up(self) -> bool:
        return time.monotonic() >= self._deadline

    def _new_journey(self) -> Journey:
        n = len(self.journeys)
        client_id = f"cl-chaos{self.seed}-{n:04d}"
        rng = random.Random(f"{self.seed}:{n}")  # the journey's script: same seed, same script
        cast = Cast(
            therapist=_actor("therapist", rng.choice(self.staff["therapist"])),
            prescriber=_actor("prescriber", rng.choice(self.staff["prescriber"])),
            ops=_actor("ops", rng.choice(self.staff["ops"])),
        )
        plan = Plan(
            client_id=client_id,
            journey_id=f"j-{client_id}",
            cast=cast,
            rng=rng,
            protocol=chaos_protocol(rng),
            decisions_per_run=rng.choice([4, 8, 1000, 1000]),
            pcl5=rng.random() < 0.3,
            max_check_ins=rng.randint(1, 3),
        )
        journey = Journey(plan)
        self.journeys.append(journey)
        return journey

    async def run(self, duration: float) -> None:
        self._deadline = time.monotonic() + duration
        for _ in range(self.in_play):
            self._ready.put_nowait(self._new_journey())
        await asyncio.gather(*(self._caller() for _ in range(self.callers)))

    async def _caller(self) -> None:
        while not self._time_up():
            try:
                journey = self._ready.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.05)
                continue
            try:
                keep = await self._step(journey)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the harness's own failure: reported, not hidden
                keep = False
                journey.status = "stuck"
                self.harness_errors.append(
                    f"{journey.client_id}: {type(error).__name__}: {error}"[:300]
                )
            if keep and journey.rest > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(journey.rest, self._ready.put_nowait, journey)
            elif keep:
                self._ready.put_nowait(journey)
            elif not self._time_up():
                self._ready.put_nowait(self._new_journey())

    async def _step(self, j: Journey) -> bool:
        if j.handle is None:
            return await self._start(j)
        assert j.picture is not None
        now = datetime.now(UTC)
        step = choose(j.picture, j.plan, now)
        if step is None:
            j.status = _resting(j.picture)
            return False
        predicted = decide(j.picture, step.command, now)
        record = self._record(j, step, predicted)
        began = time.monotonic()
        if step.via == "signal":
            await self._signal(j, record, step.command)
        else:
            await self._update(j, record, step.command)
        record.seconds = time.monotonic() - began
        j.rest = step.rest
        await self._after_answer(j, record, predicted)
        if record.answer == "accepted" and j.plan.rng.random() < 0.04:
            await self._repeat(j, record, step.command)
        if record.answer in ("unanswered", "failed"):
            j.status = "stuck"
            return False
        return True

    def _record(self, j: Journey, step: Step, predicted: list[Any] | Rejection) -> Record:
        record = Record(
            client_id=j.client_id,
            stream_id=j.stream_id,
            decision_id=step.command.decision_id,
            type=step.command.type,
            via=step.via,
            misfire=step.misfire,
            predicted=None if isinstance(predicted, Rejection) else [e.type for e in predicted],
            predicted_code=predicted.code.value if isinstance(predicted, Rejection) else None,
        )
        j.records.append(record)
        return record

    async def _after_answer(
        self, j: Journey, record: Record, predicted: list[Any] | Rejection
    ) -> None:
        if record.answer == "accepted":
            record.agrees = record.predicted == record.events
        elif record.answer == "rejected":
            record.agrees = record.predicted is None and record.predicted_code == record.code
        elif record.answer == "delivered":
            record.agrees = True  # checked against the store afterwards
        else:
            record.agrees = False
        if record.agrees and not isinstance(predicted, Rejection):
            picture = j.picture
            for event in predicted:
                picture = evolve(picture, event)
            j.picture = picture
        elif not record.agrees:
            state = await self._query_state(j)
            self.resyncs += 1
            if state is not None:
                j.picture = state
        if j.picture is not None and j.picture.is_closed:
            j.status = "closed"

    async def _repeat(self, j: Journey, record: Record, command: Command) -> None:
        """The same decision again (a double click): the first answer must come back."""
        first = record.events
        again = Record(
            client_id=j.client_id,
            stream_id=j.stream_id,
            decision_id=record.decision_id,
            type=record.type,
            via="update",
            misfire=record.misfire,
            predicted=record.predicted,
            predicted_code=record.predicted_code,
        )
        await self._update(j, again, command)
        record.repeats += 1
        if again.answer != "accepted" or again.events != first:
            record.repeat_differs.append(f"{again.answer} {again.events} {again.code}")

    # --- starting a journey --------------------------------------------------------------

    async def _start(self, j: Journey) -> bool:
        plan = j.plan
        n = len(self.journeys)
        start = StartJourney(
            decision_id=f"start-{plan.journey_id}",
            actor=plan.cast.ops,
            journey_id=plan.journey_id,
            client_id=plan.client_id,
            therapist_id=plan.cast.therapist.id,
            prescriber_id=plan.cast.prescriber.id,
            protocol=plan.protocol,
        )
        now = datetime.now(UTC)
        predicted = decide(None, start, now)
        record = self._record(j, Step(start), predicted)
        record.via = "start"
        began = time.monotonic()

        async def contact() -> None:
            await upsert_client(
                self.pool,
                plan.client_id,
                display_name=f"Client {n}",
                email=f"{plan.client_id}@clients.example",
                phone=None,
                keys=self.keys,
                clinic_id=DEFAULT_CLINIC,  # the plans' journeys start in it
            )

        if not await self._retry_db(record, contact):
            return False
        journey_input = JourneyInput(start=start, decisions_per_run=plan.decisions_per_run)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.give_up_after
        while True:
            record.attempts += 1
            try:
                await within(
                    self.client.start_workflow(
                        JourneyWorkflow.run,
                        journey_input,
                        id=j.workflow_id,
                        task_queue=self.task_queue,
                        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    ),
                    self._patience(),
                )
                break
            except Exception as error:
                if not self._retryable(record, error) or loop.time() > give_up:
                    record.answer = "unanswered"
                    record.note = f"start failed: {type(error).__name__}: {error}"[:300]
                    j.status = "stuck"
                    return False
                await self._pause(record.attempts)
        record.answer = "accepted"
        record.events = ["journey_started"]
        record.seconds = time.monotonic() - began
        assert not isinstance(predicted, Rejection)
        record.agrees = record.events == record.predicted
        picture = None
        for event in predicted:
            picture = evolve(picture, event)
        j.picture = picture
        j.handle = self.client.get_workflow_handle(j.workflow_id)  # follows continue-as-new
        j.status = "active"
        return True

    async def _retry_db(self, record: Record, action: Any) -> bool:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.give_up_after
        attempt = 0
        while True:
            attempt += 1
            try:
                await action()
                return True
            except DB_ERRORS as error:
                kind = f"db_{type(error).__name__}"
                record.errors[kind] += 1
                self.errors[kind] += 1
                if loop.time() > give_up:
                    record.answer = "unanswered"
                    record.note = f"contact details not stored: {type(error).__name__}"
                    return False
                await self._pause(attempt)

    # --- sending decisions ---------------------------------------------------------------

    def _retryable(self, record: Record, error: BaseException) -> bool:
        """Count why an attempt failed; True if a client would send the same decision again."""
        if isinstance(error, TimeoutError | WorkflowUpdateRPCTimeoutOrCancelledError):
            kind = "timeout"
        elif isinstance(error, RPCError):
            kind = f"rpc_{error.status.name}"
        elif isinstance(error, RuntimeError) and "connect" in str(error):
            kind = "connect"
        else:
            kind = f"error_{type(error).__name__}"
            record.errors[kind] += 1
            self.errors[kind] += 1
            return False
        record.errors[kind] += 1
        self.errors[kind] += 1
        return True

    def _patience(self) -> float:
        return self.jitter.uniform(*ATTEMPT_TIMEOUT)

    async def _pause(self, attempt: int) -> None:
        await asyncio.sleep(min(0.25 * 2 ** min(attempt, 6), 4.0) * self.jitter.uniform(0.5, 1.5))

    async def _update(self, j: Journey, record: Record, command: Command) -> None:
        assert j.handle is not None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.give_up_after
        request = DecisionRequest(command=command)
        while True:
            record.attempts += 1
            try:
                outcome: DecisionOutcome = await within(
                    j.handle.execute_update(
                        "decide", request, id=command.decision_id, result_type=DecisionOutcome
                    ),
                    self._patience(),
                )
                record.answer, record.events = "accepted", list(outcome.events)
                return
            except WorkflowUpdateFailedError as error:
                rejection = rejection_from_error(error)
                if rejection is not None:
                    record.answer, record.code = "rejected", rejection.code.value
                    return
                record.answer = "failed"
                record.note = f"update failed: {_cause(error)}"
                return
            except Exception as error:
                if not self._retryable(record, error):
                    record.answer = "failed"
                    record.note = f"{type(error).__name__}: {error}"[:300]
                    return
                closed = isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND
                if closed and await self._answered_after_close(j, record):
                    return
            if loop.time() > give_up:
                record.answer = "unanswered"
                return
            await self._pause(record.attempts)

    async def _answered_after_close(self, j: Journey, record: Record) -> bool:
        """NOT_FOUND: the run has closed. A closed journey answers a repeat from its `outcome`
        query (what the API does); otherwise the update met a continue-as-new: send again."""
        assert j.handle is not None
        try:
            first: DecisionOutcome | None = await j.handle.query(
                "outcome",
                record.decision_id,
                result_type=DecisionOutcome | None,  # type: ignore[arg-type]
                rpc_timeout=_seconds(QUERY_TIMEOUT),
            )
            if first is not None:
                record.answer, record.events = "accepted", list(first.events)
                record.note = "answered by the outcome query after the journey closed"
                return True
            status = await self.workflow_status(j.workflow_id)
        except Exception as error:
            self._retryable(record, error)
            return False
        if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED:
            record.answer, record.code = "rejected", RejectionCode.CLOSED.value
            record.note = "the journey had closed"
            return True
        record.errors["not_found_on_open_journey"] += 1
        self.errors["not_found_on_open_journey"] += 1
        return False

    async def _signal(self, j: Journey, record: Record, command: Command) -> None:
        assert j.handle is not None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.give_up_after
        while True:
            record.attempts += 1
            try:
                await within(
                    j.handle.signal("input", DecisionRequest(command=command)),
                    self._patience(),
                )
                record.answer = "delivered"
                return
            except Exception as error:
                if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
                    record.answer = "undelivered"
                    record.note = "the journey had closed"
                    return
                if not self._retryable(record, error) or loop.time() > give_up:
                    record.answer = "undelivered"
                    record.note = f"{type(error).__name__}: {error}"[:300]
                    return
            await self._pause(record.attempts)

    # --- reading the workflow ------------------------------------------------------------

    async def _query_state(self, j: Journey, within: float = 90.0) -> JourneyState | None:
        state = await query_state(self.client, j.workflow_id, within)
        return state

    async def workflow_status(self, workflow_id: str) -> WorkflowExecutionStatus.ValueType:
        status: WorkflowExecutionStatus.ValueType = (
            await describe(self.client, workflow_id)
        ).workflow_execution_info.status
        return status


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """`asyncio.wait_for`, and the abandoned call's error is taken (not logged as unretrieved)."""
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(_taken)
    return await asyncio.wait_for(task, seconds)


def _taken(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def describe(client: Client, workflow_id: str) -> Any:
    """The raw description of the workflow's latest run (no search attribute decoding)."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    return await client.workflow_service.describe_workflow_execution(
        request, timeout=_seconds(QUERY_TIMEOUT)
    )


async def query_state(client: Client, workflow_id: str, within: float) -> JourneyState | None:
    """The workflow's `state` query, asked again while the worker or the server is down."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    handle = client.get_workflow_handle(workflow_id)
    while True:
        try:
            state: JourneyState | None = await handle.query(
                JourneyWorkflow.state, rpc_timeout=_seconds(QUERY_TIMEOUT)
            )
            return state
        except Exception:
            if loop.time() > give_up:
                return None
            await asyncio.sleep(1.0)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _cause(error: BaseException) -> str:
    parts = []
    current: BaseException | None = error
    while current is not None:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__
    return " <- ".join(parts)[:300]


def _actor(role: str, actor_id: str) -> Actor:
    return Actor(id=actor_id, role=Role(role))


def _resting(state: JourneyState) -> str:
    if state.is_closed:
        return "closed"
    if state.session_in_progress() is not None:
        return "in_session"
    return "done"
