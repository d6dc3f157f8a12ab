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
from gateway.transport import HIGH_WATER, READ_SIZE, Engine, SessionRunner
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
