"""``gateway replay LOG --to HOST:PORT``: play one side of a captured FIX log to a running
acceptor and report where its answers differ from the other side of the log.

The played side (``--side``, default the sender of the first NewOrderSingle) has its
application messages sent in log order, paced by the log's timestamps divided by ``--speed``
(``1x``, ``10x``, ``0.5x``, ``max``). Its session-level messages are not played: the replayer
logs on as ``--sender`` to ``--target`` with ResetSeqNumFlag, heartbeats and answers
TestRequests itself. Each message gets the new session's header (CompIDs, MsgSeqNum,
SendingTime), TransactTime now, optional ``--clordid-prefix`` on ClOrdID/OrigClOrdID (to
replay twice against one acceptor without duplicate-ClOrdID rejects), and for a cancel or
replace the acceptor's OrderID (37) when its answer to the original order has arrived (else
no OrderID: the log's is another venue's, which the acceptor would refuse). All
other application fields are kept. With ``--begin-string`` other than the log's, fields that
the target version's dictionary does not define for the message type are dropped (the report
counts them); nothing else is translated.

The acceptor's answers are paired with the other side's answers in the log by ClOrdID (11;
RefSeqNum for session Rejects) in order of arrival, and compared on MsgType, ExecType (FIX
4.2's 1/2 count as 4.4's F), OrdStatus, OrderQty, CumQty, LeavesQty and LastQty. After the
last message the replay waits until every expected answer has arrived or none has for
``--settle`` seconds.

A replay cut short (the acceptor dropped the session, or Ctrl-C) reports on the messages
it sent: the log's answers to messages never sent are counted apart, not as missing, and
so are fills not received that an order not sent may have caused (one the log has after an
order of the same symbol and the other side that was not sent: o1's fill after o2, which
crossed it). A message on the wire is counted sent, whenever Ctrl-C comes.

Exit status: 0 when the replay ran (differences are data), 1 when the acceptor dropped the
session part-way (closed it or logged out before the replay did, with messages still to
send or answers still due; the report covers what ran), 130 when interrupted (Ctrl-C, SIGINT: the
report covers what ran), 2 for a log that cannot be read (file:line), an unreachable
acceptor or a refused logon.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.config import APPL_VER_IDS
from gateway.fixlog import as_read
from gateway.input_paths import input_file, path_arg
from gateway.log_replay import (
    Answer,
    Comparison,
    Difference,
    Plan,
    ReplayError,
    compare,
    message_key,
    plan,
    rewrite_fields,
    strip_prefix,
    tally,
)
from gateway.replay_wire import ReplayWire, WireError, now_stamp, parse_target

GRACE = 0.2  # seconds to wait for more answers once the log's count has arrived
SETTLE_MAX = 86_400  # --settle: a day (a wait beyond the clock's range was a traceback)


#: the slowest --speed: a thousand times slower than the log (a day's log then takes three
#: years; slower, the waits overflow what the system can wait for)
MIN_SPEED = 0.001


def parse_speed(text: str) -> float:
    """``max`` -> infinity; ``10x``, ``10``, ``0.5x`` -> that factor (at least
    :data:`MIN_SPEED`)."""
    if text.lower() == "max":
        return math.inf
    try:
        value = float(text.lower().removesuffix("x"))
    except ValueError:
        value = 0.0
    if not value >= MIN_SPEED or math.isinf(value):
        raise argparse.ArgumentTypeError(f"speed {text!r}: expected 1x, 10x, 0.5x or max "
                                         f"(at least {MIN_SPEED}x)")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a count >= 0 (0: all)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= SETTLE_MAX:  # refuses nan too
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds from 0 to "
                                         f"{SETTLE_MAX:,}, e.g. 1 or 0.5")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay one side of a FIX log to a running acceptor",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", type=path_arg, metavar="LOG", help="a captured FIX message log")
    p.add_argument("--to", required=True, metavar="HOST:PORT", help="the acceptor")
    p.add_argument("--speed", type=parse_speed, default=1.0, metavar="Nx|max",
                   help="pace: the log's time divided by N (1x, 10x, 0.5x...; default 1x), "
                        "or max: as fast as the acceptor answers")
    p.add_argument("--side", metavar="COMPID", help="SenderCompID of the side to play "
                   "(default: the sender of the first NewOrderSingle)")
    p.add_argument("--sender", default="CLIENT1", help="our SenderCompID (default CLIENT1)")
    p.add_argument("--target", default="VENUE", help="the acceptor's CompID (default VENUE)")
    p.add_argument("--begin-string", metavar="BEGIN",
                   help="BeginString to send, FIX.4.x or FIXT.1.1; default: the log's")
    p.add_argument("--app-version", default="FIX.5.0SP2", choices=sorted(APPL_VER_IDS),
                   help="FIXT.1.1: the application version our Logon declares "
                        "(DefaultApplVerID; default %(default)s), the acceptor session's")
    p.add_argument("--clordid-prefix", default="", metavar="TEXT",
                   help="prepended to ClOrdID and OrigClOrdID")
    p.add_argument("--symbol", action="append", default=[], metavar="LOG=OURS",
                   help="rename a symbol (repeatable), e.g. DEMO=AAPL")
    p.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt (default 30)")
    p.add_argument("--settle", type=_seconds, default=1.0, metavar="SECONDS",
                   help="seconds without answers that end the replay (default 1)")
    p.add_argument("--max-diffs", type=_count, default=20, metavar="N",
                   help="differences listed (default 20; 0 lists them all)")
    p.add_argument("--json", action="store_true", help="print one JSON summary instead")
    p.add_argument("--progress", action="store_true",
                   help="progress lines on stderr (about every 5 s) even when it is not a "
                        "terminal (on one, a line redrawn in place is the default)")
    p.set_defaults(run=run, keyboard_interrupt=True)  # (see gateway.cli)


PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal


class ProgressFn(Protocol):
    def __call__(self, sent: int, answers: int, elapsed: float, final: bool = False) -> None:
        ...


class Progress:
    """Where a replay is, on stderr: one line redrawn in place on a terminal (at most ten
    times a second), else (``--progress``) a line every PROGRESS_EVERY seconds."""

    def __init__(self, total: int, *, redraw: bool) -> None:
        self.total = total
        self.redraw = redraw
        self.every = 0.1 if redraw else PROGRESS_EVERY
        self.shown = 0.0

    def __call__(self, sent: int, answers: int, elapsed: float, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < self.every:
            return
        self.shown = now
        pct = 100 * sent / self.total if self.total else 100.0
        text = (f"replay: {sent}/{self.total} sent ({pct:.0f}%), {answers} answers, "
                f"{elapsed:.0f} s")
        if self.redraw:
            sys.stderr.write(f"\r{text:<60}" + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


@dataclass(slots=True)
class Outcome:
    """What a replay did: answers in arrival order, sends, and whether it ran to the end."""

    sent: int = 0
    answers: list[Answer] = field(default_factory=list)
    dropped_fields: dict[int, int] = field(default_factory=dict)
    completed: bool = True
    interrupted: bool = False
    note: str = ""
    seconds: float = 0.0


def parse_symbols(pairs: Iterable[str]) -> dict[str, str]:
    """``["DEMO=AAPL"]`` -> ``{"DEMO": "AAPL"}``, each as :func:`gateway.fixlog.as_read` (the
    replay holds the log's values and the answers as latin-1 text of their bytes);
    ValueError for a pair without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise ValueError(f"--symbol {pair!r}: expected LOG=OURS, e.g. DEMO=AAPL")
        out[as_read(old)] = as_read(new)
    return out


def play(script: Plan, wire: ReplayWire, *, speed: float, clordid_prefix: str = "",
         symbols: Mapping[str, str] | None = None, settle: float = 1.0,
         progress: ProgressFn | None = None) -> Outcome:
    """Send every step of ``script`` on ``wire`` at ``speed`` and collect the answers.
    ``progress(sent, answers, elapsed)`` is called while it waits and after each message,
    and with ``final=True`` once the answers are in."""
    out = Outcome()
    order_ids: dict[str, str] = {}  # log ClOrdID -> the acceptor's OrderID
    step_of_seq: dict[int, int] = {}  # our MsgSeqNum -> step index
    started = time.monotonic()

    def collect(timeout: float) -> bool:
        got = wire.poll(timeout)
        for msg in got:
            v = msg.values
            step: int | None = None
            key = message_key(v)
            if key is None and v.get(45, "").isdigit():
                step = step_of_seq.get(int(v[45]))
                key = script.steps[step].key if step is not None else None
            key = strip_prefix(key or "", clordid_prefix)
            if v.get(37) and v.get(37) != "NONE" and key:
                order_ids.setdefault(key, v[37])
            out.answers.append(Answer(v, key, v.get(8, ""), step))
        return bool(got)

    try:
        _send_and_wait(script, wire, out, collect, step_of_seq, order_ids, started, speed=speed,
                       clordid_prefix=clordid_prefix, symbols=symbols, settle=settle,
                       progress=progress)
    except KeyboardInterrupt:  # the report on what ran is still wanted
        out.completed, out.interrupted = False, True
        out.note = f"interrupted (Ctrl-C) after {out.sent} of {len(script.steps)} messages"
    out.seconds = time.monotonic() - started
    if progress is not None:
        progress(out.sent, len(out.answers), out.seconds, final=True)
    return out


@contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """SIGINT held back for the block (it raises KeyboardInterrupt as the block ends); left
    blocked after it if it was before. The mask is read before anything changes it and
    blocked inside the ``try``, so an interrupt raised at any point leaves it as it was."""
    blocked_before = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        yield
    finally:
        if not blocked_before:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _send_and_wait(script: Plan, wire: ReplayWire, out: Outcome, collect: Callable[[float], bool],
                   step_of_seq: dict[int, int], order_ids: dict[str, str], started: float, *,
                   speed: float, clordid_prefix: str, symbols: Mapping[str, str] | None,
                   settle: float, progress: ProgressFn | None) -> None:
    expected_total = len(script.expected)
    for index, step in enumerate(script.steps):
        due = started + step.at / speed
        while not wire.closed and not wire.logged_out and (left := due - time.monotonic()) > 0:
            # a second at a time: a progress line is due, and a wait of months at a slow
            # speed is past what one select can wait for
            collect(min(left, 1.0))
            if progress is not None:
                progress(out.sent, len(out.answers), time.monotonic() - started)
        if wire.closed or wire.logged_out:
            break
        collect(0)
        fields = rewrite_fields(step, now=now_stamp(), log_version=script.version,
                                begin_string=wire.begin_string, app_version=wire.app_version,
                                clordid_prefix=clordid_prefix,
                                order_ids=order_ids, symbols=symbols, dropped=out.dropped_fields)
        with _ctrl_c_after():  # a message on the wire is counted sent, whenever Ctrl-C comes
            try:
                seq = wire.send(step.msg_type, fields)
            except WireError:
                break
            step_of_seq[seq] = index
            out.sent += 1
        if progress is not None:
            progress(out.sent, len(out.answers), time.monotonic() - started)
    # Wait for the answers: until none has come for ``settle`` seconds, or for a moment
    # after the log's count has arrived (extra answers would follow right behind).
    quiet_since = time.monotonic()
    while not wire.closed and not wire.logged_out:
        quiet = settle if len(out.answers) < expected_total else min(settle, GRACE)
        left = quiet_since + quiet - time.monotonic()
        if left <= 0:
            break
        if collect(left):
            quiet_since = time.monotonic()
    if wire.closed or wire.logged_out:
        # the acceptor ended the session before we did: a drop, unless nothing was left to
        # send and every answer the log has was in
        out.completed = out.sent == len(script.steps) and len(out.answers) >= expected_total
        why = f" ({wire.logout_text})" if wire.logout_text else ""
        out.note = (f"the acceptor {'logged out' if wire.logged_out else 'closed the connection'}"
                    f"{why} after {out.sent} of {len(script.steps)} messages")


def listed(result: Comparison, max_diffs: int) -> list[Difference]:
    """The differences a report lists: the first ``max_diffs``, or all when it is 0."""
    return result.differences[:max_diffs] if max_diffs else list(result.differences)


def summary(script: Plan, outcome: Outcome, result: Comparison, *, log: str, to: str,
            speed: float, max_diffs: int) -> dict[str, Any]:
    """The report as plain values (the ``--json`` output); ``first_differences`` holds
    :func:`listed`'s."""
    expected = len(script.expected_of(outcome.sent)) - result.not_sent
    return {
        "log": log, "to": to, "side": script.side, "other": script.other,
        "speed": "max" if math.isinf(speed) else speed,
        "log_begin_string": script.begin_string,
        "to_play": len(script.steps), "sent": outcome.sent,
        "skipped_session": script.skipped_session,
        "sent_by_type": dict(Counter(s.msg_type for s in script.steps[:outcome.sent])),
        "expected": expected,
        # answers to messages not sent, and fills not received one of them may have caused
        "expected_not_sent": len(script.expected) - expected,
        "received": len(outcome.answers),
        "received_by_type": dict(Counter(a.values.get(35, "?") for a in outcome.answers)),
        "matched": result.matched, "equal": result.equal, "missing": result.missing,
        "unexpected": result.unexpected, "differences": len(result.differences),
        "ignored_log_answers": script.ignored_other,
        "possdup_left_out": script.duplicates,
        "dropped_fields": {str(t): n for t, n in sorted(outcome.dropped_fields.items())},
        "completed": outcome.completed, "note": outcome.note,
        "seconds": round(outcome.seconds, 3),
        "differences_by_what": dict(tally(result.differences).most_common()),
        "first_differences": [
            {"kind": d.kind, "where": d.where, "key": d.key, "details": list(d.details)}
            for d in listed(result, max_diffs)
        ],
    }


def _print_text(s: dict[str, Any], result: Comparison, max_diffs: int) -> None:
    out = sys.stdout
    out.write(f"replayed {s['sent']} of {s['to_play']} messages from {s['side']} "
              f"({s['log']}) to {s['to']} in {s['seconds']:.3f} s; "
              f"{s['skipped_session']} session-level messages not played\n")
    out.write(f"sent by type: {s['sent_by_type']}\n")
    not_sent = (f" and {s['expected_not_sent']} to (or caused by) messages not sent"
                if s["expected_not_sent"] else "")
    out.write(f"received {s['received']} answers {s['received_by_type']}; "
              f"the log expects {s['expected']}{not_sent}\n")
    out.write(f"matched {s['matched']} (equal {s['equal']}), missing {s['missing']}, "
              f"unexpected {s['unexpected']}, differences {s['differences']}\n")
    if s["dropped_fields"]:
        out.write(f"fields dropped for {s['to']}'s version: {s['dropped_fields']}\n")
    if s["note"]:
        out.write(f"note: {s['note']}\n")
    if s["differences_by_what"]:
        out.write("differences by what:\n")
        for what, n in s["differences_by_what"].items():
            out.write(f"  {n:6d}  {what}\n")
    shown = listed(result, max_diffs)
    if shown:
        out.write("first differences:\n")
    for d in shown:
        out.write(f"  {d}\n")
    if len(result.differences) > len(shown):
        out.write(f"  ... and {len(result.differences) - len(shown)} more differences "
                  "(--max-diffs 0 lists them all)\n")


def run(args: argparse.Namespace) -> int:
    host, port = parse_target(args.to)
    symbols = parse_symbols(args.symbol)
    input_file(args.log, "LOG")
    try:
        script = plan(args.log, args.side)
    except ReplayError as exc:
        raise ValueError(str(exc)) from None
    begin = args.begin_string or script.begin_string
    wire = ReplayWire.connect(host, port, begin_string=begin, sender=args.sender,
                              target=args.target, heartbeat=args.heartbeat,
                              app_version=args.app_version)
    try:
        shown = None
        if args.progress or sys.stderr.isatty():
            shown = Progress(len(script.steps), redraw=not args.progress)
        outcome = play(script, wire, speed=args.speed,
                       clordid_prefix=as_read(args.clordid_prefix),
                       symbols=symbols, settle=args.settle, progress=shown)
    finally:
        wire.logout()
    # a replay cut short expects no answers to what it never sent
    result = compare(script.steps[:outcome.sent], script.expected_of(outcome.sent),
                     outcome.answers)
    s = summary(script, outcome, result, log=str(args.log), to=args.to, speed=args.speed,
                max_diffs=args.max_diffs)
    if args.json:
        sys.stdout.write(json.dumps(s) + "\n")
    else:
        _print_text(s, result, args.max_diffs)
    if outcome.interrupted:
        return 130  # 128 + SIGINT, as a shell reports a process Ctrl-C stopped
    return 0 if outcome.completed else 1
