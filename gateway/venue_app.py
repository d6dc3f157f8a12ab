"""``application: venue``: the matching venue and its algo desk behind FIX sessions.

Serves NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G),
OrderStatusRequest (H) and MarketDataRequest (V) on every session that names it, against the
:class:`~gateway.venue.Venue` built from the YAML's ``venue:`` section. A NewOrderSingle with
TargetStrategy (847) is a parent order for the :class:`~gateway.algo_desk.AlgoDesk`
(``algos:`` section), whose children trade on the same books. Every order a client sends
directly passes its session's risk gate (``risk:`` section) first.

A request the venue cannot act on gets an ExecutionReport Rejected or an OrderCancelReject
whose Text says why; the session stays up. Each session is an owner: it sees and can touch
only its own orders. Reports to a logged-out session are persisted by its session and
reach the client by resend after its next logon, unless that Logon resets sequence numbers
(ResetSeqNumFlag, ResetOnLogon): a reset gives up what was sent before it, as FIX defines,
and the client learns its orders' state with OrderStatusRequest (H). The open orders'
last reports are still carried over for a restart (see gateway.venue_restart).

Order of output for one request: the requester's and counterparties' reports first, then
the market data the change caused, then the algos' reactions to it.
"""

from __future__ import annotations

import dataclasses
import struct
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from algos.risk import RiskGate
from algos.strategy import MarketSnapshot
from engine.book_types import Event, EventType, Side
from gateway.algo_config import parse_algos
from gateway.algo_desk import AlgoDesk
from gateway.application import SessionHandle
from gateway.audit import AuditLog
from gateway.clock import Clock, run_prefix
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.fix_reports import (
    RequestError,
    name_by_order_id,
    parse_price,
    parse_qty,
    parse_side,
    request_cancel_reject,
    request_fault,
    request_refusal,
    request_report,
    send_report,
)
from gateway.fixmessage import Message
from gateway.market_data import MarketDataPublisher
from gateway.md_feed import MdBatch, MdLogError
from gateway.metrics import GatewayMetrics
from gateway.risk_gates import RiskGates
from gateway.routers import DESK_OWNER, VenueRouter
from gateway.venue import NewOrder, Venue, order_id_mismatch
from gateway.venue_config import VenueConfig, parse_venue
from gateway.venue_feed import FeedChange, FeedReplay
from gateway.venue_orders import (
    CXL_DUPLICATE,
    CXL_TOO_LATE,
    CXL_UNKNOWN,
    DAY,
    LIMIT,
    NEW,
    ORDER_STATUS,
    REJ_DUPLICATE,
    REJ_EXCEEDS_LIMIT,
    REJECTED,
    TRADE,
    CancelReject,
    ExecReport,
    Order,
    Report,
)
from gateway.venue_restart import SessionOrders

__all__ = ["VenueApplication", "venue_config"]

VENUE_TYPES = frozenset({"D", "F", "G", "H", "V"})
SNAPSHOT_LEVELS = 5
_LEVEL = struct.Struct("<3q")  # lob_level: price, qty, orders (OrderBook.top_records)


# Where reports for owners that are not FIX sessions go (the in-process algo desk).
ReportSink = Callable[[Report, datetime], None]


def venue_config(config: GatewayConfig) -> VenueConfig:
    node = config.extra.get("venue")
    if node is None:
        raise ConfigError(f"{config.path}: application 'venue' needs a 'venue:' section "
                          "with its symbols")
    return parse_venue(node, config.path.resolve().parent)


class VenueApplication:
    """``feed_errors``: told of each unreadable market-data line, which the replay then
    passes over (by default the first one ends the replay). ``market_clock``: the replay
    runs at the logs' own pace whatever ``speed`` says (a backtest's virtual clock).
    ``decoded``: the logs as an earlier replay decoded them (see FeedReplay)."""

    def __init__(self, config: GatewayConfig, *,
                 feed_errors: Callable[[MdLogError], None] | None = None,
                 market_clock: bool = False,
                 decoded: Mapping[Path, list[MdBatch]] | None = None) -> None:
        base = config.path.resolve().parent
        self.config = venue_config(config)
        md = self.config.market_data
        if md is not None and market_clock:
            md = dataclasses.replace(md, speed=1.0)
        self.feed = (FeedReplay(md, self.config.symbols, on_error=feed_errors,
                                decoded=decoded)
                     if md is not None else None)
        self.venue = Venue(self.config, books=self.feed.books if self.feed else None)
        algos = parse_algos(config.extra.get("algos"), base)
        if algos.router != "venue":
            raise ConfigError(f"{config.path}: a venue's algos trade on its own books "
                              "(router: venue); an upstream router is for application: algo")
        self.audit: AuditLog | None = None
        self.metrics: GatewayMetrics | None = None
        self.sessions: dict[str, SessionHandle] = {}
        # per session, what its stored reports say of orders from before a restart: their
        # ClOrdIDs and last reports, and the orders open then, reported Canceled when the
        # session logs on (gateway.venue_restart)
        self._orders = SessionOrders()
        self._stored = self._orders.stored
        self.gate = RiskGates(config, self.sessions, self._mid)
        # Market data waits until the reports of the operation that caused it are out: a
        # client hears about its own fill before the public sees the trade.
        self._md_out: list[tuple[str, Message]] = []
        # per symbol, the last snapshot's bid records and levels, and ask records and levels
        self._sides: dict[str, list[Any]] = {}
        self.market_data = MarketDataPublisher(self.venue, self._queue_md)
        self.desk = AlgoDesk(
            algos.factories(), self.venue.specs,
            VenueRouter(self.venue, self.deliver, lambda: self.desk.now,
                        lambda c, p: self.desk.child_sent(c, p),
                        lambda c, k: self.desk.child_cancel_sent(c, k)),
            self.snapshot, self._send_reports, self.gate,
            strategy_names=algos.strategies, default_window=algos.default_window)
        self.sinks: dict[str, ReportSink] = {DESK_OWNER: self.desk.on_child_report}
        self.venue.on_book(self._on_book)

    # -- Application ------------------------------------------------------------------------

    def bind(self, engine: object) -> None:
        """Know every session up front (reports reach logged-out owners too), and the
        engine's audit log and metrics; then what the sessions' stores say of orders from
        before a restart (:mod:`gateway.venue_restart`): their ClOrdIDs and last reports,
        and the orders still open, which the books no longer hold: each owner gets a
        Canceled report for them when it logs on (then, not now: a Logon that resets
        sequence numbers would discard reports stored for a logged-out session)."""
        clock: Clock | None = getattr(engine, "clock", None)
        if clock is not None:  # (the same every run of a backtest, on its virtual clock)
            prefix = run_prefix(clock.now())
            self.venue.number_ids(prefix)
            self.desk.number_ids(prefix)
        self.audit = getattr(engine, "audit", None)
        self.metrics = getattr(engine, "metrics", None)
        self.desk.audit = self.gate.audit = self.audit
        self.desk.metrics = self.metrics
        for runner in getattr(engine, "runners", {}).values():
            if runner.config.application != "venue":
                continue
            self.sessions[runner.name] = runner
            self.gate.restored[runner.name] = self._orders.bind(runner.name, runner.config,
                                                                runner.session)

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return VENUE_TYPES

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self.sessions[session.name] = session
        self.gate.at(now)
        self.gate.restore_day(session.name, session.config.schedule, now)
        self.desk.touch(now)
        self._expire_day_orders(now)
        self._orders.watch_day(session.name, session.config.schedule, now)
        # ClOrdIDs are unique within a trading day: at the first Logon of a later day the
        # done orders' ids are free again (venue_restart.SessionOrders.at_logon)
        new_day, lost = self._orders.at_logon(session.name, session.config.schedule, now,
                                              self.venue.next_exec_id)
        if new_day:
            self._new_day(session.name)
        self._orders.heard(session.name)
        if lost:
            self.deliver(lost, now)

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        self.gate.at(now)
        self.desk.touch(now)
        self.market_data.drop_session(session.name)
        if self.config.cancel_on_disconnect:
            self.deliver(self.venue.cancel_all(session.name, now, "canceled on disconnect"),
                         now)
        self.settle(now)

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        self.sessions.setdefault(session.name, session)
        self.gate.at(now)
        # before anything can make the algos act (a child filling against this order, a
        # runner seeing the book it changed): their decisions happen now, not at the last
        # market update or timer
        self.desk.touch(now)
        day_end = self._orders.next_day_end()
        if day_end is not None and now >= day_end:
            self._expire_day_orders(now)  # (before the timer, if this came first)
        msg_type = message.msg_type or ""
        owner = session.name
        if msg_type in ("F", "G", "H"):
            name_by_order_id(message, partial(self._cl_ord_id_of, owner))
        cl_ord_id = message.body.get_str(11) or ""
        if message.poss_dup and msg_type in ("D", "F", "G") and self._handled(owner, cl_ord_id):
            # a copy of a request already acted on, resent by the peer's session layer (after
            # our crash, what followed our last committed sequence number): not again
            if self.audit is not None:
                self.audit.order(now, "possdup_ignored", owner, cl_ord_id=cl_ord_id,
                                 msg_type=msg_type)
            return
        stored = self._stored.get(owner)
        if (stored is not None and msg_type in ("F", "G")
                and (orig := message.body.get_str(41) or "")
                and not self._taken(owner, orig)
                and (done := stored.order(orig)) is not None):
            # an order done before a restart: as the venue would have answered then
            order_id = message.body.get_str(37)
            if order_id and order_id != done.order_id:
                reject = request_cancel_reject(owner, message, CXL_UNKNOWN,
                                               order_id_mismatch(order_id, orig), now)
            else:
                reject = request_cancel_reject(
                    owner, message, CXL_TOO_LATE,
                    f"order {orig} was done before the venue restarted", now,
                    ord_status=done.ord_status, order_id=done.order_id)
            self.deliver([reject], now)
            return
        if msg_type == "V":
            handle = self.sessions.get(owner)
            self.market_data.request(owner, message, now, handle.config.app_version
                                     if handle is not None else message.begin_string or "")
        elif fault := request_fault(message):
            self.deliver([self._bad_request(owner, message, fault, now)], now)
        elif msg_type == "D" and (self._taken(owner, cl_ord_id)
                                  or (stored is not None and cl_ord_id in stored.ids)):
            # parents and direct orders share the session's ClOrdID space, which the
            # orders of the day from before a restart are part of
            self.deliver([self._bad_request(owner, message, RequestError(
                f"duplicate ClOrdID (11) {cl_ord_id}", REJ_DUPLICATE), now)], now)
        elif msg_type in ("F", "G") and self._taken(owner, cl_ord_id):
            # one ClOrdID space, as for NewOrderSingle: a cancel or replace taking the ClOrdID
            # of another order or parent would leave two orders answering to it (and the
            # request's own order the one a later cancel of that ClOrdID reaches)
            order_id, status = self._order_state(owner, message.body.get_str(41) or "")
            self.deliver([request_cancel_reject(owner, message, CXL_DUPLICATE,
                                                f"duplicate ClOrdID (11) {cl_ord_id}", now,
                                                ord_status=status, order_id=order_id)], now)
        elif msg_type in ("D", "F", "G", "H") and self.desk.is_parent_request(owner, message):
            self.desk.on_message(owner, message, now)
        else:
            self.deliver(self._order_request(owner, msg_type, message, now), now)
        self.settle(now)

    def _cl_ord_id_of(self, owner: str, order_id: str) -> str | None:
        """The ClOrdID of ``owner``'s order, or else parent, with OrderID ``order_id``."""
        order = self.venue.order_by_id(owner, order_id)
        return order.cl_ord_id if order is not None else self.desk.cl_ord_id_of(owner, order_id)

    def _handled(self, owner: str, cl_ord_id: str) -> bool:
        """Whether ``owner`` used ``cl_ord_id`` before: an order or parent of ours, or a
        ClOrdID in the session's stored reports from before a restart."""
        stored = self._stored.get(owner)
        return self._taken(owner, cl_ord_id) or (stored is not None and stored.used(cl_ord_id))

    def _taken(self, owner: str, cl_ord_id: str) -> bool:
        """Whether ``cl_ord_id`` names one of ``owner``'s orders or parents of this run (one
        ClOrdID space for both)."""
        return self.venue.order(owner, cl_ord_id) is not None or self.desk.knows(owner, cl_ord_id)

    def next_deadline(self) -> datetime | None:
        deadlines = [self.desk.next_deadline(), self._orders.next_day_end()]
        if self.feed is not None and not self.feed.done:
            deadlines.append(self.feed.next_deadline())
        return min((d for d in deadlines if d is not None), default=None)

    def _new_day(self, name: str) -> None:
        """Session ``name`` starts a later trading day: its done orders and parents are
        forgotten, their ClOrdIDs free, except those that ended while it was logged out
        (SessionOrders.unheard): it may not have heard how, and asks by OrderStatusRequest."""
        unheard = self._orders.unheard(name)
        self.venue.new_day(name, unheard)
        self.desk.new_day(name, unheard)

    def _expire_day_orders(self, now: datetime) -> None:
        """Each session whose trading day has ended by ``now``: its Day orders expire
        (:meth:`Venue.expire_day_orders`; reported whether it is logged on or not, as
        every report is), and its next day's end is taken. Where ``now`` is in the next
        trading day (no schedule: midnight UTC), the done orders' ClOrdIDs are free again,
        as at a Logon of a later day, for a session logged on over the day's end."""
        ended = self._orders.days_ended(now)
        for name, new_day in ended:
            self.deliver(self.venue.expire_day_orders(name, now), now)
            if new_day:
                self._new_day(name)
            gate = self.gate.existing(name)
            if gate is not None:  # max_daily_loss counts from here
                gate.new_day()
        if ended:
            self.settle(now)

    def on_timer(self, now: datetime) -> None:
        self._expire_day_orders(now)
        if self.feed is None:
            self.on_market([], now)
            return
        # when the first message applied now was due, i.e. received (not known before the
        # replay's first call, which anchors it)
        due = self.feed.next_deadline() if self.feed.applied else None
        started = time.perf_counter()
        changes = self.feed.due(now, self.venue.resting_ids())
        self.on_market(changes, now)
        if self.metrics is not None and changes and due is not None and due <= now:
            waited = (now - due).total_seconds() + time.perf_counter() - started
            self.metrics.ingestion_latency(waited, feed="log")

    def on_market(self, changes: Iterable[FeedChange], now: datetime) -> None:
        """The market-data feed changed books (``changes``, from ``self.feed.due``): report
        the fills and cancels it caused, publish the market data, run the algos' timers due
        at ``now`` and let them see the market."""
        self.gate.at(now)
        self.desk.touch(now)
        for change in changes:
            symbol = change.symbol
            if symbol in self.venue.specs:
                # in the order it happened: the log's message (the fills it gave client
                # orders, private first, then its prints), then the trades of client orders
                # its liquidity now crosses, then the levels all that left (a level view
                # never shows the book crossed by the log's liquidity before they trade)
                with self.market_data.feed_change(symbol):
                    fills = self.venue.feed_applied(symbol, change.trade_prices,
                                                    change.trade_sizes, now, change.fills)
                    if self.metrics is not None:  # (matched in C: no book events)
                        for r in fills:
                            if isinstance(r, ExecReport):
                                self.metrics.trade(symbol, r.last_qty)
                    self.deliver(fills, now)
                    self.market_data.feed_prints(symbol, change.trade_prices,
                                                 change.trade_sizes)
                    self.deliver(self.venue.uncross(symbol, now), now)
        if self.feed is not None and self.feed.errors:
            for error in self.feed.errors:  # (each log that stopped, once)
                print(f"gateway: market data replay stopped: {error}", file=sys.stderr,
                      flush=True)
            self.feed.errors.clear()
        self.desk.on_timer(now)
        self.settle(now)

    # -- orders -----------------------------------------------------------------------------

    def _order_request(self, owner: str, msg_type: str, message: Message,
                       now: datetime) -> list[Report]:
        body = message.body
        cl_ord_id = body.get_str(11) or ""
        try:
            gate = self.gate(owner)
            if gate is not None and msg_type in ("D", "G"):  # cancels only reduce risk
                throttled = gate.throttle(now)
                if throttled is not None:
                    raise RequestError(f"risk: {throttled}", REJ_EXCEEDS_LIMIT)
            if msg_type == "D":
                return self.venue.new_order(self.new_order(owner, message), now,
                                            None if gate is None else partial(self._risk, gate))
            stored = self._stored.get(owner)
            if msg_type in ("F", "G") and stored is not None and cl_ord_id in stored.ids:
                # a ClOrdID of the day's orders from before a restart (the venue refuses
                # its own orders' ClOrdIDs itself)
                order_id, ord_status = self._order_state(owner, body.get_str(41) or "")
                return [request_cancel_reject(owner, message, CXL_DUPLICATE,
                                              f"duplicate ClOrdID (11) {cl_ord_id}", now,
                                              ord_status=ord_status, order_id=order_id)]
            if msg_type == "F":
                return self.venue.cancel(owner, cl_ord_id, body.get_str(41) or "", now,
                                         expect=(body.get_str(55) or "", parse_side(message)),
                                         order_id=body.get_str(37))
            if msg_type == "G":
                return self.venue.replace(
                    owner, cl_ord_id, body.get_str(41) or "", parse_qty(message),
                    parse_price(message), now,
                    None if gate is None else partial(self._risk_replace, gate),
                    expect=(body.get_str(55) or "", parse_side(message)),
                    order_id=body.get_str(37), ord_type=body.get_str(40),
                    tif=body.get_str(59))
            req_id = body.get_str(790)
            status = self.venue.status(owner, cl_ord_id, now)
            if status is None and stored is not None:  # an order from before a restart
                status = stored.order(cl_ord_id, owner, self.venue.next_exec_id(), now)
            if status is None:
                status = request_report(owner, self.venue.next_exec_id(), message,
                                        f"unknown order {cl_ord_id}", now,
                                        exec_type=ORDER_STATUS, reason=None)
            return [dataclasses.replace(status, ord_status_req_id=req_id)
                    if req_id is not None else status]
        except RequestError as exc:
            return [self._bad_request(owner, message, exc, now)]

    def _mid(self, symbol: str) -> Decimal | None:
        """The mid of ``symbol``'s book (None: an unknown symbol, or a side empty)."""
        return self.venue.mid(symbol) if symbol in self.venue.books else None

    def _risk(self, gate: RiskGate, req: NewOrder) -> Decimal | None:
        """The session's risk limits, once the venue found ``req`` well formed; for a market
        order, the price its collar lets it trade to (None: no collar). A market order is
        judged without its Price (44): it does not trade there."""
        mid = self.venue.mid(req.symbol)
        bound = None if req.ord_type == LIMIT else gate.market_bound(req.side, mid)
        notional = partial(self.venue.most_notional, req, bound)
        if req.ord_type == LIMIT:
            problem = gate.check(req.symbol, req.side, req.qty, req.price, mid,
                                 notional=notional)
        else:
            problem = gate.check(req.symbol, req.side, req.qty, None, mid, bounded=True,
                                 notional=notional)
        if problem is not None:
            raise RequestError(f"risk: {problem}", REJ_EXCEEDS_LIMIT)
        return bound

    def _risk_replace(self, gate: RiskGate, order: Order, qty: int,
                      price: Decimal | None) -> str | None:
        """The session's risk limits on the order a replace would make (the venue's checks
        passed): None, or the OrderCancelReject's Text."""
        # what it traded for so far, and the most its rest can trade for at the new terms
        rest = NewOrder(owner=order.owner, cl_ord_id=order.cl_ord_id, symbol=order.symbol,
                        side=order.side, qty=max(0, qty - order.cum), price=price,
                        ord_type=LIMIT if price is not None else order.ord_type)
        problem = gate.check_replace(order.symbol, order.side, qty, price, order.qty,
                                     order.price, self.venue.mid(order.symbol),
                                     notional=lambda: order.value + self.venue.most_notional(rest))
        return None if problem is None else f"risk: {problem}"

    @staticmethod
    def new_order(owner: str, message: Message) -> NewOrder:
        """A NewOrderSingle's fields as a venue request; RequestError names a bad field."""
        body = message.body
        return NewOrder(owner=owner, cl_ord_id=body.get_str(11) or "",
                        symbol=body.get_str(55) or "", side=parse_side(message),
                        ord_type=body.get_str(40) or LIMIT, qty=parse_qty(message),
                        price=parse_price(message), tif=body.get_str(59) or DAY)

    def _bad_request(self, owner: str, message: Message, error: RequestError,
                     now: datetime) -> Report:
        """The reject of a request that failed before the venue saw it (a field that did
        not parse, the throttle, a duplicate ClOrdID): :func:`request_refusal`, a cancel
        or replace naming the session's order, if it has it."""
        return request_refusal(owner, message, error, now, exec_id=self.venue.next_exec_id,
                               order_state=lambda cl: self._order_state(owner, cl))

    def _order_state(self, owner: str, cl_ord_id: str) -> tuple[str, str]:
        """(OrderID, OrdStatus) of ``owner``'s order that had ``cl_ord_id``: the venue's, a
        parent, or one from before a restart; ("NONE", Rejected) for an order it does not have."""
        order = self.venue.order(owner, cl_ord_id) or self.desk.order(owner, cl_ord_id)
        if order is not None:
            return order.order_id, order.status
        stored = self._stored.get(owner)
        done = stored.order(cl_ord_id) if stored is not None else None
        if done is not None:
            return done.order_id, done.ord_status
        return "NONE", REJECTED

    def kill_all(self, reason: str, now: datetime) -> None:
        """The kill switch for every session: refuse new orders, cancel resting ones, stop
        every parent order."""
        self.gate.at(now)
        self.desk.touch(now)
        self.gate.kill(self.sessions, reason)
        for name in self.sessions:
            self.deliver(self.venue.cancel_all(name, now, f"kill switch: {reason}"), now)
        self.desk.stop_sessions(self.sessions, f"kill switch: {reason}", now)
        self.settle(now)

    # -- output -----------------------------------------------------------------------------

    def deliver(self, reports: Iterable[Report], now: datetime) -> None:
        """Venue reports to their owners (a FIX session, or the desk for its children),
        keeping each session's risk gate and the audit log up to date. A report to a FIX
        session is audited as the ExecutionReport message it becomes; a child's report never
        becomes a message, so it is audited here, with its parent."""
        reports = list(reports)
        if not reports:  # most market updates report nothing
            return
        for r in reports:
            if r.owner != DESK_OWNER:
                if isinstance(r, ExecReport):
                    self._track(r)
            elif self.audit is not None:
                self.audit.order(now, "report", r.owner, **_report_fields(r))
        self._send_reports(reports, now)

    def _track(self, r: ExecReport) -> None:
        gate = self.gate.existing(r.owner)
        if gate is None:
            return
        if r.exec_type == NEW:
            gate.on_order_sent(r.order_id)
        if r.exec_type == TRADE and r.last_px is not None:
            gate.on_fill(r.symbol, r.side, r.last_qty, r.last_px)
        if r.ord_status in ("2", "4", "8", "C"):
            gate.on_order_done(r.order_id)

    def _send_reports(self, reports: Iterable[Report], now: datetime) -> None:
        for r in reports:
            sink = self.sinks.get(r.owner)
            if sink is not None:
                sink(r, now)
                continue
            session = self.sessions.get(r.owner)
            if session is None:
                continue  # an owner that is gone (cannot happen for configured sessions)
            # (a report of a request refused before it was an order has no OrderID to keep)
            if isinstance(r, ExecReport) and r.order_id not in ("", "NONE"):
                self._orders.keep(r, heard=session.logged_on)
            send_report(session, r)

    def settle(self, now: datetime) -> None:
        """After a request: market data out, then the algos see the new market."""
        self.flush_market_data()
        self.desk.pump(now)
        self.flush_market_data()

    def _queue_md(self, session: str, message: Message) -> None:
        self._md_out.append((session, message))

    def flush_market_data(self) -> None:
        """Send queued market data to subscribers that are still logged on."""
        if not self._md_out:  # (twice per market update, mostly with nothing queued)
            return
        out, self._md_out = self._md_out, []
        for session, message in out:
            handle = self.sessions.get(session)
            if handle is not None and handle.logged_on:
                handle.send(message)

    # -- market -----------------------------------------------------------------------------

    def snapshot(self, symbol: str, now: datetime) -> MarketSnapshot | None:
        """The market in ``symbol`` as algos see it (None for an unknown symbol)."""
        price = self.venue.prices.get(symbol)
        if price is None:
            return None
        bid_records, ask_records = self.venue.books[symbol].top_records(SNAPSHOT_LEVELS)
        # the levels algos look at often stand still between snapshots: the last ones of
        # each side are kept with the records they came from (tuples of Decimals and ints,
        # safe to share)
        last = self._sides.get(symbol)
        if last is None:
            last = self._sides[symbol] = [b"-", (), b"-", ()]
        if last[0] == bid_records:
            bids = last[1]
        else:
            bids = last[1] = tuple([(price(p), q) for p, q, _ in _LEVEL.iter_unpack(bid_records)])
            last[0] = bid_records
        if last[2] == ask_records:
            asks = last[3]
        else:
            asks = last[3] = tuple([(price(p), q) for p, q, _ in _LEVEL.iter_unpack(ask_records)])
            last[2] = ask_records
        # positional, in the field order (time, symbol, bid, bid_qty, ask, ask_qty,
        # last_price, volume, bids, asks): keywords cost a fifth of the snapshot's making
        return MarketSnapshot(
            now, symbol,
            bids[0][0] if bids else None, bids[0][1] if bids else 0,
            asks[0][0] if asks else None, asks[0][1] if asks else 0,
            self.venue.last_trade.get(symbol), self.venue.volume[symbol], bids, asks)

    def _on_book(self, symbol: str, events: list[Event], now: datetime) -> None:
        self.desk.book_changed(symbol)
        m = self.metrics
        if m is None:
            return
        replaced: set[int] = set()
        for e in events:
            if e.type == EventType.REST:
                if e.id not in replaced:  # (a replace that moves or grows an order rests it)
                    m.order_added(symbol)
            elif e.type == EventType.TRADE:
                m.trade(symbol, e.qty)
            elif e.type == EventType.REPLACE:
                replaced.add(e.id)
        book = self.venue.books[symbol]
        m.book_depth(symbol, "bid", book.level_count(Side.BUY))
        m.book_depth(symbol, "ask", book.level_count(Side.SELL))


def _report_fields(r: Report) -> dict[str, object]:
    if isinstance(r, CancelReject):
        return {"msg": "cancel_reject", "cl_ord_id": r.cl_ord_id,
                "orig_cl_ord_id": r.orig_cl_ord_id, "order_id": r.order_id,
                "reason": r.reason, "text": r.text}
    return {"exec_type": r.exec_type, "status": r.ord_status, "cl_ord_id": r.cl_ord_id,
            "orig_cl_ord_id": r.orig_cl_ord_id, "order_id": r.order_id, "exec_id": r.exec_id,
            "symbol": r.symbol, "side": r.side.name, "qty": r.qty, "price": r.price,
            "leaves": r.leaves, "cum": r.cum, "avg_px": r.avg_px, "last_qty": r.last_qty,
            "last_px": r.last_px, "text": r.text, "parent": r.parent}
