"""Serving a ResendRequest: the session layer's time per resent message.

An acceptor session sends ``--messages`` ExecutionReports, then answers a ResendRequest for
all of them (BeginSeqNo 1, EndSeqNo 0). Timed, median of ``--runs``:

* the session's answer (``Session.data_received`` of the ResendRequest, then
  ``Session.send_owed`` for each further slice of ``Session.resend_slice`` messages): stored
  messages copied with their header rewritten in bytes (``gateway.resend.possdup_copy``);
* baseline, in the same run: each stored message decoded, given PossDupFlag,
  OrigSendingTime and a new SendingTime, and encoded again (what the session does for a
  header the byte copy leaves alone, such as one with a group).

The transport's work for each message (message log line, socket write) comes on top of both.
The transport writes one slice at a time as the peer reads, serving other sessions in
between: the longest stall a resend causes them is one slice's time, also printed.

usage: python bench/bench_resend.py [--messages 12000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixspec.dictionary import builtin_session  # noqa: E402
from gateway.codec import decode_bytes, encode  # noqa: E402
from gateway.config import SessionConfig  # noqa: E402
from gateway.fixmessage import Message  # noqa: E402
from gateway.session import Session  # noqa: E402
from gateway.store import MemoryStore  # noqa: E402

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
SD = builtin_session("FIX.4.4")


def _frame(body: str, seq: int) -> bytes:
    head = f"35={body.split('|', 1)[0]}|34={seq}|49=CLIENT|52=20261126-14:00:00.000|56=VENUE|"
    text = (head + body.split("|", 1)[1] + "|").replace("|", "\x01")
    frame = f"8=FIX.4.4\x019={len(text)}\x01{text}".encode()
    return frame + b"10=%03d\x01" % (sum(frame) % 256)


def report(i: int) -> Message:
    m = Message("8")
    for tag, value in ((6, "10.25"), (11, f"C{i}"), (14, "100"), (17, f"E{i}"), (31, "10.25"),
                       (32, "100"), (37, f"O{i}"), (39, "2"), (54, "1"), (55, "AAPL"),
                       (60, "20261126-14:00:00.000"), (150, "F"), (151, "0")):
        m.body.set(tag, value)
    return m


def session(n: int) -> Session:
    cfg = SessionConfig("FIX.4.4", "VENUE", "CLIENT", role="acceptor")
    s = Session(cfg, MemoryStore(T0), SD, app_types={"D"})
    s.connection_made(T0)
    s.data_received(_frame("A|98=0|108=30", 1), T0)
    for i in range(n):
        s.send(report(i), T0)
    return s


def serve(n: int) -> float:
    s = session(n)
    request = _frame("2|7=1|16=0", 2)
    t0 = time.perf_counter()
    written = len(s.data_received(request, T0).data)
    slices = 1
    while s.owes:  # the slices a transport asks for as the peer reads
        written += len(s.send_owed(T0).data)
        slices += 1
    elapsed = time.perf_counter() - t0
    assert written == n + 1, written  # the Logon's gap fill and every report
    serve.slices = slices  # type: ignore[attr-defined]
    return elapsed


def reencode(n: int) -> float:
    stored = [m.raw for m in session(n).store.sent(2, n + 1)]
    t0 = time.perf_counter()
    for raw in stored:
        msg = decode_bytes(raw, SD)
        msg.header.set(43, True)
        msg.header.set(122, msg.header.get(52) or b"")
        msg.header.set(52, b"20261126-14:00:01.000")
        encode(msg, SD)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=12_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n = args.messages
    print(machine())
    copy = statistics.median(serve(n) for _ in range(args.runs))
    base = statistics.median(reencode(n) for _ in range(args.runs))
    print(f"resend of {n:,} ExecutionReports, median of {args.runs} runs")
    print(f"  session answer (byte copy)      {copy * 1e3:8.1f} ms  {copy / n * 1e6:6.1f} µs/msg"
          f"  ({serve.slices} slices, {copy / serve.slices * 1e3:.1f} ms each)")  # type: ignore[attr-defined]
    print(f"  baseline: decode + encode each  {base * 1e3:8.1f} ms  {base / n * 1e6:6.1f} µs/msg")
    print(f"  the session answers {base / copy:.1f}x faster than the baseline alone")


if __name__ == "__main__":
    main()
