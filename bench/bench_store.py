"""The durable message store on a long day: what opening it costs, and what it keeps.

A FileStore is filled with ``--messages`` ExecutionReport-sized messages (fsync never), closed
and opened again, as a restarted gateway does. Median of ``--runs``, each open measured in a
fresh process (so the memory is the store's own):

* time to open (recovery: every record's CRC checked, the index rebuilt);
* Python memory the open store holds, and its peak while opening (tracemalloc);
* time per message of ``sent()`` over the whole range (what a full resend reads);
* baseline, in the same run: the memory a copy of the whole file takes (what reading the file
  into memory to recover it would hold at its peak).

usage: python bench/bench_store.py [--messages 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.store import FileStore  # noqa: E402

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
# an ExecutionReport's size: the messages are never parsed, only their bytes matter
MESSAGE = b"8=FIX.4.4\x019=250\x0135=8\x01" + b"x" * 260 + b"\x0110=000\x01"


def fill(path: Path, n: int) -> None:
    store = FileStore(path, now=T0, fsync="never")
    for seq in range(1, n + 1):
        store.save_sent(seq, MESSAGE)
    store.close()


def measure(path: Path, n: int) -> dict[str, float]:
    """In this process: open the store (timed), again under tracemalloc (its memory: the
    tracing slows it down), then read every message back."""
    started = time.perf_counter()
    store = FileStore(path, now=T0, fsync="never")
    opened = time.perf_counter() - started
    store.close()
    tracemalloc.start()
    store = FileStore(path, now=T0, fsync="never")
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    count = sum(1 for _ in store.sent(1, n))
    read = time.perf_counter() - started
    store.close()
    assert count == n, count
    return {"open_s": opened, "held_mb": held / 1e6, "peak_mb": peak / 1e6,
            "sent_us": read / n * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.messages)))
        return
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.store"
        fill(path, args.messages)
        size = path.stat().st_size
        runs = [json.loads(subprocess.run(
            [sys.executable, __file__, "--messages", str(args.messages), "--measure", str(path)],
            check=True, capture_output=True, text=True).stdout) for _ in range(args.runs)]
        tracemalloc.start()
        copy = path.read_bytes()  # the baseline: the whole file in memory
        _, whole = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del copy
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    n = args.messages
    print(f"{n:,} messages, store file {size / 1e6:.1f} MB; median of {args.runs} opens")
    print(f"open (recovery)          {med['open_s']:8.3f} s  ({med['open_s'] / n * 1e6:.2f} us a "
          "message)")
    print(f"held after opening       {med['held_mb']:8.1f} MB ({med['held_mb'] * 1e6 / n:.0f} "
          "bytes a message)")
    print(f"peak while opening       {med['peak_mb']:8.1f} MB")
    print(f"sent() over every one    {med['sent_us']:8.2f} us a message")
    print(f"baseline: the file read  {whole / 1e6:8.1f} MB; opening peaks at "
          f"{med['peak_mb'] / (whole / 1e6):.2f}x that")


if __name__ == "__main__":
    main()
