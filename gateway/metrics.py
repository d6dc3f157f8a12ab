"""Prometheus metrics for the gateway, served over HTTP by prometheus-client.

:class:`GatewayMetrics` holds every metric in one registry (its own unless given one, so two
gateways or two tests never share counters). It is a session observer for
:class:`gateway.transport.Engine` and has methods the venue, router and algo layers call.

Metrics and their labels:

=================================  ===========================================================
``messages_received_total``        {session, msg_type}: FIX messages in, as received (valid or
                                   not)
``messages_sent_total``            {session, msg_type}: FIX messages out
``ingestion_latency_seconds``      {feed}: histogram, receipt of market data to book updated
                                   (a replayed log's messages are received when due; feed =
                                   ``log``, or the FIX session the data came on)
``orders_added_total``             {symbol}: orders coming to rest in a book (a replace
                                   that moves one is not counted)
``trades_executed_total``          {symbol}: trades of client orders (matched in the book,
                                   or fills the replayed feed gave them);
                                   ``traded_quantity_total`` their quantity
``book_depth_levels``              {symbol, side}: price levels on a side of a book
``orders_submitted_total``         {strategy, symbol}: child orders an algo handed to its
                                   router (the in-process venue, or the upstream FIX
                                   session): those the venue then rejects count, and in
                                   front of an upstream venue so do those rejected at once,
                                   never sent, because that session is not logged on
``strategy_latency_seconds``       {strategy}: histogram, time a strategy took to decide
``session_connected``              {session}: 1 between a connection and its end, else 0
``session_state``                  {session, session_state}: the session state (enum)
``session_next_sender_seq_num``    {session}: MsgSeqNum of our next outbound message
``session_next_target_seq_num``    {session}: MsgSeqNum expected on the next inbound message
``session_heartbeat_lag_seconds``  {session}: time since the last message received, read
                                   from the session's own clock at scrape time (NaN while
                                   not logged on)
``session_logons_total``           {session}; ``session_disconnects_total`` {session}
``resends_total``                  {session, direction}: ResendRequests (35=2); ``in`` = the
                                   peer asked us, ``out`` = we asked the peer
``resent_messages_total``          {session, kind}: messages we resent (``resent``) or
                                   replaced by gap fills (``gap_fill``) serving them
``sequence_gaps_total``            {session}: inbound sequence gaps detected (one a
                                   ResendRequest, however many messages are held behind it)
``rejects_total``                  {session, direction, type, reason}: session Rejects (35=3,
                                   ``type=session``, reason 373), BusinessMessageRejects (35=j,
                                   ``business``, 380), order rejects (35=8 150=8, ``order``,
                                   103) and cancel rejects (35=9, ``cancel``, 102); ``reason``
                                   is one of the codes FIX defines for the tag
                                   (:data:`REASON_CODES`), ``other`` for any other value,
                                   ``none`` without the tag. ``in``: as the application
                                   gets them, once a MsgSeqNum (a resent copy filling a
                                   gap included, a duplicate not; one refused by the session
                                   is our session Reject, ``out``); ``out``: as first sent
                                   (not a resent copy: one stored while the peer was away
                                   and only resent is not counted)
``connections_refused_total``      {reason}: connections the acceptor closed before any
                                   session took them; ``reason`` is one of
                                   :data:`REFUSED_REASONS` (``other`` for anything else),
                                   never a value from the wire; every reason has its series,
                                   at 0, from the start
``metrics_observer_errors_total``  failures inside the observer (it never raises)
=================================  ===========================================================

Labels stay bounded: no label ever carries an order, execution or client id, and no value
a peer sends becomes a label unless it is one of a fixed set, so a peer can neither create
series nor fill a label up and hide another session's values. Session names come from the
configuration; ``msg_type`` is a MsgType the session's dictionaries define (a set the
configuration fixes), else ``unknown``; ``reason`` a code of :data:`REASON_CODES`, else
``other`` (a reason outside the standard, a user-defined 380=5000 say, included). Labels the
gateway's own parts give (``symbol``, ``side``, ``feed``, ``strategy``) take at most
:data:`MAX_LABEL_VALUES` distinct values each, as a last guard; later new values are counted
under ``other``. ``strategy`` is the strategy's name in lower case without its module
(``twap``, ``vwap``; ``passivepov`` for ``algos.example_strategy:PassivePov``), whether the
caller gives the configured name or the class name.

Gauges derived from a session (state, sequence numbers) are updated whenever the session
sends or receives a message or reports an event, which is whenever they change, except the
moment an acceptor's connection starts waiting for a Logon (seen with the Logon).
"""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client import Enum as EnumMetric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics import MetricWrapperBase

from gateway.codec import peek_field
from gateway.session import (
    AppMessage,
    Disconnect,
    GapDetected,
    LoggedOn,
    RejectReceived,
    RejectSent,
    ResendServed,
)
from gateway.session_state import State
from gateway.yamlcheck import Node

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from gateway.session_runner import SessionRunner

__all__ = ["MAX_LABEL_VALUES", "REASON_CODES", "REFUSED_REASONS", "GatewayMetrics",
           "MetricsConfig", "RefusedReason", "parse_metrics_config"]

#: Distinct values one label of one metric may take before new ones count as ``other``.
MAX_LABEL_VALUES = 500
#: Histogram buckets for latencies: 5 us to 1 s.
LATENCY_BUCKETS = (5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
                   2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0)
#: Why the acceptor refused a connection (the transport's event log says the same word):
#: no configured acceptor session has the first message's CompIDs; one has them but another
#: BeginString; the first message is garbled (or 64 KiB came without one); no complete first
#: message (or TLS handshake) in time; the session already has a connection; the peer
#: closed (or reset) the connection before a complete first message; the TLS handshake
#: failed (or the peer closed the connection during it).
RefusedReason = Literal["unknown_session", "wrong_begin_string", "garbled", "timeout",
                        "already_connected", "closed", "tls"]
REFUSED_REASONS: tuple[RefusedReason, ...] = get_args(RefusedReason)


def _codes(*spans: range | int) -> frozenset[str]:
    return frozenset(str(c) for span in spans
                     for c in (span if isinstance(span, range) else (span,)))


#: The values FIX defines for each reject reason tag: every value the shipped FIX 4.2, 4.4,
#: FIXT 1.1 and 5.0SP2 dictionaries enumerate (a test holds the two equal). A fixed table,
#: not the session's dictionary: a custom dictionary is the user's, but the label set must
#: not grow with what any configuration or peer says.
REASON_CODES: dict[int, frozenset[str]] = {
    373: _codes(range(19), 99),                      # SessionRejectReason
    380: _codes(range(11), 18),                      # BusinessRejectReason
    103: _codes(range(17), range(18, 30), 99),       # OrdRejReason
    102: _codes(range(9), 18, 99),                   # CxlRejReason
}
_M = TypeVar("_M", bound=MetricWrapperBase)


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """The ``metrics`` section of a gateway YAML: where the HTTP endpoint listens
    (port 0 picks a free port)."""

    host: str = "127.0.0.1"
    port: int = 9100


def parse_metrics_config(node: Node) -> MetricsConfig:
    """``metrics: {host: 127.0.0.1, port: 9100}``; both keys optional. Raises
    :class:`gateway.yamlcheck.ConfigError` naming file and line."""
    m = node.mapping({"host", "port"})
    return MetricsConfig(
        host=m["host"].string() if "host" in m else "127.0.0.1",
        port=m["port"].integer(0, 65535) if "port" in m else 9100,
    )




#: the MsgTypes of application-level rejects (some only with ExecType 8): the one test most
#: messages meet, before anything is read of them
_REJECT_TYPES = frozenset({"j", "9", "8"})


def _reason(tag: int, value: str | None) -> str:
    """A reason code as a label: one of :data:`REASON_CODES` for ``tag``, ``none`` when the
    message has no such field, else ``other``."""
    if value is None:
        return "none"
    return value if value in REASON_CODES[tag] else "other"


def _strategy(name: str) -> str:
    """One label for a strategy, whichever name the caller has: the configured one
    (``twap``, ``package.module:Class``) or the class name (``Twap``, ``Class``)."""
    return name.strip().rpartition(":")[2].rpartition(".")[2].lower()


class _Bounded:
    """Caps the distinct values of one label: the first ``limit`` pass, later new ones become
    ``other``. Shared by the threads that update metrics, hence the lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        with self.lock:
            if len(self.seen) >= self.limit:
                return "other"
            self.seen.add(value)
        return value


def _label(value: str | Enum) -> str:
    return value.name.lower() if isinstance(value, Enum) else str(value)


class GatewayMetrics:
    """The gateway's metrics in :attr:`registry` (a new one when None). See the module
    docstring for names and labels. Thread-safe; the observer methods never raise."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages_received_total = Counter(
            "messages_received", "Messages received", ["session", "msg_type"], registry=r)
        self.messages_sent_total = Counter(
            "messages_sent", "FIX messages sent", ["session", "msg_type"], registry=r)
        self.ingestion_latency_seconds = Histogram(
            "ingestion_latency_seconds", "Market data receipt to book updated", ["feed"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.orders_added_total = Counter(
            "orders_added", "Orders added to a book", ["symbol"], registry=r)
        self.trades_executed_total = Counter(
            "trades_executed", "Trades matched", ["symbol"], registry=r)
        self.traded_quantity_total = Counter(
            "traded_quantity", "Quantity traded", ["symbol"], registry=r)
        self.book_depth_levels = Gauge(
            "book_depth_levels", "Price levels on one side of a book", ["symbol", "side"],
            registry=r)
        self.orders_submitted_total = Counter(
            "orders_submitted", "Child orders submitted by algos", ["strategy", "symbol"],
            registry=r)
        self.strategy_latency_seconds = Histogram(
            "strategy_latency_seconds", "Time a strategy took to decide", ["strategy"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.session_connected = Gauge(
            "session_connected", "1 while the session has a connection", ["session"],
            registry=r)
        self.session_state = EnumMetric(
            "session_state", "FIX session state", ["session"],
            states=[s.value for s in State], registry=r)
        self.session_next_sender_seq_num = Gauge(
            "session_next_sender_seq_num", "MsgSeqNum of the next outbound message",
            ["session"], registry=r)
        self.session_next_target_seq_num = Gauge(
            "session_next_target_seq_num", "MsgSeqNum expected on the next inbound message",
            ["session"], registry=r)
        self.session_heartbeat_lag_seconds = Gauge(
            "session_heartbeat_lag_seconds", "Seconds since the last message received",
            ["session"], registry=r)
        self.session_logons_total = Counter(
            "session_logons", "Logons completed", ["session"], registry=r)
        self.session_disconnects_total = Counter(
            "session_disconnects", "Connections ended", ["session"], registry=r)
        self.resends_total = Counter(
            "resends", "ResendRequests (35=2) by direction", ["session", "direction"],
            registry=r)
        self.resent_messages_total = Counter(
            "resent_messages", "Messages resent or gap-filled serving ResendRequests",
            ["session", "kind"], registry=r)
        self.sequence_gaps_total = Counter(
            "sequence_gaps", "Inbound sequence gaps detected", ["session"], registry=r)
        self.rejects_total = Counter(
            "rejects", "Rejects by direction, type and reason code",
            ["session", "direction", "type", "reason"], registry=r)
        self.connections_refused_total = Counter(
            "connections_refused", "Connections the acceptor refused, by reason", ["reason"],
            registry=r)
        self.metrics_observer_errors_total = Counter(
            "metrics_observer_errors", "Failures inside the metrics observer", registry=r)
        self._bounds: dict[str, _Bounded] = {}
        self._runners: dict[str, SessionRunner] = {}
        # .labels() takes a lock and builds a tuple on every call: each labelled child is
        # looked up once and kept (labels are bounded, so is this)
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}
        self._session_states: dict[str, State] = {}  # the state last set, per session
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        for reason in REFUSED_REASONS:  # an alert on a rate sees each reason from the start
            self._labels(self.connections_refused_total, reason)

    def _labels(self, metric: _M, *values: str) -> _M:
        """``metric.labels(*values)``, from the cache after the first time."""
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child  # type: ignore[return-value]  # labels() of an _M is an _M

    def _bound(self, metric: str, label: str, value: str | Enum) -> str:
        key = f"{metric}.{label}"
        bound = self._bounds.get(key)
        if bound is None:
            bound = self._bounds.setdefault(key, _Bounded(MAX_LABEL_VALUES))
        return bound(_label(value))

    # -- venue, router, feeds and algos -----------------------------------------------------

    def ingestion_latency(self, seconds: float, feed: str = "fix") -> None:
        self._labels(self.ingestion_latency_seconds,
                     self._bound("ingest", "feed", feed)).observe(seconds)

    def order_added(self, symbol: str) -> None:
        self._labels(self.orders_added_total, self._bound("added", "symbol", symbol)).inc()

    def trade(self, symbol: str, qty: float) -> None:
        label = self._bound("trades", "symbol", symbol)
        self._labels(self.trades_executed_total, label).inc()
        self._labels(self.traded_quantity_total, label).inc(qty)

    def book_depth(self, symbol: str, side: str | Enum, levels: int) -> None:
        """``side`` a short word (``bid``/``ask``) or an enum (its name, lower case)."""
        self._labels(self.book_depth_levels, self._bound("depth", "symbol", symbol),
                     self._bound("depth", "side", side)).set(levels)

    def order_submitted(self, strategy: str, symbol: str) -> None:
        """A child order handed to the router (see ``orders_submitted_total`` above)."""
        self._labels(self.orders_submitted_total,
                     self._bound("submitted", "strategy", _strategy(strategy)),
                     self._bound("submitted", "symbol", symbol)).inc()

    def strategy_latency(self, strategy: str, seconds: float) -> None:
        self._labels(self.strategy_latency_seconds,
                     self._bound("strategy", "strategy", _strategy(strategy))).observe(seconds)

    # -- the acceptor ------------------------------------------------------------------------

    def connection_refused(self, reason: str) -> None:
        """The acceptor closed a connection before a session took it. ``reason`` outside
        :data:`REFUSED_REASONS` counts as ``other``: the label's values stay a fixed set."""
        try:
            label = reason if reason in REFUSED_REASONS else "other"
            self._labels(self.connections_refused_total, label).inc()
        except Exception:
            self.metrics_observer_errors_total.inc()

    # -- SessionObserver --------------------------------------------------------------------

    def message(self, session: SessionRunner, direction: Literal["in", "out"], raw: bytes,
                now: datetime) -> None:
        try:
            name = self._track(session)
            msg_type = peek_field(raw, b"\x0135=")
            known = msg_type is not None and session.session.dd.message(msg_type) is not None
            # the dictionaries' MsgTypes are a set the configuration fixes: no cap needed
            type_label = msg_type if known and msg_type else "unknown"
            counter = self.messages_received_total if direction == "in" else (
                self.messages_sent_total)
            self._labels(counter, name, type_label).inc()
            if msg_type == "2":
                self._labels(self.resends_total, name, direction).inc()
            elif (direction == "out" and msg_type in _REJECT_TYPES
                  and b"\x0143=Y\x01" not in raw):
                # (a resent copy, PossDup, was counted when first sent; what comes in is
                # counted as the application gets it, each MsgSeqNum once: event)
                self._app_reject(name, direction, msg_type,
                                 lambda tag: peek_field(raw, b"\x01%d=" % tag))
            self._session_gauges(name, session)
        except Exception:  # an observer never raises into the transport
            self.metrics_observer_errors_total.inc()

    def event(self, session: SessionRunner, event: object, now: datetime) -> None:
        try:
            name = self._track(session)
            if type(event).__name__ == "Connected":
                # transport.Connected, matched by name: the transport may import this module.
                self._labels(self.session_connected, name).set(1)
            elif isinstance(event, Disconnect):
                self._labels(self.session_connected, name).set(0)
                self._labels(self.session_disconnects_total, name).inc()
            elif isinstance(event, LoggedOn):
                self._labels(self.session_logons_total, name).inc()
            elif isinstance(event, RejectSent):
                self._reject(name, "out", "session", 373, str(int(event.reject.reason)))
            elif isinstance(event, RejectReceived):
                self._reject(name, "in", "session", 373, event.message.body.get_str(373))
            elif isinstance(event, AppMessage) and event.message.msg_type in _REJECT_TYPES:
                self._app_reject(name, "in", event.message.msg_type, event.message.body.get_str)
            elif isinstance(event, GapDetected):
                self._labels(self.sequence_gaps_total, name).inc()
            elif isinstance(event, ResendServed):
                self._labels(self.resent_messages_total, name, "resent").inc(event.resent)
                self._labels(self.resent_messages_total, name, "gap_fill").inc(event.gap_filled)
            self._session_gauges(name, session)
        except Exception:
            self.metrics_observer_errors_total.inc()

    def _app_reject(self, name: str, direction: str, msg_type: str | None,
                    field: Callable[[int], str | None]) -> None:
        """Count a message of MsgType ``msg_type`` (its body's values by ``field``) if it is
        an application-level reject."""
        if msg_type == "j":
            self._reject(name, direction, "business", 380, field(380))
        elif msg_type == "9":
            self._reject(name, direction, "cancel", 102, field(102))
        elif msg_type == "8" and field(150) == "8":
            self._reject(name, direction, "order", 103, field(103))

    def _reject(self, name: str, direction: str, kind: str, tag: int,
                reason: str | None) -> None:
        """Count a reject; ``reason`` is the value of ``tag`` in it. The label is from a fixed
        set (:func:`_reason`), so it is not capped: a cap shared by every session is what
        let one peer's made-up codes push another's real ones into ``other``."""
        self._labels(self.rejects_total, name, direction, kind, _reason(tag, reason)).inc()

    def add_session(self, runner: SessionRunner) -> None:
        """Give a configured session its series (connected 0, its state, sequence numbers)
        before it ever connects, so an alert on ``session_connected == 0`` sees it."""
        self._session_gauges(self._track(runner), runner)

    def _track(self, runner: SessionRunner) -> str:
        """The session's label; the first time a session is seen, set up its lag gauge."""
        name = runner.name
        if self._runners.get(name) is not runner:
            first = name not in self._runners
            self._runners[name] = runner
            if first:
                # read at scrape time (the HTTP thread), not set on every message
                self._labels(self.session_heartbeat_lag_seconds, name).set_function(
                    lambda: self._lag(name))
                self._labels(self.session_next_sender_seq_num, name).set_function(
                    lambda: self._seq(name, sender=True))
                self._labels(self.session_next_target_seq_num, name).set_function(
                    lambda: self._seq(name, sender=False))
                self._labels(self.session_connected, name).set(0)
        return name

    def _seq(self, name: str, *, sender: bool) -> float:
        """The session's next outbound (``sender``) or expected inbound MsgSeqNum, read at
        scrape time as :meth:`_lag` is (an int attribute: no locking needed)."""
        try:
            store = self._runners[name].session.store
            return float(store.next_sender_seq if sender else store.next_target_seq)
        except Exception:
            return math.nan

    def _lag(self, name: str) -> float:
        """Called at scrape time (HTTP thread): reads two attributes, no locking needed."""
        try:
            runner = self._runners[name]
            last = runner.session.last_received
            if last is None or not runner.session.logged_on:
                return math.nan  # no lag to speak of: session_connected says why
            return max(0.0, (runner.clock.now() - last).total_seconds())
        except Exception:
            return math.nan

    def _session_gauges(self, name: str, runner: SessionRunner) -> None:
        """The session's state, when it changed (the sequence numbers are read at scrape
        time: see :meth:`_track`)."""
        state = runner.session.state
        if self._session_states.get(name) is not state:
            self._session_states[name] = state
            self._labels(self.session_state, name).state(state.value)

    # -- HTTP -------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread, a thread a connection;
        return the port really bound (port 0 picks a free one). A connection that sends
        nothing for :attr:`_Handler.timeout` seconds is closed, its thread freed. One server
        per instance; :meth:`close` stops it."""
        if self._server is not None:
            raise RuntimeError("the metrics endpoint is already being served")
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type("_Server", (ThreadingWSGIServer,), {"address_family": family})
        self._server = make_server(host, port, make_wsgi_app(self.registry), server_class,
                                   handler_class=_Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="metrics http", daemon=True)
        self._thread.start()
        return int(self._server.server_address[1])

    @property
    def port(self) -> int | None:
        return int(self._server.server_address[1]) if self._server is not None else None

    def close(self) -> None:
        """Stop the HTTP endpoint, if it runs."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None


class _Handler(WSGIRequestHandler):
    """A metrics request: a client that stalls is dropped after ``timeout`` seconds (a
    thread each, so a pile of idle connections must not hold threads for ever); nothing is
    written to stderr for each request."""

    timeout = 10.0

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the timeout, or a client gone: nothing to say on stderr for it
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
