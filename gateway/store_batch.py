"""The records of several file stores written as one: what a batch wrote, journaled first.

While an engine handles one read's input or one timer (:class:`gateway.session_runner.
OutputBatch`), what it sends in any session is numbered and kept by that session's
:class:`~gateway.store.FileStore`, whose records wait while the batch is :attr:`StoreBatch.open`.
At the batch's end, after the log lines of what came in and before those of what goes out
and any of its bytes reach a socket (persist, then log and transmit: DESIGN.md's order, the
log on the transmit side), :meth:`StoreBatch.write`:

1. when more than one store has records waiting, writes one journal record naming them all
   (each store's path and generation, the file offset its records start at, and the records)
   over the previous one, with one write, fsynced if any of those stores fsyncs ``always``;
2. has each store write its records with one write, then fsync as its policy says (one
   fsync a batch for ``always``, where it was one a record).

A crash between two stores' writes (a venue's trade reported to the buyer's session and not
yet to the seller's; an algo gateway's parent fill stored for the client while the child's
report is not committed) would otherwise leave the one half without the other. The journal
has the rest: a :class:`~gateway.store.FileStore` opening finds its part in the journal
(:meth:`StoreBatch.part`) and writes it when its file ends where the part begins (the write
never came) or inside it (cut short). A part whose store has moved on, a longer file or a new
generation after a sequence reset, was written and is left alone: the journal holds the last
write of several stores, which may be long done. That covers a process that dies (kill -9);
a power loss only under ``always``, the one policy that fsyncs the journal before the
stores (under ``interval`` a store's timed fsync may keep its half while the journal's is
lost). A store whose write fails is closed for good (:meth:`FileStore.fail_held`) and the
journal record holding its part is kept from then on (later writes go unjournaled), so a
restart writes that part.

The journal is a file beside the engine's first file store, by path (``STORE.journal``),
which that store's lock keeps to one gateway. A crash followed by a restart with a
configuration that no longer has that store first loses the journal's repair.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.store import fsync_dir

if TYPE_CHECKING:
    from gateway.store import FileStore

__all__ = ["JournalPart", "StoreBatch", "journal_path", "read_journal"]

_HEAD = struct.Struct("<II")  # payload length, crc32 of the payload
_PART = struct.Struct("<HHQI")  # path length, generation length, file offset, data length


@dataclass(frozen=True, slots=True)
class JournalPart:
    """What one store was to write at the end of the journaled batch."""

    generation: str  # the store file's generation (FileStore.generation)
    offset: int  # where the store's file ended before the batch's records
    data: bytes  # the records, as the store writes them


def journal_path(store_paths: list[Path]) -> Path | None:
    """Where the journal of an engine with file stores at ``store_paths`` lives (None:
    no file store, nothing to journal)."""
    if not store_paths:
        return None
    first = min(os.path.abspath(p) for p in store_paths)
    return Path(first + ".journal")


def read_journal(path: Path) -> dict[str, JournalPart]:
    """The parts of the journal at ``path`` by absolute store path; none if there is no
    journal or its record is torn (then no store was written after it: see the module)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    if len(data) < _HEAD.size:
        return {}
    length, crc = _HEAD.unpack_from(data)
    payload = data[_HEAD.size:_HEAD.size + length]
    if len(payload) != length or zlib.crc32(payload) != crc:
        return {}
    parts: dict[str, JournalPart] = {}
    pos = 0
    while pos < length:
        path_len, gen_len, offset, data_len = _PART.unpack_from(payload, pos)
        pos += _PART.size
        store = os.fsdecode(payload[pos:pos + path_len])
        pos += path_len
        generation = payload[pos:pos + gen_len].decode()
        pos += gen_len
        parts[store] = JournalPart(generation, offset, payload[pos:pos + data_len])
        pos += data_len
    return parts


class StoreBatch:
    """The file stores holding records while a batch is open, and the journal that ties
    their writes together (see the module docstring)."""

    def __init__(self, journal: Path | None = None) -> None:
        self.journal = journal
        #: set by the output batch: file stores hold their records while it is
        self.open = False
        self._held: list[FileStore] = []
        self._parts = read_journal(journal) if journal is not None else {}
        self._fd = -1
        # a store failed after the journal was written: its record is what a restart
        # repairs that store from, so it is kept (later batches go unjournaled)
        self._pinned = False

    def part(self, store: Path) -> JournalPart | None:
        """The journal's part for the store at ``store``, handed out once (a store opening)."""
        return self._parts.pop(os.path.abspath(store), None)

    def hold(self, store: FileStore) -> None:
        """``store`` has started holding records (FileStore, as the batch's first one comes)."""
        self._held.append(store)

    def write(self) -> None:
        """Write every held store's records (journaled first when there are several). A
        store that cannot is closed for good, with its :attr:`~gateway.store.MessageStore.
        failure` set (its records are not on disk, so its session must not send them); the
        others have written theirs."""
        held, self._held = self._held, []
        # (a store reset during the batch wrote its records then, and may hold again)
        waiting = list(dict.fromkeys(s for s in held if s.holds))
        if not waiting:
            return
        journaled = len(waiting) > 1 and self.journal is not None and not self._pinned
        if journaled:
            try:
                self._write_journal(waiting)
            except Exception as exc:  # a full disk: the stores cannot write either
                for store in waiting:
                    store.fail_held(exc)
                return
        failed = False
        for store in waiting:
            try:
                store.write_held()
            except Exception:  # (its failure is on the store: fail_held)
                failed = True
        self._pinned |= journaled and failed

    def _write_journal(self, stores: list[FileStore]) -> None:
        chunks: list[bytes] = []
        for store in stores:
            at, data = store.held_records()
            name = os.fsencode(os.path.abspath(store.path))
            generation = store.generation.encode()
            chunks += (_PART.pack(len(name), len(generation), at, len(data)), name, generation,
                       data)
        payload = b"".join(chunks)
        record = _HEAD.pack(len(payload), zlib.crc32(payload)) + payload
        assert self.journal is not None
        created = self._fd < 0
        if created:
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if os.pwrite(self._fd, record, 0) != len(record):
            raise OSError(f"{self.journal}: short write")
        if any(store.fsync == "always" for store in stores):
            os.fsync(self._fd)
            if created:  # the file's name too, or a power loss could take the file
                fsync_dir(self.journal.parent)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
