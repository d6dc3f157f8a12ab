"""Backtest benchmark: the AAPL day with one TWAP parent through the acceptor path.

    python bench/bench_backtest.py [--lobster MESSAGE.csv ORDERBOOK.csv] [--reps 3]

Writes the day's market-data log with ``gateway lobster to-fix`` (to bench/out/), then a
backtest config (bench/out/backtest_bench.yaml: the venue with that log, CLIENT1 buying
20,000 shares over the whole day with TWAP, 78 slices, 0.5 ms entry and ack latency, no
baselines), and times the median of ``--reps`` runs of:

* baseline: the plain market-data replay of the same log into the C books (MdLogReader +
  MarketDataFeed.apply, what ``gateway backtest --log`` does): the floor for any pass;
* the backtest's market pass (the replay with input checks and the tape: best bid/offer
  after every change, every trade);
* the algo pass: the same replay through the venue application, its FIX sessions (the
  client's parent order and every report over the acceptor's session layer, in memory),
  the algo desk, the TWAP and the latency model, with ``snapshot_interval: 1`` and
  ``events`` (the interval applies to algos without a ``market_watch``; the TWAP has one,
  so both show it the book at its own events and the touch moves it waits for).

Events are market-data messages per second of wall time; end to end is the market pass and
the algo pass added (the medians), the replay work of one backtest of the day. Memory: the
process's peak RSS after all runs, and the tracemalloc peak of one algo pass. Default day:
AAPL level 1 from ../shared/data/lobster if present, else the bundled 3,000-message AMZN
excerpt (too short for the aim: its fixed costs dominate).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml
from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.backtest import Backtest  # noqa: E402
from gateway.md_feed import MarketDataFeed, MdLogReader  # noqa: E402
from gateway.md_fix import lobster_to_fix  # noqa: E402

LOBSTER = ROOT.parent / "shared" / "data" / "lobster"
FULL_DAY = (LOBSTER / "AAPL_2012-06-21_34200000_57600000_message_1.csv",
            LOBSTER / "AAPL_2012-06-21_34200000_57600000_orderbook_1.csv")
SAMPLE_LOG = ROOT / "engine" / "samples" / "AMZN-2012-06-21.md.log"
OUT = ROOT / "bench" / "out"


def config(log: Path, symbol: str, first: str, seconds: float, interval: object) -> Path:
    data = {
        "acceptor": {"host": "127.0.0.1", "port": 0},
        "defaults": {"role": "acceptor", "begin_string": "FIX.4.4", "sender_comp_id": "VENUE",
                     "application": "venue", "store": {"kind": "memory"}},
        "sessions": [{"target_comp_id": "CLIENT1"}],
        "venue": {"symbols": {symbol: {"tick_size": 0.0001}}, "market_data": {"log": str(log)}},
        "backtest": {
            "orders": [{"symbol": symbol, "side": "buy", "qty": 20000, "start": first,
                        "window": seconds, "strategy": "1001", "params": "Slices=78"}],
            "latency": {"entry": 0.0005, "ack": 0.0005}, "baselines": [],
            "snapshot_interval": interval, "output": str(OUT / "backtest_bench")},
    }
    path = OUT / "backtest_bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def median(run: Callable[[], float], reps: int) -> float:
    """The median of ``reps`` runs, each from a collected heap: the garbage of the run before
    is not collected during the next (a fresh ``gateway backtest`` process has none; left
    in, it added up to a fifth to the market pass)."""
    def fresh() -> float:
        gc.collect()
        return run()
    return statistics.median(fresh() for _ in range(reps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lobster", nargs=2, type=Path, metavar=("MESSAGES", "ORDERBOOK"))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    pair = args.lobster or (FULL_DAY if FULL_DAY[0].exists() else None)
    if pair is not None:
        symbol = pair[0].name.split("_")[0]
        log = OUT / f"{symbol}.md.log"
        lobster_to_fix(pair[0], pair[1], log, symbol=symbol, day=date(2012, 6, 21))
        first, seconds = "13:30:05", 23390.0
    else:
        symbol, log, first, seconds = "AMZN", SAMPLE_LOG, "13:30:05", 600.0
    messages = sum(b.count for b in MdLogReader(log))
    print(f"machine: {machine()}")
    print(f"day: {log.name} ({messages:,} market-data messages); one TWAP parent: buy 20,000 "
          f"{symbol} from {first} for {seconds:,.0f} s, 78 slices")
    print(f"median of {args.reps} runs\n")

    def plain() -> float:
        started = time.perf_counter()
        feed = MarketDataFeed(strict=False)
        for batch in MdLogReader(log):
            feed.apply(batch)
        return time.perf_counter() - started

    def market() -> float:
        bt = Backtest(config(log, symbol, first, seconds, 1.0))
        return bt.market_pass()[3].seconds

    def algo(interval: object) -> Callable[[], float]:
        def run() -> float:
            bt = Backtest(config(log, symbol, first, seconds, interval))
            t0 = bt.market_pass()[1]
            record, stats = bt.run_pass("algo", t0)
            algo.fills = len(record.fills)  # type: ignore[attr-defined]
            algo.filled = record.parents[0].filled  # type: ignore[attr-defined]
            return stats.seconds
        return run

    base = median(plain, args.reps)
    rows = [("baseline: plain md replay", base),
            ("market pass (checks + tape)", median(market, args.reps))]
    for interval, label in ((1.0, "algo pass, snapshot_interval 1 s"),
                            ("events", "algo pass, snapshot_interval events")):
        rows.append((label, median(algo(interval), args.reps)))
        rows[-1] = (f"{label} ({algo.filled:,} filled, "  # type: ignore[attr-defined]
                    f"{algo.fills} fills)", rows[-1][1])  # type: ignore[attr-defined]
    width = max(len(r[0]) for r in rows)
    print(f"{'pass':<{width}}  {'seconds':>8}  {'events/s':>10}  {'vs baseline':>11}")
    for label, seconds_ in rows:
        print(f"{label:<{width}}  {seconds_:8.3f}  {messages / seconds_:10,.0f}  "
              f"{seconds_ / base:10.2f}x")
    # what one backtest does with the day: the market pass, then the algo pass
    whole = rows[1][1] + rows[2][1]
    print(f"{'end to end: market pass + algo pass (1 s)':<{width}}  {whole:8.3f}  "
          f"{messages / whole:10,.0f}  {whole / base:10.2f}x")
    print("aim: at least 500,000 events/s end to end, a full day in under a second: "
          + ("met" if messages / whole >= 500_000 and whole < 1.0 else "NOT met"))
    tracemalloc.start()
    algo("events")()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmemory: peak RSS {rss:,.0f} MB; tracemalloc peak of one algo pass "
          f"{peak / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()
