"""``gateway lobster``: LOBSTER market data tools.

``replay`` rebuilds a LOBSTER day's book from its messages in the C book, writes the book after
every message in LOBSTER's orderbook layout (to ``--out``; by default ``logs/run/BOOK.csv``
under the current directory, folders created as needed) and prints one JSON line: ``rows``,
``levels``, ``levels_learned``, ``seconds`` (the replay alone) and ``events_per_second``; with
``--check``, also ``matches`` and the first differing row. With no files it replays the
bundled AMZN level-5 excerpt.

Both commands take the message file first, then the orderbook file; files given the other way
round are named as swapped.

``to-fix`` writes the day as a FIX 4.4 market-data log (gateway/md_fix.py) and prints its
summary as one JSON line; it exits 1 if the replayed book differs from the orderbook file
(the log then reproduces the replay, not the file).

Both write their output beside the target and rename it over the target only once it is
complete (gateway/output_files.py): a run that fails (bad input, a full disk) leaves a file
already there as it was, never a partial one, and says so on stderr.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from engine import lobster
from gateway import md_fix
from gateway.input_paths import input_file, path_arg
from gateway.output_files import not_an_input, replacing

SAMPLE_MESSAGES = "AMZN_2012-06-21_message_5_head3000.csv"
SAMPLE_ORDERBOOK = "AMZN_2012-06-21_orderbook_5_head3000.csv"
#: Where ``lobster replay`` writes without ``--out``: relative, so under the current directory.
DEFAULT_OUT = "logs/run/BOOK.csv"


def sample_path(name: str) -> Path:
    """Path of a bundled LOBSTER excerpt."""
    return Path(str(resources.files("engine") / "samples" / name))


def add_parser(sub: Any) -> None:
    lob = sub.add_parser("lobster", help="LOBSTER market data tools")
    lob_sub = lob.add_subparsers(dest="lobster_command", required=True, metavar="COMMAND")
    rep = lob_sub.add_parser(
        "replay",
        help="rebuild the book from a message file and write it in orderbook layout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("messages", nargs="?", type=path_arg, metavar="MESSAGES",
                     help="LOBSTER message CSV (6 columns)")
    rep.add_argument("orderbook", nargs="?", type=path_arg, metavar="ORDERBOOK",
                     help="LOBSTER orderbook CSV (4 columns per level)")
    rep.add_argument("--out", type=path_arg, default=Path(DEFAULT_OUT),
                     help="where to write the rebuilt book (default: %(default)s under the "
                          "current directory, folders created as needed)")
    rep.add_argument("--check", action="store_true",
                     help="compare the rebuilt book with the orderbook file, row by row")
    rep.set_defaults(run=run_replay)
    fix = lob_sub.add_parser(
        "to-fix",
        help="write a LOBSTER day as a FIX 4.4 market-data log (QuickFIX message-log layout)",
        description=md_fix.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fix.add_argument("messages", type=path_arg, metavar="MESSAGES",
                     help="LOBSTER message CSV (6 columns)")
    fix.add_argument("orderbook", type=path_arg, metavar="ORDERBOOK",
                     help="LOBSTER orderbook CSV (4 columns per level)")
    fix.add_argument("-o", "--out", type=path_arg, required=True, help="the log to write")
    fix.add_argument("--symbol", type=_fix_text,
                     help="Symbol (55); default: the ticker in LOBSTER's file name")
    fix.add_argument("--date", type=_trading_day,
                     help="trading day YYYY-MM-DD; default: the date in LOBSTER's file name")
    fix.add_argument("--tz", default=md_fix.NEW_YORK,
                     help="time zone of LOBSTER's times (default: %(default)s)")
    fix.add_argument("--sender", type=_fix_text, default="LOBSTER",
                     help="SenderCompID (default: %(default)s)")
    fix.add_argument("--target", type=_fix_text, default="GATEWAY",
                     help="TargetCompID (default: %(default)s)")
    fix.set_defaults(run=run_to_fix)


def _fix_text(text: str) -> str:
    """A value the log's header or Symbol carries: printable ASCII, as the writer needs."""
    if not text or not all(" " < c <= "~" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected printable ASCII without spaces")
    return text


def _trading_day(text: str) -> date:
    """YYYY-MM-DD within what nanoseconds since 1970 in 64 bits (the log's times) hold."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a date YYYY-MM-DD") from None
    if not 1970 < day.year < 2262:
        raise argparse.ArgumentTypeError(f"{text}: expected a day from 1971 to 2261")
    return day


def first_difference(ours: Path, theirs: Path) -> int | None:
    """1-based number of the first line where the files differ, or None if they are equal."""
    with ours.open("rb") as a, theirs.open("rb") as b:
        line = 0
        for line, (x, y) in enumerate(zip(a, b, strict=False), start=1):
            if x.rstrip(b"\r\n") != y.rstrip(b"\r\n"):
                return line
        rest_a, rest_b = a.readline(), b.readline()
        return line + 1 if rest_a or rest_b else None


def run_replay(args: argparse.Namespace) -> int:
    if (args.messages is None) != (args.orderbook is None):
        raise ValueError("give both MESSAGES and ORDERBOOK, or neither for the bundled sample")
    messages = input_file(args.messages, "MESSAGES") if args.messages else sample_path(
        SAMPLE_MESSAGES)
    orderbook = input_file(args.orderbook, "ORDERBOOK") if args.orderbook else sample_path(
        SAMPLE_ORDERBOOK)
    not_an_input(args.out, "--out", messages, orderbook)
    with replacing(args.out, "--out") as tmp:  # folders made as needed; no partial book on failure
        result = lobster.replay(messages, orderbook, tmp)
    report: dict[str, Any] = result.as_json()
    status = 0
    if args.check:
        diff = first_difference(args.out, orderbook)
        report["matches"] = diff is None
        if diff is not None:
            report["first_difference_line"] = diff
            status = 1
    print(json.dumps(report))
    return status


# LOBSTER names its files TICKER_YYYY-MM-DD_..._message_N.csv.
_LOBSTER_NAME = re.compile(r"^([A-Za-z0-9.]+)_(\d{4}-\d{2}-\d{2})_")


def run_to_fix(args: argparse.Namespace) -> int:
    input_file(args.messages, "MESSAGES")
    input_file(args.orderbook, "ORDERBOOK")
    not_an_input(args.out, "--out", args.messages, args.orderbook)
    named = _LOBSTER_NAME.match(args.messages.name)
    symbol = args.symbol or (named.group(1) if named else None)
    day = args.date
    if day is None and named:
        try:  # the name's date passes the option's checks too
            day = _trading_day(named.group(2))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"{args.messages.name}: the date in its name, {exc}; give "
                             "--date") from None
    if symbol is None or day is None:
        raise ValueError(f"{args.messages.name} is not named TICKER_YYYY-MM-DD_...: "
                         "give --symbol and --date")
    summary = md_fix.lobster_to_fix(args.messages, args.orderbook, args.out, symbol=symbol,
                                    day=day, zone=args.tz, sender=args.sender,
                                    target=args.target, out_option="--out")
    print(md_fix.summary_line(summary))
    return 0 if summary.rows_differ == 0 else 1
