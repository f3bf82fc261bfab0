"""After a course that gave a dose: when outcome check-ins and maintenance reminders come due.

Pure rules over times given by the caller: check-ins at the protocol's weeks after completion
(the instruments whose spec says `follow_up`: PHQ-9 and GAD-7), each started only within a
grace period after its time, and a maintenance reminder per interval, up to a number of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from domain.instruments import Instrument, follow_up_instruments
from domain.state import JourneyState
from domain.vocabulary import ClosedReason

# The closed reasons after which a course is followed up, once it gave a dose: it ran its course
# (`completed`), or a clinician ended it early (`discharged`: the prescriber discontinued after
# the initial doses, or a discharge) — the clients measurement-based care must keep watching.
# Not `withdrawn` (the client withdrew: no more contact), nor the closes without a course
# (`declined`, `not_approved`, ended outside the pathway).
FOLLOWED_UP_REASONS: tuple[ClosedReason, ...] = (ClosedReason.COMPLETED, ClosedReason.DISCHARGED)

# The instruments whose spec says `follow_up` (PHQ-9 and GAD-7), in their order.
FOLLOW_UP_INSTRUMENTS: tuple[Instrument, ...] = follow_up_instruments()
MAINTENANCE_REMINDERS = 8  # per followed-up course, by default: about a year at 45 days


def closed_at(state: JourneyState) -> datetime | None:
    """When a closed journey closed: the time of its closing decision (`journey_closed` the last
    event a clinician's decision recorded), else of its last activity (a close by the engine,
    which is nobody's decision); None while it is open."""
    if not state.is_closed:
        return None
    last = state.last_decision
    if last is not None and last.type == "journey_closed":
        return last.at
    return state.last_activity_at


def check_in_label(weeks: int) -> str:
    return f"week-{weeks}"


def check_ins_due(
    completed_at: datetime, weeks: Iterable[int], as_of: datetime, grace: timedelta
) -> list[tuple[str, datetime]]:
    """The check-ins due at `as_of`: their time has come, and not more than `grace` ago (a
    "two-week" survey sent months late would mean nothing, so it is not started at all)."""
    due = []
    for week in sorted(set(weeks)):
        at = completed_at + timedelta(weeks=week)
        if at <= as_of < at + grace:
            due.append((check_in_label(week), at))
    return due


def maintenance_due(
    completed_at: datetime, interval_days: int, as_of: datetime, reminders: int
) -> tuple[int, datetime] | None:
    """The latest maintenance interval come due by `as_of` (its number, from 1, and when), while
    it is one of the first `reminders`: after the last one's interval, no more."""
    interval = timedelta(days=interval_days)
    number = (as_of - completed_at) // interval
    if not 1 <= number <= reminders:
        return None
    return number, completed_at + number * interval
