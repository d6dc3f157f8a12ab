"""``gateway replay``: one side of a FIX log played to a running venue over TCP, its answers
compared with the other side of the log; plus the pure planning and comparison rules."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.log_replay import (
    Answer,
    Expected,
    compare,
    field_differences,
    plan,
    rewrite_fields,
    tally,
)
from gateway.replay_wire import parse_target
from tests.fixpeer import frame
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]
KOD_BON = (Path(__file__).resolve().parents[2] / "shared" / "data" / "fixlogs"
           / "FIX.4.2-KOD-BON.messages.current.log")
needs_shared = pytest.mark.skipif(
    not KOD_BON.is_file(), reason=f"{KOD_BON} not present (shared data is not part of a clone)")

C, V = "CLIENT1", "VENUE"
# (sender, body after the header) of a FIX 4.4 session as the venue would log it: the client's
# orders and the venue's answers. Times are 100 ms apart.
SCRIPT: list[tuple[str, str]] = [
    (C, "35=A|98=0|108=30|141=Y"),
    (V, "35=A|98=0|108=30|141=Y"),
    (C, "35=D|11=o1|21=1|38=100|40=2|44=10|54=1|55=AAPL|59=0|60=20240102-10:00:00.000"),
    (V, "35=8|6=0|11=o1|14=0|17=E1|37=X1|38=100|39=0|54=1|55=AAPL|150=0|151=100"),
    (C, "35=0"),
    (C, "35=D|11=o2|21=1|38=40|40=2|44=10|54=2|55=AAPL|59=0|60=20240102-10:00:00.000"),
    (V, "35=8|6=0|11=o2|14=0|17=E2|37=X2|38=40|39=0|54=2|55=AAPL|150=0|151=40"),
    (V, "35=8|6=10|11=o2|14=40|17=E3|31=10|32=40|37=X2|38=40|39=2|54=2|55=AAPL|150=F|151=0"),
    (V, "35=8|6=10|11=o1|14=40|17=E4|31=10|32=40|37=X1|38=100|39=1|54=1|55=AAPL|150=F|151=60"),
    (C, "35=F|11=o3|37=X1|38=100|41=o1|54=1|55=AAPL|60=20240102-10:00:00.000"),
    # Intentionally wrong: the venue reports the cancel with CumQty 40, not 99.
    (V, "35=8|6=10|11=o3|14=99|17=E5|37=X1|38=100|39=4|41=o1|54=1|55=AAPL|150=4|151=0"),
    (C, "35=D|11=o4|21=1|38=5|40=2|44=10|54=1|55=ZZZZ|59=0|60=20240102-10:00:00.000"),
    (V, "35=8|6=0|11=o4|14=0|17=E6|37=NONE|38=5|39=8|54=1|55=ZZZZ|58=unknown symbol|150=8"
        "|151=0"),
]
WRONG_LINE = 11  # the line of the CumQty 99 answer


def write_log(path: Path, script: list[tuple[str, str]], begin: str = "FIX.4.4") -> Path:
    """``script`` as a QuickFIX message log (``YYYYMMDD-HH:MM:SS.fff : 8=FIX...``, SOH)."""
    seqs = {C: 1, V: 1}
    lines = []
    for i, (sender, body) in enumerate(script):
        target = V if sender == C else C
        msg_type, _, rest = body.partition("|")
        stamp = f"20240102-10:00:{i // 10:02d}.{i % 10}00"
        header = f"{msg_type}|34={seqs[sender]}|49={sender}|52={stamp}|56={target}"
        seqs[sender] += 1
        raw = frame(begin, header + ("|" + rest if rest else ""))
        lines.append(f"{stamp} : ".encode() + raw + b"\n")
    path.write_bytes(b"".join(lines))
    return path


@pytest.fixture(scope="module")
def venue_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path_factory.mktemp("venue"))
    yield port
    assert stop_gateway(proc) == 0, "the venue crashed"


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["replay", *args, "--json", "--settle", "2"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize("prefix", ["syn-", "é-syn-"])  # typed with other than ASCII too
def test_synthetic_log_counts_and_the_wrong_answer(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str], prefix: str
) -> None:
    log = write_log(tmp_path / "client.log", SCRIPT)
    code, s = replay(capsys, str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "max",
                     "--clordid-prefix", prefix)
    assert code == 0, s
    assert s["side"] == C and s["other"] == V
    assert (s["to_play"], s["sent"], s["skipped_session"]) == (4, 4, 2)
    assert s["sent_by_type"] == {"D": 3, "F": 1}
    assert (s["expected"], s["received"], s["matched"]) == (6, 6, 6)
    assert (s["equal"], s["missing"], s["unexpected"]) == (5, 0, 0)
    [diff] = s["first_differences"]
    assert diff["where"] == f"{log}:{WRONG_LINE}" and diff["key"] == "o3"
    assert diff["details"] == ["CumQty(14): expected 99, got 40"]


def test_paced_replay_and_text_report(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "client.log", SCRIPT)
    code = main(["replay", str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "10x",
                 "--clordid-prefix", "paced-", "--settle", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "replayed 4 of 4 messages from CLIENT1" in out
    assert "matched 6 (equal 5), missing 0, unexpected 0, differences 1" in out
    assert f"{log}:{WRONG_LINE}: o3: differs: CumQty(14): expected 99, got 40" in out


def test_progress_lines_while_a_paced_replay_runs(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # at 1x a day's log runs for hours: --progress says where it is on stderr (a terminal
    # gets one line redrawn), and the last line has every message sent and answered
    import gateway.cmd_replay

    monkeypatch.setattr(gateway.cmd_replay, "PROGRESS_EVERY", 0.3)
    log = write_log(tmp_path / "client.log", SCRIPT)
    code = main(["replay", str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "1x",
                 "--clordid-prefix", "prog-", "--settle", "1", "--progress"])
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    lines = [line for line in err if line.startswith("replay: ")]
    assert len(lines) >= 3, err  # the log spans 1.2 s at 1x
    sent = [int(line.split()[1].split("/")[0]) for line in lines]
    assert sent == sorted(sent) and all(line.split()[1].endswith("/4") for line in lines)
    assert lines[-1].startswith("replay: 4/4 sent (100%), 6 answers, "), lines[-1]


def test_missing_and_unexpected_answers(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    # The log lacks the venue's fill of o1 and has an answer the venue never sends.
    script = [item for item in SCRIPT if "17=E4" not in item[1]]
    script.append((V, "35=8|6=0|11=o4|14=0|17=E7|37=NONE|38=5|39=0|54=1|55=ZZZZ|150=0|151=5"))
    log = write_log(tmp_path / "client.log", script)
    code, s = replay(capsys, str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "max",
                     "--clordid-prefix", "mu-")
    assert code == 0
    assert (s["missing"], s["unexpected"]) == (1, 1)
    kinds = {(d["kind"], d["key"]): d["where"] for d in s["first_differences"]}
    assert kinds[("missing", "o4")] == f"{log}:{len(script)}"
    assert kinds[("unexpected", "o1")] == f"{log}:3"  # the order the answer is about


def test_unreachable_acceptor_is_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "client.log", SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    assert main(["replay", str(log), "--to", f"127.0.0.1:{port}", "--speed", "max"]) == 2
    assert f"cannot connect to 127.0.0.1:{port}" in capsys.readouterr().err


def test_unreadable_log_names_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "client.log", SCRIPT)
    lines = log.read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].replace(b"\x0110=", b"\x0110=9")  # a broken CheckSum on line 6
    log.write_bytes(b"".join(lines))
    assert main(["replay", str(log), "--to", "127.0.0.1:9", "--speed", "max"]) == 2
    assert f"{log}:6:" in capsys.readouterr().err


def test_refused_logon_is_exit_2(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "client.log", SCRIPT)
    code = main(["replay", str(log), "--to", f"127.0.0.1:{venue_port}", "--sender", "NOBODY"])
    assert code == 2
    assert "NOBODY->VENUE" in capsys.readouterr().err


@needs_shared
def test_kod_bon_log_against_the_venue(
        venue_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    to = f"127.0.0.1:{venue_port}"
    # The venue lists no DEMO: every order is rejected, every cancel too; all are differences.
    code, s = replay(capsys, str(KOD_BON), "--to", to, "--speed", "max",
                     "--begin-string", "FIX.4.4", "--clordid-prefix", "kb1-")
    assert code == 0
    assert (s["side"], s["other"], s["log_begin_string"]) == ("BON", "KOD", "FIX.4.2")
    assert s["sent_by_type"] == {"D": 602, "F": 602}
    assert (s["expected"], s["received"], s["matched"]) == (1204, 1204, 1204)
    assert s["received_by_type"] == {"8": 602, "9": 602}
    assert s["differences_by_what"]["ExecType(150): expected 0, got 8"] == 602
    assert s["differences_by_what"]["MsgType(35): expected 8, got 9"] == 602
    # Traded as MSFT (no other test trades it, so no price band yet), the venue answers exactly
    # as KOD did: acks and cancel confirmations.
    code, s = replay(capsys, str(KOD_BON), "--to", to, "--speed", "max",
                     "--begin-string", "FIX.4.4", "--clordid-prefix", "kb2-",
                     "--symbol", "DEMO=MSFT")
    assert code == 0
    assert (s["matched"], s["equal"], s["differences"]) == (1204, 1204, 0)


def _trade_report(report_id: str | None) -> tuple[str, str]:
    # a TradeCaptureReport the venue answers with a session Reject (its RefSeqNum names it)
    rid = f"|571={report_id}" if report_id else ""
    return (C, f"35=AE{rid}|487=0|55=AAPL|32=1|31=10|75=20240102|60=20240102-10:00:00.000")


REJECTED = [_trade_report("T1"), (V, "35=3|45=1|58=Unsupported|371=571|372=AE"),
            _trade_report("T2"), _trade_report("T3"), _trade_report(None)]


def _listed(out: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index("first differences:") + 1
    return [line for line in lines[start:] if line.startswith("  ")]


@pytest.mark.parametrize("max_diffs", ["0", "3", "20"])
def test_every_session_reject_paired_by_refseqnum_is_listed(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str],
        max_diffs: str) -> None:
    # Rejects carry no ClOrdID: they pair by RefSeqNum with the played message. Every counted
    # difference must be listed under "first differences:" (--max-diffs 0 once listed none).
    log = write_log(tmp_path / "reports.log", REJECTED)
    code = main(["replay", str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "max",
                 "--settle", "2", "--max-diffs", max_diffs])
    out = capsys.readouterr().out
    assert code == 0
    assert "matched 1 (equal 1), missing 0, unexpected 3, differences 3" in out
    assert "       3  unexpected 35=3\n" in out
    listed = _listed(out)
    assert [line.split(": the log has")[0] for line in listed] == [
        f"  {log}:3: T2: unexpected", f"  {log}:4: T3: unexpected",
        f"  {log}:5: -: unexpected"]
    assert all(": the log has no such answer: 35=3 58=" in line for line in listed)
    assert "more differences" not in out


def test_a_shorter_list_says_how_many_more_and_how_to_see_them(
        tmp_path: Path, venue_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "reports.log", REJECTED)
    code, s = replay(capsys, str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "max",
                     "--max-diffs", "1")
    assert code == 0 and s["differences"] == 3 and len(s["first_differences"]) == 1
    code = main(["replay", str(log), "--to", f"127.0.0.1:{venue_port}", "--speed", "max",
                 "--settle", "2", "--max-diffs", "1"])
    out = capsys.readouterr().out
    assert len(_listed(out)) == 2
    assert _listed(out)[-1] == "  ... and 2 more differences (--max-diffs 0 lists them all)"


def test_a_negative_max_diffs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", "x.log", "--to", "127.0.0.1:9", "--max-diffs", "-1"])
    assert info.value.code == 2
    assert "argument --max-diffs: '-1': expected a count >= 0 (0: all)" in (
        capsys.readouterr().err)


def test_tally_counts_answers_by_type_whatever_their_text(tmp_path: Path) -> None:
    # A Text holding ': ' once became the label ("unexpected 9.00-11.00"), and a missing
    # answer was counted as "missing no answer; the log has 35=8 ...".
    script = [(C, "35=D|11=o1|21=1|38=1|40=2|44=10|54=1|55=AAPL|60=20240102-10:00:00.000"),
              (V, "35=8|11=o1|17=E1|37=X1|39=4|150=4|38=1|14=0|151=0|54=1|55=AAPL|"
                  "58=canceled: end of day")]
    p = plan(write_log(tmp_path / "tally.log", script))
    live = Answer({35: "8", 150: "8", 39: "8", 58: "price band: 9.00-11.00"}, "o9", "FIX.4.4", 0)
    result = compare(p.steps, p.expected, [live])
    assert dict(tally(result.differences)) == {"missing 35=8 150=4 39=4": 1,
                                               "unexpected 35=8 150=8 39=8": 1}


# -- pure rules -------------------------------------------------------------------------------


def _expected(values: dict[int, str], begin: str = "FIX.4.2") -> Expected:
    from gateway.fixlog import FrameStatus, LogRecord

    record = LogRecord("x.log", 7, 7, None, b"", (), FrameStatus.OK, b"\x01")
    return Expected(record, values, values.get(11, ""), begin, 0)


def test_fix42_fill_equals_fix44_trade_and_quantities_compare_as_numbers() -> None:
    want = _expected({35: "8", 11: "a", 150: "2", 39: "2", 14: "10", 151: "0", 32: "10"})
    same = Answer({35: "8", 11: "a", 150: "F", 39: "2", 14: "10.0", 151: "0", 32: "10"},
                  "a", "FIX.4.4")
    assert field_differences(want, same) == []
    other = Answer({35: "8", 11: "a", 150: "2", 39: "2", 14: "10", 151: "0", 32: "10"},
                   "a", "FIX.4.4")  # 4.4's ExecType 2 is not a fill
    assert field_differences(want, other) == ["ExecType(150): expected F, got 2"]


def test_different_message_types_stop_the_field_comparison() -> None:
    want = _expected({35: "8", 11: "a", 150: "4", 39: "4"})
    got = Answer({35: "9", 11: "a", 39: "8"}, "a", "FIX.4.4")
    result = compare([], [want], [got])
    assert result.matched == 1 and result.equal == 0
    assert [d.details for d in result.differences] == [("MsgType(35): expected 8, got 9",)]
    assert result.differences[0].where == "x.log:7"


def test_plan_and_rewrite_of_the_synthetic_log(tmp_path: Path) -> None:
    log = write_log(tmp_path / "client.log", SCRIPT)
    p = plan(log)
    assert p.side == C and [s.msg_type for s in p.steps] == ["D", "D", "F", "D"]
    assert [s.at for s in p.steps] == pytest.approx([0.0, 0.3, 0.7, 0.9])
    cancel = p.steps[2]
    fields = rewrite_fields(cancel, now="20300101-00:00:00.000", log_version="FIX.4.4",
                            begin_string="FIX.4.4", clordid_prefix="p-",
                            order_ids={"o1": "VEN-7"}, symbols={"AAPL": "MSFT"})
    assert fields == [(11, b"p-o3"), (37, b"VEN-7"), (38, b"100"), (41, b"p-o1"), (54, b"1"),
                      (55, b"MSFT"), (60, b"20300101-00:00:00.000")]
    # sent before the acceptor answered o1 (--speed max): no OrderID rather than the log's
    # X1, another venue's id, which an acceptor checking 37 against 41 refuses
    fields = rewrite_fields(cancel, now="20300101-00:00:00.000", log_version="FIX.4.4",
                            begin_string="FIX.4.4", order_ids={})
    assert 37 not in dict(fields) and dict(fields)[41] == b"o1"
    with pytest.raises(ValueError, match="no messages from SenderCompID 'NOPE'"):
        plan(log, "NOPE")


def test_plan_leaves_out_possdup_resends_and_keys_rejects_by_refseqnum(tmp_path: Path) -> None:
    script = [
        (C, "35=D|11=o1|21=1|38=1|40=1|54=1|55=AAPL|60=20240102-10:00:00.000"),
        (C, "35=AE|571=T1|487=0|55=AAPL|32=1|31=10|75=20240102|60=20240102-10:00:00.000"),
        (V, "35=3|45=2|58=Unsupported|371=571|372=AE"),
        (V, "35=8|11=o1|17=E1|37=X1|39=0|150=0|38=1|14=0|151=1|54=1|55=AAPL"),
        (C, "35=D|43=Y|11=o1|21=1|38=1|40=1|54=1|55=AAPL|60=20240102-10:00:00.000"),
        (V, "35=8|43=Y|11=o1|17=E1|37=X1|39=0|150=0|38=1|14=0|151=1|54=1|55=AAPL"),
        (V, "35=8|11=zz|17=E9|37=X9|39=0|150=0|38=1|14=0|151=1|54=1|55=AAPL"),
    ]
    p = plan(write_log(tmp_path / "client.log", script))
    assert [(s.msg_type, s.key) for s in p.steps] == [("D", "o1"), ("AE", "T1")]
    assert [(e.values[35], e.key, e.record.line) for e in p.expected] == [
        ("3", "T1", 3), ("8", "o1", 4)]
    assert (p.duplicates, p.ignored_other) == (2, 1)


def test_wire_answers_test_requests_and_gap_fills_resend_requests() -> None:
    from gateway.replay_wire import Received, ReplayWire
    from tests.fixpeer import Peer, fields

    ours, theirs = socket.socketpair()
    with ours, theirs:
        wire = ReplayWire(ours, "FIX.4.4", "CLIENT1", "VENUE", heartbeat=30)
        wire.send("D", [(11, b"a")])
        wire.send("D", [(11, b"b")])
        theirs.recv(65536)
        acceptor = Peer(sender="VENUE", target="CLIENT1")
        theirs.sendall(acceptor.msg("35=1|112=PING") + acceptor.msg("35=2|7=1|16=0")
                       + acceptor.msg("35=8|11=a|150=0|39=0"))
        answers: list[Received] = []
        while len(answers) < 1:
            answers += wire.poll(5)
        assert [a.values[35] for a in answers] == ["8"]
        theirs.settimeout(5)
        data = b""
        while data.count(b"\x0110=") < 2:
            data += theirs.recv(65536)
        heartbeat, gap_fill = (fields(m) for m in re.findall(rb"8=FIX.*?\x0110=\d{3}\x01", data))
        assert heartbeat[35] == "0" and heartbeat[112] == "PING" and heartbeat[34] == "3"
        assert (gap_fill[35], gap_fill[34], gap_fill[43], gap_fill[123], gap_fill[36]) == (
            "4", "1", "Y", "Y", "4")
        assert wire.next_seq == 4


def test_fix42_fields_unknown_to_fix44_are_dropped_and_counted(tmp_path: Path) -> None:
    script = [(C, "35=D|11=o1|21=1|38=1|40=1|47=A|54=1|55=AAPL|60=20240102-10:00:00.000")]
    [step] = plan(write_log(tmp_path / "c.log", script, begin="FIX.4.2")).steps
    dropped: dict[int, int] = {}
    fields = rewrite_fields(step, now="N", log_version="FIX.4.2", begin_string="FIX.4.4",
                            dropped=dropped)
    assert [tag for tag, _ in fields] == [11, 21, 38, 40, 54, 55, 60]
    assert dropped == {47: 1}
    same = rewrite_fields(step, now="N", log_version="FIX.4.2", begin_string="FIX.4.2")
    assert 47 in [tag for tag, _ in same]


def test_over_fixt_the_application_versions_dictionary_says_what_is_dropped(
        tmp_path: Path) -> None:
    # DisplayQty (1138) is FIX 5.0's: a FIXT.1.1 session of FIX.4.4 messages drops it, as a
    # FIX.4.4 session does; one of FIX.5.0SP2 keeps it
    script = [(C, "35=D|11=o1|21=1|38=1|40=1|54=1|55=AAPL|60=20240102-10:00:00.000|1138=1")]
    [step] = plan(write_log(tmp_path / "c.log", script, begin="FIX.4.2")).steps
    for version, kept in (("FIX.4.4", False), ("FIX.5.0SP2", True)):
        dropped: dict[int, int] = {}
        fields = rewrite_fields(step, now="N", log_version="FIX.4.2", begin_string="FIXT.1.1",
                                app_version=version, dropped=dropped)
        assert (1138 in [tag for tag, _ in fields], dropped) == (
            kept, {} if kept else {1138: 1}), version


def test_a_fixt_log_is_of_the_version_its_logon_declared(tmp_path: Path) -> None:
    """Both BeginStrings FIXT.1.1, the versions differ: ManualOrderIndicator (1028), which
    FIX.5.0SP2 has and FIX.4.2 has not, was sent to a FIX.4.2 acceptor unfiltered."""
    order = "35=D|11=o1|21=1|38=1|40=1|54=1|55=AAPL|60=20240102-10:00:00.000|1028=Y"
    for declared, version in (("|1137=9", "FIX.5.0SP2"), ("|1137=6", "FIX.4.4"),
                              ("", "FIX.5.0SP2")):
        script = [(C, f"35=A|98=0|108=30|141=Y{declared}"), (C, order)]
        made = plan(write_log(tmp_path / "c.log", script, begin="FIXT.1.1"))
        assert made.version == version
        [step] = made.steps
        for app_version, kept in (("FIX.4.2", False), (version, True)):
            tags = [tag for tag, _ in rewrite_fields(
                step, now="N", log_version=made.version, begin_string="FIXT.1.1",
                app_version=app_version)]
            assert (1028 in tags) == kept, (declared, app_version)


def test_a_fixt_acceptor_is_replayed_to_with_default_appl_ver_id(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The replay's Logon had no DefaultApplVerID (1137), which FIXT 1.1 requires: a FIXT
    acceptor disconnected it and the replay ended with exit 2."""
    import yaml
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["sessions"][0].update(begin_string="FIXT.1.1", default_appl_ver_id="FIX.4.4")
    config.pop("metrics", None)
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    proc, port = start_gateway(path, tmp_path / "run")
    try:
        log = write_log(tmp_path / "client.log", SCRIPT)
        code, s = replay(capsys, str(log), "--to", f"127.0.0.1:{port}", "--speed", "max",
                         "--begin-string", "FIXT.1.1", "--app-version", "FIX.4.4")
        assert code == 0, s
        assert (s["sent"], s["received"], s["missing"]) == (4, 6, 0)
    finally:
        assert stop_gateway(proc) == 0


def test_an_ipv6_acceptor_is_named_in_brackets() -> None:
    assert parse_target("[::1]:9878") == ("::1", 9878)
    assert parse_target("venue.example:9878") == ("venue.example", 9878)
    for bad in ("[::1]", "::1", "[]:9878", "host:", "host:\uff18\uff10"):  # (fullwidth 80)
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            parse_target(bad)
    for far in ("host:0", "host:99999", "host:" + "9" * 5000):  # said: it was "HOST:PORT"
        with pytest.raises(ValueError, match="the port is outside 1-65535"):
            parse_target(far)
