"""The algos' market watches in a backtest (``Strategy.market_watch``, csrc/mdfeed.h's watch).

A TWAP or VWAP says which market change it waits for; the backtest then runs the replay on
in C up to that change instead of showing the algo every book. That must change nothing the
algo does: these runs, with the algos seeing the book after every message time
(``snapshot_interval: 0``), must decide the same children at the same times and get the
same fills whether the watches are used or not.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from algos.slicing import SlicedStrategy
from gateway.backtest import Backtest
from gateway.backtest_records import RunRecord
from tests.test_backtest import config_with

ORDERS: list[dict[str, Any]] = [
    {"session": "CLIENT1", "symbol": "AMZN", "side": "buy", "qty": 3000, "start": "13:30:10",
     "window": 240, "strategy": "1001", "params": "Slices=8;MaxChildQty=400"},
    {"session": "CLIENT2", "symbol": "AMZN", "side": "sell", "qty": 2500,
     "start": "13:31:00", "window": 200, "strategy": "1001", "params": "Slices=5",
     "limit": 223.5},
]


def _children(run: RunRecord) -> list[tuple[object, ...]]:
    return [(c.parent_id, c.decided, c.qty, c.price, c.tif, c.status, c.filled, c.reason)
            for c in run.children]


def _fills(run: RunRecord) -> list[tuple[object, ...]]:
    return [(f.time, f.qty, f.price, f.liquidity) for f in run.fills]


def _run(tmp_path: Path, **backtest: Any) -> tuple[RunRecord, int]:
    bt = Backtest(config_with(tmp_path, orders=ORDERS, baselines=[], **backtest))
    first = bt.market_pass()[1]
    record, stats = bt.run_pass("algo", first)
    return record, stats.steps


def test_watching_the_market_decides_what_seeing_every_book_decides(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watched, watched_steps = _run(tmp_path / "watched", snapshot_interval=0)
    monkeypatch.setattr(SlicedStrategy, "market_watch", lambda self: None)
    every, every_steps = _run(tmp_path / "every", snapshot_interval=0)
    assert len(watched.children) > 20 and len(watched.fills) > 10  # a run with decisions
    assert any("reprice" in c.reason for c in watched.children) or any(
        c.status == "canceled" for c in watched.children)  # and repricing
    assert _children(watched) == _children(every)
    assert _fills(watched) == _fills(every)
    assert [p.filled for p in watched.parents] == [p.filled for p in every.parents]
    assert watched_steps * 2 < every_steps  # the replay ran on in C between decisions


def test_an_algo_without_a_watch_sees_the_book_every_interval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[datetime] = []
    original = SlicedStrategy.on_market_snapshot

    def spy(self: SlicedStrategy, snapshot: Any) -> Any:
        seen.append(snapshot.time)
        return original(self, snapshot)

    def seconds() -> int:  # market seconds in which the algos saw the book
        return len({t.replace(microsecond=0) for t in seen})

    monkeypatch.setattr(SlicedStrategy, "on_market_snapshot", spy)
    _run(tmp_path / "watched", snapshot_interval=1.0)
    watching = seconds()
    seen.clear()
    monkeypatch.setattr(SlicedStrategy, "market_watch", lambda self: None)
    _run(tmp_path / "every", snapshot_interval=1.0)
    # the sample's market changes in about 140 of the windows' seconds: without a watch the
    # algos see each of them; watching, only those of their own events and watched changes
    assert seconds() > 120 and watching * 3 < seconds() * 2
