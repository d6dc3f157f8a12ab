"""The algo desk: parent orders from FIX clients, worked by :class:`algos.runner.AlgoRunner`.

A client's NewOrderSingle with TargetStrategy (847) becomes a parent (see
:mod:`gateway.algo_orders`); the desk answers with ExecutionReports for the parent only:
New on acceptance, one Trade report per child fill (LastQty/LastPx of the fill, running
CumQty/AvgPx), Pending Cancel then Canceled, Pending Replace then Replaced, and at the end
Filled, Expired (the window closed with quantity left) or Canceled with the reason. A
cancel or replace the runner refuses gets an OrderCancelReject. The client gets no reports
of the children (a fill report's ExecID names the child and the venue's fill:
:func:`gateway.routers.fill_exec_id`); the audit log has them, each with its parent.

Children go to a :class:`algos.runner.ChildRouter`: the in-process venue
(:class:`VenueRouter`) or an upstream FIX session (:mod:`gateway.upstream`). The router
hands the venue's answers back through :meth:`AlgoDesk.on_child_report`.

Runners see market snapshots of their symbol after every book change, delivered by
:meth:`AlgoDesk.pump` once the operation that caused them is finished (so a runner never
acts in the middle of another order's matching).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from algos.registry import StrategyFactory
from algos.risk import RiskGate
from algos.runner import (
    AlgoRunner,
    ChildRouter,
    ParentCancelRejected,
    ParentDone,
    ParentEvent,
    ParentFill,
    ParentPendingCancel,
    ParentPendingReplace,
    ParentReplaced,
    ParentReplaceRejected,
)
from algos.strategy import MarketSnapshot, MarketWatch, ParentOrder, Side
from gateway.algo_orders import parse_parent
from gateway.audit import AuditLog
from gateway.clock import run_prefix
from gateway.fix_reports import (
    RequestError,
    parse_side,
    request_cancel_reject,
    request_report,
)
from gateway.fixmessage import Message
from gateway.metrics import GatewayMetrics
from gateway.routers import cancelled_child, fill_exec_id, parent_of
from gateway.self_trade import OutsideChild, SelfTradeGuard
from gateway.venue import mismatch_text, order_id_mismatch, replaced_text
from gateway.venue_config import SymbolSpec
from gateway.venue_orders import (
    CANCELED,
    CXL_DUPLICATE,
    CXL_OTHER,
    CXL_PENDING,
    CXL_TOO_LATE,
    CXL_UNKNOWN,
    EXPIRED,
    FILLED,
    FINAL_STATUSES,
    NEW,
    ORDER_STATUS,
    PARTIAL,
    PENDING_CANCEL,
    PENDING_REPLACE,
    REJ_DUPLICATE,
    REJ_EXCEEDS_LIMIT,
    REJ_OTHER,
    REJ_UNKNOWN_SYMBOL,
    REJECTED,
    REPLACED,
    RESTATED,
    TRADE,
    TRADE_CANCEL,
    TRADE_CORRECT,
    CancelReject,
    ExecReport,
    Order,
    Report,
    report,
)

__all__ = ["AlgoDesk", "Parent"]

Deliver = Callable[[list[Report], datetime], None]
_T = TypeVar("_T")


@dataclass(slots=True)
class Parent:
    """A parent order as the client sees it (``order``) and the runner that works it."""

    order: Order
    runner: AlgoRunner
    strategy: str
    arrival_mid: Decimal | None
    code: str  # TargetStrategy (847) as the client sent it
    pending_cl: str | None = None  # ClOrdID of a cancel or replace in progress
    pending_kind: str = ""  # its MsgType: F or G


def _settled(order: Order) -> str:
    """The OrdStatus of a live order that no request is pending on."""
    return FILLED if order.cum >= order.qty else PARTIAL if order.cum else NEW


class DeskRouter(ChildRouter, Protocol):
    """The desk's router: a :class:`~algos.runner.ChildRouter` that also says when no child
    can be sent at all (a venue link that is down), so a new parent is refused at once
    rather than acknowledged and left unworked."""

    def unavailable(self) -> str | None:
        """Why no child can be sent now, or None."""
        ...

    def status(self, child_id: str) -> bool:
        """Ask the venue for the child's state (OrderStatusRequest); its answer comes as a
        report about the child. False: no request went out (no link to the venue now)."""
        ...


class AlgoDesk:
    """Parent orders of every client session.

    ``strategies`` maps TargetStrategy (847) codes to strategy factories; ``symbols`` are
    the tradeable symbols; ``snapshot(symbol, now)`` gives the market now (None if unknown);
    ``deliver`` sends reports to their owners; ``risk(session)`` is a session's gate.
    """

    def __init__(self, strategies: Mapping[str, StrategyFactory],
                 symbols: Mapping[str, SymbolSpec], router: DeskRouter,
                 snapshot: Callable[[str, datetime], MarketSnapshot | None],
                 deliver: Deliver, risk: Callable[[str], RiskGate | None], *,
                 strategy_names: Mapping[str, str] | None = None,
                 default_window: float = 300.0, audit: AuditLog | None = None,
                 metrics: GatewayMetrics | None = None) -> None:
        self.strategies = dict(strategies)
        self.strategy_names = dict(strategy_names or {})
        self.symbols = symbols
        self.router = router
        self.snapshot = snapshot
        self.deliver = deliver
        self.risk = risk
        self.default_window = default_window
        self.audit = audit
        self.metrics = metrics
        self.parents: dict[str, Parent] = {}  # parent OrderID (the runner's parent id)
        self._by_client: dict[tuple[str, str], Parent] = {}  # (session, any ClOrdID it had)
        self._children: dict[str, Parent] = {}  # child ClOrdID -> its parent
        # children the venue acknowledged or reported fills of: a reject of one is not the
        # end of an order that may still be working there (see _child_report)
        self._heard: set[str] = set()
        # children whose state the venue was asked for after a reject of the child and has
        # not reported since: one such request at a time (a venue answering one with a
        # reject must not get another, for ever)
        self._asked: set[str] = set()
        self._dirty: set[str] = set()
        self.number_ids(run_prefix(datetime.now(UTC)))
        self._now: datetime | None = None
        # the runners' router: self.router (read at each call) behind self-trade prevention
        self._guard = SelfTradeGuard(self, lambda: self.now)
        #: the desk's orders at the venue that no runner works (SelfTradeGuard's; the algo
        #: gateway's lost parents' children after a restart)
        self.outside: Callable[[], Iterable[OutsideChild]] = tuple

    def number_ids(self, prefix: str) -> None:
        """Parent OrderIDs and the desk's ExecIDs from here on: ``prefix`` then ``A1``,
        ``AE1``... (see :meth:`gateway.venue.Venue.number_ids`)."""
        self._ids = (f"{prefix}A{n}" for n in itertools.count(1))
        self._exec_ids = (f"{prefix}AE{n}" for n in itertools.count(1))

    def touch(self, now: datetime) -> None:
        """Set the time of the call being handled (for work the desk does not start)."""
        self._now = now

    @property
    def current_time(self) -> datetime | None:
        return self._now

    @property
    def now(self) -> datetime:
        """The time of the call being handled (routers stamp the venue's requests with it)."""
        assert self._now is not None, "the desk is not handling a call"
        return self._now

    def new_day(self, owner: str, keep: Container[str] = ()) -> int:
        """``owner`` starts a new trading day (as :meth:`gateway.venue.Venue.new_day` for
        plain orders): a ClOrdID need only be unique within a day, so those of its parents
        that are done are free again, and those parents are forgotten with their children
        (what a day's parents cost stays within the day; a venue report of such a child
        arriving later is an unknown child's). Its parents still working keep theirs.
        Those whose OrderIDs are in ``keep`` are kept too. Returns how many parents were
        forgotten."""
        gone = [order_id for order_id, p in self.parents.items()
                if p.order.owner == owner and p.runner.done and not p.order.live
                and order_id not in keep]
        dropped = {id(self.parents.pop(order_id)) for order_id in gone}
        if dropped:
            self._by_client = {k: p for k, p in self._by_client.items()
                               if id(p) not in dropped}
            self._children = {k: p for k, p in self._children.items()
                              if id(p) not in dropped}
            self._heard &= self._children.keys()
            self._asked &= self._children.keys()
        return len(gone)

    # -- client requests ----------------------------------------------------------------------

    def cl_ord_id_of(self, session: str, order_id: str) -> str | None:
        """The ClOrdID of ``session``'s parent with OrderID ``order_id`` (None: none)."""
        p = self.parents.get(order_id)
        return p.order.cl_ord_id if p is not None and p.order.owner == session else None

    def knows(self, session: str, cl_ord_id: str) -> bool:
        """Whether ``session`` used ``cl_ord_id`` for a parent (or its cancel/replace)."""
        return (session, cl_ord_id) in self._by_client

    def order(self, session: str, cl_ord_id: str) -> Order | None:
        """``session``'s parent that had ``cl_ord_id`` (or was asked to take it by a cancel
        or replace), as the client sees it; None if none did."""
        p = self._by_client.get((session, cl_ord_id))
        return p.order if p is not None else None

    def is_parent_request(self, session: str, message: Message) -> bool:
        """Whether ``message`` (D, F, G or H) is about a parent order of ``session``."""
        body = message.body
        if message.msg_type == "D":
            return 847 in body
        key = body.get_str(41) if message.msg_type in ("F", "G") else body.get_str(11)
        return (session, key or "") in self._by_client

    def on_message(self, session: str, message: Message, now: datetime) -> None:
        self._now = now
        body = message.body
        cl = body.get_str(11) or ""
        kind = message.msg_type or ""
        if kind == "D":
            self._new_parent(session, message, now)
        elif kind == "H":  # OrdStatusReqID (790) echoed, as on every status report
            p = self._by_client[(session, cl)]
            self._report(p, ORDER_STATUS, now, ord_status_req_id=body.get_str(790))
        else:
            orig = body.get_str(41) or ""
            p = self._by_client[(session, orig)]
            order_id = body.get_str(37)
            if order_id and order_id != p.order.order_id:
                # OrigClOrdID and OrderID name different orders: as the venue answers for its
                # own (Venue._target), no order is both, so the request names an unknown one
                self.deliver([request_cancel_reject(session, message, CXL_UNKNOWN,
                                                    order_id_mismatch(order_id, orig), now)],
                             now)
                return
            try:
                expect = (body.get_str(55) or "", parse_side(message))
            except RequestError as exc:
                self.deliver([self._cancel_reject(p, cl, kind, str(exc), now)], now)
                return
            mismatch = mismatch_text(p.order.symbol, p.order.side, expect, orig)
            if mismatch is not None:
                self.deliver([self._cancel_reject(p, cl, kind, mismatch, now)], now)
                return
            if p.pending_cl is not None or not p.order.live:
                self.deliver([self._cancel_reject(p, cl, kind, "order is done"
                              if not p.order.live else "a cancel or replace is in progress",
                              now)], now)
                return
            if (session, cl) in self._by_client:
                self.deliver([self._cancel_reject(p, cl, kind, f"duplicate ClOrdID (11) {cl}",
                                                  now, reason=CXL_DUPLICATE)], now)
                return
            if orig != p.order.cl_ord_id:  # a stale view (as Venue._target refuses it)
                self.deliver([self._cancel_reject(
                    p, cl, kind, replaced_text(orig, p.order.cl_ord_id), now)], now)
                return
            p.pending_cl, p.pending_kind = cl, kind
            self._by_client[(session, cl)] = p
            if kind == "F":
                p.runner.cancel(now)
            else:
                self._replace(p, message, now)
        self.pump(now)

    def _new_parent(self, session: str, message: Message, now: datetime) -> None:
        body = message.body
        cl = body.get_str(11) or ""
        order_id = next(self._ids)
        code = body.get_str(847) or ""
        symbol = body.get_str(55) or ""
        spec = self.symbols.get(symbol)
        gate = self.risk(session)
        try:
            throttled = gate.throttle(now) if gate is not None else None
            if throttled is not None:
                raise RequestError(f"risk: {throttled}", REJ_EXCEEDS_LIMIT)
            if (session, cl) in self._by_client:
                raise RequestError(f"duplicate ClOrdID (11) {cl}", REJ_DUPLICATE)
            down = self.router.unavailable()
            if down is not None:  # nothing could be worked: the client hears it now
                raise RequestError(f"parent orders are not taken now: {down}")
            factory = self.strategies.get(code)
            if factory is None:
                raise RequestError(f"TargetStrategy (847) {code} is not offered; known: "
                                   f"{', '.join(sorted(self.strategies))}")
            if spec is None:
                raise RequestError(f"unknown Symbol (55) {symbol}", REJ_UNKNOWN_SYMBOL)
            parsed = parse_parent(message, spec, now, self.default_window)
            parent = ParentOrder(**{**_fields(parsed), "id": order_id})
            if gate is not None:
                snap = self.snapshot(symbol, now)
                problem = gate.check(symbol, parent.side, parent.qty, parent.limit,
                                     snap.mid if snap else None)
                if problem is not None:
                    raise RequestError(f"risk: {problem}", REJ_EXCEEDS_LIMIT)
            order = Order(order_id=order_id, owner=session, cl_ord_id=cl, symbol=symbol,
                          side=parent.side, ord_type="2" if parent.limit else "1",
                          price=parent.limit, qty=parent.qty, tif=body.get_str(59) or "0",
                          book_id=0)
            snap = self.snapshot(symbol, now)
            holder: list[Parent] = []
            runner = AlgoRunner(parent, factory, self._guard, now=now,
                                on_event=lambda e: self._on_event(holder[0], e),
                                audit=self._runner_audit(order_id, session), risk=gate)
        except (RequestError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, RequestError) else REJ_OTHER
            self.deliver([request_report(session, next(self._exec_ids), message, str(exc), now,
                                         reason=reason)], now)
            return
        p = Parent(order, runner, self.strategy_names.get(code, code),
                   snap.mid if snap else None, code)
        holder.append(p)
        self.parents[order_id] = p
        self._by_client[(session, cl)] = p
        if self.audit is not None:
            self.audit.order(now, "parent_accepted", session, cl_ord_id=cl,
                       order_id=order_id, symbol=symbol, side=parent.side.name, qty=parent.qty,
                       limit=parent.limit, strategy=p.strategy, start=parent.start,
                       end=parent.end, arrival_mid=p.arrival_mid, params=dict(parent.params))
        self._report(p, NEW, now)
        if snap is not None:
            runner.on_market_snapshot(snap)
        runner.on_timer(now)

    def _replace(self, p: Parent, message: Message, now: datetime) -> None:
        """A parent's OrderCancelReplaceRequest: parsed, risk-checked as the parent it would
        become (:meth:`RiskGate.check_replace`), then handed to its runner."""
        body = message.body
        symbol = p.order.symbol
        old = p.runner.parent
        gate = self.risk(p.order.owner)
        try:
            throttled = gate.throttle(now) if gate is not None else None
            if throttled is not None:
                raise RequestError(f"risk: {throttled}", REJ_EXCEEDS_LIMIT)
            code = body.get_str(847)
            if code is not None and code != p.code:
                raise RequestError(f"a replace cannot change TargetStrategy (847) {p.code} to "
                                   f"{code}: cancel the order and send a new one")
            for tag, name, has in ((40, "OrdType", p.order.ord_type),
                                   (59, "TimeInForce", p.order.tif)):
                asked = body.get_str(tag)
                if asked is not None and asked != has:  # (as the venue refuses it)
                    raise RequestError(f"a replace cannot change {name} ({tag}) {has} to "
                                       f"{asked}: cancel the order and send a new one")
            parsed = parse_parent(message, self.symbols[symbol], now, self.default_window)
            # a replace that leaves out the window or parameters keeps the current ones; an
            # EffectiveTime already past (repeated from the order, as order systems do) keeps
            # a window that has begun where it began (its catch-up comes from it), and starts
            # one that has not now
            start = (old.start if 168 not in body
                     else parsed.start if parsed.start > now else min(old.start, now))
            new = ParentOrder(**{**_fields(parsed), "id": old.id, "start": start,
                                 "end": parsed.end if 126 in body else old.end,
                                 "params": parsed.params or old.params,
                                 "participation": parsed.participation if 849 in body
                                 else old.participation})
            if gate is not None:
                snap = self.snapshot(symbol, now)
                problem = gate.check_replace(symbol, new.side, new.qty, new.limit, old.qty,
                                             old.limit, snap.mid if snap else None)
                if problem is not None:
                    raise RequestError(f"risk: {problem}", REJ_EXCEEDS_LIMIT)
        except (RequestError, ValueError) as exc:
            self.deliver([self._cancel_reject(p, self._refused(p), "G", str(exc), now)], now)
            return
        p.runner.replace(new, now)

    # -- the venue's answers about children -----------------------------------------------------

    def on_child_unsent(self, child_id: str, reason: str, now: datetime) -> None:
        """The router could not send child ``child_id`` (its venue link is down): rejected,
        not counted among the rejects in a row (AlgoRunner.on_child_reject)."""
        self._now = now
        # never an order at the venue: not one of the children a reset carries for a
        # restart to cancel (an outage's refusals would pile up there)
        p = self._children.pop(child_id, None)
        if p is not None:
            p.runner.on_child_reject(child_id, reason, now, counted=False)

    def on_child_report(self, r: Report, now: datetime) -> None:
        """A report about a child order (from the router); then the children self-trade
        prevention holds that it now lets go (SelfTradeGuard.release)."""
        self._child_report(r, now)
        self._guard.release()

    def _child_report(self, r: Report, now: datetime) -> None:
        self._now = now
        key = r.cl_ord_id if r.cl_ord_id in self._children else (r.orig_cl_ord_id or "")
        p = self._children.get(key)
        if p is None:
            return
        child = cancelled_child(key) or key
        runner = p.runner
        if isinstance(r, CancelReject):
            if r.reason == CXL_UNKNOWN:  # the venue has no such order: it works no more
                runner.on_child_over(child, f"venue: {r.text or 'unknown order'}", now)
            elif r.ord_status in FINAL_STATUSES and child in runner.state.working:
                # the venue says the child is over, and no report of how came (one sent
                # while the link was down, not sent again): its status report's CumQty and
                # AvgPx tell (the runner counts what it missed), or it would be asked to
                # cancel for ever
                self.audit_child(child, "child_status_asked", ord_status=r.ord_status)
                self._ask_status(child, once=False)  # (as often as its cancel is refused)
            return  # else its fill or cancel report says how it ended
        # the venue's CumQty and AvgPx of the child: what it says traded, which the runner
        # holds its count to (0: left out, or nothing yet)
        cum = r.cum if r.cum > 0 else None
        avg_px = r.avg_px if r.avg_px > 0 else None
        if r.exec_type in (NEW, TRADE) or cum is not None:
            self._heard.add(child)
        if r.exec_type == ORDER_STATUS:
            self._asked.discard(child)
        if r.exec_type == TRADE:
            self._check_fill(p, child, r)
            # (one without a LastPx (31) or quantity: the runner audits it, counts nothing)
            runner.on_child_fill(child, r.last_qty, r.last_px, now, exec_id=r.exec_id,
                                 cum=cum, avg_px=avg_px)
        elif cum is not None and r.exec_type not in (TRADE_CANCEL, TRADE_CORRECT):
            # fills it never heard of come first (a bust's CumQty is after it: not one)
            runner.on_child_status(child, cum, avg_px, now, exec_id=r.exec_id)
        if r.exec_type == NEW:
            runner.on_child_ack(child, now)
        elif r.exec_type in (CANCELED, EXPIRED):
            runner.on_child_done(child, r.text or "canceled", now)
        elif r.exec_type == REJECTED:
            if child in self._heard:
                # the venue took this order before: a reject now is of something else (a
                # copy sent again, a BusinessMessageReject), and the order may work on
                # there; its status report says whether it does
                self.audit_child(child, "child_reject_after_ack", text=r.text or "")
                self._ask_status(child, once=True)
                return
            runner.on_child_reject(child, r.text or "rejected", now)
            return
        elif r.exec_type in (TRADE_CANCEL, TRADE_CORRECT):
            # a bust or a correction of a fill the parent counted: not reversed here (the
            # parent's reports stand as sent), so never silent: audited and said
            what = "busted" if r.exec_type == TRADE_CANCEL else "corrected"
            self.audit_child(child, f"child_trade_{what}", exec_id=r.exec_id,
                             exec_ref_id=r.exec_ref_id or "", cum=str(r.cum),
                             avg_px=str(r.avg_px), text=r.text or "")
            print(f"gateway: warning: the venue {what} a fill of child {child} (ExecRefID "
                  f"{r.exec_ref_id or 'not given'}; parent "
                  f"{p.order.cl_ord_id} of {p.order.owner}): CumQty {r.cum} at the venue; "
                  "the parent's fills are not changed; audited as "
                  f"child_trade_{what}", file=sys.stderr, flush=True)
        elif r.exec_type == RESTATED and r.leaves > 0:
            # the venue changed what works (a quantity cut, say); LeavesQty 0 is below
            runner.on_child_restated(child, r.leaves, r.text or "restated by the venue", now)
        if r.ord_status in FINAL_STATUSES and r.leaves == 0 and r.exec_type != NEW:
            # The venue's word is the truth: an order it ended another way (Done for day, a
            # restatement, a last fill short of the quantity) is over, and what it left
            # unfilled is the algo's to place again
            runner.on_child_over(child, r.text or f"done at the venue with {r.cum:,} of "
                                 f"{r.qty:,} filled", now)

    def _ask_status(self, child: str, *, once: bool) -> None:
        """Ask the venue for ``child``'s state; ``once``: unless a request is outstanding."""
        if once and child in self._asked:
            return
        self._asked.add(child)  # (an in-process venue answers inside the call)
        if not self.router.status(child):
            self._asked.discard(child)

    def status_refused(self, child: str) -> None:
        """The venue refused our OrderStatusRequest about ``child`` (a Reject or a
        BusinessMessageReject of it): none is outstanding now."""
        self._asked.discard(child)

    def _check_fill(self, p: Parent, child: str, r: ExecReport) -> None:
        """A venue's fill of a child at a price past the child's limit, or past its quantity,
        is counted (it is real money) but never silent: audited and said, as a bust is."""
        working = p.runner.state.working.get(child)
        if working is None or r.last_px is None:
            return
        limit = working.price
        past = limit is not None and (r.last_px > limit if p.order.side == Side.BUY
                                      else r.last_px < limit)
        what = (f"at {r.last_px}, past its limit {limit}" if past
                else f"to CumQty {r.cum:,}, past its {working.qty:,}"
                if r.cum > working.qty else "")
        if not what:
            return
        self.audit_child(child, "child_fill_suspect", exec_id=r.exec_id, what=what)
        print(f"gateway: warning: the venue filled child {child} (parent "
              f"{p.order.cl_ord_id} of {p.order.owner}) {what}; counted as the venue "
              "reported it; audited as child_fill_suspect", file=sys.stderr, flush=True)

    def child_sent(self, child_id: str, parent_id: str) -> None:
        """The router sent ``child_id`` for the parent whose runner id is ``parent_id``."""
        p = self.parents[parent_id]
        self._children[child_id] = p
        if self.metrics is not None:
            self.metrics.order_submitted(p.strategy, p.order.symbol)

    def children_of(self, parent_id: str) -> int:
        """How many child orders the parent with runner id ``parent_id`` has sent."""
        p = self.parents.get(parent_id)
        return sum(1 for k, v in self._children.items()
                   if v is p and cancelled_child(k) is None)

    def working_children(self) -> list[tuple[str, Parent]]:
        """(ClOrdID, parent) of every child order of the parents still being worked (done
        children too: the desk does not track which the venue has ended)."""
        return [(child_id, p) for child_id, p in self._children.items()
                if not p.runner.done and cancelled_child(child_id) is None]

    def parent_of_child(self, child_id: str) -> Parent | None:
        return self._children.get(child_id)

    def runners(self) -> Iterator[AlgoRunner]:
        """The runners of the parents still being worked (SelfTradeGuard's view)."""
        return (p.runner for p in self.parents.values() if not p.runner.done)

    def runner_of(self, child_id: str) -> AlgoRunner | None:
        """The runner whose child ``child_id`` is (sent or not), by its ClOrdID."""
        p = self.parents.get(parent_of(child_id))
        return p.runner if p is not None else None

    def audit_child(self, child_id: str, event: str, /, **fields: str) -> None:
        """An audit record of the parent whose child ``child_id`` is (SelfTradeGuard's)."""
        p = self.parents.get(parent_of(child_id))
        if p is not None and self.audit is not None and self._now is not None:
            self.audit.algo(self._now, event, p.order.order_id, session=p.order.owner,
                            child=child_id, **fields)

    def child_cancel_sent(self, child_id: str, cancel_id: str) -> None:
        p = self._children.get(child_id)
        if p is not None:
            self._children[cancel_id] = p

    # -- time and market ----------------------------------------------------------------------

    def book_changed(self, symbol: str) -> None:
        self._dirty.add(symbol)

    def pump(self, now: datetime) -> None:
        """Give runners the snapshots of symbols whose books changed; repeat while their
        children change books again (bounded: children are few per snapshot). Then send
        the children self-trade prevention holds that it now lets go: every call into the
        desk ends here or in :meth:`on_child_report`, after runners have read what their
        steps queued (a child closed by an answer that came back while its runner was
        busy)."""
        self._pump(now)
        self._guard.release()

    def _pump(self, now: datetime) -> None:
        for _ in range(4):
            if not self._dirty:
                return
            dirty, self._dirty = self._dirty, set()
            for symbol in dirty:
                runners = [p.runner for p in self.parents.values()
                           if p.order.symbol == symbol and not p.runner.done]
                if not runners:
                    continue
                snap = self.snapshot(symbol, now)
                if snap is None:
                    continue
                for runner in runners:
                    if self.metrics is None:  # _timed's own test, without its call
                        runner.on_market_snapshot(snap)
                    else:
                        self._timed(runner, runner.on_market_snapshot, snap)

    def next_deadline(self) -> datetime | None:
        # the earliest wakeup, without a list: a backtest asks on every market update
        earliest: datetime | None = None
        for p in self.parents.values():
            if not p.runner.done:
                t = p.runner.next_wakeup()
                if t is not None and (earliest is None or t < earliest):
                    earliest = t
        return earliest

    def market_watches(self) -> dict[str, MarketWatch] | None:
        """Per symbol, the market changes the working parents' strategies wait for (each
        bound the nearest any of them set: :meth:`AlgoRunner.market_watch`); None when one
        of them may act on any snapshot. A backtest runs the market on in C up to these."""
        out: dict[str, MarketWatch] = {}
        for p in self.parents.values():
            runner = p.runner
            if runner.done:
                continue
            watch = runner.market_watch()
            if watch is None:
                return None
            symbol = p.order.symbol
            had = out.get(symbol)
            out[symbol] = watch if had is None else MarketWatch(
                _nearest(min, had.bid_rises_to, watch.bid_rises_to),
                _nearest(max, had.bid_falls_to, watch.bid_falls_to),
                _nearest(min, had.ask_rises_to, watch.ask_rises_to),
                _nearest(max, had.ask_falls_to, watch.ask_falls_to))
        return out

    def on_timer(self, now: datetime) -> None:
        self._now = now
        # the market first: a timer's decision prices from the book as it is now
        self.pump(now)
        for p in list(self.parents.values()):
            wake = p.runner.next_wakeup()
            if wake is not None and wake <= now:
                self._timed(p.runner, p.runner.on_timer, now)
        self.pump(now)

    def stop_sessions(self, sessions: Collection[str], reason: str, now: datetime) -> None:
        """Stop every parent of ``sessions`` (kill switch, a clean stop), none of their held
        children let out meanwhile: the first parent's cancels must not release another's
        before that one is stopped too (SelfTradeGuard.holding)."""
        with self._guard.holding():
            for p in list(self.parents.values()):
                if p.order.owner in sessions and not p.runner.done:
                    p.runner.stop(reason, now)
        self.pump(now)

    # -- parent reports -------------------------------------------------------------------------

    def _on_event(self, p: Parent, e: ParentEvent) -> None:
        order = p.order
        now = e.time
        if isinstance(e, ParentFill):
            order.cum = e.cum_qty
            order.value += e.price * e.qty
            # OrdStatus precedence (FIX 4.4): a cancel or replace still pending outranks
            # Partially filled and Filled; the fill is the order's as it was, under its
            # ClOrdID (Appendix D: the request is not accepted yet). A fill after the order
            # is done (a child's cancel the venue answered "unknown order", then filled) is
            # reported, leaving the order done: Filled outranks Canceled and Expired, which
            # outrank Partially filled, and nobody works the rest
            if order.status not in (PENDING_CANCEL, PENDING_REPLACE):
                if e.cum_qty >= order.qty:
                    order.status = FILLED
                elif order.live:
                    order.status = PARTIAL
            self._report(p, TRADE, now, last_qty=e.qty, last_px=e.price,
                         exec_id=fill_exec_id(e.child_id, e.exec_id))
        elif isinstance(e, ParentPendingCancel | ParentPendingReplace):
            order.status = (PENDING_CANCEL if isinstance(e, ParentPendingCancel)
                            else PENDING_REPLACE)
            # the request's ClOrdID, the order's as OrigClOrdID; the order keeps its own
            # until the request is done
            self._report(p, order.status, now, cl_ord_id=p.pending_cl)
        elif isinstance(e, ParentReplaced):
            self._rename(p)
            order.qty = e.parent.qty
            order.price = e.parent.limit
            # replaced down to what is filled: the order is done, and this report says so
            order.status = _settled(order)
            p.pending_cl = None
            self._report(p, REPLACED, now)
        elif isinstance(e, ParentReplaceRejected | ParentCancelRejected):
            cl = self._refused(p)
            kind = "G" if isinstance(e, ParentReplaceRejected) else "F"
            if order.status in (PENDING_CANCEL, PENDING_REPLACE):
                order.status = _settled(order)
            self.deliver([self._cancel_reject(p, cl, kind, e.reason, now,
                                              too_late=e.too_late)], now)
        elif isinstance(e, ParentDone):
            if e.reason == "canceled":
                self._rename(p)
            elif p.pending_cl is not None and e.reason == "filled":
                # filled while a cancel was pending: too late for it (Appendix D)
                order.status = FILLED
                kind = p.pending_kind
                self.deliver([self._cancel_reject(p, self._refused(p), kind,
                                                  "too late: the order is filled", now)], now)
            p.pending_cl = None
            if e.reason == "filled":
                order.status = FILLED
                return  # the last fill's report said so, or the cancel reject above
            order.status = EXPIRED if e.reason == "expired" else CANCELED
            if e.reason == "expired":
                text = f"window ended with {e.unfilled} unfilled" + (
                    f": {e.text}" if e.text else "")
            else:
                text = "canceled by client" if e.reason == "canceled" else e.text or e.reason
            self._report(p, order.status, now, text=text)
            if self.audit is not None:
                self.audit.order(now, "parent_done", order.owner, cl_ord_id=order.cl_ord_id,
                           order_id=order.order_id, reason=e.reason, cum_qty=e.cum_qty,
                           avg_px=e.avg_px, unfilled=e.unfilled, text=text)

    def _refused(self, p: Parent) -> str:
        """The pending request was refused: its ClOrdID never named the parent, so a later
        request naming it names an unknown order, as at the venue (and the id is free);
        returns it."""
        cl = p.pending_cl or ""
        if cl and cl != p.order.cl_ord_id:
            self._by_client.pop((p.order.owner, cl), None)
        p.pending_cl = None
        return cl

    def _rename(self, p: Parent) -> None:
        """The pending request is done (Replaced, Canceled): the order takes its ClOrdID,
        with the old one as OrigClOrdID."""
        if p.pending_cl is not None and p.pending_cl != p.order.cl_ord_id:
            p.order.orig_cl_ord_id = p.order.cl_ord_id
            p.order.cl_ord_id = p.pending_cl

    def _report(self, p: Parent, exec_type: str, now: datetime, *, last_qty: int = 0,
                last_px: Decimal | None = None, text: str | None = None,
                cl_ord_id: str | None = None, ord_status_req_id: str | None = None,
                exec_id: str | None = None) -> None:
        """Report the parent as it is; ``cl_ord_id``: a pending request's ClOrdID to report
        under, the order's own then its OrigClOrdID; ``ord_status_req_id``: the status
        request's OrdStatusReqID (790) to echo; ``exec_id``: the report's ExecID (a fill's,
        :func:`gateway.routers.fill_exec_id`), else the next of the desk's."""
        r = report(p.order, exec_id or next(self._exec_ids), exec_type, now,
                   last_qty=last_qty, last_px=last_px, text=text)
        if cl_ord_id is not None:
            r = dataclasses.replace(r, cl_ord_id=cl_ord_id, orig_cl_ord_id=p.order.cl_ord_id)
        if ord_status_req_id is not None:
            r = dataclasses.replace(r, ord_status_req_id=ord_status_req_id)
        self.deliver([r], now)

    def _cancel_reject(self, p: Parent, cl: str, kind: str, text: str,
                       now: datetime, *, too_late: bool = False,
                       reason: int | None = None) -> CancelReject:
        """The OrderCancelReject of a request about parent ``p``: CxlRejReason ``reason``,
        else 0 (too late) for a parent done or ``too_late``, 3 while a request is pending,
        99 otherwise."""
        if reason is None:
            reason = (CXL_TOO_LATE if too_late or not p.order.live
                      else CXL_PENDING if p.pending_cl else CXL_OTHER)
        return CancelReject(owner=p.order.owner, order_id=p.order.order_id, cl_ord_id=cl,
                            orig_cl_ord_id=p.order.cl_ord_id, ord_status=p.order.status,
                            response_to="1" if kind == "F" else "2", reason=reason,
                            text=text, time=now)

    def _runner_audit(self, parent_id: str, session: str) -> Callable[..., None]:
        def audit(event: str, /, **fields: Any) -> None:
            if self.audit is not None and self._now is not None:
                fields.pop("parent", None)  # the runner names its parent; so do we
                fields.pop("time", None)  # the record's ts is the same time
                self.audit.algo(self._now, event, parent_id, session=session, **fields)
        return audit

    def _timed(self, runner: AlgoRunner, call: Callable[[_T], None], arg: _T) -> None:
        """``call(arg)``, a call into ``runner``, with its latency in the metrics (if any:
        without them the clock is not read, as a backtest calls this per market update)."""
        if self.metrics is None:
            call(arg)
            return
        t0 = time.perf_counter()
        call(arg)
        self.metrics.strategy_latency(type(runner.strategy).__name__,
                                      time.perf_counter() - t0)


def _fields(parent: ParentOrder) -> dict[str, Any]:
    return {f: getattr(parent, f) for f in ParentOrder.__dataclass_fields__}


def _nearest(pick: Callable[[Decimal, Decimal], Decimal], a: Decimal | None,
             b: Decimal | None) -> Decimal | None:
    """``pick`` of two bounds, either of which may be None (not watched)."""
    if a is None:
        return b
    return a if b is None else pick(a, b)
