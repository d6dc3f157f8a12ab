"""An order's timeline as text and JSON: what each record says, in a line.

:func:`iter_lines` renders the records of a :class:`gateway.audit_family.Relation` as the
aligned lines ``gateway audit`` prints (time UTC, source, session and direction, what, ids,
other places the message was read); :func:`as_json` the object ``--json`` prints a record as.
:func:`describe` says what a record is: a FIX message by name and content (with the FIX
version's dictionary), an order state change, an algo decision, a risk breach.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from typing import Any

from fixspec.dictionary import SessionDictionaries, builtin_session
from gateway.audit import show_soh
from gateway.audit_entries import Entry
from gateway.codec import scan_fields
from gateway.fixlog import as_written

__all__ = ["as_json", "describe", "describe_fix", "ids_of", "iter_lines", "time_text"]


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


def _shown(value: bytes) -> str:
    """``value`` as the text it was written as (:func:`gateway.fixlog.as_written` of its
    latin-1 reading: UTF-8, else latin-1; any byte prints, nothing raises)."""
    return as_written(value.decode("latin-1"))


def describe_fix(raw: bytes) -> str:
    """What a FIX message says, in a line: message name, then what matters for an order.
    Values are shown as written (:func:`_shown`)."""
    f = scan_fields(raw, _shown)
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
    """The ids of a record, ``11=A 41=B 37=C parent=P``, as written (the readers hold ids
    read from a log's bytes as latin-1: :func:`gateway.fixlog.as_written`)."""
    pairs = (("11", entry.cl_ord_id), ("41", entry.orig_cl_ord_id), ("37", entry.order_id),
             ("parent", entry.parent))
    return " ".join(f"{k}={as_written(v)}" for k, v in pairs if v is not None)


def time_text(entry: Entry) -> str:
    """The record's time in UTC, ``2024-03-04 14:30:00.010000``; ``-`` if it has none."""
    if entry.time is None:
        return "-"
    try:
        return entry.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    except OverflowError:  # a time UTC cannot hold (year 1 at +01:00): shown as written
        return entry.time.isoformat()


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
    """The record for ``--json``: where, when, what, the ids, and the record itself; ids and
    the raw message as written (see :func:`ids_of`), SOH shown as ``|``."""
    def written(value: str | None) -> str | None:
        return None if value is None else as_written(value)

    out: dict[str, Any] = {
        "time": entry.time.isoformat(timespec="microseconds") if entry.time else None,
        "source": entry.source, "kind": entry.kind, "session": entry.session,
        "direction": entry.direction, "what": describe(entry),
        "cl_ord_id": written(entry.cl_ord_id), "orig_cl_ord_id": written(entry.orig_cl_ord_id),
        "order_id": written(entry.order_id), "parent": written(entry.parent),
        "also": list(entry.also),
    }
    out["raw"] = as_written(show_soh(entry.raw)) if entry.raw is not None else None
    out["record"] = dict(entry.record) if entry.record else None
    return out
