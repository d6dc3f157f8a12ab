"""Market data from the venue's books: MarketDataRequest (V) -> snapshot (W) + increments (X).

A subscription names symbols, entry types (bid 0, offer 1, trade 2), a depth (264, 0 = full)
and AggregatedBook (266): ``Y`` (the default) publishes price levels, one entry per price with
the level's total size; ``N`` publishes orders, one entry per resting order carrying the
venue's public id for it (never a client's ClOrdID) as OrderID (37), and in increments also as
MDEntryID (278): FIX 4.2 and 4.4 snapshots (MDFullGrp) have no MDEntryID, and a strict
counterparty rejects one there, so OrderID is the key in both. The by-order view follows the
venue's own orders; liquidity a replayed market-data log puts in the book (in C, without
events) is in level data and in trades, not in by-order entries.

Increments follow the book events of every venue operation: new (279=0), change (1) and delete
(2) entries, and trades as MDEntryType 2. Level subscriptions with a depth publish what enters
and leaves their top N. SubscriptionRequestType 0 is a one-off snapshot, 1 snapshot + updates,
2 ends a subscription. Unknown symbols and duplicate MDReqIDs get MarketDataRequestReject (Y).

Updates are incremental refreshes only: a subscription asking for full refreshes
(MDUpdateType 265=0) is rejected with MDReqRejReason 6, and a by-order subscription with a
depth (264 other than 0) with MDReqRejReason 5, since its increments follow every order of the
book, not the orders of the top N levels. A one-off snapshot (263=0) takes either.

A session holds at most :data:`MAX_SUBSCRIPTIONS` subscriptions (more are rejected with
MDReqRejReason 2, insufficient bandwidth): each is served at every change of its symbols'
books, and one session's thousand would slow the venue for all. Subscriptions share what
they can of a change: the book's levels (read once a side and depth, not once a
subscription), a level difference from the same view, and the entries of the same update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from engine.book import OrderBook
from engine.book_types import Event, EventType, Side
from fixspec.fieldtypes import format_utc_timestamp
from gateway.fixmessage import FieldValue, Group, Message
from gateway.venue import Venue
from gateway.venue_config import SymbolSpec

__all__ = ["MAX_SUBSCRIPTIONS", "MarketDataPublisher"]

Send = Callable[[str, Message], None]  # (session name, message)
_SIDE_TYPE = {Side.BUY: "0", Side.SELL: "1"}
#: subscriptions one session may hold at once (see the module docstring)
MAX_SUBSCRIPTIONS = 100


@dataclass(slots=True)
class _Subscription:
    session: str
    req_id: str
    symbols: tuple[str, ...]
    types: frozenset[str]
    depth: int
    by_order: bool
    # level view published so far: (symbol, side) -> {ticks: qty}
    levels: dict[tuple[str, int], dict[int, int]] = field(default_factory=dict)


def _levels(book: OrderBook, side: int, depth: int) -> dict[int, int]:
    """``book``'s levels on ``side``, ticks -> size, the best ``depth`` (0: all)."""
    return {lv.price: lv.qty for lv in book.depth(side, depth or None)}


_NO_LEVELS: dict[int, int] = {}  # (never changed: shared by every view yet to publish)


class _Shared:
    """What one change of a book gives every subscription to it: the book's levels per side
    and depth, read once; each difference from a view level subscriptions share (views are
    never changed once made: a publish replaces them); the incremental refresh's entries
    for each kind of subscription (one group object, sent in each one's message)."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self._read: dict[tuple[int, int], dict[int, int]] = {}  # (side, depth) -> levels
        #: (side, depth, id of a published view) -> (that view, the entries from it to now)
        self.diffs: dict[tuple[int, int, int],
                         tuple[dict[int, int], list[tuple[tuple[int, FieldValue], ...]]]] = {}
        #: what a subscription is sent -> the group of it (see MarketDataPublisher._publish)
        self.groups: dict[tuple[bool, frozenset[str], tuple[tuple[int, int, int], ...]],
                          Group] = {}

    def levels(self, side: int, depth: int) -> dict[int, int]:
        found = self._read.get((side, depth))
        if found is None:
            found = self._read[(side, depth)] = _levels(self.book, side, depth)
        return found


@dataclass(slots=True)
class _Entry:
    side: int
    price: int
    qty: int


class _OrderView:
    """Resting orders of one symbol as market data shows them, kept from the book events."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}

    def set(self, key: str, side: int, price: int, qty: int,
            out: list[tuple[str, str, _Entry]]) -> None:
        """Record ``key`` at ``qty`` (0 removes it) and append the change to ``out``."""
        old = self.entries.get(key)
        if qty <= 0:
            if old is not None:
                del self.entries[key]
                out.append(("2", key, old))
            return
        entry = _Entry(side, price, qty)
        self.entries[key] = entry
        out.append(("1" if old is not None and old.price == price else "0", key, entry))
        if old is not None and old.price != price:
            out.insert(len(out) - 1, ("2", key, old))

    def apply(self, events: list[Event]) -> tuple[list[tuple[str, str, _Entry]],
                                                  list[tuple[int, int]]]:
        """Order-level changes (action, id, entry) and trades (ticks, qty) of ``events``."""
        changes: list[tuple[str, str, _Entry]] = []
        trades: list[tuple[int, int]] = []
        for e in events:
            t = e.type
            if t == EventType.REST:
                self.set(str(e.id), e.side, e.price, e.qty, changes)
            elif t == EventType.TRADE:
                trades.append((e.price, e.qty))
                maker = self.entries.get(str(e.other))
                if maker is not None:
                    self.set(str(e.other), maker.side, maker.price, e.other_leaves, changes)
            elif t == EventType.CANCEL:
                gone = self.entries.get(str(e.id))
                if gone is not None:
                    self.set(str(e.id), gone.side, gone.price, e.leaves, changes)
            elif t == EventType.REPLACE:
                old = self.entries.get(str(e.id))
                if old is not None:
                    # kept position: a size change; else it left the queue (a REST follows)
                    self.set(str(e.id), old.side, e.price, e.qty if e.code == 1 else 0, changes)
        return changes, trades


class MarketDataPublisher:
    """Market-data subscriptions of every session over one :class:`Venue`."""

    def __init__(self, venue: Venue, send: Send) -> None:
        self.venue = venue
        self.send = send
        self.views = {s: _OrderView() for s in venue.specs}
        self.subs: dict[tuple[str, str], _Subscription] = {}
        self._levels_held = False  # inside feed_change: levels wait for its end
        venue.on_book(self._on_book)

    # -- requests -------------------------------------------------------------------------

    def request(self, session: str, msg: Message, now: datetime,
                app_version: str = "FIX.4.4") -> None:
        """Handle a MarketDataRequest from ``session``, whose application messages are of
        FIX version ``app_version`` (SessionConfig.app_version)."""
        body = msg.body
        req_id = body.get_str(262) or ""
        kind = body.get_str(263) or "0"
        key = (session, req_id)
        if kind == "2":
            if self.subs.pop(key, None) is None:
                # FIX defines no answer to an unsubscribe; a reject (no MDReqRejReason fits:
                # none is sent) tells a client that its unsubscribe stopped nothing
                self._reject(session, req_id, None,
                             f"no subscription with MDReqID {req_id} to unsubscribe")
            return
        if key in self.subs:
            self._reject(session, req_id, "1", f"duplicate MDReqID {req_id}")
            return
        symbols = tuple(e.get_str(55) or "" for e in (body.group(146) or ()))
        unknown = [s for s in symbols if s not in self.venue.specs]
        if not symbols or unknown:
            self._reject(session, req_id, "0",
                         f"unknown symbol {unknown[0]}" if unknown else "no symbol requested")
            return
        types = frozenset(e.get_str(269) or "" for e in (body.group(267) or ()))
        if not types or not types <= {"0", "1", "2"}:
            self._reject(session, req_id, "8", "supported MDEntryTypes are 0, 1 and 2")
            return
        try:
            depth = body.get_int(264) or 0
        except ValueError:  # digits beyond what an int reads (4,300): no depth anyone has
            self._reject(session, req_id, "5", "MarketDepth (264) is not a depth")
            return
        if depth < 0:
            self._reject(session, req_id, "5", f"MarketDepth {depth} is negative")
            return
        by_order = body.get_str(266) == "N"
        if kind == "1":  # what the increments cannot follow (a snapshot alone can)
            if body.get_str(265) == "0":
                self._reject(session, req_id, "6", "MDUpdateType (265) 0 (full refresh) is "
                             "not supported: updates are incremental refreshes (265=1)")
                return
            if by_order and depth != 0:
                self._reject(session, req_id, "5", f"MarketDepth (264) {depth} is not "
                             "supported by order (266=N): by-order updates are of the full "
                             "book (264=0)")
                return
        if kind == "1" and sum(k[0] == session for k in self.subs) >= MAX_SUBSCRIPTIONS:
            # (after the request's own faults: a request that names none is refused for it)
            self._reject(session, req_id, "2", f"this session holds {MAX_SUBSCRIPTIONS} "
                         "subscriptions, the most it may: unsubscribe one first")
            return
        sub = _Subscription(session, req_id, symbols, types, depth, by_order=by_order)
        # FIX 5.0SP2 requires LastUpdateTime (779) on a snapshot, and its snapshot entries
        # have the MDEntryID (278) increments name orders by; earlier versions have neither
        modern = app_version == "FIX.5.0SP2"
        for symbol in symbols:
            self.send(session, self._snapshot(sub, symbol, now if modern else None,
                                              entry_ids=modern))
        if kind == "1":
            self.subs[key] = sub

    def drop_session(self, session: str) -> None:
        """A session logged out: its subscriptions end (a client subscribes again on logon)."""
        for key in [k for k in self.subs if k[0] == session]:
            del self.subs[key]

    # -- publishing -----------------------------------------------------------------------

    def _snapshot(self, sub: _Subscription, symbol: str, stamp: datetime | None, *,
                  entry_ids: bool = False) -> Message:
        """The MarketDataSnapshotFullRefresh of ``symbol`` for ``sub``; ``stamp``: its
        LastUpdateTime (779), for the sessions whose version has it; ``entry_ids``: by-order
        entries carry MDEntryID (278) as well as OrderID (37), where the version has it."""
        spec = self.venue.specs[symbol]
        book = self.venue.books[symbol]
        msg = Message("W")
        msg.body.set(262, sub.req_id)
        msg.body.set(55, symbol)
        if stamp is not None:
            msg.body.set(779, format_utc_timestamp(stamp))
        group = Group(268, 269)
        for side in (Side.BUY, Side.SELL):
            if _SIDE_TYPE[side] not in sub.types:
                continue
            if sub.by_order:
                view = self.views[symbol].entries
                best_first = sorted(((k, e) for k, e in view.items() if e.side == side),
                                    key=lambda kv: -kv[1].price if side == Side.BUY
                                    else kv[1].price)
                allowed = set(_levels(book, side, sub.depth))
                for key, e in best_first:
                    if e.price in allowed:
                        ids = ((278, key),) if entry_ids else ()
                        group.add((269, _SIDE_TYPE[side]), *ids, (270, spec.to_price(e.price)),
                                  (271, e.qty), (37, key))
            else:
                levels = _levels(book, side, sub.depth)
                sub.levels[(symbol, side)] = levels
                for ticks, qty in levels.items():
                    group.add((269, _SIDE_TYPE[side]), (270, spec.to_price(ticks)), (271, qty))
        msg.body.set_group(group)
        return msg

    def _on_book(self, symbol: str, events: list[Event], now: datetime) -> None:
        if not events:  # a market-data feed's change (see feed_change): nothing to see here
            return
        changes, trades = self.views[symbol].apply(events)
        if not self.subs or not (changes or trades):
            return
        self._publish(symbol, changes, trades)

    @contextmanager
    def feed_change(self, symbol: str) -> Iterator[None]:
        """A market-data feed changes ``symbol``'s book in steps inside the ``with`` (its
        fills, its prints: :meth:`feed_prints`, the trades its liquidity makes by crossing
        client orders): level subscribers get the level differences once, at the end, so a
        level view never shows a book the steps leave crossed for a moment."""
        self._levels_held = True
        try:
            yield
        finally:
            self._levels_held = False
        if self.subs:
            self._publish(symbol, [], [])

    def feed_prints(self, symbol: str, prices: Sequence[int], sizes: Sequence[int]) -> None:
        """A market-data feed's trades of ``symbol`` (``prices`` in ticks and ``sizes``, in
        order; made into pairs only when someone subscribes), to everyone who asked for
        trades. (Order-by-order subscribers see the feed's liquidity only through
        snapshots.)"""
        if self.subs:
            self._publish(symbol, [], list(zip(prices, sizes, strict=True)))

    def _publish(self, symbol: str, changes: list[tuple[str, str, _Entry]],
                 trades: list[tuple[int, int]]) -> None:
        spec = self.venue.specs[symbol]
        shared = _Shared(self.venue.books[symbol])
        for sub in self.subs.values():
            if symbol not in sub.symbols:
                continue
            # what the subscription is sent, as a key: subscriptions with the same one share
            # the entries (a group is never changed once sent)
            views: tuple[tuple[int, int, int], ...] = ()
            if not sub.by_order and not self._levels_held:
                views = self._level_changes(sub, symbol, spec, shared)
            content = (sub.by_order, sub.types, views)
            group = shared.groups.get(content)
            if group is None:
                group = shared.groups[content] = Group(268, 279)
                if sub.by_order:
                    for action, key, e in changes:
                        if _SIDE_TYPE[Side(e.side)] in sub.types:
                            group.add((279, action), (269, _SIDE_TYPE[Side(e.side)]),
                                      (278, key), (55, symbol), (270, spec.to_price(e.price)),
                                      (271, e.qty), (37, key))
                for view in views:
                    for entry in shared.diffs[view][1]:
                        group.add(*entry)
                if "2" in sub.types:
                    for ticks, qty in trades:
                        group.add((279, "0"), (269, "2"), (55, symbol),
                                  (270, spec.to_price(ticks)), (271, qty))
            if group.entries:
                msg = Message("X")
                msg.body.set(262, sub.req_id)
                msg.body.set_group(group)
                self.send(sub.session, msg)

    def _level_changes(self, sub: _Subscription, symbol: str, spec: SymbolSpec,
                       shared: _Shared) -> tuple[tuple[int, int, int], ...]:
        """Bring ``sub``'s level view of ``symbol`` up to the book; the keys of
        ``shared.diffs`` holding what changed, a side each (computed once a view)."""
        keys = []
        for side in (Side.BUY, Side.SELL):
            entry_type = _SIDE_TYPE[side]
            if entry_type not in sub.types:
                continue
            old = sub.levels.get((symbol, side), _NO_LEVELS)
            new = shared.levels(side, sub.depth)
            key = (side, sub.depth, id(old))
            if key not in shared.diffs:
                entries: list[tuple[tuple[int, FieldValue], ...]] = []
                for ticks, qty in old.items():
                    if ticks not in new:
                        entries.append(((279, "2"), (269, entry_type), (55, symbol),
                                        (270, spec.to_price(ticks)), (271, qty)))
                for ticks, qty in new.items():
                    if old.get(ticks) != qty:
                        entries.append(((279, "0" if ticks not in old else "1"),
                                        (269, entry_type), (55, symbol),
                                        (270, spec.to_price(ticks)), (271, qty)))
                shared.diffs[key] = (old, entries)  # (held: no other view takes its id)
            keys.append(key)
            sub.levels[(symbol, side)] = new
        return tuple(keys)

    def _reject(self, session: str, req_id: str, reason: str | None, text: str) -> None:
        msg = Message("Y")
        msg.body.set(262, req_id)
        if reason is not None:
            msg.body.set(281, reason)
        msg.body.set(58, text)
        self.send(session, msg)
