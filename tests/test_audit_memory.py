"""``gateway audit`` reads one order in two passes (gateway.audit_two_passes.read_related): the
answer is the one-pass answer (read every record, then ``related``) for every input, and the
memory it keeps grows with the logs by a few dozen bytes a record, not by the record.

What could break when the reading is split in two: a family spread over several files, a
record without a time whose neighbour in reading order is in another file, gzip files read
twice, the merge of one message read in several files, the warnings of the first pass (once,
even though files are read again), ids that share a key in the compact index. A file
rotated or rewritten between the two passes is not a concern: the command reads logs at rest
(one appended to meanwhile is read as it was at the first pass, tested below).
"""

from __future__ import annotations

import gzip
import json
import tempfile
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import audit_id_index, audit_two_passes
from gateway.audit import message_line, show_soh
from gateway.audit_entries import Entry, Reading, find_files, read_entries
from gateway.audit_family import Relation, related
from gateway.audit_render import as_json
from gateway.audit_two_passes import read_related
from gateway.cli import main
from gateway.msglog import SessionLog, log_stamp
from tests.audit_samples import SAMPLES
from tests.fixpeer import frame

T0 = datetime(2026, 5, 21, 14, 30, tzinfo=UTC)
LOG4FIX = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixlogs" / "log4fix-j"


def one_pass(paths: Sequence[Path], cl_ord_id: str) -> tuple[Reading, list[Relation]]:
    """What ``gateway audit`` did before two passes: every record in memory, then related."""
    reading = read_entries(paths)
    return reading, related(reading.entries, cl_ord_id)


def assert_same(paths: Sequence[Path], cl_ord_id: str) -> list[Relation]:
    """read_related's answer is the one-pass answer: the same orders (one a session), each
    with its records (every field shown, their reading order), ids and session; the same
    counts and warnings."""
    reading, relations = read_related(paths, cl_ord_id)
    expected_reading, expected = one_pass(paths, cl_ord_id)
    assert len(relations) == len(expected), cl_ord_id
    for relation, want in zip(relations, expected, strict=True):
        assert [(e.seq, as_json(e)) for e in relation.entries] == [
            (e.seq, as_json(e)) for e in want.entries], cl_ord_id
        assert (relation.cl_ord_ids, relation.order_ids, relation.parents, relation.session,
                relation.names) == (want.cl_ord_ids, want.order_ids, want.parents,
                                    want.session, want.names)
    assert (reading.warnings, reading.records, reading.files) == (
        expected_reading.warnings, expected_reading.records, expected_reading.files)
    return relations


def assert_one(paths: Sequence[Path], cl_ord_id: str) -> Relation:
    """:func:`assert_same` for an id one session's order has (or none's)."""
    (relation,) = assert_same(paths, cl_ord_id)
    return relation


def all_ids(paths: Sequence[Path]) -> list[str]:
    ids: set[str | None] = set()
    for e in read_entries(paths).entries:
        ids |= {e.cl_ord_id, e.orig_cl_ord_id, e.order_id, e.parent}
    return sorted(i for i in ids if i is not None)


def fix_line(now: datetime | None, body: str) -> str:
    """A message log line; without ``now``, no timestamp on the line and no SendingTime."""
    sent = "" if now is None else f"|52={log_stamp(now)[:-3]}"
    msg_type, _, rest = body.partition("|")
    raw = frame("FIX.4.4", f"{msg_type}|49=VENUE|56=GW|34=1{sent}|{rest}")
    return (f"{log_stamp(now)} : " if now is not None else "") + raw.decode("latin-1") + "\n"


def record(t: int | None, kind: str, **fields: Any) -> str:
    stamp = {} if t is None else {"ts": (T0 + timedelta(seconds=t)).isoformat()}
    return json.dumps({**stamp, "kind": kind, "event": "e", **fields}) + "\n"


def sources(relation: Relation) -> list[str]:
    return [e.source.rsplit("/", 1)[-1] for e in relation.entries]


# -- the same answer --------------------------------------------------------------------------


def test_every_order_of_the_samples() -> None:
    files = find_files(SAMPLES)
    for cl_ord_id in [*all_ids(files), "NO-SUCH", "NONE"]:
        assert_same(files, cl_ord_id)


@pytest.mark.skipif(not LOG4FIX.exists(), reason=f"{LOG4FIX} absent (shared data not here)")
def test_every_order_of_other_engines_logs() -> None:
    files = find_files(LOG4FIX)
    for cl_ord_id in all_ids(files):
        assert_same(files, cl_ord_id)


def test_family_spread_over_files_with_records_without_time(tmp_path: Path) -> None:
    # The parent's decision and the child's order record in one audit log, the child's
    # messages in the venue's message log, more records in a second audit log read last.
    # Records without a time sort at the time of the family record read before them, here
    # in another file; unrelated records between them change nothing.
    (tmp_path / "a.jsonl").write_text(
        record(0, "algo", parent="P", child="C1", slice="1/1")
        + record(1, "order", cl_ord_id="C1", parent="P", session="S")
        + record(2, "order", cl_ord_id="OTHER", session="S")
        + record(9, "order", cl_ord_id="OTHER2", session="S"))
    (tmp_path / "b.FIX.4.4-GW-VENUE.messages.current.log").write_text(
        fix_line(T0 + timedelta(seconds=3), "35=8|11=C1|37=V1|39=0|150=0")
        + fix_line(None, "35=8|11=C1|37=V1|39=1|150=F")  # no time: after the ack (3 s)
        + fix_line(T0 + timedelta(seconds=8), "35=8|11=OTHER|37=V9|39=0|150=0"))
    (tmp_path / "c.jsonl").write_text(
        record(None, "order", cl_ord_id="C1", order_id="V1", parent="P", session="S")
        + record(2, "order", cl_ord_id="C1", order_id="V1", parent="P", session="S")
        + record(None, "algo", parent="P", event_="done"))
    files = find_files(tmp_path)
    relation = assert_one(files, "C1")
    a, b, c = "a.jsonl", "b.FIX.4.4-GW-VENUE.messages.current.log", "c.jsonl"
    # c.jsonl:1 has no time: it follows b's message without a time, itself at 3 s (b:1);
    # c.jsonl:3 follows c.jsonl:2 (2 s).
    assert sources(relation) == [f"{a}:1", f"{a}:2", f"{c}:2", f"{c}:3", f"{b}:1", f"{b}:2",
                                 f"{c}:1"]
    assert relation.cl_ord_ids == {"C1"} and relation.parents == {"P"}  # P: an OrderID


def test_a_child_of_a_parent_named_by_its_orderid_shows_the_clients_order(
        tmp_path: Path) -> None:
    """The desk names a parent by its OrderID (P-1); the child's timeline sought only a
    ClOrdID P-1, so the client's NewOrderSingle and the parent's reports were missing."""
    (tmp_path / "a.jsonl").write_text(
        record(0, "order", cl_ord_id="CP", session="S", msg_type="D")
        + record(1, "order", cl_ord_id="CP", order_id="P-1", session="S")
        + record(2, "algo", parent="P-1", child="C1", cl_ord_id="C1")
        + record(3, "order", cl_ord_id="C1", order_id="V1", parent="P-1", session="D")
        + record(4, "order", cl_ord_id="OTHER", order_id="P-2", session="S"))
    relation = assert_one(find_files(tmp_path), "C1")
    assert sources(relation) == ["a.jsonl:1", "a.jsonl:2", "a.jsonl:3", "a.jsonl:4"]
    assert (relation.cl_ord_ids, relation.order_ids) == ({"C1", "CP"}, {"P-1", "V1"})


def test_a_parent_named_by_its_own_clordid_does_not_reach_another_sessions_order(
        tmp_path: Path) -> None:
    """Parent CP of session S, named by its ClOrdID in its child's records; session T has
    its own order CP. Following the parent's id again, in every session (its decisions
    name none), put T's order in S's timeline."""
    (tmp_path / "a.jsonl").write_text(
        record(0, "order", cl_ord_id="CP", order_id="P-1", session="S")
        + record(1, "algo", parent="CP", child="C1", cl_ord_id="C1")
        + record(2, "order", cl_ord_id="C1", order_id="V1", parent="CP", session="D")
        + record(3, "order", cl_ord_id="CP", order_id="T-9", session="T"))
    relations = {r.session: sources(r) for r in assert_same(find_files(tmp_path), "CP")}
    assert relations["S"] == ["a.jsonl:1", "a.jsonl:2", "a.jsonl:3"]
    # (T's order is T's; the child names "CP" without a session, which both could be)
    assert "a.jsonl:4" in relations["T"]


def test_gzip_files_are_read_twice(tmp_path: Path) -> None:
    # The family in a gzipped rotated log and the current plain one (read first: sorted by
    # name); the copy of a message in both is listed once, at the first read, naming the other.
    lines = [fix_line(T0 + timedelta(seconds=i), f"35=8|11=A{i // 2}|41=A{i // 2 - 1}|37=O1"
                      f"|39=0|150=5") for i in range(1, 9)]
    folder = tmp_path / "venue"
    folder.mkdir()
    with gzip.open(folder / "FIX.4.4-GW-VENUE.messages.log.1.gz", "wt",
                   encoding="latin-1") as f:
        f.write("".join(lines[:5]))
    (folder / "FIX.4.4-GW-VENUE.messages.log").write_text("".join(lines[4:]),
                                                          encoding="latin-1")
    files = find_files(tmp_path)
    relation = assert_one(files, "A3")
    assert len(relation.entries) == 8
    (dup,) = [e for e in relation.entries if e.also]
    assert dup.source.endswith(".messages.log:1") and dup.also == [f"{files[1]}:5"]


def test_one_message_in_three_files_via_the_command(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    raw = frame("FIX.4.4", "35=D|49=CLIENT1|56=VENUE|34=2|52=20260521-14:30:05.123|11=C1|"
                "54=1|38=100|55=AAPL|40=1|60=20260521-14:30:05.123")
    now = T0 + timedelta(seconds=5)
    (tmp_path / "audit.jsonl").write_text(
        record(1, "order", cl_ord_id="C0", session="x")
        + message_line(now, "FIX.4.4:VENUE->CLIENT1", "in", raw) + "\n")
    for side in (("CLIENT1", "VENUE"), ("VENUE", "CLIENT1")):
        log = SessionLog(tmp_path / side[0], "FIX.4.4", *side)
        log.message(now, raw)
        log.close()
        log.events_path.unlink()
    assert main(["audit", str(tmp_path), "--clordid", "C1", "--json"]) == 0
    (out,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Files are read in name order (CLIENT1/, VENUE/, audit.jsonl), all three at one time.
    files = find_files(tmp_path)
    assert out["source"] == f"{files[0]}:1" and out["raw"] == show_soh(raw)
    assert out["also"] == [f"{files[1]}:1", f"{tmp_path / 'audit.jsonl'}:2"]
    assert_same(files, "C1")


def test_warnings_are_those_of_the_first_pass_and_the_command_keeps_twenty(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.jsonl").write_text(
        record(1, "order", cl_ord_id="A1") + "not json\n" * 30
        + json.dumps({"ts": "yesterday", "kind": "order", "cl_ord_id": "A1"}) + "\n")
    (tmp_path / "b.log").write_text(fix_line(T0, "35=8|11=A1|37=O1|39=0|150=0")
                                    + "20260521-14:30:00 : 8=FIX.4.4\x019=5\x0135=D\x01\n")
    files = find_files(tmp_path)
    assert_same(files, "A1")
    reading, _ = read_related(files, "A1", max_warnings=20)
    assert len(reading.warnings) == 20 and reading.more_warnings == 12
    assert main(["audit", str(tmp_path), "--clordid", "A1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 21 and err[0].endswith("a.jsonl:2: skipped, not JSON: Expecting value: "
                                              "line 1 column 1 (char 0)")
    assert err[-1] == "gateway audit: ... and 12 more problems"


def test_a_log_appended_to_between_the_passes_is_read_as_at_the_first(
        tmp_path: Path) -> None:
    audit, log = tmp_path / "a.jsonl", tmp_path / "FIX.4.4-GW-VENUE.messages.current.log"
    audit.write_text(record(1, "order", cl_ord_id="A1", order_id="O1")
                     + record(2, "order", cl_ord_id="B1"))
    log.write_text(fix_line(T0, "35=8|11=A1|37=O1|39=0|150=0")
                   + fix_line(T0, "35=8|11=B1|37=O2|39=0|150=0"))
    files = find_files(tmp_path)
    (before,) = one_pass(files, "A1")[1]
    read_again = audit_two_passes._read_again

    def append_then_read_again(*args: Any) -> list[Entry]:
        with audit.open("a") as f:
            f.write(record(3, "order", cl_ord_id="A2", orig_cl_ord_id="A1", order_id="O1"))
        with log.open("a", encoding="latin-1") as f:
            f.write(fix_line(T0, "35=8|11=A2|41=A1|37=O1|39=0|150=5"))
        return read_again(*args)

    with mock.patch.object(audit_two_passes, "_read_again", append_then_read_again):
        _, (relation,) = read_related(files, "A1")
    assert [as_json(e) for e in relation.entries] == [as_json(e) for e in before.entries]
    assert sources(relation) == [log.name + ":1", "a.jsonl:1"]


# -- any log: hypothesis ----------------------------------------------------------------------

IDS = ("A", "B", "C", "P", "Q", "NONE", "0")
_id = st.sampled_from(IDS)
_maybe = st.none() | _id
_time = st.none() | st.integers(0, 20)


@st.composite
def _logs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(file, line) pairs, in writing order: audit records of every kind in two audit logs,
    messages in a message log and copied into the audit logs, junk."""
    out: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 25))):
        what = draw(st.sampled_from(("msg", "order", "algo", "other", "junk")))
        t = draw(_time)
        if what == "msg":
            cl, orig, order = draw(_maybe), draw(_maybe), draw(_maybe)
            body = "35=8" + "".join(f"|{tag}={v}" for tag, v in ((11, cl), (41, orig),
                                                                 (37, order)) if v)
            line = fix_line(None if t is None else T0 + timedelta(seconds=t), body)
            raw = line.split(" : ", 1)[-1].rstrip("\n").encode("latin-1")
            for where in draw(st.sets(st.sampled_from(("a", "b", "fix")), min_size=1)):
                if where == "fix":
                    out.append(("fix", line))
                else:
                    out.append((where, message_line(T0 + timedelta(seconds=t or 0), "S",
                                                    "in", raw) + "\n"))
        elif what == "junk":
            out.append((draw(st.sampled_from("ab")),
                        draw(st.sampled_from(("{not json\n", '{"no": "kind"}\n',
                                              record(1, "order", ts_="x")[:-2] + ', "ts": '
                                              '"bad", "cl_ord_id": "A"}\n')))))
        else:
            fields = {k: v for k in ("cl_ord_id", "orig_cl_ord_id", "order_id", "parent",
                                     "child") if (v := draw(_maybe)) is not None}
            kind = {"other": draw(st.sampled_from(("risk", "session")))}.get(what, what)
            out.append((draw(st.sampled_from("ab")), record(t, kind, **fields)))
    return out


def _write(folder: Path, lines: list[tuple[str, str]]) -> list[Path]:
    names = {"a": "a.jsonl", "b": "b.jsonl", "fix": "FIX.4.4-GW-VENUE.messages.current.log"}
    texts = {name: "" for name in names}
    for where, line in lines:
        texts[where] += line
    paths = []
    for where, text in texts.items():
        if text:
            (folder / names[where]).write_text(text, encoding="latin-1")
            paths.append(folder / names[where])
    return paths


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_logs(), st.booleans())
def test_two_passes_answer_as_one_on_any_log(lines: list[tuple[str, str]],
                                             shared_keys: bool) -> None:
    # With shared_keys, the compact index files every id under one of two keys: the first
    # pass then finds nearly every record, and the second must still keep only the family.
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write(Path(tmp), lines)
        key: Callable[[str], int] = (lambda v: 1 + len(v) % 2) if shared_keys else (
            audit_id_index._key)
        with mock.patch.object(audit_id_index, "_key", key):
            for cl_ord_id in (*IDS, "ABSENT"):
                assert_same(paths, cl_ord_id)


# -- memory -----------------------------------------------------------------------------------


def _write_day(folder: Path, orders: int) -> list[Path]:
    """``orders`` orders, each a NewOrderSingle and its ack, in an audit log and a message
    log: 4 records with an order id an order."""
    audit = folder / "audit.jsonl"
    log = SessionLog(folder, "FIX.4.4", "GW", "VENUE")
    with audit.open("w") as f:
        for i in range(orders):
            now = T0 + timedelta(milliseconds=i)
            for body in (f"35=D|49=GW|56=VENUE|34={2 * i + 1}|11=ORD{i}|38=100|55=AAPL|54=1",
                         f"35=8|49=VENUE|56=GW|34={2 * i + 2}|11=ORD{i}|37=V{i}|39=0|150=0"):
                raw = frame("FIX.4.4", body)
                f.write(message_line(now, "FIX.4.4:GW->VENUE", "out", raw) + "\n")
                log.message(now, raw)
    log.close()
    log.events_path.unlink()
    return find_files(folder)


def _peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_by_bytes_a_record_not_by_the_record(tmp_path: Path) -> None:
    # Peak traced memory for 1,000 and for 5,000 orders (4,000 and 20,000 records with ids):
    # what the 16,000 more records cost. Reading one order keeps 21 bytes a record and, while
    # it searches, an index of 8 bytes an id: under 150 bytes a record is a wide margin.
    # Keeping every record (an Entry with its message, its JSON record, its ids) costs over
    # a kilobyte each, measured here too so that the bound is seen to tell them apart.
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    n_small, n_large = 1_000, 5_000
    files_small, files_large = _write_day(small, n_small), _write_day(large, n_large)
    more = 4 * (n_large - n_small)
    per_record = (_peak(lambda: read_related(files_large, "ORD7"))
                  - _peak(lambda: read_related(files_small, "ORD7"))) / more
    kept = (_peak(lambda: read_entries(files_large))
            - _peak(lambda: read_entries(files_small))) / more
    assert per_record < 150 < 1000 < kept, (per_record, kept)
    (relation,) = read_related(files_large, "ORD7")[1]
    assert len(relation.entries) == 2  # each message once


def test_a_folder_includes_rotated_audit_logs(tmp_path: Path) -> None:
    """README's rotation (rename audit.jsonl, then SIGUSR2) leaves audit.jsonl.1 beside the new
    audit.jsonl; logrotate's dateext names it audit.jsonl-20261126. A folder's reading skipped
    both, and with them the order's records before the rotation."""
    # and logrotate's dateformat, or Python's TimedRotatingFileHandler: audit.jsonl.2026-11-28
    for name in ("audit.jsonl.1", "audit.jsonl-20261126", "audit.jsonl.2.gz", "audit.jsonl",
                 "audit.jsonl.2026-11-28", "audit.jsonl.2026-11-28_13-00"):
        (tmp_path / name).write_text("")
    (tmp_path / "store.bin.1").write_text("")  # not a log, rotated or not
    assert [p.name for p in find_files(tmp_path)] == [
        "audit.jsonl", "audit.jsonl-20261126", "audit.jsonl.1", "audit.jsonl.2.gz",
        "audit.jsonl.2026-11-28", "audit.jsonl.2026-11-28_13-00"]
