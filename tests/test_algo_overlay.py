"""The river overlay: it learns fills from features, it only moves the crossing point within
its bounds, and UseModel=N never touches it."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from algos.overlay import DEFAULT_FRACTION, FillOverlay, fill_features
from algos.strategy import MarketSnapshot, Side
from algos.twap import Twap
from tests.test_algo_harness import T0, Harness, make_parent

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


def test_learns_that_a_heavy_own_side_fills_less() -> None:
    rng = random.Random(7)
    overlay = FillOverlay(warmup=0)
    for _ in range(3000):
        x = {"spread_ticks": float(rng.choice([1, 2, 3])), "imbalance": rng.uniform(-1, 1),
             "time_left": rng.random(), "remaining": rng.random()}
        p_true = 1 / (1 + math.exp(4 * x["imbalance"]))  # fills fall as our queue grows
        p = overlay.predict(x)  # predict first, then learn (prequential)
        overlay.learn(x, rng.random() < p_true, p)
    heavy = {"spread_ticks": 2.0, "imbalance": 0.8, "time_left": 0.5, "remaining": 0.5}
    light = dict(heavy, imbalance=-0.8)
    assert overlay.predict(heavy) < 0.2 < 0.8 < overlay.predict(light)
    assert overlay.log_loss is not None and overlay.log_loss < math.log(2)  # beats a coin
    assert overlay.learned == 3000


def test_crossing_point_is_bounded_and_waits_for_warmup() -> None:
    overlay = FillOverlay(warmup=2, min_fraction=0.2, threshold=0.5)
    assert overlay.aggressive_fraction(0.0) == DEFAULT_FRACTION  # not warmed up
    x = {"spread_ticks": 1.0, "imbalance": 0.0, "time_left": 1.0, "remaining": 1.0}
    overlay.learn(x, True)
    overlay.learn(x, False)
    assert overlay.aggressive_fraction(0.0) == pytest.approx(0.2)
    assert overlay.aggressive_fraction(0.25) == pytest.approx(0.35)
    assert overlay.aggressive_fraction(0.9) == DEFAULT_FRACTION
    for p in (0.0, 0.1, 0.3, 0.5, 1.0):
        assert 0.2 <= overlay.aggressive_fraction(p) <= DEFAULT_FRACTION


def test_features_are_signed_for_our_side() -> None:
    snap = MarketSnapshot(time=T0, symbol="AAPL", bid=Decimal("10.00"), bid_qty=300,
                          ask=Decimal("10.03"), ask_qty=100)
    buy = fill_features(snap, Side.BUY, Decimal("0.01"), 0.25, 1.0)
    sell = fill_features(snap, Side.SELL, Decimal("0.01"), 0.25, 1.0)
    assert buy == {"spread_ticks": 3.0, "imbalance": 0.5, "time_left": 0.25, "remaining": 1.0}
    assert sell["imbalance"] == -0.5


class Fixed:
    """A river-style classifier that always says ``p`` and records every call."""

    def __init__(self, p: float) -> None:
        self.p = p
        self.calls: list[tuple[str, dict[str, float]]] = []

    def predict_proba_one(self, x: dict[str, float]) -> Mapping[Any, float]:
        self.calls.append(("predict", x))
        return {True: self.p, False: 1 - self.p}

    def learn_one(self, x: dict[str, float], y: bool) -> None:
        self.calls.append(("learn", x))


def first_cross(h: Harness) -> timedelta:
    cancels = [t for t, _ in h.venue.cancels]
    return cancels[0] - T0


def test_use_model_y_crosses_earlier_when_fills_look_unlikely() -> None:
    model = Fixed(0.0)
    overlay = FillOverlay(model, warmup=0, min_fraction=0.2)
    h = Harness(make_parent(1000, minutes=10, Slices="10", UseModel="Y"),
                partial(Twap, model=overlay))
    h.run(T0 + 2 * MIN)
    assert first_cross(h) == 12 * SEC  # 0.2 of a one-minute slice instead of 0.5
    # Predicted at each passive post, learned at each crossing, in that order.
    kinds = [k for k, _ in model.calls]
    assert kinds[:4] == ["predict", "learn", "predict", "learn"]
    assert h.filled == 200


def test_use_model_y_keeps_the_default_when_fills_look_likely() -> None:
    overlay = FillOverlay(Fixed(0.9), warmup=0)
    h = Harness(make_parent(1000, minutes=10, Slices="10", UseModel="Y"),
                partial(Twap, model=overlay))
    h.run(T0 + MIN)
    assert first_cross(h) == 30 * SEC


def test_use_model_n_never_calls_the_model() -> None:
    model = Fixed(0.0)
    overlay = FillOverlay(model, warmup=0)
    h = Harness(make_parent(1000, minutes=10, Slices="10", UseModel="N"),
                partial(Twap, model=overlay))
    h.run(T0 + 10 * MIN)
    assert h.filled == 1000
    assert model.calls == [] and overlay.predictions == 0
    assert first_cross(h) == 30 * SEC


def test_a_passive_fill_is_learned_as_filled() -> None:
    model = Fixed(0.5)
    overlay = FillOverlay(model, warmup=0)
    h = Harness(make_parent(1000, minutes=10, Slices="10", UseModel="Y"),
                partial(Twap, model=overlay))

    def sellers_hit_the_bid(h: Harness) -> None:
        if h.now.second == 5:
            h.venue.trade(Decimal("10.00"), 100)

    h.run(T0 + 50 * SEC, before=sellers_hit_the_bid)
    assert [k for k, _ in model.calls] == ["predict", "learn"]
    assert overlay.learned == 1 and overlay.log_loss == pytest.approx(math.log(2))
