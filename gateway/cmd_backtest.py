"""``gateway backtest``: replay a market-data log through the C books.

With ``--log FILE`` and no algo or config, this is a market-data replay: every snapshot (W) and
incremental refresh (X) of the log (QuickFIX message-log layout, gateway/md_feed.py) is applied
to one book per symbol. ``--dump-book N --book-out BOOK.csv`` writes the book's top N levels
after each incremental refresh in LOBSTER's orderbook layout, so a log written by
``gateway lobster to-fix`` reproduces the day's orderbook file row for row. Prints one JSON
line: ``messages`` (W + X + other), ``snapshots``, ``incremental_refreshes``, ``entries``,
``trades``, ``symbols``, ``rows``, ``seconds`` (read, decode, apply and dump) and
``events_per_second`` (messages per second).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gateway.md_feed import MarketDataFeed, MdDecoder, MdLogReader


def add_parser(sub: Any) -> None:
    bt = sub.add_parser(
        "backtest",
        help="replay a market-data log through the C books",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bt.add_argument("--log", type=Path, required=True, help="market-data log (35=W/X)")
    bt.add_argument("--dump-book", type=int, metavar="N",
                    help="write the top N levels after each incremental refresh")
    bt.add_argument("--book-out", type=Path, help="where --dump-book writes (LOBSTER CSV)")
    bt.add_argument("--symbol", help="the symbol to dump (default: the log's only symbol)")
    bt.add_argument("--price-decimals", type=int, default=4,
                    help="digits of the price tick (default: %(default)s, LOBSTER's)")
    bt.set_defaults(run=run_backtest)


def run_backtest(args: argparse.Namespace) -> int:
    if (args.dump_book is None) != (args.book_out is None):
        raise ValueError("--dump-book N and --book-out FILE go together")
    if args.dump_book is not None and not 1 <= args.dump_book <= 1000:
        raise ValueError("--dump-book N: N must be in 1..1000")
    depth = args.dump_book or 0
    feed = MarketDataFeed()
    reader = MdLogReader(args.log, decoder=MdDecoder(price_decimals=args.price_decimals))
    counts = {"messages": 0, "snapshots": 0, "incremental_refreshes": 0, "entries": 0,
              "trades": 0, "rows": 0}
    record: str | None = args.symbol
    out = None
    start = time.perf_counter()
    try:
        if depth:
            args.book_out.parent.mkdir(parents=True, exist_ok=True)
            out = args.book_out.open("wb")
        for batch in reader:
            if depth and args.symbol is None:
                record = _only_symbol(batch.symbols, args.log)
            update = feed.apply(batch, record=record if depth else None, depth=depth)
            snapshots, incrementals, trades = batch.counts()
            counts["messages"] += batch.count
            counts["snapshots"] += snapshots
            counts["incremental_refreshes"] += incrementals
            counts["entries"] += batch.entry_count
            counts["trades"] += trades
            if out is not None:
                out.write(update.rows_csv())
                counts["rows"] += update.row_count
    finally:
        if out is not None:
            out.close()
    seconds = time.perf_counter() - start
    if args.symbol is not None and args.symbol not in feed.symbols:
        raise ValueError(f"{args.log}: no snapshot for symbol {args.symbol!r} "
                         f"(the log has {', '.join(feed.symbols) or 'none'})")
    report: dict[str, Any] = {"log": str(args.log), **counts, "symbols": list(feed.symbols)}
    if depth:
        report["book_out"] = str(args.book_out)
        report["dumped_symbol"] = record
    report["seconds"] = round(seconds, 6)
    report["events_per_second"] = round(counts["messages"] / seconds, 1) if seconds else None
    print(json.dumps(report))
    return 0


def _only_symbol(symbols: tuple[str, ...], log: Path) -> str | None:
    if len(symbols) > 1:
        raise ValueError(f"{log} has several symbols ({', '.join(symbols)}): "
                         "choose the one to dump with --symbol")
    return symbols[0] if symbols else None
