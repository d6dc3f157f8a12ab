"""VWAP through the runner: the schedule follows the volume profile; the participation cap."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from algos.volume_profile import VolumeProfile
from algos.vwap import Vwap
from tests.test_algo_harness import T0, Harness, make_parent

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)

# 10:00-11:00 New York (T0 is 14:00 UTC in June) in quarters holding 1, 1, 2 and 4 eighths.
QUARTERS = VolumeProfile({40: 100, 41: 100, 42: 200, 43: 400}, bucket_seconds=900,
                         zone="America/New_York")


def test_slices_follow_the_profile() -> None:
    h = Harness(make_parent(800, minutes=60, lot=1, Slices="4"),
                partial(Vwap, profile=QUARTERS))
    strategy = h.runner.strategy
    assert isinstance(strategy, Vwap) and not strategy.flat
    assert strategy.targets == [100, 200, 400, 800]
    h.run(T0 + 60 * MIN)
    for i, target in enumerate(strategy.targets):
        end_of_slice = T0 + (i + 1) * 15 * MIN - SEC
        assert sum(q for t, _, q, _ in h.venue.fills if t <= end_of_slice) == target
    done = h.done()
    assert done is not None and done.reason == "filled"


def test_slices_inside_a_bucket_share_it_evenly() -> None:
    h = Harness(make_parent(800, minutes=60, lot=1, Slices="8"),
                partial(Vwap, profile=QUARTERS))
    strategy = h.runner.strategy
    assert isinstance(strategy, Vwap)
    assert strategy.targets == [50, 100, 150, 200, 300, 400, 600, 800]


def test_the_shipped_profile_front_and_back_loads_a_day() -> None:
    open_ny = datetime(2024, 6, 3, 13, 30, tzinfo=UTC)  # 09:30 New York
    parent = make_parent(13_000, minutes=390, start=open_ny, Slices="13")
    h = Harness(parent, Vwap)
    strategy = h.runner.strategy
    assert isinstance(strategy, Vwap) and not strategy.flat
    steps = [b - a for a, b in zip([0, *strategy.targets], strategy.targets, strict=False)]
    assert sum(steps) == 13_000
    middle = steps[6]
    assert steps[0] > middle and steps[-1] > middle  # busier open and close


def test_a_window_without_profile_volume_falls_back_to_equal_slices() -> None:
    night = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)  # 02:00 New York
    h = Harness(make_parent(1000, minutes=10, start=night, Slices="5"), Vwap)
    strategy = h.runner.strategy
    assert isinstance(strategy, Vwap) and strategy.flat
    assert strategy.targets == [200, 400, 600, 800, 1000]
    h.run(night + MIN)
    assert "flat" in h.audited("child_sent")[0]["reason"]


def test_participation_cap_holds_and_nothing_goes_before_volume() -> None:
    parent = make_parent(2000, minutes=10, participation=0.1, lot=10, Slices="10")
    h = Harness(parent, partial(Vwap, profile=QUARTERS))
    v0 = h.venue.volume

    def capped(h: Harness) -> None:
        s = h.runner.state
        volume = h.venue.volume - v0  # every print, ours included
        assert s.filled <= 0.1 * volume  # what the client asked for
        # and what is working may fill without breaking it: 0.1 / 0.9 of the others' volume
        assert s.filled + s.working_qty <= math.floor((volume - s.filled) / 9)

    h.checks.append(capped)
    h.run(T0 + MIN)
    assert not h.venue.submits  # nobody traded yet: 10% of nothing is nothing

    def others_trade(h: Harness) -> None:
        if h.now.second % 10 == 0:
            h.venue.volume += 300

    h.run(T0 + 10 * MIN, before=others_trade)
    # The cap binds: the schedule wanted all 2000, 10% of the volume allowed far less.
    assert 0 < h.filled < 2000
    assert h.filled >= math.floor(0.1 * (h.venue.volume - v0)) - 10 - 30
    done = h.done()
    assert done is not None and done.reason == "expired"
    # and the parent's end says why, not only how much
    m = re.fullmatch(r"participation cap 0\.1: ([\d,]+) shares traded by others allowed "
                     r"([\d,]+)", done.text)
    assert m is not None, done.text
    others, allowed = (int(g.replace(",", "")) for g in m.groups())
    assert allowed == h.filled == others // 9 // 10 * 10  # 10% of all volume, in lots of 10


def test_a_capped_parent_takes_its_share_in_one_child_not_a_burst() -> None:
    """With half the volume allowed, each fill of ours is half of all volume again: the cap
    is reached with one child sized for it, not a series of ever smaller ones (50, 25, 12...)
    sent within one instant as each fill makes room for the next."""
    parent = make_parent(1000, minutes=10, participation=0.5, lot=1, Slices="1")
    h = Harness(parent, partial(Vwap, profile=QUARTERS))
    v0 = h.venue.volume

    def others_trade(h: Harness) -> None:
        if h.now == T0 + 4 * MIN:
            h.venue.volume += 100  # someone else prints 100

    h.run(T0 + 6 * MIN, before=others_trade)  # past half-slice: the parent crosses
    sent = h.audited("child_sent")
    assert h.filled == 100 and h.venue.volume - v0 == 200  # half of all volume is ours
    # the passive child and its repricing at half-slice, each the full share
    assert [c["qty"] for c in sent] == [100, 100]


@pytest.mark.parametrize(("rate", "others", "allowed"), [
    (0.3, 700, 300), (0.6, 2, 3), (0.2, 400, 100), (0.1, 899, 99), (0.5, 7, 7)])
def test_the_participation_cap_is_exact_at_its_boundary(rate: float, others: int,
                                                        allowed: int) -> None:
    """In floats, 0.3 / 0.7 * 700 is 299.99999999999994: with 700 shares traded by others,
    a 30% cap allowed 299, one share short of 30% of all volume (300 of 1,000). The cap is
    computed from the rate as written (3/10), in whole shares."""
    h = Harness(make_parent(2000, minutes=10, participation=rate, lot=1, Slices="10"),
                partial(Vwap, profile=QUARTERS))
    strategy = h.runner.strategy
    assert isinstance(strategy, Vwap)
    strategy._volume_seen = others  # what the market printed since the start, none ours
    assert strategy.participation_cap(0) == allowed
    # ours among the volume: 30% of 1,000 is 300 whoever traded the 1,000
    strategy._volume_seen = others + 50
    assert strategy.participation_cap(50) == allowed
