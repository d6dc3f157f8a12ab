"""What a restarted venue knows of the orders it had: its sessions' stored reports.

The venue keeps its books in memory: a process that ends (a crash, a restart) loses every
resting order, while each session's store keeps every ExecutionReport sent, persisted before
it was sent. From those reports a restarted venue learns, per session (:class:`Recovered`):

* the last report of each order (one report an order, not every report): the order as its
  owner last heard of it, so an OrderStatusRequest is answered with its last known state,
  and a cancel or replace of an order that was done before the restart is answered "too
  late" with its OrderID and last OrdStatus rather than "unknown order";
* every ClOrdID the orders had (11, and 41 of replaces and cancels), so that a
  NewOrderSingle reusing one the same trading day is refused as a duplicate, as it was
  before the restart, and a request resent with PossDupFlag after the crash (the peer
  resends what arrived after our last committed inbound sequence number) is recognised as
  one already handled and not executed again; the ClOrdIDs of requests refused before they
  were orders count for the latter only (before the restart they were free for new orders);
* the orders still open at the end (the last report's OrdStatus not final, LeavesQty > 0).
  They are gone from the books, so the venue tells their owners: an unsolicited Canceled
  report each ("venue restarted") when the session next logs on, with or without a
  sequence reset. A client's order system never shows as live an order the venue lost.

ClOrdIDs are unique within a trading day (:func:`trading_day`): a store holds the reports
since the session's last sequence reset, which may span days (a client that does not reset),
so at the session's first Logon the venue forgets the orders whose last report was sent on
an earlier trading day (:meth:`Recovered.forget_before`), as a running venue forgets done
orders at a new day; the open ones stay until reported Canceled, that day.

A store holds the reports since the session's last sequence reset, and what that reset
carried over (:meth:`MessageStore.carried`): at every reset the venue has the store keep the
last report of each of the session's orders still open (:func:`still_open`), so an order that
rested through any number of resets (a client that logs on with ResetSeqNumFlag every time)
is still known, with every ClOrdID it had (:data:`ORDER_IDS`: its last report names two at
most, and a replace chain has more). The ClOrdIDs of orders already done before the last
reset are not kept: after
a restart they could be used again that day (the algo gateway, with few parents, keeps its
done ones too: :class:`SessionOrders` ``keep_done``). A reset also carries the session's
fills of the day, summed by symbol and side (:class:`DayFills`), so that a restart rebuilds
the day's P&L for max_daily_loss whatever resets came before it.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING

from engine.book_types import Side
from fixspec.fieldtypes import TimePrecision, format_utc_timestamp, parse_utc_timestamp
from gateway.codec import encode, scan_fields
from gateway.fix_reports import exec_report_message
from gateway.fixmessage import value_bytes, value_text
from gateway.schedule import Schedule
from gateway.store import MessageStore, StoredMessage
from gateway.venue_orders import (
    CANCELED,
    FINAL_STATUSES,
    ORDER_STATUS,
    PENDING_CANCEL,
    PENDING_REPLACE,
    REJECTED,
    ExecReport,
)

if TYPE_CHECKING:
    from fixspec.dictionary import SessionDictionaries
    from gateway.config import SessionConfig
    from gateway.session import Session

__all__ = ["RESTART_TEXT", "Recovered", "SessionOrders", "StoredFill", "acknowledged_request",
           "last_state", "recover", "still_open", "stored_decimal", "stored_int",
           "stored_reports", "trading_day", "trading_day_end"]

_NEVER = datetime.min.replace(tzinfo=UTC)  # the time of a state asked without one
RESTART_TEXT = "venue restarted: the order was lost with the book and is canceled"
_ER = b"\x0135=8\x01"
_CXL_REJ = b"\x0135=9\x01"
_PENDING = (PENDING_CANCEL, PENDING_REPLACE)  # ExecType / OrdStatus of a pending request
#: the head of a carried record summing a session's fills of the day (:class:`DayFills`):
#: not a FIX message, so nothing reads it as an order
DAY_FILLS = b"day-fills\x01"
#: the head of a carried record naming every ClOrdID of an order a reset carries over:
#: ``37=OrderID`` then ``11=ClOrdID`` for each, oldest first (not a FIX message either)
ORDER_IDS = b"order-ids\x01"


def _ids_record(order_id: str, cl_ord_ids: Iterable[str]) -> bytes:
    return b"".join((ORDER_IDS, b"37=%s\x01" % value_bytes(order_id),
                     *(b"11=%s\x01" % value_bytes(cl) for cl in cl_ord_ids)))


def _ids_of(raw: bytes) -> tuple[str, list[str]]:
    """The OrderID and ClOrdIDs an :data:`ORDER_IDS` record names."""
    order_id, ids = "", []
    for item in raw[len(ORDER_IDS):].split(b"\x01"):
        tag, _, value = item.partition(b"=")
        if tag == b"37":
            order_id = value_text(value)
        elif tag == b"11" and value:
            ids.append(value_text(value))
    return order_id, ids


def trading_day(schedule: Schedule | None, t: datetime) -> date:
    """The trading day of time ``t``, within which ClOrdIDs are unique: the start date of
    the ``schedule`` period holding it, else (no schedule, or between periods) its UTC
    date."""
    start = schedule.session_start(t) if schedule is not None else None
    return start.date() if start is not None else t.date()


def trading_day_end(schedule: Schedule | None, t: datetime) -> datetime:
    """The first end of a trading day (:func:`trading_day`) after ``t``, when Day orders
    expire: the end of the ``schedule`` period holding ``t``, or of the next one if ``t``
    is that end itself (ends are inclusive) or between periods; without a schedule, the UTC
    midnight after ``t``."""
    if schedule is not None:
        for probe in (t, t + timedelta(microseconds=1)):  # (the next period, at an end)
            end = schedule.session_end(schedule.next_start(probe))
            if end is not None and end > t:
                return end
    return datetime.combine(t.date() + timedelta(days=1), time(0), tzinfo=UTC)


def last_state(raw: bytes, owner: str, exec_id: str, exec_type: str, now: datetime, *,
               text: str | None = None) -> ExecReport:
    """An ExecutionReport of the order the stored report ``raw`` states, as it stands now:
    the report's OrdStatus, or Canceled if it left the order open (lost with the book, and
    so reported at the session's logon); LeavesQty 0, as it works no more."""
    f = scan_fields(raw)
    status = f.get(39, "")
    return ExecReport(
        owner=owner, exec_id=exec_id, exec_type=exec_type,
        ord_status=CANCELED if still_open(status, stored_int(f.get(151))) else status,
        order_id=f.get(37, ""), cl_ord_id=f.get(11, ""), orig_cl_ord_id=f.get(41),
        symbol=f.get(55, ""), side=Side.SELL if f.get(54) == "2" else Side.BUY,
        ord_type=f.get(40, ""), price=stored_decimal(f.get(44)), qty=stored_int(f.get(38)),
        tif=f.get(59, ""), leaves=0, cum=stored_int(f.get(14)),
        avg_px=stored_decimal(f.get(6)) or Decimal(0), time=now, text=text)


@dataclass(frozen=True, slots=True)
class StoredFill:
    """A fill a stored ExecutionReport told: LastQty (32) of Symbol (55) at LastPx (31), on
    Side (54), at TransactTime (60, None if unreadable)."""

    symbol: str
    side: Side
    qty: int
    price: Decimal
    time: datetime | None
    #: the price to mark the position at after this fill, where not its own: a day's sum
    #: (DayFills) is read back at its average price, marked at its last fill's
    mark: Decimal | None = None


@dataclass(slots=True)
class _Sum:
    """Fills of one symbol and side: their quantity, value (quantity x price), the last
    one's time and price."""

    qty: int
    value: Decimal
    last: datetime
    last_px: Decimal


class DayFills:
    """One session's fills of its latest trading day, summed by (Symbol, Side): what a
    sequence reset carries over (:meth:`records`) so that the day's P&L outlives the reset
    and a restart after it. A fill of a later trading day starts the sums over; one of an
    earlier day (older stored reports) is not counted."""

    def __init__(self, schedule: Schedule | None) -> None:
        self.schedule = schedule
        self.day: date | None = None
        # times known to be of ``day`` (its first fill to its end): no schedule lookup a fill
        self._span: tuple[datetime, datetime] | None = None
        self.sums: dict[tuple[str, Side], _Sum] = {}

    def add(self, fill: StoredFill) -> None:
        t = fill.time
        if t is None:
            return
        if self._span is None or not self._span[0] <= t < self._span[1]:
            day = trading_day(self.schedule, t)
            if self.day is not None and day < self.day:
                return  # (an earlier day's: stored reports are read oldest first)
            if day != self.day:
                self.day, self.sums = day, {}
                self._span = (t, trading_day_end(self.schedule, t))
        total = self.sums.get((fill.symbol, fill.side))
        if total is None:
            self.sums[(fill.symbol, fill.side)] = _Sum(fill.qty, fill.qty * fill.price, t,
                                                       fill.mark or fill.price)
        else:
            total.qty += fill.qty
            total.value += fill.qty * fill.price
            if t >= total.last:
                total.last, total.last_px = t, fill.mark or fill.price

    def records(self) -> list[bytes]:
        """A store record of each sum (:data:`DAY_FILLS`), oldest last fill first, for
        :func:`recover` to read back as one fill: LastQty (32) the quantity, GrossTradeAmt
        (381) the value, TransactTime (60) and LastPx (31) the last fill's time and price
        (what the position is marked at until a mid is known)."""
        micros = TimePrecision.MICROS
        return [b"%s55=%s\x0154=%s\x0132=%d\x01381=%s\x0131=%s\x0160=%s\x01" % (
                    DAY_FILLS, value_bytes(symbol), b"1" if side == Side.BUY else b"2",
                    s.qty, str(s.value).encode(), str(s.last_px).encode(),
                    format_utc_timestamp(s.last, micros).encode())
                for (symbol, side), s in sorted(self.sums.items(), key=lambda kv: kv[1].last)]


def _day_fill(raw: bytes) -> StoredFill | None:
    """The fill a :data:`DAY_FILLS` record sums up: its quantity at its average price."""
    f = scan_fields(raw)
    qty, value = stored_int(f.get(32)), stored_decimal(f.get(381))
    if qty <= 0 or value is None or f.get(54) not in ("1", "2"):
        return None
    return StoredFill(f.get(55, ""), Side.BUY if f[54] == "1" else Side.SELL, qty,
                      value / qty, _time(f.get(60)), stored_decimal(f.get(31)))


def _fill(f: Mapping[int, str]) -> StoredFill | None:
    """The fill a report of fields ``f`` tells (ExecType F, or FIX 4.2's 1 and 2), if any."""
    if f.get(150) not in ("F", "1", "2") or f.get(54) not in ("1", "2"):
        return None
    qty, price = stored_int(f.get(32)), stored_decimal(f.get(31))
    if qty <= 0 or price is None:
        return None
    return StoredFill(f.get(55, ""), Side.BUY if f[54] == "1" else Side.SELL, qty, price,
                      _time(f.get(60)))


@dataclass
class Recovered:
    """One session's orders as its stored reports tell them."""

    #: the last report of each order, by OrderID (37), as sent
    orders: dict[str, bytes] = field(default_factory=dict)
    #: every ClOrdID the orders had, with its order's OrderID
    ids: dict[str, str] = field(default_factory=dict)
    #: ClOrdIDs of requests refused before they were orders (OrderID NONE), with the
    #: refusal's TransactTime: PossDup copies of them are not acted on again
    refused: dict[str, str] = field(default_factory=dict)
    #: the last report of each order still open, by OrderID, until it is reported Canceled
    open: dict[str, bytes] = field(default_factory=dict)
    #: per OrderID, the client's cancel or replace still pending at the end: (ExecType of
    #: its acknowledgement, 6 or E; the request's ClOrdID)
    requests: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: every fill reported since the last reset, after the sums of the day's fills before
    #: it (:class:`DayFills`), oldest first: what the day's P&L is rebuilt from
    fills: list[StoredFill] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.orders or self.refused)

    def order(self, cl_ord_id: str, owner: str = "", exec_id: str = "",
              now: datetime = _NEVER) -> ExecReport | None:
        """The order that had ``cl_ord_id`` in its last known state (:func:`last_state`),
        as an OrderStatus report (ExecType I) for ``owner`` with ExecID ``exec_id`` at
        ``now``; None if the stored reports name no such order."""
        order_id = self.ids.get(cl_ord_id)
        raw = self.orders.get(order_id) if order_id is not None else None
        return None if raw is None else last_state(raw, owner, exec_id, ORDER_STATUS, now)

    def used(self, cl_ord_id: str) -> bool:
        """Whether the stored reports name ``cl_ord_id`` (an order's, or a refused one)."""
        return cl_ord_id in self.ids or cl_ord_id in self.refused

    def forget_before(self, day: date, day_of: Callable[[datetime], date]) -> None:
        """Forget the orders whose last report was sent before trading day ``day``
        (``day_of``: a time's trading day), with their ClOrdIDs, free again, and the
        refusals of earlier days; orders not yet reported Canceled (``open``) stay. A report
        without a readable TransactTime counts as today's (its ClOrdIDs stay used)."""
        def earlier(value: str | None) -> bool:
            t = _time(value)
            return t is not None and day_of(t) < day

        gone = {order_id for order_id, raw in self.orders.items()
                if order_id not in self.open and earlier(scan_fields(raw).get(60))}
        if gone:
            for order_id in gone:
                del self.orders[order_id]
            self.ids = {cl: oid for cl, oid in self.ids.items() if oid not in gone}
        self.refused = {cl: t for cl, t in self.refused.items() if not earlier(t)}


def recover(stored: Iterable[StoredMessage]) -> Recovered:
    """Read a session's stored messages in sequence order (see the module docstring)."""
    got = Recovered()
    for message in stored:
        if message.raw.startswith(DAY_FILLS):
            fill = _day_fill(message.raw)
            if fill is not None:
                got.fills.append(fill)
            continue
        if message.raw.startswith(ORDER_IDS):
            order_id, ids = _ids_of(message.raw)
            for cl_ord_id in ids if order_id else ():
                got.ids[cl_ord_id] = order_id
                got.refused.pop(cl_ord_id, None)
            continue
        if _CXL_REJ in message.raw:  # the refusal of a request ends it
            f = scan_fields(message.raw)
            order_id = f.get(37, "")
            if got.requests.get(order_id, ("", ""))[1] == f.get(11):
                del got.requests[order_id]
            continue
        if _ER not in message.raw:
            continue
        f = scan_fields(message.raw)
        order_id = f.get(37, "")
        if order_id in ("", "NONE"):  # a request refused before it was an order
            if f.get(150) == REJECTED:  # (not a status report of an unknown order)
                for tag in (11, 41):
                    cl = f.get(tag)
                    if cl and cl not in got.ids:
                        got.refused[cl] = f.get(60, "")
            continue
        got.orders[order_id] = message.raw
        # a report a reset carried over (number 0) is an order's last state, not a fill
        # again: the reset's DAY_FILLS records count the fills before it
        fill = _fill(f) if message.seq else None
        if fill is not None:
            got.fills.append(fill)
        for tag in (11, 41):
            cl = f.get(tag)
            if cl:
                got.ids[cl] = order_id
                got.refused.pop(cl, None)
        if still_open(f.get(39, ""), stored_int(f.get(151))):
            got.open[order_id] = message.raw
        else:
            got.open.pop(order_id, None)
        request = acknowledged_request(f)
        if request is not None:
            got.requests[order_id] = request
        elif f.get(39, "") not in _PENDING:  # (a fill or status report while it is pending)
            got.requests.pop(order_id, None)
    return got


def acknowledged_request(f: Mapping[int, str]) -> tuple[str, str] | None:
    """What the report of fields ``f`` acknowledges: (its ExecType, Pending Cancel or Pending
    Replace; the request's ClOrdID) when it answers a client's cancel or replace (such a
    report has the request's ClOrdID and the order's as OrigClOrdID); else None."""
    exec_type = f.get(150, "")
    if exec_type in _PENDING and f.get(41):
        return exec_type, f.get(11, "")
    return None


def stored_reports(store: MessageStore) -> Iterator[StoredMessage]:
    """What a session's store holds, oldest first: what its last reset carried over (as
    number 0), then the messages sent since."""
    for raw in store.carried():
        yield StoredMessage(0, raw)
    yield from store.sent(1, store.next_sender_seq - 1)


def still_open(ord_status: str, leaves: int) -> bool:
    """Whether an order whose last report says ``ord_status`` (39) and LeavesQty ``leaves``
    (151) is still working: what a restart finds lost and a sequence reset carries over."""
    return ord_status not in FINAL_STATUSES and leaves > 0


def stored_int(value: str | None) -> int:
    """A stored report's integer field (a quantity) as a number: 0 if absent or unreadable."""
    try:
        return int(Decimal(value)) if value else 0
    except (InvalidOperation, ValueError):
        return 0


def stored_decimal(value: str | None) -> Decimal | None:
    """A stored report's decimal field (a price): None if absent or unreadable."""
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def _time(value: str | None) -> datetime | None:
    try:
        return parse_utc_timestamp(value) if value else None
    except ValueError:
        return None


class SessionOrders:
    """What each session's orders must outlive, for one application (the venue's orders and
    parents, or the algo gateway's parents): a sequence reset, which carries over in the
    session's store the last report of every order still open (:meth:`keep` tracks them),
    and a restart, whose stores are read at start (:attr:`stored`) until each session's
    first Logon reports the orders lost open and forgets those of earlier trading days
    (:meth:`at_logon`).

    ``keep_done`` (the algo gateway, whose parents are few): a reset also carries the last
    report of each order done that trading day, so that after a restart its status is
    still known and its ClOrdID still the day's, whatever resets came between (a client
    that resets may never have heard how an order a restart ended, ended; its status
    request is how it learns). The venue, with an order for every client order of the
    day, keeps open orders only."""

    def __init__(self, *, keep_done: bool = False) -> None:
        #: per session, what its store held at start (dropped once nothing is left of it)
        self.stored: dict[str, Recovered] = {}
        self.keep_done = keep_done
        self._open: dict[str, dict[str, ExecReport]] = {}  # the last report of open orders
        self._done: dict[str, dict[str, ExecReport]] = {}  # ... of done ones (keep_done)
        # per session and OrderID, the ClOrdIDs of a kept order's chain of requests (those
        # of its reports that name an OrigClOrdID), for its ORDER_IDS record
        self._chains: dict[str, dict[str, list[str]]] = {}
        #: per session, the OrderIDs of its orders that ended while it was logged out
        self._unheard: dict[str, set[str]] = {}
        #: per session that has logged on, when its trading day ends, and its schedule
        self._day_ends: dict[str, datetime] = {}
        self._schedules: dict[str, Schedule | None] = {}
        self._days: dict[str, date] = {}  # the trading day of each session's last Logon
        self._day_fills: dict[str, DayFills] = {}  # each bound session's fills of the day

    def bind(self, name: str, config: SessionConfig, session: Session) -> list[StoredFill]:
        """Read session ``name``'s store, and have its resets carry the open orders over;
        the fills it reported (for the caller to rebuild the day's P&L from, not kept)."""
        found = recover(stored_reports(session.store))
        session.carry = partial(self._carry, name, config, session.dd)
        fills, found.fills = found.fills, []
        day = self._day_fills[name] = DayFills(config.schedule)
        for fill in fills:
            day.add(fill)
        if found:
            self.stored[name] = found
        return fills

    def keep(self, r: ExecReport, *, fill: bool = True, heard: bool = True) -> None:
        """Keep ``r`` as its order's last report while the order is open (and once it is
        done, that trading day, if ``keep_done``); its fill is one of the day's unless
        ``fill`` is False (a report sent again, counted when it was first sent). ``heard``
        False: its session is logged out, so an order ``r`` ends is :meth:`unheard` until
        the session's next Logon (:meth:`heard`)."""
        if not heard and r.ord_status in FINAL_STATUSES:
            self._unheard.setdefault(r.owner, set()).add(r.order_id)
        if fill and r.last_qty > 0 and r.last_px is not None:
            day = self._day_fills.get(r.owner)
            if day is not None:
                day.add(StoredFill(r.symbol, r.side, r.last_qty, r.last_px, r.time))
        orders = self._open.get(r.owner)
        kept = still_open(r.ord_status, r.leaves)
        if r.orig_cl_ord_id and (kept or self.keep_done):
            chain = self._chains.setdefault(r.owner, {}).setdefault(r.order_id, [])
            chain += [cl for cl in (r.orig_cl_ord_id, r.cl_ord_id) if cl not in chain]
        if kept:
            if orders is None:
                orders = self._open[r.owner] = {}
            orders[r.order_id] = r
            return
        if orders is not None:
            orders.pop(r.order_id, None)
        if self.keep_done:
            self._done.setdefault(r.owner, {})[r.order_id] = r
        elif (chains := self._chains.get(r.owner)) is not None:
            chains.pop(r.order_id, None)

    def _carry(self, owner: str, config: SessionConfig,
               dictionaries: SessionDictionaries) -> list[bytes]:
        """What ``owner``'s store keeps across a reset: the last report of each of its
        orders still open, and of those a restart found lost and has not yet reported;
        with ``keep_done``, of those done too (the stored ones a report since has not
        replaced included)."""
        stored = self.stored.get(owner)
        carried = dict(stored.open) if stored is not None else {}
        kept = [*self._open.get(owner, {}).values()]
        if self.keep_done:
            done = self._done.get(owner, {})
            kept += done.values()
            if stored is not None:
                newer = self._open.get(owner, {}).keys() | done.keys()
                carried |= {order_id: raw for order_id, raw in stored.orders.items()
                            if order_id not in stored.open and order_id not in newer}
        reports = [*carried.values(), *(encode(exec_report_message(r, config), dictionaries)
                                        for r in kept)]
        # every ClOrdID of each order carried, oldest first: what the store read at start
        # names (an order reported since included), then the requests since
        orders = carried.keys() | {r.order_id for r in kept}
        chains: dict[str, list[str]] = {}
        if stored is not None:
            for cl, order_id in stored.ids.items():
                if order_id in orders:
                    chains.setdefault(order_id, []).append(cl)
        for order_id, chain in self._chains.get(owner, {}).items():
            if order_id in orders:
                known = chains.setdefault(order_id, [])
                known += [cl for cl in chain if cl not in known]
        out = [_ids_record(order_id, chain) for order_id, chain in chains.items()
               if len(chain) > 1] + reports
        day = self._day_fills.get(owner)
        return out + day.records() if day is not None else out

    def watch_day(self, owner: str, schedule: Schedule | None, now: datetime) -> None:
        """``owner`` (whose session runs on ``schedule``) has logged on: from now its
        trading day's end is watched (:meth:`days_ended`)."""
        self._schedules[owner] = schedule
        self._day_ends.setdefault(owner, trading_day_end(schedule, now))

    def next_day_end(self) -> datetime | None:
        """The first end of a watched session's trading day (a deadline of the caller's)."""
        return min(self._day_ends.values(), default=None)

    def days_ended(self, now: datetime) -> list[tuple[str, bool]]:
        """Each watched session whose trading day has ended by ``now`` (its next day's end
        is taken), with whether ``now`` is in a later trading day (:meth:`roll_day`: no
        schedule, midnight UTC): the caller expires the day's orders, and on a later day
        frees the done orders' ClOrdIDs, for a session logged on over the end as for one
        away."""
        ended = []
        for owner, end in list(self._day_ends.items()):
            if end <= now:
                schedule = self._schedules.get(owner)
                self._day_ends[owner] = trading_day_end(schedule, now)
                ended.append((owner, self.roll_day(owner, schedule, now)))
        return ended

    def unheard(self, owner: str) -> Container[str]:
        """The OrderIDs of ``owner``'s orders that ended while it was logged out, since its
        last Logon: a new day keeps them (their reports may have been discarded by a
        sequence reset: the client asks by OrderStatusRequest)."""
        return self._unheard.get(owner, ())

    def heard(self, owner: str) -> None:
        """``owner`` has logged on (after its new day, if any): what ended while it was away
        is kept through this day, and forgotten at the next."""
        self._unheard.pop(owner, None)

    def kept(self, owner: str, order_id: str) -> bool:
        """Whether :meth:`keep` holds a report of ``owner``'s order ``order_id`` (open)."""
        return order_id in self._open.get(owner, {})

    def at_logon(self, owner: str, schedule: Schedule | None, now: datetime,
                 exec_id: Callable[[], str]) -> tuple[bool, list[ExecReport]]:
        """At ``owner``'s Logon (:meth:`take_lost`): whether it starts a later trading day
        than its last Logon in this process, and a Canceled report (:data:`RESTART_TEXT`)
        for each order a restart found lost open, made now (not at the restart: a Logon that
        resets sequence numbers would discard reports stored for a logged-out session)."""
        new_day, lost = self.take_lost(owner, schedule, now)
        return new_day, [last_state(raw, owner, exec_id(), CANCELED, now, text=RESTART_TEXT)
                         for raw in lost.values()]

    def take_lost(self, owner: str, schedule: Schedule | None, now: datetime
                  ) -> tuple[bool, dict[str, bytes]]:
        """At ``owner``'s Logon: whether it starts a later trading day than its last Logon in
        this process (the caller frees its done orders' ClOrdIDs), and the last stored
        report of each order a restart found lost open, by OrderID, handed to the caller to
        report (no longer carried over by a reset: the caller's reports are, while open).
        ClOrdIDs are unique within a trading day, so at the first Logon after a restart the
        stored orders last reported on an earlier day are forgotten (a store not reset
        holds several days)."""
        new_day = self.roll_day(owner, schedule, now)
        stored = self.stored.get(owner)
        lost: dict[str, bytes] = {}
        if stored is not None:
            lost, stored.open = stored.open, {}
            if not stored:
                del self.stored[owner]
        return new_day, lost

    def roll_day(self, owner: str, schedule: Schedule | None, now: datetime) -> bool:
        """Whether ``now`` is in a later trading day than ``owner``'s last Logon or roll in
        this process (the caller then frees its done orders' ClOrdIDs): at a Logon, and at
        the end of each trading day for a session that stays logged on over it. What is
        kept of orders done on earlier days is forgotten."""
        day = trading_day(schedule, now)
        previous = self._days.get(owner)
        stored = self.stored.get(owner)
        if previous != day:
            self._days[owner] = day
            done = self._done.get(owner)
            if done:  # (the orders done on an earlier day go, as a running venue's do)
                self._done[owner] = {order_id: r for order_id, r in done.items()
                                     if trading_day(schedule, r.time) >= day}
            chains = self._chains.get(owner)
            if chains:
                live = self._open.get(owner, {}).keys() | self._done.get(owner, {}).keys()
                self._chains[owner] = {order_id: chain for order_id, chain in chains.items()
                                       if order_id in live}
            if stored is not None:
                stored.forget_before(day, partial(trading_day, schedule))
        return previous is not None and previous != day
