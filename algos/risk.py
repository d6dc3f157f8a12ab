"""Pre-trade risk limits per FIX session: configuration from YAML and the gate that applies it.

YAML (validated once, errors name ``FILE:LINE: key: reason``)::

    risk:
      default:                  # every session, unless it overrides a key
        max_order_qty: 10000    # shares per order
        max_notional: 1000000   # qty x price (x mid for a market order), in the price currency
        price_collar_pct: 5     # a limit price at most 5% from the mid; a market order
                                # trades no further than that from it
        max_open_orders: 50     # orders sent and not yet done
        max_daily_loss: 25000   # realized + unrealized (marked to mid) since the day began
        max_orders_per_second: 100  # orders a client sends (new and replaces) in any second
        kill_switch: false      # true: refuse every new order from the start
      sessions:
        CLIENT1:                # the client's CompID
          max_order_qty: 500
          max_notional: null    # null: no limit here, whatever the default says

Every limit is optional. A session's keys replace the default's one by one.

A replace (OrderCancelReplaceRequest, or a parent's) is checked as the order it would become:
its new total quantity and price against the quantity, collar, notional and daily loss
limits and the kill switch, but not max_open_orders (it opens nothing). A replace that only
lowers the quantity at the same price is never refused: like a cancel, it only reduces risk.
``max_orders_per_second`` throttles what a client sends (:meth:`RiskGate.throttle`: new
orders, parents and replaces, in any one-second window; cancels pass): a flood is answered
with rejects, at the rate the client chose to send, and its orders never reach the book.

:class:`RiskGate` is one session's live state: :meth:`RiskGate.check` answers None (accept)
or the reason to reject, in words fit for FIX Text (58); every rejection and every kill is
audited. Whoever sends orders to the venue tells the gate (:meth:`RiskGate.on_order_sent`,
:meth:`RiskGate.on_order_done`, :meth:`RiskGate.on_fill`): the algo runner does it for its
child orders, the order router for a client's direct orders; the market data edge (or the
runner, from its snapshots) feeds mids with :meth:`RiskGate.on_mid`, or the gate is given
a function that knows the current mid (the venue's books) and marks positions with it
whenever the daily P&L is asked for. Cancels are never checked: they only reduce risk.

A market order is valued at the mid (a Price it may carry is not what it trades at). The
caller starts each trading day with :meth:`RiskGate.new_day` (the venue does at the end of
the session's trading day, as its Day orders expire).

Order of checks, first failure wins: kill switch, quantity, price collar, notional, open
orders, daily loss. The daily loss limit refuses new orders once the loss reaches it; it
does not cancel what is working (throw the kill switch for that).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from algos.audit import AuditSink, null_audit
from algos.strategy import Side
from gateway.yamlcheck import Node

__all__ = ["RISK_KEYS", "RiskConfig", "RiskGate", "RiskLimits", "parse_limits", "parse_risk"]

RISK_KEYS = frozenset({"max_order_qty", "max_notional", "price_collar_pct", "max_open_orders",
                       "max_daily_loss", "max_orders_per_second", "kill_switch"})
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """One session's limits; None means no limit. See the module docstring for meanings."""

    max_order_qty: int | None = None
    max_notional: Decimal | None = None
    price_collar_pct: Decimal | None = None
    max_open_orders: int | None = None
    max_daily_loss: Decimal | None = None
    kill_switch: bool = False
    max_orders_per_second: int | None = None


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """The ``risk`` section: defaults and per-session (CompID) overrides, already merged."""

    default: RiskLimits = RiskLimits()
    sessions: Mapping[str, RiskLimits] = field(default_factory=dict)

    def for_session(self, comp_id: str) -> RiskLimits:
        """The limits of the session whose client CompID is ``comp_id``."""
        return self.sessions.get(comp_id, self.default)


def _is_null(node: Node) -> bool:
    return node.node.tag == "tag:yaml.org,2002:null"


def _decimal(node: Node, *, low: float, high: float | None = None) -> Decimal:
    value = node.number(low=low, high=high)
    if value <= low:
        raise node.error(f"expected a number above {low:g}, got {value:g}")
    return Decimal(str(value))


def parse_limits(node: Node, base: RiskLimits = RiskLimits()) -> RiskLimits:
    """A mapping of limit keys over ``base``; a key set to null removes ``base``'s limit."""
    values: dict[str, object] = {}
    for key, child in node.mapping(RISK_KEYS).items():
        if key == "kill_switch":
            values[key] = child.boolean()
        elif _is_null(child):
            values[key] = None
        elif key in ("max_order_qty", "max_open_orders", "max_orders_per_second"):
            values[key] = child.integer(low=1)
        elif key == "price_collar_pct":
            values[key] = _decimal(child, low=0, high=100)
        else:
            values[key] = _decimal(child, low=0)
    return replace(base, **values)  # type: ignore[arg-type]


def parse_risk(node: Node, comp_ids: Collection[str] | None = None) -> RiskConfig:
    """The value of a ``risk:`` key: ``{default: {...}, sessions: {COMPID: {...}}}``. With
    ``comp_ids`` (the configured sessions' client CompIDs), a CompID none of them has is an
    error: a typo would leave that client's orders unchecked by the limits meant for it."""
    top = node.mapping({"default", "sessions"})
    default = parse_limits(top["default"]) if "default" in top else RiskLimits()
    sessions: dict[str, RiskLimits] = {}
    if "sessions" in top:
        node_sessions = top["sessions"]
        for comp_id, child in node_sessions.free_mapping("session CompIDs to limits").items():
            if comp_ids is not None and comp_id not in comp_ids:
                raise child.error(f"no session has the CompID {comp_id!r}; the sessions' "
                                  f"are {', '.join(sorted(comp_ids))}")
            sessions[comp_id] = parse_limits(child, default)
    return RiskConfig(default, sessions)


def _fmt(d: Decimal) -> str:
    return f"{d:f}"


class RiskGate:
    """One session's pre-trade checks and the state they need (open orders, P&L, kill).

    ``session`` names the session in audit records. All methods are cheap and pure in
    the sense of the DESIGN: no clock, no I/O besides the audit callback.
    """

    def __init__(self, limits: RiskLimits, *, session: str = "",
                 audit: AuditSink = null_audit,
                 mids: Callable[[str], Decimal | None] | None = None) -> None:
        self.limits = limits
        self.session = session
        self._audit = audit
        # where the current mid of a symbol is known (the venue's books): positions are
        # marked to it whenever the P&L is asked for, not only when someone feeds on_mid
        self._mids = mids
        self._open: set[str] = set()
        self._position: dict[str, int] = {}
        self._cash = Decimal(0)
        self._marks: dict[str, Decimal] = {}
        self._day_start_value = Decimal(0)
        self._killed: str | None = None
        self._sent: deque[datetime] = deque()  # times of the last second's client orders
        if limits.kill_switch:
            self.kill("kill_switch set in the risk configuration")

    # -- state the callers feed ---------------------------------------------------------------

    def on_order_sent(self, order_id: str) -> None:
        """An order was sent to the venue: it counts as open until :meth:`on_order_done`."""
        self._open.add(order_id)

    def on_order_done(self, order_id: str) -> None:
        """The order is filled, cancelled, expired or rejected (unknown ids are ignored)."""
        self._open.discard(order_id)

    def on_fill(self, symbol: str, side: Side, qty: int, price: Decimal) -> None:
        signed = qty if side == Side.BUY else -qty
        self._position[symbol] = self._position.get(symbol, 0) + signed
        self._cash -= signed * price
        # until a mid arrives, value at the last fill's price (the market's latest word:
        # the first fill's would value a position bought at 100 and again at 85 at 100)
        self._marks[symbol] = price

    def on_mid(self, symbol: str, mid: Decimal) -> None:
        self._marks[symbol] = mid

    def new_day(self) -> None:
        """Start a new trading day: the daily P&L counts from the current value."""
        self._day_start_value = self._value()

    # -- the kill switch ----------------------------------------------------------------------

    def kill(self, reason: str) -> None:
        """Refuse every new order from now on (audited); the caller cancels what is working."""
        self._killed = reason
        self._audit("kill_switch", session=self.session, reason=reason)

    def reset_kill(self, by: str) -> None:
        """Allow orders again; ``by`` says who decided (audited)."""
        self._audit("kill_switch_reset", session=self.session, by=by, reason=self._killed)
        self._killed = None

    @property
    def killed(self) -> str | None:
        """The kill reason, or None when orders are allowed."""
        return self._killed

    # -- views --------------------------------------------------------------------------------

    @property
    def open_orders(self) -> int:
        return len(self._open)

    def position(self, symbol: str) -> int:
        return self._position.get(symbol, 0)

    def _mark(self, symbol: str) -> Decimal:
        mid = self._mids(symbol) if self._mids is not None else None
        if mid is not None:
            self._marks[symbol] = mid
        return self._marks[symbol]

    def _value(self) -> Decimal:
        return self._cash + sum(
            (q * self._mark(s) for s, q in self._position.items() if q), Decimal(0))

    def daily_pnl(self) -> Decimal:
        """Realized + unrealized P&L since :meth:`new_day`, positions marked to the mid."""
        return self._value() - self._day_start_value

    # -- the check ----------------------------------------------------------------------------

    def check(self, symbol: str, side: Side, qty: int, price: Decimal | None,
              mid: Decimal | None, *, bounded: bool = False,
              notional: Callable[[], Decimal] | None = None) -> str | None:
        """None if a new order may go, else why not (audited as ``risk_reject``).

        ``price`` None is a market order; ``mid`` is the current mid in ``symbol`` (None
        when unknown: a configured collar then refuses a priced order, and a notional limit
        refuses a market order, since neither can be judged). ``bounded``: the market order
        will be held to the collar (:meth:`market_bound`), which without a mid it cannot be.
        ``notional``: the most the order can trade for, where the caller knows the book (a
        venue: what it takes from the book now plus its rest at its limit); without it the
        order is valued at its limit, a sell below the mid or a market order at the mid.
        """
        reason = self._breach(symbol, side, qty, price, mid, notional=notional)
        if (reason is None and bounded and price is None and mid is None
                and self.limits.price_collar_pct is not None):
            reason = f"no mid price in {symbol} to hold a market order to the price collar"
        if reason is not None:
            self._audit("risk_reject", session=self.session, symbol=symbol,
                        side=Side(side).name, qty=qty,
                        price=None if price is None else _fmt(price), reason=reason)
        return reason

    def check_replace(self, symbol: str, side: Side, qty: int, price: Decimal | None,
                      old_qty: int, old_price: Decimal | None, mid: Decimal | None, *,
                      notional: Callable[[], Decimal] | None = None) -> str | None:
        """None if an order of ``old_qty`` at ``old_price`` may become ``qty`` at ``price``,
        else why not (audited as ``risk_reject`` with ``request: replace``): the new order's
        checks without max_open_orders (``notional`` as for :meth:`check`); a lower quantity
        at the same price always passes."""
        if qty <= old_qty and price == old_price:
            return None
        reason = self._breach(symbol, side, qty, price, mid, opens=False, notional=notional)
        if reason is not None:
            self._audit("risk_reject", session=self.session, symbol=symbol,
                        side=Side(side).name, qty=qty,
                        price=None if price is None else _fmt(price), reason=reason,
                        request="replace")
        return reason

    def market_bound(self, side: Side, mid: Decimal | None) -> Decimal | None:
        """The price collar's edge on ``side`` of ``mid``, the furthest a market order may
        trade (None: no collar, or no mid, in which case :meth:`check` judged it already)."""
        collar = self.limits.price_collar_pct
        if collar is None or mid is None:
            return None
        return mid * (1 + collar / 100 if side == Side.BUY else 1 - collar / 100)

    def throttle(self, now: datetime) -> str | None:
        """None if the client may send one more order at ``now`` (then it counts), else why
        not (audited as ``risk_reject``): at most max_orders_per_second in any second. With
        the kill switch thrown nothing is counted: the checks refuse every order for the
        kill, which is what the client must be told."""
        limit = self.limits.max_orders_per_second
        if limit is None or self._killed is not None:
            return None
        sent = self._sent
        while sent and sent[0] <= now - _SECOND:
            sent.popleft()
        if len(sent) >= limit:
            reason = f"more than max_orders_per_second {limit} orders in one second"
            self._audit("risk_reject", session=self.session, reason=reason)
            return reason
        sent.append(now)
        return None

    def _breach(self, symbol: str, side: Side, qty: int, price: Decimal | None,
                mid: Decimal | None, *, opens: bool = True,
                notional: Callable[[], Decimal] | None = None) -> str | None:
        lim = self.limits
        if self._killed is not None:
            return f"kill switch: {self._killed}"
        if qty <= 0:
            return f"order quantity {qty} is not positive"
        if lim.max_order_qty is not None and qty > lim.max_order_qty:
            return f"order quantity {qty} exceeds max_order_qty {lim.max_order_qty}"
        if lim.price_collar_pct is not None and price is not None:
            if mid is None or mid <= 0:
                return f"no mid price in {symbol} to check the price collar"
            off = abs(price - mid) / mid * 100
            if off > lim.price_collar_pct:
                return (f"price {_fmt(price)} is {off:.2f}% from the mid {_fmt(mid)}, outside "
                        f"price_collar_pct {_fmt(lim.price_collar_pct)}")
        if lim.max_notional is not None and notional is not None:
            # the most it can trade for: a sell priced below the bids, or a market order
            # sweeping the book, trades at the book's prices, not at its limit or the mid
            most = notional()
            if most > lim.max_notional:
                return (f"order notional {_fmt(most.normalize())} (at the prices it can "
                        f"trade at) exceeds max_notional {_fmt(lim.max_notional)}")
        elif lim.max_notional is not None:
            ref = price if price is not None else mid
            if ref is None:
                return f"no mid price in {symbol} to value a market order against max_notional"
            # a sell priced below the market trades at the market, not at its limit (a buy
            # never trades above its limit): valued at the mid, or a low limit would let
            # any quantity through
            if side == Side.SELL and price is not None and mid is not None and mid > price:
                ref, valued = mid, f" (valued at the mid {_fmt(mid)}, above its limit)"
            else:
                valued = ""
            value = qty * ref
            if value > lim.max_notional:
                return (f"order notional {_fmt(value)}{valued} exceeds max_notional "
                        f"{_fmt(lim.max_notional)}")
        if opens and lim.max_open_orders is not None and len(self._open) >= lim.max_open_orders:
            return f"{len(self._open)} open orders already at max_open_orders {lim.max_open_orders}"
        if lim.max_daily_loss is not None:
            loss = -self.daily_pnl()
            if loss >= lim.max_daily_loss:
                return (f"daily loss {loss:.2f} reached max_daily_loss "
                        f"{_fmt(lim.max_daily_loss)}")
        return None
