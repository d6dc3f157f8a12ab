"""The matching venue over TCP: NewOrderSingle -> ExecutionReport round trips, against the bare
FIX engine measured in the same run, and the C order book alone.

    python bench/bench_venue.py [--rate 10000] [--low-rate 500] [--repeat 3] [--profile]

Servers (separate processes, started and stopped here, a fresh run directory each):

* ``gateway run sessions/venue.yaml``: the venue (one C book per symbol, file store with
  fsync ``interval``, 50 ms); two raw-socket clients, CLIENT1 and CLIENT2 (bench/fixload.py);
* the baseline, ``gateway run sessions/acceptance.yaml`` with the same store policy (fsync
  ``interval``, 50 ms) and its ``echo`` application: one client TW sends the very same orders,
  which come back as echoes. The difference is what matching and reporting add.

The order mix repeats every 4 orders, one symbol per cycle (AAPL AMZN GOOG MSFT INTC in
turn): CLIENT1 rests a sell (10.00 to 10.04) and a buy (9.99 to 9.95), then CLIENT2 sends a
buy at 10.05 and a sell at 9.94 that cross them. Resting quantity goes 100, 200, 300 and
crossing quantity 200, 300, 100, so crossing orders fill fully, partly or sweep two orders,
and a crossing remainder rests and is hit in turn; over 15 cycles every book is back where it
was. Before the first phase CLIENT1 seeds every book with 40 orders on 5 levels a side
outside the crossing prices, so the books have depth. Every order is a DAY limit order.

Phases, on each server (``--repeat`` times, servers interleaved; medians shown):

1. closed loop: one order outstanding; latency from the send of each order to the first
   ExecutionReport (echo, for the baseline) with its ClOrdID on the sender's connection;
2. fixed rate: orders sent open loop at ``--rate`` for ``--seconds`` whatever the acks do;
   latency from each order's actual send, and "from schedule" from when it was due (which
   adds any delay of the client itself: coordinated omission shows there); achieved rate is
   acks per second from the first send to the last ack, so it falls short of ``--rate`` when
   the server cannot keep up (latencies then measure the queue that builds up). The same
   again at ``--low-rate`` for ``--low-seconds`` (0: skip), a rate the venue can sustain,
   for its latency below saturation;
3. flat out: ``--window`` orders outstanding across both clients; sustained orders per second.

Then the book alone, in this process, median of ``--core-reps`` runs of ``--core-orders``
orders of the same mix on one fresh seeded book: ``OrderBook.limit`` per call (Python wrapper
+ cffi + C), ``OrderBook.apply`` of one prebuilt ``OpBatch`` (the C core, one crossing per
16k orders), and ``Venue.new_order`` (the venue's Python layer with the book, no FIX).

``--profile`` adds two venue runs: one under cProfile (fixed rate then flat out), printing the
gateway's top functions by own and by cumulative time, and one at ``--low-rate`` with every
garbage collection in the gateway process timed (its pauses are the tail at low rates). The
client disables its own garbage collector while it measures (it makes no cycles), so its
pauses do not show up as server latency.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import pstats
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs
from fixload import ROOT, FixClient, Server, acceptance_server, percentile

sys.path.insert(0, str(ROOT))

from engine.book import Op, OpBatch, OpType, OrderBook
from engine.book_types import Side
from gateway.config import load_config
from gateway.venue import NewOrder, Venue
from gateway.venue_app import venue_config

VENUE_YAML = ROOT / "sessions" / "venue.yaml"
SYMBOLS = (b"AAPL", b"AMZN", b"GOOG", b"MSFT", b"INTC")
REST, CROSS = 0, 1  # order roles in the mix
SIDE_CHAR = {Side.BUY: b"1", Side.SELL: b"2"}


# -- the order mix ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MixOrder:
    client: int  # 0: CLIENT1 (rests), 1: CLIENT2 (crosses)
    symbol: int  # index into SYMBOLS
    side: Side
    ticks: int  # price in cents
    qty: int


def mix(k: int) -> MixOrder:
    """The k-th order of the mix (module docstring)."""
    cycle, step = divmod(k, 4)
    symbol = cycle % len(SYMBOLS)
    level = (cycle // len(SYMBOLS)) % 5
    rest_qty = 100 * (1 + cycle % 3)
    cross_qty = 100 * (1 + (cycle + 1) % 3)
    if step == 0:
        return MixOrder(REST, symbol, Side.SELL, 1000 + level, rest_qty)
    if step == 1:
        return MixOrder(REST, symbol, Side.BUY, 999 - level, rest_qty)
    if step == 2:
        return MixOrder(CROSS, symbol, Side.BUY, 1005, cross_qty)
    return MixOrder(CROSS, symbol, Side.SELL, 994, cross_qty)


def seeds() -> list[MixOrder]:
    """Depth outside the crossing prices: 4 orders on each of 5 levels a side, each symbol."""
    return [MixOrder(REST, s, side, px, 100) for s in range(len(SYMBOLS))
            for px, side in [(p, Side.SELL) for p in range(1006, 1011)]
            + [(p, Side.BUY) for p in range(989, 994)] for _ in range(4)]


def nos_body(o: MixOrder, cl_ord_id: bytes, transact_time: bytes) -> bytes:
    return (b"35=D\x0111=%s\x0154=%s\x0138=%d\x0140=2\x0144=%d.%02d\x0155=%s\x0159=0\x01"
            b"60=%s\x01" % (cl_ord_id, SIDE_CHAR[o.side], o.qty, *divmod(o.ticks, 100),
                            SYMBOLS[o.symbol], transact_time))


# -- the load ---------------------------------------------------------------------------------

class Load:
    """The clients of one server and the position in the mix (it runs on across phases, so
    the books stay balanced). With one client every order goes through it."""

    def __init__(self, clients: list[FixClient], ack_types: tuple[bytes, ...]) -> None:
        self.clients = clients
        self.ack_types = ack_types
        self.k = 0
        self.exec_types: Counter[bytes] = Counter()  # 150 of every report received

    def next_order(self, cl_ord_id: bytes) -> tuple[FixClient, bytes]:
        o = mix(self.k)
        self.k += 1
        c = self.clients[o.client % len(self.clients)]
        return c, c.frame(nos_body(o, cl_ord_id, c.timestamp()))

    def note(self, raw: bytes) -> bytes | None:
        """Count the report's ExecType; the ClOrdID if it is an ack type, else None."""
        msg_type = FixClient.field(raw, b"35")
        if msg_type == b"8":
            self.exec_types[FixClient.field(raw, b"150") or b"?"] += 1
        if msg_type in self.ack_types:
            return FixClient.field(raw, b"11")
        return None

    def drain(self, quiet: float = 0.0) -> None:
        """Read whatever is in; with ``quiet``, until nothing came for that many seconds."""
        socks = [c.sock for c in self.clients]
        while True:
            for c in self.clients:
                for raw in c.available():
                    self.note(raw)
            if not quiet or not select.select(socks, [], [], quiet)[0]:
                return

    def seed(self) -> None:
        """Rest the seed orders (CLIENT1, or the only client), one burst, all acked."""
        c = self.clients[0]
        ids = {b"S%d" % i for i in range(len(seeds()))}
        c.sock.sendall(b"".join(c.frame(nos_body(o, b"S%d" % i, c.timestamp()))
                                for i, o in enumerate(seeds())))
        while ids:
            for raw in c.messages():
                ids.discard(self.note(raw) or b"")
        self.drain(0.05)

    def closed_loop(self, n: int, prefix: bytes) -> list[int]:
        """``n`` orders one at a time; nanoseconds from each send to its first ack."""
        clock = time.perf_counter_ns
        latencies = []
        for i in range(n):
            self.drain()
            cl = prefix + b"%d" % i
            c, data = self.next_order(cl)
            t0 = clock()
            c.sock.sendall(data)
            acked = False
            while not acked:
                for raw in c.messages():
                    if self.note(raw) == cl:
                        acked = True
            latencies.append(clock() - t0)
        return latencies

    def open_loop(self, n: int, prefix: bytes, rate: float | None,
                  window: int | None) -> OpenRun:
        """``n`` orders sent when due at ``rate`` (None: at once) with at most ``window``
        unacked (None: no limit), acks read as they come."""
        clock = time.perf_counter_ns
        period = 1e9 / rate if rate else 0.0
        sent_at = [0] * n
        ack_at = [0] * n
        by_fd = {c.sock.fileno(): c for c in self.clients}
        socks = [c.sock for c in self.clients]
        skip = len(prefix)
        sent = acked = 0
        start = clock()
        while acked < n:
            now = clock()
            due = n if not rate else min(n, int((now - start) / period) + 1)
            if window is not None:
                due = min(due, acked + window)
            if due > sent:
                bursts: dict[FixClient, list[bytes]] = {}
                for i in range(sent, due):
                    c, data = self.next_order(prefix + b"%d" % i)
                    bursts.setdefault(c, []).append(data)
                t = clock()
                for i in range(sent, due):
                    sent_at[i] = t
                for c, parts in bursts.items():
                    c.sock.sendall(b"".join(parts))
                sent = due
            if sent < n and rate and (window is None or sent - acked < window):
                wait = max(0.0, (start + sent * period - clock()) / 1e9)
            else:
                wait = 5.0
            ready = select.select(socks, [], [], wait)[0]
            for sock in ready:
                c = by_fd[sock.fileno()]
                t = clock()
                for raw in c.available():
                    cl = self.note(raw)
                    if cl is not None and cl.startswith(prefix):
                        i = int(cl[skip:])
                        if not ack_at[i]:
                            ack_at[i] = t
                            acked += 1
        last = max(ack_at)
        lat = sorted(a - s for a, s in zip(ack_at, sent_at, strict=True))
        sched = sorted(a - (start + int(i * period)) for i, a in enumerate(ack_at))
        return OpenRun(n, (last - start) / 1e9, (max(sent_at) - start) / 1e9, lat, sched)


@dataclass
class OpenRun:
    orders: int
    seconds: float  # first due time to last ack
    send_seconds: float  # first due time to last send
    latencies: list[int]  # sorted, from actual send
    from_schedule: list[int]  # sorted, from when each order was due

    def figures(self, name: str) -> dict[str, float]:
        """The :class:`Figures` fields ``name_*`` of this run."""
        lat = self.latencies
        return {f"{name}_sent_s": self.orders / self.send_seconds,
                f"{name}_acked_s": self.orders / self.seconds,
                f"{name}_p50": percentile(lat, 0.50),
                f"{name}_p99": percentile(lat, 0.99),
                f"{name}_p999": percentile(lat, 0.999),
                f"{name}_sched_p99": percentile(self.from_schedule, 0.99)}


# -- figures ---------------------------------------------------------------------------------

@dataclass
class Figures:
    """One server's figures from one run (or the medians of several)."""

    closed_rt_s: float
    closed_p50: float
    closed_p99: float
    closed_p999: float
    rate_sent_s: float
    rate_acked_s: float
    rate_p50: float
    rate_p99: float
    rate_p999: float
    rate_sched_p99: float
    low_sent_s: float
    low_acked_s: float
    low_p50: float
    low_p99: float
    low_p999: float
    low_sched_p99: float
    flat_s: float
    fills_per_order: float


@contextlib.contextmanager
def loaded(server: Server, comp_ids: list[tuple[bytes, bytes]],
           ack_types: tuple[bytes, ...]) -> Iterator[Load]:
    """The server started, its clients logged on and the books seeded; all stopped after."""
    port = server.start()
    try:
        clients = [FixClient(port, sender, target) for sender, target in comp_ids]
        for c in clients:
            c.logon()
        load = Load(clients, ack_types)
        load.seed()
        yield load
        for c in clients:
            c.logout()
    finally:
        server.stop()


def measure(server: Server, comp_ids: list[tuple[bytes, bytes]], ack_types: tuple[bytes, ...],
            args: argparse.Namespace) -> Figures:
    with loaded(server, comp_ids, ack_types) as load:
        load.closed_loop(args.warmup, b"W")
        load.drain(0.05)
        gc.collect()
        gc.disable()
        try:
            closed = sorted(load.closed_loop(args.orders, b"C"))
            load.drain(0.05)
            fills_before = load.exec_types[b"F"]
            fixed = load.open_loop(int(args.rate * args.seconds), b"R", args.rate, None)
            load.drain(0.05)
            fills = (load.exec_types[b"F"] - fills_before) / fixed.orders
            low = fixed
            if args.low_rate and args.low_seconds:
                low = load.open_loop(int(args.low_rate * args.low_seconds), b"L", args.low_rate,
                                     None)
                load.drain(0.05)
            flat = load.open_loop(args.flat_orders, b"P", None, args.window)
            load.drain(0.05)
        finally:
            gc.enable()
        if load.exec_types[b"8"]:
            raise RuntimeError(f"{server.label}: {load.exec_types[b'8']} orders rejected")
    return Figures(
        closed_rt_s=len(closed) / (sum(closed) / 1e9),
        closed_p50=percentile(closed, 0.50),
        closed_p99=percentile(closed, 0.99),
        closed_p999=percentile(closed, 0.999),
        **fixed.figures("rate"),
        **low.figures("low"),
        flat_s=flat.orders / flat.seconds,
        fills_per_order=fills,
    )


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(*(statistics.median(getattr(r, f.name) for r in runs) for f in fields(Figures)))


# -- servers ---------------------------------------------------------------------------------

VENUE_IDS = [(b"CLIENT1", b"VENUE"), (b"CLIENT2", b"VENUE")]
ECHO_IDS = [(b"TW", b"ISLD")]


def venue_server(work: Path, run: int, python: list[str] | None = None) -> Server:
    return Server("venue", [*(python or [sys.executable]), "-m", "gateway.cli", "run",
                            str(VENUE_YAML), "--port", "0", "--run-dir",
                            str(work / f"venue-{run}")])


def echo_server(work: Path, run: int) -> Server:
    return acceptance_server("echo", work / f"echo-{run}", "interval", 0.05)


# -- the book alone --------------------------------------------------------------------------

@dataclass
class CoreFigures:
    per_call_us: float
    batched_us: float
    venue_us: float
    trades_per_order: float


def book_ops(n: int) -> tuple[list[Op], list[Op]]:
    """(seed ops, ``n`` ops of the mix) on one book (the symbol index is ignored)."""
    def op(i: int, o: MixOrder) -> Op:
        return Op(OpType.LIMIT, i, o.side, o.ticks, o.qty)
    seed = [op(1 + i, o) for i, o in enumerate(seeds()) if o.symbol == 0]
    return seed, [op(1_000_000 + k, mix(k)) for k in range(n)]


def median_us(run: Callable[[], float], reps: int, n: int) -> float:
    return statistics.median(run() for _ in range(reps)) / n * 1e6


def measure_core(n: int, reps: int) -> CoreFigures:
    seed, ops = book_ops(n)
    seed_batch, batch = OpBatch(seed), OpBatch(ops)

    def per_call() -> float:
        with OrderBook(1 << 20) as book:
            book.apply(seed_batch)
            limit = book.limit
            t0 = time.perf_counter()
            for _, id_, side, price, qty, _tif in ops:
                limit(id_, side, price, qty)
            return time.perf_counter() - t0

    def batched() -> float:
        with OrderBook(1 << 20) as book:
            book.apply(seed_batch)
            t0 = time.perf_counter()
            book.apply(batch)
            return time.perf_counter() - t0

    config = venue_config(load_config(VENUE_YAML))
    names = [s.decode() for s in SYMBOLS]
    now = datetime.now(UTC)

    def request(cl: str, o: MixOrder) -> NewOrder:
        return NewOrder(owner=("CLIENT1", "CLIENT2")[o.client], cl_ord_id=cl,
                        symbol=names[o.symbol], side=o.side, ord_type="2", qty=o.qty,
                        price=Decimal(o.ticks).scaleb(-2))

    seed_requests = [request(f"S{i}", o) for i, o in enumerate(seeds())]
    requests = [request(f"C{k}", mix(k)) for k in range(n)]

    def venue() -> float:
        v = Venue(config, id_prefix="b-", max_orders=1 << 16)
        for r in seed_requests:
            v.new_order(r, now)
        new_order = v.new_order
        t0 = time.perf_counter()
        for r in requests:
            new_order(r, now)
        return time.perf_counter() - t0

    with OrderBook(1 << 20) as book:
        book.apply(seed_batch)
        trades = sum(1 for t in book.apply(batch).column("type") if t == 1)
    gc.disable()
    try:
        return CoreFigures(median_us(per_call, reps, n), median_us(batched, reps, n),
                           median_us(venue, reps, n), trades / n)
    finally:
        gc.enable()


# -- profile -----------------------------------------------------------------------------------

def profile(work: Path, args: argparse.Namespace, top: int = 20) -> str:
    """One venue run under cProfile (fixed rate, then flat out); its top functions by own
    time and by cumulative time. The raw profile stays in ``--profile-out`` if given."""
    out = Path(args.profile_out) if args.profile_out else work / "venue.prof"
    server = venue_server(work, 99, [sys.executable, "-m", "cProfile", "-o", str(out)])
    with loaded(server, VENUE_IDS, (b"8",)) as load:
        load.open_loop(int(args.rate * args.seconds), b"R", args.rate, None)
        load.drain(0.05)
        load.open_loop(args.flat_orders, b"P", None, args.window)
        load.drain(0.05)
    parts = []
    # Own time over everything; cumulative time over the project's code only, where the
    # asyncio and runpy frames above it would only repeat the total.
    project = r"^(?!.*<module>).*(gateway|engine|fixspec)/"  # no import-time frames
    for key, where in (("tottime", ""), ("cumulative", project)):
        text = io.StringIO()
        pstats.Stats(str(out), stream=text).sort_stats(key).print_stats(where, top)
        lines = text.getvalue().splitlines()
        at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        head = [line.strip() for line in lines[:at] if "function calls" in line]
        parts.append("\n".join([f"by {key}: " + " ".join(head), *lines[at:]]))
    return "\n\n".join(parts).replace(str(ROOT) + "/", "")


# The gateway with a garbage-collector probe: times every collection and writes
# [[generation, seconds], ...] as JSON to argv[1] at exit. Run as
# ``python -c GC_PROBE OUT -m gateway.cli run ...`` (argv[2:4] is that "-m gateway.cli").
GC_PROBE = """
import atexit, gc, json, runpy, sys, time
out, sys.argv = sys.argv[1], ["gateway", *sys.argv[4:]]
pauses, began = [], [0.0]
def timed(phase, info):
    if phase == "start":
        began[0] = time.perf_counter()
    else:
        pauses.append((info["generation"], time.perf_counter() - began[0]))
gc.callbacks.append(timed)
atexit.register(lambda: open(out, "w").write(json.dumps(pauses)))
runpy.run_module("gateway.cli", run_name="__main__")
"""


def gc_pauses(work: Path, args: argparse.Namespace) -> str:
    """One venue run at ``--low-rate`` with every garbage collection in the gateway timed."""
    out = work / "gc.json"
    server = venue_server(work, 98, [sys.executable, "-c", GC_PROBE, str(out)])
    rate = args.low_rate or 1000
    with loaded(server, VENUE_IDS, (b"8",)) as load:
        gc.disable()
        try:
            run = load.open_loop(int(rate * (args.low_seconds or 3)), b"L", rate, None)
        finally:
            gc.enable()
        load.drain(0.05)
    pauses: dict[int, list[float]] = {}
    for generation, seconds in json.loads(out.read_text()):
        pauses.setdefault(generation, []).append(seconds * 1e3)
    lat = run.latencies
    lines = [f"garbage collections in the venue process (whole run: start, seed, "
             f"{run.orders} orders at {rate:.0f}/s; this run's p99 {percentile(lat, 0.99):.0f} "
             f"us, p99.9 {percentile(lat, 0.999):.0f} us):"]
    for generation, ms in sorted(pauses.items()):
        lines.append(f"  gen{generation}: {len(ms):5d} collections, total {sum(ms):7.1f} ms, "
                     f"median {statistics.median(ms):6.2f} ms, max {max(ms):6.2f} ms")
    return "\n".join(lines)


# -- report ----------------------------------------------------------------------------------

def revision() -> str:
    """The commit measured, and whether the working tree differs from it."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD") or "unknown (no git)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + (" + uncommitted changes" if dirty else "")


def report(args: argparse.Namespace, venue: Figures, echo: Figures, core: CoreFigures) -> None:
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"code: {revision()}")
    print("servers: venue = gateway run sessions/venue.yaml (2 clients); echo = gateway run "
          "sessions/acceptance.yaml, echo app (1 client); both file store fsync interval 50 ms")
    print(f"median of {args.repeat} runs per server; {args.warmup} warm-up orders; "
          f"{venue.fills_per_order:.2f} fill reports (both sides) per venue order\n")
    rate = f"{args.rate:.0f}/s x {args.seconds:g} s"
    low = f"{args.low_rate:.0f}/s x {args.low_seconds:g} s"
    rows: list[tuple[str, str, float, float]] = [  # phase, metric, venue, echo
        (f"closed loop, {args.orders} orders", "round trips/s", venue.closed_rt_s,
         echo.closed_rt_s),
        ("", "p50 us", venue.closed_p50, echo.closed_p50),
        ("", "p99 us", venue.closed_p99, echo.closed_p99),
        ("", "p99.9 us", venue.closed_p999, echo.closed_p999),
        (f"fixed rate {rate}", "sent/s", venue.rate_sent_s, echo.rate_sent_s),
        ("", "acked/s (achieved)", venue.rate_acked_s, echo.rate_acked_s),
        ("", "p50 us", venue.rate_p50, echo.rate_p50),
        ("", "p99 us", venue.rate_p99, echo.rate_p99),
        ("", "p99.9 us", venue.rate_p999, echo.rate_p999),
        ("", "p99 us from schedule", venue.rate_sched_p99, echo.rate_sched_p99),
        (f"fixed rate {low}", "sent/s", venue.low_sent_s, echo.low_sent_s),
        ("", "acked/s (achieved)", venue.low_acked_s, echo.low_acked_s),
        ("", "p50 us", venue.low_p50, echo.low_p50),
        ("", "p99 us", venue.low_p99, echo.low_p99),
        ("", "p99.9 us", venue.low_p999, echo.low_p999),
        ("", "p99 us from schedule", venue.low_sched_p99, echo.low_sched_p99),
        (f"flat out, {args.window} outstanding", "orders/s", venue.flat_s, echo.flat_s),
    ]
    print(f"{'phase':<34} {'metric':<22} {'venue':>10} {'echo':>10} {'venue/echo':>10}")
    if not (args.low_rate and args.low_seconds):
        del rows[10:16]
    for phase, metric, v, e in rows:
        print(f"{phase:<34} {metric:<22} {v:10.0f} {e:10.0f} {v / e:10.2f}")

    print(f"\nthe book alone, one symbol, {args.core_orders} orders of the mix, "
          f"{core.trades_per_order:.2f} trades an order, median of {args.core_reps} runs:")
    print(f"{'path':<58} {'us/order':>9} {'orders/s':>10}")
    for label, us in [
        ("OrderBook.apply(OpBatch): the C core, batched", core.batched_us),
        ("OrderBook.limit() per call: Python + cffi + C", core.per_call_us),
        ("Venue.new_order: venue layer in Python + book, no FIX", core.venue_us),
    ]:
        print(f"{label:<58} {us:9.2f} {1e6 / us:10.0f}")

    print("\naims:")
    ok = core.batched_us < 10
    print(f"  book update + match < 10 us in the C core: {core.batched_us:.2f} us batched, "
          f"{core.per_call_us:.2f} us per call -> {'met' if ok else 'NOT met'}")
    sustained = venue.rate_acked_s >= 0.98 * args.rate
    ok = sustained and venue.rate_p99 < 1000
    print(f"  round trip p99 < 1 ms at {args.rate:.0f} orders/s: p99 {venue.rate_p99:.0f} us "
          f"at {venue.rate_acked_s:.0f} acked/s "
          f"({'rate sustained' if sustained else 'rate NOT sustained'}) "
          f"-> {'met' if ok else 'NOT met'}")
    line = (f"  capacity: the venue sustains {venue.flat_s:.0f} orders/s flat out, "
            f"{venue.flat_s / args.rate:.0%} of {args.rate:.0f}/s")
    if args.low_rate and args.low_seconds:
        line += (f"; at {args.low_rate:.0f}/s its p99 is {venue.low_p99:.0f} us "
                 f"({venue.low_acked_s:.0f} acked/s)")
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=3_000, help="closed-loop orders")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10_000, help="fixed rate, orders/s")
    parser.add_argument("--seconds", type=float, default=1.0, help="fixed-rate duration")
    parser.add_argument("--low-rate", type=float, default=500,
                        help="second fixed rate, orders/s (0: skip)")
    parser.add_argument("--low-seconds", type=float, default=3.0)
    parser.add_argument("--flat-orders", type=int, default=5_000)
    parser.add_argument("--window", type=int, default=64, help="orders outstanding, flat out")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server (median shown)")
    parser.add_argument("--core-orders", type=int, default=50_000)
    parser.add_argument("--core-reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true",
                        help="also profile the venue process under load (cProfile)")
    parser.add_argument("--profile-out", help="keep the raw cProfile output in this file")
    args = parser.parse_args(argv)

    venue_runs: list[Figures] = []
    echo_runs: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="bench_venue_") as tmp:
        work = Path(tmp)
        for run in range(args.repeat):
            (work / f"echo-{run}").mkdir()
            venue_runs.append(measure(venue_server(work, run), VENUE_IDS, (b"8",), args))
            print(f"  run {run + 1}: venue measured", file=sys.stderr, flush=True)
            echo_runs.append(measure(echo_server(work, run), ECHO_IDS, (b"D",), args))
            print(f"  run {run + 1}: echo measured", file=sys.stderr, flush=True)
        core = measure_core(args.core_orders, args.core_reps)
        report(args, median_figures(venue_runs), median_figures(echo_runs), core)
        if args.profile:
            print("\ngateway process (venue) under cProfile, fixed rate then flat out; "
                  "top functions by own time (cProfile slows it several times):")
            print(profile(work, args))
            print()
            print(gc_pauses(work, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
