"""Test helpers for FIX messages: a naive SOH splitter standing in for the C framer in tests.

This is deliberately not a framer (no BodyLength, no data fields with embedded SOH): the
production path is engine.framing. Tests only feed it messages without raw data.
"""

from __future__ import annotations

from fixspec.dictionary import DataDictionary, SessionDictionaries
from fixspec.reject import FixProtocolError, Reject
from fixspec.validate import DEFAULT_OPTIONS, ValidationOptions, validate
from gateway.codec import decode
from gateway.fixmessage import Message

SOH = b"\x01"


def split_fields(raw: bytes) -> list[tuple[int, bytes]]:
    """``8=FIX.4.4|9=..|...|10=xxx|`` (SOH-delimited) into ``[(8, b"FIX.4.4"), ...]``."""
    assert raw.endswith(SOH), raw
    out = []
    for part in raw[:-1].split(SOH):
        tag, _, value = part.partition(b"=")
        out.append((int(tag), value))
    return out


def fix(text: str) -> bytes:
    """Write messages in tests with ``|`` for SOH."""
    return text.replace("|", "\x01").encode()


def decode_raw(
    raw: bytes,
    dictionary: DataDictionary | SessionDictionaries,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Message:
    return decode(split_fields(raw), raw, dictionary, options=options)


def reject_of(
    fields: list[tuple[int, bytes]],
    dictionary: DataDictionary | SessionDictionaries,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Reject | None:
    """Decode and validate; the Reject if either step refuses the message, else None."""
    try:
        validate(decode(fields, None, dictionary, options=options), dictionary, options)
    except FixProtocolError as exc:
        return exc.reject
    return None
