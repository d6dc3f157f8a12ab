"""Message stores: the contract on both implementations, and FileStore's recovery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store import FileStore, MemoryStore, MessageStore, StoreError, _SentIndex
from gateway.store_batch import StoreBatch, journal_path

T0 = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "file-always", "file-interval", "file-never"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MessageStore:
    kind: str = request.param
    if kind == "memory":
        return MemoryStore(T0)
    policy = kind.removeprefix("file-")
    return FileStore(tmp_path / "s.store", fsync=policy, now=T0)  # type: ignore[arg-type]


def test_fresh_store_starts_at_one(store: MessageStore) -> None:
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)
    assert store.creation_time == T0
    assert list(store.sent(1, 100)) == []


def test_save_sent_advances_and_serves_resends(store: MessageStore) -> None:
    for seq in range(1, 6):
        store.save_sent(seq, f"msg{seq}".encode())
    assert store.next_sender_seq == 6
    assert [(m.seq, m.raw) for m in store.sent(2, 4)] == [(2, b"msg2"), (3, b"msg3"), (4, b"msg4")]
    assert [m.seq for m in store.sent(4, 10**9)] == [4, 5]


def test_save_sent_refuses_a_number_out_of_turn(store: MessageStore) -> None:
    store.save_sent(1, b"a")
    with pytest.raises(StoreError, match="next sender sequence number is 2"):
        store.save_sent(3, b"c")
    with pytest.raises(StoreError):
        store.save_sent(1, b"again")


def test_sequence_numbers_can_be_set(store: MessageStore) -> None:
    store.set_next_sender_seq(10)
    store.set_next_target_seq(42)
    store.save_sent(10, b"x")
    assert (store.next_sender_seq, store.next_target_seq) == (11, 42)
    assert [m.seq for m in store.sent(1, 20)] == [10]
    with pytest.raises(StoreError):
        store.set_next_target_seq(0)


def test_reset_forgets_everything(store: MessageStore) -> None:
    store.save_sent(1, b"a")
    store.set_next_target_seq(7)
    later = datetime(2026, 1, 3, tzinfo=UTC)
    store.reset(later)
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)
    assert list(store.sent(1, 10)) == []
    assert store.creation_time == later


def test_reset_keeps_what_it_carries_until_the_next_reset(store: MessageStore) -> None:
    assert store.carried() == []
    store.save_sent(1, b"open order's report")
    store.reset(T0, carry=[b"open order's report", b"another"])
    assert store.carried() == [b"open order's report", b"another"]
    assert list(store.sent(1, 10)) == [] and store.next_sender_seq == 1  # not resendable
    store.save_sent(1, b"new period")
    assert store.carried() == [b"open order's report", b"another"]
    store.reset(T0)
    assert store.carried() == []


def test_carried_messages_survive_a_reopen_with_their_generation(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    a = FileStore(path, now=T0)
    a.save_sent(1, b"old")
    a.reset(T0, carry=[b"kept \x01 one", b"kept two"])
    a.save_sent(1, b"new")
    a.close()
    b = FileStore(path)
    assert b.carried() == [b"kept \x01 one", b"kept two"]
    assert [m.raw for m in b.sent(1, 5)] == [b"new"] and b.next_sender_seq == 2
    b.reset(T0)
    b.close()
    assert FileStore(path).carried() == []


def test_file_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    a = FileStore(path, now=T0)
    for seq in range(1, 4):
        a.save_sent(seq, b"8=FIX.4.4\x01" + bytes([seq]))
    a.set_next_target_seq(9)
    a.close()
    b = FileStore(path)
    assert (b.next_sender_seq, b.next_target_seq) == (4, 9)
    assert b.creation_time == T0
    assert [m.raw[-1] for m in b.sent(1, 3)] == [1, 2, 3]


def test_torn_tail_is_cut_and_earlier_records_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    a = FileStore(path, fsync="never", now=T0)
    a.save_sent(1, b"one")
    a.save_sent(2, b"two")
    a.close()
    intact = path.stat().st_size
    with path.open("ab") as f:  # half a record, as a power cut mid-write leaves it
        f.write(FileStore._record(1, 3, b"three")[:9])
    b = FileStore(path)
    assert b.next_sender_seq == 3
    assert [m.raw for m in b.sent(1, 3)] == [b"one", b"two"]
    assert path.stat().st_size == intact
    # said, for the session's event log
    assert b.repairs == [f"cut off a torn end of 9 bytes at byte {intact} (a write a crash "
                         "interrupted)"]
    b.save_sent(3, b"three")
    b.close()
    c = FileStore(path)
    assert [m.raw for m in c.sent(1, 3)] == [b"one", b"two", b"three"]
    assert c.repairs == []  # nothing left to repair


def test_corrupt_record_stops_recovery_there(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    a = FileStore(path, fsync="never", now=T0)
    a.save_sent(1, b"one")
    a.save_sent(2, b"two")
    a.close()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last payload: its CRC no longer matches
    path.write_bytes(bytes(data))
    b = FileStore(path)
    assert [m.raw for m in b.sent(1, 2)] == [b"one"]
    assert b.next_sender_seq == 2


def _forty_messages(path: Path) -> tuple[list[int], bytearray]:
    """A store at ``path`` that sent messages 1 to 40: where each one's record starts, and
    the file's bytes (to damage, then write back)."""
    a = FileStore(path, fsync="never", now=T0)
    offsets = []
    for seq in range(1, 41):
        offsets.append(path.stat().st_size)
        a.save_sent(seq, b"message %d" % seq)
    a.close()
    return offsets, bytearray(path.read_bytes())


@pytest.mark.parametrize("where", ["payload", "length, two bits",
                                   "length past the end, two bits"])
def test_damage_with_intact_records_after_it_drops_only_the_damaged_bytes(
        tmp_path: Path, where: str) -> None:
    """Damage in the middle of the file: recovery took it for a torn end and cut the file
    there, so the store forgot the messages sent after it and used their sequence numbers
    again. Only the damaged record goes; what follows is kept, and said. Also when the
    damaged length runs past the file's end, as a torn write's does: the intact records
    after it, to the end of the file, show it is not one."""
    path = tmp_path / "s.store"
    offsets, data = _forty_messages(path)
    bad = offsets[20]  # the record of message 21
    at, bits = {"payload": (20, 0x40), "length, two bits": (0, 0x60),
                "length past the end, two bits": (2, 0x03)}[where]
    data[bad + at] ^= bits  # (the last: 196,608 bytes more than the file holds)
    path.write_bytes(bytes(data))
    b = FileStore(path)
    assert b.next_sender_seq == 41  # no number that went out is used again
    assert [m.seq for m in b.sent(1, 40)] == [*range(1, 21), *range(22, 41)]
    assert b.repairs == [f"dropped {offsets[21] - bad} damaged bytes at byte {bad} and kept "
                         f"the intact records after them ({len(data) - offsets[21]} bytes): "
                         "the sequence numbers they hold are not used again; a message lost "
                         "there is gap-filled if asked for again"]
    b.save_sent(41, b"message 41")
    b.close()
    c = FileStore(path)
    assert c.repairs == [] and c.next_sender_seq == 42


@pytest.mark.parametrize("damage", [[(20, 0)], [(20, 2)], [(20, 2), (30, 0)], [(39, 2)],
                                    [(20, 2), ("torn", 0)], [("created", 2)]])
def test_a_length_with_one_flipped_bit_is_repaired_and_the_record_kept(
        tmp_path: Path, damage: list[tuple[int | str, int]]) -> None:
    """One flipped bit in a record's length field (in the middle, past the file's end, in
    two records, in the last one, before a torn end, or in the creation record, which had
    made the file "not a message store"): the record's CRC, which covers
    everything but its length, finds the one length that makes it whole, and the record is
    kept. Dropping or cutting there had lost records or used their numbers again (the
    last record's, or every one after the damage when a torn end followed it)."""
    path = tmp_path / "s.store"
    offsets, data = _forty_messages(path)
    at = {**dict(enumerate(offsets)), "created": 0}
    for index, byte in damage:
        if index == "torn":
            data += FileStore._record(1, 41, b"message 41")[:15]
        else:
            data[at[index] + byte] ^= 0x01
    path.write_bytes(bytes(data))
    b = FileStore(path)
    assert b.next_sender_seq == 41 and b.creation_time == T0
    assert [m.raw for m in b.sent(1, 40)] == [b"message %d" % n for n in range(1, 41)]
    repaired = [f"repaired the length of the record at byte {at[i]} (one bit was "
                "flipped; its CRC checks with the bit set right)" for i, _ in damage
                if i != "torn"]
    assert b.repairs[:len(repaired)] == repaired


def test_a_torn_record_holding_record_like_bytes_is_a_torn_end(tmp_path: Path) -> None:
    """A message whose data field holds bytes that look like a store record, cut short by
    a crash: its payload is not searched for records (it was taken for damage)."""
    path = tmp_path / "s.store"
    a = FileStore(path, fsync="never", now=T0)
    a.save_sent(1, b"one")
    inner = FileStore._record(1, 7, b"looks like a record")
    a.save_sent(2, b"8=FIX.4.4\x0195=%d\x0196=%s\x01" % (len(inner), inner) + b"x" * 200)
    a.close()
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 100)
    b = FileStore(path)
    assert [m.raw for m in b.sent(1, 2)] == [b"one"] and b.next_sender_seq == 2
    assert b.repairs[0].startswith("cut off a torn end")


def test_a_batch_whose_first_page_a_power_loss_lost_is_written_back_from_the_journal(
        tmp_path: Path) -> None:
    """fsync always: the journal is fsynced, the store's one write of the batch is not, and
    a power loss may keep its later page without its first (zeros)."""
    paths = [tmp_path / "a.store", tmp_path / "b.store"]
    batch = StoreBatch(journal_path(paths))
    a, b = (FileStore(p, fsync="always", batch=batch) for p in paths)
    a.save_sent(1, b"a1")
    b.save_sent(1, b"b1")
    before = paths[1].stat().st_size
    batch.open = True
    for seq in range(2, 6):
        a.save_sent(seq, b"A" * 1500)
        b.save_sent(seq, b"8=FIX.4.4\x01" + b"x" * 1500)
    batch.open = False
    batch.write()
    for closing in (a, b, batch):
        closing.close()
    data = bytearray(paths[1].read_bytes())
    page_end = (before // 4096 + 1) * 4096
    data[before:page_end] = bytes(page_end - before)
    paths[1].write_bytes(bytes(data))
    b = FileStore(paths[1], fsync="never", batch=StoreBatch(journal_path(paths)))
    assert b.next_sender_seq == 6
    assert [m.raw[:1] for m in b.sent(1, 5)] == [b"b", b"8", b"8", b"8", b"8"]


def test_an_empty_file_becomes_a_store_with_its_creation_record(tmp_path: Path) -> None:
    """An empty file (a touch) was appended to without a creation record, so the next
    start refused the store it had written as not a store."""
    path = tmp_path / "s.store"
    path.touch()
    a = FileStore(path, fsync="never", now=T0)
    a.save_sent(1, b"one")
    a.close()
    b = FileStore(path)
    assert [m.raw for m in b.sent(1, 1)] == [b"one"] and b.generation


@pytest.mark.parametrize(("name", "text"), [
    ("passwd", b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"),
    # intact store records that do not start with a creation record (a store whose head was
    # cut off, a tail copied out of one)
    ("tail.store", b"".join([FileStore._record(1, 1, b"8=FIX.4.4\x01one"),
                             FileStore._record(1, 2, b"8=FIX.4.4\x01two"),
                             FileStore._record(3, 7, b"")])),
], ids=["someone_else_s_file", "no_creation_record"])
def test_a_file_that_is_not_a_store_is_refused_and_left_as_it_was(
        tmp_path: Path, name: str, text: bytes) -> None:
    """A store.path naming someone else's file (a probe's /etc/passwd): recovery took all of
    it for a torn tail and cut the file to nothing. It is refused, byte for byte intact."""
    path = tmp_path / name
    path.write_bytes(text)
    with pytest.raises(StoreError, match=rf"{name}: not a message store"):
        FileStore(path)
    assert path.read_bytes() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no lock file beside it


def test_reset_interrupted_before_rename_keeps_old_session(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    a = FileStore(path, now=T0)
    a.save_sent(1, b"one")
    a.close()
    (tmp_path / "s.store.new").write_bytes(b"partial new generation")
    b = FileStore(path)
    assert [m.raw for m in b.sent(1, 1)] == [b"one"]
    assert not (tmp_path / "s.store.new").exists()


def test_bad_fsync_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="fsync must be"):
        FileStore(tmp_path / "x", fsync="sometimes")  # type: ignore[arg-type]


def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    s = FileStore(tmp_path / "x")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.save_sent(1, b"a")


# -- the sent-message index: numbers one after another, with the jumps a session can make ----

@st.composite
def numbering(draw: st.DrawFn) -> list[int]:
    """The sender numbers a session stores: runs one after another, with a SequenceReset
    now and then that jumps ahead (a little or far) or sets the number back."""
    seqs: list[int] = []
    seq = draw(st.integers(1, 50))
    for _ in range(draw(st.integers(1, 8))):
        run = draw(st.integers(1, 40))
        seqs += range(seq, seq + run)
        seq += run
        seq = draw(st.one_of(st.just(seq), st.integers(1, seq + 5),
                             st.integers(seq, seq + 100), st.integers(seq + 70_000, seq + 200_000)))
    return seqs


@settings(max_examples=200, deadline=None)
@given(seqs=numbering(), data=st.data())
def test_the_index_finds_what_a_dict_would(seqs: list[int], data: st.DataObject) -> None:
    index, model = _SentIndex(), {}
    for k, seq in enumerate(seqs):
        index.put(seq, 100 * k, k + 1)
        model[seq] = (100 * k, k + 1)
    top = max(model) + 2
    first = data.draw(st.integers(0, top))
    last = data.draw(st.integers(first - 1, top))
    assert list(index.spans(first, last)) == [(q, *model[q]) for q in sorted(model)
                                                if first <= q <= last]


def test_a_reopened_store_resends_across_a_long_jump_and_a_step_back(tmp_path: Path) -> None:
    path = tmp_path / "s.store"
    s = FileStore(path, now=T0)
    for seq in range(1, 4):
        s.save_sent(seq, f"m{seq}".encode())
    s.set_next_sender_seq(100_000)  # a SequenceReset far ahead
    s.save_sent(100_000, b"far")
    s.set_next_sender_seq(2)  # and back: 2 and 3 are stored again
    s.save_sent(2, b"again")
    s.close()
    s = FileStore(path, now=T0)
    got = [(m.seq, m.raw) for m in s.sent(1, 200_000)]
    s.close()
    # sent() ends at the next sender number less one (3): what is stored past it is not
    # offered for a resend
    assert got == [(1, b"m1"), (2, b"again")]
