"""`ReconcileJourneys`: closes, in the store, journeys whose workflow ended outside the pathway.

Run by the schedule `carepath-journey-reconcile` (`workflows/schedules.py`) a page of open
journeys at a time; the check itself is `activities/reconcile.py`. Ops are told of each.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.messages import ReconcileInput, ReconcileOutcome
    from activities.notify import NotifyActivities
    from activities.reconcile import ReconcileActivities
    from workflows.retries import NOTIFY_RETRY


@workflow.defn(name="ReconcileJourneys")
class ReconcileJourneysWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileOutcome:
        after, checked, closed = input.after, 0, []
        while True:
            page: ReconcileOutcome = await workflow.execute_activity_method(
                ReconcileActivities.reconcile_journeys,
                ReconcileInput(after=after, page_size=input.page_size),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                summary="close journeys ended outside the pathway",
            )
            checked += page.checked
            closed += page.closed
            for request in page.notifications:
                try:
                    await workflow.execute_activity_method(
                        NotifyActivities.send_notification,
                        request,
                        start_to_close_timeout=timedelta(seconds=30),
                        schedule_to_close_timeout=timedelta(hours=1),
                        retry_policy=NOTIFY_RETRY,
                        summary=f"notify {request.notice.recipient.value}: ended outside",
                    )
                except ActivityError:
                    workflow.logger.warning("notice of a ghost journey not sent")
            if page.next_after is None:
                return ReconcileOutcome(checked=checked, closed=closed)
            after = page.next_after
