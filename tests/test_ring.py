"""engine.ring.SpscRing: order, wraparound, full/empty, too big, batches, and two threads at
once (the C calls release the GIL); plus the C ring test under ThreadSanitizer."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import TooBig
from engine.ring import SpscRing, record_footprint
from tests.c_build import BIN, CC, CSRC, have_compiler


def test_capacity_must_be_a_power_of_two_in_range() -> None:
    for bad in (0, 4, 12, 100, 1 << 31):
        with pytest.raises(ValueError):
            SpscRing(bad)
    ring = SpscRing(64)
    assert (ring.capacity, ring.max_record_size, ring.used_bytes) == (64, 60, 0)


def test_records_come_out_in_order_and_intact() -> None:
    ring = SpscRing(256)
    records = [b"", b"a", b"\x00\x01\xff", b"hello world", bytes(range(40))]
    for r in records:
        assert ring.push(r)
    assert ring.used_bytes == sum(record_footprint(len(r)) for r in records)
    assert ring.next_size() == 0
    assert [ring.pop() for _ in records] == records
    assert ring.pop() is None and ring.next_size() is None and ring.used_bytes == 0


def test_full_then_room_again() -> None:
    ring = SpscRing(32)
    assert ring.push(b"x" * 12) and ring.push(b"y" * 12)  # 16 + 16 bytes: full
    assert not ring.push(b"")
    assert ring.push_batch([b"z"]) == 0
    assert ring.pop() == b"x" * 12
    assert ring.push(b"w" * 10)
    assert ring.pop_batch() == [b"y" * 12, b"w" * 10]


def test_too_big_raises_and_the_largest_record_fits_anywhere() -> None:
    ring = SpscRing(64)
    with pytest.raises(TooBig):
        ring.push(b"x" * 61)
    with pytest.raises(TooBig):
        ring.push_batch([b"x" * 61])
    # one that never fits after others ends the batch there; offered first, it raises
    assert ring.push_batch([b"a", b"x" * 61, b"b"]) == 1 and ring.pop() == b"a"
    with pytest.raises(TooBig):
        ring.push_batch([b"x" * 61, b"b"])
    assert ring.used_bytes == 0
    big = bytes(range(60))
    for shift in range(4, 68, 4):  # move the (empty) ring's indices on by `shift` bytes first
        assert ring.push(b"s" * (shift - 4)) and ring.pop() == b"s" * (shift - 4)
        assert ring.push(big) and ring.used_bytes == 64
        assert ring.pop() == big


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=50)), max_size=200))
def test_behaves_like_a_bounded_fifo(ops: list[tuple[bool, bytes]]) -> None:
    """Against a deque model: pushes succeed exactly when the bytes fit; pops return FIFO."""
    ring = SpscRing(128)
    model: deque[bytes] = deque()
    used = 0
    for is_push, data in ops:
        if is_push:
            fits = used + record_footprint(len(data)) <= 128
            assert ring.push(data) == fits
            if fits:
                model.append(data)
                used += record_footprint(len(data))
        else:
            got = ring.pop()
            assert got == (model.popleft() if model else None)
            if got is not None:
                used -= record_footprint(len(got))
        assert ring.used_bytes == used


def test_batches_wrap_and_respect_limits() -> None:
    ring = SpscRing(64, batch_limit=3)
    assert ring.push_batch([]) == 0
    records = [bytes([i]) * (i % 7) for i in range(10)]
    sent: list[bytes] = []
    got: list[bytes] = []
    for _ in range(20):  # many rounds so the indices wrap several times
        pushed = ring.push_batch(records)
        sent += records[:pushed]
        batch = ring.pop_batch()
        assert len(batch) <= 3
        got += batch
    while ring.next_size() is not None:
        got += ring.pop_batch()
    assert got == sent and len(sent) > 20
    assert ring.pop_batch(0) == [] and ring.pop_batch() == []
    assert ring.push_batch([bytearray(b"ab"), memoryview(b"cde")]) == 2
    assert ring.pop_batch() == [b"ab", b"cde"]


@pytest.mark.parametrize("batched", [False, True], ids=["per-record", "batched"])
def test_two_threads_move_200k_records_in_order(batched: bool) -> None:
    total = 200_000
    ring = SpscRing(4096)

    def record(i: int) -> bytes:
        return i.to_bytes(4, "little") * (1 + i % 5)

    errors: list[str] = []

    # On full or empty, sleep(0) hands the GIL over; a bare spin would keep re-taking it.
    def produce() -> None:
        i = 0
        while i < total:
            if batched:
                pushed = ring.push_batch([record(k) for k in range(i, min(i + 64, total))])
            else:
                pushed = int(ring.push(record(i)))
            if not pushed:
                time.sleep(0)
            i += pushed

    def consume() -> None:
        i = 0
        while i < total:
            items = ring.pop_batch(64) if batched else [r for r in [ring.pop()] if r is not None]
            if not items:
                time.sleep(0)
            for item in items:
                if item != record(i) and len(errors) < 5:
                    errors.append(f"record {i}: {item!r}")
                i += 1

    threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "threads did not finish"
    assert errors == []
    assert ring.pop() is None and ring.used_bytes == 0


def _tsan_works() -> bool:
    if not have_compiler():
        return False
    probe = subprocess.run([CC, "-fsanitize=thread", "-x", "c", "-", "-o", "/dev/null"],
                           input="int main(void){return 0;}", capture_output=True, text=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _tsan_works(), reason="no C compiler with ThreadSanitizer")
def test_c_ring_under_thread_sanitizer() -> None:
    """tests/c/test_ring.c (two pthreads) with TSan, which cannot share a build with ASan."""
    BIN.mkdir(parents=True, exist_ok=True)
    out = BIN / "test_ring_tsan"
    source = Path(__file__).parent / "c" / "test_ring.c"
    cmd = [CC, "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=thread",
           "-I", str(CSRC), str(source), str(CSRC / "ring.c"), "-o", str(out), "-lpthread"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    proc = subprocess.run([str(out)], capture_output=True, text=True, timeout=300,
                          env={"TSAN_OPTIONS": "halt_on_error=1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
