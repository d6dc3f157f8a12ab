"""Framing throughput: the C scanner, what reaches Python through the batch API, and simplefix.

Input: the real QuickFIX log FIX.4.2-KOD-BON (../shared/data) if present, else a generated log
of order-flow messages (NewOrderSingle, ExecutionReport, cancels, heartbeats); the output
says which. The log's messages are concatenated as they were on the wire (timestamps and
newlines dropped, so simplefix can parse it too) and repeated to make one in-memory buffer.

Rows, all over the same bytes in the same run (medians of several repeats):
  C fix_scan                      bench/bench_framing.c at -O3, batches of 4096 messages
  C fix_scan, log lines           the same on the raw log file (timestamp garbage skipped)
  Python columns                  Framer.scan_all + a loop reading start/end/status per message
  Python columns + 35/34          ... and MsgType and MsgSeqNum (as int) of each message,
                                  with msg_type(i)/value(i, 34), or values_of(35)/values_of(34)
  Python stream 4 KiB reads       Framer.feed of 4 KiB chunks + batches(), columns as above
  Python fields()                 ... and every message's list of (tag, value) tuples
  simplefix FixParser             append_buffer(4 KiB) + get_message() until None

usage: python bench/bench_framing.py [--repeats N] [--copies N] [--generated]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import simplefix
from common import machine  # bench/ is on sys.path when a script runs

from engine.framing import Framer

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT.parent / "shared/data/fixlogs/FIX.4.2-KOD-BON.messages.current.log"
OUT = ROOT / "bench" / "out"
CHUNK = 4096



def _message(body: str, seq: int, sender: str, target: str, when: str) -> bytes:
    header = f"34={seq}\x0149={sender}\x0152={when}\x0156={target}\x01"
    payload = (body.split("\x01", 1)[0] + "\x01" + header + body.split("\x01", 1)[1]).encode()
    head = b"8=FIX.4.2\x019=%d\x01" % len(payload) + payload
    return head + b"10=%03d\x01" % (sum(head) % 256)


def generated_log(count: int = 5000, seed: int = 7) -> list[bytes]:
    """Order flow like a desk's: orders, acks, fills, cancels and the odd heartbeat."""
    rng = random.Random(seed)
    out: list[bytes] = []
    seq = {"BUY": 1, "SELL": 1}
    for i in range(count):
        when = f"20240102-14:{(i // 600) % 60:02d}:{(i // 10) % 60:02d}.{i % 1000:03d}"
        sym = rng.choice(["AAPL", "MSFT", "IBM", "ESH4", "VOD.L"])
        px = f"{rng.uniform(50, 500):.2f}"
        qty = rng.choice([100, 200, 500, 1000])
        kind = rng.random()
        if kind < 0.35:
            side = rng.choice("12")
            body = (f"35=D\x0111=ORD{i}\x011=ACC{i % 7}\x0121=1\x0155={sym}\x0154={side}"
                    f"\x0160={when}\x0138={qty}\x0140=2\x0144={px}\x0159=0\x01")
            sender, target = "BUY", "SELL"
        elif kind < 0.85:
            cum = rng.choice([0, qty // 2, qty])
            body = (f"35=8\x0137=X{i}\x0111=ORD{i - 1}\x0117=E{i}\x0120=0\x01150=2\x0139=2"
                    f"\x011=ACC{i % 7}\x0155={sym}\x0154=1\x0138={qty}\x0132={cum}\x0131={px}"
                    f"\x01151={qty - cum}\x0114={cum}\x016={px}\x0160={when}\x01")
            sender, target = "SELL", "BUY"
        elif kind < 0.95:
            body = (f"35=F\x0141=ORD{i - 3}\x0111=CXL{i}\x0155={sym}\x0154=1\x0160={when}"
                    f"\x0138={qty}\x01")
            sender, target = "BUY", "SELL"
        else:
            body = "35=0\x01"
            sender, target = "BUY", "SELL"
        out.append(_message(body, seq[sender], sender, target, when))
        seq[sender] += 1
    return out


def median_rate(messages: int, run: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        got = run()
        dt = time.perf_counter() - t0
        if got != messages:
            raise AssertionError(f"run saw {got} messages, expected {messages}")
        rates.append(messages / dt)
    return statistics.median(rates)


def c_rate(path: Path, repeats: int) -> tuple[int, float]:
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / "bench_framing"
    cmd = ["gcc", "-std=c11", "-O3", "-march=native", "-Wall", "-Wextra", "-Werror",
           "-I", str(ROOT / "csrc"), str(ROOT / "bench" / "bench_framing.c"),
           str(ROOT / "csrc" / "framing.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True)
    line = subprocess.run([str(exe), str(path), str(repeats), "0.3"], check=True,
                          capture_output=True, text=True).stdout.split()
    return int(line[0]), float(line[1])


def python_columns(framer: Framer, data: bytes) -> int:
    n = 0
    for batch in framer.scan_all(data):
        for _start, _end, status in zip(batch.starts, batch.ends, batch.statuses, strict=True):
            n += status == 0
    return n


def python_columns_and_header(framer: Framer, data: bytes) -> int:
    n = 0
    for batch in framer.scan_all(data):
        msg_type, value = batch.msg_type, batch.value
        for i, status in enumerate(batch.statuses):
            if status == 0:
                msg_type(i)
                int(value(i, 34) or b"0")
                n += 1
    return n


def python_columns_and_header_batched(framer: Framer, data: bytes) -> int:
    n = 0
    for batch in framer.scan_all(data):
        for status, _msg_type, seq in zip(batch.statuses, batch.values_of(35),
                                          batch.values_of(34), strict=True):
            if status == 0:
                int(seq or b"0")
                n += 1
    return n


def python_stream(framer: Framer, data: bytes) -> int:
    n = 0
    for pos in range(0, len(data), CHUNK):
        framer.feed(data[pos : pos + CHUNK])
        for batch in framer.batches():
            for _start, _end, status in zip(batch.starts, batch.ends, batch.statuses,
                                            strict=True):
                n += status == 0
    return n


def python_fields(framer: Framer, data: bytes) -> int:
    n = 0
    for batch in framer.scan_all(data):
        fields = batch.fields
        for i in range(batch.count):
            fields(i)
            n += 1
    return n


def simplefix_parse(data: bytes) -> int:
    parser = simplefix.FixParser()
    n = 0
    for pos in range(0, len(data), CHUNK):
        parser.append_buffer(data[pos : pos + CHUNK])
        while parser.get_message() is not None:
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--copies", type=int, default=4, help="times the log is repeated in memory")
    ap.add_argument("--generated", action="store_true", help="use the generated log even if "
                    "the real one is there")
    args = ap.parse_args()

    if LOG.exists() and not args.generated:
        lines = LOG.read_bytes().splitlines()
        messages = [line.split(b" ", 2)[2] for line in lines]
        source = f"real log {LOG.name} ({len(messages)} messages)"
        raw_log = LOG.read_bytes() * args.copies
    else:
        messages = generated_log()
        why = "--generated" if args.generated else f"{LOG} absent"
        source = f"generated order-flow log ({len(messages)} messages; {why})"
        raw_log = b"".join(b"2024/01/02 14:00:00.000000 " + m + b"\n" for m in messages)
        raw_log *= args.copies
    wire = b"".join(messages) * args.copies
    count = len(messages) * args.copies

    print(f"machine: {machine()}")
    print(f"input:   {source}, x{args.copies} in memory = {count} messages, "
          f"{len(wire) / 1e6:.1f} MB, {len(wire) / count:.0f} bytes/message")
    print(f"medians of {args.repeats} repeats\n")

    with tempfile.TemporaryDirectory() as tmp:
        wire_file = Path(tmp) / "wire.fix"
        wire_file.write_bytes(wire)
        log_file = Path(tmp) / "log.txt"
        log_file.write_bytes(raw_log)
        c_count, c_wire = c_rate(wire_file, 2 * args.repeats + 1)
        c_log_count, c_log = c_rate(log_file, 2 * args.repeats + 1)
    assert c_count == count and c_log_count == count, (c_count, c_log_count, count)

    framer = Framer()  # one per session, as in the gateway: its C arrays are reused
    rows = [
        ("C fix_scan (wire bytes)", c_wire),
        ("C fix_scan (log lines, timestamps skipped)", c_log),
        ("Python batch: columns start/end/status",
         median_rate(count, lambda: python_columns(framer, wire), args.repeats)),
        ("Python batch: + MsgType, MsgSeqNum by value(i)",
         median_rate(count, lambda: python_columns_and_header(framer, wire), args.repeats)),
        ("Python batch: + MsgType, MsgSeqNum by values_of",
         median_rate(count, lambda: python_columns_and_header_batched(framer, wire), args.repeats)),
        ("Python stream: feed 4 KiB + batches()",
         median_rate(count, lambda: python_stream(framer, wire), args.repeats)),
        ("Python batch: fields() tuples per message",
         median_rate(count, lambda: python_fields(framer, wire), args.repeats)),
    ]
    base = median_rate(count, lambda: simplefix_parse(wire), max(3, args.repeats // 2))
    rows.append(("simplefix FixParser (4 KiB appends)", base))

    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  {'msgs/s':>12}  {'x simplefix':>11}")
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:>12,.0f}  {rate / base:>11.1f}")


if __name__ == "__main__":
    main()
