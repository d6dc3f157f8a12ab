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

Times: a FIX log record takes the log's timestamp, else its SendingTime (52); times without
a zone are taken as UTC (our logs and QuickFIX's write UTC). Records sort by time, ties in
reading order.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fixspec.dictionary import SessionDictionaries, builtin_session
from fixspec.fieldtypes import parse_utc_timestamp
from gateway.audit import scan_ids, show_soh
from gateway.codec import peek_field, scan_fields
from gateway.fixlog import read_log_lines

__all__ = ["LOG_SUFFIXES", "Entry", "Reading", "Relation", "describe", "find_files",
           "read_entries", "related"]

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
    reason``) that did not stop the reading."""

    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0


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


def read_entries(paths: Sequence[Path], labels: Sequence[str] | None = None) -> Reading:
    """Read every file in ``paths`` (named ``labels[i]`` in sources; default the path).
    Raises OSError naming the file (and the line, if reading stopped inside it) when one
    cannot be read (permissions, a corrupt gzip stream)."""
    reading = Reading()
    for i, path in enumerate(paths):
        label = labels[i] if labels is not None else str(path)
        reading.files += 1
        try:
            is_json = _first_line(path).startswith(b"{")
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise OSError(f"{label}: cannot read: {_reason(exc)}") from exc
        with _open(path) as f:
            lines = _Lines(f)
            try:
                (_read_json if is_json else _read_fix)(path, lines, label, reading)
            except (OSError, EOFError, zlib.error) as exc:
                raise OSError(f"{label}:{lines.n + 1}: cannot read: {_reason(exc)}") from exc
    return reading


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _read_json(path: Path, lines: _Lines, label: str, reading: Reading) -> None:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        reading.records += 1
        try:
            obj = json.loads(line)
        except ValueError as exc:
            reading.warnings.append(f"{label}:{lineno}: skipped, not JSON: {exc}")
            continue
        if not isinstance(obj, dict) or "kind" not in obj:
            reading.warnings.append(f"{label}:{lineno}: skipped, not an audit record")
            continue
        ids = {k: str(obj[k]) for k in _ID_KEYS if obj.get(k) is not None}
        if obj["kind"] == "algo" and "cl_ord_id" not in ids and obj.get("child") is not None:
            # the runners name the child an algo decision is about "child": its ClOrdID on
            # the wire, which links the decision to the child's own messages
            ids["cl_ord_id"] = str(obj["child"])
        if not ids:
            continue
        try:
            time = _utc(datetime.fromisoformat(obj["ts"])) if "ts" in obj else None
        except (TypeError, ValueError):
            reading.warnings.append(f"{label}:{lineno}: bad ts {obj.get('ts')!r}")
            time = None
        raw = obj.get("raw")
        reading.entries.append(Entry(
            time=time, source=f"{label}:{lineno}", seq=len(reading.entries),
            kind=str(obj["kind"]), session=str(obj.get("session", "")),
            direction=obj.get("direction"),
            raw=_PIPE_FIELD.sub("\x01", raw).encode("latin-1", "replace") if isinstance(
                raw, str) else None,
            record=obj, cl_ord_id=ids.get("cl_ord_id"),
            orig_cl_ord_id=ids.get("orig_cl_ord_id"), order_id=ids.get("order_id"),
            parent=ids.get("parent")))


def _read_fix(path: Path, lines: _Lines, label: str, reading: Reading) -> None:
    m = _QUICKFIX_NAME.match(path.name)
    ours = m.group(1) if m else None
    bad = 0
    first_bad = ""
    for rec in read_log_lines(lines, label):
        reading.records += 1
        if not rec.ok:
            bad += 1
            first_bad = first_bad or f"line {rec.line}, {rec.status.name}: {rec.detail}"
            continue
        ids = scan_ids(rec.raw)
        if not any(k in ids for k in ("cl_ord_id", "orig_cl_ord_id", "order_id")):
            continue
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
        reading.entries.append(Entry(
            time=_utc(time), source=rec.where, seq=len(reading.entries), kind="msg",
            session=f"{sender}->{target}", direction=direction,
            cl_ord_id=ids.get("cl_ord_id"), orig_cl_ord_id=ids.get("orig_cl_ord_id"),
            order_id=ids.get("order_id"), raw=rec.raw))
    if bad:
        reading.warnings.append(f"{label}: {bad} unreadable messages skipped (first: "
                                f"{first_bad})")




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


class _Index:
    def __init__(self, entries: Iterable[Entry]) -> None:
        self.by_cl: dict[str, list[Entry]] = defaultdict(list)
        self.by_order: dict[str, list[Entry]] = defaultdict(list)
        self.by_parent: dict[str, list[Entry]] = defaultdict(list)
        for e in entries:
            if e.kind == "algo" and e.parent is not None:
                # An algo decision belongs to its parent (and to the child it names, if any).
                self.by_parent[e.parent].append(e)
                if e.cl_ord_id is not None:
                    self.by_cl[e.cl_ord_id].append(e)
                continue
            for cid in {e.cl_ord_id, e.orig_cl_ord_id} - {None}:
                assert cid is not None
                self.by_cl[cid].append(e)
            oid = _real_order_id(e.order_id)
            if oid is not None:
                self.by_order[oid].append(e)
            if e.parent is not None:
                self.by_parent[e.parent].append(e)

    def expand(self, seeds: Iterable[str], children: bool) -> tuple[set[int], set[str], set[str]]:
        """Entries (by id()) reachable from the ClOrdIDs ``seeds``; with ``children``, algo
        children of any ClOrdID reached are followed too."""
        found: dict[int, Entry] = {}
        cl_ids: set[str] = set()
        order_ids: set[str] = set()
        queue: deque[tuple[str, str]] = deque(("c", s) for s in seeds)

        def take(e: Entry) -> None:
            if id(e) in found:
                return
            found[id(e)] = e
            for cid in (e.cl_ord_id, e.orig_cl_ord_id):
                if cid is not None and cid not in cl_ids and e.kind != "algo":
                    queue.append(("c", cid))
            oid = _real_order_id(e.order_id)
            if oid is not None and oid not in order_ids and e.kind != "algo":
                queue.append(("o", oid))

        while queue:
            kind, value = queue.popleft()
            if kind == "c":
                if value in cl_ids:
                    continue
                cl_ids.add(value)
                for e in self.by_cl.get(value, ()):
                    take(e)
            else:
                if value in order_ids:
                    continue
                order_ids.add(value)
                for e in self.by_order.get(value, ()):
                    take(e)
            # A parent is named by its ClOrdID or by its OrderID (the gateway's algo desk
            # uses the OrderID, which stays the same through replaces).
            for e in self.by_parent.get(value, ()):
                if children:
                    take(e)
                    if e.cl_ord_id is not None and e.cl_ord_id not in cl_ids:
                        queue.append(("c", e.cl_ord_id))
                elif e.kind == "algo" and e.cl_ord_id is None:
                    take(e)  # the parent's own decisions, not about one child
        return set(found), cl_ids, order_ids


def related(entries: Sequence[Entry], cl_ord_id: str) -> Relation:
    """The records of the order ``cl_ord_id``: its chain, its OrderIDs, its algo children
    (with their chains) and, for a child, its parent's own records; sorted by time."""
    index = _Index(entries)
    found, cl_ids, order_ids = index.expand([cl_ord_id], children=True)
    by_id = {id(e): e for e in entries}
    parents = {p for i in found if (p := by_id[i].parent) is not None} - cl_ids
    if parents:
        up, up_cl, up_orders = index.expand(parents, children=False)
        found |= up
        cl_ids |= up_cl
        order_ids |= up_orders
    return Relation(_merge_copies(_sorted([by_id[i] for i in found])), cl_ids, order_ids,
                    parents)


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
