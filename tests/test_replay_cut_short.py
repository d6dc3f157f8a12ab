"""``gateway replay`` cut short: the acceptor drops the session part-way, or the user presses
Ctrl-C. The report covers what was sent; the log's answers to messages never sent are not
"missing". The acceptor here is a scripted FIX peer on a real loopback socket (the venue
cannot be told to drop a session at a chosen message)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from gateway.cli import main
from tests.fixpeer import Peer, fields
from tests.test_replay import SCRIPT, write_log

ROOT = Path(__file__).resolve().parents[1]


class ScriptedAcceptor:
    """Logs the first connection on, acknowledges the first NewOrderSingle (ClOrdID o1,
    prefix and all; not if ``ack`` is False), then closes the connection (``drop``: after
    the ``drop_after``-th order message) or keeps reading silently."""

    def __init__(self, *, drop: bool, ack: bool = True, drop_after: int = 1) -> None:
        self.drop = drop
        self.ack = ack
        self.drop_after = drop_after
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.first_order = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        peer = Peer(sender="VENUE", target="CLIENT1")
        data = b""
        orders = 0
        with conn:
            conn.settimeout(20)
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                data += chunk
                while b"\x0110=" in data:
                    end = data.index(b"\x01", data.index(b"\x0110=") + 1) + 1
                    raw, data = data[:end], data[end:]
                    msg = fields(raw)
                    if msg[35] == "A":
                        conn.sendall(peer.logon(extra="|141=Y"))
                        continue
                    if msg[35] == "D" and not self.first_order.is_set():
                        if self.ack:
                            conn.sendall(peer.msg(f"35=8|6=0|11={msg[11]}|14=0|17=E1|37=X1"
                                                  "|38=100|39=0|54=1|55=AAPL|150=0|151=100"))
                        self.first_order.set()
                    orders += msg[35] in ("D", "F", "G")
                    if self.drop and orders == self.drop_after:
                        return

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "client.log", SCRIPT)


@pytest.fixture
def dropping() -> Iterator[ScriptedAcceptor]:
    acceptor = ScriptedAcceptor(drop=True)
    yield acceptor
    acceptor.close()


def test_a_dropped_session_counts_only_answers_to_what_was_sent(
        log: Path, dropping: ScriptedAcceptor, capsys: pytest.CaptureFixture[str]) -> None:
    """The acceptor answers o1 then drops: its answers to o2, the cancel and o4 (four
    reports) were never asked for, and its fill of o1, recorded after o2 (which crossed
    o1), may answer o2: not missing either."""
    code = main(["replay", str(log), "--to", f"127.0.0.1:{dropping.port}", "--speed", "1x",
                 "--settle", "1", "--json"])
    s = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (s["sent"], s["to_play"], s["completed"]) == (1, 4, False)
    assert (s["expected"], s["expected_not_sent"]) == (1, 5)
    assert (s["matched"], s["equal"], s["missing"], s["unexpected"]) == (1, 1, 0, 0)
    assert s["note"] == "the acceptor closed the connection after 1 of 4 messages"


def replay_to(acceptor: ScriptedAcceptor, log: Path, capsys: pytest.CaptureFixture[str],
              speed: str, settle: str) -> tuple[int, dict[str, object]]:
    """``gateway replay --json`` of ``log`` to ``acceptor`` (closed after): status, report."""
    try:
        code = main(["replay", str(log), "--to", f"127.0.0.1:{acceptor.port}", "--speed",
                     speed, "--settle", settle, "--json"])
    finally:
        acceptor.close()
    return code, json.loads(capsys.readouterr().out)


def test_a_drop_after_the_last_message_with_answers_due_is_exit_1(
        log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Everything was sent, but the acceptor closed while the log's answers to o2, the
    cancel and o4 were still due: the session was dropped, whatever was sent."""
    code, s = replay_to(ScriptedAcceptor(drop=True, drop_after=4), log, capsys, "max", "5")
    assert code == 1
    assert (s["sent"], s["to_play"], s["completed"]) == (4, 4, False)
    assert (s["matched"], s["missing"]) == (1, 5)
    assert s["note"] == "the acceptor closed the connection after 4 of 4 messages"


def test_an_answer_due_before_the_drop_is_missing(
        log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The acceptor drops o1 without a word: the log's acknowledgement of o1, recorded
    before o2 was played, was due, so it is missing."""
    code, s = replay_to(ScriptedAcceptor(drop=True, ack=False), log, capsys, "1x", "1")
    assert code == 1
    assert (s["sent"], s["expected"], s["expected_not_sent"]) == (1, 1, 5)
    assert (s["matched"], s["missing"], s["unexpected"]) == (0, 1, 0)


def test_the_text_report_says_how_many_answers_were_never_asked_for(
        log: Path, dropping: ScriptedAcceptor, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(log), "--to", f"127.0.0.1:{dropping.port}", "--speed", "1x",
                 "--settle", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "the log expects 1 and 5 to (or caused by) messages not sent" in out
    assert "matched 1 (equal 1), missing 0, unexpected 0" in out


def ctrl_c_replay(log: Path, speed: str, after: float = 0.0) -> tuple[int, str, str]:
    """``gateway replay --json`` of ``log`` at ``speed`` as a process, to an acceptor that
    acknowledges the first order and then reads on; SIGINT ``after`` seconds once that order
    is in (the process still running then). Its status, stdout and stderr."""
    acceptor = ScriptedAcceptor(drop=False)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "replay", str(log), "--to",
             f"127.0.0.1:{acceptor.port}", "--speed", speed, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert acceptor.first_order.wait(20), "the replay sent no order"
        time.sleep(after)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        acceptor.close()
    return proc.returncode, out, err


def test_ctrl_c_prints_the_report_of_what_ran_and_exits_130(log: Path) -> None:
    """SIGINT to a real replay process once the first order is in: it reports on the one
    message it sent (before, the report was lost with a traceback)."""
    code, out, err = ctrl_c_replay(log, "0.1x")
    assert code == 130, err
    assert "Traceback" not in err
    s = json.loads(out)
    # (whether the acknowledgement was read before the signal is timing: not asserted)
    assert (s["sent"], s["completed"], s["expected"], s["expected_not_sent"]) == (1, False, 1, 5)
    assert s["note"] == "interrupted (Ctrl-C) after 1 of 4 messages"


def test_a_wait_of_months_at_the_slowest_speed_is_waited_not_a_crash(log: Path) -> None:
    """At 0.001x, eight months between two orders is 660 years of waiting: one select for
    it overflowed (a traceback, exit 1). The replay waits, and Ctrl-C ends it as always."""
    lines = log.read_bytes().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if b"\x0135=D\x01" in line)
    start = lines[0].split(b" : ")[0]  # the first order at once, then months later the rest
    log.write_bytes(b"".join(start + line[line.index(b" : "):] for line in lines[:first + 1])
                    + b"".join(b"20240902" + line[8:] for line in lines[first + 1:]))
    code, out, err = ctrl_c_replay(log, "0.001x", after=1.5)  # into the wait for the next
    assert (code, "Traceback" in err) == (130, False), err
    assert json.loads(out)["note"] == "interrupted (Ctrl-C) after 1 of 4 messages"


@pytest.mark.parametrize(("option", "value", "reason"), [
    *(("--settle", v, f"{v!r}: expected seconds from 0 to 86,400, e.g. 1 or 0.5")
      for v in ("-1", "nan", "inf", "soon", "1e10")),
    # 1e-320 passed, and the first wait overflowed select's timeout: a traceback
    *(("--speed", v, f"speed {v!r}: expected 1x, 10x, 0.5x or max (at least 0.001x)")
      for v in ("0", "-2", "nan", "inf", "fast", "1e-320", "0.0009x")),
])
def test_settle_and_speed_are_checked_as_options(
        option: str, value: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", "x.log", "--to", "127.0.0.1:9", option, value])
    assert info.value.code == 2
    assert f"argument {option}: {reason}" in capsys.readouterr().err


def test_holding_ctrl_c_over_a_send_leaves_the_signal_mask_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupt raised the moment SIGINT is blocked still unblocks it (else a second
    Ctrl-C would be lost, and a caller of main() would keep it blocked); one blocked before
    stays blocked."""
    from gateway.cmd_replay import _ctrl_c_after

    def mask() -> set[int]:
        return set(signal.pthread_sigmask(signal.SIG_BLOCK, ()))

    real = signal.pthread_sigmask

    def interrupted(how: int, signals: Iterable[int]) -> set[int]:
        signals = set(signals)
        old: set[int] = set(real(how, signals))
        if how == signal.SIG_BLOCK and signal.SIGINT in signals:
            raise KeyboardInterrupt
        return old

    monkeypatch.setattr(signal, "pthread_sigmask", interrupted)
    with pytest.raises(KeyboardInterrupt), _ctrl_c_after():
        pass
    monkeypatch.undo()
    assert signal.SIGINT not in mask()
    real(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with _ctrl_c_after():
            pass
        assert signal.SIGINT in mask()
    finally:
        real(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.parametrize(("o2", "missing", "not_sent"), [
    ("55=AAPL|54=2", 1, 1),  # o2 could have crossed o1: its fill may be o2's doing
    ("55=MSFT|54=2", 2, 0),  # another symbol: o1's fill was due, with its ack
    ("55=AAPL|54=1", 2, 0),  # the same side: no cross
])
def test_only_a_fill_an_unsent_order_may_have_caused_is_not_missing(
        tmp_path: Path, o2: str, missing: int, not_sent: int) -> None:
    """The log has o1, o2, then o1's acknowledgement and fill; the replay sent o1 only and
    heard nothing. The acknowledgement was due whatever o2 was; the fill only unless o2 is
    an order of o1's symbol on the other side."""
    from gateway.log_replay import compare, plan
    from tests.test_replay import C, V

    log = write_log(tmp_path / "c.log", [
        (C, "35=D|11=o1|21=1|38=100|40=2|44=10|54=1|55=AAPL|59=0|60=20240102-10:00:00.000"),
        (C, f"35=D|11=o2|21=1|38=40|40=2|44=10|{o2}|59=0|60=20240102-10:00:00.000"),
        (V, "35=8|6=0|11=o1|14=0|17=E1|37=X1|38=100|39=0|54=1|55=AAPL|150=0|151=100"),
        (V, "35=8|6=10|11=o1|14=40|17=E2|31=10|32=40|37=X1|38=100|39=1|54=1|55=AAPL|150=F"
            "|151=60"),
    ])
    script = plan(log)
    result = compare(script.steps[:1], script.expected_of(1), [])
    assert (result.missing, result.not_sent) == (missing, not_sent)


def test_a_fix40_fill_is_known_by_its_last_shares(tmp_path: Path) -> None:
    """FIX 4.0 has no ExecType (150): its fill is an ExecutionReport with LastShares (32)."""
    from gateway.log_replay import compare, plan
    from tests.test_replay import C, V

    log = write_log(tmp_path / "c.log", [
        (C, "35=D|11=o1|21=1|38=100|40=2|44=10|54=1|55=AAPL|59=0"),
        (C, "35=D|11=o2|21=1|38=40|40=2|44=10|54=2|55=AAPL|59=0"),
        (V, "35=8|6=0|11=o1|14=0|17=E1|20=0|37=X1|38=100|39=0|54=1|55=AAPL"),
        (V, "35=8|6=10|11=o1|14=40|17=E2|20=0|31=10|32=40|37=X1|38=100|39=1|54=1|55=AAPL"),
    ], begin="FIX.4.0")
    script = plan(log)
    result = compare(script.steps[:1], script.expected_of(1), [])
    assert (result.missing, result.not_sent) == (1, 1)  # the acknowledgement; the fill
