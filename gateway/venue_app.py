"""``application: venue``: the matching venue behind FIX sessions.

Serves NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G),
OrderStatusRequest (H) and MarketDataRequest (V) on every session that names it, against the
:class:`~gateway.venue.Venue` built from the YAML's ``venue:`` section. A request the venue
cannot act on gets an ExecutionReport Rejected or an OrderCancelReject whose Text says why;
the session stays up. Each session is an owner: it sees and can touch only its own orders.

Reports to a session that is logged out are still sent through its handle: the session
persists them and the client receives them by resend after its next logon.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from engine.book_types import Side
from gateway.application import SessionHandle
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.fix_reports import (
    RequestError,
    cancel_reject_message,
    exec_report_message,
    parse_price,
    parse_qty,
    parse_side,
)
from gateway.fixmessage import Message
from gateway.market_data import MarketDataPublisher
from gateway.venue import NewOrder, Venue
from gateway.venue_config import VenueConfig, parse_venue
from gateway.venue_orders import (
    DAY,
    LIMIT,
    REJ_OTHER,
    REJECTED,
    CancelReject,
    ExecReport,
    Report,
)

__all__ = ["VenueApplication", "venue_config"]

VENUE_TYPES = frozenset({"D", "F", "G", "H", "V"})


class ReportSink(Protocol):
    """Where reports for owners that are not FIX sessions go (the in-process algo desk)."""

    def on_report(self, report: Report, now: datetime) -> None: ...


def venue_config(config: GatewayConfig) -> VenueConfig:
    node = config.extra.get("venue")
    if node is None:
        raise ConfigError(f"{config.path}: application 'venue' needs a 'venue:' section "
                          "with its symbols")
    return parse_venue(node, config.path.resolve().parent)


class VenueApplication:
    def __init__(self, config: GatewayConfig, venue: Venue | None = None) -> None:
        self.config = venue_config(config) if venue is None else None
        self.venue = venue if venue is not None else Venue(self.config or VenueConfig())
        self.sessions: dict[str, SessionHandle] = {}
        self.sinks: dict[str, ReportSink] = {}  # owner -> in-process receiver
        # Market data waits until the reports of the operation that caused it are out: a
        # client hears about its own fill before the public sees the trade.
        self._md_out: list[tuple[str, Message]] = []
        self.market_data = MarketDataPublisher(self.venue, self._queue_md)

    # -- Application ------------------------------------------------------------------------

    def bind(self, engine: object) -> None:
        """Know every session up front, so reports reach logged-out owners too."""
        for runner in getattr(engine, "runners", {}).values():
            if runner.config.application in ("venue",) or runner.app is self:
                self.sessions[runner.name] = runner

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return VENUE_TYPES

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self.sessions[session.name] = session

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        self.market_data.drop_session(session.name)
        if self.config is not None and self.config.cancel_on_disconnect:
            self.deliver(self.venue.cancel_all(session.name, now, "canceled on disconnect"),
                         now)

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        self.sessions.setdefault(session.name, session)
        msg_type = message.msg_type
        owner = session.name
        if msg_type == "V":
            self.market_data.request(owner, message, now)
            self.flush_market_data()
            return
        body = message.body
        cl_ord_id = body.get_str(11) or ""
        try:
            if msg_type == "D":
                reports = self.venue.new_order(self.new_order(owner, message), now)
            elif msg_type == "F":
                reports = self.venue.cancel(owner, cl_ord_id, body.get_str(41) or "", now)
            elif msg_type == "G":
                reports = self.venue.replace(owner, cl_ord_id, body.get_str(41) or "",
                                             parse_qty(message), parse_price(message), now)
            else:  # H
                reports = [self.venue.status(owner, cl_ord_id, now)]
        except RequestError as exc:
            reports = [self._bad_request(owner, msg_type or "", message, str(exc), now)]
        self.deliver(reports, now)
        self.flush_market_data()

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def new_order(owner: str, message: Message, parent: str | None = None) -> NewOrder:
        """A NewOrderSingle's fields as a venue request; RequestError names a bad field."""
        body = message.body
        return NewOrder(owner=owner, cl_ord_id=body.get_str(11) or "",
                        symbol=body.get_str(55) or "", side=parse_side(message),
                        ord_type=body.get_str(40) or LIMIT, qty=parse_qty(message),
                        price=parse_price(message), tif=body.get_str(59) or DAY, parent=parent)

    def _bad_request(self, owner: str, msg_type: str, message: Message, text: str,
                     now: datetime) -> Report:
        body = message.body
        cl_ord_id = body.get_str(11) or ""
        if msg_type in ("F", "G"):
            return CancelReject(owner=owner, order_id="NONE", cl_ord_id=cl_ord_id,
                                orig_cl_ord_id=body.get_str(41) or "", ord_status=REJECTED,
                                response_to="1" if msg_type == "F" else "2", reason=99,
                                text=text, time=now)
        return ExecReport(owner=owner, exec_id=self.venue.next_exec_id(), exec_type=REJECTED,
                          ord_status=REJECTED, order_id="NONE", cl_ord_id=cl_ord_id,
                          orig_cl_ord_id=None, symbol=body.get_str(55) or "",
                          side=Side.SELL if body.get_str(54) == "2" else Side.BUY,
                          ord_type=body.get_str(40) or LIMIT, price=None, qty=0,
                          tif=body.get_str(59) or DAY, leaves=0, cum=0, avg_px=Decimal(0),
                          time=now, text=text, rej_reason=REJ_OTHER)

    def deliver(self, reports: Iterable[Report], now: datetime) -> None:
        """Send each report to its owner: a FIX session, or an in-process sink."""
        for r in reports:
            sink = self.sinks.get(r.owner)
            if sink is not None:
                sink.on_report(r, now)
                continue
            session = self.sessions.get(r.owner)
            if session is None:
                continue  # an owner that is gone (cannot happen for configured sessions)
            if isinstance(r, ExecReport):
                session.send(exec_report_message(r, session.config.begin_string))
            else:
                session.send(cancel_reject_message(r))

    def _queue_md(self, session: str, message: Message) -> None:
        self._md_out.append((session, message))

    def flush_market_data(self) -> None:
        """Send queued market data to subscribers that are still logged on."""
        out, self._md_out = self._md_out, []
        for session, message in out:
            handle = self.sessions.get(session)
            if handle is not None and handle.logged_on:
                handle.send(message)
