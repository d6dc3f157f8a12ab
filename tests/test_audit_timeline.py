"""``gateway audit PATH --clordid ID``: an order's life from JSON audit logs and FIX logs."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.audit import AuditLog, message_line
from gateway.audit_entries import find_files, read_entries
from gateway.audit_family import related
from gateway.cli import main
from gateway.msglog import SessionLog
from tests.audit_samples import FIX_NAME, JSON_NAME, SAMPLES, generate
from tests.fixpeer import frame

ROOT = Path(__file__).resolve().parents[1]

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixlogs"
KOD_BON = SHARED / "FIX.4.2-KOD-BON.messages.current.log"
LOG4FIX = SHARED / "log4fix-j"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def related_sources(path: Path, cl_ord_id: str) -> list[str]:
    reading = read_entries(find_files(path))
    (relation,) = related(reading.entries, cl_ord_id)
    return [e.source.rsplit("/", 1)[-1] for e in relation.entries]


def test_samples_match_their_generator(tmp_path: Path) -> None:
    generate(tmp_path)
    for name in (JSON_NAME, FIX_NAME):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


# -- chains in a FIX log ----------------------------------------------------------------------

CHAIN = [f"{FIX_NAME}:{n}" for n in (3, 4, 12, 13, 14, 16, 17)]  # A1 D, ack, G, ack, fill, F, ack


@pytest.mark.parametrize("start", ["A1", "A2", "A3"])
def test_chain_is_followed_both_ways_through_replace_and_cancel(start: str) -> None:
    assert related_sources(SAMPLES / FIX_NAME, start) == CHAIN


def test_placeholder_order_ids_link_nothing() -> None:
    # R1 and R2 were both rejected with OrderID NONE: neither pulls in the other.
    assert related_sources(SAMPLES / FIX_NAME, "R1") == [f"{FIX_NAME}:7", f"{FIX_NAME}:8"]


def test_timeline_of_a_replaced_and_cancelled_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, str(SAMPLES / FIX_NAME), "--clordid", "A1")
    assert code == 0 and err == ""
    assert lines[0].startswith("ClOrdID A1: 7 records; ClOrdIDs A1, A2, A3; OrderIDs O-1")
    body = lines[1:]
    expected = [
        ("DESK->BROKER in", "NewOrderSingle BUY 100 AAPL @ 10.00 LIMIT DAY", "[11=A1]"),
        ("BROKER->DESK out", "ExecutionReport NEW cum 0 avg 0 leaves 100", "[11=A1 37=O-1]"),
        ("DESK->BROKER in", "OrderCancelReplaceRequest BUY 200 AAPL @ 10.01 LIMIT",
         "[11=A2 41=A1 37=O-1]"),
        ("BROKER->DESK out", "ExecutionReport REPLACED (status NEW)", "[11=A2 41=A1 37=O-1]"),
        ("BROKER->DESK out",
         "ExecutionReport Fill 50 @ 10.01 cum 50 avg 10.01 leaves 150 (PARTIALLY_FILLED)",
         "[11=A2 37=O-1]"),
        ("DESK->BROKER in", "OrderCancelRequest BUY 200 AAPL", "[11=A3 41=A2 37=O-1]"),
        ("BROKER->DESK out", "ExecutionReport CANCELED cum 50 avg 10.01 leaves 0",
         "[11=A3 41=A2 37=O-1]"),
    ]
    assert len(body) == len(expected)
    for line, (who, what, ids), source in zip(body, expected, CHAIN, strict=True):
        assert line.startswith("2024-03-04 14:30:00.")
        assert source in line and who in line and what in line and line.endswith(ids), line


# -- algo parents and children in a JSON audit log --------------------------------------------


def test_parent_shows_its_children_and_decisions(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, str(SAMPLES), "--clordid", "PARENT1")
    assert code == 0
    assert "ClOrdIDs C1, C2, C2X, PARENT1, PARENT1C, PARENT1R; OrderIDs P-1, V-1, V-2" in (
        lines[0])
    text = "\n".join(lines[1:])
    for what in ("NewOrderSingle BUY 1000 AAPL @ 10.05 LIMIT",
                 "algo slice 1/2 size 500 @ 10.00 (schedule)",
                 "NewOrderSingle BUY 500 AAPL @ 10.00 LIMIT",
                 "ExecutionReport Fill 500 @ 10.00 cum 500 avg 10.00 leaves 0 (FILLED)",
                 "OrderCancelReplaceRequest BUY 800 AAPL",
                 "algo slice 2/2 size 300 @ 10.01 (catch-up)",
                 "algo cancel (client cancel)",
                 "OrderCancelRequest BUY 300 AAPL",
                 "algo done (cancelled by client)",
                 "order canceled status=CANCELED cum=500"):
        assert what in text, what
    assert "OTHER1" not in text and "MSFT" not in text
    # Sorted by time: the sample was written in time order, one record every 10 ms.
    stamps = [line[:26] for line in lines[1:]]
    assert stamps == sorted(stamps) and len(lines) - 1 == 25


def test_a_child_shows_its_parent_but_not_its_siblings(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, str(SAMPLES / JSON_NAME), "--clordid", "C1")
    assert code == 0
    text = "\n".join(lines[1:])
    assert "[11=C1]" in text and "11=PARENT1]" in text and "algo done" in text
    assert "C2" not in text and "slice 2/2" not in text


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, str(SAMPLES), "--clordid", "C2X", "--json")
    assert code == 0
    records = [json.loads(line) for line in lines]
    children = [r for r in records if r["cl_ord_id"] in ("C2", "C2X")]
    assert [r["kind"] for r in children] == ["algo", "msg", "order", "msg", "algo", "msg",
                                            "msg", "order"]
    cancel = next(r for r in children if r["raw"] and "|35=F|" in r["raw"])
    assert cancel["orig_cl_ord_id"] == "C2" and cancel["what"] == (
        "OrderCancelRequest BUY 300 AAPL")
    assert all(r["source"].startswith(str(SAMPLES)) for r in records)


# -- errors -----------------------------------------------------------------------------------


def test_nothing_found_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, str(SAMPLES), "--clordid", "NO-SUCH-ORDER")
    assert code == 1 and lines == []
    assert "no record mentions ClOrdID 'NO-SUCH-ORDER'" in err and "2 files" in err


def test_missing_path_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope"), "--clordid", "A1")
    assert code == 2 and "nope: no such file or folder" in err


def test_bad_lines_are_reported_with_file_and_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = (SAMPLES / JSON_NAME).read_text().splitlines()
    lines[3] = lines[3][:40]  # a torn line, as a crash mid-write leaves
    (tmp_path / "torn.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(SAMPLES / FIX_NAME, tmp_path / "broker.log")
    with (tmp_path / "broker.log").open("a") as f:
        f.write("20240304-14:31:00.000000 : 8=FIX.4.4\x019=5\x0135=D\x0111=A9\x0110=000\x01\n")
    code, out, err = run(capsys, str(tmp_path), "--clordid", "PARENT1")
    assert code == 0 and len(out) > 1
    assert f"{tmp_path / 'torn.jsonl'}:4: skipped, not JSON" in err
    assert f"{tmp_path / 'broker.log'}: 1 unreadable messages skipped (first: line 18" in err


def test_unreadable_file_names_the_file(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    (tmp_path / "bad.log.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    code, _, err = run(capsys, str(tmp_path), "--clordid", "A1")
    assert code == 2 and "bad.log.gz: cannot read" in err
    assert "no record mentions ClOrdID 'A1'" in err  # (nothing else to read)


def test_folders_are_read_recursively_with_gzip(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    nested = tmp_path / "2024" / "03"
    nested.mkdir(parents=True)
    with gzip.open(nested / "broker.log.gz", "wb") as f:
        f.write((SAMPLES / FIX_NAME).read_bytes())
    (nested / "store.bin").write_bytes((SAMPLES / FIX_NAME).read_bytes())  # not a log name
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "A2")
    assert code == 0 and len(lines) == 1 + 7
    assert all("broker.log.gz:" in line for line in lines[1:])


# -- captured logs of other engines (../shared/data) ------------------------------------------


@pytest.mark.skipif(not KOD_BON.exists(), reason=f"{KOD_BON} absent (shared data not here)")
def test_quickfix_log_of_another_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, str(KOD_BON), "--clordid", "ORTT1_10_B1519413384418099000")
    assert code == 0 and err == ""
    body = lines[1:]
    assert len(body) == 4
    assert "BON->KOD in" in body[0] and "NewOrderSingle BUY 10 DEMO @ 99.0 LIMIT" in body[0]
    assert "KOD->BON out" in body[1] and "ExecutionReport NEW" in body[1]
    assert "OrderCancelRequest BUY DEMO" in body[2] and (
        "41=ORTT1_10_B1519413384418099000" in body[2])
    assert "ExecutionReport CANCELED" in body[3]
    assert body[0].startswith("2018-02-23 19:16:24.428523")
    assert f"{KOD_BON}:11 " in body[0]


@pytest.mark.skipif(not LOG4FIX.exists(), reason=f"{LOG4FIX} absent (shared data not here)")
def test_log_layouts_of_other_engines(capsys: pytest.CaptureFixture[str]) -> None:
    # Pipe-delimited, no trailing delimiter, timestamps of another format, junk after the
    # message, messages split across lines: the same order is found in each file having it.
    # Two of the files hold different NewOrderSingles for ClOrdID 1 (BodyLength 129 and
    # 117): both are listed.
    code, lines, _ = run(capsys, str(LOG4FIX), "--clordid", "1")
    assert code == 0
    assert sum("NewOrderSingle BUY 100 AAPL" in line for line in lines) == 2
    assert any("ExecutionReport" in line and "37=500" in line for line in lines)
    # Two files hold the same ExecutionReport, byte for byte: listed once, naming both.
    code, lines, _ = run(capsys, str(LOG4FIX), "--clordid", "103-107515")
    done = [line for line in lines if "ExecutionReport DONE_FOR_DAY" in line]
    assert code == 0 and len(done) == 1
    assert re.search(r"TargetMessagePerLine\.log:\d+ .*\(also \S*TargetMessagePerLine"
                     r"NoExtraLoggingInfo\.log:\d+\)$", done[0]), done[0]


def test_a_message_in_the_audit_log_and_both_message_logs_is_listed_once(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A run directory holds each message three times: the audit log's msg record, the
    # sender's message log and the receiver's. The timeline lists it once.
    now = datetime(2026, 5, 21, 14, 30, 5, 123456, tzinfo=UTC)
    raw = frame("FIX.4.4", "35=D|49=CLIENT1|56=VENUE|34=2|52=20260521-14:30:05.123|11=C1|"
                "54=1|38=100|55=AAPL|40=1|60=20260521-14:30:05.123")
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        audit.order(now, "accepted", "VENUE-CLIENT1", cl_ord_id="C1", symbol="AAPL")
        audit._writer.msg(message_line(now, "FIX.4.4:VENUE->CLIENT1", "in", raw))
    for side in (("CLIENT1", "VENUE"), ("VENUE", "CLIENT1")):
        log = SessionLog(tmp_path / side[0], "FIX.4.4", *side)
        log.message(now, raw)
        log.close()
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "C1")
    orders = [line for line in lines if "NewOrderSingle BUY 100 AAPL" in line]
    assert code == 0 and len(orders) == 1, lines
    places = re.findall(r"\S+\.(?:log|jsonl):\d+", orders[0])
    assert sorted(p.rsplit("/", 2)[-2] if "messages" in p else p.rsplit("/", 1)[-1]
                  for p in places) == ["CLIENT1", "VENUE", "audit.jsonl:2"], orders[0]
    assert any("order accepted" in line for line in lines)


def test_truncated_gzip_names_file_and_line_and_the_other_files_are_read(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A file cut short (an old rotated log) loses nothing else: the timeline from what
    could be read is printed, the problem named with its file and line, and the exit status
    (2) says the timeline may lack records."""
    data = gzip.compress((SAMPLES / FIX_NAME).read_bytes() * 50)
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) * 2 // 3])
    code, lines, err = run(capsys, str(tmp_path / "cut.log.gz"), "--clordid", "A1")
    assert code == 2 and len(lines) == 1 + 7  # what it held before the cut
    assert re.search(r"cut\.log\.gz:\d+: cannot read: Compressed file ended", err), err
    shutil.copy(SAMPLES / FIX_NAME, tmp_path / "broker.log")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "A2")
    assert code == 2 and len(lines) == 1 + 7
    assert all("broker.log:" in line for line in lines[1:])
    assert "cut.log.gz" in err and "missing from the timeline" in err


def test_event_logs_in_a_folder_are_not_read_as_message_logs(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An event log quotes what a peer sent (a refused stranger's bytes): a message in it
    is no record of a message, so a folder's event logs are left out."""
    log = tmp_path / "log"
    log.mkdir()
    fake = "8=FIX.4.4|9=14|35=D|11=FAKE1|10=207|"
    (log / "acceptor.event.current.log").write_text(
        f"20261127-23:50:00.000000 : refused 127.0.0.1:5555: not_a_logon ({fake})\n")
    (log / "FIX.4.4-VENUE-CLIENT1.event.current.log").write_text(
        f"20261127-23:50:01.000000 : garbled: {fake}\n")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "FAKE1")
    assert code == 1 and lines == [] and "no log files under" in err
    shutil.copy(SAMPLES / FIX_NAME, log / "FIX.4.4-VENUE-CLIENT1.messages.current.log")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "FAKE1")
    assert code == 1 and lines == [] and "unreadable" not in err
    assert "no record mentions ClOrdID 'FAKE1'" in err
    assert run(capsys, str(tmp_path), "--clordid", "A2")[0] == 0  # the message log is read


# -- one ClOrdID in several sessions ----------------------------------------------------------


def two_clients_log(path: Path) -> None:
    """The venue's audit log: CLIENT1's X1, replaced by X2, and CLIENT2's own X1. Each
    client's messages are numbered by its session; the OrderIDs are the venue's."""
    now = datetime(2026, 5, 21, 14, 30, 0, tzinfo=UTC)
    script = [
        ("CLIENT1", "in", "35=D|11=X1|21=1|38=100|40=2|44=10.00|54=1|55=AAPL|60=20260521-14:30:00"),
        ("CLIENT1", "out", "35=8|6=0|11=X1|14=0|17=E1|37=V1|39=0|54=1|55=AAPL|150=0|151=100"),
        ("CLIENT2", "in", "35=D|11=X1|21=1|38=7|40=1|54=2|55=MSFT|60=20260521-14:30:00"),
        ("CLIENT2", "out", "35=8|6=0|11=X1|14=0|17=E2|37=V2|39=0|54=2|55=MSFT|150=0|151=7"),
        ("CLIENT1", "in", "35=G|11=X2|21=1|37=V1|38=200|40=2|41=X1|44=10.01|54=1|55=AAPL"
                          "|60=20260521-14:30:01"),
        ("CLIENT1", "out", "35=8|6=0|11=X2|14=0|17=E3|37=V1|39=0|41=X1|54=1|55=AAPL|150=5"
                           "|151=200"),
    ]
    with AuditLog(path) as audit:
        for i, (client, direction, body) in enumerate(script):
            at = now.replace(second=i)
            sender, target = (client, "VENUE") if direction == "in" else ("VENUE", client)
            raw = frame("FIX.4.4", f"{body[:4]}|49={sender}|56={target}|34={i + 1}"
                                   f"|52=20260521-14:30:0{i}{body[4:]}")
            audit._writer.msg(message_line(at, f"FIX.4.4:VENUE->{client}", direction, raw))


def test_one_clordid_of_two_sessions_is_two_orders(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    # CLIENT1's X1 (replaced by X2) and CLIENT2's X1 were one timeline of 6 records
    two_clients_log(tmp_path / "audit.jsonl")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "X1")
    assert code == 0 and err == ""
    assert lines[0] == ("ClOrdID X1 was used by 2 sessions, each its own order (--session NAME "
                        "shows one): FIX.4.4:VENUE->CLIENT1, FIX.4.4:VENUE->CLIENT2")
    heads = [i for i, line in enumerate(lines) if line.startswith("Session ")]
    assert [lines[i] for i in heads] == [
        "Session FIX.4.4:VENUE->CLIENT1: ClOrdID X1: 4 records; ClOrdIDs X1, X2; OrderIDs V1",
        "Session FIX.4.4:VENUE->CLIENT2: ClOrdID X1: 2 records; ClOrdIDs X1; OrderIDs V2"]
    first, second = lines[heads[0] + 1:heads[1] - 1], lines[heads[1] + 1:]
    assert len(first) == 4 and all("CLIENT1" in line for line in first)
    assert "OrderCancelReplaceRequest BUY 200 AAPL" in first[2]
    assert len(second) == 2 and all("CLIENT2" in line for line in second)
    assert "NewOrderSingle SELL 7 MSFT" in second[0] and "[11=X1 37=V2]" in second[1]


@pytest.mark.parametrize("name", ["CLIENT2", "FIX.4.4:VENUE->CLIENT2"])
def test_session_option_picks_one_sessions_order(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, name: str) -> None:
    two_clients_log(tmp_path / "audit.jsonl")
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "X1", "--session", name)
    assert code == 0
    assert lines[0] == ("ClOrdID X1: 2 records; ClOrdIDs X1; OrderIDs V2; "
                        "session FIX.4.4:VENUE->CLIENT2")
    assert len(lines) == 3 and "CLIENT1" not in "\n".join(lines)
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "X1", "--session", name,
                         "--json")
    records = [json.loads(line) for line in lines]
    assert code == 0 and len(records) == 2
    assert {r["order_session"] for r in records} == {"FIX.4.4:VENUE->CLIENT2"}
    # the replacement's id is CLIENT1's only
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "X2", "--session", name)
    assert code == 1 and lines == []
    assert ("no order of session " f"{name!r} has ClOrdID 'X2' (sessions that used it: "
            "FIX.4.4:VENUE->CLIENT1)") in err


def test_sessions_of_a_captured_log_are_told_by_comp_ids(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    # Another engine's log holding two sessions, each with its own order 1 and the broker's
    # OrderIDs counted per session: two orders, however the ids match.
    lines = []
    for i, (sender, target, body) in enumerate([
            ("DESK1", "BROKER", "35=D|11=1|21=1|38=100|40=1|54=1|55=AAPL|60=20240304-14:30:00"),
            ("DESK2", "BROKER", "35=D|11=1|21=1|38=5|40=1|54=2|55=IBM|60=20240304-14:30:00"),
            ("BROKER", "DESK1", "35=8|6=0|11=1|14=0|17=A|37=1|39=0|54=1|55=AAPL|150=0|151=100"),
            ("BROKER", "DESK2", "35=8|6=0|11=1|14=0|17=B|37=1|39=0|54=2|55=IBM|150=0|151=5"),
            ("DESK2", "BROKER", "35=F|11=2|37=1|38=5|41=1|54=2|55=IBM|60=20240304-14:30:01"),
    ]):
        raw = frame("FIX.4.4", f"{body[:4]}|49={sender}|56={target}|34={i + 1}"
                               f"|52=20240304-14:30:0{i}{body[4:]}")
        lines.append(f"20240304-14:30:0{i}.000 : {raw.decode()}\n")
    (tmp_path / "capture.log").write_text("".join(lines))
    code, out, _ = run(capsys, str(tmp_path), "--clordid", "1")
    assert code == 0
    assert [line for line in out if line.startswith("Session ")] == [
        "Session FIX.4.4:BROKER<->DESK1: ClOrdID 1: 2 records; ClOrdIDs 1; OrderIDs 1",
        "Session FIX.4.4:BROKER<->DESK2: ClOrdID 1: 3 records; ClOrdIDs 1, 2; OrderIDs 1"]
    code, out, _ = run(capsys, str(tmp_path), "--clordid", "1", "--session", "DESK1")
    assert code == 0 and len(out) == 3 and "IBM" not in "\n".join(out)
    assert out[0].endswith("; session FIX.4.4:BROKER<->DESK1")


def test_linked_folders_and_files_are_read_once(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    """A symlinked log folder was skipped without a word; a file reached twice (a link to
    it beside it, or overlapping PATHs) was read twice, every record listed twice. A link
    loop still ends."""
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(SAMPLES / FIX_NAME, real / FIX_NAME)
    (real / "copy.log").symlink_to(real / FIX_NAME)
    (real / "loop").symlink_to(real)
    top = tmp_path / "top"
    top.mkdir()
    (top / "today").symlink_to(real)
    code, lines, _ = run(capsys, str(top), "--clordid", "A2")
    assert code == 0 and lines
    once = lines
    code, lines, _ = run(capsys, str(top), str(real / FIX_NAME), "--clordid", "A2")
    assert code == 0 and lines == once
    assert len({line.split()[2].rsplit(":", 1)[0] for line in lines[1:]}) == 1  # one file
    assert len(set(lines)) == len(lines)  # each record once


def test_an_id_typed_with_other_than_ascii_is_found(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    """Logs' bytes are read as latin-1: 'ordé1' typed (UTF-8) was never found."""
    line = frame("FIX.4.4", "35=D|49=A|56=B|34=1|52=20240304-14:30:00.000|11=ordé1|55=X|54=1")
    (tmp_path / "a.log").write_bytes(b"20240304-14:30:00.000000 : " + line + b"\n")
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "ordé1")
    assert code == 0 and len(lines) == 2


def test_record_lines_show_values_as_written(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """A record's values and ids were its UTF-8 bytes read as latin-1 ('ordÃ©1', 'æ\\xa0ª')
    in the lines and in --json; a byte that is no UTF-8 still prints (as latin-1)."""
    order = frame("FIX.4.4", "35=D|49=A|56=B|34=1|52=20240304-14:30:00.000|11=ordé1|55=株式"
                             "|54=1|38=5|40=2|44=7")
    report = frame("FIX.4.4", "35=8|49=B|56=A|34=1|52=20240304-14:30:00.001|11=ordé1"
                              "|37=V\udce9|17=E|150=8|39=8|58=prix \udce9")  # 0xE9, no UTF-8
    (tmp_path / "a.log").write_bytes(b"".join(
        b"20240304-14:30:00.000000 : " + raw + b"\n" for raw in (order, report)))
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "ordé1")
    assert code == 0 and len(lines) == 3
    assert lines[1].endswith("NewOrderSingle BUY 5 株式 @ 7 LIMIT  [11=ordé1]"), lines[1]
    assert lines[2].endswith("ExecutionReport REJECTED 'prix é'  [11=ordé1 37=Vé]"), lines[2]
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "ordé1", "--json")
    first, second = (json.loads(line) for line in lines)
    assert (first["cl_ord_id"], first["what"]) == ("ordé1", "NewOrderSingle BUY 5 株式 @ 7 LIMIT")
    assert "|11=ordé1|55=株式|" in first["raw"]
    assert (second["cl_ord_id"], second["order_id"]) == ("ordé1", "Vé")


def test_a_time_utc_cannot_hold_is_shown_as_written(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    """ts 0001-01-01T00:00:00+01:00 is before UTC's first day: a traceback (OverflowError)."""
    (tmp_path / "a.jsonl").write_text(json.dumps(
        {"ts": "0001-01-01T00:00:00+01:00", "kind": "order", "event": "new",
         "cl_ord_id": "X1"}) + "\n")
    code, lines, _ = run(capsys, str(tmp_path), "--clordid", "X1")
    assert code == 0 and lines[1].startswith("0001-01-01T00:00:00+01:00")


def test_a_folder_that_cannot_be_read_is_named_and_the_status_is_2(tmp_path: Path) -> None:
    """It was skipped without a word: 'no record mentions' and exit 1, as if nothing were
    missing. (Run without the capabilities that let root read any folder.)"""
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(SAMPLES / FIX_NAME, locked / FIX_NAME)
    shutil.copy(SAMPLES / FIX_NAME, tmp_path / FIX_NAME)
    locked.chmod(0)
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps",
            "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    if drop and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: every folder is readable")
    try:
        proc = subprocess.run([*drop, sys.executable, "-m", "gateway.cli", "audit",
                               str(tmp_path), "--clordid", "A2"], capture_output=True,
                              text=True, cwd=ROOT, timeout=60)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert f"{locked}: cannot read the folder: Permission denied" in proc.stderr
    assert proc.stdout.startswith("ClOrdID A2:")  # what could be read is shown


def test_nothing_found_beside_unreadable_messages_is_not_a_clean_no(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A crash cut the only message naming R1: 'no record mentions' and exit 1 said the
    order was never there."""
    line = frame("FIX.4.4", "35=D|49=A|56=B|34=1|52=20240304-14:30:00.000|11=R1|55=X|54=1")
    (tmp_path / "a.log").write_bytes(b"20240304-14:30:00.000000 : " + line[:-20] + b"\n")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "R1")
    assert code == 2 and lines == []
    assert "no readable record mentions ClOrdID 'R1'" in err


def two_days_log(path: Path, cl: str = "X1") -> None:
    """The venue's audit log: CLIENT1's X1 (``cl``) on 21 May, filled, and another X1 of
    CLIENT1's on 22 May (a ClOrdID is unique within a trading day only), canceled."""
    days = [(datetime(2026, 5, 21, 14, 30, 0, tzinfo=UTC), "V1", "F|32=100|31=10", "2", "0",
             "100"),
            (datetime(2026, 5, 22, 14, 30, 0, tzinfo=UTC), "V7", "4", "4", "100", "0")]
    seq = 0
    with AuditLog(path) as audit:
        for now, order_id, exec_type, status, leaves, cum in days:
            stamp = now.strftime("%Y%m%d-%H:%M:%S")
            for direction, body in (
                    ("in", f"35=D|11={cl}|21=1|38=100|40=2|44=10.00|54=1|55=AAPL|60={stamp}"),
                    ("out", f"35=8|6={10 if cum != '0' else 0}|11={cl}|14={cum}|"
                            f"17=E{order_id}|37={order_id}|39={status}|54=1|55=AAPL|"
                            f"150={exec_type}|151={leaves}")):
                seq += 1
                sender, target = ("CLIENT1", "VENUE") if direction == "in" else (
                    "VENUE", "CLIENT1")
                raw = frame("FIX.4.4", f"{body[:4]}|49={sender}|56={target}|34={seq}"
                                       f"|52={stamp}{body[4:]}")
                audit._writer.msg(message_line(now, "FIX.4.4:VENUE->CLIENT1", direction,
                                               raw))


@pytest.mark.parametrize("cl", ["X1", "é1"])
def test_a_reused_clordid_in_the_chain_of_the_one_asked_for_is_noted(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, cl: str) -> None:
    """X3 cancels the first day's X1; the second day's X1 is in X3's timeline too (through
    X1), and only the ClOrdID asked for was looked at for reuse. A chain's ClOrdID of other
    than ASCII is named as written (it was 'Ã©1': the logs' bytes read as latin-1)."""
    lines = []
    for day, body in (
            (21, "35=D|49=CLIENT1|56=VENUE|34=1|11=X1|54=1|38=100|40=2|44=10|55=AAPL"),
            (21, "35=8|49=VENUE|56=CLIENT1|34=1|11=X1|37=V1|17=E1|150=0|39=0|54=1|55=AAPL"),
            (21, "35=F|49=CLIENT1|56=VENUE|34=2|11=X3|41=X1|37=V1|54=1|55=AAPL"),
            (21, "35=8|49=VENUE|56=CLIENT1|34=2|11=X3|41=X1|37=V1|17=E2|150=4|39=4|54=1"
                 "|55=AAPL"),
            (22, "35=D|49=CLIENT1|56=VENUE|34=1|11=X1|54=1|38=100|40=2|44=10|55=AAPL"),
            (22, "35=8|49=VENUE|56=CLIENT1|34=1|11=X1|37=V7|17=E7|150=0|39=0|54=1|55=AAPL")):
        stamp = f"202605{day}-14:30:00.000"
        raw = frame("FIX.4.4", body.replace("|34=", f"|52={stamp}|34=", 1).replace("X1", cl))
        lines.append(f"{stamp}000 : ".encode() + raw + b"\n")
    (tmp_path / "FIX.4.4-VENUE-CLIENT1.messages.current.log").write_bytes(b"".join(lines))
    code, out, err = run(capsys, str(tmp_path), "--clordid", "X3")
    assert code == 0 and len(out) == 7
    assert out[0] == (f"ClOrdID X3: 6 records; ClOrdIDs {', '.join(sorted(('X3', cl)))}; "
                      "OrderIDs V1, V7; session FIX.4.4:VENUE->CLIENT1")
    assert err == (f"gateway audit: ClOrdID {cl!r} named orders on 2 days in session "
                   "FIX.4.4:VENUE->CLIENT1 (2026-05-21: OrderID V1; 2026-05-22: OrderID V7); "
                   "the timeline shows them together, --date YYYY-MM-DD shows one day's\n")


def test_date_is_the_utc_date_of_a_log_written_in_local_time(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """01:00 on 22 May at +02:00 is 23:00 on 21 May UTC: --date 2026-05-22 showed it."""
    raw = frame("FIX.4.4", "35=D|49=CLIENT1|56=VENUE|34=1|52=20260521-23:00:00.000|11=T1"
                           "|54=1|38=1|40=1|55=AAPL")
    (tmp_path / "local.log").write_bytes(b"2026-05-22 01:00:00.000+02:00 : " + raw + b"\n")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "T1", "--date", "2026-05-21")
    assert code == 0 and len(lines) == 2 and "2026-05-21 23:00:00" in lines[1], lines
    code, lines, err = run(capsys, str(tmp_path), "--clordid", "T1", "--date", "2026-05-22")
    assert code == 1 and lines == [] and "no record of 2026-05-22" in err


@pytest.mark.parametrize("cl", ["X1", "é1"])  # é1: its records (read as latin-1) were
def test_a_clordid_used_again_on_a_later_day_is_noted_and_date_picks_one(  # compared with
        capsys: pytest.CaptureFixture[str], tmp_path: Path, cl: str) -> None:  # it as typed
    """Both days' X1 were one order's timeline, without a word. The reuse is noted on
    stderr, and --date shows one day's order."""
    two_days_log(tmp_path / "audit.jsonl", cl)
    code, lines, err = run(capsys, str(tmp_path), "--clordid", cl)
    assert code == 0 and len(lines) == 5
    assert err == (f"gateway audit: ClOrdID {cl!r} named orders on 2 days in session "
                   "FIX.4.4:VENUE->CLIENT1 (2026-05-21: OrderID V1; 2026-05-22: OrderID V7); "
                   "the timeline shows them together, --date YYYY-MM-DD shows one day's\n")
    code, lines, err = run(capsys, str(tmp_path), "--clordid", cl, "--date", "2026-05-22")
    assert code == 0 and err == ""
    assert lines[0] == (f"ClOrdID {cl}: 2 records; ClOrdIDs {cl}; OrderIDs V7; "
                        "session FIX.4.4:VENUE->CLIENT1")
    assert all("2026-05-22" in line for line in lines[1:]) and len(lines) == 3
    code, lines, err = run(capsys, str(tmp_path), "--clordid", cl, "--date", "2026-05-23")
    assert code == 1 and lines == []
    assert err == f"gateway audit: no record of 2026-05-23 mentions ClOrdID {cl!r}\n"
    with pytest.raises(SystemExit) as exit_:
        run(capsys, str(tmp_path), "--clordid", cl, "--date", "22/05/2026")
    assert exit_.value.code == 2
    assert "'22/05/2026' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
