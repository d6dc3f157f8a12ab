"""Session schedules: daily, overnight, weekly, time zones, DST."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from gateway.schedule import Schedule, parse_day


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DAILY = Schedule(time(8, 0), time(17, 0))
OVERNIGHT = Schedule(time(22, 0), time(6, 0))
NY = Schedule(time(9, 30), time(16, 0), timezone="America/New_York")
WEEK = Schedule(time(17, 0), time(17, 0), timezone="America/New_York", start_day=6, end_day=4)


@pytest.mark.parametrize(
    ("schedule", "now", "start"),
    [
        (DAILY, utc(2026, 3, 2, 12), utc(2026, 3, 2, 8)),
        (DAILY, utc(2026, 3, 2, 8), utc(2026, 3, 2, 8)),
        (DAILY, utc(2026, 3, 2, 17), utc(2026, 3, 2, 8)),
        (DAILY, utc(2026, 3, 2, 17, 0, 1), None),
        (DAILY, utc(2026, 3, 2, 7, 59), None),
        (OVERNIGHT, utc(2026, 3, 2, 23), utc(2026, 3, 2, 22)),
        (OVERNIGHT, utc(2026, 3, 3, 5), utc(2026, 3, 2, 22)),
        (OVERNIGHT, utc(2026, 3, 3, 12), None),
        # New York: 9:30 local is 14:30 UTC in winter, 13:30 UTC in summer
        (NY, utc(2026, 1, 5, 15), utc(2026, 1, 5, 14, 30)),
        (NY, utc(2026, 7, 6, 14), utc(2026, 7, 6, 13, 30)),
        (NY, utc(2026, 7, 6, 13), None),
        # weekly: Sunday 17:00 to Friday 17:00 New York
        (WEEK, utc(2026, 3, 4, 12), utc(2026, 3, 1, 22)),  # Wednesday
        (WEEK, utc(2026, 3, 7, 12), None),  # Saturday
        (WEEK, utc(2026, 3, 1, 21), None),  # Sunday before the open
        (WEEK, utc(2026, 3, 1, 23), utc(2026, 3, 1, 22)),
    ],
)
def test_session_start(schedule: Schedule, now: datetime, start: datetime | None) -> None:
    assert schedule.session_start(now) == start
    assert schedule.in_session(now) == (start is not None)


@pytest.mark.parametrize(
    ("schedule", "now", "end", "next_start"),
    [
        (DAILY, utc(2026, 3, 2, 12), utc(2026, 3, 2, 17), utc(2026, 3, 2, 12)),
        (DAILY, utc(2026, 3, 2, 18), None, utc(2026, 3, 3, 8)),
        (DAILY, utc(2026, 3, 2, 7), None, utc(2026, 3, 2, 8)),
        (OVERNIGHT, utc(2026, 3, 2, 23), utc(2026, 3, 3, 6), utc(2026, 3, 2, 23)),
        (OVERNIGHT, utc(2026, 3, 3, 12), None, utc(2026, 3, 3, 22)),
        # New York across the DST change (2:00 on 8 March 2026): 9:30 EST, then EDT
        (NY, utc(2026, 3, 6, 22), None, utc(2026, 3, 7, 14, 30)),
        (NY, utc(2026, 3, 7, 22), None, utc(2026, 3, 8, 13, 30)),
        (NY, utc(2026, 3, 9, 14), utc(2026, 3, 9, 20), utc(2026, 3, 9, 14)),
        (WEEK, utc(2026, 3, 4, 12), utc(2026, 3, 6, 22), utc(2026, 3, 4, 12)),
        (WEEK, utc(2026, 3, 7, 12), None, utc(2026, 3, 8, 21)),  # Sunday 17:00 EDT
    ],
)
def test_session_end_and_next_start(schedule: Schedule, now: datetime, end: datetime | None,
                                    next_start: datetime) -> None:
    assert schedule.session_end(now) == end
    assert schedule.next_start(now) == next_start


def test_new_session_when_store_predates_todays_start() -> None:
    assert DAILY.is_new_session(utc(2026, 3, 1, 16), utc(2026, 3, 2, 9))
    assert not DAILY.is_new_session(utc(2026, 3, 2, 8, 30), utc(2026, 3, 2, 9))
    assert not DAILY.is_new_session(utc(2026, 3, 1, 16), utc(2026, 3, 2, 7))  # not in session


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="both start_day and end_day"):
        Schedule(time(1), time(2), start_day=0)
    with pytest.raises(ValueError, match="day must be"):
        Schedule(time(1), time(2), start_day=0, end_day=9)
    with pytest.raises(Exception, match="Nowhere"):
        Schedule(time(1), time(2), timezone="Nowhere/Land")
    with pytest.raises(ValueError, match="timezone-aware"):
        DAILY.in_session(datetime(2026, 1, 1))


def test_parse_day() -> None:
    assert parse_day("Monday") == 0 and parse_day("sun") == 6
    with pytest.raises(ValueError, match="unknown day"):
        parse_day("funday")


def test_equal_start_and_end_is_a_whole_day() -> None:
    always = Schedule(time(5, 0), time(5, 0))
    assert always.session_start(utc(2026, 3, 2, 4, 59)) == utc(2026, 3, 1, 5)
    assert always.session_start(utc(2026, 3, 2, 5, 0, 1)) == utc(2026, 3, 2, 5)


# New York's clocks: 1 November 2026 repeats 01:00-02:00 (EDT, then EST); 8 March 2026 skips
# 02:00-03:00.
LATE = Schedule(time(18, 0), time(1, 30), timezone="America/New_York")
SKIPPED_END = Schedule(time(18, 0), time(2, 30), timezone="America/New_York")


@pytest.mark.parametrize(
    ("now", "in_session", "end", "next_start"),
    [
        # the end is the first 01:30 (EDT, 05:30 UTC); the second 01:15 (EST) is after it
        (utc(2026, 11, 1, 5, 15), True, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 5, 15)),
        (utc(2026, 11, 1, 5, 30), True, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 5, 30)),
        (utc(2026, 11, 1, 6, 15), False, None, utc(2026, 11, 1, 23)),  # 01:15 EST
        (utc(2026, 11, 1, 6, 45), False, None, utc(2026, 11, 1, 23)),  # 01:45 EST
    ],
)
def test_an_end_in_the_repeated_hour_is_its_first_occurrence(
        now: datetime, in_session: bool, end: datetime | None, next_start: datetime) -> None:
    assert LATE.in_session(now) is in_session
    assert LATE.session_end(now) == end
    assert LATE.next_start(now) == next_start


def test_an_end_in_the_skipped_hour_is_read_with_the_offset_before_the_change() -> None:
    # 02:30 EST, which the wall clock shows as 03:30 EDT: 07:30 UTC, the same whichever
    # instant of the session asks
    for now in (utc(2026, 3, 8, 0), utc(2026, 3, 8, 7, 15), utc(2026, 3, 8, 7, 30)):
        assert SKIPPED_END.in_session(now)
        assert SKIPPED_END.session_end(now) == utc(2026, 3, 8, 7, 30)
    assert not SKIPPED_END.in_session(utc(2026, 3, 8, 7, 31))
    assert SKIPPED_END.next_start(utc(2026, 3, 8, 7, 31)) == utc(2026, 3, 8, 22)  # 18:00 EDT
