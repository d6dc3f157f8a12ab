"""The ``gateway`` command: one entry point, a subcommand per job.

Each subcommand lives in its own module (``gateway/cmd_*.py``) that exposes
``add_parser(subparsers)``; this module only wires them together and turns the errors a user
can cause (bad files, bad config) into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway import cmd_audit, cmd_backtest, cmd_demo, cmd_lobster, cmd_replay, cmd_run


class UserError(Exception):
    """A problem with the user's input; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="FIX trading gateway with a C core."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmd_audit.add_parser(sub)
    cmd_demo.add_parser(sub)
    cmd_backtest.add_parser(sub)
    cmd_lobster.add_parser(sub)
    cmd_replay.add_parser(sub)
    cmd_run.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except (UserError, ValueError, OSError) as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
