"""Slow consumers over real TCP: a peer that stops reading must not make the acceptor buffer
its replies without bound, stall other sessions, or lose messages once it reads again.

The peer is a raw socket with a 4 KiB receive buffer (set before connecting, so TCP does not
grow it) that floods the echo application with NewOrderSingles carrying an 8 KB Text: 16 MB
of echoes, far more than the kernel's socket buffers (a few MB on loopback) and the
acceptor's ``max_buffer`` can hold, so what the acceptor does with the rest is what is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.apps import Dispatcher
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, StoreConfig
from gateway.fixmessage import Message
from gateway.session_runner import HIGH_WATER, READ_SIZE, SessionRunner
from gateway.transport import Engine
from tests.engine_apps import wait_for
from tests.fixpeer import Peer, fields

ORDERS = 2000
TEXT = "x" * 8000
ECHO = b"\x0135=D\x01"


def config(tmp_path: Path, max_buffer: int) -> GatewayConfig:
    sessions = tuple(SessionConfig("FIX.4.4", "ISLD", t, application="echo",
                                   store=StoreConfig(kind="memory"))
                     for t in ("SLOW", "OTHER"))
    return GatewayConfig(tmp_path / "acc.yaml", sessions,
                         AcceptorConfig("127.0.0.1", 0, max_buffer=max_buffer))


async def connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


async def read_until(sock: socket.socket, count: int, needle: bytes = ECHO,
                     timeout: float = 60) -> bytes:
    """Read until ``needle`` has been seen ``count`` times (or the peer closes)."""
    loop = asyncio.get_running_loop()
    data = bytearray()
    seen = 0
    async with asyncio.timeout(timeout):
        while seen < count:
            chunk = await loop.sock_recv(sock, 1 << 20)
            if not chunk:
                break
            start = max(0, len(data) - len(needle) + 1)  # a needle split across reads
            data += chunk
            seen += data.count(needle, start)
    return bytes(data)


async def logon(sock: socket.socket, peer: Peer) -> None:
    await asyncio.get_running_loop().sock_sendall(sock, peer.logon())
    reply = await read_until(sock, 1, b"\x0135=A\x01", timeout=10)
    assert b"\x0135=A\x01" in reply


def flood(peer: Peer, prefix: str) -> bytes:
    return b"".join(peer.msg(f"35=D|11={prefix}{i}|21=1|38=100|40=1|54=1|55=INTC|"
                             f"60=20261125-12:00:00|58={TEXT}") for i in range(ORDERS))


def unsent(runner: SessionRunner) -> int:
    writer = runner.writer
    return writer.transport.get_write_buffer_size() if writer is not None else 0


async def other_session_echoes(port: int) -> None:
    """Another client logs on and gets its order echoed."""
    sock = await connect(port)
    peer = Peer(sender="OTHER")
    await logon(sock, peer)
    await asyncio.get_running_loop().sock_sendall(
        sock, peer.msg("35=D|11=B1|21=1|38=1|40=1|54=1|55=INTC|60=20261125-12:00:00"))
    echoed = await read_until(sock, 1, timeout=10)
    assert b"\x0111=B1\x01" in echoed
    sock.close()


@dataclass
class SlowPeer:
    """A logged-on SLOW client with a 4 KiB receive buffer; :meth:`flood` starts sending."""

    engine: Engine
    sock: socket.socket
    runner: SessionRunner
    peer: Peer
    sending: asyncio.Task[None] | None = None

    def flood(self) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        self.sending = asyncio.create_task(loop.sock_sendall(self.sock, flood(self.peer, "A")))
        return self.sending


@contextlib.asynccontextmanager
async def slow_peer(tmp_path: Path, max_buffer: int) -> AsyncIterator[SlowPeer]:
    cfg = config(tmp_path, max_buffer)
    engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "run")
    await engine.start()
    sock = await connect(engine.port, rcvbuf=4096)
    slow = SlowPeer(engine, sock, engine.runner("SLOW"), Peer(sender="SLOW"))
    try:
        await logon(sock, slow.peer)
        yield slow
    finally:  # a peer that never reads must not keep the acceptor's close waiting
        if slow.sending is not None:
            slow.sending.cancel()
        sock.close()
        await engine.stop()


def test_a_peer_that_stops_reading_pauses_its_input_and_loses_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with slow_peer(tmp_path, max_buffer=1 << 20) as slow:
            runner = slow.runner
            peaks: list[int] = []
            receive = runner.receive

            def measured(data: bytes) -> None:  # what each read left queued in the acceptor
                receive(data)
                peaks.append(unsent(runner))

            runner.receive = measured  # type: ignore[method-assign]
            sending = slow.flood()
            # The echoes outgrow the kernel's buffers and queue in the acceptor...
            await wait_for(lambda: unsent(runner) > HIGH_WATER, timeout=30)
            # ...whose loop still serves everyone else while this peer reads nothing.
            await other_session_echoes(slow.engine.port)
            assert runner.session.logged_on
            echoes = await read_until(slow.sock, ORDERS)
            await sending
            assert echoes.count(ECHO) == ORDERS  # every order echoed, none lost or repeated
            first_two = [fields(b"\x01" + part)[11] for part in echoes.split(ECHO)[1:3]]
            assert first_two == ["A0", "A1"]
            assert runner.session.logged_on
            # Reads stopped above the high-water mark: what stayed in the acceptor was bounded
            # by one read's worth of echoes past it, a small part of the 16 MB flood.
            assert HIGH_WATER < max(peaks) <= HIGH_WATER + 2 * READ_SIZE

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_a_peer_whose_unread_output_passes_max_buffer_is_disconnected(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with slow_peer(tmp_path, max_buffer=64 * 1024) as slow:
            slow.flood()
            await wait_for(lambda: not slow.runner.session.logged_on, timeout=30)
            log = tmp_path / "run" / "log" / "FIX.4.4-ISLD-SLOW.event.current.log"
            assert "slow consumer: output buffer over limit, disconnecting" in log.read_text()
            await other_session_echoes(slow.engine.port)

    asyncio.run(asyncio.wait_for(scenario(), 120))


def report(i: int) -> Message:
    m = Message("8")
    for tag, value in ((6, "10.25"), (11, f"C{i}"), (14, "100"), (17, f"E{i}"), (31, "10.25"),
                       (32, "100"), (37, f"O{i}"), (39, "2"), (54, "1"), (55, "INTC"),
                       (60, "20261126-14:00:00.000"), (150, "F"), (151, "0")):
        m.body.set(tag, value)
    return m


def test_a_resend_far_larger_than_max_buffer_is_written_as_the_peer_reads(
        tmp_path: Path) -> None:
    """A counterparty that missed a busy day asks for all of it: 30,000 ExecutionReports,
    about 7 MB, several times ``max_buffer`` and more than the kernel's buffers take. It is
    not a slow consumer: the resend waits while the peer does not read (another session is
    served meanwhile), then the peer gets every message once, in order, and stays logged on."""
    reports = 30_000

    async def scenario() -> None:
        cfg = config(tmp_path, max_buffer=1 << 20)
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "run")
        await engine.start()
        try:
            runner = engine.runner("SLOW")
            for i in range(reports):  # while the peer is away: stored, not transmitted
                runner.send(report(i))
            sock = await connect(engine.port, rcvbuf=65536)
            peer = Peer(sender="SLOW")
            await logon(sock, peer)
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(sock, peer.msg("35=2|7=1|16=0"))
            await wait_for(lambda: runner.session.owes and unsent(runner) > 0, timeout=30)
            await asyncio.sleep(0.5)  # the peer reads nothing: the resend waits for it
            assert runner.session.owes and unsent(runner) <= HIGH_WATER
            await other_session_echoes(engine.port)
            resent = await read_until(sock, reports, b"\x0135=8\x01")
            numbers = [int(fields(b"\x01" + part)[34])
                       for part in resent.split(b"\x0135=8\x01")[1:]]
            assert numbers == list(range(1, reports + 1))
            await wait_for(lambda: not runner.session.owes)  # the Logon's gap fill last
            assert runner.session.logged_on
            log = tmp_path / "run" / "log" / "FIX.4.4-ISLD-SLOW.event.current.log"
            assert "slow consumer" not in log.read_text()
            sock.close()
        finally:
            await engine.stop()

    asyncio.run(asyncio.wait_for(scenario(), 120))
