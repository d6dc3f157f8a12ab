"""The algo tests' harness: a fake venue that answers child orders by simple rules, and a
driver that runs an AlgoRunner in virtual time. The tests at the bottom check the harness
itself, so the algo tests built on it rest on rules that are known to hold.

Venue rules (one symbol, a top of book the test sets):

* a child that crosses the displayed far side (a buy at or above the ask) fills at the ask,
  up to the displayed ask quantity (the book is not depleted: displayed liquidity refreshes);
* an IOC's unfilled rest is cancelled; a DAY child rests, and fills when the book moves
  through it or when :meth:`Venue.trade` prints at its price or better;
* a cancel of a resting child is confirmed (unless ``hold_cancels``: then only when the test
  calls :meth:`Venue.release_cancels`, so fills can race the cancel); ``reject`` makes the
  next submits fail.

Answers are queued and delivered by :meth:`Venue.deliver` (asynchronous, like a real
venue), or at once from inside ``submit``/``cancel`` with ``sync=True`` (re-entrant).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from algos.registry import StrategyFactory
from algos.risk import RiskGate
from algos.runner import AlgoRunner, ParentDone, ParentEvent, ParentFill, Tif
from algos.strategy import MarketSnapshot, ParentOrder, Side
from algos.twap import Twap

T0 = datetime(2024, 6, 3, 14, 0, tzinfo=UTC)  # 10:00 in New York
SYMBOL = "AAPL"


def make_parent(qty: int = 1000, *, minutes: float = 10, side: Side = Side.BUY,
                limit: str | None = None, lot: int = 100, participation: float | None = None,
                start: datetime = T0, id: str = "P1", extra: dict[str, str] | None = None,
                **params: str) -> ParentOrder:
    """A parent starting at ``start``; strategy parameters as keywords or in ``extra``."""
    return ParentOrder(id=id, symbol=SYMBOL, side=side, qty=qty,
                       limit=None if limit is None else Decimal(limit), start=start,
                       end=start + timedelta(minutes=minutes), participation=participation,
                       params={**params, **(extra or {})}, lot_size=lot)


@dataclass
class VenueOrder:
    child_id: str
    side: Side
    qty: int
    leaves: int
    price: Decimal | None
    tif: Tif
    time: datetime


@dataclass
class Venue:
    bid: Decimal | None = Decimal("10.00")
    ask: Decimal | None = Decimal("10.02")
    bid_qty: int = 1000
    ask_qty: int = 1000
    sync: bool = False
    volume: int = 0
    now: datetime = T0
    reject: str | None = None
    runner: AlgoRunner | None = None
    resting: dict[str, VenueOrder] = field(default_factory=dict)
    submits: list[VenueOrder] = field(default_factory=list)
    cancels: list[tuple[datetime, str]] = field(default_factory=list)
    fills: list[tuple[datetime, str, int, Decimal]] = field(default_factory=list)
    outbox: deque[Callable[[AlgoRunner], None]] = field(default_factory=deque)
    #: cancels are recorded but not carried out until :meth:`release_cancels`
    hold_cancels: bool = False
    held: list[str] = field(default_factory=list)

    # -- ChildRouter ----------------------------------------------------------------------

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Tif, reason: str = "") -> None:
        assert symbol == SYMBOL and qty > 0
        if self.runner is not None:  # the parent as it is now (a replace may change it)
            parent = self.runner.parent
            # Whole lots, except a child that completes the parent: odd partial fills at
            # the venue leave an odd remainder, which goes last.
            assert side == parent.side, child_id
            assert qty % parent.lot_size == 0 or self.runner.state.remaining == 0, (
                child_id, qty)
            if parent.limit is not None:
                assert price is not None, "a limit parent's child must be priced"
                assert (price <= parent.limit) if side == Side.BUY else (
                    price >= parent.limit), f"{child_id} at {price} beyond {parent.limit}"
            assert price is None or price % parent.tick_size == 0, price
        order = VenueOrder(child_id, side, qty, qty, price, tif, self.now)
        self.submits.append(order)
        if self.reject is not None:
            reason = self.reject
            self._answer(lambda r: r.on_child_reject(child_id, reason, self.now))
            return
        self._answer(lambda r: r.on_child_ack(child_id, self.now))
        self._match(order)
        if order.leaves and tif == "ioc":
            self._answer(lambda r: r.on_child_done(child_id, "ioc remainder", self.now))
        elif order.leaves:
            self.resting[child_id] = order

    def cancel(self, child_id: str) -> None:
        self.cancels.append((self.now, child_id))
        if self.hold_cancels:
            self.held.append(child_id)
        elif self.resting.pop(child_id, None) is not None:
            self._answer(lambda r: r.on_child_done(child_id, "canceled", self.now))

    def release_cancels(self) -> None:
        """Carry out the cancels held back by ``hold_cancels`` (for children still resting)."""
        self.hold_cancels = False
        for child_id in self.held:
            self.cancel(child_id)
        self.held.clear()

    # -- the market -----------------------------------------------------------------------

    def _answer(self, call: Callable[[AlgoRunner], None]) -> None:
        if self.sync:
            assert self.runner is not None
            call(self.runner)
        else:
            self.outbox.append(call)

    def _fill(self, order: VenueOrder, qty: int, price: Decimal) -> None:
        order.leaves -= qty
        self.volume += qty
        self.fills.append((self.now, order.child_id, qty, price))
        cid, exec_id = order.child_id, f"E{len(self.fills)}"
        self._answer(lambda r: r.on_child_fill(cid, qty, price, self.now, exec_id=exec_id))

    def _match(self, order: VenueOrder) -> None:
        far, far_qty = (self.ask, self.ask_qty) if order.side == Side.BUY else (
            self.bid, self.bid_qty)
        if far is None or far_qty <= 0:
            return
        crosses = order.price is None or (
            order.price >= far if order.side == Side.BUY else order.price <= far)
        if crosses:
            self._fill(order, min(order.leaves, far_qty), far)

    def match_resting(self) -> None:
        """Resting children the book has moved through fill at the far touch."""
        for order in list(self.resting.values()):
            self._match(order)
            if not order.leaves:
                del self.resting[order.child_id]

    def trade(self, price: Decimal, qty: int) -> None:
        """Someone trades ``qty`` at ``price``: resting children at that price or better
        fill first (oldest first), the rest is other people's volume."""
        left = qty
        for order in sorted(self.resting.values(), key=lambda o: o.time):
            if left <= 0:
                break
            assert order.price is not None
            better = order.price >= price if order.side == Side.BUY else order.price <= price
            if better:
                q = min(left, order.leaves)
                self._fill(order, q, order.price)
                left -= q
                if not order.leaves:
                    del self.resting[order.child_id]
        self.volume += left

    def deliver(self) -> None:
        assert self.runner is not None
        while self.outbox:
            self.outbox.popleft()(self.runner)

    def snapshot(self) -> MarketSnapshot:
        return MarketSnapshot(time=self.now, symbol=SYMBOL, bid=self.bid, bid_qty=self.bid_qty,
                              ask=self.ask, ask_qty=self.ask_qty, volume=self.volume)


class Harness:
    """An AlgoRunner on a :class:`Venue`, stepped in virtual time."""

    def __init__(self, parent: ParentOrder, factory: StrategyFactory = Twap, *,
                 venue: Venue | None = None, risk: RiskGate | None = None,
                 sync: bool = False, created: datetime | None = None) -> None:
        self.venue = venue if venue is not None else Venue(sync=sync)
        self.venue.now = created or parent.start
        self.events: list[ParentEvent] = []
        self.audits: list[tuple[str, dict[str, Any]]] = []
        self.runner = AlgoRunner(parent, factory, self.venue, now=self.venue.now,
                                 on_event=self.events.append, audit=self._audit, risk=risk)
        self.venue.runner = self.runner  # from now on every submit is checked against it
        self.checks: list[Callable[[Harness], None]] = [check_invariants]

    def _audit(self, event: str, /, **fields: Any) -> None:
        self.audits.append((event, fields))

    @property
    def now(self) -> datetime:
        return self.venue.now

    def step(self, now: datetime) -> None:
        """Move to ``now``: venue answers, the book moves through resting children, a
        snapshot, and the timer when due."""
        self.venue.now = now
        self.venue.deliver()
        self.venue.match_resting()
        self.venue.deliver()
        self.runner.on_market_snapshot(self.venue.snapshot())
        self.venue.deliver()
        for _ in range(10):
            wake = self.runner.next_wakeup()
            if wake is None or wake > now:
                break
            self.runner.on_timer(now)
            self.venue.deliver()
        for check in self.checks:
            check(self)

    def run(self, until: datetime, every: timedelta = timedelta(seconds=1),
            before: Callable[[Harness], None] | None = None) -> None:
        """Step from the current time to ``until`` (included), calling ``before`` first at
        each step so a test can move the market."""
        t = self.now
        while t <= until:
            self.venue.now = t
            if before is not None:
                before(self)
            self.step(t)
            t += every

    # -- views ----------------------------------------------------------------------------

    @property
    def filled(self) -> int:
        return self.runner.state.filled

    def done(self) -> ParentDone | None:
        found = [e for e in self.events if isinstance(e, ParentDone)]
        assert len(found) <= 1, found
        return found[0] if found else None

    def fills(self) -> list[ParentFill]:
        return [e for e in self.events if isinstance(e, ParentFill)]

    def audited(self, event: str) -> list[dict[str, Any]]:
        return [f for e, f in self.audits if e == event]


def check_invariants(h: Harness) -> None:
    state = h.runner.state
    assert state.filled + state.working_qty <= state.parent.qty, state
    # The venue's resting orders are exactly the runner's working children that the venue
    # has not answered about yet (answers may still be queued).
    if not h.venue.outbox:
        assert set(h.venue.resting) == set(state.working), (h.venue.resting, state.working)


# -- tests of the harness ---------------------------------------------------------------------


def test_venue_fills_a_crossing_child_and_cancels_an_ioc_rest() -> None:
    h = Harness(make_parent(1000, Slices="1"))
    v = h.venue
    v.ask_qty = 300
    v.submit("c1", SYMBOL, Side.BUY, 500, Decimal("10.02"), "ioc")
    assert v.fills == [(T0, "c1", 300, Decimal("10.02"))]
    assert "c1" not in v.resting and len(v.outbox) == 3  # ack, fill, done


def test_venue_trade_fills_resting_children_at_their_price_first() -> None:
    h = Harness(make_parent(1000, Slices="1"))
    v = h.venue
    v.submit("c1", SYMBOL, Side.BUY, 200, Decimal("10.00"), "day")
    v.trade(Decimal("10.00"), 500)
    assert v.fills == [(T0, "c1", 200, Decimal("10.00"))]
    assert v.volume == 500 and not v.resting
