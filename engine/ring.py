"""A single-producer single-consumer ring of byte records, over the C core (csrc/ring.h).

One thread pushes and one thread pops, at the same time, without a lock: the C calls release
the GIL (cffi does for every call into ``engine._core``), and the ring orders its head and tail
with acquire/release atomics. The wrapper keeps the consumer's scratch buffers apart from
anything the producer touches, so the two sides share no Python-level state either.

A full ring (push) and an empty ring (pop) are ordinary states of a queue, so they come back
as values (``False``, ``0``, ``None``, ``[]``), not exceptions. A record that can never fit
(larger than ``max_record_size``) raises :class:`engine.errors.TooBig`.

Records are copied in and out; ``push_batch``/``pop_batch`` cross into C once per batch,
which is what to use when there are many small records.

Polling from Python: when push finds the ring full or pop finds it empty, call
``time.sleep(0)`` (or block on something) before retrying. A bare retry loop hands the GIL
back only for the instant of the C call, so it starves the other side's thread; on a two-core
machine the tests saw a 10-30x slowdown from that alone.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import accumulate
from typing import Final

from engine._core import ffi, lib
from engine.errors import check, raise_for

BytesLike = bytes | bytearray | memoryview

MIN_CAPACITY: Final = 8
MAX_CAPACITY: Final = 1 << 30
_FULL: Final = lib.CORE_ERR_FULL
_EMPTY: Final = lib.CORE_ERR_EMPTY
_NOMEM: Final = lib.CORE_ERR_NOMEM


def record_footprint(size: int) -> int:
    """Ring bytes a record of ``size`` payload bytes takes: a 4-byte header, padded to 4."""
    return (4 + size + 3) & ~3


class SpscRing:
    """A ring of ``capacity_bytes`` bytes (a power of two, 8 .. 2**30) holding byte records.

    Each record costs :func:`record_footprint` bytes; one record of up to
    ``capacity_bytes - 4`` bytes always fits an empty ring. ``batch_limit`` caps how many
    records one :meth:`pop_batch` returns.

    Thread contract: at most one thread calls the producer methods (push, push_batch) and at
    most one thread the consumer methods (pop, pop_batch, next_size) at any time.
    """

    def __init__(self, capacity_bytes: int, *, batch_limit: int = 4096) -> None:
        if (
            not MIN_CAPACITY <= capacity_bytes <= MAX_CAPACITY
            or capacity_bytes & (capacity_bytes - 1)
        ):
            raise ValueError(
                f"capacity_bytes must be a power of two in {MIN_CAPACITY}..{MAX_CAPACITY}, "
                f"not {capacity_bytes}"
            )
        if batch_limit < 1:
            raise ValueError("batch_limit must be at least 1")
        ring = lib.spsc_ring_new(capacity_bytes)
        if ring == ffi.NULL:
            raise_for(_NOMEM, "SpscRing")
        self._ring = ffi.gc(ring, lib.spsc_ring_free)
        self.capacity: Final = capacity_bytes
        self.max_record_size: Final = capacity_bytes - 4
        # Consumer-side scratch: pop/pop_batch copy into it, then slice Python bytes out.
        self._out = ffi.new("uint8_t[]", capacity_bytes)
        self._out_view = ffi.buffer(self._out)
        self._out_lens = ffi.new("uint32_t[]", batch_limit)
        self._out_bytes = ffi.new("size_t *")
        self._batch_limit = batch_limit

    def __repr__(self) -> str:
        return f"SpscRing(capacity={self.capacity}, used={self.used_bytes})"

    @property
    def used_bytes(self) -> int:
        """Ring bytes in use, headers included (a snapshot if the other side is active)."""
        return int(lib.spsc_ring_used(self._ring))

    # -- producer ------------------------------------------------------------------------

    def push(self, record: BytesLike) -> bool:
        """Append one record; False if the ring is full right now (try again later).

        Raises TooBig if the record is larger than ``max_record_size``.
        """
        if isinstance(record, bytes):
            rc = lib.spsc_ring_push(self._ring, record, len(record))
        else:
            with ffi.from_buffer(record) as ptr:
                rc = lib.spsc_ring_push(self._ring, ptr, len(ptr))
        if rc == 0:
            return True
        if rc == _FULL:
            return False
        raise_for(rc, "SpscRing.push")

    def push_batch(self, records: Sequence[BytesLike]) -> int:
        """Append records in order, as many as fit; returns how many (0 if the ring is full).

        The caller re-offers ``records[n:]`` later. Raises TooBig when ``records[0]`` can
        never fit (nothing is pushed); one after it that can never fit ends the batch there
        like a full ring, and raises when it is offered first.
        """
        if not records:
            return 0
        data = b"".join(records)
        lens = array("I", map(len, records))
        if sum(lens) != len(data):  # a memoryview whose items are not bytes: len() != nbytes
            lens = array("I", [memoryview(r).nbytes for r in records])
        with ffi.from_buffer("uint32_t[]", lens) as lens_ptr:
            rc = lib.spsc_ring_push_batch(self._ring, data, lens_ptr, len(records))
        if rc == _FULL:
            return 0
        return check(int(rc), "SpscRing.push_batch")

    # -- consumer ------------------------------------------------------------------------

    def next_size(self) -> int | None:
        """Payload size of the next record, or None if the ring is empty."""
        rc = int(lib.spsc_ring_next_size(self._ring))
        return None if rc == _EMPTY else check(rc, "SpscRing.next_size")

    def pop(self) -> bytes | None:
        """Remove and return the next record, or None if the ring is empty."""
        n = lib.spsc_ring_pop(self._ring, self._out, self.capacity)
        if n >= 0:
            record: bytes = self._out_view[0:n]  # slicing a cffi buffer copies out bytes
            return record
        if n == _EMPTY:
            return None
        raise_for(n, "SpscRing.pop")

    def pop_batch(self, max_records: int | None = None) -> list[bytes]:
        """Remove and return up to ``max_records`` records in order (``[]`` if empty).

        ``max_records`` defaults to, and is capped by, the ring's ``batch_limit``.
        """
        limit = self._batch_limit if max_records is None else min(max_records, self._batch_limit)
        if limit <= 0:
            return []
        n = int(lib.spsc_ring_pop_batch(self._ring, self._out, self.capacity, self._out_lens,
                                        limit, self._out_bytes))
        if n == _EMPTY:
            return []
        check(n, "SpscRing.pop_batch")
        data = self._out_view[0 : self._out_bytes[0]]
        sizes = ffi.unpack(self._out_lens, n)
        return [data[end - size : end] for end, size in zip(accumulate(sizes), sizes,
                                                             strict=True)]
