"""Session schedules: when a FIX session may be logged on, and when a new one begins.

A schedule is daily (the same start and end time every day) or weekly (from a start day and
time to an end day and time), in a named time zone, as in QuickFIX's StartTime/EndTime/
StartDay/EndDay/TimeZone. A start later than the end wraps past midnight (or past the week's
end). Both bounds are inclusive. Every function takes ``now``; nothing reads a clock.

The session layer resets sequence numbers when the store's creation time falls before the
start of the session that ``now`` is in (:meth:`Schedule.is_new_session`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Schedule:
    """``start_day``/``end_day`` (0 = Monday) are both set for a weekly schedule, or neither."""

    start: time
    end: time
    timezone: str = "UTC"
    start_day: int | None = None
    end_day: int | None = None

    def __post_init__(self) -> None:
        if (self.start_day is None) != (self.end_day is None):
            raise ValueError("a weekly schedule needs both start_day and end_day")
        for day in (self.start_day, self.end_day):
            if day is not None and not 0 <= day <= 6:
                raise ValueError(f"day must be 0 (Monday) to 6 (Sunday), got {day}")
        ZoneInfo(self.timezone)  # raises for an unknown zone

    @property
    def weekly(self) -> bool:
        return self.start_day is not None

    def _local(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.astimezone(ZoneInfo(self.timezone))

    def _span(self) -> timedelta:
        """Length of one session; equal start and end mean a whole day (or week)."""
        period = timedelta(days=7 if self.weekly else 1)
        start = timedelta(days=self.start_day or 0, hours=self.start.hour,
                          minutes=self.start.minute, seconds=self.start.second)
        end = timedelta(days=self.end_day or 0, hours=self.end.hour,
                        minutes=self.end.minute, seconds=self.end.second)
        return (end - start) % period or period

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        """Start and end (UTC) of the session that starts on ``day`` (local).

        The span is added in local wall time, so a daily 08:00-17:00 session stays so across a
        DST change. A bound in the hour a DST change repeats is its first occurrence, and one
        in the hour it skips is read with the offset before the change (02:30 on a spring-
        forward night is 03:30 daylight time), as Java's ZonedDateTime resolves them.
        """
        start = datetime.combine(day, self.start, tzinfo=ZoneInfo(self.timezone))
        return start.astimezone(UTC), (start + self._span()).astimezone(UTC)

    def _session(self, now: datetime) -> tuple[datetime, datetime, date]:
        """The latest session to start at or before ``now``: its bounds (UTC) and start day.

        Compared in UTC, not in wall time, so an instant in a repeated hour is placed by when
        it happens rather than by what the clock on the wall shows."""
        local = self._local(now)
        step = timedelta(days=7 if self.weekly else 1)
        day = local.date()
        if self.weekly:
            day -= timedelta(days=(local.weekday() - (self.start_day or 0)) % 7)
        start, end = self._bounds(day)
        if start > now:
            day -= step
            start, end = self._bounds(day)
        return start, end, day

    def session_start(self, now: datetime) -> datetime | None:
        """Start (UTC) of the session that contains ``now``, or None outside every session."""
        start, end, _ = self._session(now)
        return start if start <= now <= end else None

    def in_session(self, now: datetime) -> bool:
        return self.session_start(now) is not None

    def session_end(self, now: datetime) -> datetime | None:
        """End (inclusive, UTC) of the session that contains ``now``, or None outside."""
        start, end, _ = self._session(now)
        return end if start <= now <= end else None

    def next_start(self, now: datetime) -> datetime:
        """``now`` inside a session, else when the next one starts (UTC)."""
        start, end, day = self._session(now)
        if start <= now <= end:
            return now
        return self._bounds(day + timedelta(days=7 if self.weekly else 1))[0]

    def is_new_session(self, created: datetime, now: datetime) -> bool:
        """Whether a store created at ``created`` belongs to an earlier session than ``now``'s."""
        start = self.session_start(now)
        return start is not None and created < start


def parse_day(text: str) -> int:
    """A day's name or its start of at least three letters ('mon', 'Tues', 'Thursday'), in
    any case, as 0 (Monday) to 6."""
    key = text.strip().lower()
    for number, name in enumerate(_DAY_NAMES):
        if len(key) >= 3 and name.startswith(key):
            return number
    raise ValueError(f"unknown day {text!r}; expected one of {', '.join(DAYS)} (or the "
                     "day's full name)")


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
