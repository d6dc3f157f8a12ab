"""File store paths no other test walks: held records at a reset and at a close, a corrupt
journal, a journal that cannot be written."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.store import FileStore, StoreError
from gateway.store_batch import StoreBatch, journal_path, read_journal

T0 = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 1, 3, 9, 30, tzinfo=UTC)


def raws(store: FileStore) -> list[bytes]:
    return [m.raw for m in store.sent(1, store.next_sender_seq - 1)]


def _two_stores_mid_batch(tmp_path: Path
                          ) -> tuple[list[Path], Path, StoreBatch, FileStore, FileStore]:
    """Stores a and b sharing a journaled batch, one message each written, and a fill each
    saved in a batch still open: (paths, journal, batch, a, b)."""
    paths = [tmp_path / "a.store", tmp_path / "b.store"]
    journal = journal_path(paths)
    assert journal is not None
    batch = StoreBatch(journal)
    a, b = (FileStore(p, fsync="never", now=T0, batch=batch) for p in paths)
    a.save_sent(1, b"a1")
    b.save_sent(1, b"b1")
    batch.open = True
    a.save_sent(2, b"buyer's fill")
    b.save_sent(2, b"seller's fill")
    return paths, journal, batch, a, b


def test_a_reset_inside_a_batch_leaves_the_old_generation_behind(tmp_path: Path) -> None:
    """A Logon with 141=Y read together with messages the session stored: the reset starts
    a new generation, and the records the batch held for the old one do not come back in
    it (numbers 1/1, nothing to resend), not at the batch's end nor after a restart."""
    path = tmp_path / "a.store"
    batch = StoreBatch()
    store = FileStore(path, fsync="never", now=T0, batch=batch)
    batch.open = True
    store.save_sent(1, b"old 1")
    store.save_sent(2, b"old 2")
    store.set_next_target_seq(4)
    store.reset(T1)
    batch.open = False
    batch.write()
    assert store.failure is None
    assert (store.next_sender_seq, store.next_target_seq, raws(store)) == (1, 1, [])
    store.close()
    again = FileStore(path, fsync="never")
    assert (again.next_sender_seq, again.next_target_seq) == (1, 1)
    assert list(again.sent(1, 10)) == [] and again.creation_time == T1
    again.close()


def test_a_store_closed_inside_a_batch_writes_what_it_held(tmp_path: Path) -> None:
    """A session closed while its batch is open (a shutdown mid-read): the records it held
    are written by the close, so a restart resumes at the numbers it had reached."""
    path = tmp_path / "a.store"
    batch = StoreBatch()
    store = FileStore(path, fsync="never", now=T0, batch=batch)
    batch.open = True
    store.save_sent(1, b"sent in the batch")
    store.set_next_target_seq(5)
    store.close()
    again = FileStore(path, fsync="never")
    assert (again.next_sender_seq, again.next_target_seq) == (2, 5)
    assert raws(again) == [b"sent in the batch"]
    again.close()


def test_a_journal_that_fails_its_crc_repairs_nothing(tmp_path: Path) -> None:
    """A crash between two stores' writes, and a journal damaged since (one byte of the
    unwritten store's message): the journal is read as none, and the store is left as the
    crash left it rather than given the damaged bytes as a "repair"."""
    paths, journal, batch, a, b = _two_stores_mid_batch(tmp_path)
    b.set_next_target_seq(7)
    batch.open = False
    batch.write()
    for closing in (a, b, batch):
        closing.close()
    part = read_journal(journal)[os.path.abspath(paths[1])]
    with paths[1].open("r+b") as f:  # b's write never came (a kill between the two)
        f.truncate(part.offset)
    left = paths[1].read_bytes()
    damaged = bytearray(journal.read_bytes())
    # the last byte of "seller's fill", before b's 17-byte target record at the end
    assert damaged[-18:-17] == b"l"
    damaged[-18] ^= 0x20
    journal.write_bytes(bytes(damaged))
    assert read_journal(journal) == {}
    b = FileStore(paths[1], fsync="never", batch=StoreBatch(journal))
    assert b.repairs == []
    assert (raws(b), b.next_sender_seq, b.next_target_seq) == ([b"b1"], 2, 1)
    b.close()
    assert paths[1].read_bytes() == left


def test_stores_whose_journal_cannot_be_written_fail_and_write_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of two stores whose journal write fails (a full disk): neither store writes
    its records, both are failed (their sessions must not send), and a restart finds what
    was on disk before the batch."""
    paths, journal, batch, a, b = _two_stores_mid_batch(tmp_path)
    batch.open = False
    real_pwrite = os.pwrite

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        if journal.exists() and os.path.samestat(os.fstat(fd), os.stat(journal)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    with monkeypatch.context() as patch:
        patch.setattr(os, "pwrite", pwrite)
        batch.write()
    for store in (a, b):
        assert isinstance(store.failure, OSError) and store.failure.errno == errno.ENOSPC
        assert not store.holds
        with pytest.raises(StoreError, match="closed"):
            store.save_sent(3, b"x")
    for closing in (a, b, batch):
        closing.close()
    a, b = (FileStore(p, fsync="never", batch=StoreBatch(journal)) for p in paths)
    assert (raws(a), raws(b)) == ([b"a1"], [b"b1"])
    a.close()
    b.close()
