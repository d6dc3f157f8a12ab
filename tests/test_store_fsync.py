"""``fsync: interval`` fsyncs every record within the interval of its write, quiet or not.

Regression: the file store fsynced only at a write that came at least ``fsync_interval``
after the previous fsync, and nothing fsynced on a timer. After a burst (orders 5 ms apart,
then silence) the records written since the last fsync stayed unsynced for as long as the
session was quiet: a host crash then lost ExecutionReports already sent, and the restarted
gateway reused their sequence numbers for different messages (found by a probe spying on
``os.fsync`` and ``os.write``).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.apps import Dispatcher
from gateway.clock import WallClock
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, StoreConfig
from gateway.echo_app import EchoApplication
from gateway.fixmessage import Message
from gateway.session_runner import SessionRunner
from gateway.store import FileStore
from gateway.transport import Engine
from tests.fixpeer import Peer

T0 = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
INTERVAL = 0.05


class FakeMonotonic:
    """The store's pacing clock, moved by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class DiskSpy:
    """Every ``os.write`` and ``os.fsync`` on the file at ``path``, in order (the real calls
    still run: the store writes and fsyncs a real file)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        self.path = path
        self.ops: list[str] = []
        real_write, real_fsync = os.write, os.fsync

        def write(fd: int, data: bytes) -> int:
            self._note("write", fd)
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            self._note("fsync", fd)
            real_fsync(fd)

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fsync", fsync)

    def _note(self, op: str, fd: int) -> None:
        with_path = self.path.exists() and os.path.samestat(os.fstat(fd), os.stat(self.path))
        if with_path:
            self.ops.append(op)

    def count(self, op: str) -> int:
        return self.ops.count(op)

    def writes_after_last_fsync(self) -> int:
        last = max((i for i, op in enumerate(self.ops) if op == "fsync"), default=-1)
        return self.ops[last + 1:].count("write")


def interval_store(tmp_path: Path, clock: FakeMonotonic) -> FileStore:
    """A file store that fsyncs every INTERVAL of ``clock``."""
    return FileStore(tmp_path / "s.store", fsync="interval", fsync_interval=INTERVAL, now=T0,
                     monotonic=clock)


def interval_session(path: Path, ours: str, theirs: str) -> SessionConfig:
    """An echo acceptor session whose file store at ``path`` fsyncs every INTERVAL."""
    return SessionConfig("FIX.4.4", ours, theirs, role="acceptor", application="echo",
                         store=StoreConfig(kind="file", path=path, fsync="interval",
                                           fsync_interval=INTERVAL))


def test_records_after_the_last_fsync_are_fsynced_once_the_interval_passes_quietly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeMonotonic()
    store = interval_store(tmp_path, clock)
    spy = DiskSpy(monkeypatch, store.path)
    assert store.next_sync() is None  # nothing written, nothing waits
    for seq in range(1, 6):  # a burst: five records 5 ms apart
        store.save_sent(seq, f"report {seq}".encode())
        clock.t += 0.005
    # the first one fsynced at once (none for an interval); the other four wait, and no
    # write of theirs cost an fsync
    assert (spy.count("write"), spy.count("fsync")) == (5, 1)
    assert spy.writes_after_last_fsync() == 4
    # due an interval after the oldest waiting record (written at +5 ms), not after the last
    assert store.next_sync() == pytest.approx(0.005 + INTERVAL - 0.025)
    clock.t = 1000.005 + INTERVAL - 0.001
    assert not store.sync_if_due()  # not yet: no early fsync
    assert spy.count("fsync") == 1
    clock.t = 1000.005 + INTERVAL + 1e-9  # silence for an interval: no write to trigger it
    assert store.next_sync() == 0.0
    assert store.sync_if_due()
    assert (spy.count("fsync"), spy.writes_after_last_fsync()) == (2, 0)
    assert store.next_sync() is None
    clock.t += 3.0  # a quiet session: nothing more to do, however long it lasts
    assert not store.sync_if_due()
    assert spy.count("fsync") == 2
    store.close()


def test_a_steady_flow_fsyncs_once_an_interval_and_a_clean_close_fsyncs_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeMonotonic()
    store = interval_store(tmp_path, clock)
    spy = DiskSpy(monkeypatch, store.path)
    for seq in range(1, 101):  # 100 records 1 ms apart, 99 ms: an fsync at the first and
        store.save_sent(seq, b"x")  # one at the first write an interval later, no more
        clock.t += 0.001
    assert spy.count("fsync") == 2
    assert spy.writes_after_last_fsync() > 0 and store.next_sync() is not None
    store.close()  # a clean shutdown fsyncs what still waits
    assert (spy.count("fsync"), spy.writes_after_last_fsync()) == (3, 0)


def test_a_reset_leaves_nothing_waiting(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeMonotonic()
    store = interval_store(tmp_path, clock)
    spy = DiskSpy(monkeypatch, store.path)
    store.save_sent(1, b"a")
    store.save_sent(2, b"b")
    assert spy.writes_after_last_fsync() == 1
    assert store.next_sync() == pytest.approx(INTERVAL)
    store.reset(T0)  # the new generation is fsynced whole and replaces what waited
    assert store.next_sync() is None
    assert not store.sync_if_due()
    store.close()


def test_a_runner_fsyncs_a_quiet_sessions_waiting_records_by_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Through the live machinery: a SessionRunner in a running event loop, its session not
    # connected (a venue's reports for a logged-out client are stored all the same).
    path = tmp_path / "r.store"
    config = interval_session(path, "VENUE", "CLIENT1")
    runner = SessionRunner(config, EchoApplication(), WallClock(), tmp_path, 1 << 20)
    spy = DiskSpy(monkeypatch, path)

    async def burst_then_quiet() -> None:
        for i in range(5):
            report = Message("8")
            for tag, value in ((37, f"O{i}"), (150, "0"), (39, "0")):
                report.body.set(tag, value)
            runner.send(report)
            await asyncio.sleep(0.005)
        assert spy.writes_after_last_fsync() > 0  # the burst's tail waits for its fsync
        await asyncio.sleep(INTERVAL * 6)  # quiet: no write comes to trigger one

    try:
        asyncio.run(asyncio.wait_for(burst_then_quiet(), 10))
        assert spy.count("write") == 5
        assert spy.writes_after_last_fsync() == 0
    finally:
        runner.release()


@pytest.mark.parametrize("orders", [2, 5])
def test_a_connected_sessions_burst_is_fsynced_within_the_interval_of_its_last_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orders: int) -> None:
    # The probe's case over loopback TCP: five orders 5 ms apart, each answered (stored,
    # then sent) and its inbound number committed (stored too), then the peer says nothing.
    # Two: the second's records, written at its batch's end, are the only ones waiting (no
    # earlier record's timer fsyncs them on the way).
    path = tmp_path / "acc.store"
    session = interval_session(path, "ISLD", "TW")
    config = GatewayConfig(tmp_path / "acc.yaml", (session,), AcceptorConfig("127.0.0.1", 0))
    spy = DiskSpy(monkeypatch, path)
    waiting_after_burst: list[int] = []

    async def scenario() -> None:
        engine = Engine(config, Dispatcher(config), run_dir=tmp_path)
        await engine.start()
        peer = Peer()
        reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
        try:
            writer.write(peer.logon())
            assert b"\x0135=A\x01" in await asyncio.wait_for(reader.read(65536), 10)
            await asyncio.sleep(INTERVAL * 2)  # so the burst starts with an inline fsync
            echoed = b""
            for i in range(orders):
                writer.write(peer.msg(f"35=D|11=C{i}|21=1|38=100|40=1|54=1|55=IBM|"
                                      f"60=20261125-12:00:00"))
                while echoed.count(b"\x0135=D\x01") <= i:  # its echo is out: stored
                    echoed += await asyncio.wait_for(reader.read(65536), 10)
                await asyncio.sleep(0.005)
            waiting_after_burst.append(spy.writes_after_last_fsync())
            await asyncio.sleep(INTERVAL * 6)  # quiet: heartbeats are 30 s away
            assert spy.writes_after_last_fsync() == 0
        finally:
            writer.close()
            await engine.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert waiting_after_burst[0] > 0  # the burst did leave records waiting for a timer
    assert spy.writes_after_last_fsync() == 0  # and the clean shutdown left none
