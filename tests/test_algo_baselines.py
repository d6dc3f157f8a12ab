"""The naive baseline (algos.baselines.MarketAtStart) on the runner harness."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from algos.baselines import MarketAtStart
from tests.test_algo_harness import T0, Harness, Venue, make_parent

MS = timedelta(milliseconds=1)


def test_the_parent_stops_when_its_one_market_order_is_over() -> None:
    """The market order takes the 300 shown; the venue cancels its remainder: the parent
    ends then, 700 unfilled, not at its end time ten minutes later (the client hears it is
    over; a backtest prices the unfilled part at that moment)."""
    venue = Venue(ask_qty=300)
    h = Harness(make_parent(1000, minutes=10), MarketAtStart, venue=venue)
    h.step(T0)
    [child] = venue.submits
    assert (child.qty, child.price) == (1000, None)
    assert h.filled == 300 and h.done() is None
    venue.resting.pop(child.child_id)
    h.runner.on_child_done(child.child_id, "market order remainder canceled", T0 + MS)
    done = h.done()
    assert done is not None
    assert (done.reason, done.time, done.cum_qty, done.unfilled) == ("stopped", T0 + MS, 300, 700)
    assert done.text.startswith("naive:")
    h.run(T0 + timedelta(minutes=1))
    assert len(venue.submits) == 1


def test_a_filled_parent_ends_filled() -> None:
    venue = Venue(ask_qty=5000)
    h = Harness(make_parent(1000, minutes=10), MarketAtStart, venue=venue)
    h.step(T0)
    done = h.done()
    assert done is not None and (done.reason, done.cum_qty) == ("filled", 1000)


def test_a_limit_order_resting_for_the_rest_ends_at_the_end_time() -> None:
    """A limit parent's one order (below the ask) rests: the parent works until its end,
    then expires."""
    venue = Venue(ask_qty=300)
    h = Harness(make_parent(1000, minutes=1, limit="10.00"), MarketAtStart, venue=venue)
    h.run(T0 + timedelta(seconds=59))
    assert h.done() is None and h.runner.state.working_qty == 1000
    assert venue.submits[0].price == Decimal("10.00")
    h.step(T0 + timedelta(minutes=1))
    done = h.done()
    assert done is not None and (done.reason, done.unfilled) == ("expired", 1000)
    assert done.time == T0 + timedelta(minutes=1)
