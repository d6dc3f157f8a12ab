"""The naive baseline (algos.baselines.MarketAtStart) on the runner harness."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from algos.baselines import MarketAtStart
from algos.risk import RiskGate, RiskLimits
from algos.runner import RETRY
from algos.strategy import MarketSnapshot
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


def test_a_rejected_order_is_sent_again_and_stops_only_after_one_has_worked() -> None:
    """A reject (the venue's, or the router's with its link down) means the order never
    worked: the next snapshot sends it again, not a stop with nothing done."""
    venue = Venue(ask_qty=300, reject="venue busy")
    h = Harness(make_parent(1000, minutes=10), MarketAtStart, venue=venue)
    h.step(T0)  # sent, and the reject arrives
    assert h.done() is None and h.runner.state.rejected == 1
    venue.reject = None
    h.step(T0 + 2 * MS)  # sent again, takes the 300 shown
    assert [(c.qty, c.price) for c in venue.submits] == [(1000, None), (1000, None)]
    assert h.filled == 300
    h.runner.on_child_done(venue.submits[1].child_id, "remainder canceled", T0 + 3 * MS)
    done = h.done()
    assert done is not None and (done.reason, done.cum_qty) == ("stopped", 300)
    assert "over" in done.text
    assert [c["reason"] for c in h.audited("child_sent")] == [
        "naive: all at the start", "naive: all again, its order was rejected"]


def test_rejects_in_a_row_stop_it_as_they_stop_any_parent() -> None:
    venue = Venue(reject="unknown symbol")
    h = Harness(make_parent(1000, minutes=10), MarketAtStart, venue=venue)
    h.run(T0 + timedelta(seconds=10))
    done = h.done()
    assert len(venue.submits) == 5
    assert done is not None and done.reason == "stopped" and done.cum_qty == 0
    assert "5 child orders rejected in a row, last: unknown symbol" in done.text


def test_an_order_risk_refused_stops_it_saying_why() -> None:
    """The runner would not send it: the parent stops at once with risk's reason (its
    wake-up is due: no market update needed), not left to wait for its end time."""
    venue = Venue()
    h = Harness(make_parent(1000, minutes=10), MarketAtStart, venue=venue,
                risk=RiskGate(RiskLimits(max_order_qty=500)))
    h.runner.on_timer(T0)  # the start, in a market that does not move
    assert h.runner.next_wakeup() == T0
    h.runner.on_timer(T0)
    assert venue.submits == []
    done = h.done()
    assert done is not None and (done.reason, done.time) == ("stopped", T0)
    assert done.text.startswith("naive: its one order was not sent; risk refused its last "
                                "child: ")
    assert "500" in done.text


def test_a_rejected_order_is_sent_again_a_moment_later_in_a_quiet_market() -> None:
    """No market update after the reject: its wake-up sends it again RETRY later (not at
    the parent's end, ten minutes on)."""
    venue = Venue(reject="venue busy", sync=True)
    h = Harness(make_parent(1000, minutes=10), MarketAtStart, venue=venue)
    h.runner.on_timer(T0)
    assert h.runner.state.rejected == 1
    assert h.runner.next_wakeup() == T0 + RETRY
    # time moves on without a word for the strategy (another symbol's book): the same time
    h.runner.on_market_snapshot(MarketSnapshot(time=T0 + RETRY / 2, symbol="MSFT", bid=None,
                                               bid_qty=0, ask=None, ask_qty=0))
    assert h.runner.next_wakeup() == T0 + RETRY
    venue.reject, venue.now = None, T0 + RETRY
    h.runner.on_timer(T0 + RETRY)
    assert [c.time for c in venue.submits] == [T0, T0 + RETRY]
    assert h.filled == 1000
