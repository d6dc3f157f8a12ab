"""TWAP through the runner on the fake venue: slicing, crossing, carry-forward, catch-up,
limits, lots, MaxChildQty, and bad parameters."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from algos.runner import AlgoRunner
from algos.slicing import StrategyParameterError
from algos.strategy import MarketWatch, Side
from algos.twap import Twap
from tests.test_algo_harness import T0, Harness, Venue, make_parent

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


def filled_by(h: Harness, t: Any) -> int:
    return sum(q for when, _, q, _ in h.venue.fills if when <= t)


def test_equal_slices_posted_passive_then_crossed_at_half_time() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 10 * MIN)
    # Nobody trades with the passive child: every slice crosses at its half and fills there.
    for i in range(10):
        assert filled_by(h, T0 + i * MIN + 29 * SEC) == 100 * i
        assert filled_by(h, T0 + i * MIN + 30 * SEC) == 100 * (i + 1)
    first, second = h.venue.submits[:2]
    assert (first.time, first.qty, first.price, first.tif) == (T0, 100, Decimal("10.00"), "day")
    assert (second.time, second.price) == (T0 + 30 * SEC, Decimal("10.02"))
    assert h.venue.cancels[0] == (T0 + 30 * SEC, first.child_id)
    done = h.done()
    assert done is not None and done.reason == "filled" and done.unfilled == 0
    assert done.avg_px == Decimal("10.02")


def test_passive_fills_mean_no_crossing() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"))

    def sellers_hit_the_bid(h: Harness) -> None:
        if h.now.second == 10:
            h.venue.trade(Decimal("10.00"), 100)

    h.run(T0 + 10 * MIN, before=sellers_hit_the_bid)
    assert h.filled == 1000
    assert {o.price for o in h.venue.submits} == {Decimal("10.00")}
    assert not h.venue.cancels


def test_unfilled_quantity_carries_into_the_next_slice() -> None:
    # No sellers at all during the first two slices: the crossing children rest unfilled.
    venue = Venue(ask_qty=0)
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.run(T0 + 2 * MIN - SEC)
    assert h.filled == 0
    assert h.runner.state.working_qty == 200  # slice 1 and slice 2 both still working
    venue.ask_qty = 1000  # sellers come back: everything resting at the ask trades
    h.run(T0 + 2 * MIN + 30 * SEC)
    assert h.filled == 300  # on schedule again by the third slice's half


def test_catch_up_sends_the_rest_ioc_when_liquidity_allows() -> None:
    venue = Venue(ask_qty=0)  # the displayed ask never trades ...
    h = Harness(make_parent(1000, minutes=10, Slices="10", limit="10.05"), venue=venue)
    h.run(T0 + 9 * MIN + 50 * SEC)
    assert h.filled == 0
    catch_up = h.runner.strategy
    assert isinstance(catch_up, Twap)
    assert catch_up.catch_up_at == T0 + 10 * MIN - 15 * SEC

    def liquidity_above(h: Harness) -> None:
        venue.ask, venue.ask_qty = Decimal("10.03"), 5000  # ... until sellers show higher

    h.run(T0 + 10 * MIN - SEC, before=liquidity_above)
    assert h.filled == 1000
    iocs = [o for o in venue.submits if o.tif == "ioc"]
    assert iocs and all(o.price == Decimal("10.03") for o in iocs)
    assert all(o.time >= catch_up.catch_up_at for o in iocs)
    done = h.done()
    assert done is not None and done.reason == "filled"


def test_a_replace_late_in_the_window_keeps_the_parents_catch_up() -> None:
    """A limit-only replace at 9:48 of a 10-minute parent (catch-up from 9:45): the strategy
    rebuilt over the 12 s left keeps the parent's catch-up point and sends the rest IOC as
    liquidity shows; planned from the time left (slices of 1.2 s) it had moved catch-up to
    9:59.7 and left the parent 200 short."""
    venue = Venue(ask_qty=0)
    h = Harness(make_parent(1000, minutes=10, Slices="10", limit="10.05"), venue=venue)
    h.run(T0 + 9 * MIN + 48 * SEC)
    h.runner.replace(dataclasses.replace(h.runner.parent, id="P1b", limit=Decimal("10.06")),
                     h.now)
    venue.deliver()
    rebuilt = h.runner.strategy
    assert isinstance(rebuilt, Twap) and rebuilt.catch_up_at == T0 + 10 * MIN - 15 * SEC

    def sellers(h: Harness) -> None:
        if h.now >= T0 + 9 * MIN + 50 * SEC:
            venue.ask_qty = 100  # a little each second

    h.run(T0 + 10 * MIN + SEC, before=sellers)
    done = h.done()
    assert done is not None and (done.reason, h.filled) == ("filled", 1000)


def test_catch_up_beyond_the_limit_waits_at_the_limit_then_expires() -> None:
    venue = Venue(ask=Decimal("10.10"))
    h = Harness(make_parent(1000, minutes=10, Slices="10", limit="10.05"), venue=venue)
    h.run(T0 + 10 * MIN + SEC)
    assert h.filled == 0
    assert all(o.price is not None and o.price <= Decimal("10.05") for o in venue.submits)
    assert not [o for o in venue.submits if o.tif == "ioc"]  # an IOC could not fill
    done = h.done()
    assert done is not None
    assert (done.reason, done.cum_qty, done.unfilled) == ("expired", 0, 1000)
    assert done.text == "the market was beyond the limit 10.05 at the end (10.10)"
    assert not h.runner.state.working and not venue.resting


def test_a_parent_that_never_saw_a_book_says_so_when_it_expires() -> None:
    venue = Venue(bid=None, ask=None)
    h = Harness(make_parent(1000, minutes=2, Slices="2"), venue=venue)
    h.run(T0 + 2 * MIN + SEC)
    done = h.done()
    assert done is not None and (done.reason, done.unfilled) == ("expired", 1000)
    assert done.text == "no usable book of AAPL seen (none, or only empty or crossed ones)"


def test_sell_limit_is_a_floor() -> None:
    venue = Venue(bid=Decimal("9.95"), ask=Decimal("10.02"))
    h = Harness(make_parent(500, minutes=5, Slices="5", side=Side.SELL, limit="9.99"),
                venue=venue)
    h.run(T0 + 5 * MIN)
    assert venue.submits and all(o.price is not None and o.price >= Decimal("9.99")
                                 for o in venue.submits)
    assert h.filled == 0  # the bid never reached the floor


def test_fewer_lots_than_slices_spread_evenly() -> None:
    h = Harness(make_parent(300, minutes=10, Slices="10"))
    strategy = h.runner.strategy
    assert isinstance(strategy, Twap)
    assert strategy.targets == [0, 100, 100, 100, 200, 200, 200, 200, 300, 300]
    h.run(T0 + 10 * MIN)
    sent_in_slices = sorted({int((o.time - T0) / MIN) for o in h.venue.submits})
    assert sent_in_slices == [1, 4, 8]
    assert all(o.qty == 100 for o in h.venue.submits)
    assert h.filled == 300


def test_one_lot_over_many_slices_goes_in_the_middle() -> None:
    h = Harness(make_parent(100, minutes=10, Slices="10"))
    strategy = h.runner.strategy
    assert isinstance(strategy, Twap)
    assert strategy.targets.index(100) == 4  # half-up rounding: 0.5 of the lot by slice 5


def test_max_child_qty_splits_children() -> None:
    h = Harness(make_parent(1000, minutes=2, Slices="2", MaxChildQty="250"))
    h.step(T0)
    assert [o.qty for o in h.venue.submits] == [200, 200, 100]  # 250 rounds down to lots
    h.run(T0 + 2 * MIN)
    assert h.filled == 1000
    assert max(o.qty for o in h.venue.submits) == 200


def test_odd_lot_free_parent_with_lot_one() -> None:
    h = Harness(make_parent(7, minutes=3, Slices="3", lot=1))
    strategy = h.runner.strategy
    assert isinstance(strategy, Twap)
    assert strategy.targets == [2, 5, 7]


def test_a_buy_facing_offers_alone_posts_inside_the_ask_then_crosses() -> None:
    # The outside test's case: one client rests offers, the other works a TWAP buy. With no
    # bid to join, the passive child bids one tick under the ask; at half-slice it lifts it.
    venue = Venue(bid=None)
    h = Harness(make_parent(1000, minutes=10, Slices="10", limit="10.05"), venue=venue)
    h.run(T0 + 10 * MIN)
    first, second = venue.submits[:2]
    assert (first.time, first.price, first.tif) == (T0, Decimal("10.01"), "day")
    assert (second.time, second.price) == (T0 + 30 * SEC, Decimal("10.02"))
    assert h.filled == 1000
    done = h.done()
    assert done is not None and done.reason == "filled"


def test_a_sell_facing_bids_alone_posts_inside_the_bid() -> None:
    venue = Venue(ask=None)
    h = Harness(make_parent(1000, minutes=10, side=Side.SELL, Slices="10"), venue=venue)
    h.run(T0 + 10 * MIN)
    assert venue.submits[0].price == Decimal("10.01")
    assert venue.submits[1].price == Decimal("10.00")  # crossing: hits the bid
    assert h.filled == 1000


def test_a_buy_facing_bids_alone_joins_them_and_has_nothing_to_cross() -> None:
    venue = Venue(ask=None)
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.run(T0 + 2 * MIN - SEC)
    assert {o.price for o in venue.submits} == {Decimal("10.00")}
    assert h.filled == 0 and h.runner.state.working_qty == 200
    venue.ask = Decimal("10.02")  # sellers arrive: the late slices cross at the ask
    h.run(T0 + 2 * MIN + 30 * SEC)
    assert h.filled == 300


def test_waits_while_the_book_is_empty() -> None:
    venue = Venue(bid=None, ask=None)
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.run(T0 + 2 * MIN)
    assert not venue.submits
    venue.bid, venue.ask = Decimal("10.00"), Decimal("10.02")
    h.run(T0 + 2 * MIN + 30 * SEC)
    assert h.filled == 300  # caught up with three slices once it could see the market


def test_nothing_before_the_start_time() -> None:
    parent = make_parent(1000, minutes=10, Slices="10")
    h = Harness(parent, created=T0 - 5 * MIN)
    assert h.runner.next_wakeup() == T0
    h.run(T0 - SEC)
    assert not h.venue.submits
    h.step(T0)
    assert len(h.venue.submits) == 1


def test_default_slices_one_per_five_minutes() -> None:
    h = Harness(make_parent(1000, minutes=60))
    strategy = h.runner.strategy
    assert isinstance(strategy, Twap)
    assert strategy.slices == 12
    years = Harness(make_parent(1000, minutes=10 * 365 * 24 * 60)).runner.strategy
    assert isinstance(years, Twap) and years.slices == 10_000  # not a million


@pytest.mark.parametrize(("params", "message"), [
    ({"Slices": "0"}, "Slices must be a positive integer"),
    ({"Slices": "ten"}, "Slices must be a positive integer"),
    # what int() would take: "1_0" as 10, other scripts' digits, a sign
    ({"Slices": "1_0"}, "Slices must be a positive integer, got '1_0'"),
    ({"MaxChildQty": "\u0665\u0660\u0660"}, "MaxChildQty must be a positive integer"),
    ({"Slices": "+4"}, "Slices must be a positive integer"),
    # a client's huge count stalled the venue (the schedule's work grows with it)
    ({"Slices": "100000000"}, "Slices must be at most 10000, got 100000000"),
    ({"MaxChildQty": "50"}, "MaxChildQty 50 is below the lot size 100"),
    ({"UseModel": "maybe"}, "UseModel must be Y or N"),
    ({"Slicez": "4"}, "unknown TWAP parameter Slicez"),
])
def test_bad_parameters_are_refused_with_the_reason(params: dict[str, str],
                                                    message: str) -> None:
    with pytest.raises(StrategyParameterError, match=message):
        AlgoRunner(make_parent(1000, extra=params), Twap, Venue(), now=T0,
                   on_event=lambda e: None)


def test_a_book_that_turns_one_sided_is_priced_as_it_is_now_not_as_it_was() -> None:
    venue = Venue()
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.run(T0 + 50 * SEC)
    assert h.filled == 100
    venue.bid = None  # the bid side empties before slice 2: the old bid is no guide
    h.run(T0 + MIN + 29 * SEC)
    assert venue.submits[2].price == Decimal("10.01") and h.filled == 100
    venue.bid, venue.ask = None, None  # then the whole book: the working child stays
    h.run(T0 + 2 * MIN - SEC)
    assert len(venue.submits) == 3 and h.runner.state.working_qty == 100


def test_the_market_watch_is_one_tick_beyond_the_child_that_may_be_repriced() -> None:
    """``market_watch``: the touch the TWAP prices from reaching one tick past its least
    aggressive child, once that child has rested min_rest (a timer then, not a snapshot)."""
    h = Harness(make_parent(1000, minutes=10, Slices="10"))  # 1-minute slices, min_rest 6 s
    h.step(T0)
    assert h.runner.market_watch() is None  # it just sent a child: any book may matter
    h.step(T0 + SEC)
    assert h.runner.market_watch() == MarketWatch()  # the child may not be repriced yet ...
    assert h.runner.next_wakeup() == T0 + 6 * SEC  # ... until then
    h.run(T0 + 6 * SEC)
    assert h.runner.market_watch() == MarketWatch(bid_rises_to=Decimal("10.01"))
    h.venue.bid = Decimal("10.01")
    h.step(T0 + 7 * SEC)
    assert h.venue.cancels == [(T0 + 7 * SEC, h.venue.submits[0].child_id)]
    h.run(T0 + 29 * SEC)
    h.venue.ask_qty = 0  # nobody sells: the crossing child rests
    h.run(T0 + 37 * SEC)  # crossing: the child at the ask lags when the ask rises
    crossing = h.venue.submits[-1]
    assert crossing.price == Decimal("10.02") and crossing.time == T0 + 30 * SEC
    assert h.runner.market_watch() == MarketWatch(ask_rises_to=Decimal("10.03"))


def test_a_sell_watches_the_ask_falling_and_a_limit_ends_the_watch() -> None:
    venue = Venue(bid=Decimal("9.95"), ask=Decimal("10.02"))
    h = Harness(make_parent(500, minutes=5, Slices="5", side=Side.SELL), venue=venue)
    h.run(T0 + 10 * SEC)
    assert h.runner.market_watch() == MarketWatch(ask_falls_to=Decimal("10.01"))
    limited = Harness(make_parent(500, minutes=5, Slices="5", side=Side.SELL, limit="10.02"),
                      venue=Venue(bid=Decimal("9.95"), ask=Decimal("10.02")))
    limited.run(T0 + 10 * SEC)
    assert limited.runner.market_watch() == MarketWatch()  # it may not sell below 10.02


def test_no_market_watch_under_a_binding_participation_cap_or_in_the_catch_up() -> None:
    capped = Harness(make_parent(1000, minutes=10, Slices="10", participation=0.1))
    capped.run(T0 + 10 * SEC)
    assert capped.runner.market_watch() is None  # more volume lets it send more
    venue = Venue(ask_qty=0)
    h = Harness(make_parent(1000, minutes=10, Slices="10", limit="10.05"), venue=venue)
    h.run(T0 + 9 * MIN + 50 * SEC)
    assert h.runner.market_watch() is None


@pytest.mark.parametrize(("side", "posted", "watch"), [
    (Side.BUY, Decimal("10.01"), MarketWatch(ask_rises_to=Decimal("10.03"))),
    (Side.SELL, Decimal("10.03"), MarketWatch(bid_falls_to=Decimal("10.01"))),
], ids=["buy", "sell"])
def test_a_locked_book_is_posted_behind_the_touch_not_taken(
    side: Side, posted: Decimal, watch: MarketWatch
) -> None:
    # bid = ask (a consolidated feed shows it): the passive child rests one tick behind the
    # far side (a buy under the ask, a sell over the bid), which adds liquidity; joining the
    # near side would have taken the other side's order.
    venue = Venue(bid=Decimal("10.02"), ask=Decimal("10.02"))
    h = Harness(make_parent(1000, minutes=10, side=side, Slices="10"), venue=venue)
    h.run(T0 + 29 * SEC)
    assert [(o.price, o.tif) for o in venue.submits] == [(posted, "day")]
    assert h.filled == 0
    # what the child waits for: the far side two ticks beyond it (the near side at 10.02
    # then, beyond the child), not the near side reaching 10.02, which it had already:
    # every update woke it
    assert h.runner.market_watch() == watch
    h.run(T0 + 31 * SEC)  # half-slice: the cross takes the far side, as in any book
    assert venue.submits[-1].price == Decimal("10.02") and h.filled == 100
