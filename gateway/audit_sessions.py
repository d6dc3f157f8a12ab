"""Which FIX session a record of ``gateway audit`` belongs to, and what to call that session.

A ClOrdID is unique within one session only (the venue looks orders up by (session, ClOrdID)),
so :mod:`gateway.audit_family` follows ClOrdID and OrderID links within one session, told by
:func:`session_key`:

* a record of our audit log by its ``session`` field, the session's name
  ``BEGIN:SENDER->TARGET`` (another name, such as the in-process algo desk's ``algo-desk``, is a
  session of its own);
* a message of a FIX message log (ours or another engine's capture) by its BeginString (8)
  and CompIDs (49, 56).

Both give ``BEGIN:A|B`` with the two CompIDs sorted, so the two directions of a session, each
side's message log and our audit log's records of it are one session. :func:`session_label`
names a session for people: the name our gateway gives it (``FIX.4.4:VENUE->CLIENT1``), from
our audit log or from a log named like QuickFIX's (which tells our side), else
``BEGIN:A<->B``. :func:`session_names` is what ``--session NAME`` may match: those names and
either CompID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.audit_entries import Entry
from gateway.codec import peek_field

__all__ = ["session_key", "session_label", "session_names"]

_NAME = re.compile(r"(?P<begin>[^:]+):(?P<sender>.+?)->(?P<target>.+)")


def _parts_of_name(name: str) -> tuple[str, str, str] | None:
    m = _NAME.fullmatch(name)
    return (m["begin"], m["sender"], m["target"]) if m else None


def _parts_of_message(raw: bytes) -> tuple[str, str, str]:
    begin = raw[2:raw.find(b"\x01")].decode("latin-1") if raw.startswith(b"8=") else "?"
    return (begin, peek_field(raw, b"\x0149=") or "?", peek_field(raw, b"\x0156=") or "?")


def _is_message_log(entry: Entry) -> bool:
    """A message of a FIX message log (our audit log's records all carry their JSON)."""
    return not entry.record and entry.raw is not None


def _key(begin: str, a: str, b: str) -> str:
    return f"{begin}:{'|'.join(sorted((a, b)))}"


def session_key(entry: Entry) -> str:
    """The session ``entry`` belongs to, as a key equal for every record of that session
    (see the module docstring)."""
    if _is_message_log(entry):
        assert entry.raw is not None
        return _key(*_parts_of_message(entry.raw))
    parts = _parts_of_name(entry.session)
    return _key(*parts) if parts is not None else entry.session


def session_label(entries: Iterable[Entry]) -> str:
    """The name of the session of ``entries`` (records of one session): our gateway's name
    for it if a record tells it (an audit log's session name, or a message log that says
    which side is ours), else ``BEGIN:A<->B``."""
    fallback = ""
    for e in entries:
        if not _is_message_log(e):
            if _parts_of_name(e.session) is not None:
                return e.session
            fallback = fallback or e.session
            continue
        assert e.raw is not None
        begin, sender, target = _parts_of_message(e.raw)
        if e.direction == "out":
            return f"{begin}:{sender}->{target}"
        if e.direction == "in":
            return f"{begin}:{target}->{sender}"
        fallback = fallback or f"{begin}:{'<->'.join(sorted((sender, target)))}"
    return fallback


def session_names(entries: Iterable[Entry]) -> frozenset[str]:
    """What ``--session NAME`` matches for the session of ``entries``: the names records give
    it (``FIX.4.4:VENUE->CLIENT1``, ``algo-desk``) and each CompID (``CLIENT1``)."""
    names: set[str] = set()
    for e in entries:
        if _is_message_log(e):
            assert e.raw is not None
            _, sender, target = _parts_of_message(e.raw)
            names |= {sender, target}
            continue
        names.add(e.session)
        parts = _parts_of_name(e.session)
        if parts is not None:
            names |= {parts[1], parts[2]}
    names.discard("?")
    names.discard("")
    return frozenset(names)
