"""Message stores: sequence numbers and sent messages, in memory or durable on disk.

The session follows DESIGN.md's outbound order: allocate the next sequence number
(:attr:`MessageStore.next_sender_seq`), persist the encoded message with :meth:`save_sent`
(which also advances the sender sequence number), then transmit. Inbound, the session calls
:meth:`set_next_target_seq` once a message has been processed.

Durability of :class:`FileStore` (tested by killing a writer with SIGKILL many times):

* Every change is one record appended with a single ``write`` to an ``O_APPEND`` file:
  ``length u32 | crc32 u32 | kind u8 | seq u64 | payload``. A record is in the kernel's page
  cache when the call returns, so it survives the death of the process at any point. A torn
  record (power loss mid-write) fails its length or CRC check on open and is cut off with
  everything after it; no earlier record is affected.
* ``fsync`` decides what survives power loss or a kernel crash:
  ``"always"`` fsyncs every record before returning (nothing acknowledged is ever lost);
  ``"interval"`` fsyncs when ``fsync_interval`` seconds have passed since the last fsync, at
  the first write after that (loses at most that window); ``"never"`` leaves it to the OS.
* Since a message is persisted before it is sent, a restart never reuses a sequence number
  that reached the wire and can resend every message sent before the crash. A number that was
  allocated but not saved was never sent, so reusing it is correct.
* The inbound sequence number is saved after processing: a crash between processing and
  saving makes the session ask for that message again, which arrives as a PossDup; the
  application's duplicate checks (ClOrdID) make that safe, as in QuickFIX.
* :meth:`reset` starts a new file generation (write a new file, then ``rename`` over the old
  one), so a crash during a reset leaves either the old session or the new one, never a mix.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

FsyncPolicy = Literal["always", "interval", "never"]


class StoreError(Exception):
    """The store cannot do what was asked (closed, bad sequence number, corrupt beyond repair)."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    raw: bytes


class MessageStore(ABC):
    """Sequence numbers and sent messages of one session."""

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

    @abstractmethod
    def reset(self, now: datetime) -> None:
        """Forget every message; both sequence numbers back to 1; creation time ``now``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the store is unusable afterwards."""

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

    def reset(self, now: datetime) -> None:
        self._messages.clear()
        self._sender = self._target = 1
        self._created = now


_HEAD = struct.Struct("<IIBQ")  # payload length, crc32 of kind+seq+payload, kind, seq
_SENT, _SENDER, _TARGET, _CREATED = 1, 2, 3, 4
_MAX_RECORD = 64 * 1024 * 1024


class FileStore(MessageStore):
    """A durable store: one append-only record log per session (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        fsync: FsyncPolicy = "always",
        fsync_interval: float = 0.05,
        now: datetime | None = None,
    ) -> None:
        if fsync not in ("always", "interval", "never"):
            raise StoreError(f"fsync must be always, interval or never, not {fsync!r}")
        self.path = Path(path)
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self._index: dict[int, tuple[int, int]] = {}  # seq -> (payload offset, length)
        self._sender = 1
        self._target = 1
        self._created = now or datetime.now(UTC)
        self._last_sync = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".new")
        if tmp.exists():  # a reset died before its rename: the old file is the truth
            tmp.unlink()
        if self.path.exists():
            self._recover()
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        else:
            self._fd = self._new_generation(self._created)

    # -- reading the log back -------------------------------------------------------------

    def _recover(self) -> None:
        """Rebuild state from the log; cut off a torn tail."""
        data = self.path.read_bytes()
        pos = 0
        while pos + _HEAD.size <= len(data):
            length, crc, kind, seq = _HEAD.unpack_from(data, pos)
            body = pos + _HEAD.size
            if length > _MAX_RECORD or body + length > len(data):
                break
            payload = data[body : body + length]
            if zlib.crc32(payload, zlib.crc32(data[pos + 8 : body])) != crc:
                break
            self._replay(kind, seq, payload, body)
            pos = body + length
        if pos != len(data):
            with self.path.open("r+b") as f:
                f.truncate(pos)
                os.fsync(f.fileno())

    def _replay(self, kind: int, seq: int, payload: bytes, offset: int) -> None:
        if kind == _SENT:
            self._index[seq] = (offset, len(payload))
            self._sender = seq + 1
        elif kind == _SENDER:
            self._sender = seq
        elif kind == _TARGET:
            self._target = seq
        elif kind == _CREATED:
            self._created = datetime.fromisoformat(payload.decode())

    # -- writing ----------------------------------------------------------------------------

    @staticmethod
    def _record(kind: int, seq: int, payload: bytes) -> bytes:
        head = struct.pack("<BQ", kind, seq)
        crc = zlib.crc32(payload, zlib.crc32(head))
        return struct.pack("<II", len(payload), crc) + head + payload

    def _append(self, kind: int, seq: int, payload: bytes = b"") -> int:
        """Append one record with one write; return the payload's file offset."""
        if self._fd < 0:
            raise StoreError(f"{self.path}: store is closed")
        record = self._record(kind, seq, payload)
        offset = os.lseek(self._fd, 0, os.SEEK_END)
        written = os.write(self._fd, record)
        if written != len(record):  # a regular file only writes short when the disk is full
            os.ftruncate(self._fd, offset)
            raise StoreError(f"{self.path}: short write ({written} of {len(record)} bytes)")
        self._sync()
        return offset + _HEAD.size

    def _sync(self) -> None:
        if self.fsync == "always":
            os.fsync(self._fd)
        elif self.fsync == "interval":
            # The store paces its own disk flushes; this is not session time.
            now = time.monotonic()
            if now - self._last_sync >= self.fsync_interval:
                os.fsync(self._fd)
                self._last_sync = now

    def _new_generation(self, now: datetime) -> int:
        tmp = self.path.with_suffix(self.path.suffix + ".new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        os.write(fd, self._record(_CREATED, 0, now.isoformat().encode()))
        os.fsync(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
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

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._check_next(seq)
        offset = self._append(_SENT, seq, bytes(raw))
        self._index[seq] = (offset, len(raw))
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
        for seq in range(max(begin, 1), min(end, self._sender - 1) + 1):
            where = self._index.get(seq)
            if where is not None:
                yield StoredMessage(seq, os.pread(self._fd, where[1], where[0]))

    def reset(self, now: datetime) -> None:
        old = self._fd
        self._fd = self._new_generation(now)
        os.close(old)
        self._index.clear()
        self._sender = self._target = 1
        self._created = now

    def close(self) -> None:
        if self._fd >= 0:
            if self.fsync != "never":
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
