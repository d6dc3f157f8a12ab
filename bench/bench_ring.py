"""SPSC ring throughput between two threads: in C, and from Python through engine.ring.

Rows (records per second, medians of several repeats, 32-byte records, 64 KiB ring):
  C push/pop                    bench/bench_ring.c at -O3, one record per call
  C push_batch/pop_batch (64)   the same, 64 records per call
  Python push/pop               two Python threads through SpscRing, one record per call
  Python batches of 64          push_batch / pop_batch
  queue.SimpleQueue put/get     the baseline: the standard library's C queue (unbounded, so
                                the producer never waits: not a like-for-like bound)
  queue.Queue(2048) put/get     the standard library's bounded queue (blocks when full)
Python threads call time.sleep(0) when the ring is full or empty (see engine/ring.py on why).

usage: python bench/bench_ring.py [--records N] [--repeats N]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs

from engine.ring import SpscRing

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SIZE = 32
CAPACITY = 1 << 16
BATCH = 64



def c_rates(records: int, repeats: int) -> tuple[float, float]:
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / "bench_ring"
    subprocess.run(["gcc", "-std=c11", "-O3", "-march=native", "-Wall", "-Wextra", "-Werror",
                    "-I", str(ROOT / "csrc"), str(ROOT / "bench" / "bench_ring.c"),
                    str(ROOT / "csrc" / "ring.c"), "-o", str(exe), "-lpthread"], check=True)

    def run(batch: int) -> float:
        out = subprocess.run([str(exe), str(records), str(SIZE), str(batch), str(repeats),
                              str(CAPACITY)], check=True, capture_output=True, text=True)
        return float(out.stdout.split()[0])

    return run(1), run(BATCH)


def two_threads(produce: Callable[[list[bytes]], None], consume: Callable[[int], int],
                items: list[bytes]) -> float:
    """Records per second moving ``items`` from a producer thread to a consumer thread."""
    got: list[int] = []
    consumer = threading.Thread(target=lambda: got.append(consume(len(items))))
    producer = threading.Thread(target=produce, args=(items,))
    t0 = time.perf_counter()
    consumer.start()
    producer.start()
    producer.join()
    consumer.join()
    rate = len(items) / (time.perf_counter() - t0)
    if got != [len(items)]:
        raise AssertionError(f"consumer saw {got}, expected {len(items)}")
    return rate


def ring_per_item(items: list[bytes]) -> float:
    ring = SpscRing(CAPACITY)

    def produce(data: list[bytes]) -> None:
        push = ring.push
        for item in data:
            while not push(item):
                time.sleep(0)

    def consume(n: int) -> int:
        pop = ring.pop
        seen = 0
        while seen < n:
            if pop() is None:
                time.sleep(0)
            else:
                seen += 1
        return seen

    return two_threads(produce, consume, items)


def ring_batched(items: list[bytes]) -> float:
    ring = SpscRing(CAPACITY)

    def produce(data: list[bytes]) -> None:
        for i in range(0, len(data), BATCH):
            chunk = data[i : i + BATCH]
            while chunk:
                pushed = ring.push_batch(chunk)
                if not pushed:
                    time.sleep(0)
                chunk = chunk[pushed:]

    def consume(n: int) -> int:
        seen = 0
        while seen < n:
            got = ring.pop_batch(BATCH)
            if not got:
                time.sleep(0)
            seen += len(got)
        return seen

    return two_threads(produce, consume, items)


def simple_queue(items: list[bytes]) -> float:
    q: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def produce(data: list[bytes]) -> None:
        put = q.put
        for item in data:
            put(item)

    def consume(n: int) -> int:
        get = q.get
        for _ in range(n):
            get()
        return n

    return two_threads(produce, consume, items)


def bounded_queue(items: list[bytes]) -> float:
    q: queue.Queue[bytes] = queue.Queue(maxsize=CAPACITY // SIZE)

    def produce(data: list[bytes]) -> None:
        put = q.put
        for item in data:
            put(item)

    def consume(n: int) -> int:
        get = q.get
        for _ in range(n):
            get()
        return n

    return two_threads(produce, consume, items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    items = [i.to_bytes(8, "little") * (SIZE // 8) for i in range(args.records)]

    print(f"machine: {machine()}")
    print(f"{args.records} records of {SIZE} bytes, ring of {CAPACITY} bytes, "
          f"medians of {args.repeats} repeats\n")
    c_item, c_batch = c_rates(10 * args.records, args.repeats)
    base = statistics.median(simple_queue(items) for _ in range(args.repeats))
    rows = [
        ("C push/pop, two threads", c_item),
        (f"C push_batch/pop_batch ({BATCH}), two threads", c_batch),
        ("Python SpscRing push/pop, two threads",
         statistics.median(ring_per_item(items) for _ in range(args.repeats))),
        (f"Python SpscRing batches of {BATCH}, two threads",
         statistics.median(ring_batched(items) for _ in range(args.repeats))),
        ("queue.SimpleQueue put/get, two threads", base),
        (f"queue.Queue({CAPACITY // SIZE}) put/get, two threads",
         statistics.median(bounded_queue(items) for _ in range(args.repeats))),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  {'records/s':>12}  {'x SimpleQueue':>13}")
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:>12,.0f}  {rate / base:>13.1f}")


if __name__ == "__main__":
    main()
