"""NewOrderSingle round trips against our acceptor and against a QuickFIX acceptor, same run.

    python bench/bench_fix_roundtrip.py [--orders 20000] [--window 32] [--repeat 1]

Servers (each a separate process, started and stopped here):

* ``gateway run sessions/acceptance.yaml``: the acceptance profile (durable file store,
  fsync ``always``, message log, validation, ``echo`` application); then the same profile
  with the store's fsync policy ``interval`` (``fsync_interval`` 50 ms) and ``never``;
* the floor, ``bench/asyncio_echo.py``: an asyncio server that writes back what it reads
  and does no FIX work, so no server on asyncio's transport answers faster on this machine
  with this client (a target above its row is out of reach without leaving asyncio);
* QuickFIX 1.16 (PyPI ``quickfix``, Python application) through ``tests/interop/qf_peer.py
  acceptor``: FileStore, FileLog, ResetOnLogon=Y, data dictionary validation on, an
  application that echoes each NewOrderSingle. QuickFIX's FileStore flushes its stdio buffers
  on every write but never fsyncs (its extension does not even import fsync), so on the
  durability scale it sits with our ``never`` row: both survive a killed process, neither a
  power loss.

The load client is the same pure-Python raw-socket client for every server: it logs on with
ResetSeqNumFlag=Y, sends ``--warmup`` orders, then ``--orders`` orders closed-loop (the next
order goes out when the previous one's echo is in: latency p50/p99/p99.9 and round trips per
second), then ``--orders`` more with ``--window`` orders outstanding (sustained echoes per
second). Python is fast enough here: the client spends about 20 us of CPU a round trip, a
small part of the slowest server's time, and the same for every server. The table ends with
ratios against the QuickFIX row measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import machine  # bench/ is on sys.path when a script runs
from fixload import ROOT, Server, acceptance_server, percentile
from fixload import FixClient as Client

QF_PEER = ROOT / "tests" / "interop" / "qf_peer.py"
ECHO_FLOOR = ROOT / "bench" / "asyncio_echo.py"


# -- servers ---------------------------------------------------------------------------------

def gateway_server(label: str, work: Path, fsync: str) -> Server:
    return acceptance_server(label, work, fsync)


def asyncio_floor(label: str) -> Server:
    return Server(label, [sys.executable, str(ECHO_FLOOR)])


def quickfix_server(label: str, work: Path) -> Server:
    return Server(label, [sys.executable, str(QF_PEER), "acceptor", "--workdir",
                          str(work / "quickfix"), "--sender", "ISLD", "--target", "TW",
                          "--reset-on-logon"], quickfix=True)


# -- measuring -------------------------------------------------------------------------------

@dataclass
class Figures:
    rt_per_s: float
    p50_us: float
    p99_us: float
    p999_us: float
    pipelined_per_s: float


def measure(server: Server, args: argparse.Namespace) -> Figures:
    port = server.start()
    try:
        client = Client(port)
        client.logon()
        client.closed_loop(args.warmup, b"W")
        latencies = client.closed_loop(args.orders, b"C")
        pipelined = client.pipelined(args.orders, args.window, b"P")
        client.logout()
    finally:
        server.stop()
    ordered = sorted(latencies)
    return Figures(
        rt_per_s=len(latencies) / (sum(latencies) / 1e9),
        p50_us=percentile(ordered, 0.50),
        p99_us=percentile(ordered, 0.99),
        p999_us=percentile(ordered, 0.999),
        pipelined_per_s=pipelined,
    )


def median_figures(runs: list[Figures]) -> Figures:
    return Figures(*(statistics.median(getattr(r, f) for r in runs)
                     for f in Figures.__dataclass_fields__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=32, help="orders outstanding, pipelined")
    parser.add_argument("--repeat", type=int, default=1, help="runs per server (median shown)")
    parser.add_argument("--servers", default="always,interval,never,asyncio,quickfix",
                        help="which rows, comma-separated (default: all)")
    args = parser.parse_args(argv)
    wanted = set(args.servers.split(","))

    with tempfile.TemporaryDirectory(prefix="bench_fix_") as tmp:
        work = Path(tmp)
        labels = {"always": "gateway, file store fsync=always (acceptance)",
                  "interval": "gateway, file store fsync=interval 50ms",
                  "never": "gateway, file store fsync=never"}
        servers = [gateway_server(labels[k], work, k) for k in labels if k in wanted]
        if "asyncio" in wanted:
            servers.append(asyncio_floor("asyncio echo, no FIX work (the floor)"))
        if "quickfix" in wanted:
            servers.append(quickfix_server("QuickFIX 1.16 Python, FileStore (no fsync)", work))
        results: dict[str, Figures] = {}
        for server in servers:
            runs = [measure(server, args) for _ in range(args.repeat)]
            results[server.label] = median_figures(runs)
            print(f"  measured {server.label}", file=sys.stderr, flush=True)

    print(f"machine: {machine()}")
    print(f"orders: {args.orders} closed-loop (1 outstanding) then {args.orders} pipelined "
          f"({args.window} outstanding), after {args.warmup} warm-up; median of {args.repeat}")
    head = (f"{'server':<48} {'rt/s':>7} {'p50 us':>7} {'p99 us':>7} {'p99.9 us':>8} "
            f"{'pipe/s':>7}")
    base = results.get(servers[-1].label) if "quickfix" in wanted else None
    if base is not None:
        head += f" {'x QF rt/s':>9} {'x QF p99':>8} {'x QF pipe':>9}"
    print(head)
    for label, f in results.items():
        line = (f"{label:<48} {f.rt_per_s:7.0f} {f.p50_us:7.0f} {f.p99_us:7.0f} "
                f"{f.p999_us:8.0f} {f.pipelined_per_s:7.0f}")
        if base is not None:
            line += (f" {f.rt_per_s / base.rt_per_s:9.2f} {f.p99_us / base.p99_us:8.2f}"
                     f" {f.pipelined_per_s / base.pipelined_per_s:9.2f}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
