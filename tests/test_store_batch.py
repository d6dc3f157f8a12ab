"""File stores written at a batch's end, journaled first when several wrote: a crash between
two stores' writes (a real SIGKILL) leaves both halves of the batch on disk after a restart."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.apps import Dispatcher
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, StoreConfig
from gateway.fixmessage import Message
from gateway.store import FileStore, FsyncPolicy, StoreError
from gateway.store_batch import StoreBatch, journal_path, read_journal
from gateway.transport import Engine
from tests.fixpeer import Peer
from tests.test_store_fsync import DiskSpy

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def raws(store: FileStore) -> list[bytes]:
    return [m.raw for m in store.sent(1, store.next_sender_seq - 1)]


def test_records_wait_for_the_batch_end_and_are_read_back_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "a.store"
    batch = StoreBatch()
    store = FileStore(path, fsync="never", batch=batch)
    store.save_sent(1, b"before")  # no batch open: written at once
    size = path.stat().st_size
    batch.open = True
    store.save_sent(2, b"in the batch")
    store.set_next_target_seq(5)
    assert path.stat().st_size == size  # nothing written yet
    assert raws(store) == [b"before", b"in the batch"]  # a resend reads them meanwhile
    batch.open = False
    batch.write()
    assert store.failure is None
    store.close()
    again = FileStore(path, fsync="never")
    assert raws(again) == [b"before", b"in the batch"] and again.next_target_seq == 5
    again.close()


# Two stores write one batch; the process kills itself after the journal and the first
# store's write, before the second's (the window a trade's two reports had).
KILLED_BETWEEN = r"""
import os, signal, sys
from pathlib import Path
from gateway.store import FileStore
from gateway.store_batch import StoreBatch, journal_path
paths = [Path(p) for p in sys.argv[1:3]]
batch = StoreBatch(journal_path(paths))
a, b = (FileStore(p, fsync=sys.argv[3], batch=batch) for p in paths)
a.save_sent(1, b"a1")
b.save_sent(1, b"b1")
batch.open = True
a.save_sent(2, b"buyer's fill")
b.save_sent(2, b"seller's fill")
batch.open = False
written = []
write_held = FileStore.write_held
def killed_second(store):
    if written:
        os.kill(os.getpid(), signal.SIGKILL)
    written.append(store)
    write_held(store)
FileStore.write_held = killed_second
batch.write()
"""


def kill_between(tmp_path: Path, fsync: str = "never") -> tuple[Path, Path]:
    a, b = tmp_path / "a.store", tmp_path / "b.store"
    proc = subprocess.run([sys.executable, "-c", KILLED_BETWEEN, str(a), str(b), fsync],
                          env=ENV, cwd=ROOT, check=False)
    assert proc.returncode == -9  # killed where the script says, not failed before
    return a, b


def test_a_kill_between_two_stores_writes_is_repaired_from_the_journal(tmp_path: Path) -> None:
    a_path, b_path = kill_between(tmp_path, "always")
    # without the journal, one half of the batch is on disk
    a, b = FileStore(a_path, fsync="never"), FileStore(b_path, fsync="never")
    assert (raws(a), raws(b)) == ([b"a1", b"buyer's fill"], [b"b1"])
    a.close()
    b.close()
    # a restart's stores open with the journal: the second store writes what it had not
    batch = StoreBatch(journal_path([a_path, b_path]))
    a, b = (FileStore(p, fsync="never", batch=batch) for p in (a_path, b_path))
    assert raws(a) == [b"a1", b"buyer's fill"]  # written already: not written twice
    assert raws(b) == [b"b1", b"seller's fill"] and b.next_sender_seq == 3
    size = b_path.stat().st_size
    b.save_sent(3, b"after the restart")  # and the store goes on from there
    assert b_path.stat().st_size > size
    a.close()
    b.close()


def test_a_journal_part_already_written_or_of_an_older_generation_is_left_alone(
        tmp_path: Path) -> None:
    a_path, b_path = kill_between(tmp_path)
    batch = StoreBatch(journal_path([a_path, b_path]))
    a, b = (FileStore(p, fsync="never", batch=batch) for p in (a_path, b_path))
    b.reset(b.creation_time.replace(year=2030))  # the seller's session starts over
    a.save_sent(3, b"later")
    a.close()
    b.close()
    sizes = [p.stat().st_size for p in (a_path, b_path)]
    # the journal still holds the killed batch: its parts match neither store now
    assert set(read_journal(journal_path([a_path, b_path]) or tmp_path)) == {
        os.path.abspath(a_path), os.path.abspath(b_path)}
    batch = StoreBatch(journal_path([a_path, b_path]))
    a, b = (FileStore(p, fsync="never", batch=batch) for p in (a_path, b_path))
    assert [p.stat().st_size for p in (a_path, b_path)] == sizes
    assert raws(a) == [b"a1", b"buyer's fill", b"later"] and raws(b) == []
    a.close()
    b.close()


def test_a_journal_part_is_not_written_into_a_new_generation_of_the_same_time(
        tmp_path: Path) -> None:
    a_path, b_path = kill_between(tmp_path)
    batch = StoreBatch(journal_path([a_path, b_path]))
    b = FileStore(b_path, fsync="never", batch=batch)
    assert raws(b) == [b"b1", b"seller's fill"]  # repaired at the open
    old = b.generation
    b.reset(b.creation_time)  # a reset at the very time the store was made (a stepped clock)
    b.save_sent(1, b"b1")  # the new file now ends exactly where the journal's part begins
    assert b.creation_time == datetime.fromisoformat(old.split(" ")[0])
    assert b.generation != old
    b.close()
    # the journal's part was for the old generation: not written into the new one
    b = FileStore(b_path, fsync="never", batch=StoreBatch(journal_path([a_path, b_path])))
    assert raws(b) == [b"b1"] and b.next_sender_seq == 2
    b.close()


def test_a_store_without_a_generation_token_is_named_by_its_time(tmp_path: Path) -> None:
    path = tmp_path / "old.store"
    store = FileStore(path, fsync="never", now=datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    store.save_sent(1, b"m1")
    store.close()
    # the creation record as a store made before the token wrote it: the time alone
    data = path.read_bytes()
    length = int.from_bytes(data[:4], "little")
    head = data[8:17]  # kind and seq, under the crc with the payload
    payload = b"2026-11-02T09:30:00+00:00"
    crc = zlib.crc32(payload, zlib.crc32(head))
    path.write_bytes(len(payload).to_bytes(4, "little") + crc.to_bytes(4, "little") + head
                     + payload + data[17 + length:])
    store = FileStore(path, fsync="never")
    assert store.generation == "2026-11-02T09:30:00+00:00"
    assert store.creation_time == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert raws(store) == [b"m1"]
    store.close()


def test_a_torn_journal_is_read_as_none(tmp_path: Path) -> None:
    a_path, b_path = kill_between(tmp_path)
    journal = journal_path([a_path, b_path])
    assert journal is not None and read_journal(journal)
    journal.write_bytes(journal.read_bytes()[:-3])
    assert read_journal(journal) == {}
    b = FileStore(b_path, fsync="never", batch=StoreBatch(journal))
    assert raws(b) == [b"b1"]  # nothing to repair from: left as it was
    b.close()


def full_disk(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """``os.write`` to the files at ``paths`` fails as on a full disk (ENOSPC)."""
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if any(p.exists() and os.path.samestat(os.fstat(fd), os.stat(p)) for p in paths):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_a_store_that_cannot_write_its_batch_is_closed_for_good(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = StoreBatch()
    path = tmp_path / "a.store"
    store = FileStore(path, fsync="interval", batch=batch)
    store.save_sent(1, b"on disk")
    batch.open = True
    store.save_sent(2, b"never on disk")
    batch.open = False
    full_disk(monkeypatch, path)
    batch.write()
    assert isinstance(store.failure, OSError) and store.failure.errno == errno.ENOSPC
    batch.write()
    assert store.failure is not None  # (it stays failed)
    assert store.next_sync() is None  # no fsync timer waits on a closed file
    with pytest.raises(StoreError, match="closed"):  # it does not go on without them
        store.save_sent(3, b"x")
    store.close()
    monkeypatch.undo()
    again = FileStore(path, fsync="never")
    assert raws(again) == [b"on disk"]
    again.close()


def test_a_store_that_failed_after_the_journal_is_repaired_at_the_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [tmp_path / f"{name}.store" for name in "abc"]
    batch = StoreBatch(journal_path(paths))
    a, b, c = (FileStore(p, fsync="never", batch=batch) for p in paths)
    batch.open = True
    a.save_sent(1, b"buyer's fill")
    b.save_sent(1, b"seller's fill")
    batch.open = False
    with monkeypatch.context() as patch:
        full_disk(patch, paths[1])  # b alone cannot write (say, a quota)
        batch.write()
        assert (a.failure, c.failure) == (None, None) and b.failure is not None
    # later batches of several stores do not overwrite the journal b is repaired from
    batch.open = True
    a.save_sent(2, b"later")
    c.save_sent(1, b"later")
    batch.open = False
    batch.write()
    assert (a.failure, c.failure) == (None, None)
    for store in (a, b, c):
        store.close()
    batch = StoreBatch(journal_path(paths))
    a, b, c = (FileStore(p, fsync="never", batch=batch) for p in paths)
    assert (raws(a), raws(b), raws(c)) == ([b"buyer's fill", b"later"], [b"seller's fill"],
                                           [b"later"])
    for store in (a, b, c):
        store.close()


# -- through an engine's sessions ------------------------------------------------------------

def echo_session(path: Path, theirs: str, fsync: FsyncPolicy) -> SessionConfig:
    return SessionConfig("FIX.4.4", "ISLD", theirs, role="acceptor", application="echo",
                         store=StoreConfig(kind="file", path=path, fsync=fsync))


async def connect(engine: Engine, peer: Peer
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
    writer.write(peer.logon())
    assert b"\x0135=A\x01" in await asyncio.wait_for(reader.read(65536), 10)
    return reader, writer


def order(peer: Peer, cl: str) -> bytes:
    return peer.msg(f"35=D|11={cl}|21=1|38=100|40=1|54=1|55=IBM|60=20261125-12:00:00")


def test_an_order_and_its_echo_cost_one_write_and_one_fsync_always(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The echo's record and the order's inbound number are one batch: one write, and with
    # fsync always one fsync (a record each had been two of both), before the echo is sent.
    path = tmp_path / "tw.store"
    sessions = (echo_session(path, "TW", "always"),)
    config = GatewayConfig(tmp_path / "gw.yaml", sessions, AcceptorConfig("127.0.0.1", 0))
    spy = DiskSpy(monkeypatch, path)

    async def scenario() -> list[str]:
        engine = Engine(config, Dispatcher(config), run_dir=tmp_path)
        await engine.start()
        peer = Peer()
        try:
            reader, writer = await connect(engine, peer)
            spy.ops.clear()
            writer.write(order(peer, "C1"))
            echo = await asyncio.wait_for(reader.read(65536), 10)
            assert b"\x0111=C1\x01" in echo
            ops = list(spy.ops)  # what happened before the echo arrived
            writer.close()
            return ops
        finally:
            await engine.stop()

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == ["write", "fsync"]


def test_a_session_whose_store_cannot_write_ends_and_the_others_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = (echo_session(tmp_path / "a.store", "A", "never"),
                echo_session(tmp_path / "b.store", "B", "never"))
    config = GatewayConfig(tmp_path / "gw.yaml", sessions, AcceptorConfig("127.0.0.1", 0))

    async def scenario() -> None:
        engine = Engine(config, Dispatcher(config), run_dir=tmp_path)
        await engine.start()
        a, b = Peer(sender="A"), Peer(sender="B")
        try:
            (a_in, a_out), (b_in, b_out) = await connect(engine, a), await connect(engine, b)
            broken = engine.runner("A")
            full_disk(monkeypatch, tmp_path / "a.store")
            a_out.write(order(a, "LOST"))
            rest = b""
            while chunk := await asyncio.wait_for(a_in.read(65536), 10):
                rest += chunk
            assert b"LOST" not in rest  # never persisted, so never sent
            # nor logged: the message log holds what came in, and only what was stored of
            # what goes out (stored, then logged, then sent: a line of a message not stored
            # would be one whose number a restart uses again)
            lines = broken.log.messages_path.read_bytes().splitlines()
            lost = [line for line in lines if b"\x0111=LOST\x01" in line]
            assert len(lost) == 1 and b"\x0149=A\x01" in lost[0], lost  # the order, in
            events = broken.log.events_path.read_text()
            assert "store write failed, its messages not sent, disconnecting" in events
            b_out.write(order(b, "KEPT"))
            assert b"\x0111=KEPT\x01" in await asyncio.wait_for(b_in.read(65536), 10)
            # A cannot log on again: nothing it would be sent could be stored
            a_in, a_out = await asyncio.open_connection("127.0.0.1", engine.port)
            a_out.write(Peer(sender="A").logon())
            assert await asyncio.wait_for(a_in.read(65536), 10) == b""
            assert "connection refused until a restart" in broken.log.events_path.read_text()
            a_out.close()
            b_out.close()
        finally:
            await engine.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))


class Broadcaster:
    """A test application: when a session logs out, and when the engine winds down before
    a stop, it sends a News to each other logged-on session (what the venue does to other
    sessions then: its algos' trades, the cancels of a wind-down)."""

    def __init__(self, config: GatewayConfig) -> None:
        self.engine: Engine | None = None

    def bind(self, engine: Engine) -> None:
        self.engine = engine

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return frozenset()

    def on_logon(self, session: object, now: datetime) -> None:
        pass

    def on_message(self, session: object, message: Message, now: datetime) -> None:
        pass

    def _tell_others(self, headline: str, leaving: object = None) -> None:
        assert self.engine is not None
        for runner in self.engine.runners.values():
            if runner is not leaving and runner.logged_on:
                news = Message("B")
                news.body.set(148, headline)
                runner.send(news)

    def on_logout(self, session: object, now: datetime) -> None:
        self._tell_others("a session logged out", leaving=session)

    def wind_down(self, now: datetime) -> Callable[[], bool]:
        self._tell_others("winding down")
        return lambda: True


@pytest.mark.parametrize("moment", ["logout", "wind down"])
def test_what_a_logout_or_a_wind_down_sends_to_other_sessions_is_journaled(
        tmp_path: Path, moment: str) -> None:
    # Outside any input's handling, the application writes to several stores at once: one
    # batch, journaled, so a crash between two of those writes loses neither.
    names = ("A", "B", "C")
    sessions = tuple(SessionConfig(
        "FIX.4.4", "ISLD", name, role="acceptor",
        application="tests.test_store_batch:Broadcaster",
        store=StoreConfig(kind="file", path=tmp_path / f"{name.lower()}.store", fsync="never"))
        for name in names)
    config = GatewayConfig(tmp_path / "gw.yaml", sessions, AcceptorConfig("127.0.0.1", 0))
    journal = journal_path([s.store.path for s in sessions if s.store.path is not None])
    assert journal is not None

    async def scenario() -> None:
        engine = Engine(config, Dispatcher(config), run_dir=tmp_path)
        await engine.start()
        peers = [Peer(sender=name) for name in names]
        links = [await connect(engine, peer) for peer in peers]
        stopped = False
        try:
            assert read_journal(journal) == {}  # each logon was one store's batch
            if moment == "logout":
                links[0][1].close()  # A's connection ends: B and C hear of it
                for reader, _ in links[1:]:
                    assert b"148=a session logged out" in await asyncio.wait_for(
                        reader.read(65536), 10)
                expected = {"b.store", "c.store"}
            else:
                stop = asyncio.create_task(engine.stop())
                stopped = True
                for reader, _ in links:
                    assert b"148=winding down" in await asyncio.wait_for(
                        reader.read(65536), 10)
                for peer, (_, writer) in zip(peers, links, strict=True):
                    writer.write(peer.msg("35=5"))  # the Logouts the stop waits for
                await stop
                expected = {"a.store", "b.store", "c.store"}
            parts = read_journal(journal)
            assert {Path(p).name for p in parts} == expected
        finally:
            for _, writer in links:
                writer.close()
            if not stopped:
                await engine.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
