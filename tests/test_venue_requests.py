"""The venue application's answers to cancels, replaces, status and market-data requests,
driven in-process with FIX messages (decoded, and every answer encoded and validated against
the session's shipped dictionary, as a strict counterparty would check it)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fixspec.dictionary import SessionDictionaries, builtin_session
from fixspec.fieldtypes import format_utc_timestamp
from fixspec.validate import validate
from gateway.codec import decode_bytes, encode
from gateway.config import GatewayConfig, load_config
from gateway.fixmessage import Message
from gateway.market_data import MAX_SUBSCRIPTIONS
from gateway.venue_app import VenueApplication
from tests.engine_apps import RecordingHandle
from tests.fixpeer import Peer, fields

VENUE = Path(__file__).resolve().parents[1] / "sessions" / "venue.yaml"
T0 = datetime.fromisoformat("2026-11-25T15:00:00+00:00")
Fields = dict[int, str]


class Client:
    """A session of the venue application, with a FIX peer's view of it: what it sends is
    decoded by the session's dictionary, what the venue sends it is encoded, validated and
    read back as tag -> value."""

    def __init__(self, app: VenueApplication, comp_id: str, begin: str,
                 app_version: str = "FIX.5.0SP2") -> None:
        gw = app_config()
        cfg = next(s for s in gw.sessions if s.target_comp_id == comp_id)
        self.app = app
        self.handle = RecordingHandle(replace(cfg, begin_string=begin,
                                              default_appl_ver_id=app_version))
        self.dd: SessionDictionaries = builtin_session(begin, app_version)
        self.peer = Peer(begin=begin, sender=comp_id, target="VENUE")
        self.seen = 0

    def send(self, body: str, now: datetime = T0) -> list[Fields]:
        """Send ``body`` (``35=D|11=...``); what the venue sent this session since the last
        call."""
        message = decode_bytes(self.peer.msg(body, now=now), self.dd)
        self.app.on_message(self.handle, message, now)  # type: ignore[arg-type]
        return self.received()

    def received(self) -> list[Fields]:
        out = [self._wire(m, n) for n, m in enumerate(self.handle.sent[self.seen:], self.seen)]
        self.seen = len(self.handle.sent)
        return out

    def _wire(self, m: Message, n: int) -> Fields:
        m = m.copy()
        cfg = self.handle.config
        for tag, value in ((8, cfg.begin_string), (49, "VENUE"), (56, cfg.target_comp_id),
                           (34, str(n + 1)), (52, format_utc_timestamp(T0))):
            m.header.set(tag, value)
        raw = encode(m, self.dd)
        validate(decode_bytes(raw, self.dd), self.dd)
        return fields(raw)


def app_config() -> GatewayConfig:
    return load_config(VENUE)


def venue(begin: str = "FIX.4.4", app_version: str = "FIX.5.0SP2"
          ) -> tuple[VenueApplication, Client, Client]:
    """The venue with two clients of BeginString ``begin`` (on FIXT.1.1, application
    messages of ``app_version``)."""
    app = VenueApplication(app_config())
    c1, c2 = (Client(app, name, begin, app_version) for name in ("CLIENT1", "CLIENT2"))
    app.on_logon(c1.handle, T0)  # type: ignore[arg-type]
    app.on_logon(c2.handle, T0)  # type: ignore[arg-type]
    return app, c1, c2


def ts(t: datetime = T0) -> str:
    return t.strftime("%Y%m%d-%H:%M:%S")


def order(cl: str, side: str, qty: int, px: str, symbol: str = "AAPL", tif: str = "0") -> str:
    return f"35=D|11={cl}|54={side}|38={qty}|40=2|44={px}|55={symbol}|59={tif}|60={ts()}"


def test_a_replace_lowering_the_quantity_at_its_price_passes_after_the_market_moved() -> None:
    """The probe's case: a buy resting at 20.00, the market trading at 26 (20% band: 20.80
    to 31.20); lowering it at 20.00 is not refused by the band."""
    _, c1, c2 = venue()
    [ack] = c1.send(order("A", "1", 100, "20.00"))
    c2.send(order("S", "2", 10, "26.00"))
    c2.send(order("B", "1", 10, "26.00"))
    [rep] = c1.send(f"35=G|11=A2|41=A|54=1|38=50|40=2|44=20.00|55=AAPL|60={ts()}")
    assert (rep[35], rep[150], rep[39], rep[38], rep[151], rep[37]) == (
        "8", "5", "0", "50", "50", ack[37])
    [rej] = c1.send(f"35=G|11=A3|41=A2|54=1|38=50|40=2|44=20.50|55=AAPL|60={ts()}")
    assert (rej[35], rej[102]) == ("9", "99") and "price band" in rej[58]


@pytest.mark.parametrize(("change", "text"), [
    ("40=1", "OrdType (40) 1 is not order A's (2)"),
    ("40=2|44=20.00|59=1", "TimeInForce (59) 1 is not order A's (0)"),
])
def test_a_replace_changing_ordtype_or_timeinforce_gets_a_cancel_reject(change: str,
                                                                         text: str) -> None:
    _, c1, _ = venue()
    [ack] = c1.send(order("A", "1", 100, "20.00"))
    [rej] = c1.send(f"35=G|11=A2|41=A|54=1|38=50|{change}|55=AAPL|60={ts()}")
    assert (rej[35], rej[102], rej[434], rej[37], rej[39]) == ("9", "99", "2", ack[37], "0")
    assert rej[58] == f"{text}: a replace changes OrderQty and Price only"
    [status] = c1.send("35=H|11=A|54=1|55=AAPL")
    assert (status[11], status[38], status[40], status[59], status[151]) == (
        "A", "100", "2", "0", "100")


@pytest.mark.parametrize("begin", ["FIX.4.4", "FIXT.1.1", "FIX.4.2"])
def test_an_order_status_report_echoes_ordstatusreqid_where_fix_has_it(begin: str) -> None:
    """OrdStatusReqID (790) is on ExecutionReport from FIX 4.4 (and 5.0SP2) on, not in FIX
    4.2: echoed for an order, a parent and an unknown order; each answer passes the
    session's dictionary."""
    _, c1, _ = venue(begin)
    c1.send(order("A", "1", 100, "20.00"))
    # a parent with an hour to go: INTC's book is empty, so it waits with no child out
    c1.send(f"35=D|11=P1|54=1|38=300|40=2|44=50.00|55=INTC|59=0|60={ts()}|847=1001|"
            f"848=Slices=3|168={ts()}|126={ts(T0 + timedelta(hours=1))}")
    fix42 = begin == "FIX.4.2"
    for cl, symbol, status in (("A", "AAPL", "0"), ("P1", "INTC", "0"), ("NOPE", "AAPL", "8")):
        [a] = c1.send(f"35=H|11={cl}|54=1|55={symbol}|790=Q{cl}")
        # (FIX 4.2 has no ExecType I: a status report's ExecType is its OrdStatus)
        assert (a[11], a[39], a[150]) == (cl, status, status if fix42 else "I")
        assert a.get(790) == (None if fix42 else f"Q{cl}")
    [plain] = c1.send("35=H|11=A|54=1|55=AAPL")  # no 790 asked, none sent
    assert 790 not in plain


@pytest.mark.parametrize(("body", "text"), [
    ("35=G|11=A2|41=A|54=1|40=2|44=20.00|55=AAPL", "tag 38 (OrderQty) is missing"),
    ("35=G|11=A2|41=A|54=1|38=abc|40=2|44=20.00|55=AAPL", "is not a number"),
    ("35=F|11=A2|41=A|54=7|55=AAPL", "Side (54) '7' is not supported"),
])
def test_a_request_that_does_not_parse_is_rejected_with_its_orders_id_and_status(
        body: str, text: str) -> None:
    """OrdStatus on an OrderCancelReject is the order's status after the reject (Rejected
    only for an unknown order), and OrderID its id."""
    _, c1, c2 = venue()
    [ack] = c1.send(order("A", "1", 100, "20.00"))
    c2.send(order("S", "2", 40, "20.00"))  # A partly filled
    c1.received()
    [rej] = c1.send(f"{body}|60={ts()}")
    assert (rej[35], rej[37], rej[39], rej[102]) == ("9", ack[37], "1", "99")
    assert text in rej[58]
    [rej] = c1.send(f"{body.replace('41=A', '41=NOPE')}|60={ts()}")  # an order it never had
    assert (rej[35], rej[37], rej[39]) == ("9", "NONE", "8")


def test_a_cancel_or_replace_naming_another_orders_orderid_is_refused() -> None:
    _, c1, _ = venue()
    [a] = c1.send(order("A", "1", 100, "20.00"))
    [b] = c1.send(order("B", "1", 100, "20.00"))
    for body in (f"35=F|11=A2|41=A|37={b[37]}|54=1|55=AAPL",
                 f"35=G|11=A3|41=A|37={b[37]}|54=1|38=50|40=2|44=20.00|55=AAPL"):
        [rej] = c1.send(f"{body}|60={ts()}")
        assert (rej[35], rej[102], rej[37], rej[39]) == ("9", "1", "NONE", "8")
        assert rej[58] == f"OrderID (37) {b[37]} does not match order A"
    [done] = c1.send(f"35=F|11=A4|41=A|37={a[37]}|54=1|55=AAPL|60={ts()}")
    assert (done[35], done[150]) == ("8", "4")
    [still] = c1.send("35=H|11=B|54=1|55=AAPL")
    assert (still[39], still[151]) == ("0", "100")


def test_a_subscription_for_full_refreshes_is_rejected_a_snapshot_is_served() -> None:
    _, c1, _ = venue()
    c1.send(order("A", "1", 100, "20.00"))
    [rej] = c1.send("35=V|262=F|263=1|264=0|265=0|267=1|269=0|146=1|55=AAPL")
    assert (rej[35], rej[262], rej[281]) == ("Y", "F", "6")
    assert "MDUpdateType (265) 0" in rej[58]
    [snap] = c1.send("35=V|262=S|263=0|264=0|265=0|267=1|269=0|146=1|55=AAPL")
    assert (snap[35], snap[270], snap[271]) == ("W", "20", "100")
    c1.send("35=V|262=I|263=1|264=0|265=1|267=1|269=0|146=1|55=AAPL")  # incremental: served
    assert [m[35] for m in c1.send(order("B", "1", 10, "20.00"))] == ["8", "X"]


def test_an_unsubscribe_stops_its_updates_and_one_of_nothing_is_answered() -> None:
    """FIX defines no answer to an unsubscribe (263=2): one naming no subscription of the
    session gets a MarketDataRequestReject with Text (no MDReqRejReason fits), so the
    client knows it stopped nothing; the real one stops the updates, silently."""
    _, c1, _ = venue()
    c1.send("35=V|262=M1|263=1|264=0|265=1|267=1|269=0|146=1|55=AAPL")
    [rej] = c1.send("35=V|262=NOPE|263=2|264=0|267=1|269=0|146=1|55=AAPL")
    assert (rej[35], rej[262], rej.get(281)) == ("Y", "NOPE", None)
    assert rej[58] == "no subscription with MDReqID NOPE to unsubscribe"
    assert c1.send("35=V|262=M1|263=2|264=0|267=1|269=0|146=1|55=AAPL") == []
    assert [m[35] for m in c1.send(order("A", "1", 10, "20.00"))] == ["8"]  # no X any more


def test_a_by_order_subscription_with_a_depth_is_rejected_a_full_book_one_served() -> None:
    """By-order increments follow every order of the book, so they cannot keep to a depth;
    a one-off by-order snapshot with a depth, and level data with one, are served."""
    _, c1, c2 = venue()
    c2.send(order("A", "1", 100, "20.00"))
    c2.send(order("B", "1", 100, "19.99"))
    [rej] = c1.send("35=V|262=O1|263=1|264=1|265=1|266=N|267=1|269=0|146=1|55=AAPL")
    assert (rej[35], rej[262], rej[281]) == ("Y", "O1", "5")
    assert "MarketDepth (264) 1" in rej[58]
    [snap] = c1.send("35=V|262=O2|263=0|264=1|266=N|267=1|269=0|146=1|55=AAPL")
    assert (snap[35], snap[268], snap[270]) == ("W", "1", "20")
    for req in ("O3|263=1|264=0|265=1|266=N", "L1|263=1|264=1|265=1|266=Y"):
        [w] = c1.send(f"35=V|262={req}|267=1|269=0|146=1|55=AAPL")
        assert w[35] == "W"


def test_algo_decisions_a_clients_order_triggers_carry_that_orders_time() -> None:
    """A TWAP parent waits on an empty book; the desk's last timer ran at 15:00:10. CLIENT2's
    sell at 15:00:12 makes the TWAP cross at once: the child, its fill and the parent's fill
    happen at 15:00:12, not at the desk's last timer (which put the fill before the order
    it filled against)."""
    app, c1, c2 = venue()
    c1.send(f"35=D|11=P1|54=1|38=300|40=2|44=50.00|55=INTC|59=0|60={ts()}|847=1001|"
            f"848=Slices=3|168={ts()}|126={ts(T0 + timedelta(seconds=60))}")
    timer = app.next_deadline()
    assert timer == T0 + timedelta(seconds=10)  # half a slice: the TWAP would cross now
    app.on_timer(timer)
    assert c1.received() == []  # nothing to cross with
    t2 = timer + timedelta(seconds=2)
    ack, fill = c2.send(order("S1", "2", 100, "50.00", "INTC"), now=t2)
    assert (ack[150], fill[150], fill[32]) == ("0", "F", "100")
    [parent_fill] = c1.received()
    assert parent_fill[150] == "F"
    assert ack[60] == fill[60] == parent_fill[60] == format_utc_timestamp(t2)


def test_fix42_reports_use_the_reject_codes_and_exectranstype_fix42_has() -> None:
    """Every answer is validated against FIX42.xml (as QuickFIX's client does): reject
    codes FIX 4.2 lacks (OrdRejReason 13, CxlRejReason 99 and 6) are Broker option (0 and 2),
    and a status report is ExecTransType Status (3), not New."""
    _, c1, _ = venue("FIX.4.2")
    [rej] = c1.send(order("Q0", "1", 0, "20.00"))
    assert (rej[150], rej[103]) == ("8", "0") and "OrderQty (38) 0" in rej[58]
    [ack] = c1.send(order("A", "1", 100, "20.00"))
    [cxl] = c1.send(f"35=G|11=A2|41=A|54=1|38=50|40=2|44=20.00|59=1|55=AAPL|60={ts()}")
    assert (cxl[35], cxl[102]) == ("9", "2") and "TimeInForce" in cxl[58]
    [dup] = c1.send(f"35=F|11=A|41=A|54=1|55=AAPL|60={ts()}")
    assert (dup[35], dup[102]) == ("9", "2")
    [status] = c1.send("35=H|11=A|54=1|55=AAPL")
    assert (status[20], status[150], status[39], status[37]) == ("3", "0", "0", ack[37])


def test_fix50sp2_snapshots_carry_lastupdatetime_and_by_order_mdentryid() -> None:
    """FIX 5.0SP2 requires LastUpdateTime (779) on MarketDataSnapshotFullRefresh: every
    snapshot validates against FIX50SP2.xml, by level and by order. Its by-order entries
    had OrderID (37) alone, while the increments name orders by MDEntryID (278): a client
    keyed on 278 could not match a delete to the snapshot's order."""
    _, c1, c2 = venue("FIXT.1.1")
    c1.send(order("A", "1", 100, "20.00"))
    for req, extra in (("L1", ""), ("O1", "|266=N")):
        [snap] = c1.send(f"35=V|262={req}|263=0|264=0{extra}|267=2|269=0|269=1|146=1|55=AAPL")
        assert (snap[35], snap[779]) == ("W", "20261125-15:00:00.000")
    [snap] = c2.send("35=V|262=O2|263=1|264=0|265=1|266=N|267=1|269=0|146=1|55=AAPL")
    assert snap[278] == snap[37]
    c1.send(f"35=F|11=Ac|41=A|54=1|55=AAPL|60={ts()}")
    [x] = c2.received()
    assert (x[35], x[279], x[278]) == ("X", "2", snap[278])


def test_a_fixt_session_of_an_earlier_application_version_gets_that_versions_messages(
        ) -> None:
    """Reports were shaped by the BeginString: a FIXT session whose DefaultApplVerID is
    FIX 4.2 got ExecutionReports without ExecTransType, and one of FIX 4.4 snapshots with
    LastUpdateTime (779), which its own dictionary rejects (every answer here is validated
    against the session's application dictionary)."""
    _, c1, c2 = venue("FIXT.1.1", "FIX.4.2")
    [ack] = c1.send(order("A", "1", 100, "20.00"))
    assert (ack[20], ack[150]) == ("0", "0")
    c2.send(order("S", "2", 40, "20.00"))
    [fill] = c1.received()
    assert (fill[20], fill[150], fill[39]) == ("0", "1", "1")  # FIX 4.2's Partial fill
    [cxl] = c1.send(f"35=G|11=A2|41=A|54=1|38=50|40=2|44=20.00|59=1|55=AAPL|60={ts()}")
    assert (cxl[35], cxl[102]) == ("9", "2")
    _, c1, _ = venue("FIXT.1.1", "FIX.4.4")
    c1.send(order("A", "1", 100, "20.00"))
    [snap] = c1.send("35=V|262=L1|263=0|264=0|267=2|269=0|269=1|146=1|55=AAPL")
    assert snap[35] == "W" and 779 not in snap


def test_fix50sp2_requests_may_name_the_order_by_orderid_alone() -> None:
    """FIX 5.0SP2: an OrderStatusRequest without ClOrdID and a cancel without OrigClOrdID
    name the order by OrderID (37); an OrderID of no order of the session's is unknown, and
    the answer leaves out the ids it has not got (never an empty field)."""
    _, c1, c2 = venue("FIXT.1.1")
    [ack] = c1.send(order("A", "1", 100, "20.00"))
    [status] = c1.send(f"35=H|37={ack[37]}|54=1|55=AAPL")
    assert (status[150], status[11], status[39], status[151]) == ("I", "A", "0", "100")
    [unknown] = c2.send(f"35=H|37={ack[37]}|54=1|55=AAPL")  # not CLIENT2's order
    assert (unknown[39], 11 in unknown) == ("8", False)
    [refused] = c2.send(f"35=F|11=X|37={ack[37]}|54=1|55=AAPL|60={ts()}")
    assert (refused[35], refused[102], 41 in refused) == ("9", "1", False)
    [done] = c1.send(f"35=F|11=A2|37={ack[37]}|54=1|55=AAPL|60={ts()}")
    assert (done[150], done[11], done[41], done[37]) == ("4", "A2", "A", ack[37])


def _views(sent: list[Message]) -> dict[str, dict[tuple[str, Decimal], int]]:
    """Each subscription's book (MDReqID -> (MDEntryType, price) -> size) rebuilt from its
    snapshot and increments, as a client builds it."""
    views: dict[str, dict[tuple[str, Decimal], int]] = {}
    for m in sent:
        if m.msg_type not in ("W", "X"):
            continue
        view = views.setdefault(m.body.get_str(262) or "", {})
        for e in m.body.group(268).entries:  # type: ignore[union-attr]
            kind, price = e.get_str(269) or "", e.get_decimal(270) or Decimal(0)
            if kind == "2":
                continue  # a trade
            if e.get_str(279) == "2":
                del view[(kind, price)]
            else:
                view[(kind, price)] = e.get_int(271) or 0
    return views


def test_level_subscriptions_sharing_a_depth_each_follow_the_book() -> None:
    """Level subscriptions of one depth share the book's levels and their differences (the
    book was read once a subscription at every change: a thousand of them slowed every
    order). Each, subscribed at its own time, still rebuilds the book's top levels."""
    app, c1, c2 = venue()
    rng = random.Random(7)
    reqs = {"A": 2, "B": 2, "C": 0, "D": 2, "E": 2}
    kinds = {req: ("0", "1") for req in "ABCD"} | {"E": ("0",)}  # E: bids only
    for step in range(240):
        if step % 50 == 0:
            req = "ABCDE"[step // 50]
            entry_types = "".join(f"|269={kind}" for kind in kinds[req])
            c2.send(f"35=V|262={req}|263=1|264={reqs[req]}|265=1|267={len(kinds[req])}"
                    f"{entry_types}|146=1|55=AAPL")
        side = rng.choice("12")
        ticks = rng.randint(1995, 2005) + (2 if side == "2" else -2)
        c1.send(order(f"O{step}", side, rng.choice((10, 20, 30)), f"{ticks / 100:.2f}"))
        if step % 7 == 3:
            c1.send(f"35=F|11=X{step}|41=O{step - 1}|54=1|55=AAPL|60={ts()}")
    book = app.venue.books["AAPL"]
    spec = app.venue.specs["AAPL"]
    for req, view in _views(c2.handle.sent).items():
        want = {(kind, spec.to_price(lv.price)): lv.qty
                for kind, side in (("0", 0), ("1", 1)) if kind in kinds[req]
                for lv in book.depth(side, reqs[req] or None)}
        assert view == want, req


def test_a_session_holds_at_most_max_subscriptions() -> None:
    """One session's thousands of subscriptions, each served at every change, slowed every
    order of every session (68 ms a round trip at 1,000). The one past the limit is
    rejected (MDReqRejReason 2); an unsubscribe makes room; a one-off snapshot is served."""
    _, c1, c2 = venue()

    def subscribe(req: str, kind: str = "1") -> list[Fields]:
        return c1.send(f"35=V|262={req}|263={kind}|264=1|265=1|267=1|269=0|146=1|55=AAPL")

    for n in range(MAX_SUBSCRIPTIONS):
        assert [m[35] for m in subscribe(f"S{n}")] == ["W"]
    [rej] = subscribe("ONE-MORE")
    assert (rej[35], rej[262], rej[281]) == ("Y", "ONE-MORE", "2")
    [unknown] = c1.send("35=V|262=U|263=1|264=1|265=1|267=1|269=0|146=1|55=NOPE")
    assert unknown[281] == "0"  # its own fault first
    assert rej[58] == (f"this session holds {MAX_SUBSCRIPTIONS} subscriptions, the most it "
                       "may: unsubscribe one first")
    assert [m[35] for m in subscribe("SNAP", "0")] == ["W"]
    assert [m[35] for m in c2.send("35=V|262=S0|263=1|264=1|265=1|267=1|269=0|146=1|55=AAPL")
            ] == ["W"]  # another session's own count
    assert subscribe("S0", "2") == []
    assert [m[35] for m in subscribe("ONE-MORE")] == ["W"]


@pytest.mark.parametrize(("extra", "refused"), [
    ("110=100", "MinQty (110) 100"),
    ("18=6", "ExecInst (18) 6"),
    ("111=10", "MaxFloor (111) 10"),
    ("210=10", "MaxShow (210) 10"),
    ("110=0", None),     # no minimum
    ("111=100", None),   # the whole order shown
])
def test_an_instruction_the_venue_does_not_carry_out_is_refused_not_ignored(
        extra: str, refused: str | None) -> None:
    """A buy for 100 with a minimum of 100, or 'participate, do not initiate', against an
    offer of 30: worked as a plain limit order it would fill 30 at once, which the client
    said not to. It is refused (OrdRejReason 11) and nothing trades; so is a replace asking
    for one. Values that ask for nothing are taken."""
    _, c1, c2 = venue()
    c2.send(order("S", "2", 30, "20.00"))
    reports = c1.send(order("B", "1", 100, "20.00").replace("|59=0", f"|59=0|{extra}"))
    if refused is None:
        assert [(r[150], r[39]) for r in reports] == [("0", "0"), ("F", "1")]
        return
    [rej] = reports
    assert (rej[35], rej[150], rej[39], rej[103]) == ("8", "8", "8", "11")
    assert rej[58].startswith(f"{refused} is not supported"), rej[58]
    [ack] = c1.send(order("A", "1", 100, "19.00"))
    [crej] = c1.send(f"35=G|11=A2|41=A|54=1|38=100|40=2|44=20.00|55=AAPL|{extra}|60={ts()}")
    assert (crej[35], crej[434], crej[37], crej[39]) == ("9", "2", ack[37], "0")
    assert crej[58].startswith(f"{refused} is not supported")
    [status] = c2.send("35=H|11=S|54=2|55=AAPL")
    assert (status[39], status[151]) == ("0", "30")  # nothing traded
