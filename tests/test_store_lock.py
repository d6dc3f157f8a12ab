"""One writer per store: a FileStore locks its file before reading it, until it is closed.

Regression: nothing stopped two ``gateway run`` with one ``--run-dir`` (on two ports) from
both appending to the same stores, and a second instance recovered, and so could truncate,
a store the first was writing, before failing on its port. The holders here are real
processes; the lock must go with them when they are SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.store import FileStore, StoreInUseError, peek_store
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)

HOLDER = """\
import sys
from gateway.store import FileStore
store = FileStore(sys.argv[1], fsync="never")
for seq in range(store.next_sender_seq, store.next_sender_seq + 2):
    store.save_sent(seq, b"sent by the holder")
store.set_next_target_seq(7)
print("ready", flush=True)
sys.stdin.read()  # hold the store until the test closes our stdin (or kills us)
store.close()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that has opened ``tmp_path/s.store``, written to it, and keeps it open."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "s.store")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def half_written(tmp_path: Path) -> Path:
    """The holder's store with a record it is in the middle of writing at its end."""
    path = tmp_path / "s.store"
    with path.open("ab") as f:
        f.write(FileStore._record(1, 3, b"half written")[:9])
    return path


def test_a_store_held_by_another_process_is_refused_untouched(
        tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    # What the holder could be in the middle of: a record half written, a reset's new file.
    path = half_written(tmp_path)
    (tmp_path / "s.store.new").write_bytes(b"a reset under way")
    before = path.read_bytes()
    with pytest.raises(StoreInUseError) as info:
        FileStore(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert f"in use by another process (pid {holder.pid})" in message
    assert info.value.holder == holder.pid
    assert isinstance(info.value, OSError)  # what the CLI reports as one line, exit 2
    assert path.read_bytes() == before  # the torn-looking tail was not cut off
    assert (tmp_path / "s.store.new").exists()  # nor the holder's reset file deleted


def test_a_store_opens_again_once_its_holder_is_sigkilled(
        tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    assert holder.wait() == -signal.SIGKILL
    store = FileStore(tmp_path / "s.store")
    assert (store.next_sender_seq, store.next_target_seq) == (3, 7)
    assert [m.raw for m in store.sent(1, 2)] == [b"sent by the holder"] * 2
    store.close()


def test_a_store_opens_again_once_its_holder_closes_it(
        tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.communicate("")  # EOF on stdin: the holder closes the store and exits
    assert holder.returncode == 0
    store = FileStore(tmp_path / "s.store")
    assert store.next_sender_seq == 3
    store.close()


def test_peek_reads_a_held_store_without_changing_it(
        tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    path = half_written(tmp_path)
    before = path.read_bytes()
    state = peek_store(path)
    assert (state.next_sender_seq, state.next_target_seq) == (3, 7)
    assert path.read_bytes() == before


def test_a_second_opener_in_the_same_process_is_refused_until_close(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    first = FileStore(path, now=T0)
    first.save_sent(1, b"one")
    with pytest.raises(StoreInUseError, match=f"already open in this process \\(pid "
                                              f"{os.getpid()}\\)"):
        FileStore(path)
    first.save_sent(2, b"two")  # the refused opener did not disturb the holder
    first.close()
    again = FileStore(path)
    assert [m.raw for m in again.sent(1, 2)] == [b"one", b"two"]
    again.close()


def test_the_lock_holds_across_a_reset(tmp_path: Path) -> None:
    # A reset replaces the store file with a new one: the lock must not stay on the old one.
    path = tmp_path / "s.store"
    store = FileStore(path, now=T0)
    store.save_sent(1, b"one")
    store.reset(T0)
    with pytest.raises(StoreInUseError):
        FileStore(path)
    proc = subprocess.run([sys.executable, "-c", "import sys\nfrom gateway.store import "
                           "FileStore\nFileStore(sys.argv[1])", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode != 0 and "StoreInUseError" in proc.stderr, proc.stderr
    store.close()


def test_an_open_that_fails_after_locking_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    path.mkdir()  # something in the way: the store cannot be read
    with pytest.raises(IsADirectoryError):
        FileStore(path)
    path.rmdir()
    FileStore(path).close()  # not "in use": the failed attempt let go of the lock


GATEWAY = """\
acceptor: {host: 127.0.0.1, port: 0}
sessions:
  - {begin_string: FIX.4.4, sender_comp_id: ISLD, target_comp_id: TW,
     application: echo, store: {kind: file, fsync: never}}
"""


def test_a_second_gateway_on_the_same_run_dir_exits_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(textwrap.dedent(GATEWAY))
    run_dir = tmp_path / "run"
    store = run_dir / "store" / "FIX.4.4-ISLD-TW.store"
    first, _ = start_gateway(config, run_dir)
    try:
        before = store.read_bytes()
        second = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "run", str(config), "--port", "0",
             "--run-dir", str(run_dir)],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert second.returncode == 2
        assert "listening on" not in second.stdout
        err = second.stderr.strip().splitlines()
        assert len(err) == 1, second.stderr  # no traceback
        assert err[0].startswith(f"gateway: error: {store}: "), err
        assert f"in use by another process (pid {first.pid})" in err[0]
        assert store.read_bytes() == before
        assert first.poll() is None  # the first gateway runs on
    finally:
        assert stop_gateway(first) == 0
    # and once the first has stopped, the run directory is free again
    again, _ = start_gateway(config, run_dir)
    assert stop_gateway(again) == 0


def test_an_engine_that_cannot_open_a_store_releases_the_ones_it_opened(
        tmp_path: Path) -> None:
    """Session B's store is held elsewhere: an engine of A and B fails on B and must not keep
    A's store locked (a later engine of A alone opens it)."""
    from gateway.apps import Dispatcher
    from gateway.config import load_config
    from gateway.transport import Engine

    def engine(*targets: str) -> Engine:
        text = "acceptor: {port: 0}\nsessions:\n" + "".join(
            f"  - {{begin_string: FIX.4.4, sender_comp_id: S, target_comp_id: {t}, "
            "application: echo}\n" for t in targets)
        path = tmp_path / f"{''.join(targets)}.yaml"
        path.write_text(text)
        cfg = load_config(path)
        return Engine(cfg, Dispatcher(cfg), run_dir=tmp_path / "run")

    holder = engine("B")
    with pytest.raises(StoreInUseError):
        engine("A", "B")
    engine("A").close()  # A's store is free
    holder.close()
