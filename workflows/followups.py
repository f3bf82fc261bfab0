"""After a course that gave a dose: outcome check-ins, maintenance reminders; the daily digest.

- `FollowUpSweep` (a daily schedule, `workflows/schedules.py`): finds each client's latest
  journey closed `completed`, or `discharged` after at least one dose (not `withdrawn`, not a
  course that gave none; the caseload projection's `finished_courses`), whose check-ins or
  maintenance interval have come due, and starts what is missing. Idempotent: a check-in starts
  once (`followup-<journey id>-<check-in>`, recorded in `follow_up_check_ins`), a maintenance
  reminder is sent once per journey and interval.
- `FollowUpCheckIn`: invites the client to a PHQ-9 and GAD-7 check-in, reminds once a day up to
  three times, records and scores the answers (update `answer`), escalates PHQ-9 item 9 > 0 to
  the therapist at once and tells the client's survey to show crisis resources, and records
  what was not answered as missed. The escalation is kept in the therapist's alert list before
  the answer returns (`alert_recorded`): only then does the survey say the therapist was told.
- `DailyDigest` (a daily schedule): each clinician's overdue journeys and safety holds, ids only.

Workflow ids, logs, summaries and results hold opaque ids, codes and counts: never PHI.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.retries import DB_RETRY, DIGEST_RETRY, NOTIFY_RETRY, SWEEP_RETRY

with workflow.unsafe.imports_passed_through():
    from activities.followups import (
        CHECK_IN_WORKFLOW,
        CheckInInput,
        CheckInRecord,
        CompletedJourney,
        DigestOutcome,
        DigestRequest,
        FollowUpActivities,
        MaintenanceDue,
        StartCheckIns,
        StartedCheckIns,
        SweepRequest,
        maintenance_key,
    )
    from activities.messages import NotificationRequest
    from activities.notify import NotifyActivities
    from domain.followups import MAINTENANCE_REMINDERS
    from domain.ids import journey_workflow_id
    from domain.instruments import InstrumentError, Score, score
    from domain.notifications import Notice, Recipient, Template
    from domain.vocabulary import Instrument

REMINDERS_AT_ONCE = 20  # maintenance reminders sent side by side
# Check-ins that answered before it never recorded the alert in the update: they replay as they ran.
SURVEY_ALERT_PATCH = "survey-alert-recorded"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SweepInput(_Message):
    # A check-in not started within this many days of its time is not started at all.
    grace_days: int = Field(default=7, ge=1, le=60)
    limit: int = Field(default=500, ge=1, le=2000)  # per run and kind; the rest the next day
    # Maintenance reminders after a course: one per interval, this many in all.
    maintenance_reminders: int = Field(default=MAINTENANCE_REMINDERS, ge=0, le=100)


class SweepOutcome(_Message):
    check_ins_running: list[str]  # workflow ids started (or found running)
    check_ins_finished: list[str]  # already run before: not started again
    maintenance_reminders: int


class SurveyAnswers(_Message):
    """The client's answers, per instrument (one or several at a time)."""

    answers: dict[Instrument, list[int]] = Field(min_length=1)


class SurveyReceipt(_Message):
    """What the client's survey shows next. Never a score."""

    answered: list[Instrument]
    outstanding: list[Instrument]
    crisis_resources: bool  # show crisis resources now (an answer asked for a safety review)
    # The escalation is in the therapist's alert list: only then may the survey say the
    # therapist has been told.
    alert_recorded: bool = False


class SurveyStatus(_Message):
    """What a client's survey page shows: which instruments are still to answer, and until when.
    Never a score."""

    check_in: str
    open: bool
    closes_at: datetime | None
    answered: list[Instrument]
    outstanding: list[Instrument]
    crisis_resources: bool = False  # an answer asked for a safety review: shown on every visit
    alert_recorded: bool = False  # the escalation is in the therapist's alert list


class CheckInOutcome(_Message):
    check_in: str
    statuses: dict[Instrument, Literal["answered", "missed"]]


class DigestInput(_Message):
    time_zone: str = "UTC"


def _request(journey: CompletedJourney, notice: Notice) -> NotificationRequest:
    """The journey's workflow id names its clinic: the client's contact details are looked up
    there, and a clinician's alert is kept in that clinic's list."""
    return NotificationRequest(
        client_id=journey.client_id,
        journey_id=journey_workflow_id(journey.client_id, journey.clinic_id),
        notice=notice,
    )


async def _notify(
    journey: CompletedJourney, notice: Notice, within: timedelta = timedelta(hours=24)
) -> None:
    """Send one notice (idempotent on its key), trying for `within`; a failure is logged."""
    try:
        await workflow.execute_activity_method(
            NotifyActivities.send_notification,
            _request(journey, notice),
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=within,
            retry_policy=NOTIFY_RETRY,
            summary=f"notify {notice.recipient.value}: {notice.template.value}",
        )
    except ActivityError as error:
        failure = {"template": notice.template.value, "error": type(error.cause).__name__}
        workflow.logger.warning("notice not sent", extra=failure)


def _chunks(items: Sequence[MaintenanceDue], size: int) -> list[Sequence[MaintenanceDue]]:
    return [items[n : n + size] for n in range(0, len(items), size)]


@workflow.defn(name="FollowUpSweep")
class FollowUpSweepWorkflow:
    @workflow.run
    async def run(self, input: SweepInput) -> SweepOutcome:
        due = await workflow.execute_activity_method(
            FollowUpActivities.find_due_follow_ups,
            SweepRequest(
                as_of=workflow.now(),
                grace=timedelta(days=input.grace_days),
                limit=input.limit,
                maintenance_reminders=input.maintenance_reminders,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=SWEEP_RETRY,
            summary="find follow-ups due",
        )
        started = StartedCheckIns(running=[], finished=[])
        if due.check_ins:
            started = await workflow.execute_activity_method(
                FollowUpActivities.start_check_ins,
                StartCheckIns(check_ins=due.check_ins),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=SWEEP_RETRY,
                summary=f"start {len(due.check_ins)} check-in(s)",
            )
        for batch in _chunks(due.maintenance, REMINDERS_AT_ONCE):
            await asyncio.gather(*(self._remind(item) for item in batch))
        return SweepOutcome(
            check_ins_running=started.running,
            check_ins_finished=started.finished,
            maintenance_reminders=len(due.maintenance),
        )

    async def _remind(self, item: MaintenanceDue) -> None:
        journey = item.journey
        notice = Notice(
            key=maintenance_key(journey.journey_id, item.number),
            recipient=Recipient.THERAPIST,
            recipient_id=journey.therapist_id,
            template=Template.MAINTENANCE_DUE,
        )
        # Not for long: the sweep should finish; one not sent is tried again the next day.
        await _notify(journey, notice, within=timedelta(hours=1))


@workflow.defn(name=CHECK_IN_WORKFLOW)
class FollowUpCheckInWorkflow:
    @workflow.init
    def __init__(self, input: CheckInInput) -> None:
        self._input = input
        self._scores: dict[Instrument, Score] = {}
        self._closed = False
        self._closes_at: datetime | None = None
        self._alerts: list[asyncio.Task[None]] = []
        self._alert_recorded = False

    # --- answers --------------------------------------------------------------------

    def _outstanding(self) -> list[Instrument]:
        return [i for i in self._input.instruments if i not in self._scores]

    def _receipt(self) -> SurveyReceipt:
        return SurveyReceipt(
            answered=[i for i in self._input.instruments if i in self._scores],
            outstanding=self._outstanding(),
            crisis_resources=any(s.risk for s in self._scores.values()),
            alert_recorded=self._alert_recorded,
        )

    @workflow.query(name="survey")
    def survey(self) -> SurveyStatus:
        receipt = self._receipt()
        return SurveyStatus(
            check_in=self._input.check_in,
            open=not self._closed,
            closes_at=self._closes_at,
            answered=receipt.answered,
            outstanding=receipt.outstanding,
            crisis_resources=receipt.crisis_resources,
            alert_recorded=receipt.alert_recorded,
        )

    @workflow.update(name="answer")
    async def answer(self, submission: SurveyAnswers) -> SurveyReceipt:
        """Record and score answers. The first answers to an instrument count; a repeat
        (a retried submission) changes nothing and gets the same receipt."""
        new = {
            instrument: score(instrument, answers)
            for instrument, answers in submission.answers.items()
            if instrument not in self._scores
        }
        self._scores.update(new)  # before any await: a concurrent repeat sees them
        risk = any(s.risk for s in new.values())
        if risk:
            self._escalate()
        # The alert kept for the therapist before the answer returns: the survey then says the
        # therapist has been told (not in check-ins whose answers came before this change).
        # Tried again with a later answer if it could not be kept.
        crisis = any(s.risk for s in self._scores.values())
        keep_alert = crisis and not self._alert_recorded and workflow.patched(SURVEY_ALERT_PATCH)
        now = workflow.now()
        await asyncio.gather(
            *(self._record(i, "answered", now, s) for i, s in new.items()),
            *([self._keep_alert()] if keep_alert else []),
        )
        self._publish()
        return self._receipt()

    @answer.validator
    def validate_answer(self, submission: SurveyAnswers) -> None:
        if self._closed:
            raise ApplicationError("this check-in has closed", type="CheckInClosed")
        for instrument, answers in submission.answers.items():
            if instrument not in self._input.instruments:
                raise ApplicationError(
                    f"{instrument.value} is not part of this check-in", type="InvalidAnswers"
                )
            try:
                score(instrument, answers)
            except InstrumentError as error:  # its message names the item, never a value
                raise ApplicationError(str(error), type="InvalidAnswers") from None

    def _risk_notice(self) -> Notice:
        return Notice(
            key=f"{workflow.info().workflow_id}:therapist:{Template.SURVEY_RISK_FLAGGED.value}",
            recipient=Recipient.THERAPIST,
            recipient_id=self._input.journey.therapist_id,
            template=Template.SURVEY_RISK_FLAGGED,
            urgent=True,
        )

    def _escalate(self) -> None:
        """An urgent notice to the therapist, started at once (the update does not wait)."""
        self._alerts.append(asyncio.create_task(_notify(self._input.journey, self._risk_notice())))

    async def _keep_alert(self) -> None:
        """Keep the escalation in the therapist's alert list now (the notice's own key: its
        send marks the same alert delivered or not). Not for long: the client is waiting; if
        it cannot be kept, the survey asks the client to call the clinic instead."""
        try:
            self._alert_recorded = await workflow.execute_activity_method(
                NotifyActivities.record_alert,
                _request(self._input.journey, self._risk_notice()),
                start_to_close_timeout=timedelta(seconds=5),
                schedule_to_close_timeout=timedelta(seconds=10),
                retry_policy=DB_RETRY,
                summary="keep the alert for the therapist",
            )
        except ActivityError as error:
            failure = {"error": type(error.cause).__name__}
            workflow.logger.warning("survey alert not kept", extra=failure)

    async def _record(
        self,
        instrument: Instrument,
        status: Literal["sent", "answered", "missed"],
        at: datetime,
        result: Score | None = None,
    ) -> None:
        await workflow.execute_activity_method(
            FollowUpActivities.record_check_in,
            CheckInRecord(
                journey_id=self._input.journey.journey_id,
                check_in=self._input.check_in,
                instrument=instrument,
                status=status,
                total=result.total if result else None,
                band=result.band if result else None,
                risk=result.risk if result else None,
                recorded_at=at,
            ),
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=DB_RETRY,
            summary=f"record {instrument.value} {status}",
        )

    async def _invite(self, template: Template, ref: str, closes_at: datetime) -> None:
        journey = self._input.journey
        notice = Notice(
            key=f"{workflow.info().workflow_id}:client:{ref}",
            recipient=Recipient.CLIENT,
            recipient_id=journey.client_id,
            template=template,
            at=closes_at,
            survey=workflow.info().workflow_id,
        )
        await _notify(journey, notice)

    def _publish(self) -> None:
        answered = len(self._input.instruments) - len(self._outstanding())
        state = "closed" if self._closed else "open"
        workflow.set_current_details(
            f"check-in {self._input.check_in}: {state}, "
            f"{answered} of {len(self._input.instruments)} answered"
        )

    # --- the run --------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CheckInInput) -> CheckInOutcome:
        opened = workflow.now()
        every = input.reminder_every
        closes_at = opened + every * (input.reminders + 1)
        self._closes_at = closes_at
        self._publish()
        await self._invite(Template.SURVEY_INVITATION, "invitation", closes_at)
        sent_at = workflow.now()
        await asyncio.gather(*(self._record(i, "sent", sent_at) for i in input.instruments))
        for n in range(1, input.reminders + 2):  # a reminder a day, then the check-in closes
            deadline = opened + every * n
            timeout = (deadline - workflow.now()).total_seconds()
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: not self._outstanding(),
                        timeout=timeout,
                        timeout_summary="check-in closes" if n > input.reminders else "reminder",
                    )
            if not self._outstanding():
                break
            if n <= input.reminders:
                await self._invite(Template.SURVEY_REMINDER, f"reminder-{n}", closes_at)
        self._closed = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        missed = self._outstanding()
        missed_at = workflow.now()
        await asyncio.gather(*(self._record(i, "missed", missed_at) for i in missed))
        await asyncio.gather(*self._alerts)
        self._publish()
        workflow.logger.info(
            "check-in closed", extra={"check_in": input.check_in, "missed": len(missed)}
        )
        statuses: dict[Instrument, Literal["answered", "missed"]] = {
            i: "missed" if i in missed else "answered" for i in input.instruments
        }
        return CheckInOutcome(check_in=input.check_in, statuses=statuses)


@workflow.defn(name="DailyDigest")
class DailyDigestWorkflow:
    @workflow.run
    async def run(self, input: DigestInput) -> DigestOutcome:
        return await workflow.execute_activity_method(
            FollowUpActivities.send_daily_digests,
            DigestRequest(as_of=workflow.now(), time_zone=input.time_zone),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=DIGEST_RETRY,
            summary="send the daily digests",
        )
