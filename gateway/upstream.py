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
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Literal

from algos.strategy import MarketSnapshot, Side
from fixspec.fieldtypes import format_utc_timestamp
from gateway.algo_config import parse_algos
from gateway.algo_desk import AlgoDesk
from gateway.application import SessionHandle
from gateway.audit import AuditLog
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.fix_reports import (
    cancel_reject_message,
    exec_report_message,
    request_cancel_reject,
    request_report,
)
from gateway.fixmessage import Group, Message
from gateway.metrics import GatewayMetrics
from gateway.risk_gates import RiskGates
from gateway.routers import parent_of
from gateway.venue_app import venue_config
from gateway.venue_orders import (
    CXL_UNKNOWN,
    ORDER_STATUS,
    REJ_UNSUPPORTED,
    REJECTED,
    TRADE,
    ExecReport,
    Report,
)

__all__ = ["AlgoGatewayApplication", "LevelBook"]

_SIDE = {Side.BUY: "1", Side.SELL: "2"}
_FIX42_FILLS = frozenset({"1", "2"})  # ExecType partial fill / fill, FIX 4.2 and before


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

    def snapshot(self, symbol: str, now: datetime) -> MarketSnapshot:
        bids = tuple(sorted(self.levels["0"].items(), reverse=True)[:5])
        asks = tuple(sorted(self.levels["1"].items())[:5])
        return MarketSnapshot(
            time=now, symbol=symbol, bid=bids[0][0] if bids else None,
            bid_qty=bids[0][1] if bids else 0, ask=asks[0][0] if asks else None,
            ask_qty=asks[0][1] if asks else 0, last_price=self.last, volume=self.volume,
            bids=bids, asks=asks)


class AlgoGatewayApplication:
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
        self.sessions: dict[str, SessionHandle] = {}
        self.books = {s: LevelBook() for s in self.venue.symbols}
        self.gates = RiskGates(config, self.sessions)
        self.desk = AlgoDesk(algos.factories(), self.venue.symbols, self, self.snapshot,
                             self._deliver, self.gates,
                             strategy_names=algos.strategies,
                             default_window=algos.default_window)
        self._exec = 0

    # -- Application ------------------------------------------------------------------------

    def bind(self, engine: object) -> None:
        for runner in getattr(engine, "runners", {}).values():
            if runner.name == self.upstream_name:
                self.upstream = runner
            else:
                self.sessions[runner.name] = runner
        audit: AuditLog | None = getattr(engine, "audit", None)
        metrics: GatewayMetrics | None = getattr(engine, "metrics", None)
        self.desk.audit = self.gates.audit = audit
        self.desk.metrics = metrics

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
        else:
            self.sessions[session.name] = session

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        pass

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        self.gates.at(now)
        if session.name == self.upstream_name:
            self._from_venue(message, now)
            return
        if self.desk.is_parent_request(session.name, message):
            self.desk.on_message(session.name, message, now)
            return
        session.send(self._not_ours(session, message, now))

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
        self._exec += 1
        exec_id = f"GW{self._exec}"
        if kind == "H":
            report = request_report(session.name, exec_id, message, f"unknown order {cl}", now,
                                    exec_type=ORDER_STATUS, reason=None)
        else:
            report = request_report(
                session.name, exec_id, message,
                "this gateway takes algo parent orders (TargetStrategy 847) only", now,
                reason=REJ_UNSUPPORTED)
        return exec_report_message(report, session.config)

    def next_deadline(self) -> datetime | None:
        return self.desk.next_deadline()

    def on_timer(self, now: datetime) -> None:
        self.gates.at(now)
        self.desk.on_timer(now)

    # -- ChildRouter ------------------------------------------------------------------------

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Literal["day", "ioc"]) -> None:
        self.desk.child_sent(child_id, parent_of(child_id))
        now = self.desk.now
        up = self.upstream
        if up is None or not up.logged_on:
            r = ExecReport(owner="", exec_id="", exec_type=REJECTED, ord_status=REJECTED,
                           order_id="NONE", cl_ord_id=child_id, orig_cl_ord_id=None,
                           symbol=symbol, side=side, ord_type="2", price=price, qty=qty,
                           tif="0", leaves=0, cum=0, avg_px=Decimal(0), time=now,
                           text="upstream venue session is not logged on")
            self.desk.on_child_report(r, now)
            return
        msg = Message("D")
        b = msg.body
        b.set(11, child_id)
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

    def cancel(self, child_id: str) -> None:
        up = self.upstream
        if up is None or not up.logged_on:
            # Sent at the next logon: the child may still be live at the venue (a DAY order
            # survives the disconnect), and a cancel reject for one that has filled
            # meanwhile is harmless.
            if child_id not in self._unsent_cancels:
                self._unsent_cancels.append(child_id)
            return
        cancel_id = f"{child_id}~c"
        self.desk.child_cancel_sent(child_id, cancel_id)
        msg = Message("F")
        b = msg.body
        b.set(11, cancel_id)
        b.set(41, child_id)
        b.set(60, format_utc_timestamp(self.desk.now))
        p = self.desk.parent_of_child(child_id)
        if p is not None:
            b.set(55, p.order.symbol)
            b.set(54, _SIDE[p.order.side])
        up.send(msg)

    # -- the venue's messages ---------------------------------------------------------------

    def _from_venue(self, message: Message, now: datetime) -> None:
        kind = message.msg_type
        if kind == "8":
            self.desk.on_child_report(_exec_report(message, now), now)
        elif kind in ("W", "X"):
            started = time.perf_counter()
            changed = self._market_data(message)
            metrics = self.desk.metrics
            if metrics is not None:
                # from the message reaching the application to the level books updated
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
        for e in group or ():
            symbol = snapshot_symbol or e.get_str(55) or ""
            book = self.books.get(symbol)
            price = e.get_decimal(270)
            if book is None or price is None:
                continue
            book.entry(e.get_str(279) or "0", e.get_str(269) or "", price,
                       int(e.get_decimal(271) or 0))
            self.desk.book_changed(symbol)
            changed.add(symbol)
        return changed

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

    def _deliver(self, reports: list[Report], now: datetime) -> None:
        """Parent reports to the clients."""
        for r in reports:
            session = self.sessions.get(r.owner)
            if session is None:
                continue
            if isinstance(r, ExecReport):
                session.send(exec_report_message(r, session.config))
            else:
                session.send(cancel_reject_message(r, session.config))


def _exec_report(message: Message, now: datetime) -> ExecReport:
    """The venue's ExecutionReport about a child, in the desk's terms (FIX 4.4's): a FIX 4.2
    fill (ExecType 1 partial or 2 filled) is a Trade (F), and a LeavesQty the venue left out
    is OrderQty less CumQty, never 0 (which would say the child is over)."""
    b = message.body
    exec_type = b.get_str(150) or ""
    if exec_type in _FIX42_FILLS:
        exec_type = TRADE
    qty, cum = int(b.get_decimal(38) or 0), int(b.get_decimal(14) or 0)
    leaves = b.get_decimal(151)
    return ExecReport(
        owner="", exec_id=b.get_str(17) or "", exec_type=exec_type,
        ord_status=b.get_str(39) or "", order_id=b.get_str(37) or "",
        cl_ord_id=b.get_str(11) or "", orig_cl_ord_id=b.get_str(41),
        symbol=b.get_str(55) or "", side=Side.SELL if b.get_str(54) == "2" else Side.BUY,
        ord_type=b.get_str(40) or "2", price=b.get_decimal(44), qty=qty,
        tif=b.get_str(59) or "0", leaves=max(0, qty - cum) if leaves is None else int(leaves),
        cum=cum, avg_px=b.get_decimal(6) or Decimal(0), time=now,
        last_qty=int(b.get_decimal(32) or 0), last_px=b.get_decimal(31), text=b.get_str(58))
