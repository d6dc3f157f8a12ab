"""The records of one order's family, found by following its ids across records.

:func:`related` finds the records of one order: starting from a ClOrdID it follows
OrigClOrdID (41) chains in both directions (replaces and cancels), the OrderIDs (37) those
ClOrdIDs map to (placeholders like ``NONE`` are ignored), and algo child orders whose
``parent`` is in the set, with their own chains (an algo decision's ``child`` is that
child's ClOrdID, so its messages to and from the venue come too). When the order asked for
is itself an algo child, its parent's own records come too (not its siblings). Records sort
by time, ties in reading order; a message read in several files is listed once.

A ClOrdID is unique within one FIX session only, so ClOrdID and OrderID links are followed
within the session of the record they come from (:mod:`gateway.audit_sessions` tells
sessions apart): a ClOrdID that several sessions used is several orders, one
:class:`Relation` each. Two links cross sessions, as an algo order does: a parent to its
children (whose orders go out on another session, or to the in-process desk's ``algo-desk``),
named by their ``parent`` field or by its algo decisions' ``child``; and a child to its
parent. A child's ClOrdID, which the desk makes from its parent's OrderID, is followed on
every session.

The search itself (:func:`find_family`) runs on any :class:`Links`: on entries' ids as text
here, on their keys in a compact index in :mod:`gateway.audit_id_index` (which does not tell
sessions apart, so finds every session's records: more, never fewer).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from gateway.audit_entries import Entry
from gateway.audit_sessions import session_key, session_label, session_names

__all__ = ["PLACEHOLDER_ORDER_IDS", "Links", "RecordIds", "Relation", "find_family",
           "real_order_id", "related"]

#: OrderID values that mean "no order id yet" and link nothing.
PLACEHOLDER_ORDER_IDS = frozenset({"", "NONE", "0", "N/A", "NA", "UNKNOWN", "NULL"})


@dataclass
class Relation:
    """The records of one order's family, sorted, and the ids that tied them together.
    ``session`` names the session whose order it is (see
    :func:`gateway.audit_sessions.session_label`; empty when no record names the ClOrdID as
    a session's order, only as an algo child or parent); ``names`` is what ``--session``
    matches it by."""

    entries: list[Entry]
    cl_ord_ids: set[str]
    order_ids: set[str]
    parents: set[str]
    session: str = ""
    names: frozenset[str] = frozenset()


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
    :mod:`gateway.audit_id_index`). ``session`` is a session key
    (:func:`gateway.audit_sessions.session_key`), or None for every session."""

    def by_cl(self, value: K, session: str | None) -> Iterable[int]:
        """Records filed under ClOrdID ``value``: theirs (11) or their OrigClOrdID (41), of
        ``session``; an algo decision with a parent only under the child it is about, of
        any session (its session is its parent's, not its child's)."""

    def by_order(self, value: K, session: str | None) -> Iterable[int]:
        """Records of ``session`` filed under OrderID ``value`` (not algo decisions with a
        parent)."""

    def by_parent(self, value: K, session: str | None) -> Iterable[int]:
        """Records whose parent is ``value``: algo decisions of ``session`` (a decision is
        written in its parent's session), children's order records of any session."""

    def session(self, record: int) -> str | None:
        """The record's session key; None when it names none (its links are then followed
        in the session that led to it), or where sessions are not told apart."""

    def ids(self, record: int) -> RecordIds[K]: ...


#: What the search follows: (a ClOrdID? else an OrderID, the id, the session to follow it in)
_Item = tuple[bool, K, str | None]


def find_family(links: Links[K], cl_ord_id: K, session: str | None = None, *,
                shared_keys: bool = False) -> tuple[set[int], set[K], set[K], set[K]]:
    """The records of the order ``cl_ord_id`` of ``session`` (a session key; None: of any
    session), see :func:`related`; the ClOrdIDs and OrderIDs reached, and the parents
    outside the order's own chain. ``shared_keys``: ids are keys several ids may share
    (audit_id_index, whose answer may hold more records, never fewer): a parent whose key
    is also one of the order's own ids is followed all the same."""
    found, cl_ids, order_ids = _expand(links, [(True, cl_ord_id, session)], children=True)
    cl_ids.add(cl_ord_id)  # the order asked about, whatever its records are
    named = {p for r in found if (p := links.ids(r)[4]) is not None}
    parents = named - cl_ids - order_ids
    # (an id of the order's own chain named as a parent is the order itself, a parent being
    # searched: its records are found, and followed again in every session it would reach
    # another session's order of that ClOrdID)
    outside = named if shared_keys else parents
    if outside:
        # A parent's session is that of its decisions; without any, every session's. The
        # desk names a parent by its OrderID, a log of another system maybe by its ClOrdID:
        # both are followed, so the client's order and its reports are reached either way.
        seeds: list[_Item[K]] = []
        for p in sorted(outside):
            sessions = {links.session(r) for r in links.by_parent(p, None)
                        if links.ids(r)[0]} or {None}
            seeds += [(cl, p, s) for s in sorted(sessions, key=str) for cl in (True, False)]
        up, up_cl, up_orders = _expand(links, seeds, children=False)
        found |= up
        cl_ids |= up_cl
        order_ids |= up_orders
    return found, cl_ids, order_ids, parents


def _expand(links: Links[K], seeds: Iterable[_Item[K]],
            children: bool) -> tuple[set[int], set[K], set[K]]:
    """Records reachable from ``seeds`` (ClOrdIDs, each in a session); with ``children``,
    algo children of any ClOrdID reached are followed too."""
    found: set[int] = set()
    cl_ids: set[K] = set()
    order_ids: set[K] = set()
    seen: set[_Item[K]] = set()
    queue: deque[_Item[K]] = deque(seeds)

    def take(record: int, via: str | None) -> None:
        if record in found:
            return
        found.add(record)
        algo, cl, orig, order, _ = links.ids(record)
        if algo:
            return  # a decision is reached, not followed: its child is, from its parent
        # a record that names no session is taken as one of the session that led to it
        session = links.session(record) or via
        for cid in (cl, orig):
            if cid is not None and (True, cid, session) not in seen:
                queue.append((True, cid, session))
        if order is not None and (False, order, session) not in seen:
            queue.append((False, order, session))

    while queue:
        item = queue.popleft()
        if item in seen:
            continue
        seen.add(item)
        is_cl, value, session = item
        # an id is listed as what it named (a parent is sought as both)
        if is_cl:
            for r in links.by_cl(value, session):
                cl_ids.add(value)
                take(r, session)
        else:
            for r in links.by_order(value, session):
                order_ids.add(value)
                take(r, session)
        # A parent is named by its ClOrdID or by its OrderID (the gateway's algo desk
        # uses the OrderID, which stays the same through replaces).
        for r in links.by_parent(value, session):
            algo, cl, _, _, _ = links.ids(r)
            if children:
                # a child is followed in its own session, or in any when its record (or a
                # decision about it) does not say
                take(r, None)
                if cl is not None:
                    queue.append((True, cl, None if algo else links.session(r)))
            elif algo and cl is None:
                take(r, session)  # the parent's own decisions, not about one child
    return found, cl_ids, order_ids


class _EntryLinks:
    """The links between entries, by their ids as text, within their sessions."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries
        self.sessions = [session_key(e) or None for e in entries]
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

    def _decision(self, record: int) -> bool:
        e = self.entries[record]
        return e.kind == "algo" and e.parent is not None

    def _in(self, record: int, session: str | None) -> bool:
        """Whether ``record`` may be of ``session`` (a record naming none may be)."""
        return session is None or self.sessions[record] in (session, None)

    def by_cl(self, value: str, session: str | None) -> Iterable[int]:
        return [r for r in self._cl.get(value, ()) if self._in(r, session) or self._decision(r)]

    def by_order(self, value: str, session: str | None) -> Iterable[int]:
        return [r for r in self._order.get(value, ()) if self._in(r, session)]

    def by_parent(self, value: str, session: str | None) -> Iterable[int]:
        return [r for r in self._parent.get(value, ())
                if self._in(r, session) or not self._decision(r)]

    def session(self, record: int) -> str | None:
        return self.sessions[record]

    def ids(self, record: int) -> RecordIds[str]:
        e = self.entries[record]
        return (e.kind == "algo", e.cl_ord_id, e.orig_cl_ord_id, real_order_id(e.order_id),
                e.parent)


def related(entries: Sequence[Entry], cl_ord_id: str) -> list[Relation]:
    """The orders ``cl_ord_id`` names, one :class:`Relation` for each session that used it
    as a ClOrdID (11) or OrigClOrdID (41), in the order the sessions are first read: the
    order's chain in that session, its OrderIDs, its algo children (with their chains) and,
    for a child, its parent's own records; sorted by time, a message read in several files
    once (see :func:`_merge_copies`). When no session's record has it (only algo decisions
    name it as their child, or records as their parent), one Relation without a session,
    searched on every session; so is an algo child's ClOrdID (a record names its
    parent). An empty list when nothing mentions it.

    Only the records reached matter: on any part of ``entries`` that holds them all, the
    result is the same as on the whole (what :func:`gateway.audit_two_passes.read_related`
    relies on)."""
    links = _EntryLinks(entries)
    named = links.by_cl(cl_ord_id, None)
    seeds = [r for r in named if not links._decision(r)]
    sessions: list[str | None] = list(dict.fromkeys(
        s for r in seeds if (s := links.sessions[r]) is not None))
    if any(entries[r].parent is not None for r in named):
        sessions = [None]  # an algo child: its id is the desk's, followed on every session
    out = []
    for session in sessions or [None]:
        found, cl_ids, order_ids, parents = find_family(links, cl_ord_id, session)
        if not found:
            continue
        # copies: _merge_copies notes other places in ``also``, and an entry (a child's
        # record, say) may be in the families of several sessions' orders
        family = [replace(e, also=list(e.also)) for e in
                  {id(e): e for e in (entries[i] for i in sorted(found))}.values()]
        own = [entries[r] for r in seeds if session in (None, links.sessions[r])]
        label = session_label(own)
        out.append(Relation(_merge_copies(_sorted(family)), cl_ids, order_ids, parents,
                            label, session_names(own) | {label} - {""}))
    return out


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

