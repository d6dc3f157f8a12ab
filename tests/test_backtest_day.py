"""A whole AAPL day (../shared/data/lobster, level 1) through the backtest with three
overlapping parents from two clients: the accounting adds up on every run (each child's fills
make its filled quantity, a child reported filled has all of its quantity, nothing is left
open, each parent's fills make its quantity and average price), and a parent that comes late
in the day still sees a usable book (replayed liquidity a child took must not come back as a
ghost that leaves the book crossed for hours). Skipped without the shared data."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from gateway.backtest import Backtest
from gateway.md_fix import lobster_to_fix

LOBSTER = Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"
DAY = (LOBSTER / "AAPL_2012-06-21_34200000_57600000_message_1.csv",
       LOBSTER / "AAPL_2012-06-21_34200000_57600000_orderbook_1.csv")

pytestmark = pytest.mark.skipif(not DAY[0].exists(), reason=f"the AAPL day is not in {LOBSTER}")


def test_three_parents_over_the_day_add_up_and_the_last_one_trades(tmp_path: Path) -> None:
    log = tmp_path / "AAPL.md.log"
    lobster_to_fix(DAY[0], DAY[1], log, symbol="AAPL", day=date(2012, 6, 21))
    order = {"strategy": "1001", "symbol": "AAPL"}
    config = {
        "acceptor": {"host": "127.0.0.1", "port": 0},
        "defaults": {"role": "acceptor", "begin_string": "FIX.4.4", "sender_comp_id": "VENUE",
                     "application": "venue", "store": {"kind": "memory"}},
        "sessions": [{"target_comp_id": "CLIENT1"}, {"target_comp_id": "CLIENT2"}],
        "venue": {"symbols": {"AAPL": {"tick_size": 0.0001, "band_pct": 20}},
                  "market_data": {"log": str(log)}},
        "algos": {"strategies": {"1001": "twap", "1": "vwap"}},
        "backtest": {
            "orders": [
                {**order, "session": "CLIENT1", "side": "buy", "qty": 20000, "start": "13:30:05",
                 "window": 3600, "params": "Slices=12;MaxChildQty=500", "participation": 0.2},
                {**order, "session": "CLIENT2", "side": "sell", "qty": 15000,
                 "start": "14:00:00", "window": 7200, "strategy": "1", "params": "Slices=20",
                 "limit": 580},
                {**order, "session": "CLIENT1", "side": "sell", "qty": 5000, "start": "18:00:00",
                 "window": 1800, "params": "Slices=6"},
            ],
            "latency": {"entry": 0.0005, "ack": 0.0005}, "baselines": ["twap"],
            "snapshot_interval": 1.0, "output": str(tmp_path / "out")},
    }
    path = tmp_path / "bt.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = Backtest(path).run()
    for run in ("algo", "twap"):
        record = result.runs[run]
        by_child: dict[str, int] = defaultdict(int)
        by_parent: dict[str, int] = defaultdict(int)
        notional: dict[str, Decimal] = defaultdict(Decimal)
        for f in record.fills:
            by_child[f.child_id] += f.qty
            by_parent[f.parent_id] += f.qty
            notional[f.parent_id] += f.qty * f.price
        for c in record.children:
            assert by_child[c.child_id] == c.filled <= c.qty, c
            assert c.status not in ("sent", "new", "partial"), c
            assert c.status != "filled" or c.filled == c.qty, c
        for p in record.parents:
            assert by_parent[p.parent_id] == p.filled <= p.qty, p
            if p.filled:
                assert p.avg_px is not None
                assert abs(notional[p.parent_id] / p.filled - p.avg_px) < Decimal("1e-5"), p
        late = next(p for p in record.parents if p.parent_id == "P3")
        assert late.filled > 0, f"{run}: the 18:00 sell traded nothing: {late.text}"
