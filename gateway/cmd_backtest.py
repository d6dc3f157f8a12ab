"""``gateway backtest``: the venue fed from market-data logs on a virtual clock, with TCA.

``gateway backtest CONFIG.yaml`` runs the backtest the config's ``backtest:`` section
describes (gateway/backtest.py; gateway/backtest_config.py has the section): the market
alone, then the parents worked by the configured algo and by each baseline, then the TCA
(gateway/tca.py) and the report folder: summary.json, fills.csv, orders.csv,
timeseries.csv, PNG plots and report.html (gateway/tca_report.py). It prints a progress bar
on a terminal and a one-screen summary at the end. Bad market data stops the run with the
file and line, or with ``--on-error skip`` (or ``on_error: skip``) is reported and passed
over. Exit status: 0 done, 2 bad config or input. The runs' folders and the report replace
the output folder's previous ones only once all are written (gateway/backtest_output.py):
a backtest that fails leaves the folder as the last finished one wrote it, and a run
folder of a pass this backtest does not make (a baseline left out) is removed.

With ``--log FILE`` and no config, this is a market-data replay: every snapshot (W) and
incremental refresh (X) of the log (QuickFIX message-log layout, gateway/md_feed.py) is applied
to one book per symbol, with the backtest's input checks (a bad line or a MsgSeqNum gap stops
it with the file and line; ``--on-error skip`` reports and passes over it). ``--dump-book N
--book-out BOOK.csv`` writes the book's top N levels after each incremental refresh in
LOBSTER's orderbook layout, so a log written by ``gateway lobster to-fix`` reproduces the day's
orderbook file row for row. The book is written beside BOOK.csv and renamed over it once the
replay has passed its checks, so a replay that stops (a bad line) leaves no partial book: a
BOOK.csv already there is left as it was, and stderr says so. Prints one JSON line:
``messages`` (W + X + other), ``snapshots``, ``incremental_refreshes``, ``entries``,
``trades``, ``symbols``, ``skipped``, ``book_rejects``, ``rows``, ``seconds`` (read, decode,
apply and dump) and ``events_per_second`` (messages per second).

A config and ``--log`` together are an error that says so: a config replays the logs its
``venue: market_data:`` names.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

from gateway.input_paths import input_file, path_arg
from gateway.output_files import not_an_input, replacing

# The backtest's own imports (river, scipy, matplotlib: about a second) are made when a
# backtest runs, in the functions below, not when the CLI builds its parser: every other
# command, and `gateway backtest --help`, would pay for them.


def add_parser(sub: Any) -> None:
    bt = sub.add_parser(
        "backtest",
        help="backtest a config's algo orders on market-data logs (TCA report), or replay a log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bt.add_argument("config", type=path_arg, nargs="?",
                    help="a gateway YAML with a backtest: section")
    bt.add_argument("--on-error", choices=("stop", "skip"),
                    help="bad market data: stop (the default) or report and skip it "
                         "(overrides the config's on_error)")
    bt.add_argument("--output", type=path_arg, help="the report folder (overrides the config's)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.add_argument("--log", type=path_arg, help="replay this market-data log (35=W/X) alone")
    bt.add_argument("--dump-book", type=int, metavar="N",
                    help="write the top N levels after each incremental refresh")
    bt.add_argument("--book-out", type=path_arg, help="where --dump-book writes (LOBSTER CSV)")
    bt.add_argument("--symbol", help="the symbol to dump (default: the log's only symbol)")
    bt.add_argument("--price-decimals", type=int, default=4,
                    help="digits of the price tick (default: %(default)s, LOBSTER's)")
    bt.set_defaults(run=run_backtest)


def run_backtest(args: argparse.Namespace) -> int:
    if args.config is not None and args.log is not None:
        raise ValueError(f"give a backtest config ({args.config}) or --log FILE ({args.log}), "
                         "not both: a config replays the logs its venue: market_data: names; "
                         "--log replays one log alone, without a config")
    if args.config is None and args.log is None:
        raise ValueError("give a backtest config (gateway backtest CONFIG.yaml) or a "
                         "market-data log to replay (--log FILE)")
    if args.config is not None:
        return run_config(args)
    if (args.dump_book is None) != (args.book_out is None):
        raise ValueError("--dump-book N and --book-out FILE go together")
    if args.dump_book is not None and not 1 <= args.dump_book <= 1000:
        raise ValueError("--dump-book N: N must be in 1..1000")
    input_file(args.log, "--log")
    if args.book_out is not None:
        not_an_input(args.book_out, "--book-out", args.log)
    depth = args.dump_book or 0
    from gateway.backtest import SkippedInput
    from gateway.md_feed import MarketDataFeed, MdDecoder, MdLogReader

    # skipping a message can leave later ones naming orders the book never got: those are
    # counted (book_rejects) and reported, not fatal
    feed = MarketDataFeed(strict=args.on_error != "skip")
    skipped = SkippedInput(sys.stderr)
    # the backtest's input checks, MsgSeqNum gaps and repeats included; --on-error skip
    # reports and passes over what they find
    decoder = MdDecoder(price_decimals=args.price_decimals, check_sequence=True,
                        on_error=skipped if args.on_error == "skip" else None)
    reader = MdLogReader(args.log, decoder=decoder)
    counts = {"messages": 0, "snapshots": 0, "incremental_refreshes": 0, "entries": 0,
              "trades": 0, "rows": 0}
    record: str | None = args.symbol
    out: BinaryIO | None = None
    start = time.perf_counter()
    # --book-out is written beside itself and renamed over once the replay and its checks
    # have passed: a replay stopped at line 881 leaves no 880-row book that looks complete
    with ExitStack() as stack:
        if depth:
            tmp = stack.enter_context(replacing(args.book_out, "--book-out"))
            out = stack.enter_context(tmp.open("wb"))
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
        seconds = time.perf_counter() - start
        if not counts["messages"]:
            raise ValueError(f"{args.log}: no market-data messages")
        if args.symbol is not None and args.symbol not in feed.symbols:
            raise ValueError(f"{args.log}: no snapshot for symbol {args.symbol!r} "
                             f"(the log has {', '.join(feed.symbols) or 'none'})")
    report: dict[str, Any] = {"log": str(args.log), **counts, "symbols": list(feed.symbols),
                              "skipped": skipped.count, "noted": skipped.noted_count,
                              "book_rejects": feed.rejects}
    if feed.rejects:
        print(f"gateway backtest: {feed.rejects} market-data entries the books rejected after "
              "skipped or missing input (they name orders or levels the books do not have)",
              file=sys.stderr, flush=True)
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


def run_config(args: argparse.Namespace) -> int:
    """The backtest of a config file; prints the summary and where the report is."""
    from gateway.backtest import Backtest, BacktestInputError
    from gateway.tca import run_metrics
    from gateway.tca_report import notes, summary_text, write_report

    try:
        bt = Backtest(args.config, progress=None if args.quiet or not sys.stderr.isatty()
                      else sys.stderr, on_error=args.on_error, output=args.output)
        started = time.perf_counter()
        result = bt.run(publish=False)
    except BacktestInputError as exc:
        print(f"gateway backtest: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(f"gateway backtest: {note}", file=sys.stderr)
        if exc.skippable:
            print("gateway backtest: stopped (use --on-error skip to pass over bad market "
                  "data)", file=sys.stderr)
        return 2
    staged = result.staged
    assert staged is not None
    # the report joins the runs' folders in staging; all of it replaces the last backtest's
    # output only once written (gateway/backtest_output.py); a failure or Ctrl-C on the
    # way (the TCA and the plots take seconds) discards the staging folder
    try:
        metrics = {name: run_metrics(run, result.tapes) for name, run in result.runs.items()}
        written = write_report(staged.staging, list(result.runs.values()), metrics,
                               result.tapes, result.info())
    except BaseException as exc:
        staged.discard(exc)
        raise
    staged.publish()
    paths = {name: result.config.output / name for name in written}
    print(summary_text(metrics))
    for note in notes(metrics, list(result.runs.values()), result.tapes):
        print(f"note: {note}")
    for p in result.passes:
        print(f"{p.name:>7}: {p.messages:>9,} market-data messages in {p.seconds:.3f} s "
              f"({p.rate or 0:,.0f}/s)")
    if result.skipped_count:
        print(f"skipped {result.skipped_count} bad market-data line(s); the first are in "
              "summary.json")
    if result.noted_count:
        print(f"noted {result.noted_count} problem(s) before market-data messages that were "
              "applied (gaps in MsgSeqNum); the first are in summary.json")
    print(f"report: {paths['report.html']}  ({time.perf_counter() - started:.2f} s)")
    return 0
