"""A parent a restart of the algo gateway lost open (gateway.algo_restart.LostParent): what
its client hears, from its last stored report to its end, as the venue accounts for its
children. (The same over real processes, killed with SIGKILL, is in
tests/test_algo_gateway_restart.py.)"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from engine.book_types import Side
from fixspec.dictionary import builtin_session
from gateway.algo_restart import (
    PENDING_TEXT,
    RESTART_TEXT,
    Fill,
    LostParent,
    child_of_cancel,
    reported_fills,
)
from gateway.codec import encode
from gateway.config import load_config
from gateway.fix_reports import exec_report_message
from gateway.store import StoredMessage
from gateway.venue_orders import CancelReject, ExecReport
from gateway.venue_restart import recover
from tests.fixpeer import Peer

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
OWNER = "FIX.4.4:ALGO->CLIENT1"
_VENUE_IDS = itertools.count(1)


def stored(fields: str, *, exec_id: str = "X", order_id: str = "A1") -> bytes:
    """A parent report as the client session's store keeps it (buy 1,000 AMZN)."""
    return Peer(begin="FIX.4.4", sender="ALGO", target="CLIENT1").msg(
        f"35=8|37={order_id}|17={exec_id}|55=AMZN|54=1|38=1000|40=2|44=100.05|59=0|{fields}",
        seq=1, now=NOW)


def lost(fields: str = "11=P|150=F|39=1|14=100|151=900|6=99.99",
         children: tuple[str, ...] = ("A1.1", "A1.2")) -> LostParent:
    return LostParent.from_stored(stored(fields), OWNER, children)


def exec_ids() -> itertools.count[int]:
    return itertools.count(1)


def venue(child: str, exec_type: str, status: str, *, leaves: int, last_qty: int = 0,
          last_px: str | None = None, cl: str | None = None,
          exec_id: str | None = None) -> ExecReport:
    """The venue's report on ``child`` (``cl``: a cancel's ClOrdID, OrigClOrdID the child)."""
    return ExecReport(
        owner="", exec_id=exec_id or f"V{next(_VENUE_IDS)}", exec_type=exec_type,
        ord_status=status, order_id="V1", cl_ord_id=cl or child,
        orig_cl_ord_id=child if cl else None, symbol="AMZN", side=Side.BUY, ord_type="2",
        price=Decimal("99.99"), qty=500, tif="0", leaves=leaves, cum=500 - leaves,
        avg_px=Decimal(0), time=NOW, last_qty=last_qty,
        last_px=Decimal(last_px) if last_px else None)


def rows(reports: list[ExecReport]) -> list[tuple[object, ...]]:
    return [(r.exec_type, r.ord_status, r.cl_ord_id, r.last_qty, r.cum, r.leaves, r.avg_px,
             r.text) for r in reports]


def test_the_client_hears_pending_cancel_then_each_fill_then_canceled() -> None:
    """Logged on before the venue answered: Pending Cancel with what the client knew, each
    child fill as the parent's (OrdStatus 6, AvgPx over every fill), Canceled once both
    children are accounted for (a fill that ends one, the answer to the other's cancel)."""
    p = lost()
    ids = exec_ids()
    new_id = lambda: f"G{next(ids)}"  # noqa: E731
    assert rows(p.announce(new_id, NOW)) == [
        ("6", "6", "P", 0, 100, 900, Decimal("99.99"), PENDING_TEXT)]
    fill = p.on_child("A1.1", venue("A1.1", "F", "1", leaves=300, last_qty=200,
                                    last_px="100.02", exec_id="E8"), new_id, NOW)
    assert rows(fill) == [("F", "6", "P", 200, 300, 700, Decimal("100.01"), None)]
    # the same fill resent by the venue (PossDup, same ExecID) is not counted twice
    again = venue("A1.1", "F", "2", leaves=0, last_qty=300, last_px="100.00", exec_id="E9")
    first = p.on_child("A1.1", again, new_id, NOW)
    assert p.on_child("A1.1", again, new_id, NOW) == []
    assert rows(first) == [("F", "6", "P", 300, 600, 400, Decimal("100.005"), None)]
    # each fill report's ExecID names the venue's fill (a later restart reads them)
    assert [r.exec_id for r in fill + first] == ["A1.1:E8", "A1.1:E9"]
    assert not p.done
    done = p.on_child("A1.2", venue("A1.2", "4", "4", leaves=0, cl="A1.2~r"), new_id, NOW)
    assert rows(done) == [("4", "4", "P", 0, 600, 0, Decimal("100.005"), RESTART_TEXT)]
    assert p.done and [r.exec_id for r in done] == ["G2"]


def test_a_fill_the_client_heard_of_before_the_restart_is_not_reported_again() -> None:
    """A crash after the parent's fill report was stored, before the venue report's inbound
    sequence number was committed: the venue resends the report (PossDup) after the
    restart. The stored reports' ExecIDs (reported_fills) say the client has that fill; the
    same venue ExecID for another child is another fill."""
    store = [StoredMessage(1, stored("11=P|150=0|39=0|14=0|151=1000|6=0")),
             StoredMessage(2, stored("11=P|150=F|39=1|14=100|151=900|6=99.99|32=100|31=99.99",
                                     exec_id="A1.1:V7")),
             StoredMessage(3, stored("11=Q|150=F|39=1|14=5|151=5|6=1|32=5|31=1",
                                     exec_id="A2.1:V8", order_id="A2"))]
    reported: dict[str, dict[str, Fill]] = {}
    reported_fills(store, reported)
    assert reported == {"A1": {"A1.1:V7": (100, Decimal("99.99"))},
                        "A2": {"A2.1:V8": (5, Decimal(1))}}  # (X: no fill's ExecID)
    p = LostParent.from_stored(store[1].raw, OWNER, ("A1.1", "A1.2"), None, reported["A1"])
    new_id = iter(f"G{n}" for n in range(1, 9)).__next__
    resent = venue("A1.1", "F", "1", leaves=400, last_qty=100, last_px="99.99", exec_id="V7")
    assert rows(p.on_child("A1.1", resent, new_id, NOW)) == [
        ("6", "6", "P", 0, 100, 900, Decimal("99.99"), PENDING_TEXT)]
    other = venue("A1.2", "F", "1", leaves=400, last_qty=100, last_px="99.99", exec_id="V7")
    assert rows(p.on_child("A1.2", other, new_id, NOW)) == [
        ("F", "6", "P", 100, 200, 800, Decimal("99.99"), None)]
    # fills without an ExecID: each counts, reported under an ExecID of the gateway's
    blank = venue("A1.2", "F", "1", leaves=300, last_qty=50, last_px="99.99", exec_id="")
    blank = dataclasses.replace(blank, exec_id="")
    got = p.on_child("A1.2", blank, new_id, NOW) + p.on_child("A1.2", blank, new_id, NOW)
    assert [(r.exec_id, r.cum) for r in got] == [("G2", 250), ("G3", 300)]


def test_what_the_venue_reports_before_the_clients_logon_is_reported_at_once() -> None:
    """Reports are made as the venue's come, logged on or not (the client session's store
    keeps them for a later restart and for its resend): Pending Cancel first, the fill, the
    end. A cancel reject (unknown order) accounts for a child as a Canceled does. At the
    logon: nothing again, unless a sequence reset discarded them; then the same again."""
    p = lost()
    new_id = iter(f"G{n}" for n in range(1, 9)).__next__
    sent = p.on_child("A1.1", venue("A1.1", "F", "2", leaves=0, last_qty=50, last_px="99.99"),
                      new_id, NOW)
    assert rows(sent) == [("6", "6", "P", 0, 100, 900, Decimal("99.99"), PENDING_TEXT),
                          ("F", "6", "P", 50, 150, 850, Decimal("99.99"), None)]
    reject = CancelReject(owner="", order_id="NONE", cl_ord_id="A1.2~r",
                          orig_cl_ord_id="A1.2", ord_status="8", response_to="1", reason=1,
                          text="unknown order", time=NOW)
    sent += p.on_child("A1.2", reject, new_id, NOW)
    assert rows(sent[2:]) == [("4", "4", "P", 0, 150, 0, Decimal("99.99"), RESTART_TEXT)]
    p.unheard = list(sent)  # (the caller's: sent while the client was logged out)
    assert p.announce(new_id, NOW) == []  # its resend delivers them
    p.unheard = list(sent)
    p.reset()  # a sequence reset discarded them before the client had them
    assert p.announce(new_id, NOW) == sent
    assert p.announce(new_id, NOW) == []


def test_fills_that_complete_the_parent_end_it_filled() -> None:
    p = lost(children=("A1.1",))
    new_id = iter(["G1", "G2"]).__next__
    p.announce(new_id, NOW)
    got = p.on_child("A1.1", venue("A1.1", "F", "2", leaves=0, last_qty=900,
                                   last_px="100"), new_id, NOW)
    assert rows(got) == [("F", "2", "P", 900, 1000, 0, Decimal("99.999"), None)]
    assert p.done


def test_a_parent_with_no_child_found_is_canceled_at_once() -> None:
    p = lost(children=())
    assert rows(p.announce(iter(["G1"]).__next__, NOW)) == [
        ("4", "4", "P", 0, 100, 0, Decimal("99.99"), RESTART_TEXT)]


def test_a_cancel_the_client_had_pending_is_answered_by_the_end() -> None:
    """The client's cancel (C1) was pending at the crash: the parent's reports go under its
    own ClOrdID, and the final Canceled answers C1 (OrigClOrdID P)."""
    p = lost("11=C1|41=P|150=6|39=6|14=100|151=900|6=99.99", children=("A1.1",))
    new_id = iter(["G1", "G2"]).__next__
    assert p.announce(new_id, NOW) == []  # the client knows it is pending already
    [end] = p.on_child("A1.1", venue("A1.1", "4", "4", leaves=0, cl="A1.1~r"), new_id, NOW)
    assert (end.cl_ord_id, end.orig_cl_ord_id, end.ord_status, end.cum) == ("C1", "P", "4", 100)


def test_a_second_restart_goes_on_from_the_pending_cancel_it_reported() -> None:
    """A restart found the parent again, last reported Pending Cancel by the restart before:
    no second Pending Cancel; its ClOrdID stays the order's."""
    p = lost(f"11=P|150=6|39=6|14=100|151=900|6=99.99|58={PENDING_TEXT}", children=("A1.1",))
    new_id = iter(["G1", "G2"]).__next__
    assert p.announce(new_id, NOW) == []
    [end] = p.on_child("A1.1", venue("A1.1", "4", "4", leaves=0, cl="A1.1~r2"), new_id, NOW)
    assert (end.cl_ord_id, end.orig_cl_ord_id, end.ord_status) == ("P", None, "4")


def test_restart_cancel_ids_name_their_child() -> None:
    assert [child_of_cancel(c) for c in ("A1.1~r", "A1.1~r12", "A1.1~c", "A1.1", "A1.1~rx")] \
        == ["A1.1", "A1.1", None, None, None]


def cancel_reject(child: str, reason: int, status: str) -> CancelReject:
    return CancelReject(owner="", order_id="V1", cl_ord_id=child + "~r", orig_cl_ord_id=child,
                        ord_status=status, response_to="1", reason=reason, text="", time=NOW)


def test_only_a_reject_that_says_the_child_is_done_accounts_for_it() -> None:
    """Too late, unknown order, or a final OrdStatus: done. Any other refusal (a cancel
    already pending at the venue, 102=3, the child still working) leaves it to wait for."""
    p = lost(children=("A1.1", "A1.2", "A1.3"))
    new_id = iter(f"G{n}" for n in range(1, 9)).__next__
    p.announce(new_id, NOW)
    assert p.on_child("A1.1", cancel_reject("A1.1", 3, "1"), new_id, NOW) == []
    assert p.children == {"A1.1", "A1.2", "A1.3"}
    p.on_child("A1.2", cancel_reject("A1.2", 0, "2"), new_id, NOW)
    p.on_child("A1.3", cancel_reject("A1.3", 1, "8"), new_id, NOW)
    assert p.children == {"A1.1"} and not p.done
    [fill] = p.on_child("A1.1", venue("A1.1", "F", "2", leaves=0, last_qty=100,
                                      last_px="100"), new_id, NOW)[:1]
    assert isinstance(fill, ExecReport) and fill.cum == 200 and p.done


def test_a_replace_the_client_had_pending_is_refused_at_its_logon() -> None:
    """Every OrderCancelReplaceRequest gets an answer: the one pending at the crash (R1) is
    refused (434=2, too late, OrdStatus as before it) before the Pending Cancel."""
    p = lost("11=R1|41=P|150=E|39=E|14=100|151=900|6=99.99", children=("A1.1",))
    reject, pending = p.announce(iter(["G1", "G2"]).__next__, NOW)
    assert isinstance(reject, CancelReject) and isinstance(pending, ExecReport)
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.response_to, reject.reason,
            reject.ord_status) == ("R1", "P", "2", 0, "1")
    assert (pending.cl_ord_id, pending.ord_status) == ("P", "6")


def test_fills_completing_a_parent_the_client_was_canceling_refuse_its_cancel() -> None:
    p = lost("11=C1|41=P|150=6|39=6|14=100|151=900|6=99.99", children=("A1.1",))
    new_id = iter(["G1", "G2"]).__next__
    p.announce(new_id, NOW)
    fill, reject = p.on_child("A1.1", venue("A1.1", "F", "2", leaves=0, last_qty=900,
                                            last_px="100"), new_id, NOW)
    assert isinstance(fill, ExecReport) and (fill.cl_ord_id, fill.ord_status) == ("P", "2")
    assert isinstance(reject, CancelReject)
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.ord_status, reject.reason) == (
        "C1", "P", "2", 0)


def test_a_fill_or_status_report_while_pending_is_not_a_cancel_acknowledgement() -> None:
    """OrdStatus 6 on a fill (150=F) is under the order's own ClOrdID: not the client's
    cancel request; the parent's ClOrdID is that report's."""
    p = lost("11=P|150=F|39=6|14=100|151=900|6=99.99|32=100|31=99.99", children=())
    [end] = p.announce(iter(["G1"]).__next__, NOW)
    assert (end.cl_ord_id, end.orig_cl_ord_id, end.ord_status) == ("P", None, "4")


def test_the_end_answering_the_clients_cancel_renames_the_order() -> None:
    """As the desk renames a parent at Canceled: later status reports are under C1."""
    p = lost("11=C1|41=P|150=6|39=6|14=100|151=900|6=99.99", children=())
    [end] = p.announce(iter(["G1"]).__next__, NOW)
    assert (end.cl_ord_id, end.orig_cl_ord_id) == ("C1", "P")
    assert (p.state.cl_ord_id, p.state.orig_cl_ord_id) == ("C1", "P")


def test_what_a_reset_carries_over_keeps_the_clients_pending_cancel() -> None:
    """The parent as a sequence reset carries it (the client heard nothing new at its
    logon): read again by a later restart, the client's cancel C1 is still answered."""
    p = lost("11=C1|41=P|150=6|39=6|14=100|151=900|6=99.99", children=("A1.1",))
    p.announce(iter(["G1"]).__next__, NOW)
    carried = p.carried(iter(["G2"]).__next__, NOW)
    assert (carried.exec_type, carried.cl_ord_id, carried.orig_cl_ord_id) == ("6", "C1", "P")
    config = next(c for c in load_config(ROOT / "sessions/algo.yaml").sessions
                  if c.target_comp_id == "CLIENT1")
    raw = encode(exec_report_message(carried, config), builtin_session("FIX.4.4"))
    again = LostParent.from_stored(raw, OWNER, ("A1.1",))
    assert (again.cancel_request, again.state.cl_ord_id) == ("C1", "P")


def test_a_cancel_pending_before_a_later_fill_is_still_answered() -> None:
    """The client's cancel C1 was acknowledged, then a fill was reported (39=6, under the
    order's own ClOrdID), then the crash: the stored reports still tell C1 is pending
    (venue_restart.recover), and the end answers it."""
    acked = stored("11=C1|41=P|150=6|39=6|14=100|151=900|6=99.99")
    fill = stored("11=P|150=F|39=6|14=200|151=800|6=100|32=100|31=100.01")
    found = recover([StoredMessage(1, acked), StoredMessage(2, fill)])
    assert found.requests == {"A1": ("6", "C1")}
    p = LostParent.from_stored(found.open["A1"], OWNER, ("A1.1",), found.requests["A1"])
    assert (p.state.cl_ord_id, p.state.cum, p.cancel_request) == ("P", 200, "C1")
    new_id = iter(["G1", "G2"]).__next__
    assert p.announce(new_id, NOW) == []  # pending already
    [end] = p.on_child("A1.1", venue("A1.1", "4", "4", leaves=0, cl="A1.1~r"), new_id, NOW)
    assert (end.cl_ord_id, end.orig_cl_ord_id, end.ord_status, end.cum) == ("C1", "P", "4", 200)


def test_a_request_answered_or_refused_is_no_longer_pending() -> None:
    """After the acknowledgement, a report whose OrdStatus is not pending (the cancel was
    refused, the order works on) ends the request; the restart's own Pending Cancel, with no
    OrigClOrdID, acknowledges nothing."""
    found = recover([
        StoredMessage(1, stored("11=C1|41=P|150=6|39=6|14=0|151=1000|6=0")),
        StoredMessage(2, stored("11=P|150=F|39=1|14=100|151=900|6=99|32=100|31=99")),
        StoredMessage(3, stored(f"11=P|150=6|39=6|14=100|151=900|6=99|58={PENDING_TEXT}"))])
    assert found.requests == {}


def test_a_refused_request_is_no_longer_pending() -> None:
    """The client's replace R1 was acknowledged, a fill came under 39=E, then the replace
    was refused (OrderCancelReject): R1 is answered, not pending at the crash."""
    peer = Peer(begin="FIX.4.4", sender="ALGO", target="CLIENT1")
    found = recover([
        StoredMessage(1, stored("11=R1|41=P|150=E|39=E|14=0|151=1000|6=0")),
        StoredMessage(2, stored("11=P|150=F|39=E|14=200|151=800|6=99|32=200|31=99")),
        StoredMessage(3, peer.msg("35=9|37=A1|11=R1|41=P|39=1|434=2|102=99", seq=3, now=NOW))])
    assert found.requests == {}


def test_a_request_naming_the_orders_own_clordid_is_none() -> None:
    """A store written before the restart's Pending Cancel lost its OrigClOrdID (a parent
    replaced P1 -> P2: 11=P2, 41=P1) reads as the acknowledgement of a request P2, the
    order's own ClOrdID: no request of the client's to answer."""
    raw = stored(f"11=P2|41=P1|150=6|39=6|14=0|151=1000|6=0|58={PENDING_TEXT}")
    p = LostParent.from_stored(raw, OWNER, (), recover([StoredMessage(1, raw)]).requests["A1"])
    assert p.cancel_request is None
    [end] = p.announce(iter(["G1"]).__next__, NOW)
    assert (end.cl_ord_id, end.ord_status) == ("P2", "4")


def test_a_fill_without_a_price_is_not_the_parents_and_an_absurd_one_is_reported() -> None:
    """A venue's garbage: a fill at 0 (or below) is counted nowhere; one at 1E+30 is
    reported as it is (its AvgPx beyond 28 digits is not rounded, and does not fail)."""
    p = lost(children=("A1.1", "A1.2"))
    new_id = iter(f"G{n}" for n in range(1, 9)).__next__
    p.announce(new_id, NOW)
    assert p.on_child("A1.1", venue("A1.1", "F", "1", leaves=400, last_qty=100,
                                    last_px="0"), new_id, NOW) == []
    [fill] = p.on_child("A1.2", venue("A1.2", "F", "1", leaves=400, last_qty=100,
                                      last_px="1E+30"), new_id, NOW)
    assert isinstance(fill, ExecReport) and (fill.cum, fill.last_px) == (200, Decimal("1E+30"))


def test_avgpx_comes_from_what_the_fills_came_to_not_from_a_rounded_avgpx() -> None:
    """AvgPx is reported to 6 decimals; a lost parent's next one is computed from the exact
    value of its fills: those in the client's stored reports (when they hold its whole
    CumQty), then each fill's LastPx x LastQty added, never from a rounded AvgPx."""
    fills = [(1, "100"), (1, "100"), (1, "100.01")]  # 300.01 for 3: AvgPx 100.003333
    store = [StoredMessage(n, stored(f"11=P|150=F|39=1|14={n}|151={1000 - n}|6=100.003333"
                                     f"|32={qty}|31={px}", exec_id=f"A1.1:V{n}"))
             for n, (qty, px) in enumerate(fills, 1)]
    reported: dict[str, dict[str, Fill]] = {}
    reported_fills(store, reported)
    new_id = iter(f"G{n}" for n in range(1, 9)).__next__
    p = LostParent.from_stored(store[-1].raw, OWNER, ("A1.1",), None, reported["A1"])
    (fill,) = p.on_child("A1.1", venue("A1.1", "F", "1", leaves=497, last_qty=3,
                                       last_px="100", exec_id="V4"), new_id, NOW)[1:]
    # (300.01 + 300) / 6 = 100.0016666...; from the rounded 100.003333: 100.001666
    assert (fill.cum, fill.avg_px) == (6, Decimal("100.001667"))
    # the same fills reported after the restart, one by one
    p = lost("11=P|150=0|39=0|14=0|151=1000|6=0", children=("A1.1",))
    reports = [r for n, (qty, px) in enumerate([*fills, (3, "100")], 1)
               for r in p.on_child("A1.1", venue("A1.1", "F", "1", leaves=500 - n, last_qty=qty,
                                                 last_px=px, exec_id=f"W{n}"), new_id, NOW)
               if r.exec_type == "F"]
    assert [r.avg_px for r in reports] == [Decimal(100), Decimal(100), Decimal("100.003333"),
                                           Decimal("100.001667")]
