"""The venue core: matching, reports per owner, rejects with reasons, owner isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.book_types import Side
from gateway.venue import NewOrder, Venue
from gateway.venue_config import SymbolSpec, VenueConfig
from gateway.venue_orders import (
    CANCELED,
    FILLED,
    NEW,
    PARTIAL,
    REJECTED,
    REPLACED,
    TRADE,
    CancelReject,
    ExecReport,
    Report,
)

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
D = Decimal


def venue() -> Venue:
    spec = SymbolSpec("AAPL", tick_size=D("0.01"), lot_size=10, band_pct=D(10), max_qty=10_000)
    return Venue(VenueConfig({"AAPL": spec}), id_prefix="t-")


def nos(owner: str, cl: str, side: Side, qty: int, price: str | None, tif: str = "0",
        symbol: str = "AAPL") -> NewOrder:
    return NewOrder(owner, cl, symbol, side, "2" if price else "1", qty,
                    D(price) if price else None, tif)


def execs(reports: list[Report]) -> list[ExecReport]:
    assert all(isinstance(r, ExecReport) for r in reports)
    return [r for r in reports if isinstance(r, ExecReport)]


def test_cross_reports_fills_to_both_owners_with_running_totals() -> None:
    v = venue()
    [ack] = execs(v.new_order(nos("C1", "s1", Side.SELL, 100, "10.00"), NOW))
    assert (ack.exec_type, ack.ord_status, ack.leaves, ack.owner) == (NEW, NEW, 100, "C1")
    v.new_order(nos("C1", "s2", Side.SELL, 100, "10.01"), NOW)
    out = execs(v.new_order(nos("C2", "b1", Side.BUY, 150, "10.01"), NOW))
    assert [(r.owner, r.exec_type, r.last_qty, r.last_px) for r in out] == [
        ("C2", NEW, 0, None),
        ("C1", TRADE, 100, D("10")), ("C2", TRADE, 100, D("10")),
        ("C1", TRADE, 50, D("10.01")), ("C2", TRADE, 50, D("10.01")),
    ]
    last = out[-1]
    assert (last.ord_status, last.cum, last.leaves) == (FILLED, 150, 0)
    assert last.avg_px == D("10.003333")  # (10 x 100 + 10.01 x 50) / 150 to 6 places
    assert out[3].ord_status == PARTIAL and out[3].leaves == 50
    assert len({r.exec_id for r in out}) == len(out)
    assert len({out[1].order_id, out[2].order_id}) == 2


@pytest.mark.parametrize(("tif", "text"), [("3", "IOC"), ("4", "FOK")])
def test_ioc_and_fok_remainders_are_canceled_with_a_reason(tif: str, text: str) -> None:
    v = venue()
    v.new_order(nos("C1", "s", Side.SELL, 50, "10.00"), NOW)
    out = execs(v.new_order(nos("C2", "b", Side.BUY, 100, "10.00", tif), NOW))
    assert out[-1].exec_type == CANCELED and text in (out[-1].text or "")
    assert out[-1].cum == (50 if tif == "3" else 0)


def test_market_order_without_liquidity_is_canceled() -> None:
    out = execs(venue().new_order(nos("C1", "m", Side.BUY, 100, None), NOW))
    assert [r.exec_type for r in out] == [NEW, CANCELED]
    assert "no more liquidity" in (out[-1].text or "")


@pytest.mark.parametrize(("req", "reason", "text"), [
    (nos("C1", "x", Side.BUY, 100, "10.00", symbol="ZZZZ"), 1, "unknown Symbol (55) ZZZZ"),
    (nos("C1", "x", Side.BUY, 0, "10.00"), 13, "must be positive"),
    (nos("C1", "x", Side.BUY, -10, "10.00"), 13, "must be positive"),
    (nos("C1", "x", Side.BUY, 15, "10.00"), 13, "lot size 10"),
    (nos("C1", "x", Side.BUY, 10**15, "10.00"), 13, "exceeds the maximum"),
    (nos("C1", "x", Side.BUY, 100, "10.001"), 99, "tick size"),
    (nos("C1", "x", Side.BUY, 100, "-1"), 99, "must be positive"),
    (nos("C1", "x", Side.BUY, 100, "10.00", tif="6"), 11, "TimeInForce"),
    (NewOrder("C1", "x", "AAPL", Side.BUY, "2", 100, None), 99, "needs a Price"),
    (NewOrder("C1", "x", "AAPL", Side.BUY, "P", 100, D(10)), 11, "OrdType"),
])
def test_bad_orders_are_rejected_with_reason(req: NewOrder, reason: int, text: str) -> None:
    [r] = execs(venue().new_order(req, NOW))
    assert (r.exec_type, r.ord_status, r.rej_reason) == (REJECTED, REJECTED, reason)
    assert text in (r.text or "")


def test_price_band_around_last_trade() -> None:
    v = venue()
    v.new_order(nos("C1", "s", Side.SELL, 10, "10.00"), NOW)
    v.new_order(nos("C2", "b", Side.BUY, 10, "10.00"), NOW)
    [r] = execs(v.new_order(nos("C1", "far", Side.BUY, 10, "11.50"), NOW))
    assert r.exec_type == REJECTED and "price band" in (r.text or "")
    assert execs(v.new_order(nos("C1", "near", Side.BUY, 10, "10.90"), NOW))[0].exec_type == NEW


def test_duplicate_clordid_rejected_and_original_untouched() -> None:
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    [r] = execs(v.new_order(nos("C1", "a", Side.BUY, 200, "10.00"), NOW))
    assert r.rej_reason == 6 and "duplicate ClOrdID (11) a" in (r.text or "")
    order = v.order("C1", "a")
    assert order is not None and order.qty == 100 and order.live
    # another owner may use the same ClOrdID
    assert execs(v.new_order(nos("C2", "a", Side.SELL, 10, "10.50"), NOW))[0].exec_type == NEW


def test_owners_cannot_touch_each_others_orders() -> None:
    v = venue()
    v.new_order(nos("C1", "mine", Side.BUY, 100, "10.00"), NOW)
    [cxl] = v.cancel("C2", "c", "mine", NOW)
    assert isinstance(cxl, CancelReject) and cxl.reason == 1 and cxl.owner == "C2"
    [rep] = v.replace("C2", "r", "mine", 10, D("9"), NOW)
    assert isinstance(rep, CancelReject)
    assert v.status("C2", "mine", NOW) is None  # answered from the request, as unknown
    assert v.order("C1", "mine") is not None and v.order("C1", "mine").live  # type: ignore[union-attr]


def test_cancel_then_cancel_again_is_too_late() -> None:
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    [r] = execs(v.cancel("C1", "a2", "a", NOW))
    assert (r.exec_type, r.ord_status, r.cl_ord_id, r.orig_cl_ord_id, r.leaves) == (
        CANCELED, CANCELED, "a2", "a", 0)
    [rej] = v.cancel("C1", "a3", "a2", NOW)
    assert isinstance(rej, CancelReject) and rej.reason == 0 and "already canceled" in rej.text
    assert v.books["AAPL"].order_count() == 0


def test_a_cancel_or_replace_naming_another_symbol_or_side_changes_nothing() -> None:
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    [rej] = v.cancel("C1", "a2", "a", NOW, expect=("MSFT", Side.BUY))
    assert isinstance(rej, CancelReject) and rej.order_id != "NONE" and rej.ord_status == NEW
    assert rej.text == "Symbol (55) MSFT is not order a's (AAPL)"
    [rej] = v.replace("C1", "a3", "a", 50, D("10.00"), NOW, expect=("AAPL", Side.SELL))
    assert isinstance(rej, CancelReject) and rej.response_to == "2"
    assert rej.text == "Side (54) 2 (sell) is not order a's (1 (buy))"
    assert v.books["AAPL"].order_count() == 1
    [r] = execs(v.cancel("C1", "a4", "a", NOW, expect=("AAPL", Side.BUY)))
    assert r.exec_type == CANCELED


def test_a_replace_refused_by_the_callers_vet_changes_nothing() -> None:
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    seen = []

    def vet(order: object, qty: int, price: Decimal | None) -> str | None:
        seen.append((qty, price))
        return "risk: too big" if qty > 500 else None

    [rej] = v.replace("C1", "a2", "a", 600, D("10.01"), NOW, vet)
    assert isinstance(rej, CancelReject) and rej.text == "risk: too big"
    order = v.order("C1", "a")
    assert order is not None and (order.qty, order.price) == (100, D("10.00"))
    [r] = execs(v.replace("C1", "a3", "a", 200, None, NOW, vet))  # the price stays
    assert r.exec_type == REPLACED and seen == [(600, D("10.01")), (200, D("10.00"))]


def test_a_replace_keeping_its_price_is_not_held_to_the_band_a_new_price_is() -> None:
    """The band measures new exposure against the market: an order resting at a price the
    market has since left may still be reduced there, as it may be canceled, not grown."""
    v = venue()  # band 10%
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    v.new_order(nos("C2", "s", Side.SELL, 10, "12.00"), NOW)
    v.new_order(nos("C3", "b", Side.BUY, 10, "12.00"), NOW)  # trades at 12: 10.00 is 16% off
    [far] = execs(v.new_order(nos("C1", "x", Side.BUY, 10, "10.00"), NOW))
    assert far.exec_type == REJECTED and "price band" in (far.text or "")
    [r] = execs(v.replace("C1", "a2", "a", 50, D("10.00"), NOW))
    assert (r.exec_type, r.qty, r.price) == (REPLACED, 50, D("10"))
    [r] = execs(v.replace("C1", "a3", "a2", 40, None, NOW))  # no Price: the same price
    assert (r.exec_type, r.qty) == (REPLACED, 40)
    [rej] = v.replace("C1", "a4", "a3", 60, D("10"), NOW)  # more, at the resting price
    assert isinstance(rej, CancelReject) and "price band" in rej.text
    [rej] = v.replace("C1", "a5", "a3", 40, D("10.01"), NOW)  # a new price: banded
    assert isinstance(rej, CancelReject) and "price band" in rej.text
    [rej] = v.replace("C1", "a6", "a3", 30, D("10.005"), NOW)  # the tick always holds
    assert isinstance(rej, CancelReject) and "tick size" in rej.text
    order = v.order("C1", "a3")
    assert order is not None and (order.qty, order.price) == (40, D("10"))


def test_a_replace_changing_ordtype_or_timeinforce_is_refused_and_changes_nothing() -> None:
    """A replace changes quantity and price only; it does not report Replaced for terms it
    did not apply."""
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    [rej] = v.replace("C1", "a2", "a", 50, D("10.00"), NOW, ord_type="1")
    assert isinstance(rej, CancelReject) and (rej.reason, rej.ord_status) == (99, NEW)
    assert rej.text == "OrdType (40) 1 is not order a's (2): a replace changes OrderQty and " \
                       "Price only"
    [rej] = v.replace("C1", "a3", "a", 50, D("10.00"), NOW, tif="1")
    assert isinstance(rej, CancelReject)
    assert rej.text == "TimeInForce (59) 1 is not order a's (0): a replace changes OrderQty " \
                       "and Price only"
    order = v.order("C1", "a")
    assert order is not None and (order.qty, order.tif, order.cl_ord_id) == (100, "0", "a")
    [r] = execs(v.replace("C1", "a4", "a", 50, D("10.00"), NOW, ord_type="2", tif="0"))
    assert r.exec_type == REPLACED  # the same terms sent again


def test_a_cancel_or_replace_whose_orderid_is_not_the_orders_is_an_unknown_order() -> None:
    v = venue()
    [ack] = execs(v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW))
    v.new_order(nos("C1", "b", Side.BUY, 100, "10.00"), NOW)
    other = v.order("C1", "b")
    assert other is not None
    for rej in (v.cancel("C1", "a2", "a", NOW, order_id=other.order_id)[0],
                v.replace("C1", "a3", "a", 50, None, NOW, order_id=other.order_id)[0]):
        assert isinstance(rej, CancelReject)
        assert (rej.reason, rej.order_id, rej.ord_status) == (1, "NONE", REJECTED)
        assert rej.text == f"OrderID (37) {other.order_id} does not match order a"
    assert v.order("C1", "a").leaves == v.order("C1", "b").leaves == 100  # type: ignore[union-attr]
    [r] = execs(v.cancel("C1", "a4", "a", NOW, order_id=ack.order_id))
    assert r.exec_type == CANCELED


def test_a_cancel_or_replace_naming_an_earlier_clordid_is_refused() -> None:
    """OrigClOrdID must be the ClOrdID of the last accepted request (FIX): a client acting
    on a stale view must not overwrite a replace it has not seen yet."""
    v = venue()
    v.new_order(nos("C1", "a1", Side.BUY, 100, "10.00"), NOW)
    v.replace("C1", "a2", "a1", 80, None, NOW)
    for rej in (v.replace("C1", "a3", "a1", 200, D("10.01"), NOW)[0],
                v.cancel("C1", "a4", "a1", NOW)[0]):
        assert isinstance(rej, CancelReject)
        assert (rej.reason, rej.ord_status, rej.orig_cl_ord_id) == (99, NEW, "a1")
        assert rej.order_id == v.order("C1", "a2").order_id  # type: ignore[union-attr]
        assert rej.text == "OrigClOrdID (41) a1 was replaced: the order's ClOrdID is now a2"
    order = v.order("C1", "a2")
    assert order is not None and (order.qty, order.price, order.cl_ord_id) == (
        80, D("10.00"), "a2")
    [r] = execs(v.cancel("C1", "a5", "a2", NOW))
    assert (r.exec_type, r.orig_cl_ord_id) == (CANCELED, "a2")


def test_replace_down_keeps_priority_and_up_loses_it() -> None:
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    v.new_order(nos("C2", "b", Side.BUY, 100, "10.00"), NOW)
    [r] = execs(v.replace("C1", "a2", "a", 50, D("10.00"), NOW))
    assert (r.exec_type, r.qty, r.leaves, r.cl_ord_id) == (REPLACED, 50, 50, "a2")
    out = execs(v.new_order(nos("C2", "s", Side.SELL, 50, "10.00"), NOW))
    assert [x.owner for x in out if x.exec_type == TRADE] == ["C1", "C2"]  # C1 still first
    v.replace("C2", "b2", "b", 200, None, NOW)  # bigger: to the back of the queue
    assert v.order("C2", "b2").leaves == 200  # type: ignore[union-attr]


@pytest.mark.parametrize("asked", [50, 60])
def test_a_replace_down_to_or_below_the_filled_quantity_ends_the_order_filled(
        asked: int) -> None:
    """A cut that crossed a fill on the wire: the rest is cancelled, the order is done at
    its CumQty (FIX 4.4 Appendix D: order qty amended to cum qty)."""
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    v.new_order(nos("C2", "s", Side.SELL, 60, "10.00"), NOW)
    [done] = execs(v.replace("C1", "a2", "a", asked, None, NOW))
    assert (done.exec_type, done.ord_status, done.qty, done.cum, done.leaves) == (
        REPLACED, FILLED, 60, 60, 0)
    assert not v.books["AAPL"].level_count(Side.BUY)  # nothing left resting
    out = execs(v.new_order(nos("C2", "s2", Side.SELL, 40, "10.00"), NOW))
    assert not [r for r in out if r.owner == "C1"]


def test_replace_to_a_crossing_price_trades() -> None:
    v = venue()
    v.new_order(nos("C1", "s", Side.SELL, 100, "10.05"), NOW)
    v.new_order(nos("C2", "b", Side.BUY, 100, "10.00"), NOW)
    out = execs(v.replace("C2", "b2", "b", 100, D("10.05"), NOW))
    assert [r.exec_type for r in out] == [REPLACED, TRADE, TRADE]
    assert out[-1].ord_status == FILLED


@pytest.mark.parametrize("replace", ["price", "quantity up"])
def test_replayed_liquidity_that_crosses_fills_client_orders_in_queue_order(
        replace: str) -> None:
    """C1's order lost its place by a replace (a new price, or more quantity) after C2's
    joined the level: a replayed sell crossing both fills C2 first, as a client's sell
    would."""
    v = venue()
    book = v.books["AAPL"]
    if replace == "price":
        v.new_order(nos("C1", "a", Side.BUY, 100, "9.99"), NOW)
        v.new_order(nos("C2", "b", Side.BUY, 100, "10.00"), NOW)
        v.replace("C1", "a2", "a", 100, D("10.00"), NOW)
    else:
        v.new_order(nos("C1", "a", Side.BUY, 50, "10.00"), NOW)
        v.new_order(nos("C2", "b", Side.BUY, 100, "10.00"), NOW)
        v.replace("C1", "a2", "a", 100, None, NOW)
    book.add(7, Side.SELL, 1000, 100)  # the feed rests it without matching
    fills = [r for r in execs(v.uncross("AAPL", NOW)) if r.exec_type == TRADE]
    assert [(r.owner, r.last_qty) for r in fills] == [("C2", 100)]


def test_feed_liquidity_trades_and_a_level_the_feed_deletes_keeps_client_orders() -> None:
    v = venue()
    book = v.books["AAPL"]
    book.add(7, Side.SELL, 1000, 30)  # what the C feed does: rest without matching
    out = execs(v.new_order(nos("C1", "b", Side.BUY, 30, "10.00"), NOW))
    assert out[-1].ord_status == FILLED and out[-1].last_px == D("10")
    v.new_order(nos("C2", "b2", Side.BUY, 20, "9.99"), NOW)
    book.add(8, Side.BUY, 999, 15)  # the feed's order at 9.99, behind C2's
    # the feed deletes the 9.99 level (it fell out of a limited-depth view): its own
    # liquidity goes, C2's order stays where it was
    book.delete(0, Side.BUY, 999, 1 << 40)
    assert v.feed_applied("AAPL", [1000], [5], NOW) == [] and v.uncross("AAPL", NOW) == []
    order = v.order("C2", "b2")
    assert order is not None and order.leaves == 20 and order.status == NEW
    assert [(lv.price, lv.qty) for lv in book.depth(Side.BUY)] == [(999, 20)]
    assert v.volume["AAPL"] == 35 and v.last_trade["AAPL"] == D("10")


def test_cancel_all_for_disconnect() -> None:
    v = venue()
    v.new_order(nos("C1", "a", Side.BUY, 100, "10.00"), NOW)
    v.new_order(nos("C2", "b", Side.BUY, 100, "10.00"), NOW)
    out = execs(v.cancel_all("C1", NOW, "canceled on disconnect"))
    assert [(r.owner, r.exec_type) for r in out] == [("C1", CANCELED)]
    assert v.open_orders("C2")


def test_prices_never_take_exponent_form() -> None:
    """100.00 is written 100 (Decimal.normalize alone gives 1E+2, which reached fills.csv)."""
    from gateway.venue_config import plain

    spec = SymbolSpec("X", tick_size=Decimal("0.01"))
    assert [str(spec.to_price(t)) for t in (10000, 58000, 10005, 1, 0)] == [
        "100", "580", "100.05", "0.01", "0"]
    assert str(plain(Decimal("2.50E+3"))) == "2500" and str(plain(Decimal("1.230"))) == "1.23"


def test_a_new_day_frees_the_clordids_of_done_orders() -> None:
    """ClOrdIDs are unique within a FIX day: after the owner's sequence-reset Logon, a done
    order's ClOrdID may be used again (and the done order is forgotten); a live one's not."""
    v = Venue(VenueConfig({"AAPL": SymbolSpec("AAPL", tick_size=Decimal("0.01"))}),
              id_prefix="t-")
    v.new_order(NewOrder("C1", "A", "AAPL", Side.BUY, "2", 100, Decimal("10")), NOW)
    v.new_order(NewOrder("C1", "B", "AAPL", Side.BUY, "2", 100, Decimal("10")), NOW)
    v.cancel("C1", "A~c", "A", NOW)
    v.new_order(NewOrder("C2", "A", "AAPL", Side.SELL, "2", 50, Decimal("11")), NOW)
    again = NewOrder("C1", "A", "AAPL", Side.BUY, "2", 100, Decimal("10"))
    assert "duplicate ClOrdID" in (v.new_order(again, NOW)[0].text or "")
    assert v.new_day("C1") == 2  # A and its cancel's ClOrdID
    assert v.order("C1", "A") is None and v.order("C1", "B") is not None  # B is live
    assert v.new_order(again, NOW)[0].exec_type == "0"  # accepted
    assert "duplicate ClOrdID" in (v.new_order(
        NewOrder("C1", "B", "AAPL", Side.BUY, "2", 1, Decimal("10")), NOW)[0].text or "")
    assert v.order("C2", "A") is not None  # another owner's day is its own
