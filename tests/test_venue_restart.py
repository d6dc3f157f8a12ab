"""A venue killed with SIGKILL and restarted: its books are gone, so every order it had
acknowledged and not finished is reported Canceled to its owner, and a request the client
resends with PossDupFlag after the crash is not executed a second time."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from gateway.store import StoredMessage
from gateway.venue_restart import RESTART_TEXT, recover
from tests.conformance.harness import Client
from tests.fixpeer import Peer
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]


def er(seq: int, body: str) -> StoredMessage:
    raw = Peer(begin="FIX.4.4", sender="VENUE", target="CLIENT1").msg(
        "35=8|" + body, seq=seq, now=datetime(2026, 11, 26, tzinfo=UTC))
    return StoredMessage(seq, raw)


def test_the_stored_reports_tell_which_orders_were_open() -> None:
    got = recover([
        er(1, "11=A|37=O1|39=0|150=0|151=100|14=0|38=100|54=1|55=AAPL|40=2|44=10|6=0"),
        er(2, "11=B|37=O2|39=0|150=0|151=50|14=0|38=50|54=2|55=AAPL|40=2|44=11|6=0"),
        er(3, "11=B|37=O2|39=2|150=F|151=0|14=50|38=50|54=2|55=AAPL|6=11"),  # filled
        er(4, "11=A2|41=A|37=O1|39=0|150=5|151=80|14=20|38=100|54=1|55=AAPL|40=2|44=9|6=10"),
        er(5, "11=X|37=NONE|39=8|150=8|151=0|14=0|38=0|54=1|55=AAPL"),  # a reject
        er(6, "11=C|37=O3|39=4|150=4|151=0|14=0|38=10|54=1|55=AAPL"),  # canceled
        er(7, "11=B|37=NONE|39=8|150=8|151=0|14=0|38=5|54=1|55=AAPL"),  # B reused: rejected
    ])
    # every ClOrdID used, with its order's last OrdStatus: Canceled for the open one (the
    # restarted venue reports it so), and a reject naming no order leaves B's status alone
    assert got.cl_ord_ids == {"A": "4", "A2": "4", "B": "2", "C": "4", "X": "8"}
    assert list(got.open) == ["O1"]
    (cancel,) = got.cancels("FIX.4.4:VENUE->CLIENT1", iter(["E1"]).__next__,
                            datetime(2026, 11, 26, tzinfo=UTC))
    assert (cancel.cl_ord_id, cancel.orig_cl_ord_id, cancel.cum, cancel.leaves) == (
        "A2", "A", 20, 0)
    assert (cancel.exec_type, cancel.ord_status, cancel.text) == ("4", "4", RESTART_TEXT)


def test_a_killed_venue_cancels_what_it_lost_and_ignores_possdup_copies(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        for cl, side, px in (("R1", "1", "10.00"), ("R2", "2", "10.10"), ("X1", "1", "10.20")):
            c.msg(f"35=D|11={cl}|54={side}|38=100|40=2|44={px}|55=AAPL|59=0|60={c.ts()}")
            c.expect("8", **{"11": cl, "150": "0"})
        # X1 bought R2's 100: a fill report for each (the resting side's first)
        assert {c.expect("8", **{"150": "F"})[11] for _ in range(2)} == {"R2", "X1"}
    finally:  # the crash; also what ends the venue if a step above failed
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    c.close()

    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c2 = Client(port, "CLIENT1", our_comp_id="VENUE")
        c2.logon(extra="|141=Y")  # a new start on both sides, as many clients log on
        # R1 was open; R2 and X1 were filled before the crash
        assert [(m[11], m[150], m[39], m[151], m[58]) for m in until_heartbeat(c2, "A")] == [
            ("R1", "4", "4", "0", RESTART_TEXT)]
        # a copy of R1's NewOrderSingle resent as PossDup is not an order again
        c2.msg(f"35=D|11=R1|54=1|38=100|40=2|44=10.00|55=AAPL|59=0|60={c2.ts()}",
               header="43=Y|122=" + c2.ts())
        assert until_heartbeat(c2, "B") == []
        # cancels of orders done before the restart: too late, with their last status
        for orig, status in (("X1", "2"), ("R1", "4")):
            c2.msg(f"35=F|11=C{orig}|41={orig}|54=1|55=AAPL|60={c2.ts()}")
            reject = c2.expect("9", **{"11": f"C{orig}"})
            assert (reject[102], reject[39], reject[434]) == ("0", status, "1")
        c2.close()
    finally:
        assert stop_gateway(proc) == 0


def until_heartbeat(c: Client, test_req_id: str) -> list[dict[int, str]]:
    """Send a TestRequest; every message before its Heartbeat."""
    c.msg(f"35=1|112={test_req_id}")
    seen = []
    while True:
        kind = c._peek_type()
        got = c.expect(kind)
        if kind == "0" and got.get(112) == test_req_id:
            return seen
        if kind != "4":  # resent admin messages come as gap fills
            seen.append(got)


def test_orders_open_through_sequence_resets_are_still_canceled_after_a_crash(
        tmp_path: Path) -> None:
    """A client that logs on with ResetSeqNumFlag every time resets the venue's store each
    time; its orders still resting from before a reset (a direct order and a TWAP parent) are
    carried over by each reset, so a venue killed later still reports them Canceled."""
    run = tmp_path / "run"
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        c.msg(f"35=D|11=R1|54=1|38=100|40=2|44=10.00|55=AAPL|59=0|60={c.ts()}")
        c.expect("8", **{"11": "R1", "150": "0"})
        # a parent with an hour to go: INTC's book is empty, so it waits with no child out
        c.msg(f"35=D|11=P1|54=1|38=300|40=2|44=50.00|55=INTC|59=0|60={c.ts()}|847=1001|"
              f"848=Slices=3|168={c.ts()}|126={c.ts(3600)}")
        c.expect("8", **{"11": "P1", "150": "0"})
        c.close()
        for cl in ("R2", "R3"):  # two more connections, each a sequence reset
            c = Client(port, "CLIENT1", our_comp_id="VENUE")
            c.logon(extra="|141=Y")
            c.msg(f"35=D|11={cl}|54=2|38=100|40=2|44=10.50|55=AAPL|59=0|60={c.ts()}")
            c.expect("8", **{"11": cl, "150": "0"})
            if cl == "R3":  # done within the last period: not lost
                c.msg(f"35=F|11=C{cl}|41={cl}|54=2|55=AAPL|60={c.ts()}")
                c.expect("8", **{"11": f"C{cl}", "150": "4"})
            c.close()
    finally:  # the crash; also what ends the venue if a step above failed
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        canceled = {m[11]: (m[150], m[39], m[151], m[58]) for m in until_heartbeat(c, "A")}
        assert canceled == {cl: ("4", "4", "0", RESTART_TEXT) for cl in ("R1", "P1", "R2")}
        c.close()
    finally:
        assert stop_gateway(proc) == 0
