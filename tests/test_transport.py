"""The asyncio transport with real loopback sockets: initiator and acceptor of our own,
reconnect with backoff, TLS, slow consumers, credentials, FIXT, many sessions on one port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest

from gateway.application import SessionHandle
from gateway.apps import Dispatcher
from gateway.config import (
    AcceptorConfig,
    GatewayConfig,
    ReconnectConfig,
    SessionConfig,
    StoreConfig,
    TlsConfig,
)
from gateway.deferred_store import DeferredTargetStore
from gateway.fixmessage import Message
from gateway.metrics import GatewayMetrics
from gateway.store import MemoryStore
from gateway.transport import Engine, Listener, connect_failure, ssl_context
from tests.engine_apps import Collector, order, wait_for
from tests.fixpeer import Peer, fields
from tests.observer_harness import Harness
from tests.tls_files import self_signed

T = TypeVar("T")
MEMORY = StoreConfig(kind="memory")


def run(coro: Awaitable[T], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def pair(tmp_path: Path, *, tls: tuple[TlsConfig, TlsConfig] | None = None,
         store: StoreConfig = MEMORY, begin: str = "FIX.4.4",
         username: str | None = None, password_env: str | None = None,
         ) -> tuple[GatewayConfig, Callable[[int], GatewayConfig]]:
    """An acceptor config (port 0) and a function giving the initiator config for a port."""
    acc_session = SessionConfig(begin, "ISLD", "TW", role="acceptor", application="echo",
                                store=store, username=username, password_env=password_env)
    acceptor = GatewayConfig(tmp_path / "acc.yaml", (acc_session,),
                             AcceptorConfig("127.0.0.1", 0, tls[0] if tls else None))

    def initiator(port: int) -> GatewayConfig:
        s = SessionConfig(begin, "TW", "ISLD", role="initiator", host="127.0.0.1", port=port,
                          heartbeat_interval=5, store=store, application="collector",
                          reconnect=ReconnectConfig(initial_delay=0.05, max_delay=0.2),
                          tls=tls[1] if tls else None, username=username,
                          password_env=password_env)
        return GatewayConfig(tmp_path / "ini.yaml", (s,))

    return acceptor, initiator


async def start_pair(tmp_path: Path, acc_cfg: GatewayConfig,
                     ini_cfg: Callable[[int], GatewayConfig]
                     ) -> tuple[Engine, Engine, Collector]:
    """Start the acceptor, then an initiator pointed at its port with a Collector app."""
    acceptor = Engine(acc_cfg, Dispatcher(acc_cfg), run_dir=tmp_path / "a")
    await acceptor.start()
    collector = Collector()
    icfg = ini_cfg(acceptor.port)
    initiator = Engine(icfg, Dispatcher(icfg, {"collector": collector}), run_dir=tmp_path / "i")
    await initiator.start()
    return acceptor, initiator, collector


async def initiator_to(tmp_path: Path, port: int) -> tuple[Engine, GatewayConfig]:
    """A started initiator (Collector app) aimed at ``port``, and the config of the acceptor
    it expects there."""
    acc_cfg, ini_cfg = pair(tmp_path)
    icfg = ini_cfg(port)
    initiator = Engine(icfg, Dispatcher(icfg, {"collector": Collector()}),
                       run_dir=tmp_path / "i")
    await initiator.start()
    return initiator, acc_cfg


def test_initiator_and_acceptor_trade_and_survive_a_dropped_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        acc_cfg, ini_cfg = pair(tmp_path, store=StoreConfig(kind="file", fsync="never"))
        acceptor, initiator, collector = await start_pair(tmp_path, acc_cfg, ini_cfg)
        runner = initiator.runner("ISLD")
        await wait_for(lambda: runner.logged_on)
        for i in range(50):
            runner.send(order(f"A{i}"))
        await wait_for(lambda: len(collector.received) == 50)
        # Drop the TCP connection under the session; keep sending while it is down.
        assert runner.writer is not None
        runner.writer.transport.abort()
        await wait_for(lambda: not runner.logged_on)
        for i in range(50, 80):
            runner.send(order(f"A{i}"))
        await wait_for(lambda: collector.logons == 2)
        await wait_for(lambda: len({m.body.get(11) for m in collector.received}) == 80)
        assert runner.session.store.next_target_seq == acceptor.runner(
            "TW").session.store.next_sender_seq
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


def test_backoff_is_immediate_then_exponential_with_jitter_and_a_cap(tmp_path: Path) -> None:
    _, ini = pair(tmp_path)
    cfg = ini(1)
    session = replace(cfg.sessions[0], reconnect=ReconnectConfig(
        initial_delay=1, max_delay=10, multiplier=2, jitter=0.1))
    engine = Engine(replace(cfg, sessions=(session,)), Collector(), run_dir=tmp_path,
                    rng=random.Random(7))
    delays = engine.backoff_schedule(session, 8)
    assert delays[0] == 0
    for attempt, (got, base) in enumerate(zip(delays[1:], [1, 2, 4, 8, 10, 10, 10],
                                              strict=True), start=1):
        assert base * 0.9 <= got <= base * 1.1, (attempt, got)
    assert len(set(delays[4:])) > 1  # jitter: not all the same


def test_the_backoff_stays_at_its_cap_however_long_the_peer_is_down(tmp_path: Path) -> None:
    """initial_delay x multiplier^n was computed before the cap: after 1,025 failed attempts
    (8.5 hours at the defaults) the float overflowed and the reconnect loop died silently."""
    _, ini = pair(tmp_path)
    cfg = ini(1)
    for reconnect in (ReconnectConfig(), ReconnectConfig(initial_delay=0.001, max_delay=0.01,
                                                         multiplier=100, jitter=0),
                      ReconnectConfig(initial_delay=60, max_delay=1, multiplier=100, jitter=0)):
        session = replace(cfg.sessions[0], reconnect=reconnect)
        engine = Engine(replace(cfg, sessions=(session,)), Collector(), run_dir=tmp_path)
        late = engine.backoff_schedule(session, 5000)[-10:]
        cap = reconnect.max_delay
        assert all(cap * (1 - reconnect.jitter) <= d <= cap * (1 + reconnect.jitter)
                   for d in late), (reconnect, late)


def scripted_venue(tmp_path: Path, answer: Callable[[], bytes], connections: int,
                   reconnect: ReconnectConfig | None = None) -> tuple[list[float], list[str], int]:
    """An initiator (TW -> ISLD, ``reconnect`` if given) against a scripted venue that, on
    each of ``connections`` connections, reads the Logon, sends ``answer()`` and reads until
    the initiator hangs up. When each connection was accepted (monotonic seconds), the
    engine's notices (its stderr lines) and the venue's port."""
    import socket
    import threading
    import time

    accepted: list[float] = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        with contextlib.suppress(OSError):
            while len(accepted) < connections:
                conn, _ = server.accept()
                accepted.append(time.monotonic())
                with conn:
                    conn.settimeout(5)
                    conn.recv(65536)  # the Logon
                    conn.sendall(answer())
                    with contextlib.suppress(OSError):
                        while conn.recv(65536):
                            pass

    peer = threading.Thread(target=serve, daemon=True)
    peer.start()
    notices: list[str] = []

    async def scenario() -> None:
        _, ini_cfg = pair(tmp_path)
        cfg = ini_cfg(port)
        if reconnect is not None:
            cfg = replace(cfg, sessions=(replace(cfg.sessions[0], reconnect=reconnect),))
        initiator = Engine(cfg, Dispatcher(cfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i", notice=notices.append)
        await initiator.start()
        await wait_for(lambda: len(accepted) >= connections, timeout=20)
        await initiator.stop()

    try:
        run(scenario())
    finally:
        server.close()
        peer.join(5)
    return accepted, notices, port


def test_a_peer_that_logs_out_at_once_after_each_logon_meets_a_growing_backoff(
        tmp_path: Path) -> None:
    """A venue that answers every Logon and logs us out at once (maintenance, a rule of
    its own): the logon does not start the backoff over, or we would reconnect every
    initial_delay for ever; only a session that stayed up max_delay does. Delays here are
    0.05, 0.1, 0.2, 0.4 s: the last gaps between connections are at least 0.4 s (a sleep is
    never shorter than asked), where starting over kept them near 0.05 s."""
    venue = Peer(sender="ISLD", target="TW")  # its numbers go on from connection to connection
    accepted, _, _ = scripted_venue(
        tmp_path, lambda: venue.logon() + venue.msg("35=5|58=maintenance"), 6,
        ReconnectConfig(initial_delay=0.05, max_delay=0.4, multiplier=2, jitter=0))
    gaps = [b - a for a, b in itertools.pairwise(accepted)]
    assert min(gaps[3:]) >= 0.4, gaps


def test_an_initiator_whose_logon_is_refused_says_so_once(tmp_path: Path) -> None:
    """Connected is not logged on: a venue answering each Logon with a Logout is named on
    the operator's stderr once, with the reason, not only in the session's event log."""
    _, notices, port = scripted_venue(
        tmp_path, lambda: Peer(sender="ISLD", target="TW").msg("35=5|58=not now"), 3)
    told = [n for n in notices if "but not logged on" in n]
    assert len(told) == 1, notices
    assert (f"connected to 127.0.0.1:{port} but not logged on (first message is a Logout, "
            "not a Logon: 'not now')") in told[0]


def test_initiator_retries_until_the_acceptor_appears(tmp_path: Path) -> None:
    async def scenario() -> None:
        import socket

        with socket.socket() as s:  # a free port, closed again
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        initiator, acc_cfg = await initiator_to(tmp_path, port)
        await asyncio.sleep(0.5)  # several refused attempts
        acceptor = Engine(acc_cfg.with_port(port), Dispatcher(acc_cfg), run_dir=tmp_path / "a")
        await acceptor.start()
        await wait_for(lambda: initiator.runner("ISLD").logged_on)
        log = (tmp_path / "i" / "log" / "FIX.4.4-TW-ISLD.event.current.log").read_text()
        assert log.count("connect failed") >= 2
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


def test_initiator_retries_after_a_peer_that_hangs_up_before_the_logon(tmp_path: Path) -> None:
    """A peer that accepts and closes at once, so our Logon meets a reset (an acceptor
    refusing an unknown or already connected session, a load balancer without a backend),
    must not end the reconnect loop: attempts go on until a real acceptor answers."""
    async def scenario() -> None:
        import socket
        import threading

        attempts = 0
        rude = socket.create_server(("127.0.0.1", 0))
        port = rude.getsockname()[1]

        def hang_up() -> None:  # a plain blocking peer, so it closes before the Logon lands
            nonlocal attempts
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = rude.accept()
                    attempts += 1
                    conn.close()

        peer = threading.Thread(target=hang_up, daemon=True)
        peer.start()
        initiator, acc_cfg = await initiator_to(tmp_path, port)
        await wait_for(lambda: attempts >= 3)
        rude.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); the port is free again
        rude.close()
        peer.join()
        acceptor = Engine(acc_cfg.with_port(port), Dispatcher(acc_cfg), run_dir=tmp_path / "a")
        await acceptor.start()
        await wait_for(lambda: initiator.runner("ISLD").logged_on)
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


def test_a_burst_is_answered_in_one_write_after_its_log_lines(tmp_path: Path) -> None:
    """Orders arriving in one read are answered with one write to the socket, and the
    message log already holds every line of them (in and out) when that write happens."""
    async def scenario() -> None:
        from datetime import UTC, datetime

        from tests.fixpeer import Peer

        acc_cfg, _ = pair(tmp_path)
        acceptor = Engine(acc_cfg, Dispatcher(acc_cfg), run_dir=tmp_path / "a")
        await acceptor.start()
        runner = acceptor.runner("TW")
        reader, writer = await asyncio.open_connection("127.0.0.1", acceptor.port)
        peer = Peer(begin="FIX.4.4", sender="TW", target="ISLD")
        writer.write(peer.logon(30, now=datetime.now(UTC)))
        await wait_for(lambda: runner.logged_on)
        log = runner.log.messages_path
        writes: list[tuple[int, int]] = []  # (echoes in the write, log lines on disk then)
        assert runner.writer is not None
        real_write = runner.writer.write

        def spy(data: bytes) -> None:
            writes.append((data.count(b"\x0135=D\x01"), len(log.read_text().splitlines())))
            real_write(data)

        runner.writer.write = spy  # type: ignore[method-assign]
        n = 50
        writer.write(b"".join(peer.msg(f"35=D|11=B{i}|21=1|55=X|54=1|60=20240101-00:00:00|40=1",
                                       now=datetime.now(UTC)) for i in range(n)))
        received = b""
        while received.count(b"\x0135=D\x01") < n:
            received += await asyncio.wait_for(reader.read(65536), 5)
        assert sum(k for k, _ in writes) == n
        assert len(writes) <= 2  # one per read of the burst (TCP may split it once)
        assert writes[-1][1] >= 2 + 2 * n  # logon in and out, then every order and echo
        writer.close()
        await acceptor.stop()

    run(scenario())


def _self_signed(tmp_path: Path) -> TlsConfig:
    cert, key = self_signed(tmp_path)
    return TlsConfig(cert=cert, key=key, ca=cert)


def test_tls_session(tmp_path: Path) -> None:
    pytest.importorskip("ssl")
    server = _self_signed(tmp_path)

    async def scenario() -> None:
        client = TlsConfig(ca=server.ca)
        acc_cfg, ini_cfg = pair(tmp_path, tls=(replace(server, ca=None), client))
        acceptor, initiator, collector = await start_pair(tmp_path, acc_cfg, ini_cfg)
        runner = initiator.runner("ISLD")
        await wait_for(lambda: runner.logged_on)
        runner.send(order("TLS1"))
        await wait_for(lambda: len(collector.received) == 1)
        assert runner.writer is not None and runner.writer.get_extra_info("ssl_object")
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


def test_an_encrypted_key_takes_its_passphrase_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without key_password_env, ssl would have asked on the terminal (at start-up, and
    again at every connection attempt, holding every session up): a clear error instead."""
    cert, key = self_signed(tmp_path, "pw1")
    assert b"ENCRYPTED" in key.read_bytes()
    with pytest.raises(ValueError, match="the key is encrypted: name the environment "
                                         "variable holding its passphrase with key_password_env"):
        ssl_context(TlsConfig(cert=cert, key=key), server=True)
    server = TlsConfig(cert=cert, key=key, key_password_env="TEST_KEY_PASSPHRASE")
    monkeypatch.delenv("TEST_KEY_PASSPHRASE", raising=False)
    with pytest.raises(ValueError, match="TEST_KEY_PASSPHRASE is not set"):
        ssl_context(server, server=True)
    monkeypatch.setenv("TEST_KEY_PASSPHRASE", "wrong")
    with pytest.raises(ssl.SSLError):
        ssl_context(server, server=True)
    monkeypatch.setenv("TEST_KEY_PASSPHRASE", "pw1")

    async def scenario() -> None:
        acc_cfg, ini_cfg = pair(tmp_path, tls=(server, TlsConfig(ca=cert)))
        acceptor, initiator, _ = await start_pair(tmp_path, acc_cfg, ini_cfg)
        await wait_for(lambda: initiator.runner("ISLD").logged_on)
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


def test_a_stop_while_our_logon_is_unanswered_does_not_wait_for_its_deadline(
        tmp_path: Path) -> None:
    """The acceptor took the connection and never answered our Logon: a stop disconnected
    the session at once, but the read went on waiting for the logon deadline, and stop()
    for logout_timeout (2 min each here; a few seconds now, the linger read included)."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    port = silent.getsockname()[1]

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(silent, lambda: held.append(silent.accept()[0]))
        s = SessionConfig("FIX.4.4", "TW", "ISLD", role="initiator", host="127.0.0.1",
                          port=port, application="collector", logon_timeout=120,
                          logout_timeout=120,
                          reconnect=ReconnectConfig(initial_delay=0.05, max_delay=0.05))
        cfg = GatewayConfig(tmp_path / "ini.yaml", (s,))
        initiator = Engine(cfg, Dispatcher(cfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i")
        await initiator.start()
        await wait_for(lambda: bool(held), timeout=5)  # connected, our Logon unanswered
        await asyncio.wait_for(initiator.stop(), timeout=30)
        loop.remove_reader(silent)

    try:
        run(scenario())
    finally:
        for conn in held:
            conn.close()
        silent.close()


def test_a_tls_handshake_that_never_comes_is_bounded_by_logon_timeout(tmp_path: Path) -> None:
    """An acceptor that takes the connection and says nothing: the initiator gives up after
    logon_timeout and tries again, rather than after asyncio's 60 s."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    port = silent.getsockname()[1]

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        loop.add_reader(silent, lambda: held.append(silent.accept()[0]))
        s = SessionConfig("FIX.4.4", "TW", "ISLD", role="initiator", host="127.0.0.1",
                          port=port, application="collector", logon_timeout=0.3,
                          reconnect=ReconnectConfig(initial_delay=0.05, max_delay=0.05),
                          tls=TlsConfig(verify_peer=False))
        cfg = GatewayConfig(tmp_path / "ini.yaml", (s,))
        notices: list[str] = []
        initiator = Engine(cfg, Dispatcher(cfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i", notice=notices.append)
        await initiator.start()
        await wait_for(lambda: len(held) >= 3, timeout=5)  # three attempts, well within 60 s
        await initiator.stop()
        loop.remove_reader(silent)
        return notices

    try:
        notices = run(scenario())
    finally:
        for conn in held:
            conn.close()
        silent.close()
    assert any("not connected and through the TLS handshake within logon_timeout (0.3 s)" in n
               for n in notices), notices


def test_a_tls_connect_failure_is_told_in_tls_terms() -> None:
    """An SSLError's errno is OpenSSL's code: os.strerror made an untrusted certificate
    "Operation not permitted", and a reset handshake (TLS to a plain-text port) said nothing."""
    assert connect_failure(ConnectionRefusedError(111, "x"), tls=True) == "Connection refused"
    assert connect_failure(ConnectionResetError(), tls=True) == (
        "ConnectionResetError during the TLS handshake (does the acceptor serve TLS?)")
    assert connect_failure(ConnectionResetError(), tls=False) == "ConnectionResetError"
    untrusted = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] ...")
    untrusted.verify_message = "self-signed certificate"
    assert connect_failure(untrusted, tls=True) == (
        "TLS: the acceptor's certificate is not trusted: self-signed certificate")
    assert connect_failure(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version"),
                           tls=True).startswith("TLS handshake failed: ")


class FailingLogout(Collector):
    """An acceptor application whose on_logout raises (a bug in it)."""

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        raise RuntimeError("a bug in on_logout")


def test_an_application_failing_at_logout_leaves_the_session_free_to_log_on_again(
        tmp_path: Path) -> None:
    """The failure escaped the connection's end before it said the connection was over:
    the session stayed "connected" for good and every later logon was refused."""

    async def scenario() -> None:
        acc_cfg, ini_cfg = pair(tmp_path)
        acceptor = Engine(acc_cfg, Dispatcher(acc_cfg, {"echo": FailingLogout()}),
                          run_dir=tmp_path / "a")
        await acceptor.start()
        for attempt in range(2):
            icfg = ini_cfg(acceptor.port)
            initiator = Engine(icfg, Dispatcher(icfg, {"collector": Collector()}),
                               run_dir=tmp_path / f"i{attempt}")
            await initiator.start()
            await wait_for(lambda: initiator.runner("ISLD").logged_on)  # noqa: B023
            await initiator.stop()  # logs out: the acceptor's on_logout raises
            await wait_for(lambda: acceptor.runner("TW").writer is None)
        await acceptor.stop()

    run(scenario())
    events = (tmp_path / "a" / "log" / "FIX.4.4-ISLD-TW.event.current.log").read_text()
    assert events.count("application error on logout: RuntimeError('a bug in on_logout')") == 2


class FailingLogon(Collector):
    """An acceptor application whose on_logon raises (a bug in it)."""

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        raise RuntimeError("a bug in on_logon")


def test_an_application_failing_at_logon_logs_the_session_out(tmp_path: Path) -> None:
    """The failure escaped into asyncio (a traceback on stderr) and the connection was
    dropped with no word; the application had not taken the session, so none may trade on
    it: the error is logged where the session's are, and the peer gets a Logout saying why."""

    async def scenario() -> None:
        acc_cfg, ini_cfg = pair(tmp_path)
        acceptor = Engine(acc_cfg, Dispatcher(acc_cfg, {"echo": FailingLogon()}),
                          run_dir=tmp_path / "a")
        await acceptor.start()
        icfg = ini_cfg(acceptor.port)
        initiator = Engine(icfg, Dispatcher(icfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i")
        await initiator.start()
        await wait_for(lambda: initiator.runner("ISLD").last_disconnect is not None)
        await initiator.stop()
        await acceptor.stop()

    run(scenario())
    events = (tmp_path / "a" / "log" / "FIX.4.4-ISLD-TW.event.current.log").read_text()
    assert "application error on logon: RuntimeError('a bug in on_logon')" in events
    theirs = (tmp_path / "i" / "log" / "FIX.4.4-TW-ISLD.event.current.log").read_text()
    assert "logout received 'application error at logon'" in theirs


def test_credentials_checked_from_environment(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_FIX_PASSWORD", "s3cret")

    async def attempt(password: str) -> bool:
        acc_cfg, ini_cfg = pair(tmp_path, username="TWUSER", password_env="TEST_FIX_PASSWORD")
        acceptor = Engine(acc_cfg, Dispatcher(acc_cfg), run_dir=tmp_path / "a")
        await acceptor.start()
        monkeypatch.setenv("TEST_FIX_PASSWORD", password)  # the initiator reads it now
        icfg = ini_cfg(acceptor.port)
        initiator = Engine(icfg, Dispatcher(icfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i")
        monkeypatch.setenv("TEST_FIX_PASSWORD", "s3cret")
        await initiator.start()
        try:
            await wait_for(lambda: initiator.runner("ISLD").logged_on, timeout=1.5)
            ok = True
        except TimeoutError:
            ok = False
        await initiator.stop()
        await acceptor.stop()
        return ok

    assert run(attempt("s3cret")) is True
    assert run(attempt("wrong")) is False


def test_fixt_session_with_fix50sp2_application_messages(tmp_path: Path) -> None:
    async def scenario() -> None:
        acc_cfg, ini_cfg = pair(tmp_path, begin="FIXT.1.1")
        acceptor, initiator, collector = await start_pair(tmp_path, acc_cfg, ini_cfg)
        runner = initiator.runner("ISLD")
        await wait_for(lambda: runner.logged_on)
        runner.send(order("FIXT1"))
        await wait_for(lambda: len(collector.received) == 1)
        log = (tmp_path / "i" / "log" / "FIXT.1.1-TW-ISLD.messages.current.log").read_text()
        assert "\x011137=9\x01" in log  # DefaultApplVerID FIX.5.0SP2 on the Logon
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


def test_one_port_serves_several_sessions_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        sessions = tuple(SessionConfig("FIX.4.4", "ISLD", t, application="echo",
                                       store=StoreConfig(kind="memory"))
                         for t in ("C1", "C2", "C3"))
        cfg = GatewayConfig(tmp_path / "x.yaml", sessions, AcceptorConfig("127.0.0.1", 0))
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path)
        await engine.start()
        from tests.fixpeer import Peer, fields

        conns = []
        for t in ("C1", "C2", "C3"):
            peer = Peer(sender=t)
            r, w = await asyncio.open_connection("127.0.0.1", engine.port)
            w.write(peer.logon())
            conns.append((peer, r, w))
        for peer, r, _ in conns:
            reply = await r.readuntil(b"\x0110=")
            assert fields(reply + b"000\x01")[56] == peer.sender
        for _, _, w in conns:
            w.close()
        await engine.stop()

    run(scenario())


def test_a_peer_trickling_its_first_message_is_cut_off(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The first message has a deadline as a whole: a byte now and then does not keep a
    connection (a file descriptor) open for ever."""
    import gateway.transport

    monkeypatch.setattr(gateway.transport, "FIRST_MESSAGE_TIMEOUT", 0.5)

    async def scenario() -> None:
        acc_cfg, _ = pair(tmp_path)
        acceptor = Engine(acc_cfg, Dispatcher(acc_cfg), run_dir=tmp_path / "a")
        await acceptor.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", acceptor.port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        closed = False
        for byte in b"8=FIX.4.4\x019=70\x0135=A\x0134=1\x01" * 4:
            writer.write(bytes([byte]))
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(reader.read(1), 0.1) == b"":
                    closed = True
                    break
        assert closed and loop.time() - started < 3
        writer.close()
        await acceptor.stop()

    run(scenario())


def test_an_initiator_waits_for_its_schedule_to_connect(tmp_path: Path) -> None:
    """Outside its schedule an initiator does not connect (the peer would refuse the Logon,
    QuickFIX initiators do not try); it connects when the session starts."""
    from datetime import UTC, datetime, timedelta

    from gateway.schedule import Schedule

    async def scenario() -> None:
        now = datetime.now(UTC)
        start, end = now + timedelta(seconds=2), now + timedelta(hours=1)
        if start.date() != end.date():
            pytest.skip("the schedule would cross midnight; run again later")
        acc_cfg, ini_cfg = pair(tmp_path)
        acceptor = Engine(acc_cfg, Dispatcher(acc_cfg), run_dir=tmp_path / "a")
        await acceptor.start()
        icfg = ini_cfg(acceptor.port)
        session = replace(icfg.sessions[0], schedule=Schedule(start.time(), end.time()))
        icfg = replace(icfg, sessions=(session,))
        initiator = Engine(icfg, Dispatcher(icfg, {"collector": Collector()}),
                           run_dir=tmp_path / "i")
        await initiator.start()
        runner = initiator.runner("ISLD")
        await wait_for(lambda: runner.logged_on, timeout=10)
        assert datetime.now(UTC) >= start
        log = (tmp_path / "i" / "log" / "FIX.4.4-TW-ISLD.event.current.log").read_text()
        assert "waiting for its start" in log
        assert log.count("connected") == 1  # no attempt before the start
        await initiator.stop()
        await acceptor.stop()

    run(scenario())


# -- the output batch's order of work -------------------------------------------------------
# A session runner's two calls the batch makes, recorded; a full disk cannot be made here,
# so the failing step is a before_write hook that raises the error a full disk would.


class _Runner:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls
        self.store = DeferredTargetStore(MemoryStore())  # (one that never fails)

    def flush_logs(self) -> None:
        self.calls.append(f"flush {self.name}")

    def write_pending(self) -> None:
        self.calls.append(f"write {self.name}")


def test_a_failed_batch_end_still_writes_every_sessions_bytes_in_order() -> None:
    from gateway.session_runner import OutputBatch

    calls: list[str] = []
    a, b = _Runner("a", calls), _Runner("b", calls)
    batch = OutputBatch()

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"), batch:
        batch.waiting[a] = None  # type: ignore[index]
        batch.waiting[b] = None  # type: ignore[index]
        batch.before_write.append(full_disk)
    assert calls == ["flush a", "flush b", "write a", "write b"]
    assert not batch.open and not batch.waiting and not batch.before_write
    calls.clear()
    with batch:  # the next batch is unaffected
        batch.waiting[b] = None  # type: ignore[index]
    assert calls == ["flush b", "write b"]


def test_a_session_closing_inside_a_batch_writes_after_the_logs_and_commits() -> None:
    from gateway.session_runner import OutputBatch

    calls: list[str] = []
    a, b = _Runner("a", calls), _Runner("b", calls)
    batch = OutputBatch()
    with batch:
        batch.waiting[a] = None  # type: ignore[index]
        batch.waiting[b] = None  # type: ignore[index]
        batch.before_write.append(lambda: calls.append("commit"))
        batch.write_now(a)  # type: ignore[arg-type]
        assert calls == ["flush a", "flush b", "commit", "write a"]
        calls.clear()
    assert calls == ["flush b", "write b"]  # the commit ran once, before a's bytes


# -- what a refused connection's log line shows of the wire ---------------------------------


def test_wire_text_is_printable_short_and_faithful() -> None:
    """Any value from the wire becomes printable ASCII without a quote or line break of its
    own, at most the limit inside its quotes; a plain short value shows as it is, and
    distinct short values stay distinct (the escape is reversible)."""
    import codecs

    from hypothesis import given
    from hypothesis import strategies as st

    from gateway.msglog import WIRE_TEXT_LIMIT, wire_text

    @given(st.text(st.characters(max_codepoint=0xFF), max_size=200))
    def check(value: str) -> None:
        text = wire_text(value)
        assert re.fullmatch(r"'[\x20-\x7e]*'(\.\.\.)?", text)
        inner = text[1:text.rindex("'")]
        assert "'" not in inner and len(inner) <= WIRE_TEXT_LIMIT
        if not text.endswith("..."):
            assert codecs.decode(inner, "unicode_escape") == value

    check()
    assert wire_text("TW") == "'TW'"
    assert wire_text("A" * 100).endswith("'...")


def test_a_listener_holds_its_port_before_it_serves() -> None:
    """Bound and listening from the start: a second listener cannot take the port in the
    moment before the first serves (two bound sockets that are not yet listening can share
    one), and a client that connects meanwhile is served once it does."""

    async def scenario() -> list[bytes]:
        first = await Listener.bind("127.0.0.1", 0)
        port = first.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        with pytest.raises(OSError):
            await Listener.bind("127.0.0.1", port)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"8=FIX")
        await writer.drain()
        got: list[bytes] = []

        async def handler(reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            got.append(await reader.read(5))
            w.close()

        await first.serve(handler)
        await wait_for(lambda: bool(got))
        writer.close()
        first.close()
        return got

    assert run(scenario()) == [b"8=FIX"]


class FailingMessage(Collector):
    """An application whose on_message raises (a bug in it), for every message."""

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        raise RuntimeError("a bug in on_message")


class Sent:
    """A session observer keeping what goes out."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def message(self, session: object, direction: str, raw: bytes, now: datetime) -> None:
        if direction == "out":
            self.out.append(raw)

    def event(self, session: object, event: object, now: datetime) -> None:
        pass


def test_an_application_failing_on_a_reject_does_not_answer_it_with_one(
        tmp_path: Path) -> None:
    """A message the application fails on gets a BusinessMessageReject ("internal error"),
    but a BusinessMessageReject did too: against a peer whose application refuses ours in
    kind, the two sides traded rejects without end."""
    sent = Sent()
    h = Harness(tmp_path, [sent], app=FailingMessage())
    try:
        h.logon()
        h.send("35=D|11=A|21=1|38=100|40=1|54=1|55=IBM|60=20240506-09:30:00")
        answer = fields(sent.out[-1])
        assert (answer[35], answer[372], answer[58]) == (
            "j", "D", "internal error processing the message")
        before = len(sent.out)
        h.send("35=j|45=2|372=j|380=0|58=internal error processing the message")
        assert len(sent.out) == before
    finally:
        h.close()


def test_a_session_whose_logon_the_application_failed_on_delivers_it_nothing(
        tmp_path: Path) -> None:
    """The Logout went out, but an order in the same read as the Logon (or sent before the
    peer read our Logout) still reached the application that had not taken the session."""
    app = FailingLogon()
    sent = Sent()
    h = Harness(tmp_path, [sent], app=app)
    try:
        h.connect()
        now = h.advance(0.001)
        order_fields = "35=D|11={}|21=1|38=100|40=1|54=1|55=IBM|60=20240506-09:30:00"
        h.runner.receive(h.peer.logon(now=now) + h.peer.msg(order_fields.format("A"), now=now))
        h.send(order_fields.format("B"))
        assert app.received == []
        assert [fields(raw)[35] for raw in sent.out] == ["A", "5"]
        assert fields(sent.out[-1])[58] == "application error at logon"
    finally:
        h.close()
    events = (tmp_path / "log" / "FIX.4.4-ISLD-TW.event.current.log").read_text()
    assert "not processed: D 3 (application error at logon)" in events


def test_a_reject_the_application_did_not_get_is_not_counted(tmp_path: Path) -> None:
    """rejects_total counts what the application gets: a BusinessMessageReject in the same
    read as a Logon the application failed on was counted, though never processed."""
    metrics = GatewayMetrics()
    h = Harness(tmp_path, [metrics], app=FailingLogon())
    try:
        h.connect()
        now = h.advance(0.001)
        h.runner.receive(h.peer.logon(now=now)
                         + h.peer.msg("35=j|45=1|372=D|380=0|58=x", now=now))
    finally:
        h.close()
    assert [s for family in metrics.registry.collect() if family.name == "rejects"
            for s in family.samples if s.name == "rejects_total"
            and s.labels["direction"] == "in"] == []
