"""Graceful shutdown over real loopback TCP: ``Engine.stop`` (what ``gateway run`` calls on
SIGTERM or SIGINT) logs every session out and reads the peer's Logout before it closes, so
the reply's sequence number is consumed and stored and the next logon has no gap."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from gateway.apps import Dispatcher
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, StoreConfig
from gateway.transport import Engine
from tests.fixpeer import Peer, fields, frame
from tests.gateway_proc import start_gateway, stop_gateway

T = TypeVar("T")
FILE_STORE = StoreConfig(kind="file", fsync="never")
EVENTS = "FIX.4.4-ISLD-TW.event.current.log"


def run(coro: Awaitable[T], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def acceptor_config(tmp_path: Path, logout_timeout: float = 2.0) -> GatewayConfig:
    session = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", application="echo",
                            store=FILE_STORE, logout_timeout=logout_timeout)
    return GatewayConfig(tmp_path / "acc.yaml", (session,), AcceptorConfig("127.0.0.1", 0))


def split(data: bytes) -> list[bytes]:
    """Complete messages in ``data`` (each ends with its CheckSum field)."""
    out, rest = [], data
    while b"\x0110=" in rest:
        end = rest.index(b"\x0110=") + 8
        out.append(rest[:end])
        rest = rest[end:]
    return out


class RawPeer:
    """A FIX counterparty on a plain socket, driven by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 peer: Peer) -> None:
        self.reader, self.writer, self.peer = reader, writer, peer
        self.buf = b""
        self.seen: list[bytes] = []  # every message received, in order

    @classmethod
    async def connect(cls, port: int, peer: Peer) -> RawPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, peer)

    def send(self, raw: bytes) -> None:
        self.writer.write(raw)

    async def until(self, msg_type: str) -> dict[int, str]:
        """Read until a message of ``msg_type`` arrives; its fields."""
        while True:
            for raw in split(self.buf):
                self.buf = self.buf[len(raw):]
                self.seen.append(raw)
                f = fields(raw)
                if f[35] == msg_type:
                    return f
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError(f"closed before a 35={msg_type}")
            self.buf += chunk

    async def until_closed(self) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await self.reader.read(65536):
                self.buf += chunk
        self.seen.extend(split(self.buf))
        self.writer.close()

    def types(self) -> list[str]:
        return [fields(raw)[35] for raw in self.seen]


async def logged_on_peer(port: int, peer: Peer, orders: int) -> RawPeer:
    """A peer logged on without a reset that sent ``orders`` orders and has their echoes."""
    p = await RawPeer.connect(port, peer)
    p.send(peer.logon(30, now=datetime.now(UTC)))
    await p.until("A")
    for i in range(orders):
        p.send(peer.msg(f"35=D|11=S{i}|21=1|55=X|54=1|60=20240101-00:00:00|40=1|38=1"))
        await p.until("D")
    return p


async def answer_logout(p: RawPeer) -> dict[int, str]:
    """Wait for our Logout, answer it as a FIX peer does, then wait for our close."""
    logout = await p.until("5")
    p.send(p.peer.msg("35=5"))
    await p.until_closed()
    return logout


def test_stop_reads_the_peers_logout_so_the_next_logon_has_no_gap(tmp_path: Path) -> None:
    """Stop, restart on the same store, log on again without a reset: our side neither sees
    a gap nor asks for a resend, and the event log tells a shutdown, not a lost connection."""
    async def scenario() -> None:
        cfg = acceptor_config(tmp_path)
        peer = Peer(sender="TW", target="ISLD")
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "a")
        await engine.start()
        p = await logged_on_peer(engine.port, peer, orders=3)
        answering = asyncio.create_task(answer_logout(p))
        await engine.stop()
        logout = await answering
        assert logout.get(58) == "shutting down"
        events = (tmp_path / "a" / "log" / EVENTS).read_text()
        assert "connection lost" not in events
        assert "disconnect: logout" in events
        assert "shutting down: Logout sent" in events

        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "a")  # the restart
        await engine.start()
        runner = engine.runner("TW")
        assert runner.session.store.next_target_seq == peer.seq  # the Logout reply counted
        again = await RawPeer.connect(engine.port, peer)
        again.send(peer.logon(30, now=datetime.now(UTC)))
        await again.until("A")
        again.send(peer.msg("35=D|11=AFTER|21=1|55=X|54=1|60=20240101-00:00:00|40=1|38=1"))
        await again.until("D")
        assert "2" not in again.types()  # no ResendRequest: nothing was missing
        assert "gap" not in (tmp_path / "a" / "log" / EVENTS).read_text()
        again.writer.close()
        await engine.stop()

    run(scenario())


def test_stop_waits_for_every_session_at_once(tmp_path: Path) -> None:
    """Two sessions logging out together: both replies are read and stored."""
    async def scenario() -> None:
        sessions = tuple(SessionConfig("FIX.4.4", "ISLD", t, application="echo",
                                       store=FILE_STORE) for t in ("C1", "C2"))
        cfg = GatewayConfig(tmp_path / "x.yaml", sessions, AcceptorConfig("127.0.0.1", 0))
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "a")
        await engine.start()
        peers = [Peer(sender=t, target="ISLD") for t in ("C1", "C2")]
        raws = [await logged_on_peer(engine.port, peer, orders=2) for peer in peers]
        answering = [asyncio.create_task(answer_logout(p)) for p in raws]
        await engine.stop()
        await asyncio.gather(*answering)
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "a")
        for peer in peers:
            store = engine.runner(peer.sender).session.store
            assert store.next_target_seq == peer.seq
        engine.close()

    run(scenario())


def test_a_peer_that_never_answers_costs_at_most_the_logout_timeout(tmp_path: Path) -> None:
    """A peer that reads our Logout and stays silent: the session gives up after its
    logout_timeout and says so; the unanswered Logout is not a lost connection."""
    async def scenario() -> None:
        cfg = acceptor_config(tmp_path, logout_timeout=0.3)
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "a")
        await engine.start()
        p = await logged_on_peer(engine.port, Peer(sender="TW", target="ISLD"), orders=0)
        await engine.stop()
        await p.until_closed()
        assert "5" in p.types()
        events = (tmp_path / "a" / "log" / EVENTS).read_text()
        assert "disconnect: no Logout reply in time" in events
        assert "connection lost" not in events

    run(scenario())


def test_an_initiator_stopping_logs_out_of_its_acceptor_cleanly(tmp_path: Path) -> None:
    """Both sides ours: the initiator's stop has its Logout answered, both stores agree, and
    neither side records a lost connection."""
    from gateway.config import ReconnectConfig
    from tests.engine_apps import Collector, wait_for

    async def scenario() -> None:
        acfg = acceptor_config(tmp_path)
        acceptor = Engine(acfg, Dispatcher(acfg), run_dir=tmp_path / "a")
        await acceptor.start()
        ini = SessionConfig("FIX.4.4", "TW", "ISLD", role="initiator", host="127.0.0.1",
                            port=acceptor.port, store=FILE_STORE, application="collector",
                            reconnect=ReconnectConfig(initial_delay=0.05, max_delay=0.2))
        icfg = GatewayConfig(tmp_path / "ini.yaml", (ini,))
        initiator = Engine(icfg, Dispatcher(icfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i")
        await initiator.start()
        await wait_for(lambda: initiator.runner("ISLD").logged_on)
        await initiator.stop()
        ours = initiator.runner("ISLD").session.store
        theirs = acceptor.runner("TW").session.store
        await wait_for(lambda: not acceptor.runner("TW").logged_on)
        assert ours.next_target_seq == theirs.next_sender_seq
        await acceptor.stop()
        for side, name in (("i", "FIX.4.4-TW-ISLD"), ("a", "FIX.4.4-ISLD-TW")):
            events = (tmp_path / side / "log" / f"{name}.event.current.log").read_text()
            assert "connection lost" not in events, (side, events)

    run(scenario())


def test_sigterm_logs_out_and_a_restart_sees_no_gap(tmp_path: Path) -> None:
    """``gateway run`` as a process: SIGTERM while a peer is logged on, the peer answers our
    Logout, the process is started again and the peer logs on without a reset."""
    config = tmp_path / "gw.yaml"
    config.write_text(textwrap.dedent("""\
        acceptor: {host: 127.0.0.1, port: 0}
        sessions:
          - {begin_string: FIX.4.4, sender_comp_id: ISLD, target_comp_id: TW,
             role: acceptor, application: echo, store: {kind: file, fsync: never}}
        """))
    run_dir = tmp_path / "run"
    peer = Peer(sender="TW", target="ISLD")

    def exchange(port: int, orders: int) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(peer.logon(30, now=datetime.now(UTC)))
        for i in range(orders):
            s.sendall(peer.msg(f"35=D|11=P{i}|21=1|55=X|54=1|60=20240101-00:00:00|40=1|38=1"))
        return s

    def read_until(s: socket.socket, msg_types: str, seen: list[bytes]) -> None:
        """Read up to the next message whose MsgType is one of ``msg_types`` (one character
        each); every message read is appended to ``seen``, the next ones wait in ``held``."""
        while True:
            for raw in split(held[0]):
                held[0] = held[0][len(raw):]
                seen.append(raw)
                if fields(raw)[35] in msg_types:
                    return
            chunk = s.recv(65536)
            assert chunk, f"closed before one of 35={msg_types}"
            held[0] += chunk

    held = [b""]
    proc, port = start_gateway(config, run_dir)
    try:
        seen: list[bytes] = []
        s = exchange(port, orders=2)
        for _ in range(2):
            read_until(s, "D", seen)
        proc.send_signal(signal.SIGTERM)
        read_until(s, "5", seen)
        s.sendall(peer.msg("35=5"))
        with contextlib.suppress(OSError):
            while s.recv(65536):
                pass
        s.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            stop_gateway(proc)
    proc, port = start_gateway(config, run_dir)
    try:
        seen, held[0] = [], b""
        s = exchange(port, orders=1)
        read_until(s, "D2", seen)
        assert [fields(r)[35] for r in seen] == ["A", "D"]  # no ResendRequest before the echo
        s.close()
    finally:
        assert stop_gateway(proc) == 0
    events = (run_dir / "log" / EVENTS).read_text()
    assert "gap" not in events
    assert events.count("disconnect: logout") >= 1



def test_a_stop_with_a_peer_that_leaves_the_socket_open_prints_no_traceback(
        tmp_path: Path) -> None:
    """SIGTERM; the peer answers our Logout and leaves closing to us, as FIX has it, and
    keeps its socket open: the stop ends the connection (exit 0) without the traceback of
    a cancelled connection task that Python 3.11's server printed at every such stop."""
    config = tmp_path / "gw.yaml"
    config.write_text(textwrap.dedent("""\
        acceptor: {host: 127.0.0.1, port: 0}
        sessions:
          - {begin_string: FIX.4.4, sender_comp_id: ISLD, target_comp_id: TW,
             role: acceptor, application: echo, store: {kind: memory}}
        """))
    peer = Peer(sender="TW", target="ISLD")
    proc, port = start_gateway(config, tmp_path / "run", stderr=subprocess.PIPE)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(peer.logon(30, now=datetime.now(UTC)))
        got = b""
        while b"\x0135=A\x01" not in got:
            got += s.recv(65536)
        proc.send_signal(signal.SIGTERM)
        while b"\x0135=5\x01" not in got:
            got += s.recv(65536)
        s.sendall(peer.msg("35=5"))
        assert proc.wait(20) == 0
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    finally:
        s.close()
        if proc.poll() is None:
            stop_gateway(proc)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_repeated_until_the_end_still_ends_with_status_0(
        tmp_path: Path, sig: signal.Signals) -> None:
    """A supervisor sending the signal every few ms: after "stopped", once the handlers were
    put back, one arrived during the exit and the process died by it (-15, -2, -1)."""
    root = Path(__file__).resolve().parents[1]
    proc, port = start_gateway(root / "sessions/venue.yaml", tmp_path / "run",
                               stderr=subprocess.PIPE)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(Peer(sender="CLIENT1", target="VENUE").msg("35=A|98=0|108=30|141=Y"))
        got = b""
        while b"\x0135=A\x01" not in got:  # logged on: the stop has a session to end
            got += s.recv(65536)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            time.sleep(0.005)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.rstrip().endswith("stopped"), err


def test_stop_signals_back_to_back_end_another_command_with_one_line(tmp_path: Path) -> None:
    """``gateway audit`` blocked writing a timeline nobody reads, then SIGINT, SIGTERM and
    SIGHUP at once: the second raised again while the first was being handled, where nothing
    caught it (a traceback, status 1)."""
    stamp = "20260521-14:30:00.000"
    lines = [f"{stamp}000 : ".encode() + frame(
        "FIX.4.4", f"35=D|49=CLIENT1|56=VENUE|52={stamp}|34=1|11=X1|54=1|38=100000|40=2|44=10"
                   "|55=AAPL") + b"\n"]
    for i in range(3000):  # a timeline larger than a pipe holds
        lines.append(f"{stamp}000 : ".encode() + frame(
            "FIX.4.4", f"35=8|49=VENUE|56=CLIENT1|52={stamp}|34={i + 2}|11=X1|37=V1|17=E{i}"
                       f"|150=F|39=1|54=1|55=AAPL|32=1|31=10|14={i + 1}|151={99999 - i}")
            + b"\n")
    (tmp_path / "FIX.4.4-VENUE-CLIENT1.messages.current.log").write_bytes(b"".join(lines))
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "audit", str(tmp_path),
                             "--clordid", "X1"], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # it is writing: the rest waits on the full pipe
        time.sleep(0.5)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            proc.send_signal(sig)
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr is not None else ""
        proc.wait(20)
    finally:
        proc.kill()
    # whichever the process took first (pending signals are taken in number order)
    assert proc.returncode in (129, 130, 143), err
    assert err == f"gateway: stopped by {signal.Signals(proc.returncode - 128).name}\n"
