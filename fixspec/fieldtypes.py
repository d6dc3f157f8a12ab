"""FIX field data types: format checks, and conversions between wire values and Python values.

Wire values are ``bytes`` exactly as they appear between ``tag=`` and the SOH. Format checks
follow the FIX specification's definitions of each type, with two deliberate leniencies that
real counterparties need: time fractions of 1 to 12 digits (the specification allows 3, 6, 9 or
12), and MonthYear in all three of its forms (``YYYYMM``, ``YYYYMMDD``, ``YYYYMMwN``).
An empty value never passes a format check; whether it is reported as "without a value" is the
validator's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import IntEnum

# Types of the dictionaries QuickFIX ships (FIX 4.0 to 5.0SP2 and FIXT 1.1). A type outside this
# set is an error in the XML: silently treating a typo such as "PRCE" as a string would switch
# format checking off for that field without anyone noticing.
INT_TYPES = frozenset({"INT"})
UNSIGNED_TYPES = frozenset({"LENGTH", "NUMINGROUP", "SEQNUM", "TAGNUM"})
MAX_SEQNUM_DIGITS = 18
#: the largest sequence number a message may carry (see the SEQNUM check below)
MAX_SEQNUM = 10**MAX_SEQNUM_DIGITS - 1
FLOAT_TYPES = frozenset({"FLOAT", "PRICE", "QTY", "AMT", "PERCENTAGE", "PRICEOFFSET"})
DATA_TYPES = frozenset({"DATA", "XMLDATA"})
MULTI_VALUE_TYPES = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})
STRING_TYPES = frozenset({"STRING", "EXCHANGE", "LANGUAGE", "XID", "XIDREF"})
#: the types an empty value is well formed for, where empty values are allowed (text, as
#: QuickFIX's string converter reads it; a number, time, char or boolean is never empty)
EMPTY_TEXT_TYPES = STRING_TYPES | MULTI_VALUE_TYPES | DATA_TYPES
KNOWN_TYPES = (
    INT_TYPES
    | UNSIGNED_TYPES
    | FLOAT_TYPES
    | DATA_TYPES
    | MULTI_VALUE_TYPES
    | STRING_TYPES
    | frozenset(
        {
            "CHAR",
            "BOOLEAN",
            "CURRENCY",
            "COUNTRY",
            "DAYOFMONTH",
            "UTCTIMESTAMP",
            "UTCTIMEONLY",
            "UTCDATEONLY",
            "UTCDATE",
            "LOCALMKTDATE",
            "LOCALMKTTIME",
            "MONTHYEAR",
            "TZTIMEONLY",
            "TZTIMESTAMP",
        }
    )
)

SOH = b"\x01"

_FRACTION = rb"(?:\.\d{1,12})?"
_TZ = rb"(?:Z|[+-]\d{2}(?::?\d{2})?)"
_RE_INT = re.compile(rb"-?\d+")
_RE_UNSIGNED = re.compile(rb"\d+")
_RE_FLOAT = re.compile(rb"-?(?:\d+(?:\.\d*)?|\.\d+)")
_RE_CURRENCY = re.compile(rb"[A-Za-z0-9]{3}")
_RE_COUNTRY = re.compile(rb"[A-Za-z]{2}")
_RE_DATE = re.compile(rb"(\d{4})(\d{2})(\d{2})")
_RE_TIME = re.compile(rb"(\d{2}):(\d{2}):(\d{2})" + _FRACTION)
_RE_TIMESTAMP = re.compile(rb"(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?")
_RE_MONTHYEAR = re.compile(rb"(\d{4})(\d{2})(?:(\d{2})|w([1-5]))?")
_RE_TZTIME = re.compile(rb"(\d{2}):(\d{2})(?::(\d{2})" + _FRACTION + rb")?" + _TZ)
_RE_TZTIMESTAMP = re.compile(
    rb"(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2})(?::(\d{2})" + _FRACTION + rb")?" + _TZ
)


class TimePrecision(IntEnum):
    """Digits after the seconds in a formatted UTCTimestamp."""

    SECONDS = 0
    MILLIS = 3
    MICROS = 6
    NANOS = 9


def _valid_date(y: bytes, m: bytes, d: bytes) -> bool:
    try:
        date(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def _valid_time(h: bytes, m: bytes, s: bytes | None) -> bool:
    # Second 60 is a leap second, which FIX allows.
    return int(h) < 24 and int(m) < 60 and (s is None or int(s) <= 60)


def _is_date(v: bytes) -> bool:
    m = _RE_DATE.fullmatch(v)
    return m is not None and _valid_date(*m.groups())


def _is_time(v: bytes) -> bool:
    m = _RE_TIME.fullmatch(v)
    return m is not None and _valid_time(*m.groups())


#: ``YYYYMMDD-HH:MM`` prefixes of UTCTimestamps read already, each with its minute as a UTC
#: datetime, or None if the date, hour or minute is not valid: a session's timestamps share a
#: few, and reading the date is most of the cost of one (a message carries two). Cleared when
#: full.
_TIMESTAMP_MINUTES: dict[bytes, datetime | None] = {}
_MINUTES_KEPT = 4096


def _minute_of(v: bytes, m: re.Match[bytes]) -> datetime | None:
    """The minute of UTCTimestamp ``v`` (``m`` its match of _RE_TIMESTAMP), None if the
    date, hour or minute is not valid."""
    key = v[:14]
    try:
        return _TIMESTAMP_MINUTES[key]
    except KeyError:
        pass
    y, mo, d, h, mi = m.groups()[:5]
    minute = (datetime(int(y), int(mo), int(d), int(h), int(mi), tzinfo=UTC)
              if _valid_date(y, mo, d) and _valid_time(h, mi, None) else None)
    if len(_TIMESTAMP_MINUTES) >= _MINUTES_KEPT:
        _TIMESTAMP_MINUTES.clear()
    _TIMESTAMP_MINUTES[key] = minute
    return minute


def _is_timestamp(v: bytes) -> bool:
    m = _RE_TIMESTAMP.fullmatch(v)
    # the seconds: two digits, 60 a leap second
    return m is not None and _minute_of(v, m) is not None and v[15:17] <= b"60"


def _is_monthyear(v: bytes) -> bool:
    m = _RE_MONTHYEAR.fullmatch(v)
    if m is None:
        return False
    year, month, day, _week = m.groups()
    if day is not None:
        return _valid_date(year, month, day)
    return 1 <= int(month) <= 12


def _is_tztime(v: bytes) -> bool:
    m = _RE_TZTIME.fullmatch(v)
    return m is not None and _valid_time(*m.groups())


def _is_tztimestamp(v: bytes) -> bool:
    m = _RE_TZTIMESTAMP.fullmatch(v)
    return m is not None and _valid_date(*m.groups()[:3]) and _valid_time(*m.groups()[3:6])


def _is_string(v: bytes) -> bool:
    return SOH not in v


def _is_dayofmonth(v: bytes) -> bool:
    return _RE_UNSIGNED.fullmatch(v) is not None and 1 <= int(v) <= 31


def _matcher(pattern: re.Pattern[bytes]) -> Callable[[bytes], bool]:
    return lambda v: pattern.fullmatch(v) is not None


_CHECKS: dict[str, Callable[[bytes], bool]] = {
    "CHAR": lambda v: len(v) == 1 and v != SOH,
    "BOOLEAN": lambda v: v in (b"Y", b"N"),
    "CURRENCY": _matcher(_RE_CURRENCY),
    "COUNTRY": _matcher(_RE_COUNTRY),
    "DAYOFMONTH": _is_dayofmonth,
    "UTCTIMESTAMP": _is_timestamp,
    "UTCTIMEONLY": _is_time,
    "LOCALMKTTIME": _is_time,
    "UTCDATEONLY": _is_date,
    "UTCDATE": _is_date,
    "LOCALMKTDATE": _is_date,
    "MONTHYEAR": _is_monthyear,
    "TZTIMEONLY": _is_tztime,
    "TZTIMESTAMP": _is_tztimestamp,
    # any text: an empty token (two spaces, a leading or trailing one), or one of two
    # characters where a MULTIPLECHARVALUE's are one, is not a value of the field's
    # enumeration, which is the validator's business (5, Value is incorrect, as QuickFIX
    # and QuickFIX/J answer), not a format error
    "MULTIPLEVALUESTRING": _is_string,
    "MULTIPLESTRINGVALUE": _is_string,
    "MULTIPLECHARVALUE": _is_string,
}
_CHECKS.update(dict.fromkeys(INT_TYPES, _matcher(_RE_INT)))
_CHECKS.update(dict.fromkeys(UNSIGNED_TYPES, _matcher(_RE_UNSIGNED)))
# A sequence number past what a store can hold (and any session can reach) is not a number
# to act on: 18 digits stay below 2**63.
_CHECKS["SEQNUM"] = lambda v: len(v) <= MAX_SEQNUM_DIGITS and _RE_UNSIGNED.fullmatch(v) is not None
_CHECKS.update(dict.fromkeys(FLOAT_TYPES, _matcher(_RE_FLOAT)))
_CHECKS.update(dict.fromkeys(STRING_TYPES, _is_string))
_CHECKS.update(dict.fromkeys(DATA_TYPES, lambda v: True))
assert set(_CHECKS) == KNOWN_TYPES


def format_check(fix_type: str) -> Callable[[bytes], bool]:
    """The format check of FIX type ``fix_type`` for a non-empty value (what
    :func:`is_valid_format` calls); an unknown type raises ``KeyError``."""
    return _CHECKS[fix_type]


def is_valid_format(fix_type: str, value: bytes) -> bool:
    """True if ``value`` is a well-formed, non-empty value of FIX type ``fix_type``.

    ``fix_type`` is a name from :data:`KNOWN_TYPES` (upper case, as the loader normalises it);
    an unknown type raises ``KeyError``.
    """
    if not value:
        return False
    return _CHECKS[fix_type](value)


def enum_tokens(fix_type: str, value: bytes) -> list[bytes]:
    """The values to look up in a field's enumeration: each space-separated token of a
    multiple-value type, else the whole value."""
    if fix_type in MULTI_VALUE_TYPES:
        return value.split(b" ")
    return [value]


def parse_utc_timestamp(value: bytes | str) -> datetime:
    """Read a UTCTimestamp (``YYYYMMDD-HH:MM:SS[.fff...]``) as an aware UTC datetime.

    Fraction digits beyond microseconds are dropped (datetime holds no more); a leap second
    (``:60``) reads as 59.999999. Raises ``ValueError`` if the value is not a UTCTimestamp.
    """
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    m = _RE_TIMESTAMP.fullmatch(raw)
    minute = None if m is None else _minute_of(raw, m)
    if m is None or minute is None or raw[15:17] > b"60":  # _is_timestamp, matched once
        raise ValueError(f"not a UTCTimestamp: {value!r}")
    second = int(raw[15:17])
    micros = int((m[7] or b"0").ljust(6, b"0")[:6])
    if second == 60:
        second, micros = 59, 999_999
    return minute.replace(second=second, microsecond=micros)


def parse_decimal(value: bytes | str) -> Decimal:
    """Read a float-family value (price, qty, amt...) exactly; ``ValueError`` if malformed."""
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    if _RE_FLOAT.fullmatch(raw) is None:
        raise ValueError(f"not a FIX decimal: {value!r}")
    try:
        return Decimal(raw.decode("ascii"))
    except InvalidOperation as exc:  # unreachable after the regex; kept for safety
        raise ValueError(f"not a FIX decimal: {value!r}") from exc


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PerSecond:
    """``make(when)``, the text of a time to the second, made once a second: the last one
    made is kept and given again for a UTC time in the same second (a busy session formats
    the same second many times over). A time not in UTC is made each time (its own fields
    are shown, never a conversion)."""

    def __init__(self, make: Callable[[datetime], str]) -> None:
        self.make = make
        self._last: tuple[int | None, str] = (None, "")  # seconds since the epoch, its text

    def __call__(self, when: datetime) -> str:
        if when.tzinfo is not UTC:
            return self.make(when)
        since = when - _EPOCH
        second = since.days * 86_400 + since.seconds
        last = self._last
        if last[0] == second:
            return last[1]
        text = self.make(when)
        self._last = (second, text)
        return text


def _second_text(when: datetime) -> str:
    # formatted by hand: strftime costs twice as much
    return (f"{when.year:04d}{when.month:02d}{when.day:02d}-"
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}")


#: ``when``'s date and time to the second as a UTCTimestamp begins, ``YYYYMMDD-HH:MM:SS``
utc_second_text = PerSecond(_second_text)


def format_utc_timestamp(t: datetime | int, precision: TimePrecision = TimePrecision.MILLIS) -> str:
    """Format ``t`` as a FIX UTCTimestamp, e.g. ``20240102-13:45:01.123`` at millisecond precision.

    ``t`` is an aware datetime (converted to UTC) or an ``int`` of nanoseconds since the Unix
    epoch (the form a virtual clock or ``time.time_ns()`` gives, and the only one that carries
    nanoseconds). Extra digits are truncated, never rounded, so a time never moves forward.
    A naive datetime raises ``ValueError``: the codec never guesses a time zone.
    """
    if isinstance(t, datetime):
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        when = t if t.tzinfo is UTC else t.astimezone(UTC)
        nanos = when.microsecond * 1000
    else:
        seconds, nanos = divmod(t, 1_000_000_000)
        when = _EPOCH + timedelta(seconds=seconds)
    text = utc_second_text(when)
    if precision == TimePrecision.SECONDS:
        return text
    digits = f"{nanos:09d}"[: int(precision)]
    return f"{text}.{digits}"
