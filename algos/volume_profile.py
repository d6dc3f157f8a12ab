"""Intraday volume profiles for VWAP: learned from trades, bucketed by time of day.

A :class:`VolumeProfile` holds the traded quantity per time-of-day bucket (5 minutes by
default) summed over the days it learned from, in the clock of one time zone (``zone``, an
IANA name; LOBSTER files are New York time, FIX timestamps are UTC and are converted).
:meth:`VolumeProfile.cumulative` is the share of a day's volume traded before a time of day,
with volume spread evenly inside a bucket; :meth:`VolumeProfile.fraction` the share between
two times of day; :meth:`VolumeProfile.between` the expected volume between two datetimes,
in days' volumes, across midnight and over several days.

Learning sources:

* LOBSTER message files: executions of visible (type 4) and hidden (type 5) orders.
* FIX logs: fills in ExecutionReports (35=8 with LastQty 32 > 0, not a trade cancel or
  correction, each ExecID counted once), TradeCaptureReports (35=AE, each TradeReportID
  once) and trade entries (269=2) of market data (35=W/X). Times are TransactTime (60), else
  the entry's MDEntryDate/MDEntryTime (272/273), else SendingTime (52), else the log's own
  timestamp, all taken as UTC.

The CSV layout (see :meth:`VolumeProfile.to_csv`) is ``# key: value`` header lines, then
``start,volume`` rows for every bucket from the first traded to the last (HH:MM:SS, shares).
It holds integers only, so a profile regenerated from the same input is byte-identical.

``python -m algos.volume_profile lobster FILE... -o OUT`` (or ``fixlog FILE...``) writes one;
the shipped default (:func:`default_profile`) is AAPL's 2012-06-21 LOBSTER day, made by
``python -m algos.volume_profile lobster
../shared/data/lobster/AAPL_2012-06-21_34200000_57600000_message_1.csv -o
algos/data/aapl_2012-06-21_volume_5min.csv``.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.lobster import read_messages
from gateway.fixlog import parse_log_timestamp, read_log
from gateway.input_paths import input_file

__all__ = ["DAY", "DEFAULT_PROFILE_PATH", "VolumeProfile", "default_profile", "main"]

DAY = 86_400
DEFAULT_PROFILE_PATH = Path(__file__).resolve().parent / "data" / "aapl_2012-06-21_volume_5min.csv"
_LOBSTER_EXECUTIONS = (4, 5)
#: The years whose clock changes between() knows exactly (_zone_changes); outside them it sees
#: a change where a window's two ends have different offsets.
_SCAN_FROM = datetime(1970, 1, 1, tzinfo=UTC)
_SCAN_TO = datetime(2100, 1, 1, tzinfo=UTC)
#: The step of the scan for them: no zone changes its clock twice within two weeks (the
#: closest pair in use, Morocco's around Ramadan, are about a month apart).
_SCAN_STEP = timedelta(days=14)


def _offset(tz: ZoneInfo, t: datetime) -> timedelta:
    offset = t.astimezone(tz).utcoffset()
    return offset if offset is not None else timedelta(0)


def _first_change(tz: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first whole second after ``lo`` where ``tz``'s offset is not ``lo``'s, given that
    ``hi``'s is not (UTC datetimes)."""
    offset = _offset(tz, lo)
    lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(tz, datetime.fromtimestamp(mid, UTC)) == offset:
            lo_s = mid
        else:
            hi_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _one_change(tz: ZoneInfo, a: datetime, b: datetime) -> list[datetime]:
    """A change strictly between ``a`` and ``b`` if their offsets differ (else none)."""
    if _offset(tz, a) == _offset(tz, b):
        return []
    change = _first_change(tz, a, b)
    return [change] if a < change < b else []


@cache
def _zone_changes(zone: str) -> list[datetime]:
    """Every instant (UTC, to the second) from 1970 to 2100 at which ``zone`` changes its
    offset, ascending; found once per zone (some milliseconds), as a VWAP asks for every
    slice of windows that may run for years."""
    tz = ZoneInfo(zone)
    changes = []
    t = _SCAN_FROM
    while t < _SCAN_TO:
        step = min(t + _SCAN_STEP, _SCAN_TO)
        if _offset(tz, step) != _offset(tz, t):
            changes.append(_first_change(tz, t, step))
        t = step
    return changes


def _seconds(t: time | float) -> float:
    if isinstance(t, time):
        return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
    return float(t)


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class VolumeProfile:
    """Traded quantity per time-of-day bucket; see the module docstring.

    ``volumes`` maps bucket index (``seconds_of_day // bucket_seconds``) to shares, or is a
    full sequence of ``DAY // bucket_seconds`` values. ``bucket_seconds`` must divide a day.
    """

    def __init__(
        self,
        volumes: Mapping[int, int] | Sequence[int],
        *,
        bucket_seconds: int = 300,
        zone: str = "UTC",
        source: str = "",
        days: int = 1,
    ) -> None:
        if bucket_seconds <= 0 or DAY % bucket_seconds:
            raise ValueError(f"bucket_seconds must divide a day (86400), got {bucket_seconds}")
        ZoneInfo(zone)  # fail early on an unknown zone name
        n = DAY // bucket_seconds
        buckets = [0] * n
        items = volumes.items() if isinstance(volumes, Mapping) else enumerate(volumes)
        for index, qty in items:
            if not 0 <= index < n:
                raise ValueError(f"bucket {index} outside a day of {n} buckets")
            if qty < 0:
                raise ValueError(f"negative volume {qty} in bucket {index}")
            buckets[index] += int(qty)
        self.bucket_seconds = bucket_seconds
        self.zone = zone
        self.source = source
        self.days = days
        self.volumes: tuple[int, ...] = tuple(buckets)
        self.total = sum(buckets)
        prefix = [0]
        for v in buckets:
            prefix.append(prefix[-1] + v)
        self._prefix = prefix
        self._tz = ZoneInfo(zone)
        # the volume from the zone's first known clock change to each (see between)
        self._at_change: list[float] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VolumeProfile):
            return NotImplemented
        return (self.bucket_seconds, self.zone, self.volumes) == (
            other.bucket_seconds, other.zone, other.volumes)

    def __repr__(self) -> str:
        return (f"VolumeProfile(total={self.total}, bucket_seconds={self.bucket_seconds}, "
                f"zone={self.zone!r}, source={self.source!r})")

    # -- queries ------------------------------------------------------------------------------

    def cumulative(self, t: time | float) -> float:
        """Share of a day's volume traded before time of day ``t`` (a time or seconds)."""
        if self.total == 0:
            return 0.0
        s = min(max(_seconds(t), 0.0), float(DAY))
        k = int(s // self.bucket_seconds)
        if k >= len(self.volumes):
            return 1.0
        inside = (s - k * self.bucket_seconds) / self.bucket_seconds * self.volumes[k]
        return (self._prefix[k] + inside) / self.total

    def fraction(self, t0: time | float, t1: time | float) -> float:
        """Share of a day's volume between times of day ``t0`` and ``t1``; when ``t1`` is
        before ``t0`` the interval runs over midnight."""
        a, b = self.cumulative(t0), self.cumulative(t1)
        return b - a if _seconds(t1) >= _seconds(t0) else (1.0 - a) + b

    def local(self, t: datetime) -> datetime:
        """``t`` as a naive datetime in the profile's zone (a naive ``t`` is taken as in it)."""
        if t.tzinfo is None:
            return t
        try:
            return t.astimezone(self._tz).replace(tzinfo=None)
        except OverflowError:
            # within hours of the calendar's ends (an EffectiveTime of 0001-01-01 or an
            # ExpireTime late on 9999-12-31) the zone's offset leaves the calendar: that
            # end is the time there
            return datetime.min if t.year == MINYEAR else datetime.max

    def between(self, a: datetime, b: datetime) -> float:
        """Expected volume from ``a`` to ``b``, in days' volumes (0 when ``b <= a``).

        Aware datetimes are converted to the profile's zone; naive ones are taken as already
        in it (so both ends must be of the same kind). Across a clock change between aware
        ends, each side is counted on its own clock: the hour repeated in autumn holds its
        buckets' volume twice, the one skipped in spring none (compared as clock times, a
        window over the repeated hour looked empty, or ended before it began).
        """
        if self.total == 0:
            return 0.0
        if a.tzinfo is None or {a.year, b.year} & {MINYEAR, MAXYEAR}:  # (no UTC there)
            return self._between_clock(self.local(a), self.local(b))
        # in UTC: comparing or subtracting two times of one zone works on their wall clocks,
        # which a clock change sets back
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if b <= a:
            return 0.0
        total = 0.0
        # one stretch of constant offset at a time; those between two of the zone's known
        # changes summed once for the profile (a window may cross hundreds)
        before, lo, hi, after = self._clock_changes(a, b)
        for change in before:
            total += self._stretch(a, change)
            a = change
        if hi > lo:
            known = _zone_changes(self.zone)
            at = self._volume_at_changes()
            total += self._stretch(a, known[lo]) + at[hi - 1] - at[lo]
            a = known[hi - 1]
        for change in after:
            total += self._stretch(a, change)
            a = change
        return total + self._stretch(a, b)

    def _stretch(self, a: datetime, b: datetime) -> float:
        """Expected volume from ``a`` to ``b`` (UTC), the zone's offset being ``a``'s all
        along."""
        offset = self._offset(a)
        return self._between_clock((a + offset).replace(tzinfo=None),  # (both UTC)
                                   (b + offset).replace(tzinfo=None))

    def _volume_at_changes(self) -> list[float]:
        """The volume from the zone's first known clock change to each, summed once: a
        window over many years crosses hundreds of them (a VWAP asks for every slice of such
        a window)."""
        if self._at_change is None:
            sums = [0.0]
            for t0, t1 in itertools.pairwise(_zone_changes(self.zone)):
                sums.append(sums[-1] + self._stretch(t0, t1))
            self._at_change = sums
        return self._at_change

    def _offset(self, t: datetime) -> timedelta:
        return _offset(self._tz, t)

    def _clock_changes(self, a: datetime, b: datetime
                       ) -> tuple[list[datetime], int, int, list[datetime]]:
        """The instants strictly between ``a`` and ``b`` (UTC) where the zone's offset
        changes: those of 1970 to 2100 as the slice ``lo:hi`` of :func:`_zone_changes` (found
        once); before and after those years, one where the ends' offsets differ."""
        before = _one_change(self._tz, a, min(b, _SCAN_FROM)) if a < _SCAN_FROM else []
        lo = hi = 0
        if a < _SCAN_TO and b > _SCAN_FROM:
            known = _zone_changes(self.zone)
            lo, hi = bisect.bisect_right(known, a), bisect.bisect_left(known, b)
        after = _one_change(self._tz, max(a, _SCAN_TO), b) if b > _SCAN_TO else []
        return before, lo, hi, after

    def _between_clock(self, la: datetime, lb: datetime) -> float:
        """Expected volume from clock time ``la`` to ``lb`` (naive, in the profile's zone)."""
        if lb <= la:
            return 0.0
        sa = _seconds(la.time())
        sb = _seconds(lb.time())
        days = (lb.date() - la.date()).days
        if days == 0:
            return self.cumulative(sb) - self.cumulative(sa)
        return (1.0 - self.cumulative(sa)) + (days - 1) + self.cumulative(sb)

    # -- learning -----------------------------------------------------------------------------

    @classmethod
    def from_lobster(
        cls,
        paths: str | Path | Iterable[str | Path],
        *,
        bucket_seconds: int = 300,
        zone: str = "America/New_York",
    ) -> VolumeProfile:
        """Learn from LOBSTER message files (one trading day each), executions only."""
        files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        volumes: dict[int, int] = {}
        width_ns = bucket_seconds * 1_000_000_000
        for path in files:
            msgs = read_messages(path)
            array = msgs.array
            for i in range(msgs.count):
                m = array[i]
                if m.type in _LOBSTER_EXECUTIONS:
                    k = int(m.time_ns // width_ns)
                    volumes[k] = volumes.get(k, 0) + int(m.size)
        return cls(volumes, bucket_seconds=bucket_seconds, zone=zone,
                   source=", ".join(p.name for p in files), days=len(files))

    @classmethod
    def from_fix_logs(
        cls,
        paths: str | Path | Iterable[str | Path],
        *,
        symbol: str | None = None,
        bucket_seconds: int = 300,
        zone: str = "UTC",
    ) -> VolumeProfile:
        """Learn from FIX logs (see the module docstring for what counts as a trade).

        ``symbol`` keeps only trades whose Symbol (55) or SecurityID (48) equals it. Times
        (UTC) are converted to ``zone``. ``days`` counts the distinct dates seen.
        """
        files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        tz = ZoneInfo(zone)
        volumes: dict[int, int] = {}
        dates: set[date] = set()
        for t, qty in _fix_trades(files, symbol):
            local = t.astimezone(tz)
            dates.add(local.date())
            k = int(_seconds(local.time()) // bucket_seconds)
            volumes[k] = volumes.get(k, 0) + qty
        return cls(volumes, bucket_seconds=bucket_seconds, zone=zone,
                   source=", ".join(p.name for p in files), days=max(1, len(dates)))

    # -- storage ------------------------------------------------------------------------------

    def to_csv(self) -> str:
        """The profile as CSV text (the module docstring gives the layout)."""
        lines = [
            "# volume profile: traded shares per time-of-day bucket",
            f"# zone: {self.zone}",
            f"# bucket_seconds: {self.bucket_seconds}",
            f"# days: {self.days}",
            f"# source: {self.source}",
            "start,volume",
        ]
        traded = [i for i, v in enumerate(self.volumes) if v]
        if traded:
            for i in range(traded[0], traded[-1] + 1):
                lines.append(f"{_hms(i * self.bucket_seconds)},{self.volumes[i]}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_csv())

    @classmethod
    def load(cls, path: str | Path) -> VolumeProfile:
        """Read a profile written by :meth:`save`; errors name the file and line."""
        path = Path(path)
        meta: dict[str, str] = {}
        volumes: dict[int, int] = {}
        rows: list[tuple[int, int, int]] = []  # (line, seconds, volume)
        header_seen = False
        for n, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                key, sep, value = line[1:].partition(":")
                if sep and not header_seen:
                    meta[key.strip()] = value.strip()
                continue
            if not header_seen:
                if line != "start,volume":
                    raise ValueError(f"{path}:{n}: expected the header 'start,volume'")
                header_seen = True
                continue
            try:
                start, shares = line.split(",")
                h, m, s = (int(x) for x in start.split(":"))
                rows.append((n, h * 3600 + m * 60 + s, int(shares)))
            except ValueError:
                raise ValueError(f"{path}:{n}: expected HH:MM:SS,shares, got {line!r}") from None
        try:
            bucket = int(meta.get("bucket_seconds", "300"))
            days = int(meta.get("days", "1"))
        except ValueError:
            raise ValueError(f"{path}: bucket_seconds and days must be integers") from None
        for n, seconds, volume in rows:
            if seconds % bucket or not 0 <= seconds < DAY or volume < 0:
                raise ValueError(f"{path}:{n}: bucket start or volume out of range")
            volumes[seconds // bucket] = volume
        return cls(volumes, bucket_seconds=bucket, zone=meta.get("zone", "UTC"),
                   source=meta.get("source", ""), days=days)


@cache
def default_profile() -> VolumeProfile:
    """The shipped profile (AAPL, NASDAQ, 2012-06-21, 5-minute buckets, New York time)."""
    return VolumeProfile.load(DEFAULT_PROFILE_PATH)


# -- FIX trade extraction ---------------------------------------------------------------------


def _fix_time(value: bytes | None) -> datetime | None:
    if not value:
        return None
    return parse_log_timestamp(value, assume_tz=UTC)


def _positive_int(value: bytes | None) -> int:
    if not value:
        return 0
    try:
        qty = float(value)
    except ValueError:
        return 0
    return int(qty) if qty > 0 else 0


def _fix_trades(files: list[Path], symbol: str | None) -> Iterable[tuple[datetime, int]]:
    """(UTC time, quantity) of every trade found in ``files``, each counted once."""
    seen: set[tuple[bytes, ...]] = set()
    want = symbol.encode() if symbol is not None else None
    for path in files:
        for record in read_log(path, assume_tz=UTC):
            if not record.ok:
                continue
            top: dict[int, bytes] = {}
            for tag, value in record.fields:
                top.setdefault(tag, value)
            msg_type = top.get(35)
            fallback = _fix_time(top.get(60)) or _fix_time(top.get(52)) or record.timestamp
            if fallback is not None and fallback.tzinfo is None:
                fallback = fallback.replace(tzinfo=UTC)
            sender = top.get(49, b"")
            if msg_type in (b"8", b"AE"):
                if want is not None and want not in (top.get(55), top.get(48)):
                    continue
                qty = _positive_int(top.get(32))
                if msg_type == b"8":
                    if top.get(20, b"0") != b"0" or top.get(150) in (b"G", b"H"):
                        continue  # a cancel or correction of an earlier trade
                    key = (b"8", sender, top.get(17, record.raw))
                else:
                    if top.get(487, b"0") != b"0":
                        continue
                    key = (b"AE", sender, top.get(571, record.raw))
                if qty and fallback is not None and key not in seen:
                    seen.add(key)
                    yield fallback, qty
            elif msg_type in (b"W", b"X"):
                yield from _md_trades(record.fields, top, fallback, want, seen)


def _md_trades(
    fields: tuple[tuple[int, bytes], ...],
    top: dict[int, bytes],
    fallback: datetime | None,
    want: bytes | None,
    seen: set[tuple[bytes, ...]],
) -> Iterable[tuple[datetime, int]]:
    """Trade entries (269=2) of one market data message."""
    entries: list[dict[int, bytes]] = []
    for tag, value in fields:
        if tag == 269:
            entries.append({})
        if entries:
            entries[-1].setdefault(tag, value)
    for e in entries:
        if e.get(269) != b"2" or e.get(279, b"0") != b"0":
            continue
        sym = e.get(55, top.get(55))
        if want is not None and want not in (sym, e.get(48, top.get(48))):
            continue
        qty = _positive_int(e.get(271))
        when = fallback
        if 273 in e:
            day = e.get(272) or (fallback.strftime("%Y%m%d").encode() if fallback else None)
            if day is not None:
                when = _fix_time(day + b"-" + e[273]) or when
        ident = e.get(278) or e.get(1003)
        # A snapshot (W) repeats the last trade until the next one: without an id, a trade
        # is the same as one seen before if symbol, time, price and size all match.
        key = ((b"id", sym or b"", ident) if ident is not None else
               (b"trade", sym or b"", str(when).encode(), e.get(270, b""), e.get(271, b"")))
        if qty and when is not None and key not in seen:
            seen.add(key)
            yield when, qty


# -- command line -----------------------------------------------------------------------------


# What each input kind is searched for, for the message when none is found.
_LOOKED_FOR = {
    "lobster": ("executions", "event types 4 and 5"),
    "fixlog": ("trades", "fills: 35=8 with LastQty (32) > 0; TradeCaptureReports: 35=AE; "
                         "market-data trade entries: 35=W/X with 269=2"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Exit status 0 when the profile is written, 1 when the input holds no
    trades, 2 for bad arguments or unreadable input; errors are one line on stderr naming the
    program, the file and what was wrong."""
    parser = argparse.ArgumentParser(
        prog="python -m algos.volume_profile",
        description="Learn an intraday volume profile and write it as CSV.")
    parser.add_argument("kind", choices=("lobster", "fixlog"), help="input format")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="message files or FIX logs")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--bucket", type=int, default=300, help="bucket width in seconds")
    parser.add_argument("--zone", default=None,
                        help="time zone of the profile (default: America/New_York for LOBSTER, "
                             "UTC for FIX logs)")
    parser.add_argument("--symbol", default=None, help="FIX logs: keep this Symbol only")
    args = parser.parse_args(argv)
    zone = args.zone or ("America/New_York" if args.kind == "lobster" else "UTC")
    try:
        ZoneInfo(zone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        parser.error(f"--zone {zone!r}: unknown time zone")
    try:
        for path in args.inputs:
            input_file(path, "INPUT")
        if args.kind == "lobster":
            profile = VolumeProfile.from_lobster(args.inputs, bucket_seconds=args.bucket,
                                                 zone=zone)
        else:
            profile = VolumeProfile.from_fix_logs(args.inputs, symbol=args.symbol,
                                                  bucket_seconds=args.bucket, zone=zone)
    except (ValueError, OSError) as exc:  # input errors name their file (and line)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if profile.total == 0:
        names = ", ".join(str(p) for p in args.inputs)
        what, looked_for = _LOOKED_FOR[args.kind]
        if args.symbol is not None and args.kind == "fixlog":
            what += f" of symbol {args.symbol}"
        print(f"{parser.prog}: error: {names}: no {what} found (looked for {looked_for}); "
              "no profile written", file=sys.stderr)
        return 1
    profile.save(args.output)
    print(f"{args.output}: {profile.total} shares in "
          f"{sum(1 for v in profile.volumes if v)} buckets of {args.bucket}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

