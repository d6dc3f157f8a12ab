"""Message stores: sequence numbers and sent messages, in memory or durable on disk.

The session follows DESIGN.md's outbound order: allocate the next sequence number
(:attr:`MessageStore.next_sender_seq`), persist the encoded message with :meth:`save_sent`
(which also advances the sender sequence number), then transmit. Inbound, the session calls
:meth:`set_next_target_seq` once a message has been processed.

Durability of :class:`FileStore` (tested by killing a writer with SIGKILL many times):

* Every change is one record appended to an ``O_APPEND`` file:
  ``length u32 | crc32 u32 | kind u8 | seq u64 | payload``, with a single ``write``, or,
  while the engine's :class:`~gateway.store_batch.StoreBatch` is open (one read's input or
  one timer being handled), with the batch's other records in one ``write`` at its end,
  before any of its messages is sent (journaled first when several stores wrote, so a
  crash never keeps one store's half of a batch without the other's: see that module). A
  record is in the kernel's page cache when the call returns, so it survives the death of
  the process at any point after it; one that waits for its batch's end belongs to messages
  not sent yet. A torn record (power loss mid-write) fails its length or CRC check on open
  and is cut off with everything after it; no earlier record is affected.
* ``fsync`` decides what survives power loss or a kernel crash:
  ``"always"`` fsyncs every write before returning, a batch's records in one (nothing
  acknowledged is ever lost);
  ``"interval"`` fsyncs every record within ``fsync_interval`` seconds of its write, busy or
  quiet, so a host crash loses at most the records of the last ``fsync_interval`` seconds;
  ``"never"`` leaves it to the OS (a host crash may lose anything the kernel had not written).
* ``"interval"`` in detail: a write fsyncs at once when ``fsync_interval`` has passed since
  the last fsync (a steady flow costs one fsync an interval, none per message); otherwise
  the record waits, and :meth:`MessageStore.next_sync` says when the oldest waiting record
  falls due. Whoever drives the store (:class:`~gateway.session_runner.SessionRunner`, by an
  event-loop timer) calls :meth:`MessageStore.sync_if_due` then, so records written just
  before a quiet spell are not left unsynced for as long as it lasts (a loop blocked past the
  deadline delays that fsync by as long). :meth:`close` fsyncs whatever is still waiting
  (unless ``"never"``).
* Since a message is persisted before it is sent, a restart never reuses a sequence number
  that reached the wire and can resend every message sent before the crash. A number that was
  allocated but not saved was never sent, so reusing it is correct.
* The inbound sequence number is saved after processing: a crash between processing and
  saving makes the session ask for that message again, which arrives as a PossDup; the
  application's duplicate checks (ClOrdID) make that safe, as in QuickFIX.
* :meth:`reset` starts a new file generation (write a new file, then ``rename`` over the old
  one), so a crash during a reset leaves either the old session or the new one, never a mix.
  The messages it carries over (:meth:`MessageStore.carried`) are written into the new file
  before the rename, so they are there exactly when the new generation is.
* Each generation is named by its creation record: the creation time and a random token
  (:attr:`FileStore.generation`). The batch journal says which generation its records were
  for, and the token keeps two generations apart even when a reset's time equals the one
  before (a clock stepped back, or a frozen test clock). A store written before the token
  was added is named by its time alone, as the journals of that time name it.

Memory: the messages stay in the file; the store keeps where each one is (16 bytes a message,
:class:`_SentIndex`), and recovery reads the file through a read-only memory mapping rather
than into memory (``python bench/bench_store.py``: 200,000 messages, a 61 MB store, 3.4 MB
held after opening and no higher while it opens; a dict index had kept 39 MB, and reading
the file whole had peaked at 100).

One writer only: a :class:`FileStore` holds an exclusive ``flock`` on ``PATH.lock`` (beside
the store, holding the holder's pid) from before it reads anything until :meth:`close`. A
second opener, in another process or in the same one, gets :class:`StoreInUseError` and has
not read, truncated or deleted anything: two gateways sharing a run directory would otherwise
interleave their records, and the second one's recovery could cut off a record the first is
writing. The kernel drops the lock when the holder dies, SIGKILL included, so no stale lock
is ever left to clean up. The lock is on its own file rather than the store because
:meth:`reset` replaces the store file (a new inode); the lock file is never deleted, since
deleting it would let two openers lock two different files of the same name.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import re
import struct
import time
import zlib
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gateway.store_batch import JournalPart, StoreBatch

FsyncPolicy = Literal["always", "interval", "never"]


class StoreError(Exception):
    """The store cannot do what was asked (closed, bad sequence number, corrupt beyond repair)."""


class NotAStoreError(StoreError, OSError):
    """The path names a file that is not a message store (a store.path that names another
    file): refused, the file untouched. An :class:`OSError` too, for the CLI's one line."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: not a message store (it does not start with a store's "
                         "creation record); refusing to open or change it")


class StoreInUseError(StoreError, OSError):
    """Another :class:`FileStore` holds the store's lock (see the module docstring).

    An :class:`OSError` too (the store is a busy resource, like a port in use), so the CLI
    reports it as one ``gateway: error: ...`` line with exit status 2."""

    def __init__(self, path: Path, holder: int | None) -> None:
        if holder == os.getpid():
            who = (f"already open in this process (pid {holder}): two sessions share this path"
                   " or an earlier opener did not close it")
        else:
            pid = f" (pid {holder})" if holder is not None else ""
            who = (f"in use by another process{pid}: each gateway needs its own run directory"
                   " and each session its own store path")
        super().__init__(f"{path}: message store is {who}")
        self.path = path
        self.holder = holder


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    raw: bytes


class MessageStore(ABC):
    """Sequence numbers and sent messages of one session."""

    #: why the store stopped writing (a file store whose batch could not be written, see
    #: :meth:`FileStore.fail_held`); None while it works
    failure: BaseException | None = None

    @property
    @abstractmethod
    def next_sender_seq(self) -> int:
        """The sequence number the next outbound message gets."""

    @property
    @abstractmethod
    def next_target_seq(self) -> int:
        """The sequence number expected on the next inbound message."""

    @property
    @abstractmethod
    def creation_time(self) -> datetime:
        """When the session's sequence numbers were last reset (UTC)."""

    @abstractmethod
    def save_sent(self, seq: int, raw: bytes) -> None:
        """Persist outbound message ``seq`` and make ``seq + 1`` the next sender number.

        ``seq`` must be :attr:`next_sender_seq`; anything else raises :class:`StoreError`.
        """

    @abstractmethod
    def set_next_sender_seq(self, seq: int) -> None:
        """Set the next outbound number (SequenceReset, ResetSeqNumFlag)."""

    @abstractmethod
    def set_next_target_seq(self, seq: int) -> None:
        """Set the next expected inbound number."""

    @abstractmethod
    def sent(self, begin: int, end: int) -> Iterator[StoredMessage]:
        """Stored outbound messages with ``begin <= seq <= end``, in order (for resends)."""

    def sent_raw(self, seq: int | None) -> bytes | None:
        """The message sent as MsgSeqNum ``seq``, if stored (what a peer's Reject or
        BusinessMessageReject names by RefSeqNum)."""
        if seq is None or not 0 < seq < self.next_sender_seq:
            return None
        for stored in self.sent(seq, seq):
            return stored.raw
        return None

    @abstractmethod
    def reset(self, now: datetime, carry: Sequence[bytes] = ()) -> None:
        """Forget every message; both sequence numbers back to 1; creation time ``now``.

        ``carry``: messages of earlier periods the application still needs after the reset
        (a venue's last report of each order still open); they are not sent messages of the
        new period (never resent) and come back from :meth:`carried`, durably as the rest."""

    @abstractmethod
    def carried(self) -> list[bytes]:
        """The messages the last :meth:`reset` carried over (none for a new store)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the store is unusable afterwards."""

    def next_sync(self) -> float | None:
        """Seconds until :meth:`sync_if_due` must run (0.0 once it is due); None while no
        record is waiting for an fsync. Only a store that defers its fsyncs has any."""
        return None

    def sync_if_due(self) -> bool:
        """Fsync the records waiting for it if the oldest has waited its interval; whether
        it did. Cheap when nothing is due: call it whenever :meth:`next_sync` has passed."""
        return False

    def _check_next(self, seq: int) -> None:
        if seq != self.next_sender_seq:
            raise StoreError(f"save_sent({seq}) but the next sender sequence number is "
                             f"{self.next_sender_seq}")

    @staticmethod
    def _check_seq(seq: int) -> None:
        if seq < 1:
            raise StoreError(f"sequence number must be >= 1, got {seq}")


class MemoryStore(MessageStore):
    """Everything in memory: for tests, backtests and sessions that reset on every logon."""

    def __init__(self, now: datetime | None = None) -> None:
        self._messages: dict[int, bytes] = {}
        self._carried: list[bytes] = []
        self._sender = 1
        self._target = 1
        self._created = now or datetime(1970, 1, 1, tzinfo=UTC)

    @property
    def next_sender_seq(self) -> int:
        return self._sender

    @property
    def next_target_seq(self) -> int:
        return self._target

    @property
    def creation_time(self) -> datetime:
        return self._created

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._check_next(seq)
        self._messages[seq] = bytes(raw)
        self._sender = seq + 1

    def set_next_sender_seq(self, seq: int) -> None:
        self._check_seq(seq)
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        self._check_seq(seq)
        self._target = seq

    def sent(self, begin: int, end: int) -> Iterator[StoredMessage]:
        for seq in range(max(begin, 1), min(end, self._sender - 1) + 1):
            raw = self._messages.get(seq)
            if raw is not None:
                yield StoredMessage(seq, raw)

    def reset(self, now: datetime, carry: Sequence[bytes] = ()) -> None:
        self._messages.clear()
        self._carried = [bytes(m) for m in carry]
        self._sender = self._target = 1
        self._created = now

    def carried(self) -> list[bytes]:
        return list(self._carried)


_HEAD = struct.Struct("<IIBQ")  # payload length, crc32 of kind+seq+payload, kind, seq
_SENT, _SENDER, _TARGET, _CREATED, _CARRIED = 1, 2, 3, 4, 5
_MAX_RECORD = 64 * 1024 * 1024


#: A forward jump of the sender number longer than this (and than the run so far) starts a
#: new run in :class:`_SentIndex` rather than filling the gap.
_MAX_GAP = 1 << 16


class _SentIndex:
    """Where each stored message is in the file: seq -> (payload offset, length).

    A session numbers its messages one after another, so the index is a run of sequence
    numbers from ``base`` kept in two int64 arrays (-1 for a number with no message): 16
    bytes a message, where a dict of tuples took about 200 and a busy session's day of
    messages grew the process by hundreds of MB. Numbers outside the run (before it, after a
    SequenceReset set the sender back, or far beyond it after a long jump, which starts a new
    run) are kept in a dict."""

    __slots__ = ("base", "lengths", "offsets", "other")

    def __init__(self) -> None:
        self.base = 0
        self.offsets = array("q")
        self.lengths = array("q")
        self.other: dict[int, tuple[int, int]] = {}

    def put(self, seq: int, offset: int, length: int) -> None:
        n = len(self.offsets)
        i = seq - self.base
        if n and i > n + max(n, _MAX_GAP):  # a long jump: keep the run, start another
            for k in range(n):
                if self.offsets[k] >= 0:
                    self.other[self.base + k] = (self.offsets[k], self.lengths[k])
            self.offsets, self.lengths, n = array("q"), array("q"), 0
        if not n:
            self.base, i = seq, 0
        if 0 <= i < n:
            self.offsets[i], self.lengths[i] = offset, length
        elif i >= n:
            gap = i - n
            if gap:
                self.offsets.extend([-1] * gap)
                self.lengths.extend([-1] * gap)
            self.offsets.append(offset)
            self.lengths.append(length)
        else:
            self.other[seq] = (offset, length)
            return
        self.other.pop(seq, None)  # an older copy kept outside the run is replaced

    def spans(self, first: int, last: int) -> Iterator[tuple[int, int, int]]:
        """(seq, offset, length) of each message with ``first <= seq <= last``, in order."""
        offsets, lengths, base = self.offsets, self.lengths, self.base
        lo, hi = max(first, base), min(last, base + len(offsets) - 1)
        outside = sorted(q for q in self.other if first <= q <= last) if self.other else []
        k = 0
        for seq in range(lo, hi + 1):
            while k < len(outside) and outside[k] < seq:
                yield outside[k], *self.other[outside[k]]
                k += 1
            offset = offsets[seq - base]
            if offset >= 0:
                yield seq, offset, lengths[seq - base]
        for q in outside[k:]:
            yield q, *self.other[q]


@dataclass(slots=True)
class _Log:
    """What a record log says: the state its intact records add up to."""

    created: datetime
    generation: str = ""  # the creation record's text (see FileStore.generation)
    index: _SentIndex = field(default_factory=_SentIndex)
    sender: int = 1
    target: int = 1
    carried: list[bytes] = field(default_factory=list)

    def replay(self, data: bytes | mmap.mmap) -> int:
        """Apply the records of ``data`` up to the first torn or corrupt one; where it ends.
        ``data`` may be the file mapped in memory: records are checked in place, and only
        creation and carried records' payloads are copied."""
        pos = 0
        view = memoryview(data)
        size = len(view)
        head = _HEAD.size
        try:
            while pos + head <= size:
                length, crc, kind, seq = _HEAD.unpack_from(view, pos)
                body = pos + head
                if length > _MAX_RECORD or body + length > size:
                    break
                end = body + length
                if zlib.crc32(view[body:end], zlib.crc32(view[pos + 8 : body])) != crc:
                    break
                if kind == _SENT:
                    self.index.put(seq, body, length)
                    self.sender = seq + 1
                elif kind == _SENDER:
                    self.sender = seq
                elif kind == _TARGET:
                    self.target = seq
                elif kind == _CREATED:
                    self.generation = bytes(view[body:end]).decode()
                    self.created = datetime.fromisoformat(self.generation.split(" ", 1)[0])
                elif kind == _CARRIED:
                    self.carried.append(bytes(view[body:end]))
                pos = end
        finally:
            view.release()  # a mapping with a view exported cannot be closed
        return pos


def _replay_file(log: _Log, path: Path) -> tuple[int, int]:
    """Replay the store file at ``path`` into ``log`` through a read-only mapping (a long
    day's store is not read into memory); (where the intact records end, the file's size)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return 0, 0
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
            return log.replay(data), size


@dataclass(frozen=True, slots=True)
class StoreState:
    """The sequence numbers and creation time a store file holds (see :func:`peek_store`)."""

    next_sender_seq: int
    next_target_seq: int
    creation_time: datetime


def peek_store(path: str | Path) -> StoreState:
    """What a :class:`FileStore` opened on ``path`` now would recover, read without the lock.

    For looking at a store another process (or session) has open: nothing is written,
    truncated or locked, and a record being written as it is read is left out, as recovery
    would cut it off. Raises :class:`FileNotFoundError` if there is no store at ``path``."""
    log = _Log(datetime(1970, 1, 1, tzinfo=UTC))  # every generation's first record replaces it
    _replay_file(log, Path(path))
    return StoreState(log.sender, log.target, log.created)


class FileStore(MessageStore):
    """A durable store: one append-only record log per session (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        fsync: FsyncPolicy = "always",
        fsync_interval: float = 0.05,
        now: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        batch: StoreBatch | None = None,
    ) -> None:
        """``monotonic``: the clock that paces ``"interval"`` fsyncs (real time, not the
        session's clock: a backtest's simulated time says nothing about the disk).
        ``batch``: the engine's :class:`~gateway.store_batch.StoreBatch`; while it is open,
        records wait and are written at its end, and opening applies its journal's part
        for this store."""
        if fsync not in ("always", "interval", "never"):
            raise StoreError(f"fsync must be always, interval or never, not {fsync!r}")
        self.path = Path(path)
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self._index = _SentIndex()
        self._carried: list[bytes] = []
        self._sender = 1
        self._target = 1
        self._created = now or datetime.now(UTC)
        self._generation = ""  # set with the creation record it is read from or written in
        self._monotonic = monotonic
        self._last_sync = -float("inf")  # the first "interval" write fsyncs
        # "interval": when the oldest record written since the last fsync must be fsynced
        # (None: none waits)
        self._sync_due: float | None = None
        self._fd = -1
        self._end = 0  # the file's size, records held included (this store's only writer)
        self._batch = batch
        self._held: list[bytes] | None = None  # records waiting for the batch's end
        self._held_at = 0  # the file offset the first of them goes to
        #: what opening repaired, in words (for the session's event log): a torn end cut
        #: off, a batch written back from its journal
        self.repairs: list[str] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not _is_store(self.path):
            raise NotAStoreError(self.path)
        # Locked before anything else is read: what a live holder is writing is not ours to
        # repair (its first record, which _is_store read, is written before the file exists).
        self._lock_fd = _lock(self.path)
        try:
            tmp = self.path.with_suffix(self.path.suffix + ".new")
            if tmp.exists():  # a reset died before its rename: the old file is the truth
                tmp.unlink()
            # an empty file (a touch, a copy that failed) has no creation record: it is
            # made a store as a missing one is, not appended to without one
            if self.path.exists() and self.path.stat().st_size > 0:
                self._recover()
                part = batch.part(self.path) if batch is not None else None
                if part is not None and self._repair(part):
                    self._recover()
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            else:
                self._fd = self._new_generation(self._created)
            self._end = os.fstat(self._fd).st_size
        except BaseException:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1
            raise

    # -- reading the log back -------------------------------------------------------------

    def _recover(self) -> None:
        """Rebuild state from the log (this store holds the lock). A bad record with
        nothing intact after it is a torn end, cut off. One with intact records after it
        is damage (or a power loss that saved a write's pages out of order): the bad bytes
        are dropped and what follows kept, so no sequence number that went out is used
        again (a message lost there is gap-filled if the peer asks for it again)."""
        while True:
            log = _Log(self._created)
            end, size = _replay_file(log, self.path)
            (self._index, self._sender, self._target, self._created, self._generation,
             self._carried) = (log.index, log.sender, log.target, log.created,
                               log.generation, log.carried)
            if end == size:
                return
            fixed = _one_bit_length(self.path, end)
            if fixed is not None:  # the record is whole: its length is written right again
                with self.path.open("r+b") as f:
                    os.pwrite(f.fileno(), struct.pack("<I", fixed), end)
                    os.fsync(f.fileno())
                self.repairs.append(f"repaired the length of the record at byte {end} (one "
                                    "bit was flipped; its CRC checks with the bit set right)")
                continue
            intact = _next_intact(self.path, end)
            if intact is None:
                self._rewrite_tail(end)
                self.repairs.append(f"cut off a torn end of {size - end} bytes at byte {end} "
                                    "(a write a crash interrupted)")
                return
            self._drop(end, intact)
            self.repairs.append(
                f"dropped {intact - end} damaged bytes at byte {end} and kept the intact "
                f"records after them ({size - intact} bytes): the sequence numbers they hold "
                "are not used again; a message lost there is gap-filled if asked for again")

    def _drop(self, start: int, end: int) -> None:
        """Remove the bytes ``[start, end)`` of the file, moving what follows down (in
        chunks, then fsync)."""
        with self.path.open("r+b") as f:
            read, write = end, start
            while chunk := os.pread(f.fileno(), 1 << 20, read):
                os.pwrite(f.fileno(), chunk, write)
                read += len(chunk)
                write += len(chunk)
            f.truncate(write)
            os.fsync(f.fileno())

    def _rewrite_tail(self, offset: int, data: bytes = b"") -> None:
        """Cut the file at ``offset``, append ``data`` and fsync (recovery, before the
        store's own descriptor is open)."""
        with self.path.open("r+b") as f:
            f.truncate(offset)
            f.seek(offset)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def _repair(self, part: JournalPart) -> bool:
        """Write what the batch journal says this store was writing at a crash, if the file
        ends where those records begin or inside them (see :mod:`gateway.store_batch`);
        whether it did."""
        size = self.path.stat().st_size
        if part.generation != self._generation or not (
                part.offset <= size < part.offset + len(part.data)):
            return False  # written (or another generation's): nothing to repair
        self._rewrite_tail(part.offset, part.data)
        self.repairs.append(f"wrote back {part.offset + len(part.data) - size} bytes of the "
                            "last batch from its journal (a crash came between two stores' "
                            "writes)")
        return True

    # -- writing ----------------------------------------------------------------------------

    @staticmethod
    def _record(kind: int, seq: int, payload: bytes) -> bytes:
        head = struct.pack("<BQ", kind, seq)
        crc = zlib.crc32(payload, zlib.crc32(head))
        return struct.pack("<II", len(payload), crc) + head + payload

    def _append(self, kind: int, seq: int, payload: bytes = b"") -> int:
        """Append one record, with one write or, while the batch is open, at its end;
        return the payload's file offset."""
        if self._fd < 0:
            raise StoreError(f"{self.path}: store is closed")
        record = self._record(kind, seq, payload)
        offset = self._end
        self._end += len(record)
        if self._held is not None:
            self._held.append(record)
        elif self._batch is not None and self._batch.open:
            self._held, self._held_at = [record], offset
            self._batch.hold(self)
        else:
            self._write(offset, record)
        return offset + _HEAD.size

    def _write(self, offset: int, data: bytes) -> None:
        """Write ``data`` at the end of the file (``offset``), then fsync as the policy says."""
        try:
            written = os.write(self._fd, data)
        except OSError:  # nothing written (a full disk, an I/O error): the end is where it was
            self._end = offset
            raise
        if written != len(data):  # a regular file only writes short when the disk is full
            os.ftruncate(self._fd, offset)
            self._end = offset
            raise StoreError(f"{self.path}: short write ({written} of {len(data)} bytes)")
        self._sync()

    @property
    def holds(self) -> bool:
        """Whether records wait for the batch's end."""
        return bool(self._held)

    def held_records(self) -> tuple[int, bytes]:
        """The file offset of the records waiting, and the records."""
        held = self._held
        if not held:
            return self._held_at, b""
        if len(held) > 1:  # joined once for the journal, the write and any resend
            held[:] = [b"".join(held)]
        return self._held_at, held[0]

    def write_held(self) -> None:
        """Write the records waiting for the batch's end, with one write. If that fails the
        store is closed (:meth:`fail_held`)."""
        at, data = self.held_records()
        self._held = None
        if not data:
            return
        try:
            self._write(at, data)
        except Exception as exc:
            self.fail_held(exc)
            raise

    def fail_held(self, error: BaseException) -> None:
        """The records waiting cannot be written (``error``): drop them and close the file
        for good (the lock stays until :meth:`close`), as the index and numbers count
        records the file does not have; :attr:`failure` says why, and a later use raises
        :class:`StoreError`. A restart reads what the file has, and what the batch journal
        has of the rest (:mod:`gateway.store_batch`)."""
        self.failure = error
        self._held = None
        self._sync_due = None  # nothing left to fsync: no timer may wait for it
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):  # given up either way; the caller says why
                os.close(fd)

    def _sync(self) -> None:
        if self.fsync == "always":
            os.fsync(self._fd)
        elif self.fsync == "interval":
            # The store paces its own disk flushes; this is not session time.
            now = self._monotonic()
            if now - self._last_sync >= self.fsync_interval:
                self._fsync_waiting(now)
                return
            # This record waits for the next fsync: that must come within the interval of
            # the oldest waiting record's write, which a later write may never trigger.
            if self._sync_due is None:
                self._sync_due = now + self.fsync_interval

    def _fsync_waiting(self, now: float) -> None:
        """Fsync the file; nothing is waiting afterwards (failed, it all still is)."""
        os.fsync(self._fd)
        self._last_sync = now
        self._sync_due = None

    def next_sync(self) -> float | None:
        due = self._sync_due
        if due is None or self._fd < 0:
            return None
        return max(0.0, due - self._monotonic())

    def sync_if_due(self) -> bool:
        if self._sync_due is None or self._fd < 0:
            return False
        now = self._monotonic()
        if now < self._sync_due:
            return False
        self._fsync_waiting(now)
        return True

    def _new_generation(self, now: datetime, carry: Sequence[bytes] = ()) -> int:
        tmp = self.path.with_suffix(self.path.suffix + ".new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        self._generation = f"{now.isoformat()} {os.urandom(8).hex()}"
        records = [self._record(_CREATED, 0, self._generation.encode()),
                   *(self._record(_CARRIED, 0, bytes(m)) for m in carry)]
        data = b"".join(records)
        if os.write(fd, data) != len(data):  # only a full disk writes a regular file short
            os.close(fd)
            tmp.unlink()
            raise StoreError(f"{self.path}: short write starting a new generation")
        os.fsync(fd)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        return fd

    # -- the interface ----------------------------------------------------------------------

    @property
    def next_sender_seq(self) -> int:
        return self._sender

    @property
    def next_target_seq(self) -> int:
        return self._target

    @property
    def creation_time(self) -> datetime:
        return self._created

    @property
    def generation(self) -> str:
        """The name of the file's current generation: its creation time and, since the
        token was added, a random token (module docstring); what the batch journal says its
        records are for."""
        return self._generation

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._check_next(seq)
        offset = self._append(_SENT, seq, bytes(raw))
        self._index.put(seq, offset, len(raw))
        self._sender = seq + 1

    def set_next_sender_seq(self, seq: int) -> None:
        self._check_seq(seq)
        self._append(_SENDER, seq)
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        self._check_seq(seq)
        self._append(_TARGET, seq)
        self._target = seq

    def sent(self, begin: int, end: int) -> Iterator[StoredMessage]:
        held = None
        for seq, offset, length in self._index.spans(max(begin, 1), min(end, self._sender - 1)):
            if self._held is not None and offset >= self._held_at:  # not written yet
                if held is None:
                    held = self.held_records()[1]
                at = offset - self._held_at
                yield StoredMessage(seq, held[at:at + length])
            else:
                yield StoredMessage(seq, os.pread(self._fd, length, offset))

    def reset(self, now: datetime, carry: Sequence[bytes] = ()) -> None:
        self.write_held()  # the old generation's last records, before it is replaced
        old = self._fd
        self._fd = self._new_generation(now, carry)
        self._end = os.fstat(self._fd).st_size
        os.close(old)
        # the new generation is fsynced whole; what waited in the old one is replaced by it
        self._sync_due = None
        self._index = _SentIndex()
        self._carried = [bytes(m) for m in carry]
        self._sender = self._target = 1
        self._created = now

    def carried(self) -> list[bytes]:
        return list(self._carried)

    def close(self) -> None:
        """Write held records, flush (unless fsync is ``never``), close the file, then
        release the lock."""
        try:
            if self._fd >= 0:
                self.write_held()
                fd, self._fd = self._fd, -1
                try:
                    if self.fsync != "never":
                        os.fsync(fd)  # "interval": whatever still waits for its timer
                        self._sync_due = None
                finally:
                    os.close(fd)
        finally:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # closing the only descriptor releases the flock
                self._lock_fd = -1


def fsync_dir(path: Path) -> None:
    """Fsync the folder ``path``: the names made or replaced in it survive a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _next_intact(path: Path, bad: int) -> int | None:
    """Where the first intact record after the failed one at ``bad`` starts, or None: a
    torn end has none. Where its length says it ends, if an intact record starts there;
    else each offset up to the longest a record can be whose kind byte is a record's
    (found by a regular expression, not a Python loop: a zero-filled tail has none).

    A failed record whose header is sound and whose length runs past the file's end is a
    write cut short, unless the records found after it are intact all the way to the
    file's end: then its length was damaged, and cutting there would forget messages that
    went out. A torn write's payload may hold bytes that look like records (a data field),
    but not a chain of them ending exactly where the crash cut the file."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
            view = memoryview(data)
            try:
                head = _HEAD.size
                torn = False
                if bad + head <= size:
                    length: int
                    kind: int
                    length, _, kind, _ = _HEAD.unpack_from(view, bad)
                    sound = _SENT <= kind <= _CARRIED and length <= _MAX_RECORD
                    claimed = bad + head + length
                    torn = sound and claimed > size
                    if sound and not torn and _intact_at(view, claimed, size):
                        return claimed
                last = min(size - head, bad + head + _MAX_RECORD)
                skip = 0  # (below it: inside a chain that failed already)
                for m in _KIND_BYTE.finditer(data, bad + 1 + 8, last + 8 + 1):
                    pos = m.start() - 8
                    if pos < skip or not _intact_at(view, pos, size):
                        continue
                    if not torn:
                        return pos
                    skip = _chain_end(view, pos, size)
                    if skip == size:
                        return pos
                return None
            finally:
                view.release()


def _chain_end(view: memoryview, pos: int, size: int) -> int:
    """Where the run of intact records from ``pos`` ends: the file's size if it reaches
    the end, else the offset of the first record that is not intact."""
    while pos < size and _intact_at(view, pos, size):
        pos += _HEAD.size + _HEAD.unpack_from(view, pos)[0]
    return pos


def _one_bit_length(path: Path, bad: int) -> int | None:
    """The length of the record at ``bad`` if it is intact but for one flipped bit in its
    length field (its CRC, which covers the rest, says so), else None."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if bad + _HEAD.size > size:
            return None
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
            view = memoryview(data)
            try:
                length: int
                crc: int
                kind: int
                length, crc, kind, _ = _HEAD.unpack_from(view, bad)
                if not _SENT <= kind <= _CARRIED:
                    return None
                body = bad + _HEAD.size
                head_crc = zlib.crc32(view[bad + 8:body])
                for bit in range(32):
                    fixed = length ^ (1 << bit)
                    if fixed <= _MAX_RECORD and body + fixed <= size and zlib.crc32(
                            view[body:body + fixed], head_crc) == crc:
                        return fixed
                return None
            finally:
                view.release()


#: a record's kind byte (at offset 8 of its header), for _next_intact's search
_KIND_BYTE = re.compile(bytes([ord("["), _SENT, ord("-"), _CARRIED, ord("]")]))


def _intact_at(view: memoryview, pos: int, size: int) -> bool:
    """Whether an intact record (a known kind, its length inside the file, its CRC right)
    starts at ``pos``."""
    head = _HEAD.size
    if pos + head > size:
        return False
    length: int
    crc: int
    kind: int
    length, crc, kind, _ = _HEAD.unpack_from(view, pos)
    if not _SENT <= kind <= _CARRIED or length > _MAX_RECORD or pos + head + length > size:
        return False
    body = pos + head
    return zlib.crc32(view[body:body + length], zlib.crc32(view[pos + 8:body])) == crc


def _is_store(path: Path) -> bool:
    """Whether ``path`` can be a store: no file, an empty one, or one that starts with an
    intact creation record (a new generation is written whole before it is renamed into
    place, so every store file does). Anything else is someone else's file, whose "torn
    tail" recovery would cut off: all of it."""
    try:
        with path.open("rb") as f:
            first = f.read(_HEAD.size)
            if not first:
                return True
            if len(first) < _HEAD.size:
                return False
            length: int
            crc: int
            length, crc, kind, _ = _HEAD.unpack(first)
            if kind != _CREATED:
                return False
            body = f.read(length) if length <= _MAX_RECORD else b""
    except FileNotFoundError:
        return True
    if len(body) == length and zlib.crc32(body, zlib.crc32(first[8:])) == crc:
        return True
    return _one_bit_length(path, 0) is not None  # a creation record recovery repairs


def _lock(path: Path) -> int:
    """Take the exclusive lock of the store at ``path``; the descriptor that holds it.

    Raises :class:`StoreInUseError` at once, rather than waiting, if another descriptor holds
    it: a gateway that cannot own its store must not start."""
    lock_path = path.with_suffix(path.suffix + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise StoreInUseError(path, holder) from None
    except OSError as exc:  # no locks on this file system (ENOLCK), say: not run unlocked
        os.close(fd)
        raise OSError(exc.errno, f"cannot lock {lock_path} for the store {path}: "
                                 f"{exc.strerror or exc}") from None
    except BaseException:
        os.close(fd)
        raise
    try:
        # the pid is for the message of the next opener only; the lock is the flock
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _holder(fd: int) -> int | None:
    """The pid the lock's holder wrote (None if it has not written it yet)."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
