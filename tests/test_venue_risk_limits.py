"""Risk limits as the venue applies them to a client's direct orders and parents, driven
in-process on chosen times: a market order is valued and bounded without the Price it may
carry, positions are marked to the book's mid, the daily loss starts over each trading day,
a parent obeys the venue's maximum quantity, and limit breaches carry OrdRejReason 3."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from gateway.audit import AuditLog
from gateway.config import load_config
from gateway.fixmessage import Message
from gateway.venue_app import VenueApplication
from tests.engine_apps import RecordingHandle

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
_QUOTES = itertools.count()


def venue(tmp_path: Path, risk: dict[str, object], band_pct: float = 20
          ) -> tuple[VenueApplication, RecordingHandle, RecordingHandle]:
    """sessions/venue.yaml with CLIENT1's ``risk`` limits and INTC's band; both clients
    logged on at T0."""
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["risk"] = {"sessions": {"CLIENT1": risk}}
    config["venue"]["symbols"]["INTC"]["band_pct"] = band_pct
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    gw = load_config(path)
    app = VenueApplication(gw)
    handles = []
    for comp_id in ("CLIENT1", "CLIENT2"):
        cfg = next(s for s in gw.sessions if s.target_comp_id == comp_id)
        h = RecordingHandle(replace(cfg))
        app.on_logon(h, T0)  # type: ignore[arg-type]
        handles.append(h)
    return app, handles[0], handles[1]


def send(app: VenueApplication, h: RecordingHandle, now: datetime, **fields: object
         ) -> list[Message]:
    """A NewOrderSingle for INTC (fields by tag name: cl, side, qty, type, price) and what
    it was answered."""
    m = Message("D")
    tags = {"cl": 11, "side": 54, "qty": 38, "type": 40, "price": 44, "strategy": 847}
    m.body.set(21, "1")
    m.body.set(55, "INTC")
    m.body.set(60, now.strftime("%Y%m%d-%H:%M:%S"))
    for name, value in fields.items():
        m.body.set(tags[name], str(value))
    before = len(h.sent)
    app.on_message(h, m, now)  # type: ignore[arg-type]
    return h.sent[before:]


def quote(app: VenueApplication, h: RecordingHandle, now: datetime,
          levels: list[tuple[str, int, str]]) -> None:
    """CLIENT2 rests (side, qty, price) limit orders."""
    for side, qty, price in levels:
        out = send(app, h, now, cl=f"Q{next(_QUOTES)}", side=side, qty=qty, type="2",
                   price=price)
        assert out[0].body.get_str(150) == "0", out[0].body.get_str(58)


def fills(out: list[Message]) -> list[tuple[str | None, str | None]]:
    return [(m.body.get_str(32), m.body.get_str(31)) for m in out
            if m.body.get_str(150) == "F"]


def test_a_market_order_is_valued_at_the_book_whatever_price_it_carries(
        tmp_path: Path) -> None:
    """A market buy with 44=0.01 was valued at 0.01 a share and went through max_notional:
    it is valued at the prices it would take."""
    app, c1, c2 = venue(tmp_path, {"max_notional": 50000})
    quote(app, c2, T0, [("1", 10, "99"), ("2", 1000, "100")])
    (rej,) = send(app, c1, T0, cl="M1", side="1", qty=1000, type="1", price="0.01")
    assert (rej.body.get_str(150), rej.body.get_str(103)) == ("8", "3")
    assert rej.body.get_str(58) == ("risk: order notional 100000 (at the prices it can trade "
                                    "at) exceeds max_notional 50000.0")
    assert send(app, c1, T0, cl="M2", side="1", qty=400, type="1")[0].body.get_str(150) == "0"


@pytest.mark.parametrize(("side", "qty", "kind", "price", "notional"), [
    # only bids, no mid: a sell at 0.01 was valued at 0.01 and sold 5,000 at 100
    ("2", 5000, "2", "0.01", "500000"),
    # a market buy was valued at the mid (99.5) and swept to the band's edge: 59,310
    ("1", 500, "1", None, "59310"),
])
def test_an_order_is_valued_at_the_prices_it_can_trade_at(
        tmp_path: Path, side: str, qty: int, kind: str, price: str | None,
        notional: str) -> None:
    app, c1, c2 = venue(tmp_path, {"max_notional": 50000})
    levels = ([("1", 5000, "100")] if side == "2" else
              [("1", 10, "99"), ("2", 10, "100"), ("2", 990, "119")])
    quote(app, c2, T0, levels)
    order = {"price": price} if price is not None else {}
    (rej,) = send(app, c1, T0, cl="N1", side=side, qty=qty, type=kind, **order)
    assert rej.body.get_str(58) == (f"risk: order notional {notional} (at the prices it can "
                                    "trade at) exceeds max_notional 50000.0")
    assert app.venue.books["INTC"].bbo().bid_qty == (5000 if side == "2" else 10)


def test_a_replace_counts_what_filled_at_its_prices(tmp_path: Path) -> None:
    """A sell of 400 at 100, 300 filled there, replaced to 700 at 1 into bids of 300 at 99
    and 10,000 at 1: valued at the book for the whole 700 (30,100), it was accepted and
    traded 59,800 against a 50,000 limit. What filled counts at its own prices (30,000),
    the rest at the book's (300 x 99 + 100 x 1)."""
    app, c1, c2 = venue(tmp_path, {"max_notional": 50000}, band_pct=1000)
    quote(app, c2, T0, [("1", 300, "99")])
    send(app, c1, T0, cl="S1", side="2", qty=400, type="2", price="100")
    assert fills(send(app, c2, T0, cl="X1", side="1", qty=300, type="2", price="100")) == [
        ("300", "100")]
    quote(app, c2, T0, [("1", 10000, "1")])
    m = Message("G")
    for tag, value in ((11, "S2"), (41, "S1"), (55, "INTC"), (54, "2"), (38, "700"),
                       (40, "2"), (44, "1"), (21, "1"), (60, T0.strftime("%Y%m%d-%H:%M:%S"))):
        m.body.set(tag, value)
    app.on_message(c1, m, T0)  # type: ignore[arg-type]
    rej = c1.sent[-1].body
    assert (c1.sent[-1].msg_type, rej.get_str(434)) == ("9", "2")
    assert rej.get_str(58) == ("risk: order notional 59800 (at the prices it can trade at) "
                               "exceeds max_notional 50000.0")


def test_a_clients_two_sessions_share_its_limits(tmp_path: Path) -> None:
    """CLIENT1 over FIX 4.4 and FIX 4.2: max_open_orders 2 let each session have 2 open (the
    gate was the session's, the limits the CompID's). The kill switch is audited once."""
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["sessions"].append({"target_comp_id": "CLIENT1", "begin_string": "FIX.4.2"})
    config["risk"] = {"sessions": {"CLIENT1": {"max_open_orders": 2}}}
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    gw = load_config(path)
    app = VenueApplication(gw)
    c44, c2, c42 = (RecordingHandle(s) for s in gw.sessions)
    for h in (c44, c2, c42):
        app.on_logon(h, T0)  # type: ignore[arg-type]
    answers = [send(app, h, T0, cl=f"O{i}", side="1", qty=1, type="2", price="95")[0].body
               for h in (c44, c42) for i in range(2)]
    assert [(a.get_str(150), a.get_str(58)) for a in answers] == [
        ("0", None), ("0", None),
        ("8", "risk: 2 open orders already at max_open_orders 2"),
        ("8", "risk: 2 open orders already at max_open_orders 2")]
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        app.gate.audit = audit
        app.kill_all("SIGUSR1", T0)
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["session"] for r in records if r.get("event_") == "kill_switch"] == [
        "CLIENT1", c2.name]


def test_a_market_order_trades_no_further_than_the_collar(tmp_path: Path) -> None:
    """It swept the book to 120 with a 5% collar around a mid of 99.5."""
    app, c1, c2 = venue(tmp_path, {"price_collar_pct": 5}, band_pct=50)
    quote(app, c2, T0, [("1", 10, "99"), ("2", 10, "100"), ("2", 10, "104.47"),
                        ("2", 500, "104.48"), ("2", 500, "120")])
    out = send(app, c1, T0, cl="M1", side="1", qty=500, type="1")
    assert fills(out) == [("10", "100"), ("10", "104.47")]  # 99.5 x 1.05 = 104.475
    done = out[-1].body
    assert (done.get_str(150), done.get_str(39), done.get_str(14), done.get_str(151)) == (
        "4", "4", "20", "0")
    assert done.get_str(58) == ("market order remainder canceled: no more liquidity (within "
                                "the price band or risk collar, if any)")
    assert done.get_str(40) == "1"  # still a market order to the client


def test_a_market_order_with_a_collar_and_no_mid_is_refused(tmp_path: Path) -> None:
    app, c1, c2 = venue(tmp_path, {"price_collar_pct": 5})
    quote(app, c2, T0, [("2", 10, "100")])  # no bid: no mid
    (rej,) = send(app, c1, T0, cl="M1", side="1", qty=5, type="1")
    assert rej.body.get_str(58) == ("risk: no mid price in INTC to hold a market order to "
                                    "the price collar")


def test_a_market_order_trades_no_further_than_the_venues_band(tmp_path: Path) -> None:
    """A market order of a client without limits swept through the symbol's price band."""
    app, c1, c2 = venue(tmp_path, {}, band_pct=10)
    quote(app, c2, T0, [("1", 20, "99"), ("2", 10, "100"), ("2", 10, "109")])
    # a trade at 99 makes the band's reference 99: its edge is now 108.90
    assert fills(send(app, c1, T0, cl="S1", side="2", qty=10, type="2", price="99"))
    out = send(app, c1, T0, cl="M1", side="1", qty=30, type="1")
    assert fills(out) == [("10", "100")]
    assert (out[-1].body.get_str(150), out[-1].body.get_str(14)) == ("4", "10")


def test_with_no_reference_price_the_band_is_around_the_first_price_met(tmp_path: Path
                                                                        ) -> None:
    """Asks only, no trade: no mid and no last trade, and the market order swept them all."""
    app, c1, c2 = venue(tmp_path, {}, band_pct=10)
    quote(app, c2, T0, [("2", 10, "100"), ("2", 10, "500")])
    out = send(app, c1, T0, cl="M1", side="1", qty=20, type="1")
    assert fills(out) == [("10", "100")]
    assert out[-1].body.get_str(150) == "4"


def test_the_daily_loss_marks_positions_to_the_books_mid(tmp_path: Path) -> None:
    """Without an algo feeding mids, a position was valued at its fill price for ever: the
    loss of a market falling away from it never counted."""
    app, c1, c2 = venue(tmp_path, {"max_daily_loss": 5000})
    quote(app, c2, T0, [("2", 1000, "100")])
    assert fills(send(app, c1, T0, cl="B1", side="1", qty=1000, type="2", price="100"))
    quote(app, c2, T0, [("1", 10, "84"), ("2", 10, "86")])  # mid 85: 15,000 down
    (rej,) = send(app, c1, T0, cl="B2", side="1", qty=1, type="2", price="84")
    assert (rej.body.get_str(103), rej.body.get_str(58)) == (
        "3", "risk: daily loss 15000.00 reached max_daily_loss 5000.0")


def test_the_daily_loss_starts_over_at_the_end_of_the_trading_day(tmp_path: Path) -> None:
    """RiskGate.new_day had no caller: a loss of day 1 refused the client's orders for
    ever."""
    app, c1, c2 = venue(tmp_path, {"max_daily_loss": 5000})
    quote(app, c2, T0, [("2", 1000, "100")])
    assert fills(send(app, c1, T0, cl="B1", side="1", qty=1000, type="2", price="100"))
    quote(app, c2, T0, [("1", 10, "84"), ("2", 10, "86")])
    assert send(app, c1, T0, cl="B2", side="1", qty=1, type="1")[0].body.get_str(150) == "8"
    midnight = datetime(2026, 11, 26, tzinfo=UTC)
    app.on_timer(midnight)  # the trading day's end (UTC midnight: no schedule)
    later = midnight + timedelta(hours=15)
    (ack,) = send(app, c1, later, cl="B3", side="1", qty=1, type="2", price="84")
    assert ack.body.get_str(150) == "0"
    # the day's loss counts from the new day's value: a further fall counts again
    gate = app.gate.existing(c1.name)
    assert gate is not None and gate.daily_pnl() == 0


def test_a_parent_above_the_venues_maximum_quantity_is_refused(tmp_path: Path) -> None:
    """A TWAP parent of 10^25 shares was acknowledged, then every child was refused."""
    app, c1, _ = venue(tmp_path, {})
    (rej,) = send(app, c1, T0, cl="P1", side="1", qty=10 ** 25, type="2", price="10",
                  strategy="1001")
    assert (rej.body.get_str(150), rej.body.get_str(103)) == ("8", "13")
    assert rej.body.get_str(58) == "OrderQty (38) 10000000000000000000000000 exceeds the maximum " \
                                   "10000000 for INTC"
