"""Market-data replay benchmark: a FIX md log into the C books, against the LOBSTER replay.

    python bench/bench_md_replay.py [--lobster MESSAGE.csv ORDERBOOK.csv] [--reps 5]

Writes the day's market-data log with ``gateway lobster to-fix`` (to bench/out/), then times,
end to end from the file (read, frame, decode, apply), the median of ``--reps`` runs of:

* md replay: gateway.md_feed's MdLogReader + MarketDataFeed.apply, batches of 4096 messages;
* md replay with the book dump (rows after every message, formatted as LOBSTER CSV), which is
  what ``gateway backtest --dump-book`` does;
* md decode only (reading and decoding, no book);
* baseline: engine.lobster on the same day's CSV pair (parse both files in C, replay in C,
  no formatting): the same events with no FIX in the way; and its replay alone, on files
  parsed beforehand (not end to end: an upper bound for the C book work);
* the generic log reader, gateway.fixlog.read_log, over the same md log (framing and records
  only, no decoding, no book; one run): why the md reader does not go line by line.

Events are market-data messages (one incremental refresh per LOBSTER message, plus the
snapshot); the LOBSTER baseline counts its messages. Default day: AMZN level 5 from
../shared/data/lobster if present, else the bundled 3,000-message AMZN excerpt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import lobster  # noqa: E402
from gateway.fixlog import read_log  # noqa: E402
from gateway.md_feed import MarketDataFeed, MdLogReader  # noqa: E402
from gateway.md_fix import lobster_to_fix  # noqa: E402

OUT = ROOT / "bench" / "out"
SHARED = ROOT.parent / "shared" / "data" / "lobster"
FULL_DAY = (SHARED / "AMZN_2012-06-21_34200000_57600000_message_5.csv",
            SHARED / "AMZN_2012-06-21_34200000_57600000_orderbook_5.csv")
EXCERPT = (ROOT / "engine" / "samples" / "AMZN_2012-06-21_message_5_head3000.csv",
           ROOT / "engine" / "samples" / "AMZN_2012-06-21_orderbook_5_head3000.csv")


def median_seconds(run: Callable[[], int], reps: int) -> tuple[float, int]:
    """Median wall time of ``reps`` runs of ``run`` (which returns its event count)."""
    times = []
    events = 0
    for _ in range(reps):
        start = time.perf_counter()
        events = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lobster", nargs=2, type=Path, metavar=("MESSAGES", "ORDERBOOK"))
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    msg, ob = args.lobster or (FULL_DAY if FULL_DAY[0].exists() else EXCERPT)
    symbol = msg.name.split("_")[0]
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{symbol}.md.log"
    summary = lobster_to_fix(msg, ob, log, symbol=symbol, day=date(2012, 6, 21))
    depth = summary.levels
    print(f"machine: {machine()}")
    print(f"day: {msg.name} ({summary.messages:,} messages, {depth} levels); "
          f"md log {log.stat().st_size / 1e6:.1f} MB, {summary.entries:,} entries; "
          f"to-fix took {summary.seconds:.2f} s")
    print(f"median of {args.reps} runs, end to end from the files\n")

    def md_replay() -> int:
        feed = MarketDataFeed()
        n = 0
        for batch in MdLogReader(log):
            feed.apply(batch)
            n += batch.count
        return n

    def md_replay_dump() -> int:
        feed = MarketDataFeed()
        n = 0
        for batch in MdLogReader(log):
            feed.apply(batch, record=symbol, depth=depth).rows_csv()
            n += batch.count
        return n

    def md_decode() -> int:
        return sum(batch.count for batch in MdLogReader(log))

    def lobster_baseline() -> int:
        messages = lobster.read_messages(msg)
        rows = lobster.read_orderbook(ob)
        lobster.rebuild(messages, rows)
        return messages.count

    parsed = (lobster.read_messages(msg), lobster.read_orderbook(ob))

    def lobster_replay_only() -> int:
        lobster.rebuild(*parsed)
        return parsed[0].count

    def generic_reader() -> int:
        return sum(1 for record in read_log(log) if record.ok)

    runs = [
        ("md replay into the books", md_replay, args.reps),
        ("md replay + book dump", md_replay_dump, args.reps),
        ("md decode only", md_decode, args.reps),
        ("baseline: engine.lobster CSV replay", lobster_baseline, args.reps),
        ("  its replay alone (files pre-parsed)", lobster_replay_only, args.reps),
        ("gateway.fixlog.read_log (no decode)", generic_reader, 1),
    ]
    results = {}
    for name, run, reps in runs:
        seconds, events = median_seconds(run, reps)
        results[name] = events / seconds
        print(f"{name:40s} {seconds * 1000:9.1f} ms  {events / seconds:12,.0f} events/s")
    base = results["baseline: engine.lobster CSV replay"]
    replay = results["md replay into the books"]
    generic = results["gateway.fixlog.read_log (no decode)"]
    print(f"\nmd replay / LOBSTER baseline: {replay / base:.2f}x; "
          f"md decode / generic read_log: {results['md decode only'] / generic:.1f}x")


if __name__ == "__main__":
    main()
