"""Connections the acceptor refuses, over real loopback TCP: each leaves one line in the
engine's event log (peer address, reason, what the peer sent, escaped) and counts in
``connections_refused_total{reason}``, whose label takes a fixed set of values whatever the
peer sends."""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import urllib.request
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.apps import Dispatcher
from gateway.config import (
    AcceptorConfig,
    GatewayConfig,
    SessionConfig,
    StoreConfig,
    TlsConfig,
)
from gateway.metrics import REFUSED_REASONS, GatewayMetrics
from gateway.transport import ACCEPTOR_LOG, Engine
from tests.engine_apps import wait_for
from tests.fixpeer import Peer, frame
from tests.tls_files import self_signed

T = TypeVar("T")
#: a line of the engine's event log, as the session event logs write theirs
LINE = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}\.\d{6} : refused 127\.0\.0\.1:\d+: "
                  r"(?P<reason>[a-z_]+)(?P<detail>.*)$")


def run(coro: Awaitable[T], timeout: float = 60) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def config(tmp_path: Path) -> GatewayConfig:
    session = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", application="echo",
                            store=StoreConfig(kind="memory"))
    return GatewayConfig(tmp_path / "acc.yaml", (session,), AcceptorConfig("127.0.0.1", 0))


async def started(tmp_path: Path) -> tuple[Engine, GatewayMetrics]:
    cfg = config(tmp_path)
    metrics = GatewayMetrics()
    engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "run", metrics=metrics)
    await engine.start()
    return engine, metrics


async def refused(port: int, data: bytes, *, close: bool = False) -> bytes:
    """Connect, send ``data`` (then our FIN if ``close``), read until the acceptor closes;
    what it sent back (a refusal sends nothing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = b""
    try:
        writer.write(data)
        if close:
            writer.write_eof()
        got = await reader.read()
    except ConnectionResetError:  # closed with our bytes unread: a reset, still nothing said
        pass
    writer.close()
    return got


def lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "run" / "log" / ACCEPTOR_LOG
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def count(metrics: GatewayMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value("connections_refused_total", {"reason": reason})
    assert value is not None, reason  # every reason has its series from the start
    return value


def logon(begin: str = "FIX.4.4", sender: str = "TW", target: str = "ISLD") -> bytes:
    return Peer(begin=begin, sender=sender, target=target).logon(30, now=datetime.now(UTC))


@pytest.mark.parametrize(("reason", "data", "close", "shown"), [
    ("unknown_session", logon(sender="NOBODY"), False, "'NOBODY'"),
    ("wrong_begin_string", logon(begin="FIX.4.2"), False, "'FIX.4.2'"),
    ("garbled", frame("FIX.4.4", "35=A|34=1|49=TW|56=ISLD|98=0|108=30", checksum=0), False,
     "garbled"),
    # a start of a message that never ends in 64 KiB
    ("garbled", b"8=FIX.4.4\x019=99999\x01" + b"\x00" * 70000, False,
     "bytes; sent '8=FIX.4.4\\x019=99999\\x01\\x00"),
    # not FIX at all: refused at once, not after 30 s, with what it was
    ("garbled", b"GET / HTTP/1.0\r\n\r\n", False,
     "not a FIX message (no 8= at the start); sent 'GET / HTTP/1.0\\x0d\\x0a\\x0d\\x0a'"),
    ("closed", b"8=FIX.4.4\x019=5", True,
     "before a complete first message; sent '8=FIX.4.4\\x019=5'"),
], ids=["unknown", "begin_string", "bad_checksum", "64k_of_nothing", "http", "closed_early"])
def test_a_refused_connection_is_logged_and_counted(tmp_path: Path, reason: str, data: bytes,
                                                    close: bool, shown: str) -> None:
    async def scenario() -> None:
        engine, metrics = await started(tmp_path)
        assert await refused(engine.port, data, close=close) == b""  # nothing said to it
        await wait_for(lambda: len(lines(tmp_path)) == 1)
        m = LINE.match(lines(tmp_path)[0])
        assert m is not None, lines(tmp_path)
        assert m["reason"] == reason and shown in m["detail"]
        assert count(metrics, reason) == 1
        assert sum(count(metrics, r) for r in REFUSED_REASONS) == 1
        await engine.stop()

    run(scenario())


def test_a_first_message_timeout_is_logged_and_counted(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.transport

    monkeypatch.setattr(gateway.transport, "FIRST_MESSAGE_TIMEOUT", 0.3)

    async def scenario() -> None:
        engine, metrics = await started(tmp_path)
        assert await refused(engine.port, b"8=FIX.4.4\x019=70\x0135=A") == b""
        await wait_for(lambda: len(lines(tmp_path)) == 1)
        m = LINE.match(lines(tmp_path)[0])
        assert m is not None and m["reason"] == "timeout"
        assert count(metrics, "timeout") == 1
        await engine.stop()

    run(scenario())


def _tls_started(tmp_path: Path) -> tuple[GatewayConfig, TlsConfig]:
    cert, key = self_signed(tmp_path)
    cfg = config(tmp_path)
    tls = TlsConfig(cert=cert, key=key)
    return replace(cfg, acceptor=AcceptorConfig("127.0.0.1", 0, tls)), tls


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to "
                    "make a self-signed certificate")
@pytest.mark.parametrize("client", ["plain_text", "untrusting", "silent"])
def test_a_failed_tls_handshake_is_refused_logged_and_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    """A TLS acceptor's handshake is part of the first message's limit: a client that speaks
    FIX in plain text, one that does not trust our certificate, and one that says nothing
    each leave one refused line and count, and the acceptor goes on serving TLS clients."""
    import gateway.transport

    monkeypatch.setattr(gateway.transport, "FIRST_MESSAGE_TIMEOUT", 1.0)
    cfg, tls = _tls_started(tmp_path)

    async def scenario() -> None:
        metrics = GatewayMetrics()
        engine = Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "run", metrics=metrics)
        await engine.start()
        if client == "plain_text":
            await refused(engine.port, logon())
            expected, shown = "tls", "handshake failed"
        elif client == "untrusting":  # the default context trusts no self-signed certificate
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection("127.0.0.1", engine.port,
                                              ssl=ssl.create_default_context())
            expected, shown = "tls", ""
        else:
            await refused(engine.port, b"")
            expected, shown = "timeout", "no TLS handshake in 1 s"
        await wait_for(lambda: len(lines(tmp_path)) == 1)
        m = LINE.match(lines(tmp_path)[0])
        assert m is not None and m["reason"] == expected and shown in m["detail"], lines(tmp_path)
        assert count(metrics, expected) == 1
        # a client that trusts the certificate still logs on
        trusting = ssl.create_default_context(cafile=str(tls.cert))
        _, writer = await asyncio.open_connection("127.0.0.1", engine.port, ssl=trusting)
        writer.write(logon())
        await wait_for(lambda: engine.runner("TW").logged_on)
        writer.close()
        await engine.stop()

    run(scenario())


def test_a_second_connection_for_a_logged_on_session_is_refused_and_logged(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        engine, metrics = await started(tmp_path)
        _, writer = await asyncio.open_connection("127.0.0.1", engine.port)
        writer.write(logon())
        await wait_for(lambda: engine.runner("TW").logged_on)
        assert await refused(engine.port, logon()) == b""
        await wait_for(lambda: len(lines(tmp_path)) == 1)
        m = LINE.match(lines(tmp_path)[0])
        assert m is not None and m["reason"] == "already_connected"
        assert "FIX.4.4:ISLD->TW" in m["detail"]
        assert count(metrics, "already_connected") == 1
        assert engine.runner("TW").logged_on  # the first connection is untouched
        writer.close()
        await engine.stop()

    run(scenario())


def test_a_hostile_peer_grows_neither_series_nor_memory_nor_controls_the_log(
        tmp_path: Path) -> None:
    """Hundreds of refused connections, each with its own CompID full of control characters,
    newlines, non-ASCII bytes and ANSI escapes, or very long: one short, printable line each,
    the counter's series stay the fixed set and the metrics keep no state per peer."""
    hostile = ["E\nVIL", "E\x1b[31mVIL", "E\rVIL\x7f", "\u00e9\u00ff", "X" * 5000, "a\\x41",
               "'quoted'"]

    async def scenario() -> None:
        engine, metrics = await started(tmp_path)
        series_before = len(metrics._children)
        n = 300
        sem = asyncio.Semaphore(20)

        async def one(i: int) -> None:
            sender = f"{hostile[i % len(hostile)]}{i}"
            body = f"35=A|34=1|49={sender}|52=20240101-00:00:00|56=ISLD|98=0|108=30"
            async with sem:
                await refused(engine.port, frame("FIX.4.4", body))

        await asyncio.gather(*(one(i) for i in range(n)))
        await wait_for(lambda: len(lines(tmp_path)) == n)
        raw = (tmp_path / "run" / "log" / ACCEPTOR_LOG).read_bytes()
        assert raw.count(b"\n") == n  # a newline from the wire never starts a line
        assert re.fullmatch(rb"[\x20-\x7e\n]*", raw)  # nothing but printable ASCII
        for line in lines(tmp_path):
            m = LINE.match(line)
            assert m is not None and m["reason"] == "unknown_session", line
            assert len(line) < 300
        assert count(metrics, "unknown_session") == n
        assert len(metrics._children) == series_before  # no new labelled child kept
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics.serve()}/metrics",
                                    timeout=10) as resp:
            text = resp.read().decode()
        reasons = {s.labels["reason"] for f in text_string_to_metric_families(text)
                   if f.name == "connections_refused" for s in f.samples
                   if s.name == "connections_refused_total"}
        assert reasons == set(REFUSED_REASONS)
        metrics.close()
        await engine.stop()

    run(scenario())


def test_the_engine_log_never_raises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A refused connection's line that cannot be written (here its folder is a file) is
    counted and reported once, not raised into the acceptor."""
    from datetime import UTC, datetime

    from gateway.transport import EngineLog

    blocker = tmp_path / "log"
    blocker.write_text("")
    log = EngineLog(blocker)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    log.event(now, "refused 1")
    log.event(now, "refused 2")
    assert log.errors == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"gateway: log {log.path}: cannot write: ")
    assert line.endswith("; connections go on")
    log.close()
