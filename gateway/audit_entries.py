"""The records of our JSON audit logs and captured FIX message logs that mention an order, as
:class:`Entry` objects.

:func:`read_entries` reads files of two kinds, told apart by their first non-blank line:

* our audit logs (:mod:`gateway.audit`): one JSON object per line;
* FIX message logs in every layout :mod:`gateway.fixlog` reads (QuickFIX's message logs, logs
  of other engines and brokers: any timestamp or none, any delimiter, text around messages,
  messages split across lines). A log named like QuickFIX's ``BEGIN-SENDER-TARGET.messages
  ...log`` (ours are named so too) tells which side wrote it, hence each message's direction.

Only records that carry an order id (ClOrdID, OrigClOrdID, OrderID or an algo parent) are
kept; heartbeats and market data never belong to an order's life.

Times: a FIX log record takes the log's timestamp, else its SendingTime (52); times without
a zone are taken as UTC (our logs and QuickFIX's write UTC).

The file-level pieces below :func:`read_entries` (:func:`open_lines`, :func:`json_hits`,
:func:`fix_hits`, :func:`json_entries_at`, :func:`fix_entries_at`) are what
:func:`gateway.audit_two_passes.read_related` reads with: the same parsing, so both readings
number, date and name records alike.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fixspec.fieldtypes import parse_utc_timestamp
from gateway.audit import scan_ids
from gateway.codec import peek_field
from gateway.fixlog import LogRecord, read_log_lines

__all__ = ["LOG_SUFFIXES", "CountedLines", "Entry", "JsonHit", "Reading", "find_files",
           "fix_entries_at", "fix_hits", "is_audit_log", "json_entries_at", "json_hits",
           "label_of", "open_lines", "our_comp_id", "read_entries"]


#: File name endings read when PATH is a folder (also with ``.gz`` after them). Others (our
#: binary message stores, QuickFIX's .body/.header files) hold copies of sent messages.
LOG_SUFFIXES = (".log", ".jsonl", ".json", ".txt", ".fix", ".messages")
#: What rotation appends to a log's name: logrotate's ``.1``, ``.2``... or its ``dateext``
#: ``-YYYYMMDD`` (``audit.jsonl.1`` is the audit log before the last SIGUSR2)
# rotated names: logrotate's .1 and -YYYYMMDD (dateext), and a date with dashes after a dot,
# dash or underscore (logrotate's dateformat, Python's TimedRotatingFileHandler: .2026-11-28,
# .2026-11-28_13-00)
_ROTATED = re.compile(r"(?:\.\d+|-\d{8}(?:-\d+)?|[-._]\d{4}-\d{2}-\d{2}(?:_[\d-]+)?)$")
_QUICKFIX_NAME = re.compile(r"^(?:FIXT?\.\d\.\d(?:SP\d)?)-(.+?)-(.+?)\.messages\b")
_PIPE_FIELD = re.compile(r"\|(?=\d+=)")
_ID_KEYS = ("cl_ord_id", "orig_cl_ord_id", "order_id", "parent")


@dataclass(slots=True)
class Entry:
    """One record that mentions an order. ``raw`` is the FIX message (SOH-delimited) for
    messages, ``record`` the JSON object for our order/algo/risk records (also kept for our
    message records). ``time`` is aware UTC or None; ``seq`` the reading order. ``also``: the
    other places (``file:line``) the same message was read, once
    :func:`gateway.audit_family.related` merged them."""

    time: datetime | None
    source: str
    seq: int
    kind: str
    session: str
    direction: str | None
    cl_ord_id: str | None = None
    orig_cl_ord_id: str | None = None
    order_id: str | None = None
    parent: str | None = None
    raw: bytes | None = None
    record: Mapping[str, Any] = field(default_factory=dict)
    also: list[str] = field(default_factory=list)  # where else the same message was read


@dataclass
class Reading:
    """What :func:`read_entries` found: the entries, and per file problems (``file:line:
    reason``) that did not stop the reading. With ``max_warnings`` set, only the first that
    many problems are kept and ``more_warnings`` counts the others (a folder of files that
    are not logs must not fill memory with complaints about each line)."""

    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: files that could not be read to their end (``file[:line]: cannot read: reason``):
    #: what was read before is kept, but a timeline may lack records
    unreadable: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0
    max_warnings: int | None = None
    more_warnings: int = 0

    def warn(self, problem: str) -> None:
        if self.max_warnings is not None and len(self.warnings) >= self.max_warnings:
            self.more_warnings += 1
        else:
            self.warnings.append(problem)


def find_files(path: Path, unreadable: list[str] | None = None) -> list[Path]:
    """``path`` itself if it is a file; else the log files under it (see
    :data:`LOG_SUFFIXES`; also rotated, and gzipped), recursively, through symlinked
    folders too (each folder once: a link loop ends), skipping hidden ones and event logs
    (``*.event.*``, QuickFIX's naming and ours: their lines quote what peers sent, a refused
    stranger's bytes included, and are no record of messages), sorted. A folder that cannot
    be read is named in ``unreadable`` (when given). Raises OSError if ``path`` does not
    exist."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")

    def refused(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append(f"{exc.filename}: cannot read the folder: "
                              f"{exc.strerror or exc}")

    out = []
    folders: set[tuple[int, int]] = set()
    for top, dirs, names in os.walk(path, onerror=refused, followlinks=True):
        st = os.stat(top)
        if (st.st_dev, st.st_ino) in folders:
            dirs[:] = []  # reached again through a link: read once
            continue
        folders.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for n in names:
            p = Path(top, n)
            if n.startswith(".") or not p.is_file():
                continue
            name = _ROTATED.sub("", n[:-3] if n.endswith(".gz") else n)
            if (name.endswith(LOG_SUFFIXES) or ".log." in name) and ".event." not in name:
                out.append(p)
    return sorted(out)


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _first_line(path: Path) -> bytes:
    with _open(path) as f:
        for line in f:
            if line.strip():
                return line.lstrip()
    return b""


def _utc(t: datetime | None) -> datetime | None:
    """``t`` in UTC: a time with another offset (a log written in local time) converted, one
    without any taken as UTC. ``--date`` and the timeline's days are UTC dates. A time UTC
    cannot hold (0001-01-01T00:00+01:00) is kept as written."""
    if t is None:
        return None
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC)
    except OverflowError:
        return t


class CountedLines:
    """The lines of a file, counted, so a read error can name the line it happened at."""

    def __init__(self, f: io.BufferedIOBase) -> None:
        self.f = f
        self.n = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.f:
            self.n += 1
            yield line


@contextmanager
def open_lines(path: Path, label: str) -> Iterator[CountedLines]:
    """The counted lines of ``path``; a read error inside the block becomes an OSError naming
    the file and the line it stopped at (permissions, a corrupt gzip stream)."""
    with _open(path) as f:
        lines = CountedLines(f)
        try:
            yield lines
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise OSError(f"{label}:{lines.n + 1}: cannot read: {_reason(exc)}") from exc


def is_audit_log(path: Path, label: str) -> bool:
    """Whether ``path`` is one of our audit logs (its first non-blank line is an object)."""
    try:
        return _first_line(path).startswith(b"{")
    except (OSError, EOFError, zlib.error) as exc:
        raise OSError(f"{label}: cannot read: {_reason(exc)}") from exc


def label_of(paths: Sequence[Path], labels: Sequence[str] | None, i: int) -> str:
    """How sources name ``paths[i]``: ``labels[i]``, else the path."""
    return labels[i] if labels is not None else str(paths[i])


def read_entries(paths: Sequence[Path], labels: Sequence[str] | None = None) -> Reading:
    """Read every file in ``paths`` (named ``labels[i]`` in sources; default the path), an
    :class:`Entry` for every record with an order id: memory grows with the logs (see
    :func:`gateway.audit_two_passes.read_related` for one order). Raises OSError naming the
    file (and the line, if reading stopped inside it) when one cannot be read (permissions, a
    corrupt gzip stream)."""
    reading = Reading()
    entries = reading.entries
    for i, path in enumerate(paths):
        label = label_of(paths, labels, i)
        reading.files += 1
        is_json = is_audit_log(path, label)
        with open_lines(path, label) as lines:
            if is_json:
                for lineno, obj, ids, time in json_hits(lines, label, reading):
                    entries.append(_json_entry(obj, ids, time, f"{label}:{lineno}",
                                               len(entries)))
            else:
                ours = our_comp_id(path)
                for rec, ids in fix_hits(lines, label, reading):
                    entries.append(_fix_entry(rec, ids, ours, len(entries)))
    return reading


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


JsonHit = tuple[int, dict[str, Any], dict[str, str], datetime | None]


def json_hits(lines: Iterable[bytes], label: str, reading: Reading) -> Iterator[JsonHit]:
    """``(line number, record, its ids, its time)`` of each audit record with an order id, in
    file order. Every record is counted in ``reading``; lines that are not audit records and
    bad times are reported there."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        reading.records += 1
        try:
            obj = json.loads(line)
        except ValueError as exc:
            reading.warn(f"{label}:{lineno}: skipped, not JSON: {exc}")
            continue
        if not isinstance(obj, dict) or "kind" not in obj:
            reading.warn(f"{label}:{lineno}: skipped, not an audit record")
            continue
        ids = _json_ids(obj)
        if not ids:
            continue
        try:
            time = _json_time(obj)
        except (TypeError, ValueError):
            reading.warn(f"{label}:{lineno}: bad ts {obj.get('ts')!r}")
            time = None
        yield lineno, obj, ids, time


def _json_ids(obj: Mapping[str, Any]) -> dict[str, str]:
    ids = {k: str(obj[k]) for k in _ID_KEYS if obj.get(k) is not None}
    if obj["kind"] == "algo" and "cl_ord_id" not in ids and obj.get("child") is not None:
        # the runners name the child an algo decision is about "child": its ClOrdID on
        # the wire, which links the decision to the child's own messages
        ids["cl_ord_id"] = str(obj["child"])
    return ids


def _json_time(obj: Mapping[str, Any]) -> datetime | None:
    """The record's ``ts``, aware; raises TypeError or ValueError if it is not a time."""
    return _utc(datetime.fromisoformat(obj["ts"])) if "ts" in obj else None


def _json_entry(obj: dict[str, Any], ids: Mapping[str, str], time: datetime | None,
                source: str, seq: int) -> Entry:
    raw = obj.get("raw")
    return Entry(
        time=time, source=source, seq=seq, kind=str(obj["kind"]),
        session=str(obj.get("session", "")), direction=obj.get("direction"),
        raw=_PIPE_FIELD.sub("\x01", raw).encode("latin-1", "replace") if isinstance(
            raw, str) else None,
        record=obj, cl_ord_id=ids.get("cl_ord_id"), orig_cl_ord_id=ids.get("orig_cl_ord_id"),
        order_id=ids.get("order_id"), parent=ids.get("parent"))


def fix_hits(lines: Iterable[bytes], label: str,
              reading: Reading) -> Iterator[tuple[LogRecord, dict[str, str]]]:
    """Each message with an order id and its ids, in file order. Every message is counted in
    ``reading``; unreadable ones are reported there once the file is read to its end."""
    bad = 0
    first_bad = ""
    for rec in read_log_lines(lines, label):
        reading.records += 1
        if not rec.ok:
            bad += 1
            first_bad = first_bad or f"line {rec.line}, {rec.status.name}: {rec.detail}"
            continue
        ids = scan_ids(rec.raw)
        if any(k in ids for k in ("cl_ord_id", "orig_cl_ord_id", "order_id")):
            yield rec, ids
    if bad:
        reading.warn(f"{label}: {bad} unreadable messages skipped (first: {first_bad})")


def our_comp_id(path: Path) -> str | None:
    """Our CompID, if the log is named like QuickFIX's (then it tells each direction)."""
    m = _QUICKFIX_NAME.match(path.name)
    return m.group(1) if m else None


def _fix_entry(rec: LogRecord, ids: Mapping[str, str], ours: str | None, seq: int) -> Entry:
    sender = peek_field(rec.raw, b"\x0149=") or "?"
    target = peek_field(rec.raw, b"\x0156=") or "?"
    time = rec.timestamp
    if time is None:
        sent = peek_field(rec.raw, b"\x0152=")
        try:
            time = parse_utc_timestamp(sent) if sent else None
        except ValueError:
            time = None
    direction = None if ours is None else (
        "out" if sender == ours else "in" if target == ours else None)
    return Entry(
        time=_utc(time), source=rec.where, seq=seq, kind="msg",
        session=f"{sender}->{target}", direction=direction,
        cl_ord_id=ids.get("cl_ord_id"), orig_cl_ord_id=ids.get("orig_cl_ord_id"),
        order_id=ids.get("order_id"), raw=rec.raw)


# -- reading again the records an earlier reading found ---------------------------------------


def json_entries_at(lines: Iterable[bytes], label: str,
                    seqs: Mapping[int, int]) -> Iterator[Entry]:
    """Entries for the records at the lines ``seqs`` names (line -> seq), which an earlier
    reading of the same audit log found with :func:`json_hits`; only those lines are parsed,
    and reading stops after the last."""
    last = max(seqs)
    for lineno, line in enumerate(lines, 1):
        seq = seqs.get(lineno)
        if seq is None:
            continue
        obj = json.loads(line)
        try:
            time = _json_time(obj)
        except (TypeError, ValueError):
            time = None  # reported by the first pass
        yield _json_entry(obj, _json_ids(obj), time, f"{label}:{lineno}", seq)
        if lineno == last:
            return


def fix_entries_at(lines: Iterable[bytes], label: str, ours: str | None,
                   seqs: Mapping[int, int]) -> Iterator[Entry]:
    """Entries for the messages with order ids that ``seqs`` names by their number among
    :func:`fix_hits`' answers for the file (number -> seq); reading stops after the last."""
    last = max(seqs)
    quiet = Reading()  # the first pass counted and reported
    for n, (rec, ids) in enumerate(fix_hits(lines, label, quiet)):
        seq = seqs.get(n)
        if seq is None:
            continue
        yield _fix_entry(rec, ids, ours, seq)
        if n == last:
            return

