"""``application: client``: a FIX client that sends the parent orders of its YAML and follows
them to the end (what ``gateway demo`` and ``sessions/client.yaml`` run).

::

    client:
      orders:
        - {symbol: AMZN, side: buy, qty: 2000, strategy: "1001", window: 20,
           params: "Slices=10;MaxChildQty=400", limit: 230.00, participation: 0.2}

Each order goes out once, at the first logon, as a NewOrderSingle with TargetStrategy (847),
EffectiveTime now and ExpireTime ``window`` seconds later. At every later logon each order
not yet done is asked about with an OrderStatusRequest (H): a session reset at logon
discards the reports sent while the client was away, and the answer says where the order
stands. A Reject (3) or BusinessMessageReject (j) of a parent's NewOrderSingle (found by
RefSeqNum in the session's store, or by BusinessRejectRefID) rejects it, with the peer's
reason. Each order is journaled (fsynced) in the run directory before it goes out
(gateway.client_journal): a client restarted after a crash or ``kill -9`` follows the
parents the journal holds instead of sending them again. A clean stop (SIGTERM, SIGINT)
cancels every order not yet done and waits a little for the answers
(:meth:`ClientApplication.wind_down`); once all are done the journal is removed, and the
next run sends its orders anew. ``gateway run`` prints :meth:`OrderProgress.line` after
each report. Its ClOrdID
(``P<HHMMSSffffff>-<pid>-<n>``) is unique across the clients of a venue's day: two runs of
the same config, even in the same second, are not taken for one order sent twice.
:attr:`ClientApplication.orders` holds what the ExecutionReports said so far; ``on_update``
is called after each one.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fixspec.fieldtypes import TimePrecision, format_utc_timestamp
from gateway.application import SessionHandle
from gateway.client_journal import JOURNAL, ParentJournal, SentParent
from gateway.client_order import ClientOrder, parse_client
from gateway.codec import scan_fields
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.fixmessage import Message
from gateway.msglog import wire_text
from gateway.store import MessageStore
from gateway.venue_orders import FINAL_STATUSES, REJECTED

__all__ = ["ClientApplication", "OrderProgress", "new_cl_ord_id"]

TEXT_SHOWN = 200  # characters of a report's Text (58) a progress line shows
_SENT = itertools.count(1)  # parents this process sent, across its client applications


def new_cl_ord_id(now: datetime) -> str:
    """A parent ClOrdID no other client of the venue sends: the time to the microsecond, this
    process's id and a count of the process's parents (a venue refuses a ClOrdID it saw that
    day, so two clients started in one second must not both say ``P143005-1``)."""
    return f"P{now:%H%M%S%f}-{os.getpid()}-{next(_SENT)}"


#: OrdStatus (39) values a parent's reports carry, as words; "sent" before the first report
STATUS_NAMES = {"sent": "sent", "0": "new", "1": "partially filled", "2": "filled",
                 "3": "done for day", "4": "canceled", "5": "replaced", "6": "pending cancel",
                 "8": "rejected", "A": "pending new", "C": "expired", "E": "pending replace"}


@dataclass(slots=True)
class OrderProgress:
    cl_ord_id: str
    order: ClientOrder
    status: str = "sent"  # OrdStatus (39) of the latest report
    cum: int = 0
    avg_px: Decimal = Decimal(0)
    fills: list[tuple[datetime, int, Decimal]] = field(default_factory=list)
    text: str = ""

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    def line(self) -> str:
        """Where the order stands, in a line: ``P...: buy AMZN partially filled 300/1000 avg
        223.56, last 100 @ 223.57`` (and the report's Text, if any)."""
        o = self.order
        status = STATUS_NAMES.get(self.status, f"OrdStatus {self.status}")
        out = f"{self.cl_ord_id}: {o.side} {o.symbol} {status} {self.cum}/{o.qty}"
        if self.cum:
            out += f" avg {self.avg_px}"
        if self.fills:
            _, qty, px = self.fills[-1]
            out += f", last {qty} @ {px}"
        # the venue's words, escaped: a peer's Text must not drive the operator's terminal
        return f"{out} ({wire_text(self.text, TEXT_SHOWN)})" if self.text else out


class ClientApplication:
    #: its parents are followed on the one session they went out on (gateway.apps.Dispatcher
    #: refuses a config that runs it on more)
    ONE_SESSION = True

    def __init__(self, config: GatewayConfig) -> None:
        node = config.extra.get("client")
        if node is None:
            raise ConfigError(f"{config.path}: application 'client' needs a 'client:' section")
        #: the config's orders not sent yet, with their places in ``client: orders``
        self.to_send = list(enumerate(parse_client(node)))
        self.orders: dict[str, OrderProgress] = {}
        self.on_update: Callable[[OrderProgress], None] | None = None
        self._stores: dict[str, MessageStore] = {}  # per session (bind): what we sent
        self._session: SessionHandle | None = None  # the one the orders went out on
        # the journal's name: the client's session, which two running clients cannot share
        first = config.sessions[0] if config.sessions else None
        self._journal_name = (f"{first.sender_comp_id}-{first.target_comp_id}"
                              if first is not None else "client")
        self._journal: ParentJournal | None = None  # bind(): an engine with a run directory

    def bind(self, engine: object) -> None:
        """The sessions' stores (a Reject names the message it refuses by MsgSeqNum), and
        in the engine's run directory the journal of the parents sent: those a run that did
        not stop cleanly sent are followed, not sent again (gateway.client_journal)."""
        for runner in getattr(engine, "runners", {}).values():
            session = getattr(runner, "session", None)
            if session is not None:
                self._stores[runner.name] = session.store
        run_dir = getattr(engine, "run_dir", None)
        if not isinstance(run_dir, Path):
            return
        self._journal = ParentJournal(run_dir / JOURNAL.format(session=self._journal_name))
        resumed = self._journal.load()
        # the config's orders at the places journaled went out already, whatever the config
        # says there now: an edited order is not sent as a second parent beside the first
        done = {sent.index for sent in resumed}
        changed = [i for i, order in self.to_send if i in done
                   and all(s.order != order for s in resumed if s.index == i)]
        self.to_send = [(i, order) for i, order in self.to_send if i not in done]
        for sent in resumed:
            self.orders[sent.cl_ord_id] = OrderProgress(sent.cl_ord_id, sent.order)
        notice = getattr(engine, "notice", None)
        if resumed and callable(notice):
            notice(f"client: following {len(resumed)} parent(s) sent by a run that did not "
                   f"stop cleanly ({self._journal.path}), not sending them again"
                   + (f"; the config's order(s) {', '.join(str(i + 1) for i in changed)} "
                      "differ from what was sent and are not sent" if changed else ""))

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return frozenset({"8", "9", "W", "X", "Y", "j"})

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self._session = session
        for progress in self.orders.values():
            if not progress.done:  # (what a reset at this logon discarded, it says)
                session.send(status_request(progress))
        pending, self.to_send = self.to_send, []
        for index, order in pending:
            cl = new_cl_ord_id(now)
            if self._journal is not None:  # on disk before it goes: a restart follows it
                self._journal.record(SentParent(index, cl, order))
            self.orders[cl] = OrderProgress(cl, order)
            session.send(parent_message(cl, order, now))

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        pass

    def wind_down(self, now: datetime) -> Callable[[], bool]:
        """A clean stop is coming: cancel every order not done (OrderCancelRequest, ClOrdID
        ``<order's>-X``) if the session is up; the answer says when all are done (the
        engine waits for it a little, then logs out regardless)."""
        session = self._session
        if session is not None and session.logged_on:
            for progress in self.orders.values():
                if not progress.done:
                    session.send(cancel_request(progress, now))
        return self._settled

    def _settled(self) -> bool:
        """Whether every parent is done; then the journal goes (the next run is new)."""
        if not all(p.done for p in self.orders.values()):
            return False
        if self._journal is not None:
            self._journal.clear()
        return True

    def on_reject(self, session: SessionHandle, message: Message, now: datetime) -> None:
        """A session Reject (3): of a parent's NewOrderSingle, the parent is rejected."""
        sent = self._sent(session, message.body.get_int(45))
        if sent.get(35) == "D":
            self._refused(sent.get(11, ""), "session reject", message)

    def _sent(self, session: SessionHandle, seq: int | None) -> dict[int, str]:
        """The fields of what we sent on ``session`` as MsgSeqNum ``seq`` ({}: not stored)."""
        store = self._stores.get(session.name)
        raw = store.sent_raw(seq) if store is not None else None
        return scan_fields(raw) if raw is not None else {}

    def _refused(self, cl_ord_id: str, kind: str, message: Message) -> None:
        progress = self.orders.get(cl_ord_id)
        if progress is None or progress.done:
            return
        progress.status = REJECTED
        progress.text = f"{kind}: {message.body.get_str(58) or 'no reason given'}"
        if self.on_update is not None:
            self.on_update(progress)

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        if message.msg_type == "j":
            body = message.body
            sent = self._sent(session, body.get_int(45)) or {
                35: body.get_str(372) or "", 11: body.get_str(379) or ""}
            if sent.get(35) == "D":
                self._refused(sent.get(11, ""), "business reject", message)
            return
        if message.msg_type != "8":
            return
        body = message.body
        progress = self.orders.get(body.get_str(11) or "") or self.orders.get(
            body.get_str(41) or "")
        if progress is None:
            return
        progress.status = body.get_str(39) or progress.status
        progress.cum = body.get_int(14) or 0
        progress.avg_px = body.get_decimal(6) or Decimal(0)
        progress.text = body.get_str(58) or ""  # this report's, not an earlier one's
        last = body.get_int(32)
        if last:
            progress.fills.append((now, last, body.get_decimal(31) or Decimal(0)))
        if self.on_update is not None:
            self.on_update(progress)


def cancel_request(progress: OrderProgress, now: datetime) -> Message:
    """The OrderCancelRequest (F) of a parent: ClOrdID ``<parent's>-X``, OrigClOrdID, Symbol,
    Side, OrderQty (FIX 4.4 asks for it), TransactTime."""
    msg = _about(progress, "F", f"{progress.cl_ord_id}-X")
    b = msg.body
    b.set(41, progress.cl_ord_id)
    b.set(38, progress.order.qty)
    b.set(60, format_utc_timestamp(now, TimePrecision.MILLIS))
    return msg


def status_request(progress: OrderProgress) -> Message:
    """The OrderStatusRequest (H) of a parent: ClOrdID, Symbol, Side."""
    return _about(progress, "H", progress.cl_ord_id)


def _about(progress: OrderProgress, msg_type: str, cl_ord_id: str) -> Message:
    """A request of ``msg_type`` about a parent: ClOrdID ``cl_ord_id``, Symbol, Side."""
    msg = Message(msg_type)
    b = msg.body
    b.set(11, cl_ord_id)
    b.set(55, progress.order.symbol)
    b.set(54, _side(progress.order))
    return msg


def _side(order: ClientOrder) -> str:
    return "1" if order.side == "buy" else "2"


def parent_message(cl_ord_id: str, order: ClientOrder, now: datetime,
                   start: datetime | None = None, end: datetime | None = None) -> Message:
    """The parent's NewOrderSingle: EffectiveTime ``start`` (default now), ExpireTime ``end``
    (default ``order.window`` after the start), TransactTime now. A start of now is taken to
    the millisecond, as FIX 4.2 and 4.4's UTCTimestamp carries it."""
    start = start or now.replace(microsecond=now.microsecond - now.microsecond % 1000)
    end = end or start + timedelta(seconds=order.window)
    # milliseconds, as usual, unless either time has finer digits to keep
    finer = start.microsecond % 1000 or end.microsecond % 1000
    stamp = TimePrecision.MICROS if finer else TimePrecision.MILLIS
    msg = Message("D")
    b = msg.body
    b.set(11, cl_ord_id)
    b.set(55, order.symbol)
    b.set(54, _side(order))
    b.set(38, order.qty)
    b.set(21, "1")  # HandlInst: automated, no broker intervention (FIX 4.2 requires it)
    if order.limit is not None:
        b.set(40, "2")
        b.set(44, order.limit)
    else:
        b.set(40, "1")
    b.set(59, "0")
    b.set(60, format_utc_timestamp(now, TimePrecision.MILLIS))
    b.set(847, order.strategy)
    if order.params:
        b.set(848, order.params)
    if order.participation is not None:
        b.set(849, order.participation)
    b.set(168, format_utc_timestamp(start, stamp))
    b.set(126, format_utc_timestamp(end, stamp))
    return msg
