"""Structured JSON audit log: every message in and out, order state changes, algo decisions.

One JSON object per line, rendered by structlog with a logger of our own (the process-wide
structlog configuration is neither read nor changed), except the ``msg`` records: two for
every message, they are the log's hot path and are written as the same JSON text straight to
the same writer (:func:`message_line`), without a dictionary for structlog's processor chain
to copy and the encoder to walk. Every record starts with

* ``ts``: the ``now`` the caller passed, ISO 8601 with microseconds. Never the wall clock:
  in a backtest the virtual clock's time is what the log shows (DESIGN.md convention 2);
* ``kind``: ``msg``, ``session``, ``order``, ``algo`` or ``risk``;
* ``event``: what happened.

Kinds and their fields (fields whose value is None are left out):

``msg``
    ``event`` ``in`` or ``out``; ``session`` (the session's name), ``direction`` (``in`` or
    ``out``), ``seq`` MsgSeqNum (34, an int when it is one), ``msg_type`` (35), ``cl_ord_id``
    (11), ``orig_cl_ord_id`` (41), ``order_id`` (37), ``exec_id`` (17) when the message has
    them, and ``raw``, the message with SOH shown as ``|`` and the values of Password (554),
    NewPassword (925), EncryptedPassword (1402) and EncryptedNewPassword (1404) shown as
    ``***`` (a log shipped to an aggregator must not carry the secrets the configuration
    keeps out of YAML; the QuickFIX-format message logs keep the bytes as sent). Inbound
    messages are logged as received, valid or not. The ids come from a scan of the raw
    bytes for the first occurrence of each tag, not a decode, so a message costs a few
    ``bytes.find`` calls.
``session``
    A session event (``LoggedOn``, ``Disconnect``, ``RejectSent``, ``GapDetected``,
    ``Connected``...) with its fields, plus ``next_out``/``next_in``, the session's next
    sender and target sequence numbers at that moment.
``order``
    :meth:`AuditLog.order`: an order state change as the venue or router sees it. Usual
    fields: ``cl_ord_id``, ``orig_cl_ord_id``, ``order_id``, ``exec_id``, ``symbol``,
    ``side``, ``qty``, ``price``, ``status``, ``leaves``, ``cum``, ``avg_px``, ``text`` and,
    for an algo's child order, ``parent`` (the parent's ClOrdID).
``algo``
    :meth:`AuditLog.algo`: an algo decision for parent ``parent``: ``slice``, ``size``,
    ``price``, ``reason`` and, when the decision is about one child, ``child`` (its ClOrdID).
``risk``
    :meth:`AuditLog.risk`: a risk limit breach on ``session``; ``event`` is the reason.

A field named like one of the first three keys is written with ``_`` appended (``kind_``).
Values: Decimals are written as strings (exact), datetimes in ISO 8601, enums by name, bytes
with SOH shown as ``|``; anything else JSON cannot hold as its ``str``.

Flush policy: every ``flush_every`` lines (default 1, i.e. each line reaches the OS as it is
written, so a crash of the process loses nothing already logged), and on :meth:`close`. A
backtest may pass a larger ``flush_every``; then a crash can lose up to that many lines.
Between :meth:`AuditLog.hold` and :meth:`AuditLog.release` (the transport holds the log while
it handles one read's input) lines wait, and release flushes what is due; the transport
releases before the messages of that input's replies reach the socket.

An :class:`AuditLog` is a session observer for :class:`gateway.transport.Engine`. Neither the
observer methods nor :meth:`order`/:meth:`algo`/:meth:`risk` raise: a failure to write
(disk full, closed log) is counted in :attr:`AuditLog.errors`, kept in
:attr:`AuditLog.last_error` and reported once on stderr, because trading must not stop for
the log. Writes are serialised with a lock, so other threads may log too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import structlog
from engine._core import ffi, lib

from fixspec.fieldtypes import PerSecond
from fixspec.reject import Reject
from gateway.codec import peek_field
from gateway.fixmessage import Message
from gateway.session import AppMessage, RejectReceived
from gateway.yamlcheck import Node

if TYPE_CHECKING:
    from gateway.session_runner import SessionRunner

__all__ = ["AuditConfig", "AuditLog", "parse_audit_config", "scan_ids", "show_soh"]

# The tags a message record names, searched as "<SOH>tag=" (tag 8 is first, never searched).
_ID_TAGS: tuple[tuple[bytes, str], ...] = (
    (b"\x0134=", "seq"),
    (b"\x0135=", "msg_type"),
    (b"\x0111=", "cl_ord_id"),
    (b"\x0141=", "orig_cl_ord_id"),
    (b"\x0137=", "order_id"),
    (b"\x0117=", "exec_id"),
)


#: Keys every record starts with; a caller's field of the same name is written with a "_" added.
_RESERVED = frozenset({"ts", "kind", "event"})


def scan_ids(raw: bytes) -> dict[str, str]:
    """The first value of MsgSeqNum, MsgType, ClOrdID, OrigClOrdID, OrderID and ExecID in
    ``raw`` (SOH-delimited), by field name as in the audit record; absent tags are left out.

    A scan, not a decode: it works on invalid messages too, and takes the first occurrence
    (a tag repeated inside a group is not seen twice).
    """
    out: dict[str, str] = {}
    for needle, name in _ID_TAGS:
        value = peek_field(raw, needle)
        if value is not None:
            out[name] = value
    return out


def show_soh(raw: bytes) -> str:
    """``raw`` as text with SOH shown as ``|`` (latin-1, so every byte survives)."""
    return raw.replace(b"\x01", b"|").decode("latin-1")


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bytes):
        return show_soh(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


#: One encoder for every record (json.dumps would build one per call).
_ENCODE = json.JSONEncoder(default=_json_default, separators=(",", ":"),
                           ensure_ascii=False).encode
#: How that encoder writes a string (ensure_ascii=False): its C function, when there is one.
_STR: Callable[[str], str] = json.encoder.encode_basestring


def _render(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> str:
    """structlog processor (the only one): the record as one JSON line, ``ts``, ``kind``,
    ``event`` first, then the other fields in the caller's order, None values dropped."""
    ts = event_dict.pop("ts")
    out: dict[str, Any] = {
        "ts": ts.isoformat(timespec="microseconds") if isinstance(ts, datetime) else ts,
        "kind": event_dict.pop("kind"),
        "event": event_dict.pop("event"),
    }
    for key, value in event_dict.items():
        if value is not None:
            out[key] = value
    return _ENCODE(out)


def message_line(ts: datetime, session: str, direction: str, raw: bytes) -> str:
    """The ``msg`` record of ``raw`` as one JSON line: the text :func:`_render` makes of the
    same fields (``seq`` a JSON number when it is ASCII digits; a test holds the two equal)."""
    return message_record(ts, session, direction, raw).decode("utf-8")


def message_record(ts: datetime, session: str, direction: str, raw: bytes) -> bytes:
    """:func:`message_line` as the UTF-8 bytes the log file holds (what the log writes)."""
    head = _HEADS.get((session, direction))
    if head is None:
        if len(_HEADS) >= 1024:  # a gateway has a few sessions; bounded all the same
            _HEADS.clear()
        head = _HEADS[(session, direction)] = (
            f'","kind":"msg","event":{_STR(direction)},"session":{_STR(session)},'
            f'"direction":{_STR(direction)}').encode()
    iso = (f"{_ISO_SECOND(ts)}.{ts.microsecond:06d}+00:00" if ts.tzinfo is UTC
           else ts.isoformat(timespec="microseconds"))
    if _SECRET.search(raw) is not None:
        raw = _masked(raw)
    return b'{"ts":"%s%s%s' % (iso.encode("ascii"), head, _message_tail(raw))


def _masked(raw: bytes) -> bytes:
    """``raw`` with the value of each password field shown as ``***``: Password (554) and
    NewPassword (925) up to the next SOH; EncryptedPassword (1402) and EncryptedNewPassword
    (1404), data fields that may hold SOH, as far as their length field before them says,
    and on to the next SOH if the value does not end there (a length that is wrong never
    shows part of the secret)."""
    out: list[bytes] = []
    pos = 0
    for m in _SECRET.finditer(raw):
        if m.start() < pos:
            continue  # inside a data value already masked
        start = end = m.end()
        length = m.group(1)
        if length is not None and length.isdigit():
            end = min(start + int(length), len(raw))
        if raw[end:end + 1] != b"\x01":
            end = raw.find(b"\x01", end)
            if end < 0:
                end = len(raw)
        out += [raw[pos:start], b"***"]
        pos = end
    out.append(raw[pos:])
    return b"".join(out)


#: a password field up to its value: Password, NewPassword, or EncryptedPassword and
#: EncryptedNewPassword with the length field that comes before each (a data field's)
_SECRET = re.compile(rb"\x01(?:554|925|(?:1401|1403)=(\d*)\x0114(?:02|04)|14(?:02|04))=")


def _message_tail(raw: bytes) -> bytes:
    """The record's ids and raw text (see csrc/auditline.h: :func:`scan_ids` and
    :func:`show_soh` in one C pass), written into a buffer each thread keeps, or for a
    message longer than ``_KEPT_MESSAGE`` one of its own, not kept."""
    n = len(raw)
    if n > _KEPT_MESSAGE:
        buf = ffi.new("uint8_t[]", lib.audit_msg_tail_bound(n))
    else:
        buf = getattr(_TAIL, "buf", None)
        if buf is None:
            buf = _TAIL.buf = ffi.new("uint8_t[]", _KEPT_TAIL)
    tail: bytes = ffi.buffer(buf, lib.audit_msg_tail(raw, n, buf))[:]
    return tail


#: the longest message whose record's tail fits the buffer each thread keeps, and its size
_KEPT_MESSAGE = 20_000
_KEPT_TAIL = lib.audit_msg_tail_bound(_KEPT_MESSAGE)
_TAIL = threading.local()


#: what a msg record says between its time and its ids, by session and direction
_HEADS: dict[tuple[str, str], bytes] = {}
#: a UTC time to the second as ISO 8601 writes it (``YYYY-MM-DDTHH:MM:SS``)
_ISO_SECOND = PerSecond(lambda t: t.isoformat(timespec="seconds")[:19])


class _LineWriter:
    """The structlog "logger" at the end of the chain: writes rendered lines to a file,
    flushing every ``flush_every`` lines."""

    def __init__(self, file: BinaryIO, flush_every: int) -> None:
        self.file = file
        self.flush_every = flush_every
        self.pending = 0
        self.held = 0  # depth of AuditLog.hold()

    def msg(self, message: str) -> None:
        # a peer's byte that is not UTF-8 (a lone surrogate: fixmessage.value_text) becomes
        # the JSON escape \udcXX, which reads back as the same text
        self.line(message.encode("utf-8", "backslashreplace"))

    def line(self, line: bytes) -> None:
        """Write ``line`` (UTF-8, without its newline)."""
        self.file.write(line + b"\n")
        self.pending += 1
        if self.pending >= self.flush_every and not self.held:
            self.flush()

    def flush(self) -> None:
        self.file.flush()
        self.pending = 0

    info = msg


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """The ``audit`` section of a gateway YAML: where the log goes and how often it flushes."""

    path: Path
    flush_every: int = 1


def parse_audit_config(node: Node, base: Path | None = None) -> AuditConfig:
    """``audit: {path: FILE, flush_every: N}``; a relative ``path`` is taken from ``base``
    (the YAML file's folder). Raises :class:`gateway.yamlcheck.ConfigError` (file:line)."""
    m = node.mapping({"path", "flush_every"}, {"path"})
    path = Path(m["path"].string())
    if not path.is_absolute() and base is not None:
        path = base / path
    flush_every = m["flush_every"].integer(1, 1_000_000) if "flush_every" in m else 1
    return AuditConfig(path, flush_every)


class AuditLog:
    """A JSON-lines audit log at ``path`` (appended to; parent folders are created).

    See the module docstring for the records and the flush policy.
    """

    def __init__(self, path: Path, *, flush_every: int = 1) -> None:
        if flush_every < 1:
            raise ValueError("flush_every must be at least 1")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = self.path.open("ab")  # UTF-8 lines
        self._writer = _LineWriter(self._file, flush_every)
        # bound once: a call is then the processor and the write, not a new logger each time
        self._info = structlog.wrap_logger(
            self._writer, processors=[_render], wrapper_class=structlog.BoundLogger,
            context_class=dict).bind().info
        self._lock = threading.Lock()
        self.errors = 0
        self.last_error: BaseException | None = None

    @classmethod
    def from_config(cls, config: AuditConfig) -> AuditLog:
        return cls(config.path, flush_every=config.flush_every)

    # -- writing ----------------------------------------------------------------------------

    def _write(self, now: datetime, kind: str, event: str, fields: Mapping[str, Any]) -> None:
        if not _RESERVED.isdisjoint(fields):
            # A caller's own "kind" (an order type, say) must not cost the whole record.
            fields = {f"{k}_" if k in _RESERVED else k: v for k, v in fields.items()}
        try:
            with self._lock:
                if self._file is None:
                    raise ValueError(f"audit log {self.path} is closed")
                self._info(event, ts=now, kind=kind, **fields)
        except Exception as exc:  # the log must never stop trading; see the docstring
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = exc
        if self.errors == 1:
            print(f"gateway: audit log {self.path}: cannot write: {exc!r}", file=sys.stderr)

    def order(self, now: datetime, event: str, session: str, **fields: Any) -> None:
        """An order state change (``new``, ``accepted``, ``filled``, ``replaced``...)."""
        self._write(now, "order", event, {"session": session, **fields})

    def algo(self, now: datetime, event: str, parent: str, **fields: Any) -> None:
        """An algo decision about parent order ``parent`` (``slice``, ``cancel``, ``done``...)."""
        self._write(now, "algo", event, {"parent": parent, **fields})

    def risk(self, now: datetime, session: str, reason: str, **fields: Any) -> None:
        """A risk limit breach: ``reason`` names the limit (it becomes ``event``)."""
        self._write(now, "risk", reason, {"session": session, **fields})

    # -- SessionObserver --------------------------------------------------------------------

    def message(self, session: SessionRunner, direction: Literal["in", "out"], raw: bytes,
                now: datetime) -> None:
        try:
            line = message_record(now, session.name, direction, raw)
            with self._lock:
                if self._file is None:
                    raise ValueError(f"audit log {self.path} is closed")
                self._writer.line(line)
        except Exception as exc:  # never raises, as _write
            self._failed(exc)

    def event(self, session: SessionRunner, event: object, now: datetime) -> None:
        if isinstance(event, AppMessage):
            return  # the message record of the inbound message already says it all
        try:
            fields: dict[str, Any] = {"session": session.name, **_event_fields(event)}
            store = session.session.store
            fields["next_out"] = store.next_sender_seq
            fields["next_in"] = store.next_target_seq
        except Exception as exc:
            self._failed(exc)
            return
        self._write(now, "session", type(event).__name__, fields)

    # -- lifetime ---------------------------------------------------------------------------

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._writer.flush()

    def hold(self) -> None:
        """Keep lines in the buffer until the matching :meth:`release` (calls nest)."""
        with self._lock:
            self._writer.held += 1

    def release(self) -> None:
        """End a :meth:`hold`; the outermost flushes the lines the policy says are due."""
        with self._lock:
            w = self._writer
            w.held -= 1
            if not w.held and w.pending >= w.flush_every and self._file is not None:
                try:
                    w.flush()
                except Exception as exc:  # see the module docstring: never raises
                    self._failed(exc)

    def reopen(self) -> None:
        """Go on in a new file at :attr:`path` (after a log rotation renamed the old one):
        the lines written so far are flushed to the old file, which is closed once the new
        one is open. Raises OSError when the new file cannot be opened (the log then keeps
        writing to the old one); does nothing once closed."""
        with self._lock:
            old = self._file
            if old is None:
                return
            old.flush()  # what is written so far stays in the old file (raises: nothing moved)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = self.path.open("ab")
            self._file = self._writer.file = new
            self._writer.pending = 0
            old.close()  # flushed: closing it loses nothing, whatever it says

    def close(self) -> None:
        """Flush and close; later records are counted as errors, not written."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
                self._file.close()
                self._file = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event_fields(event: object) -> dict[str, Any]:
    """The fields of a session event worth keeping, as JSON-friendly values."""
    if isinstance(event, RejectReceived):
        body = event.message.body
        return {"ref_seq_num": body.get_str(45), "ref_tag": body.get_str(371),
                "ref_msg_type": body.get_str(372), "reason": body.get_str(373),
                "text": body.get_str(58)}
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(event):
            value = getattr(event, f.name)
            if isinstance(value, Reject):
                out.update(reason=int(value.reason), reason_text=value.text,
                           ref_tag=value.ref_tag, ref_msg_type=value.ref_msg_type,
                           ref_seq_num=value.ref_seq_num, detail=value.detail or None)
            elif isinstance(value, Message):
                out[f.name] = value.msg_type
            else:
                out[f.name] = value
        return out
    # Plain objects (transport.Connected): their public attributes.
    attrs = getattr(event, "__dict__", {})
    return {k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
            for k, v in attrs.items() if not k.startswith("_")}
