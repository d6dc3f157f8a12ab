"""What market-data subscriptions cost the venue's order path: ``Venue.new_order`` with the
market-data publisher attached, against the same orders with no subscription.

    python bench/bench_md_subs.py [--subs 100] [--levels 200] [--orders 2000] [--reps 5]

One symbol (AAPL of ``sessions/venue.yaml``), its bid side seeded with ``--levels`` price
levels, then ``--orders`` buy orders of 10 shares, each at one of those levels (every order
changes one level: each level subscription gets an incremental refresh). Cases, each on a
fresh venue and publisher (``send`` keeps nothing: the encoding and the socket are the
session's, the same with or without this change):

* none: no subscription (the baseline);
* ``--subs`` full-book level subscriptions (MarketDepth 0) of one session;
* ``--subs`` top-5 level subscriptions;
* ``--subs`` by-order subscriptions (AggregatedBook N).

Medians of ``--reps`` runs, in microseconds an order, and each case's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.book_types import Side  # noqa: E402
from fixspec.dictionary import load_builtin  # noqa: E402
from gateway.codec import decode_bytes  # noqa: E402
from gateway.config import load_config  # noqa: E402
from gateway.market_data import MarketDataPublisher  # noqa: E402
from gateway.venue import NewOrder, Venue  # noqa: E402
from gateway.venue_app import venue_config  # noqa: E402
from tests.fixpeer import frame  # noqa: E402

CASES = {"none": None, "full book": "264=0|265=1|266=Y", "top 5": "264=5|265=1|266=Y",
         "by order": "264=0|265=1|266=N"}


def run(case: str, subs: int, levels: int, orders: int) -> float:
    """Seconds for ``orders`` new orders with ``subs`` subscriptions of ``case``."""
    config = venue_config(load_config(ROOT / "sessions" / "venue.yaml"))
    venue = Venue(config, id_prefix="b-", max_orders=1 << 16)
    sent = [0]

    def send(session: str, message: object) -> None:
        sent[0] += 1

    publisher = MarketDataPublisher(venue, send)
    now = datetime.now(UTC)

    def buy(cl: str, ticks: int) -> NewOrder:
        return NewOrder(owner="CLIENT1", cl_ord_id=cl, symbol="AAPL", side=Side.BUY,
                        ord_type="2", qty=10, price=Decimal(ticks).scaleb(-2))

    for i in range(levels):
        venue.new_order(buy(f"S{i}", 1800 + i), now)
    fields = CASES[case]
    dictionary = load_builtin("FIX.4.4")
    for n in range(subs if fields else 0):
        request = decode_bytes(frame("FIX.4.4", f"35=V|49=CLIENT2|56=VENUE|34=1|"
                                                f"52=20260101-00:00:00|262=R{n}|263=1|{fields}|"
                                                "267=2|269=0|269=1|146=1|55=AAPL"), dictionary)
        publisher.request("CLIENT2", request, now)
    new_order = venue.new_order
    requests = [buy(f"N{k}", 1800 + k % levels) for k in range(orders)]
    gc.disable()
    try:
        t0 = time.perf_counter()
        for r in requests:
            new_order(r, now)
        return time.perf_counter() - t0
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subs", type=int, default=100)
    parser.add_argument("--levels", type=int, default=200)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    print(machine())
    print(f"{args.orders} orders on a {args.levels}-level book, {args.subs} subscriptions of "
          f"one session; median of {args.reps} runs")
    base = 0.0
    for case in CASES:
        times = [run(case, args.subs, args.levels, args.orders) for _ in range(args.reps)]
        us = statistics.median(times) / args.orders * 1e6
        base = base or us
        print(f"  {case:<10} {us:9.1f} us an order  {us / base:7.1f}x the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
