"""The JSON audit log: one valid JSON object per line for every message in and out, session
events, order changes, algo decisions and risk breaches, stamped with the caller's clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit import (
    AuditLog,
    _render,
    message_line,
    message_record,
    parse_audit_config,
    scan_ids,
    show_soh,
)
from gateway.codec import encode
from gateway.fixmessage import Message
from gateway.yamlcheck import ConfigError, load_yaml
from tests.audit_samples import runner
from tests.observer_harness import T0, Harness, nos


def records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in out)
    return out


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[Harness, AuditLog]]:
    log = AuditLog(tmp_path / "audit" / "gw.jsonl")
    h = Harness(tmp_path, [log])
    h.logon()
    h.send(nos("ORD-1"))
    yield h, log
    h.close()
    log.close()


def test_messages_in_and_out_carry_session_direction_and_ids(
        session: tuple[Harness, AuditLog]) -> None:
    _, log = session
    msgs = [r for r in records(log.path) if r["kind"] == "msg"]
    # Logon in and our Logon out, then NewOrderSingle in and its echo out. (The transport
    # reports a session's own replies before the message that caused them, so only the
    # order within a direction and the application's answer after its request are fixed.)
    assert [r["msg_type"] for r in msgs if r["direction"] == "in"] == ["A", "D"]
    assert [r["msg_type"] for r in msgs if r["direction"] == "out"] == ["A", "D"]
    assert [(r["direction"], r["msg_type"]) for r in msgs[2:]] == [("in", "D"), ("out", "D")]
    for r in msgs:
        assert r["session"] == "FIX.4.4:ISLD->TW"
        assert r["event"] == r["direction"]
        assert isinstance(r["seq"], int)
        assert "\x01" not in r["raw"] and r["raw"].startswith("8=FIX.4.4|9=")
        assert f"|35={r['msg_type']}|" in r["raw"] and f"|34={r['seq']}|" in r["raw"]
    assert sorted(r["seq"] for r in msgs) == [1, 1, 2, 2]
    d_in, d_out = msgs[2], msgs[3]
    assert d_in["cl_ord_id"] == d_out["cl_ord_id"] == "ORD-1"
    assert "order_id" not in d_in and "orig_cl_ord_id" not in d_in  # absent tags: no key


def test_time_is_the_callers_clock_with_microseconds(session: tuple[Harness, AuditLog]) -> None:
    h, log = session
    stamps = [datetime.fromisoformat(r["ts"]) for r in records(log.path)]
    assert min(stamps) >= T0 and max(stamps) <= h.clock.now()  # the virtual clock, in 2024
    assert all(len(r["ts"].split(".")[1]) >= 6 for r in records(log.path))
    assert stamps == sorted(stamps)


def test_session_events_are_logged_with_sequence_numbers(
        session: tuple[Harness, AuditLog]) -> None:
    h, log = session
    h.drop()
    events = [r for r in records(log.path) if r["kind"] == "session"]
    assert [r["event"] for r in events] == ["Connected", "LoggedOn", "Disconnect"]
    logon = events[1]
    assert logon["heartbeat_interval"] == 30 and logon["reset"] is False
    assert (logon["next_out"], logon["next_in"]) == (2, 2)
    assert events[2]["reason"] == "connection lost"
    assert events[0]["peer"] == str(("127.0.0.1", 40000))


def test_session_reject_is_logged_with_its_reason(session: tuple[Harness, AuditLog]) -> None:
    h, log = session
    h.send("35=D|21=1|38=5|40=1|54=1|55=IBM|60=20240506-09:30:00")  # no ClOrdID
    sent = [r for r in records(log.path) if r["event"] == "RejectSent"]
    assert len(sent) == 1
    assert (sent[0]["reason"], sent[0]["ref_tag"], sent[0]["ref_msg_type"]) == (1, 11, "D")
    assert sent[0]["reason_text"] == "Required tag missing"


def test_order_algo_and_risk_records(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.order(T0, "filled", "S", cl_ord_id="C1", orig_cl_ord_id="C0", order_id="O1",
                  exec_id="E1", symbol="AAPL", side="BUY", qty=100, price=Decimal("10.01"),
                  status="FILLED", leaves=0, cum=100, avg_px=Decimal("10.005"), parent="P1")
        log.algo(T0 + timedelta(seconds=1), "slice", "P1", slice="3/10", size=100,
                 price=Decimal("10.00"), reason="schedule", cl_ord_id="C1")
        log.risk(T0 + timedelta(seconds=2), "S", "max_order_qty", qty=10**6, limit=10**5)
    order, algo, risk = records(path)
    assert order["kind"] == "order" and order["event"] == "filled"
    assert order["price"] == "10.01" and order["avg_px"] == "10.005"  # exact, as strings
    assert {k: order[k] for k in ("cl_ord_id", "orig_cl_ord_id", "order_id", "exec_id",
                                  "parent")} == {"cl_ord_id": "C1", "orig_cl_ord_id": "C0",
                                                 "order_id": "O1", "exec_id": "E1",
                                                 "parent": "P1"}
    assert algo == {"ts": (T0 + timedelta(seconds=1)).isoformat(), "kind": "algo",
                    "event": "slice", "parent": "P1", "slice": "3/10", "size": 100,
                    "price": "10.00", "reason": "schedule", "cl_ord_id": "C1"}
    assert (risk["kind"], risk["event"], risk["session"], risk["qty"]) == (
        "risk", "max_order_qty", "S", 10**6)


def test_an_id_with_a_byte_that_is_not_utf8_is_written_not_lost(tmp_path: Path) -> None:
    """A peer's ClOrdID keeps a byte that is not UTF-8 as a lone surrogate (value_text):
    encoding the record as UTF-8 failed, and the order record was lost (counted an error)."""
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.order(T0, "new", "S", cl_ord_id="caf\udce9")
    assert log.errors == 0
    assert b'"cl_ord_id":"caf\\udce9"' in path.read_bytes()
    assert records(path)[0]["cl_ord_id"] == "caf\udce9"  # read back as it was held


def test_each_line_is_on_disk_before_close(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.algo(T0, "slice", "P1", size=1)
    assert records(log.path)[0]["event"] == "slice"  # default: flushed per line
    log.close()


def test_buffered_log_has_everything_after_close(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", flush_every=1000)
    for i in range(2500):
        log.algo(T0, "slice", "P1", size=i)
    log.close()
    assert [r["size"] for r in records(log.path)] == list(range(2500))


def test_failures_never_raise(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.close()
    log.order(T0, "new", "S", cl_ord_id="X")  # closed: counted, not raised
    log.message(runner("S"), "in", b"8=FIX.4.4\x01garbage", T0)
    log.event(object(), object(), T0)  # type: ignore[arg-type]  # no session at all
    assert log.errors == 3 and log.last_error is not None
    assert log.path.read_text() == ""


def test_invalid_inbound_bytes_are_logged_as_received(tmp_path: Path) -> None:
    raw = b"8=FIX.4.4\x019=5\x0135=D\x0134=x7\x0111=\xe9\x01"
    with AuditLog(tmp_path / "a.jsonl") as log:
        log.message(runner("S"), "in", raw, T0)
    (r,) = records(tmp_path / "a.jsonl")
    assert r["seq"] == "x7" and r["cl_ord_id"] == "\xe9" and r["raw"] == show_soh(raw)


def test_a_sequence_number_of_other_digits_is_logged_as_text(tmp_path: Path) -> None:
    """Latin-1 '\xb2' is a digit to str.isdigit but not to int(): the record keeps it as a
    string rather than being lost to an error."""
    raw = b"8=FIX.4.4\x019=5\x0135=D\x0134=\xb2\x01"
    with AuditLog(tmp_path / "a.jsonl") as log:
        log.message(runner("S"), "in", raw, T0)
        assert log.errors == 0
    (r,) = records(tmp_path / "a.jsonl")
    assert r["seq"] == "\xb2"


def test_passwords_are_not_written_to_the_audit_log(tmp_path: Path) -> None:
    """The password comes from the environment so that no file holds it: the audit log, the
    file most likely to be shipped elsewhere, shows its place but not its value."""
    raw = (b"8=FIXT.1.1\x019=70\x0135=A\x0134=1\x01553=tw\x01554=s3cr=t\x01925=n3w\x01"
           b"1400=101\x011401=7\x011402=S\x01C\xe9ET1\x011403=4\x011404=N\x01EW\x01"
           b"1402=bare\x0110=000\x01")
    with AuditLog(tmp_path / "a.jsonl") as log:
        log.message(runner("S"), "in", raw, T0)
    text = (tmp_path / "a.jsonl").read_text()
    for secret in ("s3cr", "n3w", "ET1", "EW", "bare"):
        assert secret not in text
    (r,) = records(tmp_path / "a.jsonl")
    # the encrypted ones are data fields, SOH allowed: masked as long as their lengths say
    assert r["raw"] == ("8=FIXT.1.1|9=70|35=A|34=1|553=tw|554=***|925=***|1400=101|1401=7|"
                        "1402=***|1403=4|1404=***|1402=***|10=000|")
    # a length field that is wrong (short, zero) never shows part of the value
    for wrong in (b"3", b"0", b"02"):
        bad = b"8=FIXT.1.1\x0135=A\x011401=" + wrong + b"\x011402=topsecretpw\x0110=0\x01"
        assert b"secret" not in message_record(T0, "S", "in", bad)
    # tags that only end in those digits are not touched
    plain = b"8=FIX.4.4\x0135=D\x0111554=x\x0155=AAPL\x01"
    assert message_line(T0, "S", "in", plain) == _rendered(T0, "S", "in", plain)


def _rendered(ts: datetime, session: str, direction: str, raw: bytes) -> str:
    """The msg record as structlog's processor renders it (the other records' way)."""
    fields: dict[str, Any] = {"ts": ts, "kind": "msg", "event": direction, "session": session,
                              "direction": direction}
    ids = scan_ids(raw)
    seq = ids.pop("seq", None)
    fields["seq"] = int(seq) if seq is not None and seq.isascii() and seq.isdigit() else seq
    fields.update(ids)
    fields["raw"] = show_soh(raw)
    return _render(None, "info", fields)


_VALUES = st.binary(max_size=12).filter(lambda b: b"\x01" not in b) | st.sampled_from(
    [b"12", b"007", b"\xb2", b'"q\\', b"\xe9t\xe9", b"\x00\x1f", b""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([8, 34, 35, 11, 41, 37, 17, 55, 58]), _VALUES),
                max_size=10),
       st.binary(max_size=8), st.text(max_size=12), st.sampled_from(["in", "out"]),
       st.datetimes(timezones=st.timezones()))
def test_the_msg_record_is_the_text_structlogs_renderer_makes(
        fields: list[tuple[int, bytes]], tail: bytes, session: str, direction: str,
        ts: datetime) -> None:
    raw = b"".join(b"%d=%s\x01" % f for f in fields) + tail
    assert message_line(ts, session, direction, raw) == _rendered(ts, session, direction, raw)


def test_scan_ids_matches_a_decode() -> None:
    m = Message("8", begin_string="FIX.4.4")
    m.header.set(34, 12)
    for tag, value in ((11, "NEW-2"), (41, "NEW-1"), (37, "O-9"), (17, "E-3"), (39, "5")):
        m.body.set(tag, value)
    ids = scan_ids(encode(m))
    assert ids == {"seq": "12", "msg_type": "8", "cl_ord_id": "NEW-2",
                   "orig_cl_ord_id": "NEW-1", "order_id": "O-9", "exec_id": "E-3"}


def test_parse_audit_config(tmp_path: Path) -> None:
    good = tmp_path / "g.yaml"
    good.write_text("path: logs/audit.jsonl\nflush_every: 64\n")
    cfg = parse_audit_config(load_yaml(good), tmp_path)
    assert cfg.path == tmp_path / "logs" / "audit.jsonl" and cfg.flush_every == 64
    bad = tmp_path / "b.yaml"
    bad.write_text("path: a.jsonl\nflush: 3\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:2: flush: unknown key"):
        parse_audit_config(load_yaml(bad))
    missing = tmp_path / "m.yaml"
    missing.write_text("flush_every: 3\n")
    with pytest.raises(ConfigError, match=r"m\.yaml:1: missing required key path"):
        parse_audit_config(load_yaml(missing))


def test_fields_named_like_the_record_keys_are_kept(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl") as log:
        log.order(T0, "new", "S", cl_ord_id="X", kind="limit", ts="t")
        log.risk(T0, "S", "max_qty", event="mine")
    order, risk = records(tmp_path / "a.jsonl")
    assert (order["kind"], order["event"], risk["kind"], risk["event"]) == (
        "order", "new", "risk", "max_qty")
    assert (order["kind_"], order["ts_"], risk["event_"]) == ("limit", "t", "mine")
    assert log.errors == 0


def test_a_reopen_that_cannot_open_the_new_file_keeps_writing_to_the_old(
        tmp_path: Path) -> None:
    # the folder of the log was moved away and a file now stands in its place: the new file
    # cannot be made, the reopen says so, and every record still lands in the old file
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    log = AuditLog(tmp_path / "logs" / "audit.jsonl", flush_every=100)
    log.order(now, "before", "S1", cl_ord_id="A")
    (tmp_path / "logs").rename(tmp_path / "moved")
    (tmp_path / "logs").write_text("")
    with pytest.raises(OSError):
        log.reopen()
    log.order(now, "after", "S1", cl_ord_id="B")
    log.close()
    events = [json.loads(line)["event"]
              for line in (tmp_path / "moved" / "audit.jsonl").read_text().splitlines()]
    assert events == ["before", "after"] and log.errors == 0


def test_a_long_message_gets_its_record_and_the_buffer_kept_stays_small() -> None:
    # a peer's megabyte message must not leave a buffer of ten times that behind
    from gateway import audit
    message_line(T0, "S", "in", b"8=FIX.4.4\x0135=0\x01")  # the buffer a thread keeps
    raw = b"8=FIX.4.4\x0135=B\x0158=" + b"\x00" * 100_000 + b"\x01"
    line = message_line(T0, "S", "in", raw)
    assert json.loads(line)["raw"] == show_soh(raw)
    assert len(audit._TAIL.buf) == audit._KEPT_TAIL
