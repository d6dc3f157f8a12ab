"""An order's life as a timeline, from our JSON audit logs and captured FIX message logs.

:func:`read_entries` reads files of two kinds, told apart by their first non-blank line:

* our audit logs (:mod:`gateway.audit`): one JSON object per line;
* FIX message logs in every layout :mod:`gateway.fixlog` reads (QuickFIX's message logs, logs
  of other engines and brokers: any timestamp or none, any delimiter, text around messages,
  messages split across lines). A log named like QuickFIX's ``BEGIN-SENDER-TARGET.messages
  ...log`` (ours are named so too) tells which side wrote it, hence each message's direction.

Only records that carry an order id (ClOrdID, OrigClOrdID, OrderID or an algo parent) are
kept; heartbeats and market data never belong to an order's life.

:func:`related` finds the records of one order: starting from a ClOrdID it follows
OrigClOrdID (41) chains in both directions (replaces and cancels), the OrderIDs (37) those
ClOrdIDs map to (placeholders like ``NONE`` are ignored), and algo child orders whose
``parent`` is in the set, with their own chains (an algo decision's ``child`` is that
child's ClOrdID, so its messages to and from the venue come too). When the order asked for
is itself an algo child, its parent's own records come too (not its siblings).

:func:`read_related` answers as ``related(read_entries(...).entries, ...)`` for one order in
memory bounded by the order's own records plus a compact index of every record's ids (21
bytes a record, and 8 an id while the family is searched), where an :class:`Entry` with its
message and JSON record costs a kilobyte or more: a desk's day of logs is gigabytes. It reads
the files twice (see its docstring).

Times: a FIX log record takes the log's timestamp, else its SendingTime (52); times without
a zone are taken as UTC (our logs and QuickFIX's write UTC). Records sort by time, ties in
reading order.
"""

from __future__ import annotations

import bisect
import gzip
import io
import json
import re
import zlib
from array import array
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from fixspec.dictionary import SessionDictionaries, builtin_session
from fixspec.fieldtypes import parse_utc_timestamp
from gateway.audit import scan_ids, show_soh
from gateway.codec import peek_field, scan_fields
from gateway.fixlog import LogRecord, read_log_lines

__all__ = ["LOG_SUFFIXES", "Entry", "Reading", "Relation", "describe", "find_files",
           "read_entries", "read_related", "related"]

#: File name endings read when PATH is a folder (also with ``.gz`` after them). Others (our
#: binary message stores, QuickFIX's .body/.header files) hold copies of sent messages.
LOG_SUFFIXES = (".log", ".jsonl", ".json", ".txt", ".fix", ".messages")
#: OrderID values that mean "no order id yet" and link nothing.
PLACEHOLDER_ORDER_IDS = frozenset({"", "NONE", "0", "N/A", "NA", "UNKNOWN", "NULL"})
_QUICKFIX_NAME = re.compile(r"^(?:FIXT?\.\d\.\d(?:SP\d)?)-(.+?)-(.+?)\.messages\b")
_PIPE_FIELD = re.compile(r"\|(?=\d+=)")
_ID_KEYS = ("cl_ord_id", "orig_cl_ord_id", "order_id", "parent")


@dataclass(slots=True)
class Entry:
    """One record that mentions an order. ``raw`` is the FIX message (SOH-delimited) for
    messages, ``record`` the JSON object for our order/algo/risk records (also kept for our
    message records). ``time`` is aware UTC or None; ``seq`` the reading order. ``also``: the
    other places (``file:line``) the same message was read, once :func:`related` merged them."""

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
    files: int = 0
    records: int = 0
    max_warnings: int | None = None
    more_warnings: int = 0

    def warn(self, problem: str) -> None:
        if self.max_warnings is not None and len(self.warnings) >= self.max_warnings:
            self.more_warnings += 1
        else:
            self.warnings.append(problem)


def find_files(path: Path) -> list[Path]:
    """``path`` itself if it is a file; else the log files under it (see
    :data:`LOG_SUFFIXES`), recursively, skipping hidden ones, sorted. Raises OSError if
    ``path`` does not exist."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    out = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        name = p.name[:-3] if p.name.endswith(".gz") else p.name
        if name.endswith(LOG_SUFFIXES) or ".log." in name:
            out.append(p)
    return out


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _first_line(path: Path) -> bytes:
    with _open(path) as f:
        for line in f:
            if line.strip():
                return line.lstrip()
    return b""


def _utc(t: datetime | None) -> datetime | None:
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=UTC)


class _Lines:
    """The lines of a file, counted, so a read error can name the line it happened at."""

    def __init__(self, f: io.BufferedIOBase) -> None:
        self.f = f
        self.n = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.f:
            self.n += 1
            yield line


@contextmanager
def _reading(path: Path, label: str) -> Iterator[_Lines]:
    """The counted lines of ``path``; a read error inside the block becomes an OSError naming
    the file and the line it stopped at (permissions, a corrupt gzip stream)."""
    with _open(path) as f:
        lines = _Lines(f)
        try:
            yield lines
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise OSError(f"{label}:{lines.n + 1}: cannot read: {_reason(exc)}") from exc


def _is_json(path: Path, label: str) -> bool:
    """Whether ``path`` is one of our audit logs (its first non-blank line is an object)."""
    try:
        return _first_line(path).startswith(b"{")
    except (OSError, EOFError, zlib.error) as exc:
        raise OSError(f"{label}: cannot read: {_reason(exc)}") from exc


def _label(paths: Sequence[Path], labels: Sequence[str] | None, i: int) -> str:
    return labels[i] if labels is not None else str(paths[i])


def read_entries(paths: Sequence[Path], labels: Sequence[str] | None = None) -> Reading:
    """Read every file in ``paths`` (named ``labels[i]`` in sources; default the path), an
    :class:`Entry` for every record with an order id: memory grows with the logs (see
    :func:`read_related` for one order). Raises OSError naming the file (and the line, if
    reading stopped inside it) when one cannot be read (permissions, a corrupt gzip stream)."""
    reading = Reading()
    entries = reading.entries
    for i, path in enumerate(paths):
        label = _label(paths, labels, i)
        reading.files += 1
        is_json = _is_json(path, label)
        with _reading(path, label) as lines:
            if is_json:
                for lineno, obj, ids, time in _json_hits(lines, label, reading):
                    entries.append(_json_entry(obj, ids, time, f"{label}:{lineno}",
                                               len(entries)))
            else:
                ours = _ours(path)
                for rec, ids in _fix_hits(lines, label, reading):
                    entries.append(_fix_entry(rec, ids, ours, len(entries)))
    return reading


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


_JsonHit = tuple[int, dict[str, Any], dict[str, str], datetime | None]


def _json_hits(lines: Iterable[bytes], label: str, reading: Reading) -> Iterator[_JsonHit]:
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


def _fix_hits(lines: Iterable[bytes], label: str,
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


def _ours(path: Path) -> str | None:
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


# -- relating records to one order ------------------------------------------------------------


@dataclass
class Relation:
    """The records of one order's family, sorted, and the ids that tied them together."""

    entries: list[Entry]
    cl_ord_ids: set[str]
    order_ids: set[str]
    parents: set[str]


def _real_order_id(value: str | None) -> str | None:
    if value is None or value.strip().upper() in PLACEHOLDER_ORDER_IDS:
        return None
    return value


K = TypeVar("K", str, int)
#: What the family search reads of a record: whether it is an algo decision, then its
#: ClOrdID, OrigClOrdID, OrderID (None for a placeholder) and parent.
_Ids = tuple[bool, K | None, K | None, K | None, K | None]


class _Links(Protocol[K]):
    """Records (by number) and their ids (strings, or their keys in the compact index)."""

    def by_cl(self, value: K) -> Iterable[int]:
        """Records filed under ClOrdID ``value``: theirs (11) or their OrigClOrdID (41); an
        algo decision with a parent only under the child it is about."""

    def by_order(self, value: K) -> Iterable[int]:
        """Records filed under OrderID ``value`` (not algo decisions with a parent)."""

    def by_parent(self, value: K) -> Iterable[int]:
        """Records whose parent is ``value``."""

    def ids(self, record: int) -> _Ids[K]: ...


def _family(links: _Links[K], cl_ord_id: K) -> tuple[set[int], set[K], set[K], set[K]]:
    """The records of the order ``cl_ord_id`` (see :func:`related`), the ClOrdIDs and
    OrderIDs reached, and the parents outside the order's own chain."""
    found, cl_ids, order_ids = _expand(links, [cl_ord_id], children=True)
    parents = {p for r in found if (p := links.ids(r)[4]) is not None} - cl_ids
    if parents:
        up, up_cl, up_orders = _expand(links, parents, children=False)
        found |= up
        cl_ids |= up_cl
        order_ids |= up_orders
    return found, cl_ids, order_ids, parents


def _expand(links: _Links[K], seeds: Iterable[K],
            children: bool) -> tuple[set[int], set[K], set[K]]:
    """Records reachable from the ClOrdIDs ``seeds``; with ``children``, algo children of any
    ClOrdID reached are followed too."""
    found: set[int] = set()
    cl_ids: set[K] = set()
    order_ids: set[K] = set()
    queue: deque[tuple[bool, K]] = deque((True, s) for s in seeds)  # (a ClOrdID?, value)

    def take(record: int) -> None:
        if record in found:
            return
        found.add(record)
        algo, cl, orig, order, _ = links.ids(record)
        if algo:
            return  # a decision is reached, not followed: its child is, from its parent
        for cid in (cl, orig):
            if cid is not None and cid not in cl_ids:
                queue.append((True, cid))
        if order is not None and order not in order_ids:
            queue.append((False, order))

    while queue:
        is_cl, value = queue.popleft()
        if is_cl:
            if value in cl_ids:
                continue
            cl_ids.add(value)
            for r in links.by_cl(value):
                take(r)
        else:
            if value in order_ids:
                continue
            order_ids.add(value)
            for r in links.by_order(value):
                take(r)
        # A parent is named by its ClOrdID or by its OrderID (the gateway's algo desk
        # uses the OrderID, which stays the same through replaces).
        for r in links.by_parent(value):
            algo, cl, _, _, _ = links.ids(r)
            if children:
                take(r)
                if cl is not None and cl not in cl_ids:
                    queue.append((True, cl))
            elif algo and cl is None:
                take(r)  # the parent's own decisions, not about one child
    return found, cl_ids, order_ids


class _EntryLinks:
    """The links between entries, by their ids as text."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries
        self._cl: dict[str, list[int]] = defaultdict(list)
        self._order: dict[str, list[int]] = defaultdict(list)
        self._parent: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(entries):
            if e.kind == "algo" and e.parent is not None:
                # An algo decision belongs to its parent (and to the child it names, if any).
                self._parent[e.parent].append(i)
                if e.cl_ord_id is not None:
                    self._cl[e.cl_ord_id].append(i)
                continue
            for cid in {e.cl_ord_id, e.orig_cl_ord_id} - {None}:
                assert cid is not None
                self._cl[cid].append(i)
            oid = _real_order_id(e.order_id)
            if oid is not None:
                self._order[oid].append(i)
            if e.parent is not None:
                self._parent[e.parent].append(i)

    def by_cl(self, value: str) -> Iterable[int]:
        return self._cl.get(value, ())

    def by_order(self, value: str) -> Iterable[int]:
        return self._order.get(value, ())

    def by_parent(self, value: str) -> Iterable[int]:
        return self._parent.get(value, ())

    def ids(self, record: int) -> _Ids[str]:
        e = self.entries[record]
        return (e.kind == "algo", e.cl_ord_id, e.orig_cl_ord_id, _real_order_id(e.order_id),
                e.parent)


def related(entries: Sequence[Entry], cl_ord_id: str) -> Relation:
    """The records of the order ``cl_ord_id``: its chain, its OrderIDs, its algo children
    (with their chains) and, for a child, its parent's own records; sorted by time, a
    message read in several files once (see :func:`_merge_copies`).

    Only the records reached matter: on any part of ``entries`` that holds them all, the
    result is the same as on the whole (what :func:`read_related` relies on)."""
    found, cl_ids, order_ids, parents = _family(_EntryLinks(entries), cl_ord_id)
    family = list({id(e): e for e in (entries[i] for i in sorted(found))}.values())
    return Relation(_merge_copies(_sorted(family)), cl_ids, order_ids, parents)


def _merge_copies(entries: list[Entry]) -> list[Entry]:
    """One entry per message: a run's audit log and its FIX message logs (or two captures
    of one session) hold the same message, byte for byte, and a timeline that listed it once
    a file would show one order sent two or three times. The first read keeps its place and
    names the others in ``also``. Messages are compared with SOH shown as ``|``, as the audit
    log writes them."""
    kept: list[Entry] = []
    first: dict[bytes, Entry] = {}
    for e in entries:
        if e.kind != "msg" or e.raw is None:
            kept.append(e)
            continue
        key = e.raw.replace(b"\x01", b"|").rstrip(b"|")
        seen = first.get(key)
        if seen is None:
            first[key] = e
            kept.append(e)
        else:
            seen.also.append(e.source)
    return kept


def _sorted(entries: list[Entry]) -> list[Entry]:
    """By time; a record without one sorts at the time of the record read before it."""
    entries.sort(key=lambda e: e.seq)
    floor = datetime.min.replace(tzinfo=UTC)
    keyed: list[tuple[datetime, int, Entry]] = []
    last = floor
    for e in entries:
        if e.time is not None:
            last = e.time
        keyed.append((e.time or last, e.seq, e))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [k[2] for k in keyed]


# -- one order in bounded memory --------------------------------------------------------------


def _key(value: str) -> int:
    """An id's key in the compact index: 32 bits of its hash, never 0 (0 is "no id").
    Different ids may share a key; see :func:`read_related` for why that is harmless."""
    return (hash(value) & _KEY_MASK) or 1


_KEY_MASK = 0xFFFFFFFF


class _IdTable:
    """What the first pass keeps of each record with an order id, numbered in reading order
    (its ``seq``): the keys of its ClOrdID, OrigClOrdID, OrderID (0 for none or a placeholder)
    and parent, whether it is an algo decision, and the line it starts on. 21 bytes a
    record, in flat arrays."""

    def __init__(self) -> None:
        self.cl = array("I")
        self.orig = array("I")
        self.order = array("I")
        self.parent = array("I")
        self.line = array("I")
        self.algo = bytearray()

    def __len__(self) -> int:
        return len(self.algo)

    def add(self, line: int, algo: bool, ids: Mapping[str, str]) -> None:
        cl, orig = ids.get("cl_ord_id"), ids.get("orig_cl_ord_id")
        order, parent = _real_order_id(ids.get("order_id")), ids.get("parent")
        self.cl.append(0 if cl is None else _key(cl))
        self.orig.append(0 if orig is None else _key(orig))
        self.order.append(0 if order is None else _key(order))
        self.parent.append(0 if parent is None else _key(parent))
        self.line.append(line)
        self.algo.append(algo)


def _column(a: array[int]) -> npt.NDArray[np.uintc]:
    return np.frombuffer(a, dtype=np.uintc)  # a view: no copy


class _KeyIndex:
    """The records filed under each key of one column, as a sorted array of
    ``key << 32 | record``: 8 bytes a filed record, found by binary search."""

    _CHUNK = 1 << 20  # records turned into pairs at a time: bounds the temporaries

    def __init__(self, keys: npt.NDArray[np.uintc], where: npt.NDArray[np.bool_] | None) -> None:
        filed = keys != 0 if where is None else (keys != 0) & where
        self.pairs = np.empty(int(np.count_nonzero(filed)), dtype=np.uint64)
        at = 0
        for start in range(0, len(keys), self._CHUNK):
            part = filed[start:start + self._CHUNK]
            records = np.flatnonzero(part).astype(np.uint64) + np.uint64(start)
            chunk = keys[start:start + self._CHUNK][part].astype(np.uint64) << np.uint64(32)
            self.pairs[at:at + len(records)] = chunk | records
            at += len(records)
        self.pairs.sort()

    def __call__(self, key: int) -> list[int]:
        lo = int(np.searchsorted(self.pairs, np.uint64(key << 32)))
        hi = int(np.searchsorted(self.pairs, np.uint64(key << 32 | _KEY_MASK), side="right"))
        records: list[int] = (self.pairs[lo:hi] & np.uint64(_KEY_MASK)).tolist()
        return records


class _KeyLinks:
    """The links between the records of an :class:`_IdTable`, by key: :class:`_EntryLinks`'
    filing, with keys for ids."""

    def __init__(self, table: _IdTable) -> None:
        self.table = table
        cl, orig, order, parent = (_column(c) for c in (table.cl, table.orig, table.order,
                                                       table.parent))
        algo = np.frombuffer(table.algo, dtype=np.uint8).astype(np.bool_)
        # an algo decision with a parent is filed under its parent and its child only
        plain = ~(algo & (parent != 0))
        del algo
        self._cl = _KeyIndex(cl, None)
        self._orig = _KeyIndex(orig, plain)
        self._order = _KeyIndex(order, plain)
        self._parent = _KeyIndex(parent, None)

    def by_cl(self, value: int) -> Iterable[int]:
        return self._cl(value) + self._orig(value)

    def by_order(self, value: int) -> Iterable[int]:
        return self._order(value)

    def by_parent(self, value: int) -> Iterable[int]:
        return self._parent(value)

    def ids(self, record: int) -> _Ids[int]:
        t = self.table
        return (bool(t.algo[record]), t.cl[record] or None, t.orig[record] or None,
                t.order[record] or None, t.parent[record] or None)


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    label: str
    is_json: bool
    start: int  # the seq of its first record with an order id


def read_related(paths: Sequence[Path], cl_ord_id: str, labels: Sequence[str] | None = None,
                 *, max_warnings: int | None = None) -> tuple[Reading, Relation]:
    """``related(read_entries(paths, labels).entries, cl_ord_id)``, and the reading's counts
    and warnings (the first ``max_warnings``, if given; see :class:`Reading`), in memory
    bounded by the order's own records plus 21 bytes a record with an order id (and, while
    the family is searched, an index of 8 bytes an id, at most 4 ids a record), not by the
    logs' size. ``Reading.entries`` holds the records read in the second pass: the
    relation's, and maybe a few others.

    Two passes. The first reads every file and keeps only each record's ids, as 32-bit keys,
    and its line (:class:`_IdTable`); the family search of :func:`related` runs on those
    keys. Ids that share a key link more records, never fewer, so the records found are all
    the family's and maybe a few more. The second pass reads again the files holding them, up
    to the last one, builds an :class:`Entry` for each, and :func:`related` runs on those:
    the same ids as text, the same numbering (``seq``) and sources, hence exactly
    :func:`related`'s answer over every record.

    Files are read twice. A log appended to between the passes is read as it was at the
    first (the second stops at the last record the first found); one rotated or rewritten
    between them is not supported: the records read again may not be the ones found. Raises
    OSError as :func:`read_entries`."""
    reading = Reading(max_warnings=max_warnings)
    table = _IdTable()
    files: list[_File] = []
    for i, path in enumerate(paths):
        label = _label(paths, labels, i)
        reading.files += 1
        is_json = _is_json(path, label)
        files.append(_File(path, label, is_json, len(table)))
        with _reading(path, label) as lines:
            if is_json:
                for lineno, obj, ids, _ in _json_hits(lines, label, reading):
                    table.add(lineno, str(obj["kind"]) == "algo", ids)
            else:
                for rec, ids in _fix_hits(lines, label, reading):
                    table.add(rec.line, False, ids)
    if len(table) > _KEY_MASK:
        raise ValueError(f"more than {_KEY_MASK:,} records with order ids: read fewer files")
    found = sorted(_family(_KeyLinks(table), _key(cl_ord_id))[0])
    lines_of = [table.line[r] for r in found]
    del table  # before the second pass: its entries are what memory is left for
    reading.entries = _read_again(files, found, lines_of)
    return reading, related(reading.entries, cl_ord_id)


def _read_again(files: Sequence[_File], records: Sequence[int],
                lines_of: Sequence[int]) -> list[Entry]:
    """Entries for ``records`` (seqs, ascending; ``lines_of`` the line each starts on)."""
    starts = [f.start for f in files]
    wanted: dict[int, list[int]] = defaultdict(list)  # file -> indexes into records
    for k, r in enumerate(records):
        wanted[bisect.bisect_right(starts, r) - 1].append(k)
    out: list[Entry] = []
    for i, ks in sorted(wanted.items()):
        f = files[i]
        with _reading(f.path, f.label) as lines:
            if f.is_json:
                out += _json_again(lines, f.label, {lines_of[k]: records[k] for k in ks})
            else:
                out += _fix_again(lines, f.label, _ours(f.path),
                                  {records[k] - f.start: records[k] for k in ks})
    return out


def _json_again(lines: Iterable[bytes], label: str, seqs: Mapping[int, int]) -> Iterator[Entry]:
    """Entries for the records at the lines ``seqs`` names (line -> seq); only those lines
    are parsed, and reading stops after the last."""
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


def _fix_again(lines: Iterable[bytes], label: str, ours: str | None,
               seqs: Mapping[int, int]) -> Iterator[Entry]:
    """Entries for the messages with order ids that ``seqs`` names by their number in the
    file (number -> seq); reading stops after the last."""
    last = max(seqs)
    quiet = Reading()  # the first pass counted and reported
    for n, (rec, ids) in enumerate(_fix_hits(lines, label, quiet)):
        seq = seqs.get(n)
        if seq is None:
            continue
        yield _fix_entry(rec, ids, ours, seq)
        if n == last:
            return


# -- describing records -----------------------------------------------------------------------


def _dictionaries(begin_string: str | None) -> SessionDictionaries:
    if begin_string in ("FIX.4.2", "FIX.4.4", "FIXT.1.1"):
        return builtin_session(begin_string)
    if begin_string in ("FIX.4.0", "FIX.4.1"):
        return builtin_session("FIX.4.2")
    return builtin_session("FIX.4.4")


class _Namer:
    def __init__(self, sd: SessionDictionaries) -> None:
        self.sd = sd

    def enum(self, tag: int, value: str | None) -> str | None:
        if value is None:
            return None
        fd = self.sd.field(tag)
        return fd.values.get(value, value) if fd is not None else value

    def message(self, msg_type: str) -> str:
        found = self.sd.message(msg_type)
        return found[0].name if found is not None else f"MsgType {msg_type}"


def _order_terms(side: str | None, qty: Any, symbol: Any, price: Any,
                 ord_type: str | None = None, tif: str | None = None) -> str:
    words = [str(w) for w in (side, qty, symbol) if w not in (None, "")]
    if price not in (None, ""):
        words.append(f"@ {price}")
    words += [w for w in (ord_type, tif) if w]
    return " ".join(words)


def describe_fix(raw: bytes) -> str:
    """What a FIX message says, in a line: message name, then what matters for an order."""
    f = scan_fields(raw)
    n = _Namer(_dictionaries(f.get(8)))
    mt = f.get(35, "?")
    name = n.message(mt)
    text = f" '{f[58]}'" if f.get(58) else ""
    side = n.enum(54, f.get(54))
    if mt in ("D", "G"):
        what = _order_terms(side, f.get(38), f.get(55), f.get(44), n.enum(40, f.get(40)),
                            n.enum(59, f.get(59)))
        out = f"{name} {what}"
    elif mt == "F":
        out = f"{name} {_order_terms(side, f.get(38), f.get(55), None)}"
    elif mt == "8":
        exec_type, status = f.get(150), n.enum(39, f.get(39))
        last_qty = f.get(32)
        filled = exec_type in ("1", "2", "F") or (
            exec_type is None and last_qty not in (None, "", "0") and _nonzero(last_qty))
        amounts = _terms(("cum", f.get(14)), ("avg", f.get(6)), ("leaves", f.get(151)))
        if filled:
            out = f"{name} Fill {last_qty} @ {f.get(31)} {amounts} ({status})"
        else:
            head = n.enum(150, exec_type) or status
            state = f" (status {status})" if status != head else ""
            out = f"{name} {head}{state} {amounts}"
            if f.get(103):
                out += f" reason {n.enum(103, f[103])}"
    elif mt == "9":
        out = f"{name} {n.enum(102, f.get(102)) or ''} (status {n.enum(39, f.get(39))})"
    elif mt == "3":
        out = (f"{name} {n.enum(373, f.get(373))} ref seq {f.get(45)} tag {f.get(371)}")
    elif mt == "j":
        out = f"{name} {n.enum(380, f.get(380))} ref {f.get(372)}"
    else:
        out = name
    if f.get(43) == "Y":
        out += " (PossDup)"
    return " ".join(out.split()) + text


def _terms(*pairs: tuple[str, str | None]) -> str:
    return " ".join(f"{k} {v}" for k, v in pairs if v is not None)


def _nonzero(value: str) -> bool:
    try:
        return float(value) != 0
    except ValueError:
        return False


_SKIP = frozenset({"ts", "kind", "event", "session", "direction", "raw", "cl_ord_id",
                   "orig_cl_ord_id", "order_id", "parent", "next_out", "next_in"})
_ORDER_TERMS = ("side", "qty", "symbol", "price")


def _rest(record: Mapping[str, Any], also: Iterable[str]) -> str:
    skip = _SKIP | set(also)
    return " ".join(f"{k}={v}" for k, v in record.items() if k not in skip)


def describe(entry: Entry) -> str:
    """One line saying what the record is: a FIX message by name and content, an order
    state change, an algo decision (``algo slice 3/10 size 100 @ 10.00 (reason)``)."""
    r = entry.record
    if entry.kind == "msg" and entry.raw is not None:
        return describe_fix(entry.raw)
    event = str(r.get("event", ""))
    if entry.kind == "order":
        terms = _order_terms(*(r.get(k) for k in _ORDER_TERMS))
        parts = [f"order {event}", terms, _rest(r, _ORDER_TERMS)]
    elif entry.kind == "algo":
        words = [f"algo {event}"]
        if r.get("slice") is not None:
            words.append(str(r["slice"]))
        if r.get("size") is not None:
            words.append(f"size {r['size']}")
        if r.get("price") is not None:
            words.append(f"@ {r['price']}")
        if r.get("reason"):
            words.append(f"({r['reason']})")
        parts = [" ".join(words), _rest(r, ("slice", "size", "price", "reason"))]
    elif entry.kind == "risk":
        parts = [f"RISK {event}", _rest(r, ())]
    else:
        parts = [f"{entry.kind} {event}", _rest(r, ())]
    return " ".join(p for p in parts if p)


def ids_of(entry: Entry) -> str:
    """The ids of a record, ``11=A 41=B 37=C parent=P``."""
    pairs = (("11", entry.cl_ord_id), ("41", entry.orig_cl_ord_id), ("37", entry.order_id),
             ("parent", entry.parent))
    return " ".join(f"{k}={v}" for k, v in pairs if v is not None)


def time_text(entry: Entry) -> str:
    if entry.time is None:
        return "-"
    return entry.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def iter_lines(entries: Sequence[Entry]) -> Iterator[str]:
    """The timeline as aligned text lines (time UTC, source, session and direction, what,
    ids)."""
    if not entries:
        return
    src_w = min(60, max(len(e.source) for e in entries))
    who = [f"{e.session} {e.direction or ''}".rstrip() for e in entries]
    who_w = min(40, max(len(w) for w in who))
    for e, w in zip(entries, who, strict=True):
        also = f"  (also {', '.join(e.also)})" if e.also else ""
        yield (f"{time_text(e)}  {e.source:<{src_w}}  {w:<{who_w}}  {describe(e)}  "
               f"[{ids_of(e)}]{also}")


def as_json(entry: Entry) -> dict[str, Any]:
    """The record for ``--json``: where, when, what, the ids, and the record itself."""
    out: dict[str, Any] = {
        "time": entry.time.isoformat(timespec="microseconds") if entry.time else None,
        "source": entry.source, "kind": entry.kind, "session": entry.session,
        "direction": entry.direction, "what": describe(entry),
        "cl_ord_id": entry.cl_ord_id, "orig_cl_ord_id": entry.orig_cl_ord_id,
        "order_id": entry.order_id, "parent": entry.parent, "also": list(entry.also),
    }
    out["raw"] = show_soh(entry.raw) if entry.raw is not None else None
    out["record"] = dict(entry.record) if entry.record else None
    return out
