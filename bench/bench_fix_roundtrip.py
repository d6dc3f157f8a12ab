"""NewOrderSingle round trips against our acceptor and against a QuickFIX acceptor, same run.

    python bench/bench_fix_roundtrip.py [--orders 20000] [--window 32] [--repeat 1]

Servers (each a separate process, started and stopped here):

* ``gateway run sessions/acceptance.yaml``: the acceptance profile (durable file store,
  fsync ``always``, message log, validation, ``echo`` application); then the same profile
  with the store's fsync policy ``interval`` (``fsync_interval`` 50 ms) and ``never``;
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
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
ACCEPTANCE = ROOT / "sessions" / "acceptance.yaml"
QF_PEER = ROOT / "tests" / "interop" / "qf_peer.py"
SOH = b"\x01"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


# -- the load client -------------------------------------------------------------------------

class Client:
    """A FIX 4.4 initiator on a raw socket: TW -> ISLD, just enough to log on, send orders
    and read echoes; the same bytes for every server."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.seq = 1
        self._second = 0
        self._stamp = b""

    def _now(self) -> bytes:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
        return self._stamp + b".%03d" % int((t - second) * 1000)

    def frame(self, body: bytes) -> bytes:
        """``body`` (from 35= on, SOH-terminated) with header numbers and checksum."""
        now = self._now()
        body = (body[:body.index(SOH) + 1] + b"34=%d\x0149=TW\x0152=%s\x0156=ISLD\x01"
                % (self.seq, now) + body[body.index(SOH) + 1:])
        self.seq += 1
        head = b"8=FIX.4.4\x019=%d\x01" % len(body)
        return head + body + b"10=%03d\x01" % ((sum(head) + sum(body)) & 0xFF)

    def order(self, cl_ord_id: bytes) -> bytes:
        return self.frame(b"35=D\x0111=%s\x0121=1\x0138=100\x0140=1\x0154=1\x0155=INTC\x01"
                          b"60=%s\x01" % (cl_ord_id, self._now()))

    def messages(self) -> list[bytes]:
        """Block until at least one complete message is in; return them all."""
        out: list[bytes] = []
        while not out:
            chunk = self.sock.recv(262144)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf = self.buf + chunk
            pos = 0
            while True:
                start = buf.find(b"8=FIX", pos)
                if start < 0:
                    pos = len(buf)
                    break
                length_at = buf.find(b"\x019=", start)
                length_end = buf.find(SOH, length_at + 3) if length_at >= 0 else -1
                if length_end < 0:
                    pos = start
                    break
                end = length_end + 1 + int(buf[length_at + 3:length_end]) + 7
                if end > len(buf):
                    pos = start
                    break
                out.append(buf[start:end])
                pos = end
            self.buf = buf[pos:]
        return out

    @staticmethod
    def field(raw: bytes, tag: bytes) -> bytes | None:
        at = raw.find(SOH + tag + b"=")
        if at < 0:
            return None
        at += len(tag) + 2
        return raw[at:raw.index(SOH, at)]

    def expect(self, msg_type: bytes) -> bytes:
        while True:
            for raw in self.messages():
                if self.field(raw, b"35") == msg_type:
                    return raw

    def logon(self) -> None:
        self.sock.sendall(self.frame(b"35=A\x0198=0\x01108=30\x01141=Y\x01"))
        self.expect(b"A")

    def logout(self) -> None:
        self.sock.sendall(self.frame(b"35=5\x01"))
        self.sock.settimeout(5)
        with contextlib.suppress(OSError):  # a server that just closes is fine too
            self.expect(b"5")
        self.sock.close()

    def closed_loop(self, n: int, prefix: bytes) -> list[int]:
        """Send ``n`` orders one at a time; each one's round trip in nanoseconds."""
        latencies = []
        clock = time.perf_counter_ns
        for i in range(n):
            cl = prefix + b"%d" % i
            t0 = clock()
            self.sock.sendall(self.order(cl))
            while not self._echoed(cl):
                pass
            latencies.append(clock() - t0)
        return latencies

    def _echoed(self, cl: bytes) -> bool:
        got = False
        for raw in self.messages():
            if self.field(raw, b"35") == b"D" and self.field(raw, b"11") == cl:
                got = True
        return got

    def pipelined(self, n: int, window: int, prefix: bytes) -> float:
        """Send ``n`` orders keeping ``window`` unanswered; echoes per second."""
        sent = echoed = 0
        t0 = time.perf_counter()
        while echoed < n:
            if sent < n and sent - echoed < window:
                burst = b"".join(self.order(prefix + b"%d" % i)
                                 for i in range(sent, min(n, echoed + window)))
                self.sock.sendall(burst)
                sent = min(n, echoed + window)
            echoed += sum(1 for raw in self.messages() if self.field(raw, b"35") == b"D")
        return n / (time.perf_counter() - t0)


# -- servers ---------------------------------------------------------------------------------

@dataclass
class Server:
    label: str
    argv: list[str]
    quickfix: bool = False
    proc: subprocess.Popen[str] | None = None

    def start(self) -> int:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=ENV)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if self.quickfix:
            data = json.loads(line)
            if data.get("event") != "listening":
                raise RuntimeError(f"{self.label}: {line!r}")
            return int(data["port"])
        if not line.startswith("listening on"):
            raise RuntimeError(f"{self.label} did not start: {line!r}")
        return int(line.rsplit(":", 1)[1])

    def stop(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        if self.quickfix:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def gateway_server(label: str, work: Path, fsync: str) -> Server:
    config = yaml.safe_load(ACCEPTANCE.read_text())
    config["defaults"]["store"]["fsync"] = fsync
    if fsync == "interval":
        config["defaults"]["store"]["fsync_interval"] = 0.05
    path = work / f"acceptance-{fsync}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Server(label, [sys.executable, "-m", "gateway.cli", "run", str(path), "--port", "0",
                          "--run-dir", str(work / f"run-{fsync}")])


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


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


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


def cpu_model() -> str:
    """platform.processor() is empty on many Linux builds; /proc/cpuinfo names the CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=32, help="orders outstanding, pipelined")
    parser.add_argument("--repeat", type=int, default=1, help="runs per server (median shown)")
    parser.add_argument("--servers", default="always,interval,never,quickfix",
                        help="which rows, comma-separated (default: all)")
    args = parser.parse_args(argv)
    wanted = set(args.servers.split(","))

    with tempfile.TemporaryDirectory(prefix="bench_fix_") as tmp:
        work = Path(tmp)
        labels = {"always": "gateway, file store fsync=always (acceptance)",
                  "interval": "gateway, file store fsync=interval 50ms",
                  "never": "gateway, file store fsync=never"}
        servers = [gateway_server(labels[k], work, k) for k in labels if k in wanted]
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
