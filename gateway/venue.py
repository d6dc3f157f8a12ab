"""The matching venue: one C order book per symbol, client orders on it, reports to owners.

Sans-IO and FIX-free: requests go in as values with ``now``, :class:`~gateway.venue_orders`
reports come back, each addressed to the one owner of the order it concerns (a FIX session's
name, or the in-process algo router). A client can name only its own orders: every lookup is
by (owner, ClOrdID), so one client can never cancel, replace or see another's order.

Book ids: client orders get ids from ``CLIENT_IDS`` up; market-data (feed) orders keep the
ids the feed gives them, which are below it. A replayed market-data log
(:mod:`gateway.venue_feed`) changes the books in C, without matching; :meth:`Venue.feed_applied`
then accounts for its trades and the fills it gave client orders, and :meth:`Venue.uncross`
trades client orders that the replayed liquidity now crosses (after the caller published
the feed's own market data: its prints came first). The feed never removes or shrinks a client order
otherwise (the C book's level fallbacks and the feed's snapshots take only its own
liquidity).

Listeners registered with :meth:`Venue.on_book` see every operation's C events (market data
publishing, metrics); they run after the reports are built.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from engine.book import OrderBook
from engine.book_types import CancelReason, Event, EventType, Op, OpType, Side, TimeInForce
from engine.errors import CoreError, error_for
from gateway.clock import run_prefix
from gateway.md_feed import FeedBook, FeedFill
from gateway.venue_config import SymbolSpec, VenueConfig
from gateway.venue_orders import (
    CANCELED,
    CXL_DUPLICATE,
    CXL_OTHER,
    CXL_TOO_LATE,
    CXL_UNKNOWN,
    DAY,
    EXPIRED,
    FILLED,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    NEW,
    ORDER_STATUS,
    PARTIAL,
    REJ_DUPLICATE,
    REJ_INCORRECT_QTY,
    REJ_OTHER,
    REJ_UNKNOWN_SYMBOL,
    REJ_UNSUPPORTED,
    REJECTED,
    REPLACED,
    TRADE,
    CancelReject,
    ExecReport,
    Order,
    Report,
    report,
)

__all__ = ["CLIENT_IDS", "BookListener", "NewOrder", "Venue", "mismatch_text",
           "order_id_mismatch"]

CLIENT_IDS = 1 << 62  # first book id of client orders; market-data feed ids stay below
PRICE_CACHE = 4096  # prices per symbol whose Decimal is kept (Venue.prices)
_TIF = {DAY: TimeInForce.DAY, GTC: TimeInForce.DAY, IOC: TimeInForce.IOC, FOK: TimeInForce.FOK}
_CANCEL_TEXT = {
    CancelReason.IOC: "IOC remainder canceled",
    CancelReason.FOK: "FOK order could not be filled completely",
    CancelReason.MARKET: "market order remainder canceled: no more liquidity (within the "
                         "price band or risk collar, if any)",
}

BookListener = Callable[[str, list[Event], datetime], None]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A NewOrderSingle as the venue sees it; ``price`` is None for market orders."""

    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: str
    qty: int
    price: Decimal | None
    tif: str = DAY
    parent: str | None = None


class _Rejected(Exception):
    def __init__(self, reason: int, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


class Venue:
    def __init__(self, config: VenueConfig, *, id_prefix: str | None = None,
                 max_orders: int = 1_000_000, books: Mapping[str, OrderBook] | None = None
                 ) -> None:
        self.specs: dict[str, SymbolSpec] = dict(config.symbols)
        # ``books``: books a market-data feed also writes to (see feed_applied)
        self.books = {s: (books or {}).get(s) or OrderBook(max_orders) for s in self.specs}
        self.number_ids(id_prefix if id_prefix is not None else run_prefix(datetime.now(UTC)))
        self._book_ids = itertools.count(CLIENT_IDS)
        self._live: dict[int, Order] = {}  # book id -> live client order
        self._orders: dict[tuple[str, str], Order] = {}  # (owner, any ClOrdID it had) -> order
        self._by_order_id: dict[tuple[str, str], Order] = {}  # (owner, OrderID) -> order
        self.last_trade: dict[str, Decimal] = {}
        self.volume: dict[str, int] = dict.fromkeys(self.specs, 0)
        self._listeners: list[BookListener] = []
        #: per symbol, its spec's to_price with the last PRICE_CACHE prices kept: snapshots
        #: and trades convert the same prices again and again, and a Decimal conversion
        #: costs many times a lookup
        self.prices: dict[str, Callable[[int], Decimal]] = {
            s: lru_cache(maxsize=PRICE_CACHE)(spec.to_price) for s, spec in self.specs.items()}

    # -- queries ------------------------------------------------------------------------------

    def on_book(self, listener: BookListener) -> None:
        self._listeners.append(listener)

    def spec(self, symbol: str) -> SymbolSpec | None:
        return self.specs.get(symbol)

    def number_ids(self, prefix: str) -> None:
        """OrderIDs and ExecIDs from here on: ``prefix`` then ``O1``, ``E1``... (a prefix
        that differs between runs, :func:`gateway.clock.run_prefix`, so a client never sees
        an OrderID or ExecID twice across restarts)."""
        self._order_ids = (f"{prefix}O{n}" for n in itertools.count(1))
        self._exec_ids = (f"{prefix}E{n}" for n in itertools.count(1))

    def mid(self, symbol: str) -> Decimal | None:
        bbo = self.books[symbol].bbo()
        if not bbo.bid_qty or not bbo.ask_qty:
            return None
        return self.specs[symbol].to_price(bbo.bid_price + bbo.ask_price) / 2

    def reference_price(self, symbol: str) -> Decimal | None:
        """What price bands are measured from: the last trade, else the mid."""
        return self.last_trade.get(symbol) or self.mid(symbol)

    def most_notional(self, req: NewOrder, bound: Decimal | None = None) -> Decimal:
        """The most ``req`` can trade for (risk's max_notional): what it would take from the
        book now, level by level up to its limit (a market order: up to the last price it
        may trade at, see :meth:`_market_limit`, ``bound`` the collar's edge), plus what is
        left at its limit, where it rests (a market order's rest is cancelled)."""
        spec = self.specs[req.symbol]
        book = self.books[req.symbol]
        buy = req.side == Side.BUY
        limit = req.price if req.ord_type == LIMIT else None
        last = (spec.to_ticks(limit) if limit is not None
                else self._market_limit(req, bound))
        left, total = req.qty, Decimal(0)
        levels = book.depth(Side.SELL if buy else Side.BUY, 16)
        if len(levels) == 16:  # (most orders meet a few levels: the rest only when needed)
            levels = book.depth(Side.SELL if buy else Side.BUY, None)
        for level in levels:
            if last is not None and (level.price > last if buy else level.price < last):
                break
            take = min(left, level.qty)
            total += take * spec.to_price(level.price)
            left -= take
            if not left:
                break
        return total + left * limit if limit is not None else total

    def next_exec_id(self) -> str:
        """A fresh ExecID (for reports the FIX layer makes itself, such as malformed
        requests)."""
        return next(self._exec_ids)

    def order(self, owner: str, cl_ord_id: str) -> Order | None:
        return self._orders.get((owner, cl_ord_id))

    def order_by_id(self, owner: str, order_id: str) -> Order | None:
        """``owner``'s order with OrderID (37) ``order_id`` (a FIX 5.0SP2 request may name an
        order by it alone)."""
        return self._by_order_id.get((owner, order_id))

    def open_orders(self, owner: str) -> list[Order]:
        return [o for o in self._live.values() if o.owner == owner]

    def new_day(self, owner: str, keep: Container[str] = ()) -> int:
        """``owner`` starts a new trading day: a ClOrdID need only be unique within a day, so
        the ClOrdIDs of its orders that are done are free again, and those orders are
        forgotten (what a day's orders cost stays within the day). Its live orders (GTC) keep
        theirs, as do the done orders whose OrderIDs are in ``keep``. Returns the ClOrdIDs
        freed."""
        done = [key for key, order in self._orders.items()
                if key[0] == owner and not order.live and order.order_id not in keep]
        for key in done:
            self._by_order_id.pop((owner, self._orders.pop(key).order_id), None)
        return len(done)

    # -- client requests ----------------------------------------------------------------------

    def _admit(self, req: NewOrder) -> int:
        """``req``'s price in ticks (0 for a market order); raises _Rejected."""
        if (req.owner, req.cl_ord_id) in self._orders:
            raise _Rejected(REJ_DUPLICATE, f"duplicate ClOrdID (11) {req.cl_ord_id}")
        spec = self.specs.get(req.symbol)
        if spec is None:
            raise _Rejected(REJ_UNKNOWN_SYMBOL, f"unknown Symbol (55) {req.symbol}")
        self._check_qty(spec, req.qty)
        if req.tif not in _TIF:
            raise _Rejected(REJ_UNSUPPORTED, f"unsupported TimeInForce (59) {req.tif}")
        if req.ord_type == LIMIT:
            return self._check_price(spec, req.price)
        if req.ord_type != MARKET:
            raise _Rejected(REJ_UNSUPPORTED, f"unsupported OrdType (40) {req.ord_type}")
        return 0

    def new_order(self, req: NewOrder, now: datetime,
                  vet: Callable[[NewOrder], Decimal | None] | None = None) -> list[Report]:
        """Accept (New, then any fills and an IOC/FOK/market remainder cancel) or reject.
        ``vet`` (a caller's own checks, such as risk limits) runs after the venue's checks and
        before the book, so a malformed order is rejected for what is wrong with it, with its
        OrdRejReason; what ``vet`` raises propagates, with nothing changed. What it returns
        is a price a market order must not trade beyond (a risk collar), or None.

        A market order trades no further than its symbol's price band (``band_pct`` around
        the reference price) and that price: within them it takes what there is, and the
        rest is canceled, as when the book runs dry."""
        try:
            ticks = self._admit(req)
        except _Rejected as r:
            return [self._reject_new(req, now, r.reason, r.text)]
        bound = vet(req) if vet is not None else None
        op = OpType.LIMIT if req.ord_type == LIMIT else OpType.MARKET
        tif = _TIF[req.tif]
        if req.ord_type == MARKET:
            limit = self._market_limit(req, bound)
            if limit is not None:  # a limit order that cannot rest
                op, ticks = OpType.LIMIT, limit
                tif = TimeInForce.FOK if req.tif == FOK else TimeInForce.IOC
        book_id = next(self._book_ids)
        order = Order(order_id=next(self._order_ids), owner=req.owner, cl_ord_id=req.cl_ord_id,
                      symbol=req.symbol, side=req.side, ord_type=req.ord_type,
                      price=req.price if req.ord_type == LIMIT else None, qty=req.qty,
                      tif=req.tif, book_id=book_id, parent=req.parent)
        self._orders[(req.owner, req.cl_ord_id)] = order
        self._by_order_id[(req.owner, order.order_id)] = order
        self._live[book_id] = order
        book = self.books[req.symbol]
        # apply_op reports a refusal (book full) as a REJECT event, which _after turns into a
        # Rejected report after the New: the order was accepted, then refused by the book.
        events = book.apply_op(Op(op, book_id, req.side, ticks, req.qty, tif))
        out: list[Report] = [report(order, next(self._exec_ids), NEW, now)]
        out += self._after(req.symbol, events, now)
        return out

    def _market_limit(self, req: NewOrder, bound: Decimal | None) -> int | None:
        """The last price in ticks a market order may trade at: the tighter of the band's
        edge (around the reference price, else the first price it meets) and ``bound``,
        rounded to a tick inside both (None: neither applies)."""
        spec = self.specs[req.symbol]
        buy = req.side == Side.BUY
        edges = [] if bound is None else [bound]
        ref = self.reference_price(req.symbol)
        if ref is None and spec.band_pct is not None:
            # no trade and no mid yet (one side empty): the band is around the price the
            # order meets first, or it would sweep the side unbounded
            bbo = self.books[req.symbol].bbo()
            ticks_first = bbo.ask_price if buy else bbo.bid_price
            if (bbo.ask_qty if buy else bbo.bid_qty) > 0:
                ref = spec.to_price(ticks_first)
        if spec.band_pct is not None and ref is not None:
            edges.append(ref * (1 + spec.band_pct / 100 if buy else 1 - spec.band_pct / 100))
        if not edges:
            return None
        edge = min(edges) if buy else max(edges)
        ticks = edge / spec.tick_size
        n = int(ticks.to_integral_value(ROUND_FLOOR if buy else ROUND_CEILING))
        return max(n, 1)

    def cancel(self, owner: str, cl_ord_id: str, orig_cl_ord_id: str, now: datetime,
               expect: tuple[str, Side] | None = None, order_id: str | None = None
               ) -> list[Report]:
        """OrderCancelRequest: Canceled, or an OrderCancelReject saying why not. ``expect``:
        the request's (Symbol, Side), which must be the order's; ``order_id``: the request's
        OrderID (37), if it sent one, which must be the order's too."""
        order, reject = self._target(owner, cl_ord_id, orig_cl_ord_id, "1", now, expect,
                                     order_id)
        if order is None:
            assert reject is not None
            return [reject]
        events = self.books[order.symbol].cancel(order.book_id)
        self._rename(order, cl_ord_id)
        order.status = CANCELED
        del self._live[order.book_id]
        out: list[Report] = [report(order, next(self._exec_ids), CANCELED, now)]
        return out + self._after(order.symbol, events, now)

    def replace(self, owner: str, cl_ord_id: str, orig_cl_ord_id: str, qty: int,
                price: Decimal | None, now: datetime,
                vet: Callable[[Order, int, Decimal | None], str | None] | None = None,
                expect: tuple[str, Side] | None = None, order_id: str | None = None,
                ord_type: str | None = None, tif: str | None = None) -> list[Report]:
        """OrderCancelReplaceRequest: new total quantity and (limit orders) price. Keeps
        queue position when only the quantity goes down, as the book's REPLACE does.
        ``vet`` (a caller's own checks, such as risk limits) sees the order, its new quantity
        and price after the venue's checks; a reason it returns is the OrderCancelReject's
        Text, with nothing changed. ``expect`` and ``order_id`` as for :meth:`cancel`.

        Only quantity and price change: a request whose ``ord_type`` (40) or ``tif`` (59)
        differs from the order's is refused (None: not sent, so unchanged). The price
        checks that measure a price against the market or the limits (the band, the minimum
        and maximum) apply to new exposure only: not to a replace that keeps the price the
        order rests at and does not raise its quantity (a market that moved since must not
        stop its owner from reducing it; the tick still applies)."""
        order, reject = self._target(owner, cl_ord_id, orig_cl_ord_id, "2", now, expect,
                                     order_id)
        if order is None:
            assert reject is not None
            return [reject]
        spec = self.specs[order.symbol]
        try:
            for tag, name, asked, has in ((40, "OrdType", ord_type, order.ord_type),
                                          (59, "TimeInForce", tif, order.tif)):
                if asked is not None and asked != has:
                    raise _Rejected(CXL_OTHER, f"{name} ({tag}) {asked} is not order "
                                    f"{orig_cl_ord_id}'s ({has}): a replace changes OrderQty "
                                    "and Price only")
            self._check_qty(spec, qty)
            # below what has filled: the rest is cancelled and the order is done at its
            # CumQty (FIX 4.4 Appendix D, "order qty amended to cum qty"), as at CumQty itself
            qty = max(qty, order.cum)
            ticks = 0
            if order.ord_type == LIMIT:
                new_price = price if price is not None else order.price
                # the limits judge new exposure: a price the order does not rest at, or
                # more quantity at it; a cut at the resting price passes, as a cancel would
                ticks = self._check_price(spec, new_price,
                                          bounds=new_price != order.price or qty > order.qty)
            elif price is not None:
                raise _Rejected(CXL_OTHER, "a market order has no price to replace")
            problem = None if vet is None else vet(
                order, qty, spec.to_price(ticks) if order.ord_type == LIMIT else None)
            if problem is not None:
                raise _Rejected(CXL_OTHER, problem)
        except _Rejected as r:
            return [self._cancel_reject(owner, cl_ord_id, orig_cl_ord_id, order, "2",
                                        CXL_OTHER, r.text, now)]
        book = self.books[order.symbol]
        try:  # the book first: if it refuses, the order stays exactly as it was
            events = (book.cancel(order.book_id) if qty == order.cum
                      else book.replace(order.book_id, ticks, qty - order.cum))
        except CoreError as exc:
            return [self._cancel_reject(owner, cl_ord_id, orig_cl_ord_id, order, "2",
                                        CXL_OTHER, str(exc), now)]
        self._rename(order, cl_ord_id)
        order.qty = qty
        if order.ord_type == LIMIT:
            order.price = spec.to_price(ticks)
        if qty == order.cum:  # nothing left to work: the order is done
            order.status = FILLED
            del self._live[order.book_id]
        out: list[Report] = [report(order, next(self._exec_ids), REPLACED, now)]
        return out + self._after(order.symbol, events, now)

    def status(self, owner: str, cl_ord_id: str, now: datetime) -> ExecReport | None:
        """OrderStatusRequest: the order as it is, or None for one ``owner`` does not have
        (the caller answers from the request: see gateway.fix_reports.request_report)."""
        order = self._orders.get((owner, cl_ord_id))
        if order is None:
            return None
        return report(order, next(self._exec_ids), ORDER_STATUS, now)

    def cancel_all(self, owner: str, now: datetime, text: str) -> list[Report]:
        """Cancel every live order of ``owner`` (cancel on disconnect, kill switch)."""
        return self._end_all(self.open_orders(owner), CANCELED, now, text)

    def expire_day_orders(self, owner: str, now: datetime) -> list[Report]:
        """``owner``'s trading day is over: its live Day orders (TimeInForce 0, the default)
        end Expired (ExecType and OrdStatus C, LeavesQty 0); GTC orders work on."""
        return self._end_all([o for o in self.open_orders(owner) if o.tif == DAY], EXPIRED,
                             now, "day order expired at the end of the trading day")

    def _end_all(self, orders: list[Order], status: str, now: datetime,
                 text: str) -> list[Report]:
        """Take ``orders`` (live) out of their books, each reported ``status`` (its
        ExecType too) with ``text``."""
        out: list[Report] = []
        for order in orders:
            events = self.books[order.symbol].cancel(order.book_id)
            order.status = status
            del self._live[order.book_id]
            out.append(report(order, next(self._exec_ids), status, now, text=text))
            out += self._after(order.symbol, events, now)
        return out

    # -- market data feed ---------------------------------------------------------------------

    def resting_ids(self) -> dict[str, list[int]]:
        """Per symbol, the book ids of the client orders resting in it (what a market-data
        feed needs to fill them from its executions)."""
        out: dict[str, list[int]] = {}
        for book_id, order in self._live.items():
            out.setdefault(order.symbol, []).append(book_id)
        return out

    def feed_applied(self, symbol: str, prices: Sequence[int], sizes: Sequence[int],
                     now: datetime, fills: Iterable[tuple[FeedFill, datetime]] = ()
                     ) -> list[Report]:
        """A market-data feed changed ``symbol``'s book directly (in C, without events):
        count its trades (``prices`` in ticks and ``sizes``, in order) and report the fills
        it gave client orders (each with the time of its message; the market's print is
        counted once, as the feed's trade). Nothing else the feed does reaches a client
        order: the C book's level fallbacks and the feed's snapshots take only the feed's
        own liquidity (csrc/book.h); what it leaves crossed, :meth:`uncross` trades."""
        spec = self.specs[symbol]
        if prices:
            self.last_trade[symbol] = self.prices[symbol](prices[-1])
            self.volume[symbol] += sum(sizes)
        out: list[Report] = []
        # the feed executed these client orders in C, without book events: for the
        # listeners (order-by-order market data), each one's shown size now, as a reduce
        shown: list[Event] = []
        for f, when in fills:
            order = self._live.get(f.order_id)
            if order is not None:
                out.append(self._fill(order, f.qty, spec.to_price(f.price), when,
                                      aggressor=False))
                shown.append(Event(EventType.CANCEL, f.order_id, order.side, f.price, f.qty,
                                   order.leaves, code=CancelReason.REQUESTED))
        for listener in self._listeners:
            listener(symbol, shown, now)
        return out

    def uncross(self, symbol: str, now: datetime) -> list[Report]:
        """Trade client orders that replayed liquidity now crosses. The feed adds orders
        without matching, so a replayed sell may arrive at or below a client's resting buy
        (or a buy at or above its sell): the client order was there first, so it trades at
        once as the maker, at its own price, with the crossing levels from their front, best
        price first, keeping its queue position for what is left. A replayed order taken
        whole is gone from the log's view too (FeedBook.took, in :meth:`_after`)."""
        if not self._live:
            return []
        book = self.books[symbol]
        spec = self.specs[symbol]
        out: list[Report] = []
        # Only the orders the book's far side crosses now: taking the feed's liquidity only
        # moves that side away, so no other order can come to cross (and the queue positions
        # below are asked for these alone: each walks its level, on every market update).
        bbo = book.bbo()
        resting = [(o, ticks) for o in self._live.values()
                   if o.symbol == symbol and o.price is not None
                   and (ticks := spec.to_ticks(o.price)) is not None
                   and (bbo.ask_qty > 0 and ticks >= bbo.ask_price if o.side == Side.BUY
                        else bbo.bid_qty > 0 and ticks <= bbo.bid_price)]
        # most aggressive first (highest buys, lowest sells), then in the book's queue order
        # at a price: an order that lost its place (a replace) is behind those it went after
        resting.sort(key=lambda ot: (-ot[1] if ot[0].side == Side.BUY else ot[1],
                                     book.queue_position(ot[0].book_id).orders_ahead))
        for order, ticks in resting:
            buy = order.side == Side.BUY
            while order.book_id in self._live:
                bbo = book.bbo()
                px, avail = (bbo.ask_price, bbo.ask_qty) if buy else (bbo.bid_price, bbo.bid_qty)
                if avail <= 0 or (ticks < px if buy else ticks > px):
                    break
                took = book.execute(0, Side.SELL if buy else Side.BUY, px,
                                    min(order.leaves, avail))
                trades = [e._replace(price=ticks) for e in took if e.type == EventType.TRADE]
                qty = sum(e.qty for e in trades)
                if not qty:
                    break  # nothing the book would execute there
                # the prints, at the client's price (their makers are the feed's orders: an
                # execute by level never takes a client's), and the client order's reduce
                # (its shown size, for order-by-order market data)
                reduce = book.cancel(order.book_id, qty)
                out += self._after(symbol, trades + reduce, now)
                out.append(self._fill(order, qty, spec.to_price(ticks), now, aggressor=False))
        return out

    # -- internals ----------------------------------------------------------------------------

    def _check_qty(self, spec: SymbolSpec, qty: int) -> None:
        if qty <= 0:
            raise _Rejected(REJ_INCORRECT_QTY, f"OrderQty (38) {qty} must be positive")
        if qty % spec.lot_size:
            raise _Rejected(REJ_INCORRECT_QTY,
                            f"OrderQty (38) {qty} is not a multiple of the lot size "
                            f"{spec.lot_size}")
        if qty > spec.max_qty:
            raise _Rejected(REJ_INCORRECT_QTY,
                            f"OrderQty (38) {qty} exceeds the maximum {spec.max_qty} for "
                            f"{spec.symbol}")

    def _check_price(self, spec: SymbolSpec, price: Decimal | None, *,
                     bounds: bool = True) -> int:
        """``price`` in ticks, or _Rejected. ``bounds``: check it against the minimum, the
        maximum and the band too (False for the price a replaced order already rests at)."""
        if price is None:
            raise _Rejected(REJ_OTHER, "a limit order needs a Price (44)")
        if not price.is_finite() or price <= 0:
            raise _Rejected(REJ_OTHER, f"Price (44) {price} must be positive")
        ticks = spec.to_ticks(price)
        if ticks is None:
            raise _Rejected(REJ_OTHER,
                            f"Price (44) {price} is not a multiple of the tick size "
                            f"{spec.tick_size}")
        if bounds:
            self._check_bounds(spec, price)
        if ticks > (1 << 53):
            raise _Rejected(REJ_OTHER, f"Price (44) {price} is too large")
        return ticks

    def _check_bounds(self, spec: SymbolSpec, price: Decimal) -> None:
        """The minimum, the maximum and the band around the reference price."""
        if spec.min_price is not None and price < spec.min_price:
            raise _Rejected(REJ_OTHER, f"Price (44) {price} is below the minimum {spec.min_price}")
        if spec.max_price is not None and price > spec.max_price:
            raise _Rejected(REJ_OTHER, f"Price (44) {price} is above the maximum {spec.max_price}")
        ref = self.reference_price(spec.symbol)
        if spec.band_pct is not None and ref is not None \
                and abs(price - ref) * 100 > spec.band_pct * ref:
            raise _Rejected(REJ_OTHER, f"Price (44) {price} is outside the {spec.band_pct}% "
                                       f"price band around {ref}")

    def _reject_new(self, req: NewOrder, now: datetime, reason: int, text: str) -> ExecReport:
        return ExecReport(owner=req.owner, exec_id=next(self._exec_ids), exec_type=REJECTED,
                          ord_status=REJECTED, order_id="NONE", cl_ord_id=req.cl_ord_id,
                          orig_cl_ord_id=None, symbol=req.symbol, side=req.side,
                          ord_type=req.ord_type, price=req.price, qty=req.qty, tif=req.tif,
                          leaves=0, cum=0, avg_px=Decimal(0), time=now, text=text,
                          rej_reason=reason, parent=req.parent)

    def _target(self, owner: str, cl_ord_id: str, orig: str, response_to: str,
                now: datetime, expect: tuple[str, Side] | None = None,
                order_id: str | None = None) -> tuple[Order | None, CancelReject | None]:
        """The live order a cancel or replace names, or the reject to send instead (also
        when the request's ``expect`` (Symbol, Side) or ``order_id`` (37) is not the
        order's: a client that confused two orders must not cancel the wrong one; and when
        ``orig`` is one of its earlier ClOrdIDs)."""
        order = self._orders.get((owner, orig))
        if (owner, cl_ord_id) in self._orders:
            return None, self._cancel_reject(owner, cl_ord_id, orig, order, response_to,
                                             CXL_DUPLICATE, f"duplicate ClOrdID (11) {cl_ord_id}",
                                             now)
        if order is None:
            return None, self._cancel_reject(owner, cl_ord_id, orig, None, response_to,
                                             CXL_UNKNOWN, f"unknown order {orig}", now)
        if order_id and order_id != order.order_id:
            # OrigClOrdID and OrderID name different orders: no order is both, so the
            # request names an unknown one (OrderID NONE, OrdStatus Rejected, as FIX says)
            return None, self._cancel_reject(owner, cl_ord_id, orig, None, response_to,
                                             CXL_UNKNOWN, order_id_mismatch(order_id, orig),
                                             now)
        mismatch = mismatch_text(order.symbol, order.side, expect, orig)
        if mismatch is not None:
            return None, self._cancel_reject(owner, cl_ord_id, orig, order, response_to,
                                             CXL_OTHER, mismatch, now)
        if not order.live:
            state = {FILLED: "filled", CANCELED: "canceled"}.get(order.status, "done")
            return None, self._cancel_reject(owner, cl_ord_id, orig, order, response_to,
                                             CXL_TOO_LATE, f"order {orig} is already {state}",
                                             now)
        if orig != order.cl_ord_id:
            # FIX: OrigClOrdID is the ClOrdID of the last accepted request, not an earlier
            # one: a client acting on a stale view must not undo a replace it has not seen
            return None, self._cancel_reject(owner, cl_ord_id, orig, order, response_to,
                                             CXL_OTHER, replaced_text(orig, order.cl_ord_id),
                                             now)
        return order, None

    def _cancel_reject(self, owner: str, cl_ord_id: str, orig: str, order: Order | None,
                       response_to: str, reason: int, text: str, now: datetime) -> CancelReject:
        return CancelReject(owner=owner, order_id=order.order_id if order else "NONE",
                            cl_ord_id=cl_ord_id, orig_cl_ord_id=orig,
                            ord_status=order.status if order else REJECTED,
                            response_to=response_to, reason=reason, text=text, time=now)

    def _rename(self, order: Order, cl_ord_id: str) -> None:
        order.orig_cl_ord_id = order.cl_ord_id
        order.cl_ord_id = cl_ord_id
        self._orders[(order.owner, cl_ord_id)] = order

    def _fill(self, order: Order, qty: int, px: Decimal, now: datetime,
              aggressor: bool) -> ExecReport:
        order.cum += qty
        order.value += px * qty
        order.status = FILLED if order.cum >= order.qty else PARTIAL
        if order.status == FILLED:
            del self._live[order.book_id]
        return report(order, next(self._exec_ids), TRADE, now, last_qty=qty, last_px=px,
                      aggressor=aggressor)

    def _after(self, symbol: str, events: list[Event], now: datetime) -> list[Report]:
        """Reports for what ``events`` did to client orders; then tell the listeners."""
        out: list[Report] = []
        spec = self.specs[symbol]
        live = self._live
        for e in events:
            if e.type == EventType.TRADE:
                px = spec.to_price(e.price)
                self.last_trade[symbol] = px
                self.volume[symbol] += e.qty
                maker = live.get(e.other)
                if maker is not None:
                    out.append(self._fill(maker, e.qty, px, now, aggressor=False))
                elif 0 < e.other < CLIENT_IDS and isinstance(book := self.books[symbol],
                                                              FeedBook):
                    if e.other_leaves == 0:
                        book.took(e.other)  # a replayed order taken whole
                    else:
                        book.took_part(e.other, e.qty)
                taker = live.get(e.id)
                if taker is not None:
                    out.append(self._fill(taker, e.qty, px, now, aggressor=True))
            elif e.type == EventType.CANCEL:
                # a remainder the order's own terms cancel (IOC, FOK, market); requested
                # cancels are reported by cancel() and cancel_all()
                order = live.get(e.id)
                if order is None or e.code == CancelReason.REQUESTED:
                    continue
                order.status = CANCELED
                del live[order.book_id]
                # a market order limited by its band or collar is an IOC/FOK in the book
                code = CancelReason.MARKET if order.ord_type == MARKET and e.code == (
                    CancelReason.IOC) else CancelReason(e.code)
                out.append(report(order, next(self._exec_ids), CANCELED, now,
                                  text=_CANCEL_TEXT[code]))
            elif e.type == EventType.REJECT:
                order = live.pop(e.id, None)
                if order is not None:  # the book refused a client order it was sent
                    order.status = REJECTED
                    out.append(report(order, next(self._exec_ids), REJECTED, now,
                                      text=f"venue refused the order: {error_for(e.code)}"))
        for listener in self._listeners:
            listener(symbol, events, now)
        return out


def order_id_mismatch(order_id: str, orig: str) -> str:
    """The Text refusing a cancel or replace whose OrderID (37) is not order ``orig``'s."""
    return f"OrderID (37) {order_id} does not match order {orig}"


def replaced_text(orig: str, current: str) -> str:
    """The Text refusing a cancel or replace whose OrigClOrdID (41) ``orig`` is one of the
    order's earlier ClOrdIDs (``current`` is its latest)."""
    return f"OrigClOrdID (41) {orig} was replaced: the order's ClOrdID is now {current}"


def mismatch_text(symbol: str, side: Side, expect: tuple[str, Side] | None,
                  orig: str) -> str | None:
    """Why a cancel or replace naming (Symbol, Side) ``expect`` may not act on order ``orig``
    of ``symbol`` and ``side``, or None when they match (or nothing is expected)."""
    if expect is None:
        return None
    if expect[0] != symbol:
        return f"Symbol (55) {expect[0]} is not order {orig}'s ({symbol})"
    if expect[1] != side:
        words = {Side.BUY: "1 (buy)", Side.SELL: "2 (sell)"}
        return f"Side (54) {words[expect[1]]} is not order {orig}'s ({words[side]})"
    return None
