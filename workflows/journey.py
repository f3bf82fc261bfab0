"""One client's journey as a durable workflow. Thin: every rule is `domain.decide`.

- Decisions arrive as updates (validated by `decide`, answered once their events are stored)
  or signals (fire-and-forget). A repeated decision id returns the first answer.
- Events go to an in-workflow outbox; one flusher appends them in order, a batch at a time.
- One timer waits for the nearest due item (`domain.next_due`), recomputed after every change.
- Notices are sent only after the events that caused them are stored.
- If the store refuses a batch for good, the workflow goes back to what is stored: the
  decisions in it are answered "not recorded", ops are alerted (`CarepathAlert`), and later
  decisions work again. A cancellation from the Temporal UI closes the journey with an event.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.retries import APPEND_RETRY, NOTIFY_RETRY, READ_RETRY, REFERRAL_RETRY

with workflow.unsafe.imports_passed_through():
    from activities.messages import (
        AppendRequest,
        EventEnvelope,
        NotificationRequest,
        ReadRequest,
        ReferralRequest,
    )
    from activities.notify import NotifyActivities
    from activities.referral import REFERRAL_REJECTED, ReferralActivities
    from activities.store import StoreActivities
    from domain import (
        Actor,
        Command,
        DueItem,
        JourneyState,
        Rejection,
        RejectionCode,
        Role,
        decide,
        due,
        evolve,
        next_due,
    )
    from domain.commands import RecordDueReached, RecordEndedOutside, RecordReferralRejected
    from domain.events import ReferralSent
    from domain.notifications import (
        Notice,
        Recipient,
        not_recorded_notice,
        notices,
        undelivered_notice,
    )
    from domain.rules import BEFORE_COURSE_GOVERNANCE, BEFORE_SESSION_SAFETY, CURRENT, Rules
    from domain.view import JourneyView, journey_view
    from domain.vocabulary import EndedHow
    from workflows.details import current_details, not_recorded_details
    from workflows.fingerprints import REUSED, decision_fingerprint
    from workflows.messages import (
        Carried,
        DecisionOutcome,
        DecisionRequest,
        JourneyInput,
    )
    from workflows.rejections import rejection_error
    from workflows.search_attributes import ALERT, values_for

ENGINE = Actor(id="carepath", role=Role.SYSTEM)
RECENT_DECISIONS_KEPT = 500
NOT_RECORDED_ALERT = "not_recorded"
# A run keeps the rules it began with: one begun before issue 12's session-safety rules (no
# marker in its history) replays and goes on under them until it continues as new.
SESSION_SAFETY_PATCH = "session-safety"
COURSE_GOVERNANCE_PATCH = "course-governance"
CLINICIANS = (Recipient.THERAPIST, Recipient.PRESCRIBER)


def _due_decision_id(item: DueItem) -> str:
    return f"due-{item.kind.value}-{item.ref}-{int(item.at.timestamp())}"


def _not_recorded(reason: str) -> ApplicationError:
    return rejection_error(Rejection(code=RejectionCode.NOT_RECORDED, reason=reason))


@workflow.defn(name="Journey")
class JourneyWorkflow:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        self._input = input
        carried = input.carried
        self._state: JourneyState | None = carried.state if carried else None
        self._stored_version = self._state.version if self._state else 0
        # The fold of what the store holds (the outbox is empty when a run continues as new).
        self._stored_state: JourneyState | None = self._state
        self._recent: dict[str, DecisionOutcome] = dict(carried.recent) if carried else {}
        self._in_flight: dict[str, str] = {}  # decision id -> its fingerprint
        # Decisions whose events the store refused (answered "not recorded"), due items given up.
        self._dropped: set[str] = set()
        self._given_up: set[str] = set()
        self._alert: str | None = None
        self._alert_published: str | None = None
        self._refusal: str | None = None  # what the UI's details say of the last refusal
        self._outbox: list[EventEnvelope] = []
        # Effects (notices, the referral) are released once the events behind them are stored.
        self._held: list[tuple[int, Notice | ReferralRequest]] = []
        self._effects: list[Notice | ReferralRequest] = []
        self._decisions_this_run = 0
        self._start_rejected: ApplicationError | None = None
        self._published = ""
        self._resyncing = False
        # Until the run adopts its rules (`_adopt_rules`): only a new journey's start is
        # decided, and it is the same under every generation of the rules.
        self._rules: Rules = CURRENT
        self._rules_adopted = False
        if self._state is None:  # decided here, so updates that race the run see a journey
            try:
                self._apply(input.start)
            except ApplicationError as rejected:
                self._start_rejected = rejected

    # --- deciding -------------------------------------------------------------------

    def _adopt_rules(self) -> None:
        """Which rules this run decides by (`workflow.patched`: deterministic on replay)."""
        if not self._rules_adopted:
            if not workflow.patched(SESSION_SAFETY_PATCH):
                self._rules = BEFORE_SESSION_SAFETY
            elif not workflow.patched(COURSE_GOVERNANCE_PATCH):
                self._rules = BEFORE_COURSE_GOVERNANCE
            else:
                self._rules = CURRENT
            self._rules_adopted = True

    def _apply(self, command: Command) -> list[EventEnvelope]:
        """Decide, fold and queue the events; raise the rejection as a failure."""
        result = decide(self._state, command, workflow.now(), self._rules)
        if isinstance(result, Rejection):
            raise rejection_error(result)
        envelopes: list[EventEnvelope] = []
        state = self._state
        for event in result:
            state = evolve(state, event)
            envelopes.append(
                EventEnvelope(
                    event_id=str(workflow.uuid4()),
                    stream_version=state.version,
                    decision_type=command.type,
                    event=event,
                )
            )
        self._state = state
        self._outbox.extend(envelopes)
        self._publish()
        self._decisions_this_run += 1
        if state is not None:
            caused = [(e.event_id, e.event) for e in envelopes]
            for notice in notices(state, caused, self._rules):
                self._held.append((state.version, notice))
            for envelope in envelopes:
                if isinstance(envelope.event, ReferralSent):
                    referral = ReferralRequest(
                        referral_id=envelope.event_id,
                        client_id=state.client_id,
                        therapist_id=state.therapist_id,
                        prescriber_id=state.prescriber_id,
                        clinic_id=state.clinic_id,
                        sent_at=envelope.event.occurred_at,
                        actor=envelope.event.actor,
                    )
                    self._held.append((envelope.stream_version, referral))
        return envelopes

    def _check_repeat(self, command: Command, fingerprint: str) -> None:
        """A decision id names one decision: reused for another, it is refused."""
        first = self._recent.get(command.decision_id)
        known = first.fingerprint if first else self._in_flight.get(command.decision_id)
        if known is not None and known != fingerprint:
            raise rejection_error(REUSED)

    async def _decide_and_store(self, command: Command) -> DecisionOutcome:
        self._adopt_rules()
        decision_id = command.decision_id
        fingerprint = decision_fingerprint(command)
        self._check_repeat(command, fingerprint)
        if decision_id in self._in_flight:  # the same decision sent twice at once
            await workflow.wait_condition(
                lambda: decision_id in self._recent or decision_id not in self._in_flight
            )
        if decision_id in self._recent:
            return self._recent[decision_id]
        await workflow.wait_condition(lambda: not self._resyncing)
        self._in_flight[decision_id] = fingerprint
        self._dropped.discard(decision_id)
        try:
            envelopes = self._apply(command)
            target = envelopes[-1].stream_version if envelopes else self._stored_version
            await workflow.wait_condition(
                lambda: decision_id in self._dropped or self._stored_version >= target
            )
            if decision_id in self._dropped:
                raise _not_recorded(
                    "the decision could not be recorded and nothing of it was kept (ops are "
                    "alerted); it may be made again with a new decision id"
                )
        finally:
            self._in_flight.pop(decision_id, None)
        outcome = DecisionOutcome(
            decision_id=decision_id,
            events=[e.event.type for e in envelopes],
            view=self._view(),
            fingerprint=fingerprint,
        )
        self._recent[decision_id] = outcome
        while len(self._recent) > RECENT_DECISIONS_KEPT:
            del self._recent[next(iter(self._recent))]
        return outcome

    @workflow.update(name="decide")
    async def decide_update(self, request: DecisionRequest) -> DecisionOutcome:
        return await self._decide_and_store(request.command)

    @decide_update.validator
    def validate_decide(self, request: DecisionRequest) -> None:
        command = request.command
        if command.decision_id in self._recent or command.decision_id in self._in_flight:
            self._check_repeat(command, decision_fingerprint(command))
            return
        result = decide(self._state, command, workflow.now(), self._rules)
        if isinstance(result, Rejection):
            raise rejection_error(result)

    @workflow.signal(name="input")
    async def input_signal(self, request: DecisionRequest) -> None:
        """Fire-and-forget inputs (chaperone check-ins, partner acknowledgements)."""
        try:
            await self._decide_and_store(request.command)
        except Exception as error:  # a rejected signal is dropped, with a log line
            workflow.logger.info(
                "input signal rejected",
                extra={"decision": request.command.type, "error": type(error).__name__},
            )

    def _publish(self) -> None:
        """Keep the UI's search attributes and current details in step with the state."""
        if self._state is None:
            return
        view = journey_view(self._state, workflow.now(), self._rules)
        updates = values_for(self._state, view.overdue, self._rules)
        if self._alert is not None:
            updates.append(ALERT.value_set(self._alert))
        elif self._alert_published is not None:  # never unset what was never set (replay)
            updates.append(ALERT.value_unset())
        fingerprint = repr([(u.key.name, getattr(u, "value", None)) for u in updates])
        if self._input.search_attributes and fingerprint != self._published:
            workflow.upsert_search_attributes(updates)
            self._published = fingerprint
            self._alert_published = self._alert
        details = current_details(view)
        if self._refusal is not None:
            details = f"{self._refusal}\n\n{details}"
        workflow.set_current_details(details)

    # --- queries --------------------------------------------------------------------

    def _view(self) -> JourneyView:
        assert self._state is not None
        return journey_view(self._state, workflow.now(), self._rules)

    @workflow.query(name="view")
    def view(self) -> JourneyView:
        return self._view()

    @workflow.query(name="state")
    def state(self) -> JourneyState | None:
        return self._state

    @workflow.query(name="rules")
    def rules(self) -> Rules:
        """The generation of the rules this run decides by."""
        return self._rules

    @workflow.query(name="outcome")
    def outcome(self, decision_id: str) -> DecisionOutcome | None:
        """The answer given to a recent decision (also after the journey closed)."""
        return self._recent.get(decision_id)

    @workflow.query(name="due")
    def due_items(self) -> list[DueItem]:
        return due(self._state, self._rules)

    # --- the loops ------------------------------------------------------------------

    async def _flush_outbox(self) -> None:
        """One append in flight at a time; a batch of whatever is pending."""
        info = workflow.info()
        while True:
            await workflow.wait_condition(lambda: bool(self._outbox))
            batch = list(self._outbox)
            assert self._state is not None
            request = AppendRequest(
                stream_id=self._state.journey_id,
                expected_version=self._stored_version,
                events=batch,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            )
            summary = f"record {len(batch)} event(s)"
            try:
                if self._input.append_mode == "local":
                    await workflow.execute_local_activity_method(
                        StoreActivities.append_events,
                        request,
                        start_to_close_timeout=timedelta(seconds=15),
                        retry_policy=APPEND_RETRY,
                        summary=summary,
                    )
                else:
                    await workflow.execute_activity_method(
                        StoreActivities.append_events,
                        request,
                        start_to_close_timeout=timedelta(seconds=15),
                        retry_policy=APPEND_RETRY,
                        summary=summary,
                    )
            except ActivityError as error:
                await self._resync(error)
                continue
            del self._outbox[: len(batch)]
            for envelope in batch:
                self._stored_state = evolve(self._stored_state, envelope.event)
            self._stored_version = batch[-1].stream_version
            if self._alert is not None:  # recording works again
                self._alert = None
                self._publish()
            stored = self._stored_version
            self._effects.extend(effect for v, effect in self._held if v <= stored)
            self._held = [(v, effect) for v, effect in self._held if v > stored]

    async def _resync(self, error: ActivityError) -> None:
        """The store refused the batch for good: go back to what it holds, and say so.

        Every decision still in the outbox is answered "not recorded" (later ones were decided
        on top of the refused ones); effects not yet released are dropped; the state becomes
        the fold of the stored stream, read back from the store (a reset run or another writer
        may have moved it on).
        """
        self._resyncing = True
        cause = error.cause
        kind = (cause.type if isinstance(cause, ApplicationError) else None) or type(cause).__name__
        refused = list(self._outbox)
        self._outbox.clear()
        self._held.clear()
        self._state = self._stored_state
        stream_id = (self._stored_state or self._state or self._input.start).journey_id
        stored = await workflow.execute_activity_method(
            StoreActivities.read_events,
            ReadRequest(stream_id=stream_id, after_version=self._stored_version),
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=READ_RETRY,
            summary="read back what is stored",
        )
        for envelope in stored.events:
            self._stored_state = evolve(self._stored_state, envelope.event)
            self._stored_version = envelope.stream_version
        self._state = self._stored_state
        for envelope in refused:  # answered only now, when the workflow equals the store
            decision_id = envelope.event.decision_id
            if decision_id is not None:
                self._dropped.add(decision_id)
                if decision_id.startswith("due-"):
                    self._given_up.add(decision_id)
        types = sorted({e.decision_type or e.event.type for e in refused})
        workflow.logger.warning(
            "events refused by the store: back to what is stored",
            extra={"error": kind, "decisions": types, "stored_version": self._stored_version},
        )
        self._refusal = not_recorded_details(workflow.now(), types, kind, self._stored_version)
        self._alert = NOT_RECORDED_ALERT
        if self._state is not None:
            self._effects.append(not_recorded_notice(self._state, str(workflow.uuid4())))
        self._publish()
        self._resyncing = False

    async def _perform_effects(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._effects))
            effect = self._effects[0]
            if isinstance(effect, ReferralRequest):
                await self._refer(effect)
            else:
                await self._notify(effect)
            self._effects.pop(0)

    async def _notify(self, notice: Notice) -> None:
        assert self._state is not None
        try:
            await workflow.execute_activity_method(
                NotifyActivities.send_notification,
                NotificationRequest(
                    client_id=self._state.client_id,
                    journey_id=workflow.info().workflow_id,
                    notice=notice,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=24),
                retry_policy=NOTIFY_RETRY,
                summary=f"notify {notice.recipient.value}: {notice.template.value}",
            )
        except ActivityError as error:
            failure = {"template": notice.template.value, "error": type(error.cause).__name__}
            workflow.logger.warning("notice not sent", extra=failure)
            if self._rules.session_safety and notice.recipient in CLINICIANS:
                # No channel reached the clinician (it is still in their alert list): ops next.
                self._effects.append(undelivered_notice(self._state, notice))

    async def _refer(self, referral: ReferralRequest) -> None:
        try:
            await workflow.execute_activity_method(
                ReferralActivities.send_referral,
                referral,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(days=2),
                retry_policy=REFERRAL_RETRY,
                summary="send the referral to the prescriber",
            )
        except ActivityError as error:
            cause = error.cause
            reason = "partner_rejected"
            if not (isinstance(cause, ApplicationError) and cause.type == REFERRAL_REJECTED):
                reason = "partner_unreachable"
            rejected = RecordReferralRejected(
                decision_id=f"referral-rejected-{referral.referral_id}", actor=ENGINE, reason=reason
            )
            try:
                await self._decide_and_store(rejected)
            except ApplicationError:
                workflow.logger.info("referral failure no longer applies")

    def _quiet(self) -> bool:
        return (
            not self._outbox
            and not self._resyncing
            and not self._held
            and not self._effects
            and not self._in_flight
            and workflow.all_handlers_finished()
        )

    def _changed_since(self, version: int) -> bool:
        state = self._state
        return state is None or state.version != version or self._should_continue_as_new()

    def _should_continue_as_new(self) -> bool:
        return (
            self._decisions_this_run >= self._input.decisions_per_run
            or workflow.info().is_continue_as_new_suggested()
        )

    async def _fire(self, item: DueItem) -> None:
        command = RecordDueReached(
            decision_id=_due_decision_id(item),
            actor=ENGINE,
            kind=item.kind,
            ref=item.ref,
            due_at=item.at,
        )
        try:
            await self._decide_and_store(command)
        except Exception as error:  # stale: the state moved on; the loop recomputes
            skipped = {"kind": item.kind.value, "error": type(error).__name__}
            workflow.logger.info("due item skipped", extra=skipped)

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyView:
        if self._start_rejected is not None:
            raise self._start_rejected
        self._adopt_rules()
        tasks = [
            asyncio.create_task(self._flush_outbox()),
            asyncio.create_task(self._perform_effects()),
        ]
        try:
            while self._state is not None and not self._state.is_closed:
                if self._should_continue_as_new():
                    await workflow.wait_condition(self._quiet)
                    workflow.continue_as_new(
                        JourneyInput(
                            start=input.start,
                            carried=Carried(state=self._state, recent=self._recent),
                            decisions_per_run=input.decisions_per_run,
                            append_mode=input.append_mode,
                            search_attributes=input.search_attributes,
                        )
                    )
                self._publish()
                item = next_due(self._state, self._rules)
                if item is not None and _due_decision_id(item) in self._given_up:
                    item = None  # its events were refused: wait for the next change instead
                version = self._state.version
                if item is not None and item.at <= workflow.now():
                    await self._fire(item)
                    continue
                timeout = (item.at - workflow.now()).total_seconds() if item else None
                try:
                    await workflow.wait_condition(
                        lambda v=version: self._changed_since(v),  # type: ignore[misc]
                        timeout=timeout,
                        timeout_summary=f"next due: {item.kind.value}" if item else None,
                    )
                except TimeoutError:
                    if item is not None:
                        await self._fire(item)
            await workflow.wait_condition(self._quiet)
        except asyncio.CancelledError:
            await self._end_outside(EndedHow.CANCELLED)
            raise
        finally:
            for task in tasks:
                task.cancel()
        if self._state is None:
            raise ApplicationError(
                "the journey's start could not be recorded", type="NotRecorded", non_retryable=True
            )
        return self._view()

    async def _end_outside(self, how: EndedHow) -> None:
        """Cancelled from outside (the Temporal UI): record the close, release its effects."""
        if self._state is None or self._state.is_closed:
            await workflow.wait_condition(self._quiet)
            return
        command = RecordEndedOutside(
            decision_id=f"ended-{how.value}-{workflow.info().run_id}", actor=ENGINE, how=how
        )
        try:
            await self._decide_and_store(command)
        except ApplicationError as error:
            workflow.logger.warning(
                "close after cancellation not recorded", extra={"error": error.type}
            )
        await workflow.wait_condition(self._quiet)
