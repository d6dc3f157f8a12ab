"""Clocks for the top-level wiring, the only place that owns one (DESIGN.md convention 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

#: the Unix epoch, aware (what nanosecond log times count from)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(t: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware datetime (exact: whole microseconds)."""
    delta = t - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    """The aware UTC datetime of ``ns`` nanoseconds since the epoch, cut to the microsecond."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def run_prefix(now: datetime) -> str:
    """What a run's OrderIDs and ExecIDs start with, from the time ``now`` it started: its
    Unix time in milliseconds, hexadecimal, and a dash. Runs started apart number their
    ids apart, so a client never sees one twice across restarts; a backtest's clock is
    virtual, so its ids are the same every run."""
    return f"{to_ns(now) // 1_000_000:x}-"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class WallClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to: replays jump it to each record's time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a virtual clock needs an aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance_to(self, t: datetime) -> None:
        """Move to ``t``; a clock never runs backwards, so an earlier ``t`` is ignored."""
        if t > self._now:
            self._now = t
