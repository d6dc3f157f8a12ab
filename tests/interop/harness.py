"""Processes and logs for the QuickFIX interop tests: our gateway (``gateway run``) and the
QuickFIX peer (``qf_peer.py``) as subprocesses, and readers for the logs they leave."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
INTEROP = Path(__file__).resolve().parent
QF_PEER = INTEROP / "qf_peer.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


class LineReader:
    """Lines of a child's stdout, readable with a timeout (a thread drains the pipe)."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line; None at end of output. Raises TimeoutError if none comes in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no output in {timeout}s; so far: {self.seen[-5:]}") from None
        if line is not None:
            self.seen.append(line.rstrip("\n"))
        return line


@dataclass
class Gateway:
    """``python -m gateway.cli run CONFIG --port PORT --run-dir RUN_DIR`` as a child."""

    config: Path
    run_dir: Path
    port: int = 0
    proc: subprocess.Popen[str] = field(init=False)

    def start(self) -> Gateway:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", str(self.config), "--port",
             str(self.port), "--run-dir", str(self.run_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
        assert self.proc.stdout is not None
        line = LineReader(self.proc.stdout).next(timeout=30) or ""
        if not line.startswith("listening on"):
            self.proc.kill()
            _, err = self.proc.communicate()
            raise RuntimeError(f"gateway did not start: {line!r} {err[-2000:]}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """SIGKILL: no logout, no flush, no close; only what reached the kernel survives."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.communicate()


class Child:
    """A child process (``proc``, stderr piped) that a test reads and then ends."""

    proc: subprocess.Popen[str]

    def _stderr(self) -> str:
        """The end of its stderr, once it has exited (for a failure's message)."""
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()[-2000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@dataclass
class QuickFixPeer(Child):
    """``qf_peer.py MODE ARGS`` as a child speaking JSON lines (see its docstring)."""

    args: list[str]
    proc: subprocess.Popen[str] = field(init=False)
    out: LineReader = field(init=False)

    def start(self) -> QuickFixPeer:
        self.proc = subprocess.Popen(
            [sys.executable, str(QF_PEER), *self.args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
        assert self.proc.stdout is not None
        self.out = LineReader(self.proc.stdout)
        return self

    def event(self, name: str, timeout: float) -> dict[str, Any]:
        """Wait for the event ``name`` (an ``error`` event or end of output fails)."""
        while True:
            line = self.out.next(timeout)
            if line is None:
                raise AssertionError(f"QuickFIX peer ended before {name!r}: "
                                     f"{self.out.seen[-5:]} {self._stderr()}")
            data: dict[str, Any] = json.loads(line)
            if data["event"] == "error":
                raise AssertionError(f"QuickFIX peer failed: {data} then "
                                     f"{self.out.seen[-3:]} {self._stderr()}")
            if data["event"] == name:
                return data

    def command(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()


# -- logs ----------------------------------------------------------------------------------

def parse_fields(raw: str) -> dict[int, str]:
    """First value of each tag of one FIX message (SOH-delimited)."""
    out: dict[int, str] = {}
    for part in raw.split("\x01"):
        tag, eq, value = part.partition("=")
        if eq and tag.isdigit():
            out.setdefault(int(tag), value)
    return out


def message_log(path: Path) -> Iterator[dict[int, str]]:
    """Messages of a QuickFIX-format message log (``STAMP : 8=FIX...``), ours or QuickFIX's."""
    with path.open(encoding="latin-1", newline="\n") as f:
        for line in f:
            _, sep, raw = line.rstrip("\n").partition(" : ")
            if sep and raw.startswith("8="):
                yield parse_fields(raw)


@dataclass
class Traffic:
    """One direction of a session's NewOrderSingle traffic, split by PossDupFlag."""

    fresh: Counter[str] = field(default_factory=Counter)  # ClOrdID -> copies without 43=Y
    poss_dup: Counter[str] = field(default_factory=Counter)  # ClOrdID -> copies with 43=Y
    fresh_seqs: Counter[int] = field(default_factory=Counter)  # MsgSeqNum of 43!=Y messages
    covered: set[int] = field(default_factory=set)  # numbers sent, resent or gap-filled
    # ClOrdID -> the MsgSeqNums it went out under: a resend keeps the number, so each number
    # is one processing of the order by the sender's application.
    numbers: dict[str, set[int]] = field(default_factory=dict)

    def processed(self) -> Counter[str]:
        """How many times the sender's application sent each ClOrdID (resends not counted)."""
        return Counter({cl: len(seqs) for cl, seqs in self.numbers.items()})

    def ids(self) -> set[str]:
        return set(self.fresh) | set(self.poss_dup)

    def assert_continuous(self, next_seq: int) -> None:
        """Sequence numbers 1 .. next_seq - 1 each went out once as a fresh message, or were
        recovered by a resend or a gap fill; none was used twice for different messages."""
        assert self.fresh_seqs and max(self.fresh_seqs.values()) == 1, "a number was reused"
        holes = set(range(1, next_seq)) - self.covered
        assert not holes, f"numbers never sent: {sorted(holes)[:10]}"
        assert max(self.covered) == next_seq - 1


def traffic(path: Path, sender: str) -> Traffic:
    """What ``sender`` sent, according to the message log at ``path``."""
    t = Traffic()
    for f in message_log(path):
        if f.get(49) != sender:
            continue
        dup = f.get(43) == "Y"
        seq = int(f[34])
        if not dup:
            t.fresh_seqs[seq] += 1
        if f.get(35) == "4" and f.get(123) == "Y":
            t.covered.update(range(seq, int(f[36])))
        elif f.get(35) != "4" and not (f.get(35) == "A" and f.get(141) == "Y"):
            t.covered.add(seq)
        if f.get(35) == "D":
            (t.poss_dup if dup else t.fresh)[f[11]] += 1
            t.numbers.setdefault(f[11], set()).add(seq)
    return t
