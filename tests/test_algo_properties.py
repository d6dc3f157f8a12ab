"""Property test: whatever the market, the venue and the client do, the runner never lets
filled + working exceed the quantity, every child respects the limit, the lot and the tick
(checked by the harness venue on every submit), and the parent ends at most once, after
which nothing is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from algos.overlay import FillOverlay
from algos.registry import StrategyFactory
from algos.runner import ParentDone, ParentReplaced
from algos.strategy import Side
from algos.twap import Twap
from algos.volume_profile import VolumeProfile
from algos.vwap import Vwap
from tests.test_algo_harness import T0, Harness, Venue, make_parent

PROFILE = VolumeProfile({40: 100, 41: 100, 42: 200, 43: 400}, bucket_seconds=900,
                        zone="America/New_York")
TICK = Decimal("0.01")

ops = st.one_of(
    st.tuples(st.just("tick"), st.integers(1, 90), st.integers(-3, 3), st.integers(1, 4),
              st.integers(0, 800)),
    st.tuples(st.just("fill"), st.integers(0, 20), st.integers(1, 100)),
    st.tuples(st.just("expire"), st.integers(0, 20)),
    st.tuples(st.just("reject"), st.booleans()),
    st.tuples(st.just("volume"), st.integers(0, 2000)),
    st.tuples(st.just("cancel"),),
    st.tuples(st.just("replace"), st.integers(1, 40), st.sampled_from([None, -2, 0, 3])),
    st.tuples(st.just("sync"), st.booleans()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lots=st.integers(1, 30),
    lot=st.sampled_from([1, 10, 100]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    limit_offset=st.sampled_from([None, -3, 0, 2, 10]),
    slices=st.integers(1, 12),
    max_child_lots=st.sampled_from([None, 1, 3]),
    participation=st.sampled_from([None, 0.05, 0.5]),
    use_model=st.booleans(),
    vwap=st.booleans(),
    script=st.lists(ops, max_size=60),
)
def test_runner_invariants_hold_under_random_events(
    lots: int, lot: int, side: Side, limit_offset: int | None, slices: int,
    max_child_lots: int | None, participation: float | None, use_model: bool, vwap: bool,
    script: list[tuple[Any, ...]],
) -> None:
    mid = Decimal("10.00")
    limit = None if limit_offset is None else str(mid + limit_offset * TICK)
    params = {"Slices": str(slices), "UseModel": "Y" if use_model else "N"}
    if max_child_lots is not None:
        params["MaxChildQty"] = str(max_child_lots * lot)
    parent = make_parent(lots * lot, minutes=20, side=side, limit=limit, lot=lot,
                         participation=participation, extra=params)
    overlay = FillOverlay(warmup=0)
    factory: StrategyFactory = (partial(Vwap, profile=PROFILE, model=overlay) if vwap
                                else partial(Twap, model=overlay))
    venue = Venue(bid=mid - TICK, ask=mid + TICK)
    h = Harness(parent, factory, venue=venue)
    now = T0
    done_at_submit = None
    for op in script:
        kind = op[0]
        if kind == "tick":
            _, seconds, move, spread, size = op
            now += timedelta(seconds=seconds)
            center = mid + move * TICK
            venue.bid, venue.ask = center - spread * TICK, center + spread * TICK
            venue.bid_qty = venue.ask_qty = size
            h.step(now)
        elif kind == "fill" and venue.resting:
            _, index, pct = op
            orders = list(venue.resting.values())
            order = orders[index % len(orders)]
            qty = max(1, order.leaves * pct // 100)
            venue.trade(order.price if order.price is not None else mid, qty)
            venue.deliver()
        elif kind == "expire" and venue.resting:
            orders = list(venue.resting.values())
            order = orders[op[1] % len(orders)]
            del venue.resting[order.child_id]
            h.runner.on_child_done(order.child_id, "expired", now)
        elif kind == "reject":
            venue.reject = "venue busy" if op[1] else None
        elif kind == "volume":
            venue.volume += op[1]
        elif kind == "cancel":
            h.runner.cancel(now)
            venue.deliver()
        elif kind == "replace":
            _, new_lots, offset = op
            new_limit = None if offset is None else mid + offset * TICK
            new = replace(h.runner.parent, qty=new_lots * lot, limit=new_limit)
            h.runner.replace(new, now)
            venue.deliver()
        elif kind == "sync":
            venue.sync = bool(op[1])
            venue.deliver()
        h.checks[0](h)
        if h.done() is not None and done_at_submit is None:
            done_at_submit = len(venue.submits)

    def liquid(h: Harness) -> None:  # then a calm, liquid market to the end
        venue.bid, venue.ask, venue.bid_qty, venue.ask_qty = mid - TICK, mid + TICK, 500, 500
        venue.volume += 1000

    h.run(now + timedelta(minutes=25), every=timedelta(seconds=20), before=liquid)
    venue.deliver()
    done = [e for e in h.events if isinstance(e, ParentDone)]
    assert len(done) == 1  # every parent ends, once: filled, expired, canceled or stopped
    if done_at_submit is not None:
        assert len(venue.submits) == done_at_submit  # nothing sent after the end
    state = h.runner.state
    assert state.filled <= state.parent.qty and not state.working
    assert done[0].cum_qty == state.filled
    # What the examples exercised (pytest --hypothesis-show-statistics).
    event(f"done: {done[0].reason}")
    event("some fills" if state.filled else "no fills")
    if any(isinstance(e, ParentReplaced) for e in h.events):
        event("replaced")
