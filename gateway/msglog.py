"""Per-session message and event logs in QuickFIX's file format.

``<dir>/<BeginString>-<Sender>-<Target>.messages.current.log`` gets one line per message in
either direction, ``YYYYMMDD-HH:MM:SS.ffffff : 8=FIX...`` with SOH kept, so our logs and logs
captured from QuickFIX engines are read by the same tools (:mod:`gateway.fixlog`). The
``.event.current.log`` beside it gets session events (logon, gaps, rejects, disconnects).
Message lines wait in the file's buffer until :meth:`SessionLog.flush` or
:meth:`SessionLog.close`: the transport flushes them before the messages they record reach
the socket (a backtest, whose logs are read after the run, only at close). Event lines are
rare and flushed as written. The message store, not this log, is what recovery relies on.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from fixspec.fieldtypes import utc_second_text


def log_stamp(now: datetime) -> str:
    """``now`` as a log line starts: ``YYYYMMDD-HH:MM:SS.ffffff`` (QuickFIX's layout)."""
    return f"{utc_second_text(now)}.{now.microsecond:06d}"


def log_line(now: datetime, text: bytes) -> bytes:
    """One line of a message or event log: ``YYYYMMDD-HH:MM:SS.ffffff : text`` and a newline
    (every log the gateway writes in QuickFIX's layout uses this; an event's text is UTF-8,
    a message's bytes go as they came)."""
    return b"%s : %s\n" % (log_stamp(now).encode("ascii"), text)


WIRE_TEXT_LIMIT = 40  # characters of a value from the wire that a log line shows


def wire_text(value: str, limit: int = WIRE_TEXT_LIMIT) -> str:
    """``value`` (decoded latin-1 from the wire) fit for a log line, in single quotes:
    printable ASCII as it is, anything else (controls, newlines, escapes, non-ASCII) and the
    backslash and quote as ``\\xNN``; at most ``limit`` characters inside the quotes, then
    ``...`` if cut. A peer cannot start a line, move a terminal's cursor or fill the disk
    with one field."""
    out: list[str] = []
    used = 0
    for ch in value:
        code = ord(ch)
        text = (ch if " " <= ch <= "~" and ch not in "\\'" else
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                else f"\\U{code:08x}")
        if used + len(text) > limit:
            return "'" + "".join(out) + "'..."
        out.append(text)
        used += len(text)
    return "'" + "".join(out) + "'"



def write_failed(path: Path, exc: OSError, errors: int, consequence: str) -> int:
    """``errors`` + 1, for a log write that failed: the first failure of a log is said on
    stderr with ``consequence`` (what goes on without it), the rest are only counted. Never
    raises: a log that cannot be written must not stop what it records."""
    if errors == 0:
        print(f"gateway: log {path}: cannot write: {exc.strerror or exc}; {consequence}",
              file=sys.stderr, flush=True)
    return errors + 1


class SessionLog:
    """The message log and event log of one session; ``directory`` None logs nothing."""

    def __init__(self, directory: Path | None, begin_string: str, sender: str,
                 target: str) -> None:
        self._messages: BinaryIO | None = None  # the message's bytes as they are
        self._events: BinaryIO | None = None
        self.errors = 0  # writes that failed (see _failed)
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{begin_string}-{sender}-{target}"
        self.messages_path = directory / f"{stem}.messages.current.log"
        self.events_path = directory / f"{stem}.event.current.log"
        self._messages = self.messages_path.open("ab")
        self._events = self.events_path.open("ab")

    def message(self, now: datetime, raw: bytes) -> None:
        if self._messages is not None:
            try:
                self._messages.write(log_line(now, raw))
            except OSError as exc:
                self._failed(self.messages_path, exc)

    def event(self, now: datetime, text: str) -> None:
        if self._events is not None:
            try:
                # (a peer's bytes quoted in the text as it sent them: fixmessage.value_text)
                self._events.write(log_line(now, text.encode("utf-8", "surrogateescape")))
                self._events.flush()
            except OSError as exc:
                self._failed(self.events_path, exc)

    def flush(self) -> None:
        """Push the message lines written so far to the OS."""
        if self._messages is not None:
            try:
                self._messages.flush()
            except OSError as exc:
                self._failed(self.messages_path, exc)

    def _failed(self, path: Path, exc: OSError) -> None:
        """A write that failed (a full disk): the log is a record, not the session's state
        (the store is), so it must not cost the session its connection, nor the gateway its
        clean stop. Lines the file buffer still holds go out with a later flush that
        succeeds."""
        self.errors = write_failed(path, exc, self.errors,
                                   "the session goes on, its store keeps what it sends")

    def reopen(self) -> None:
        """Go on in new files at the same paths (after a log rotation renamed the old ones):
        each new file is opened before its old one is closed, so a failure to open (reported
        by the OSError) leaves the log writing where it was."""
        if self._messages is None or self._events is None:
            return
        self.messages_path.parent.mkdir(parents=True, exist_ok=True)
        messages = self.messages_path.open("ab")
        try:
            events = self.events_path.open("ab")
        except OSError:
            messages.close()
            raise
        old = (self._messages, self._events)
        self._messages, self._events = messages, events
        try:
            old[0].close()
        finally:
            old[1].close()

    def close(self) -> None:
        for f in (self._messages, self._events):
            if f is not None:
                try:
                    f.close()  # (closed even when its last flush fails)
                except OSError as exc:
                    self._failed(Path(f.name), exc)
        self._messages = self._events = None
