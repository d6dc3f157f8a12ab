"""``application: algo``: an algo gateway whose children go to an upstream venue over FIX.

The configuration has acceptor sessions for the clients and one initiator session to the
venue, named by ``algos: router:`` (the venue's CompID). Clients send parent orders
(NewOrderSingle with 847); the :class:`~gateway.algo_desk.AlgoDesk` works them exactly as
inside a venue, but its children travel as NewOrderSingle / OrderCancelRequest on the
upstream session (ClOrdID = child id), and the venue's ExecutionReports come back to the
runners. The market the algos see is the venue's market data: on logon the gateway
subscribes (MarketDataRequest, by level, 5 deep, bids, offers and trades) to every symbol of
its ``venue: symbols:`` section and keeps the levels from the snapshot and increments.

While the upstream session is down, new children are rejected at once (the runner counts
them and stops the parent after a few in a row), so a parent never waits on a dead venue to
take new orders. Cancels are held and sent as soon as the session is back (a child may still
be live at the venue), and the session keeps its sequence numbers across reconnects
(``reset_on_logon: false`` in sessions/algo.yaml), so the venue resends what it reported
meanwhile; a stopping parent finishes once its children are accounted for.

The kill switch (:meth:`AlgoGatewayApplication.kill_all`, SIGUSR1) refuses new parents on
every client session and stops every parent: its children are cancelled at the venue and it
is reported Canceled with the reason once they are accounted for.

A restart finds the parents the client sessions' stored reports show open, cancels their
children at the venue once the upstream link is up, reports the children's fills to the
clients and each parent Canceled once its children are accounted for
(:mod:`gateway.algo_restart`). A report from the venue about any other child the desk does
not know is audited as ``unknown_child``.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Literal

from algos.strategy import MarketSnapshot, Side
from fixspec.dictionary import SessionDictionaries
from fixspec.fieldtypes import format_utc_timestamp
from gateway.admin import business_reject
from gateway.algo_config import parse_algos
from gateway.algo_desk import AlgoDesk
from gateway.algo_restart import (
    Fill,
    LostParent,
    StoredChild,
    child_of_cancel,
    reported_fills,
    restart_cancel_id,
    stored_children,
)
from gateway.application import SessionHandle
from gateway.audit import AuditLog
from gateway.clock import Clock, run_prefix
from gateway.codec import encode, scan_fields
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.fix_reports import (
    RequestError,
    cancel_reject_message,
    exec_report_message,
    name_by_order_id,
    request_cancel_reject,
    request_fault,
    request_refusal,
    request_report,
    send_report,
    whole_shares,
)
from gateway.fixmessage import FieldMap, Group, Message
from gateway.metrics import GatewayMetrics
from gateway.risk_gates import RiskGates
from gateway.routers import cancelled_child, child_cancel_id, fill_exec_id, parent_of
from gateway.self_trade import OutsideChild
from gateway.store import MessageStore
from gateway.venue import order_id_mismatch
from gateway.venue_app import venue_config
from gateway.venue_orders import (
    CXL_DUPLICATE,
    CXL_PENDING,
    CXL_TOO_LATE,
    CXL_UNKNOWN,
    ORDER_STATUS,
    REJ_DUPLICATE,
    REJ_UNSUPPORTED,
    REJECTED,
    TRADE,
    TRADE_CANCEL,
    TRADE_CORRECT,
    CancelReject,
    ExecReport,
    Report,
)
from gateway.venue_restart import (
    Recovered,
    SessionOrders,
    stored_decimal,
    stored_int,
    stored_reports,
)

__all__ = ["AlgoGatewayApplication", "LevelBook"]

#: seconds before the first retry of a child cancel the venue refused (a restart-cancel or
#: a working child's), and the most between retries (each waits twice the one before)
CANCEL_RETRY_FIRST = 1.0
CANCEL_RETRY_MAX = 60.0

_SIDE = {Side.BUY: "1", Side.SELL: "2"}
_FIX42_FILLS = frozenset({"1", "2"})  # ExecType partial fill / fill, FIX 4.2 and before
#: FIX 4.2's ExecTransType (20) other than New, as FIX 4.4's ExecType: a Cancel is a trade
#: bust (H), a Correct a trade correction (G), a Status a status report (I); none a new fill
_FIX42_TRANS_TYPES = {"1": TRADE_CANCEL, "2": TRADE_CORRECT, "3": ORDER_STATUS}


class LevelBook:
    """One symbol's price levels as an upstream venue's market data shows them."""

    def __init__(self) -> None:
        self.levels: dict[str, dict[Decimal, int]] = {"0": {}, "1": {}}
        self.last: Decimal | None = None
        self.volume = 0

    def entry(self, action: str, kind: str, price: Decimal, size: int) -> None:
        if kind == "2":
            self.last = price
            self.volume += size
            return
        side = self.levels.get(kind)
        if side is None:
            return
        if action == "2" or size <= 0:
            side.pop(price, None)
        else:
            side[price] = size

    def mid(self) -> Decimal | None:
        """Halfway between the best bid and offer; None while a side is empty."""
        bids, asks = self.levels["0"], self.levels["1"]
        return (max(bids) + min(asks)) / 2 if bids and asks else None

    def snapshot(self, symbol: str, now: datetime) -> MarketSnapshot:
        bids = tuple(sorted(self.levels["0"].items(), reverse=True)[:5])
        asks = tuple(sorted(self.levels["1"].items())[:5])
        return MarketSnapshot(
            time=now, symbol=symbol, bid=bids[0][0] if bids else None,
            bid_qty=bids[0][1] if bids else 0, ask=asks[0][0] if asks else None,
            ask_qty=asks[0][1] if asks else 0, last_price=self.last, volume=self.volume,
            bids=bids, asks=asks)


class AlgoGatewayApplication:
    """Client sessions' parents worked by an :class:`AlgoDesk`, children on the upstream
    session (module docstring)."""

    def __init__(self, config: GatewayConfig) -> None:
        base = config.path.resolve().parent
        self.venue = venue_config(config)
        algos = parse_algos(config.extra.get("algos"), base)
        upstream = [s for s in config.sessions if s.target_comp_id == algos.router]
        if len(upstream) != 1 or upstream[0].role != "initiator":
            raise ConfigError(f"{config.path}: algos: router: {algos.router} must name the one "
                              "initiator session to the venue (its target_comp_id)")
        self.upstream_name = upstream[0].name
        self.upstream: SessionHandle | None = None
        # children whose cancel came while the venue link was down: sent once it is back
        self._unsent_cancels: list[str] = []
        # children refused here, never sent, as the link was down: the venue never heard of
        # them, so no cancel of theirs goes to it (their reject accounts for them)
        self._refused_here: set[str] = set()
        self._upstream_store: MessageStore | None = None  # what we sent the venue (bind)
        self.sessions: dict[str, SessionHandle] = {}
        self.books = {s: LevelBook() for s in self.venue.symbols}
        # positions are marked to the venue's market data whenever the day's loss is
        # asked for (runners feed mids only while a parent of the symbol works)
        self.gates = RiskGates(config, self.sessions, self._mid)
        self.desk = AlgoDesk(algos.factories(), self.venue.symbols, self, self.snapshot,
                             self._deliver, self.gates,
                             strategy_names=algos.strategies,
                             default_window=algos.default_window)
        self.desk.outside = self._unaccounted_orphans
        # ExecIDs of the reports the gateway makes itself (not the desk's): unique across
        # restarts, as the desk's are
        self._number_ids(run_prefix(datetime.now(UTC)))
        # per client session, its open parents (carried over by its sequence resets) and
        # what its stored reports said of parents from before a restart (gateway.algo_restart)
        self._parents = SessionOrders(keep_done=True)
        self._stored = self._parents.stored
        # parents lost open at a restart, by OrderID (kept once done: requests about them
        # are answered from their last state); their children by ClOrdID (cancelled at the
        # venue once the upstream link is up: _orphan_cancels counts the restart-cancels
        # this process sent each; one the venue refused, not saying the child is done, is
        # sent again at the time in _cancel_retries, or at the next logon of the link)
        self._lost: dict[str, LostParent] = {}
        self._orphans: dict[str, StoredChild] = {}
        self._orphan_cancels: dict[str, int] = {}
        # the client sessions' stores; the fills their stored reports name, per parent
        # OrderID (routers.fill_exec_id), read once when first needed: at the start for the
        # parents lost open, or when the venue reports a fill of a child no parent has (a
        # resend after a restart of one its parent, done since, had reported)
        self._client_stores: dict[str, MessageStore] = {}
        self._fills_reported: dict[str, dict[str, Fill]] | None = None
        # the cancel requests sent for each working child (its next one's ClOrdID); when a
        # child cancel the venue refused, a restart-cancel or a working child's, is due again
        self._child_cancels: dict[str, int] = {}
        self._cancel_retries: dict[str, datetime] = {}

    @property
    def audit(self) -> AuditLog | None:
        """The engine's audit log (the desk's), once bound."""
        return self.desk.audit

    # -- Application ------------------------------------------------------------------------

    def _number_ids(self, prefix: str) -> None:
        """The desk's ids and the gateway's own ExecIDs (``G1``...) from here on."""
        self.desk.number_ids(prefix)
        self._exec_ids = (f"{prefix}G{n}" for n in itertools.count(1))

    def bind(self, engine: object) -> None:
        """Know every session up front, and the engine's audit log and metrics (and number
        ids from its clock's time: the same every run of a backtest); then what
        the stores say of parents from before a restart (:mod:`gateway.algo_restart`): each
        client session's parents (those still open lost: :class:`LostParent`; their
        ClOrdIDs kept for that day) and, from the upstream store, the children of the
        parents lost open (cancelled at the venue once the upstream link is up)."""
        clock: Clock | None = getattr(engine, "clock", None)
        if clock is not None:
            self._number_ids(run_prefix(clock.now()))
        audit: AuditLog | None = getattr(engine, "audit", None)
        metrics: GatewayMetrics | None = getattr(engine, "metrics", None)
        self.desk.audit = self.gates.audit = audit
        self.desk.metrics = metrics
        upstream_store = None
        for runner in getattr(engine, "runners", {}).values():
            session = getattr(runner, "session", None)
            if runner.name == self.upstream_name:
                self.upstream = runner
                if session is not None:
                    upstream_store = self._upstream_store = session.store
                    session.carry = partial(self._carry_children, session.dd)
                continue
            self.sessions[runner.name] = runner
            if session is None:
                continue
            self.gates.restored[runner.name] = self._parents.bind(runner.name, runner.config,
                                                                  session)
            self._client_stores[runner.name] = session.store
            session.carry = partial(self._at_reset, runner.name, runner.config, session.dd,
                                    session.carry)
        lost = {order_id: (name, raw, found.requests.get(order_id))
                for name, found in self._stored.items()
                for order_id, raw in found.open.items()}
        if lost and upstream_store is not None:
            self._orphans = {c.child_id: c for c in stored_children(stored_reports(upstream_store))
                             if c.parent_id in lost}
        reported = self._reported() if lost else {}
        for order_id, (name, raw, request) in lost.items():
            self._lost[order_id] = LostParent.from_stored(
                raw, name, (c.child_id for c in self._orphans.values()
                            if c.parent_id == order_id), request, reported.get(order_id))

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        if config.name == self.upstream_name:
            return frozenset({"8", "9", "W", "X", "Y", "j"})
        return frozenset({"D", "F", "G", "H"})

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        if session.name == self.upstream_name:
            self.upstream = session
            session.send(self._subscribe())
            unsent, self._unsent_cancels = self._unsent_cancels, []
            for child_id in unsent:
                self.cancel(child_id)
            # their rejects have reached the runners by now (a cancel of one can only be
            # asked in the step that refused it): nothing more to hold them for
            self._refused_here.clear()
            self._cancel_orphans(session, now)
        else:
            self.sessions[session.name] = session
            self._lost_parents(session, now)

    def _lost_parents(self, session: SessionHandle, now: datetime) -> None:
        """At a client session's logon: what it hears of each of its parents lost open at a
        restart (LostParent.announce: its first reports, and those a sequence reset
        discarded while it was logged out); the stored reports' open orders are taken
        (venue_restart.SessionOrders.take_lost: no longer carried over as they were); at its
        first logon of a later trading day, its parents done are forgotten, their ClOrdIDs
        free again (AlgoDesk.new_day) and its daily loss counts from zero."""
        name = session.name
        schedule = session.config.schedule
        self.gates.restore_day(name, schedule, now)
        self._end_days(now)
        self._parents.watch_day(name, schedule, now)
        new_day, _ = self._parents.take_lost(name, schedule, now)
        if new_day:
            self._new_day(name)
        self._parents.heard(name)
        for order_id, parent in self._lost.items():
            if parent.state.owner == name:
                started = parent.started
                again = len(parent.missed)  # (announced first: delivered once before)
                self._report_lost(order_id, parent, started,
                                  parent.announce(partial(next, self._exec_ids), now), now,
                                  again=again)

    def _new_day(self, name: str) -> None:
        """Client session ``name`` starts a later trading day: ClOrdIDs are unique within a
        day, so its done parents' are free (AlgoDesk.new_day; not those that ended while it
        was logged out: it may not have heard how), and max_daily_loss counts the day's P&L
        from zero."""
        self.desk.new_day(name, self._parents.unheard(name))
        gate = self.gates.existing(name)
        if gate is not None:
            gate.new_day()

    def _end_days(self, now: datetime) -> None:
        """Each client session whose trading day has ended by ``now`` takes its next day's
        end; where ``now`` is in a later trading day (no schedule: midnight UTC), that day
        starts (:meth:`_new_day`), for a session logged on over the end as for one away."""
        for name, new_day in self._parents.days_ended(now):
            if new_day:
                self._new_day(name)

    def _report_lost(self, order_id: str, parent: LostParent, started: bool,
                     reports: list[Report], now: datetime, *, again: int = 0) -> None:
        """Deliver a lost parent's ``reports`` (``started``: whether it had made its first
        ones before; the first ``again`` were delivered before, and a reset discarded them:
        their fills are the day's once already): audited as found with its first; kept for
        the client session's resets in the form a later restart reads right
        (LostParent.carried) while the client's cancel is pending or the client heard
        nothing new of it."""
        name = parent.state.owner
        if not started and parent.started:
            found = parent.found
            if self.audit is not None:
                self.audit.order(now, "parent_lost", name, cl_ord_id=found.cl_ord_id,
                                 order_id=order_id, cum_qty=found.cum, avg_px=found.avg_px,
                                 children=sorted(parent.children))
            stored = self._stored.get(name)
            if stored is not None:  # its reports from now on are what a reset carries
                stored.open.pop(order_id, None)
        client = self.sessions.get(name)
        if client is None or not client.logged_on:
            parent.unheard += reports  # stored for its resend, unless a reset discards them
        self._deliver(reports, now, again=again)
        if not parent.done and (parent.cancel_request is not None
                                or not self._parents.kept(name, order_id)):
            self._parents.keep(parent.carried(partial(next, self._exec_ids), now))

    def _carry_children(self, dictionaries: SessionDictionaries) -> list[bytes]:
        """What the upstream session's store keeps across a sequence reset (a venue that
        resets at logon): the children a restart would have to cancel, those of the parents
        being worked and of lost parents not yet done, as the NewOrderSingles
        :func:`stored_children` reads (ClOrdID, Symbol, Side), and the restart-cancels each
        already had (their count names the next one)."""
        now = self.desk.current_time or datetime.now(UTC)  # (TransactTime only)
        children = [StoredChild(child_id, parent_of(child_id), p.order.symbol,
                                _SIDE[p.order.side])
                    for child_id, p in self.desk.working_children()]
        children += [c for c in self._orphans.values()
                     if (lost := self._lost.get(c.parent_id)) is not None and not lost.done]
        out = []
        for c in children:
            msg = Message("D")
            msg.body.set(11, c.child_id)
            msg.body.set(55, c.symbol)
            msg.body.set(54, c.side)
            out.append(encode(msg, dictionaries))
            sent = c.restarts + self._orphan_cancels.get(c.child_id, 0)
            out += [encode(_cancel_request(restart_cancel_id(c.child_id, n), c.child_id,
                                           c.symbol, c.side, now), dictionaries)
                    for n in range(1, sent + 1)]
        return out

    def _at_reset(self, name: str, config: SessionConfig, dictionaries: SessionDictionaries,
                  carry: Callable[[], Sequence[bytes]] | None) -> Sequence[bytes]:
        """Client session ``name``'s store is reset: what its lost parents sent while it
        was logged out is discarded (LostParent.reset); what the store carries over: the
        fills the client had of each lost parent not yet done (LostParent.fill_stubs, for a
        later restart to know them), then the last report of each open parent."""
        now = self.desk.current_time or datetime.now(UTC)
        stubs: list[bytes] = []
        for parent in self._lost.values():
            if parent.state.owner == name:
                parent.reset()
                stubs += [encode(exec_report_message(r, config), dictionaries)
                          for r in parent.fill_stubs(now)]
        return [*stubs, *(carry() if carry is not None else ())]

    def _unaccounted_orphans(self) -> Iterator[OutsideChild]:
        """The lost parents' children the venue has not accounted for yet: they may still
        trade, so the desk's self-trade prevention minds them (AlgoDesk.outside)."""
        for child in self._orphans.values():
            lost = self._lost.get(child.parent_id)
            if lost is not None and not lost.done and child.child_id in lost.children:
                yield OutsideChild(child.child_id, child.symbol,
                                   Side.BUY if child.side == _SIDE[Side.BUY] else Side.SELL)

    def _cancel_orphans(self, up: SessionHandle, now: datetime) -> None:
        """At the upstream logon: cancel at the venue the children of parents lost at a
        restart (once each; the answer, "too late" or "unknown order" for a child done
        meanwhile, accounts for the child, see _not_the_desks), and send again the cancels
        whose retry came due while the link was down."""
        for child in self._orphans.values():
            if child.child_id not in self._orphan_cancels:
                self._restart_cancel(up, child, now)
        self._retry_due(up, now)

    def _retry_due(self, up: SessionHandle, now: datetime) -> None:
        """Send the child cancels whose retry is due: restart-cancels of children still
        unaccounted for, and cancels of children their runner still waits to see end."""
        for child_id, due in list(self._cancel_retries.items()):
            if due > now:
                continue
            child = self._orphans.get(child_id)
            if child is None:
                del self._cancel_retries[child_id]
                if self._cancel_unanswered(child_id):
                    self.cancel(child_id)
                    self._audit_retry(child_id, now)
                continue
            lost = self._lost.get(child.parent_id)
            if lost is None or lost.done or child_id not in lost.children:
                del self._cancel_retries[child_id]
            else:
                self._restart_cancel(up, child, now)

    def _restart_cancel(self, up: SessionHandle, child: StoredChild, now: datetime) -> None:
        """Send ``child`` its next restart-cancel (a new ClOrdID each: ``~r``, ``~r2``...)."""
        self._cancel_retries.pop(child.child_id, None)
        sent = self._orphan_cancels[child.child_id] = (
            self._orphan_cancels.get(child.child_id, 0) + 1)
        cancel_id = restart_cancel_id(child.child_id, child.restarts + sent)
        if self.audit is not None:
            self.audit.order(now, "restart_cancel", up.name, cl_ord_id=cancel_id,
                             orig_cl_ord_id=child.child_id, parent=child.parent_id)
        up.send(_cancel_request(cancel_id, child.child_id, child.symbol, child.side, now))

    def _retry_cancel(self, child_id: str, now: datetime) -> None:
        """The venue refused ``child_id``'s cancel without saying the child is done (a
        throttle, a cancel already pending, a "too late" for an order that still works, a
        Reject of the request): ask again later, a second after the first refusal,
        doubling to at most a minute, for as long as the child is unaccounted for (a
        restart-cancel's) or its runner waits for it to end (a working child's): a
        broker's desk does not leave an order working that it means to cancel, nor a
        parent's cancel pending for ever."""
        sent = (self._orphan_cancels if child_id in self._orphans
                else self._child_cancels).get(child_id, 1)
        self._cancel_retries[child_id] = now + timedelta(
            seconds=min(CANCEL_RETRY_MAX, CANCEL_RETRY_FIRST * 2 ** (sent - 1)))

    def _cancel_unanswered(self, child_id: str) -> bool:
        """Whether ``child_id``'s runner still counts it working with a cancel pending."""
        p = self.desk.parent_of_child(child_id)
        child = p.runner.state.working.get(child_id) if p is not None else None
        return child is not None and child.cancel_pending

    def _audit_retry(self, child_id: str, now: datetime) -> None:
        """Audit the cancel just sent again for ``child_id`` (its ClOrdID the latest)."""
        if self.audit is not None:
            self.audit.order(now, "child_cancel_retry", self.upstream_name,
                             cl_ord_id=child_cancel_id(child_id, self._child_cancels[child_id]),
                             orig_cl_ord_id=child_id)

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        pass

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        self.gates.at(now)
        if session.name == self.upstream_name:
            self._from_venue(message, now)
            return
        owner = session.name
        day_end = self._parents.next_day_end()
        if day_end is not None and now >= day_end:
            self._end_days(now)  # (before the timer, if this came first)
        if message.msg_type in ("F", "G", "H"):
            name_by_order_id(message, partial(self.desk.cl_ord_id_of, owner))
        stored = self._stored.get(owner)
        cl = message.body.get_str(11) or ""
        if message.poss_dup and message.msg_type in ("D", "F", "G") and (
                self.desk.knows(owner, cl) or (stored is not None and stored.used(cl))):
            # a copy of a request already acted on, resent by the client's session layer
            # (after our crash, what followed our last committed sequence number): not
            # again, and not refused either (a reject under its ClOrdID would tell the
            # client's order system the order it names was rejected)
            if self.audit is not None:
                self.audit.order(now, "possdup_ignored", owner, cl_ord_id=cl,
                                 msg_type=message.msg_type)
            return
        if stored is not None:
            answer = self._about_lost(session, stored, message, now)
            if answer is not None:
                self._deliver([answer], now)
                return
        if fault := request_fault(message):
            self._deliver([self._refusal(owner, message, fault, now)], now)
            return
        if self.desk.is_parent_request(session.name, message):
            self.desk.on_message(session.name, message, now)
            return
        session.send(self._not_ours(session, message, now))

    def _about_lost(self, session: SessionHandle, stored: Recovered, message: Message,
                    now: datetime) -> Report | None:
        """The answer to a request about a parent from before a restart (None: not one),
        as the gateway would have answered then: a NewOrderSingle reusing one of its
        ClOrdIDs is a duplicate; a cancel or replace of one is too late (it is done, or was
        canceled by the restart), or refused as already pending cancel while the restart
        ends it (LostParent), with its OrderID and OrdStatus, or as unknown if its OrderID
        (37) is another's; a cancel or replace under one of their ClOrdIDs is a duplicate;
        a status request gets its state, the last known one for a parent done."""
        kind = message.msg_type
        body = message.body
        owner = session.name
        cl = body.get_str(11) or ""
        if kind == "D" and cl in stored.ids and not self.desk.knows(owner, cl):
            return request_report(owner, next(self._exec_ids), message,
                                  f"duplicate ClOrdID (11) {cl}", now, reason=REJ_DUPLICATE)
        asked = (body.get_str(41) or "") if kind in ("F", "G") else cl
        if kind not in ("F", "G", "H") or self.desk.knows(owner, asked):
            return None
        lost = self._lost.get(stored.ids.get(asked, ""))
        if kind in ("F", "G"):
            known = lost.state if lost is not None else stored.order(asked)
            if cl in stored.ids:
                return request_cancel_reject(
                    owner, message, CXL_DUPLICATE, f"duplicate ClOrdID (11) {cl}", now,
                    ord_status=known.ord_status if known else REJECTED,
                    order_id=known.order_id if known else "NONE")
            order_id = body.get_str(37)
            if known is not None and order_id and order_id != known.order_id:
                return request_cancel_reject(owner, message, CXL_UNKNOWN,
                                             order_id_mismatch(order_id, asked), now)
            if lost is not None and not lost.done:
                return request_cancel_reject(
                    owner, message, CXL_PENDING,
                    f"order {asked} is being canceled: the algo gateway restarted", now,
                    ord_status=lost.state.ord_status, order_id=lost.state.order_id)
            if known is None:
                return None
            text = (f"order {asked} is done: the algo gateway's restart ended it"
                    if lost is not None
                    else f"order {asked} was done before the algo gateway restarted")
            return request_cancel_reject(owner, message, CXL_TOO_LATE, text, now,
                                         ord_status=known.ord_status, order_id=known.order_id)
        if lost is not None:
            status: ExecReport | None = dataclasses.replace(
                lost.state, exec_id=next(self._exec_ids), exec_type=ORDER_STATUS, time=now,
                last_qty=0, last_px=None, text=None)
        else:
            status = stored.order(cl, owner, next(self._exec_ids), now)
        if status is not None and (req_id := body.get_str(790)) is not None:
            status = dataclasses.replace(status, ord_status_req_id=req_id)
        return status

    def _refusal(self, owner: str, message: Message, error: RequestError,
                 now: datetime) -> Report:
        """The reject of a request refused before the desk saw it: :func:`request_refusal`,
        a cancel or replace naming the parent, if the desk has it."""
        def state(cl: str) -> tuple[str, str] | None:
            order = self.desk.order(owner, cl)
            return (order.order_id, order.status) if order is not None else None

        return request_refusal(owner, message, error, now,
                               exec_id=lambda: next(self._exec_ids), order_state=state)

    def _not_ours(self, session: SessionHandle, message: Message, now: datetime) -> Message:
        """The answer to a request that names no parent of ``session``: a cancel or replace
        of an unknown order gets an OrderCancelReject (CxlRejReason 1, unknown order), a
        status request the unknown-order status report (ExecType I, OrdStatus 8), a
        NewOrderSingle without TargetStrategy a reject saying this gateway takes parents."""
        kind = message.msg_type
        cl = message.body.get_str(11) or ""
        if kind in ("F", "G"):
            return cancel_reject_message(request_cancel_reject(
                session.name, message, CXL_UNKNOWN,
                f"unknown order {message.body.get_str(41) or ''}", now), session.config)
        exec_id = next(self._exec_ids)
        if kind == "H":  # OrdStatusReqID echoed, as on every status report
            report = dataclasses.replace(
                request_report(session.name, exec_id, message, f"unknown order {cl}", now,
                               exec_type=ORDER_STATUS, reason=None),
                ord_status_req_id=message.body.get_str(790))
        else:
            report = request_report(
                session.name, exec_id, message,
                "this gateway takes algo parent orders (TargetStrategy 847) only", now,
                reason=REJ_UNSUPPORTED)
        return exec_report_message(report, session.config)

    def next_deadline(self) -> datetime | None:
        deadlines = [self.desk.next_deadline(), self._parents.next_day_end()]
        up = self.upstream
        if self._cancel_retries and up is not None and up.logged_on:
            # (retries due while the link is down go at its logon)
            deadlines.append(min(self._cancel_retries.values()))
        return min((d for d in deadlines if d is not None), default=None)

    def on_timer(self, now: datetime) -> None:
        self.gates.at(now)
        self._end_days(now)
        self.desk.on_timer(now)
        up = self.upstream
        if up is not None and up.logged_on and self._cancel_retries:
            self._retry_due(up, now)

    def kill_all(self, reason: str, now: datetime) -> None:
        """The kill switch (SIGUSR1), as the venue's for its parents: every client session's
        risk gate is killed (new parents refused, audited by the gate) and every parent is
        stopped: its runner cancels its children at the venue (held until the upstream link
        is back if it is down) and the parent is reported Canceled with the reason once
        they are accounted for."""
        self.gates.at(now)  # (the gates audit the kill at the time they were last given)
        self.gates.kill(self.sessions, reason)
        self._stop_parents(f"kill switch: {reason}", now)

    def wind_down(self, now: datetime) -> Callable[[], bool]:
        """A clean stop (SIGTERM, SIGINT) is coming: every parent is stopped, its children
        cancelled at the venue, and reported Canceled to its client once they are accounted
        for, while the sessions are still up (a restart could not resume them, and their
        children would work on at the venue unwatched). The answer says when every parent is
        done; the engine waits for it a little (``WIND_DOWN``), then logs out regardless
        (what is left, a restart reports and cancels)."""
        self._stop_parents("gateway stopping", now)
        return lambda: all(p.runner.done for p in self.desk.parents.values())

    def _stop_parents(self, text: str, now: datetime) -> None:
        """Stop every client session's parents, reported Canceled with ``text`` once their
        children are accounted for."""
        self.gates.at(now)
        self.desk.touch(now)
        self.desk.stop_sessions(self.sessions, text, now)

    # -- ChildRouter ------------------------------------------------------------------------

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Literal["day", "ioc"], reason: str = "") -> None:
        self.desk.child_sent(child_id, parent_of(child_id))
        now = self.desk.now
        up = self.upstream
        if up is None or not up.logged_on:  # (what unavailable() says)
            self._refused_here.add(child_id)
            self.desk.on_child_unsent(child_id, _LINK_DOWN, now)
            return
        msg = Message("D")
        b = msg.body
        b.set(11, child_id)
        b.set(21, "1")  # HandlInst: automated, no broker intervention (FIX 4.2 requires it)
        b.set(55, symbol)
        b.set(54, _SIDE[side])
        b.set(38, qty)
        if price is None:
            b.set(40, "1")
        else:
            b.set(40, "2")
            b.set(44, price)
        b.set(59, "3" if tif == "ioc" else "0")
        b.set(60, format_utc_timestamp(now))
        up.send(msg)

    def unavailable(self) -> str | None:
        """Why no child can be sent now (the venue link is down), or None."""
        up = self.upstream
        return None if up is not None and up.logged_on else _LINK_DOWN

    def cancel(self, child_id: str) -> None:
        if child_id in self._refused_here:
            # (the runner may ask before it has read the child's reject, which is on its way)
            self._refused_here.discard(child_id)
            return
        up = self.upstream
        if up is None or not up.logged_on:
            # Sent at the next logon: the child may still be live at the venue (a DAY order
            # survives the disconnect), and a cancel reject for one that has filled
            # meanwhile is harmless.
            if child_id not in self._unsent_cancels:
                self._unsent_cancels.append(child_id)
            return
        sent = self._child_cancels[child_id] = self._child_cancels.get(child_id, 0) + 1
        cancel_id = child_cancel_id(child_id, sent)
        self.desk.child_cancel_sent(child_id, cancel_id)
        p = self.desk.parent_of_child(child_id)
        child = p.runner.state.working.get(child_id) if p else None
        up.send(_cancel_request(cancel_id, child_id, p.order.symbol if p else None,
                                _SIDE[p.order.side] if p else None, self.desk.now,
                                qty=child.qty if child else None))

    def status(self, child_id: str) -> bool:
        up = self.upstream
        if up is None or not up.logged_on:
            return False  # (asked again when its cancel is refused again after the logon)
        p = self.desk.parent_of_child(child_id)
        msg = Message("H")
        msg.body.set(11, child_id)
        if p is not None:
            msg.body.set(55, p.order.symbol)
            msg.body.set(54, _SIDE[p.order.side])
        up.send(msg)
        return True

    # -- the venue's messages ---------------------------------------------------------------

    def on_reject(self, session: SessionHandle, message: Message, now: datetime) -> None:
        """A session-level Reject (3) the peer sent (the session layer handled it): the
        venue's of a child order is that child's rejection (:meth:`_refused_by_venue`)."""
        if session.name == self.upstream_name:
            self._refused_by_venue(message, now)
            self.desk.pump(now)

    def _refused_by_venue(self, message: Message, now: datetime) -> None:
        """A Reject (3) or BusinessMessageReject (j) of one of our NewOrderSingles: the
        child never became an order at the venue, so it is rejected (the runner places its
        quantity again, and stops the parent after rejects in a row). The refused message is
        the stored one of RefSeqNum (45), or the one BusinessRejectRefID (379) names. A
        refused cancel leaves its child working: the cancel goes again later
        (:meth:`_cancel_refused`); a refused status request leaves none outstanding
        (AlgoDesk.status_refused)."""
        body = message.body
        kind = "session" if message.msg_type == "3" else "business"
        text = f"venue {kind} reject: {body.get_str(58) or 'no reason given'}"
        sent = self._sent_message(body.get_int(45))
        if sent is None and message.msg_type == "j" and body.get_str(372) in ("D", "F", "H"):
            sent = {35: body.get_str(372) or "", 11: body.get_str(379) or ""}
        cl = sent.get(11, "") if sent is not None else ""
        if self.audit is not None:
            self.audit.order(now, "venue_reject", self.upstream_name, cl_ord_id=cl or None,
                             msg_type=message.msg_type, text=text)
        if sent is not None and sent.get(35) == "F":
            self._cancel_refused(cl, now)
            return
        if sent is not None and sent.get(35) == "H":
            self.desk.status_refused(cl)
            return
        if sent is None or sent.get(35) != "D" or self.desk.parent_of_child(cl) is None:
            return
        self.desk.on_child_report(_child_rejected(
            cl, sent.get(55, ""), Side.SELL if sent.get(54) == "2" else Side.BUY,
            stored_int(sent.get(38)), stored_decimal(sent.get(44)), text, now), now)

    def _cancel_refused(self, cancel_id: str, now: datetime) -> None:
        """The venue refused the cancel request ``cancel_id`` (OrderCancelReject, Reject or
        BusinessMessageReject): if it is the latest of a child its runner still counts
        working with a cancel pending (not the unknown order the desk has ended, nor one a
        fill or cancel report closed first), or a restart-cancel, the cancel goes again
        later (:meth:`_retry_cancel`); an older one's refusal changes nothing."""
        orphan = child_of_cancel(cancel_id)
        if orphan is not None and orphan in self._orphans:
            # (an OrderCancelReject of one is _not_the_desks's; this is a Reject of it)
            self._retry_cancel(orphan, now)
            return
        child = cancelled_child(cancel_id)
        if (child is not None
                and cancel_id == child_cancel_id(child, self._child_cancels.get(child, 0))
                and self._cancel_unanswered(child)):
            self._retry_cancel(child, now)

    def _sent_message(self, seq: int | None) -> dict[int, str] | None:
        """The fields of the message we sent the venue as MsgSeqNum ``seq``, if stored."""
        store = self._upstream_store
        raw = store.sent_raw(seq) if store is not None else None
        return scan_fields(raw) if raw is not None else None

    def _from_venue(self, message: Message, now: datetime) -> None:
        kind = message.msg_type
        if kind == "j":
            self._refused_by_venue(message, now)
        elif kind in ("8", "9"):
            try:
                report = (_exec_report(message, now) if kind == "8"
                          else _cancel_reject(message, now))
            except RequestError as exc:
                self._bad_report(message, str(exc), now)
                return
            if self._knows_child(report):
                self.desk.on_child_report(report, now)
                if isinstance(report, CancelReject):
                    self._cancel_refused(report.cl_ord_id, now)
            else:
                self._not_the_desks(report, now)
        elif kind in ("W", "X"):
            # from the read that brought the message (framing, checks, logging, the store
            # and the messages before it in that read included) to the level books updated
            started = getattr(self.upstream, "read_at", 0.0) or time.perf_counter()
            changed = self._market_data(message)
            metrics = self.desk.metrics
            if metrics is not None:
                metrics.ingestion_latency(time.perf_counter() - started, feed=self.upstream_name)
                for symbol in changed:
                    levels = self.books[symbol].levels
                    metrics.book_depth(symbol, "bid", len(levels["0"]))
                    metrics.book_depth(symbol, "ask", len(levels["1"]))
        self.desk.pump(now)

    def _market_data(self, message: Message) -> set[str]:
        """Apply a snapshot or incremental refresh to the level books; the symbols changed."""
        changed: set[str] = set()
        body = message.body
        group: Group | None = body.group(268)
        snapshot_symbol = body.get_str(55) if message.msg_type == "W" else None
        if snapshot_symbol is not None and snapshot_symbol in self.books:
            self.books[snapshot_symbol] = LevelBook()
            # changed even with no entries: an empty book (a venue restarted) is news to
            # the runners and the depth gauges alike
            self.desk.book_changed(snapshot_symbol)
            changed.add(snapshot_symbol)
        for e in group or ():
            symbol = snapshot_symbol or e.get_str(55) or ""
            book = self.books.get(symbol)
            price = e.get_decimal(270)
            if book is None or price is None:
                continue
            try:
                size = _shares(e, 271)
            except RequestError:
                continue  # (an entry no book could hold: left out, as one of no price is)
            book.entry(e.get_str(279) or "0", e.get_str(269) or "", price, size)
            self.desk.book_changed(symbol)
            changed.add(symbol)
        return changed

    def _bad_report(self, message: Message, problem: str, now: datetime) -> None:
        """A report from the venue that cannot be read (a quantity no order could have):
        audited with what was wrong, on stderr, and refused to the venue
        (BusinessMessageReject), never acted on half-read."""
        cl = message.body.get_str(11)
        if self.audit is not None:
            self.audit.order(now, "bad_report", self.upstream_name, cl_ord_id=cl,
                             msg_type=message.msg_type, text=problem)
        print(f"gateway: warning: {self.upstream_name} sent a report on {cl} that cannot be "
              f"read: {problem}; audited as bad_report", file=sys.stderr, flush=True)
        up = self.upstream
        if up is not None and up.logged_on:
            up.send(business_reject(message.msg_seq_num, message.msg_type or "", 0, problem,
                                    message))

    def _knows_child(self, r: Report) -> bool:
        """Whether the desk has the child ``r`` is about (by ClOrdID, or a cancel's
        OrigClOrdID), as AlgoDesk.on_child_report looks it up."""
        desk = self.desk
        return (desk.parent_of_child(r.cl_ord_id) is not None
                or desk.parent_of_child(r.orig_cl_ord_id or "") is not None)

    def _not_the_desks(self, r: Report, now: datetime) -> None:
        """A report about a child the desk does not know: one of a parent lost at a restart
        (a fill the venue made, live or resent, its restart-cancel's answer), which is that
        parent's (LostParent.on_child), or any other. Audited either way (``lost_child``,
        ``unknown_child``), never dropped silently; a fill no parent takes, which is real
        money nobody accounts for, is also one line on stderr."""
        child = r.cl_ord_id
        if child not in self._orphans:
            child = child_of_cancel(child) or r.orig_cl_ord_id or child
        orphan = self._orphans.get(child)
        lost = self._lost.get(orphan.parent_id) if orphan is not None else None
        if lost is not None and lost.done:
            lost = None
        fields: dict[str, Any] = {"cl_ord_id": r.cl_ord_id, "orig_cl_ord_id": r.orig_cl_ord_id,
                                  "order_id": r.order_id, "status": r.ord_status,
                                  "text": r.text,
                                  "orphan": orphan.parent_id if orphan is not None else None}
        unknown_fill = lost is None and isinstance(r, ExecReport) and r.exec_type == TRADE \
            and bool(r.last_qty)
        if isinstance(r, CancelReject):
            fields.update(msg="cancel_reject", reason=r.reason)
        else:
            fields.update(exec_type=r.exec_type, exec_id=r.exec_id, symbol=r.symbol,
                          side=r.side.name, qty=r.qty, leaves=r.leaves, cum=r.cum,
                          last_qty=r.last_qty, last_px=r.last_px)
            if unknown_fill and fill_exec_id(child, r.exec_id) in self._reported().get(
                    parent_of(child), ()):
                # the venue's resend after a restart of a fill its parent, done since, had
                # reported to the client (the report was handled, its number not committed)
                fields["reported"] = True
                unknown_fill = False
        if self.audit is not None:
            self.audit.order(now, "lost_child" if lost is not None else "unknown_child",
                             self.upstream_name, **fields)
        if orphan is not None and lost is not None:
            started = lost.started
            self._report_lost(orphan.parent_id, lost, started, lost.on_child(
                orphan.child_id, r, partial(next, self._exec_ids), now), now)
            if isinstance(r, CancelReject) and orphan.child_id in lost.children \
                    and child_of_cancel(r.cl_ord_id) == orphan.child_id:
                self._retry_cancel(orphan.child_id, now)
        elif unknown_fill:
            assert isinstance(r, ExecReport)
            print(f"gateway: warning: the venue filled {r.last_qty} {r.symbol} @ {r.last_px} "
                  f"on order {r.cl_ord_id}, a child no parent of ours has "
                  + (f"(parent {orphan.parent_id} lost at a restart)"
                     if orphan is not None else "(unknown)")
                  + "; audited as unknown_child", file=sys.stderr, flush=True)

    def _reported(self) -> dict[str, dict[str, Fill]]:
        """Per parent OrderID, its fill reports in the client sessions' stores by ExecID
        (read once)."""
        if self._fills_reported is None:
            self._fills_reported = {}
            for store in self._client_stores.values():
                reported_fills(stored_reports(store), self._fills_reported)
        return self._fills_reported

    def _mid(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return book.mid() if book is not None else None

    def snapshot(self, symbol: str, now: datetime) -> MarketSnapshot | None:
        book = self.books.get(symbol)
        return book.snapshot(symbol, now) if book is not None else None

    def _subscribe(self) -> Message:
        msg = Message("V")
        b = msg.body
        b.set(262, "algo-gateway")
        b.set(263, "1")
        b.set(264, 5)
        b.set(265, "1")
        b.set(266, "Y")
        types = Group(267, 269)
        for t in ("0", "1", "2"):
            types.add((269, t))
        b.set_group(types)
        symbols = Group(146, 55)
        for s in self.venue.symbols:
            symbols.add((55, s))
        b.set_group(symbols)
        return msg

    def _deliver(self, reports: Sequence[Report], now: datetime, *, again: int = 0) -> None:
        """Parent reports to the clients (each open parent's last one kept for the resets,
        venue_restart.SessionOrders); the first ``again`` were delivered before (their
        fills are not the day's a second time)."""
        for i, r in enumerate(reports):
            session = self.sessions.get(r.owner)
            if session is None:
                continue
            # a status report changes nothing: the last report that did stays the one a
            # reset carries (a request's acknowledgement, which a restart looks for)
            if (isinstance(r, ExecReport) and r.order_id not in ("", "NONE")
                    and r.exec_type != ORDER_STATUS):
                self._parents.keep(r, fill=i >= again, heard=session.logged_on)
            send_report(session, r)


_LINK_DOWN = "upstream venue session is not logged on"


def _child_rejected(child_id: str, symbol: str, side: Side, qty: int, price: Decimal | None,
                    text: str, now: datetime) -> ExecReport:
    """The rejection of child ``child_id`` that the venue never took as an order."""
    return ExecReport(owner="", exec_id="", exec_type=REJECTED, ord_status=REJECTED,
                      order_id="NONE", cl_ord_id=child_id, orig_cl_ord_id=None, symbol=symbol,
                      side=side, ord_type="2" if price is not None else "1", price=price,
                      qty=qty, tif="0", leaves=0, cum=0, avg_px=Decimal(0), time=now, text=text)


def _cancel_request(cancel_id: str, child_id: str, symbol: str | None, side: str | None,
                    now: datetime, *, qty: int | None = None) -> Message:
    """The OrderCancelRequest ``cancel_id`` of child ``child_id`` (Symbol and Side (54, as
    FIX writes it) when known, and the child's OrderQty (38), which FIX 4.4 venues expect:
    its OrderQtyData is required there)."""
    msg = Message("F")
    b = msg.body
    b.set(11, cancel_id)
    if qty is not None:
        b.set(38, qty)
    b.set(41, child_id)
    if symbol is not None and side is not None:
        b.set(55, symbol)
        b.set(54, side)
    b.set(60, format_utc_timestamp(now))
    return msg


def _cancel_reject(message: Message, now: datetime) -> CancelReject:
    """The venue's OrderCancelReject about a child's cancel."""
    b = message.body
    reason = b.get_str(102) or ""
    return CancelReject(owner="", order_id=b.get_str(37) or "", cl_ord_id=b.get_str(11) or "",
                        orig_cl_ord_id=b.get_str(41) or "", ord_status=b.get_str(39) or "",
                        response_to=b.get_str(434) or "1",
                        # a code as FIX has them (a few ASCII digits), else Other (99)
                        reason=int(reason) if reason.isascii() and reason.isdigit()
                        and len(reason) <= 9 else 99,
                        text=b.get_str(58) or "", time=now)


def _exec_report(message: Message, now: datetime) -> ExecReport:
    """The venue's ExecutionReport about a child, in the desk's terms (FIX 4.4's): a FIX 4.2
    fill (ExecType 1 partial or 2 filled) is a Trade (F) when its ExecTransType (20) is New
    (a status report, a bust or a correction of one is no new fill: :data:`_FIX42_TRANS_TYPES`),
    and a LeavesQty the venue left out is OrderQty less CumQty, never 0 (which would say the
    child is over)."""
    b = message.body
    exec_type = b.get_str(150) or ""
    trans_type = _FIX42_TRANS_TYPES.get(b.get_str(20) or "0")
    if trans_type is not None:
        exec_type = trans_type
    elif exec_type in _FIX42_FILLS:
        exec_type = TRADE
    qty, cum = _shares(b, 38), _shares(b, 14)
    leaves = _shares(b, 151) if 151 in b else None
    return ExecReport(
        owner="", exec_id=b.get_str(17) or "", exec_type=exec_type,
        ord_status=b.get_str(39) or "", order_id=b.get_str(37) or "",
        cl_ord_id=b.get_str(11) or "", orig_cl_ord_id=b.get_str(41),
        symbol=b.get_str(55) or "", side=Side.SELL if b.get_str(54) == "2" else Side.BUY,
        ord_type=b.get_str(40) or "2", price=b.get_decimal(44), qty=qty,
        tif=b.get_str(59) or "0", leaves=max(0, qty - cum) if leaves is None else leaves,
        cum=cum, avg_px=b.get_decimal(6) or Decimal(0), time=now,
        last_qty=_shares(b, 32), last_px=b.get_decimal(31), text=b.get_str(58),
        exec_ref_id=b.get_str(19))


#: names of the quantity fields the venue's messages carry, for what a refusal says
_QTY_NAMES = {38: "OrderQty", 14: "CumQty", 151: "LeavesQty", 32: "LastQty",
              271: "MDEntrySize"}


def _shares(fields: FieldMap, tag: int) -> int:
    """Quantity field ``tag`` as whole shares (0 if absent); RequestError for a value no
    order could have (fix_reports.whole_shares: a million-digit one took seconds to make an
    int of, and truncating 1.5 to 1 would miscount a fill)."""
    raw = fields.get(tag)
    return 0 if raw is None else whole_shares(raw, tag, _QTY_NAMES[tag])
