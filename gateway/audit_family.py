"""The records of one order's family, found by following its ids across records.

:func:`related` finds the records of one order: starting from a ClOrdID it follows
OrigClOrdID (41) chains in both directions (replaces and cancels), the OrderIDs (37) those
ClOrdIDs map to (placeholders like ``NONE`` are ignored), and algo child orders whose
``parent`` is in the set, with their own chains (an algo decision's ``child`` is that
child's ClOrdID, so its messages to and from the venue come too). When the order asked for
is itself an algo child, its parent's own records come too (not its siblings). Records sort
by time, ties in reading order; a message read in several files is listed once.

The search itself (:func:`find_family`) runs on any :class:`Links`: on entries' ids as text
here, on their keys in a compact index in :mod:`gateway.audit_id_index`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from gateway.audit_entries import Entry

__all__ = ["PLACEHOLDER_ORDER_IDS", "Links", "RecordIds", "Relation", "find_family",
           "real_order_id", "related"]

#: OrderID values that mean "no order id yet" and link nothing.
PLACEHOLDER_ORDER_IDS = frozenset({"", "NONE", "0", "N/A", "NA", "UNKNOWN", "NULL"})


@dataclass
class Relation:
    """The records of one order's family, sorted, and the ids that tied them together."""

    entries: list[Entry]
    cl_ord_ids: set[str]
    order_ids: set[str]
    parents: set[str]


def real_order_id(value: str | None) -> str | None:
    """``value``, or None when it is absent or a placeholder (:data:`PLACEHOLDER_ORDER_IDS`)."""
    if value is None or value.strip().upper() in PLACEHOLDER_ORDER_IDS:
        return None
    return value


K = TypeVar("K", str, int)
#: What the family search reads of a record: whether it is an algo decision, then its
#: ClOrdID, OrigClOrdID, OrderID (None for a placeholder) and parent.
RecordIds = tuple[bool, K | None, K | None, K | None, K | None]


class Links(Protocol[K]):
    """Records (by number) and their ids (strings, or their keys in the compact index of
    :mod:`gateway.audit_id_index`)."""

    def by_cl(self, value: K) -> Iterable[int]:
        """Records filed under ClOrdID ``value``: theirs (11) or their OrigClOrdID (41); an
        algo decision with a parent only under the child it is about."""

    def by_order(self, value: K) -> Iterable[int]:
        """Records filed under OrderID ``value`` (not algo decisions with a parent)."""

    def by_parent(self, value: K) -> Iterable[int]:
        """Records whose parent is ``value``."""

    def ids(self, record: int) -> RecordIds[K]: ...


def find_family(links: Links[K], cl_ord_id: K) -> tuple[set[int], set[K], set[K], set[K]]:
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


def _expand(links: Links[K], seeds: Iterable[K],
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
            oid = real_order_id(e.order_id)
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

    def ids(self, record: int) -> RecordIds[str]:
        e = self.entries[record]
        return (e.kind == "algo", e.cl_ord_id, e.orig_cl_ord_id, real_order_id(e.order_id),
                e.parent)


def related(entries: Sequence[Entry], cl_ord_id: str) -> Relation:
    """The records of the order ``cl_ord_id``: its chain, its OrderIDs, its algo children
    (with their chains) and, for a child, its parent's own records; sorted by time, a
    message read in several files once (see :func:`_merge_copies`).

    Only the records reached matter: on any part of ``entries`` that holds them all, the
    result is the same as on the whole (what :func:`gateway.audit_two_passes.read_related`
    relies on)."""
    found, cl_ids, order_ids, parents = find_family(_EntryLinks(entries), cl_ord_id)
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

