"""Order book benchmark: the C core alone, then the same ops through Python.

    python bench/bench_book.py [--ops 1000000] [--python-ops 200000] [--reps 5]

Compiles bench/bench_book.c with -O3 (no sanitizers) against csrc/book.c, runs it (C
throughput, per-op latency, memory of 1M resting orders, a LOBSTER day if the shared data is
there), and has it write its op streams to bench/out/. Python then applies the very same ops
through the wrapper: batched apply (prebuilt batch, and including building the batch from
columns or from Op tuples), the per-call methods, and the pure-Python ReferenceBook, on the
first ``--python-ops`` ops for all of them so the ratios compare like with like, plus the
batched path on the whole stream, as one apply and as applies of 16k ops (one apply of 1M
ops returns ~70 MB of events, and first-touching that much memory is a large part of its
time on a VM). Each figure is the median of ``--reps`` runs (one run for
the ReferenceBook, which is slow), each on a fresh book. Needs the extension built
(``pip install -e .``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.book import Op, OpBatch, OpType, OrderBook  # noqa: E402
from engine.errors import CoreError  # noqa: E402
from engine.refbook import ReferenceBook  # noqa: E402

OUT = ROOT / "bench" / "out"
LOBSTER = (ROOT.parent / "shared" / "data" / "lobster"
           / "AAPL_2012-06-21_34200000_57600000_message_1.csv")



def build_and_run_c(ops: int, reps: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / "bench_book"
    cc = os.environ.get("CC", "gcc")
    cmd = [cc, "-std=c11", "-O3", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "csrc"),
           str(ROOT / "bench" / "bench_book.c"), str(ROOT / "csrc" / "book.c"), "-o", str(exe),
           "-lm"]
    subprocess.run(cmd, check=True)
    args = [str(exe), "--ops", str(ops), "--reps", str(reps),
            "--dump-synthetic", str(OUT / "synthetic.ops")]
    if LOBSTER.exists():
        args += ["--lobster", str(LOBSTER), "--dump-lobster", str(OUT / "lobster.ops")]
    else:
        print(f"note: {LOBSTER} absent: LOBSTER workload skipped")
    print(f"$ {' '.join(cmd)}\n$ {' '.join(args)}\n", flush=True)
    subprocess.run(args, check=True)


def median_seconds(run: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_call(book: OrderBook | ReferenceBook, ops: list[Op]) -> int:
    """The ops through the typed per-call methods, as an application would call them."""
    rejects = 0
    for t, id_, side, price, qty, tif in ops:
        try:
            if t == OpType.LIMIT:
                book.limit(id_, side, price, qty, tif)
            elif t == OpType.CANCEL:
                book.cancel(id_, qty)
            elif t == OpType.MARKET:
                book.market(id_, side, qty, tif)
            elif t == OpType.REPLACE:
                book.replace(id_, price, qty)
            elif t == OpType.ADD:
                book.add(id_, side, price, qty)
            elif t == OpType.REDUCE:
                book.reduce(id_, side, price, qty)
            elif t == OpType.DELETE:
                book.delete(id_, side, price, qty)
            else:
                book.execute(id_, side, price, qty)
        except CoreError:
            rejects += 1
    return rejects


def python_rows(name: str, batch: OpBatch, n: int, reps: int) -> list[tuple[str, int, float]]:
    """(label, ops, seconds) for every way in, on the first n ops of batch."""
    ops = list(batch)[:n]
    prefix = OpBatch(ops)
    columns = [list(col) for col in zip(*ops, strict=True)]
    full_columns = [list(col) for col in zip(*batch, strict=True)]

    def fresh() -> OrderBook:
        return OrderBook(1 << 20)

    def timed_apply(b: OpBatch) -> float:
        times = []
        for _ in range(reps):
            with fresh() as book:
                t0 = time.perf_counter()
                book.apply(b)
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def timed_apply_pieces(pieces: list[OpBatch]) -> float:
        times = []
        for _ in range(reps):
            with fresh() as book:
                t0 = time.perf_counter()
                for piece in pieces:
                    book.apply(piece)
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def build_cols_apply(cols: list[list[int]]) -> Callable[[], object]:
        def run() -> object:
            with fresh() as book:
                return book.apply(OpBatch.from_columns(*cols))
        return run

    def build_tuples_apply() -> object:
        with fresh() as book:
            return book.apply(OpBatch(ops))

    def apply_decode() -> object:
        with fresh() as book:
            return book.apply(prefix).to_list()

    def calls() -> object:
        with fresh() as book:
            return per_call(book, ops)

    def reference() -> object:
        return ReferenceBook(1 << 20).apply(ops)

    # The same events from all of them, or the figures mean nothing.
    with fresh() as book:
        assert book.apply(prefix).to_list() == ReferenceBook(1 << 20).apply(ops)

    rows = [
        (f"{name}: batched, apply only", n, timed_apply(prefix)),
        (f"{name}: batched + from_columns", n, median_seconds(build_cols_apply(columns), reps)),
        (f"{name}: batched + OpBatch(tuples)", n, median_seconds(build_tuples_apply, reps)),
        (f"{name}: batched + to_list()", n, median_seconds(apply_decode, reps)),
        (f"{name}: per-call methods", n, median_seconds(calls, reps)),
        (f"{name}: ReferenceBook", n, median_seconds(reference, 1)),
    ]
    if len(batch) > n:
        size = 1 << 14
        raw = batch.raw
        pieces = [OpBatch.from_raw(raw[i : i + size * 32]) for i in range(0, len(raw), size * 32)]
        rows += [
            (f"{name}: batched, apply only", len(batch), timed_apply(batch)),
            (f"{name}: batched, 16k-op applies", len(batch), timed_apply_pieces(pieces)),
            (f"{name}: batched + from_columns", len(batch),
             median_seconds(build_cols_apply(full_columns), reps)),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="synthetic stream length")
    parser.add_argument("--python-ops", type=int, default=200_000,
                        help="ops every Python variant runs (the ReferenceBook is slow)")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    build_and_run_c(args.ops, args.reps)

    rows: list[tuple[str, int, float]] = []
    synthetic = OpBatch.from_raw((OUT / "synthetic.ops").read_bytes())
    rows += python_rows("synthetic", synthetic, min(args.python_ops, len(synthetic)), args.reps)
    if (OUT / "lobster.ops").exists():
        lobster = OpBatch.from_raw((OUT / "lobster.ops").read_bytes())
        rows += python_rows("lobster", lobster, min(args.python_ops, len(lobster)), args.reps)

    print("\nthrough Python (median of runs, fresh book each):")
    print(f"{'path':<36} {'ops':>9} {'Mops/s':>8} {'us/op':>7} {'x per-call':>10} {'x ref':>7}")
    baselines: dict[tuple[str, int], tuple[float, float]] = {}
    for label, n, sec in rows:
        name = label.split(":")[0]
        if label.endswith("per-call methods"):
            baselines.setdefault((name, n), (0.0, 0.0))
            baselines[(name, n)] = (sec, baselines[(name, n)][1])
        if label.endswith("ReferenceBook"):
            baselines[(name, n)] = (baselines[(name, n)][0], sec)
    for label, n, sec in rows:
        call, ref = baselines.get((label.split(":")[0], n), (0.0, 0.0))
        vs_call = f"{call / sec:10.1f}" if call else f"{'':>10}"
        vs_ref = f"{ref / sec:7.1f}" if ref else f"{'':>7}"
        print(f"{label:<36} {n:>9} {n / sec / 1e6:8.2f} {sec / n * 1e6:7.2f} {vs_call} {vs_ref}")


if __name__ == "__main__":
    main()
