"""``gateway lobster replay``: rebuild a LOBSTER day's book from its messages in the C book.

Writes the book after every message in LOBSTER's orderbook layout and prints one JSON line:
``rows``, ``levels``, ``levels_learned``, ``seconds`` (the replay alone) and
``events_per_second``; with ``--check``, also ``matches`` and the first differing row.
With no files it replays the bundled AMZN level-5 excerpt.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path
from typing import Any

from engine import lobster

SAMPLE_MESSAGES = "AMZN_2012-06-21_message_5_head3000.csv"
SAMPLE_ORDERBOOK = "AMZN_2012-06-21_orderbook_5_head3000.csv"


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
    rep.add_argument("messages", nargs="?", type=Path, help="LOBSTER message CSV")
    rep.add_argument("orderbook", nargs="?", type=Path, help="LOBSTER orderbook CSV")
    rep.add_argument("--out", type=Path, default=Path("logs/run/BOOK.csv"),
                     help="where to write the rebuilt book (default: %(default)s)")
    rep.add_argument("--check", action="store_true",
                     help="compare the rebuilt book with the orderbook file, row by row")
    rep.set_defaults(run=run_replay)


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
    messages = args.messages or sample_path(SAMPLE_MESSAGES)
    orderbook = args.orderbook or sample_path(SAMPLE_ORDERBOOK)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = lobster.replay(messages, orderbook, args.out)
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
