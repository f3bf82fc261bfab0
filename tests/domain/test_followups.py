"""When check-ins and maintenance reminders come due after a completed course."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.followups import check_ins_due, maintenance_due

COMPLETED = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
WEEK = timedelta(weeks=1)

weeks = st.lists(st.integers(1, 52), max_size=5)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))
graces = st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=30))


def test_the_protocol_weeks_come_due_in_turn() -> None:
    grace = timedelta(days=7)
    assert check_ins_due(COMPLETED, [2, 4, 12], COMPLETED + 13 * timedelta(days=1), grace) == []
    assert check_ins_due(COMPLETED, [2, 4, 12], COMPLETED + 2 * WEEK, grace) == [
        ("week-2", COMPLETED + 2 * WEEK)
    ]
    late = COMPLETED + 2 * WEEK + grace  # a week late: not started at all
    assert check_ins_due(COMPLETED, [2, 4, 12], late, grace) == []


@given(weeks, offsets, graces)
def test_a_check_in_is_due_only_from_its_time_until_the_grace_runs_out(
    chosen: list[int], offset: timedelta, grace: timedelta
) -> None:
    as_of = COMPLETED + offset
    due = check_ins_due(COMPLETED, chosen, as_of, grace)
    labels = [label for label, _ in due]
    assert len(labels) == len(set(labels))
    for label, at in due:
        assert at <= as_of < at + grace
        assert label == f"week-{(at - COMPLETED) // WEEK}"
    expected = {w for w in chosen if COMPLETED + w * WEEK <= as_of < COMPLETED + w * WEEK + grace}
    assert {int(label.removeprefix("week-")) for label in labels} == expected


@given(st.integers(28, 62), offsets, st.integers(0, 12))
def test_maintenance_is_the_latest_interval_come_due_up_to_the_last_reminder(
    interval: int, offset: timedelta, reminders: int
) -> None:
    due = maintenance_due(COMPLETED, interval, COMPLETED + offset, reminders)
    every = timedelta(days=interval)
    if offset < every or offset >= (reminders + 1) * every:
        assert due is None
        return
    assert due is not None
    number, at = due
    assert 1 <= number <= reminders
    assert at == COMPLETED + number * every
    assert at <= COMPLETED + offset < at + every


@given(st.integers(28, 62), st.integers(0, 12))
def test_a_course_gets_exactly_its_reminders(interval: int, reminders: int) -> None:
    daily = (COMPLETED + timedelta(days=day) for day in range(0, 62 * 14))
    numbers = {
        due[0] for as_of in daily if (due := maintenance_due(COMPLETED, interval, as_of, reminders))
    }
    assert numbers == set(range(1, reminders + 1))
