"""The raw-socket FIX load client and the server processes the TCP benchmarks share.

:class:`FixClient` is a FIX 4.4 initiator on a plain socket: just enough to log on, frame
messages, send orders and split what comes back into messages, in pure Python and the same
bytes for every server (about 20 us of CPU a round trip, a small part of any server's time).
:class:`Server` starts a server process, reads the port it listens on and stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACCEPTANCE = ROOT / "sessions" / "acceptance.yaml"
SOH = b"\x01"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


# -- the load client -------------------------------------------------------------------------

class FixClient:
    """A FIX 4.4 initiator ``sender`` -> ``target`` on a raw socket (TCP_NODELAY)."""

    def __init__(self, port: int, sender: bytes = b"TW", target: bytes = b"ISLD") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.seq = 1
        self._ids = b"49=%s\x0152=" % sender, b"\x0156=%s\x01" % target
        self._second = 0
        self._stamp = b""

    def timestamp(self) -> bytes:
        """UTC now as a FIX UTCTimestamp with milliseconds (the second part is cached)."""
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
        return self._stamp + b".%03d" % int((t - second) * 1000)

    def frame(self, body: bytes) -> bytes:
        """``body`` (from 35= on, SOH-terminated) with header numbers and checksum; takes the
        next MsgSeqNum, so frame messages in the order they are sent."""
        now = self.timestamp()
        cut = body.index(SOH) + 1
        sender, target = self._ids
        body = body[:cut] + b"34=%d\x01" % self.seq + sender + now + target + body[cut:]
        self.seq += 1
        head = b"8=FIX.4.4\x019=%d\x01" % len(body)
        return head + body + b"10=%03d\x01" % ((sum(head) + sum(body)) & 0xFF)

    def order(self, cl_ord_id: bytes) -> bytes:
        """The echo benchmark's NewOrderSingle: buy 100 INTC at market."""
        return self.frame(b"35=D\x0111=%s\x0121=1\x0138=100\x0140=1\x0154=1\x0155=INTC\x01"
                          b"60=%s\x01" % (cl_ord_id, self.timestamp()))

    def split(self, chunk: bytes) -> list[bytes]:
        """Append received bytes; return the complete messages now buffered, in order."""
        out: list[bytes] = []
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

    def messages(self) -> list[bytes]:
        """Block until at least one complete message is in; return them all."""
        out: list[bytes] = []
        while not out:
            chunk = self.sock.recv(262144)
            if not chunk:
                raise ConnectionError("server closed the connection")
            out = self.split(chunk)
        return out

    def available(self) -> list[bytes]:
        """The complete messages that are in without waiting (possibly none)."""
        out: list[bytes] = []
        # select, not MSG_DONTWAIT: a socket with a timeout polls before it reads anyway.
        while select.select([self.sock], [], [], 0)[0]:
            chunk = self.sock.recv(262144)
            if not chunk:
                raise ConnectionError("server closed the connection")
            out += self.split(chunk)
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
        """Logon with ResetSeqNumFlag=Y; returns once the server's Logon is in."""
        self.sock.sendall(self.frame(b"35=A\x0198=0\x01108=30\x01141=Y\x01"))
        self.expect(b"A")

    def logout(self) -> None:
        self.sock.sendall(self.frame(b"35=5\x01"))
        self.sock.settimeout(5)
        with contextlib.suppress(OSError):  # a server that just closes is fine too
            self.expect(b"5")
        self.sock.close()

    def closed_loop(self, n: int, prefix: bytes) -> list[int]:
        """Send ``n`` echo orders one at a time; each one's round trip in nanoseconds."""
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
        """Send ``n`` echo orders keeping ``window`` unanswered; echoes per second."""
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
    """A server process: ``argv`` must print ``listening on HOST:PORT`` (a gateway) or, with
    ``quickfix``, a JSON line ``{"event": "listening", "port": P}`` (tests/interop/qf_peer.py)."""

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
        """Stop cleanly (SIGTERM, or ``stop`` on stdin for QuickFIX); kill after 15 s."""
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


def acceptance_server(label: str, work: Path, fsync: str, fsync_interval: float = 0.05,
                      python: list[str] | None = None) -> Server:
    """``gateway run sessions/acceptance.yaml`` (echo application, TW -> ISLD among its
    sessions) with the store's fsync policy replaced; files go under ``work``. ``python``
    replaces the interpreter command (e.g. with cProfile)."""
    config = yaml.safe_load(ACCEPTANCE.read_text())
    config["defaults"]["store"]["fsync"] = fsync
    if fsync == "interval":
        config["defaults"]["store"]["fsync_interval"] = fsync_interval
    path = work / f"acceptance-{fsync}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Server(label, [*(python or [sys.executable]), "-m", "gateway.cli", "run", str(path),
                          "--port", "0", "--run-dir", str(work / f"run-{fsync}")])


def percentile(sorted_ns: list[int], q: float) -> float:
    """The ``q`` quantile of sorted nanoseconds, in microseconds."""
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000
