"""Loading strategies by name or dotted path, and the example user strategy running live."""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algos.example_strategy import PassivePov
from algos.overlay import FillOverlay
from algos.registry import StrategyLoadError, load_strategy
from algos.runner import AlgoRunner
from algos.twap import Twap
from algos.vwap import Vwap
from tests.test_algo_harness import T0, Harness, Venue, make_parent

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


def test_builtins_by_name() -> None:
    overlay = FillOverlay()
    twap = load_strategy("twap", model=overlay)
    h = Harness(make_parent(1000, UseModel="Y"), twap)
    assert isinstance(h.runner.strategy, Twap) and h.runner.strategy.model is overlay
    h = Harness(make_parent(1000), load_strategy(" VWAP "))
    assert isinstance(h.runner.strategy, Vwap)


def test_a_builtin_factory_shares_one_overlay_across_its_parents() -> None:
    factory = load_strategy("twap")
    a = Harness(make_parent(1000, UseModel="Y"), factory).runner.strategy
    b = Harness(make_parent(1000, UseModel="Y", id="P2"), factory).runner.strategy
    c = Harness(make_parent(1000, UseModel="N", id="P3"), factory).runner.strategy
    assert isinstance(a, Twap) and isinstance(b, Twap) and isinstance(c, Twap)
    assert a.model is not None and a.model is b.model
    assert c.model is None  # UseModel=N: the strategy holds no model at all


def test_a_user_class_by_dotted_path() -> None:
    factory = load_strategy("algos.example_strategy:PassivePov")
    assert factory is PassivePov


@pytest.mark.parametrize(("spec", "message"), [
    ("twapp", "expected one of twap, vwap or 'package.module:ClassName'"),
    ("nosuch.module:Thing", "cannot import nosuch.module: ModuleNotFoundError"),
    ("algos.example_strategy:Nope", "algos.example_strategy has no attribute Nope"),
    ("algos.example_strategy:__doc__", "str object is not callable"),
    ("algos.strategy:ChildOrder", "ChildOrder does not look like a strategy: it lacks "
                                  "on_market_snapshot, on_execution, on_timer, next_wakeup"),
    ("test_registry_plugin:OneArg", "its constructor must accept (parent, ctx)"),
])
def test_bad_specs_name_the_spec_and_the_reason(spec: str, message: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "test_registry_plugin.py").write_text(
        "class OneArg:\n"
        "    def __init__(self, parent): pass\n"
        "    def on_market_snapshot(self, s): return []\n"
        "    def on_execution(self, e): return []\n"
        "    def on_timer(self, now): return []\n"
        "    def next_wakeup(self): return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StrategyLoadError) as info:
        load_strategy(spec)
    assert str(info.value).startswith(f"strategy {spec!r}: ")
    assert message in str(info.value)
    sys.modules.pop("test_registry_plugin", None)


def test_the_example_joins_the_touch_within_its_rate() -> None:
    parent = make_parent(5000, minutes=10, lot=10, Rate="0.2")
    h = Harness(parent, PassivePov, venue=Venue(ask_qty=0))
    v0 = h.venue.volume

    def market(h: Harness) -> None:
        if h.now.second % 15 == 0:
            h.venue.volume += 500  # others trade elsewhere ...
        if h.now.second % 15 == 7:
            h.venue.trade(Decimal("10.00"), 60)  # ... and some sell into our bid
        if h.now == T0 + 5 * MIN:
            h.venue.bid = Decimal("10.01")  # the touch moves up: the child follows

    def within_rate(h: Harness) -> None:
        s = h.runner.state
        assert s.filled + s.working_qty <= math.floor(0.2 * (h.venue.volume - v0))

    h.checks.append(within_rate)
    h.run(T0 + 10 * MIN, before=market)
    assert 0 < h.filled < 5000
    assert {o.price for o in h.venue.submits} == {Decimal("10.00"), Decimal("10.01")}
    assert all(o.tif == "day" for o in h.venue.submits)
    done = h.done()
    assert done is not None and done.reason == "expired"


def test_the_example_refuses_a_missing_rate() -> None:
    with pytest.raises(ValueError, match="needs a Rate parameter or a ParticipationRate"):
        AlgoRunner(make_parent(100), PassivePov, Venue(), now=T0, on_event=lambda e: None)


def test_the_example_takes_its_whole_share_at_a_rate_floats_cannot_hold() -> None:
    """0.57 x 100 shares is 56.99... in floats: the example asked for 56 of its 57."""
    h = Harness(make_parent(1000, minutes=10, lot=1, Rate="0.57"), PassivePov,
                venue=Venue(ask_qty=0))
    h.run(T0 + SEC)
    h.venue.volume += 100
    h.run(T0 + 2 * SEC)
    assert h.filled + h.runner.state.working_qty == 57
