"""The venue under any sequence of requests from two clients: what every FIX client of a
matching venue relies on, checked after each request.

* nothing raises, whatever the fields (zero, negative and huge quantities, prices off the
  tick or outside the band, unknown symbols, reused ClOrdIDs, cancels of unknown orders);
* every ExecutionReport goes to the owner of its order, ExecIDs are unique, and per order
  CumQty never goes down, CumQty + LeavesQty <= OrderQty, and LastQty is what CumQty grew by;
* shares bought equal shares sold, at the same prices (every trade has two sides);
* the book is never left crossed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from engine.book_types import Side
from gateway.venue import NewOrder, Venue
from gateway.venue_config import SymbolSpec, VenueConfig
from gateway.venue_orders import ExecReport, Report

T0 = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
OWNERS = ("CLIENT1", "CLIENT2")
TICK = Decimal("0.01")
# mostly orders a venue accepts (so they rest and trade), sometimes what it must refuse
GOOD_PRICES = st.integers(9_990, 10_010).map(lambda n: Decimal(n) / 100)
PRICES = st.one_of(GOOD_PRICES, GOOD_PRICES, GOOD_PRICES,
                   st.sampled_from([Decimal("100.005"), Decimal(0), Decimal(-1),
                                    Decimal("1e6"), Decimal("150.00")]))
GOOD_QTYS = st.sampled_from([10, 20, 50, 100, 250])
QTYS = st.one_of(GOOD_QTYS, GOOD_QTYS, GOOD_QTYS, st.integers(-20, 10**7), st.just(10**15))
CL_IDS = st.sampled_from([f"C{k}" for k in range(30)])


class VenueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        spec = SymbolSpec("AAPL", tick_size=TICK, lot_size=10, band_pct=Decimal(10),
                          max_qty=1_000_000)
        self.venue = Venue(VenueConfig({"AAPL": spec}), id_prefix="p-")
        self.now = T0
        self.exec_ids: set[str] = set()
        self.owner_of: dict[str, str] = {}  # OrderID -> owner
        self.cum: dict[tuple[str, str], int] = {}  # (owner, OrderID) -> CumQty
        self.bought: Counter[Decimal] = Counter()
        self.sold: Counter[Decimal] = Counter()

    def _take(self, owner: str, reports: list[Report]) -> None:
        self.now += timedelta(milliseconds=1)
        for r in reports:
            # a report for another owner can only be the other side of a trade
            other_side = isinstance(r, ExecReport) and r.exec_type == "F"
            assert r.owner == owner or other_side, (owner, r)
            if not isinstance(r, ExecReport):
                continue
            assert r.exec_id not in self.exec_ids
            self.exec_ids.add(r.exec_id)
            if r.order_id != "NONE":
                assert self.owner_of.setdefault(r.order_id, r.owner) == r.owner
            if r.exec_type == "8":  # a reject echoes the request's OrderQty, whatever it was
                assert (r.cum, r.leaves, r.last_qty) == (0, 0, 0), r
                continue
            assert min(r.cum, r.leaves) >= 0 and r.cum + r.leaves <= r.qty, r
            key = (r.owner, r.order_id)
            before = self.cum.get(key, 0)
            assert r.cum >= before, r
            assert r.last_qty == r.cum - before, r
            self.cum[key] = r.cum
            if r.last_qty:
                assert r.last_px is not None
                (self.bought if r.side == Side.BUY else self.sold)[r.last_px] += r.last_qty

    @rule(owner=st.sampled_from(OWNERS), cl=CL_IDS, side=st.sampled_from([Side.BUY, Side.SELL]),
          qty=QTYS, price=st.one_of(st.none(), PRICES),
          tif=st.sampled_from(["0", "0", "0", "1", "3", "4", "6", "9"]),
          symbol=st.sampled_from(["AAPL"] * 5 + ["ZZZZ"]))
    def new(self, owner: str, cl: str, side: Side, qty: int, price: Decimal | None, tif: str,
            symbol: str) -> None:
        req = NewOrder(owner, cl, symbol, side, "1" if price is None else "2", qty, price, tif)
        self._take(owner, self.venue.new_order(req, self.now))

    @rule(owner=st.sampled_from(OWNERS), cl=CL_IDS, side=st.sampled_from([Side.BUY, Side.SELL]),
          qty=GOOD_QTYS, price=GOOD_PRICES)
    def new_limit(self, owner: str, cl: str, side: Side, qty: int, price: Decimal) -> None:
        # a plain day limit order: the flow that rests and trades, drawn as often as the rest
        self._take(owner, self.venue.new_order(
            NewOrder(owner, cl, "AAPL", side, "2", qty, price), self.now))

    @rule(owner=st.sampled_from(OWNERS), cl=CL_IDS, orig=CL_IDS)
    def cancel(self, owner: str, cl: str, orig: str) -> None:
        self._take(owner, self.venue.cancel(owner, cl, orig, self.now))

    @rule(owner=st.sampled_from(OWNERS), cl=CL_IDS, orig=CL_IDS, qty=QTYS,
          price=st.one_of(st.none(), PRICES))
    def replace(self, owner: str, cl: str, orig: str, qty: int, price: Decimal | None) -> None:
        self._take(owner, self.venue.replace(owner, cl, orig, qty, price, self.now))

    @rule(owner=st.sampled_from(OWNERS), cl=CL_IDS)
    def status(self, owner: str, cl: str) -> None:
        found = self.venue.status(owner, cl, self.now)
        if found is not None:  # the order as it is now: after a replace, its newest ClOrdID
            assert found.owner == owner and self.owner_of.get(found.order_id) == owner

    @invariant()
    def trades_have_two_sides(self) -> None:
        assert self.bought == self.sold

    @invariant()
    def the_book_is_not_crossed(self) -> None:
        book = self.venue.books["AAPL"]
        bids, asks = book.depth(Side.BUY, 1), book.depth(Side.SELL, 1)
        if bids and asks:
            assert bids[0].price < asks[0].price


VenueMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                          deadline=None)
test_venue_invariants = VenueMachine.TestCase
