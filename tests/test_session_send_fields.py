"""Session.send_fields, the venue's path for ExecutionReports: the very bytes Session.send
writes for the same message, on every FIX version and for every shape of report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.book_types import Side
from fixspec.reject import LocalProtocolError, SessionRejectReason
from gateway.config import SessionConfig
from gateway.fix_reports import exec_report_fields, exec_report_message
from gateway.session import Session
from gateway.session_runner import dictionaries_for
from gateway.store import MemoryStore
from gateway.venue_orders import ExecReport
from tests.fixpeer import Peer

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
CONFIGS = [SessionConfig("FIX.4.2", "ISLD", "TW", role="acceptor"),
           SessionConfig("FIX.4.4", "VENUE", "CLIENT1", role="acceptor", timestamp_precision="us"),
           SessionConfig("FIXT.1.1", "VENUE", "CLIENT2", role="acceptor")]


def session(config: SessionConfig) -> Session:
    return Session(config, MemoryStore(T0), dictionaries_for(config))


def stored(s: Session) -> list[bytes]:
    return [m.raw for m in s.store.sent(1, s.store.next_sender_seq)]


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999.9999"), places=4)
ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
reports = st.builds(
    ExecReport, owner=st.just("CLIENT1"), exec_id=ids,
    exec_type=st.sampled_from(["0", "4", "5", "8", "F", "I", "C"]),
    ord_status=st.sampled_from(["0", "1", "2", "4", "5", "8", "C"]), order_id=ids,
    cl_ord_id=st.one_of(st.just(""), ids), orig_cl_ord_id=st.one_of(st.none(), ids),
    symbol=st.one_of(st.just(""), ids), side=st.sampled_from([Side.BUY, Side.SELL]),
    ord_type=st.sampled_from(["", "1", "2"]), price=st.one_of(st.none(), prices),
    qty=st.integers(0, 10**9), tif=st.sampled_from(["", "0", "3", "4"]),
    leaves=st.integers(0, 10**9), cum=st.integers(0, 10**9), avg_px=prices,
    time=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                      timezones=st.just(UTC)),
    last_qty=st.integers(0, 10**6), last_px=st.one_of(st.none(), prices),
    text=st.one_of(st.none(), st.text(max_size=30).filter(lambda t: "\x01" not in t)),
    rej_reason=st.one_of(st.none(), st.integers(0, 99)),
    fix_side=st.one_of(st.none(), st.sampled_from(["3", "7"])),
    fix_qty=st.one_of(st.none(), st.just(""), st.just("10.5")),
    ord_status_req_id=st.one_of(st.none(), ids))


@settings(max_examples=300, deadline=None)
@given(report=reports, which=st.integers(0, len(CONFIGS) - 1),
       ms=st.integers(0, 10**9))
def test_send_fields_stores_the_bytes_send_does(report: ExecReport, which: int,
                                                ms: int) -> None:
    """Header (MsgSeqNum, SendingTime, the CompIDs), the body in the encoder's order,
    BodyLength and CheckSum all the same: a report whose fields were out of order, or a
    header the encoder writes differently, would differ here."""
    config = CONFIGS[which]
    now = T0 + timedelta(milliseconds=ms)
    by_message, by_fields = session(config), session(config)
    for _ in range(2):  # two, so MsgSeqNum moves on
        by_message.send(exec_report_message(report, config), now)
        by_fields.send_fields("8", exec_report_fields(report, config), now)
    assert stored(by_fields) == stored(by_message)
    assert by_fields.store.next_sender_seq == 3


def test_send_fields_goes_out_on_a_logged_on_session_as_send_does() -> None:
    config = CONFIGS[1]
    report = ExecReport(owner="CLIENT1", exec_id="E1", exec_type="F", ord_status="1",
                        order_id="O1", cl_ord_id="C1", orig_cl_ord_id=None, symbol="AAPL",
                        side=Side.SELL, ord_type="2", price=Decimal("10.05"), qty=300, tif="0",
                        leaves=100, cum=200, avg_px=Decimal("10.025"), time=T0, last_qty=100,
                        last_px=Decimal("10.05"))
    out = []
    for send_fields in (False, True):
        s = session(config)
        s.connection_made(T0)
        s.data_received(Peer(sender="CLIENT1", target="VENUE").logon(now=T0), T0)
        assert s.logged_on
        if send_fields:
            out.append(s.send_fields("8", exec_report_fields(report, config), T0).data)
        else:
            out.append(s.send(exec_report_message(report, config), T0).data)
    assert out[0] == out[1] and len(out[1]) == 1
    assert b"\x0131=10.05\x0132=100\x01" in out[1][0]


def test_a_value_holding_soh_is_refused_and_nothing_is_numbered() -> None:
    s = session(CONFIGS[1])
    with pytest.raises(LocalProtocolError) as caught:
        s.send_fields("8", [(11, b"C1"), (58, b"two\x01parts")], T0)
    problem = caught.value.reject
    assert (problem.reason, problem.ref_tag) == (
        SessionRejectReason.NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER, 58)
    assert s.store.next_sender_seq == 1 and stored(s) == []
