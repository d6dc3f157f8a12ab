"""Risk limits: YAML parsing (errors name file, line and key), and each breach rejected with
its reason and audited."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algos.risk import RiskConfig, RiskGate, RiskLimits, parse_risk
from algos.strategy import Side
from gateway.yamlcheck import ConfigError, load_yaml

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def load(tmp_path: Path, text: str) -> RiskConfig:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    top = load_yaml(path).mapping({"risk"})
    return parse_risk(top["risk"])


class Audit:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, /, **fields: Any) -> None:
        self.records.append((event, fields))


# -- YAML -------------------------------------------------------------------------------------


def test_sessions_override_the_default_key_by_key(tmp_path: Path) -> None:
    config = load(tmp_path, """
risk:
  default:
    max_order_qty: 10000
    max_notional: 1000000
    price_collar_pct: 5
    max_open_orders: 50
    max_daily_loss: 25000.5
  sessions:
    CLIENT1:
      max_order_qty: 500
      max_notional: null
    CLIENT2:
      kill_switch: true
""")
    assert config.default == RiskLimits(10000, D("1000000.0"), D("5.0"), 50, D("25000.5"))
    c1 = config.for_session("CLIENT1")
    assert c1.max_order_qty == 500 and c1.max_notional is None
    assert c1.price_collar_pct == D("5.0") and c1.max_open_orders == 50
    assert config.for_session("CLIENT2").kill_switch
    assert config.for_session("OTHER") == config.default


@pytest.mark.parametrize(("text", "message"), [
    ("risk:\n  default:\n    max_order_qty: -1\n",
     r"risk\.yaml:3: risk\.default\.max_order_qty: expected an integer >= 1, got"),
    ("risk:\n  default:\n    max_ordr_qty: 5\n",
     r"risk\.yaml:3: risk\.default\.max_ordr_qty: unknown key; expected one of kill_switch, "),
    ("risk:\n  sessions:\n    C1:\n      price_collar_pct: 0\n",
     r"risk\.yaml:4: risk\.sessions\.C1\.price_collar_pct: expected a number above 0"),
    ("risk:\n  default:\n    kill_switch: maybe\n",
     r"risk\.yaml:3: risk\.default\.kill_switch: expected true or false"),
    ("risk:\n  sessions: [C1]\n",
     r"risk\.yaml:2: risk\.sessions: expected a mapping of session CompIDs"),
])
def test_bad_yaml_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


# -- breaches ---------------------------------------------------------------------------------


def test_a_session_compid_no_session_has_is_refused(tmp_path: Path) -> None:
    """CLIENTl for CLIENT1: the limits meant for CLIENT1 were silently not applied."""
    path = tmp_path / "risk.yaml"
    path.write_text("risk:\n  sessions:\n    CLIENTl: {max_order_qty: 10}\n")
    top = load_yaml(path).mapping({"risk"})
    with pytest.raises(ConfigError) as caught:
        parse_risk(top["risk"], {"CLIENT1", "CLIENT2"})
    assert str(caught.value) == (f"{path}:3: risk.sessions.CLIENTl: no session has the CompID "
                                 "'CLIENTl'; the sessions' are CLIENT1, CLIENT2")
    assert parse_risk(top["risk"], {"CLIENTl"}).for_session("CLIENTl").max_order_qty == 10


def test_max_order_qty() -> None:
    audit = Audit()
    gate = RiskGate(RiskLimits(max_order_qty=1000), session="C1", audit=audit)
    assert gate.check("AAPL", BUY, 1000, D("10"), D("10")) is None
    reason = gate.check("AAPL", BUY, 5000, D("10"), D("10"))
    assert reason == "order quantity 5000 exceeds max_order_qty 1000"
    assert audit.records == [("risk_reject", {"session": "C1", "symbol": "AAPL", "side": "BUY",
                                              "qty": 5000, "price": "10", "reason": reason})]


def test_max_notional_uses_the_mid_for_market_orders() -> None:
    gate = RiskGate(RiskLimits(max_notional=D("100000")))
    assert gate.check("AAPL", BUY, 1000, D("100"), None) is None
    assert gate.check("AAPL", BUY, 1001, D("100"), None) == (
        "order notional 100100 exceeds max_notional 100000")
    assert gate.check("AAPL", SELL, 2000, None, D("60")) == (
        "order notional 120000 exceeds max_notional 100000")
    assert gate.check("AAPL", SELL, 10, None, None) == (
        "no mid price in AAPL to value a market order against max_notional")


def test_a_sell_priced_below_the_market_is_valued_at_the_mid() -> None:
    """A sell of 800 limit 60 with the mid at 100 trades near 100, not 60: valued at its
    limit (48,000) it passed a 50,000 limit and traded 80,000, new or by a replace. A buy
    never trades above its limit, and a sell priced above the mid trades at its limit."""
    gate = RiskGate(RiskLimits(max_notional=D("50000")))
    reason = ("order notional 80000 (valued at the mid 100, above its limit) exceeds "
              "max_notional 50000")
    assert gate.check("AAPL", SELL, 800, D("60"), D("100")) == reason
    assert gate.check_replace("AAPL", SELL, 800, D("60"), 400, D("120"), D("100")) == reason
    assert gate.check("AAPL", SELL, 400, D("120"), D("100")) is None  # 48,000 at its limit
    assert gate.check("AAPL", BUY, 800, D("60"), D("100")) is None  # 48,000 at most
    assert gate.check("AAPL", SELL, 800, D("60"), None) is None  # no mid: its limit


def test_price_collar_around_the_mid() -> None:
    gate = RiskGate(RiskLimits(price_collar_pct=D("2")))
    assert gate.check("AAPL", BUY, 10, D("102"), D("100")) is None
    assert gate.check("AAPL", SELL, 10, D("98"), D("100")) is None
    assert gate.check("AAPL", BUY, 10, D("102.01"), D("100")) == (
        "price 102.01 is 2.01% from the mid 100, outside price_collar_pct 2")
    assert gate.check("AAPL", BUY, 10, D("102"), None) == (
        "no mid price in AAPL to check the price collar")
    assert gate.check("AAPL", BUY, 10, None, None) is None  # a market order has no price


def test_max_open_orders_counts_sent_until_done() -> None:
    gate = RiskGate(RiskLimits(max_open_orders=2))
    gate.on_order_sent("a")
    gate.on_order_sent("b")
    assert gate.check("AAPL", BUY, 10, D("10"), None) == (
        "2 open orders already at max_open_orders 2")
    gate.on_order_done("a")
    gate.on_order_done("a")  # twice is harmless
    assert gate.open_orders == 1
    assert gate.check("AAPL", BUY, 10, D("10"), None) is None


def test_max_daily_loss_marks_positions_to_the_mid() -> None:
    gate = RiskGate(RiskLimits(max_daily_loss=D("1000")))
    gate.on_fill("AAPL", BUY, 1000, D("10.00"))
    assert gate.daily_pnl() == 0  # marked at the fill price until a mid arrives
    gate.on_mid("AAPL", D("9.50"))
    assert gate.daily_pnl() == D("-500")
    assert gate.check("AAPL", BUY, 10, D("9.5"), D("9.5")) is None
    gate.on_mid("AAPL", D("9.00"))
    assert gate.check("AAPL", BUY, 10, D("9"), D("9")) == (
        "daily loss 1000.00 reached max_daily_loss 1000")
    gate.on_fill("AAPL", SELL, 1000, D("9.00"))  # realized now, still a loss
    gate.on_mid("AAPL", D("12"))
    assert gate.daily_pnl() == D("-1000")
    gate.new_day()
    assert gate.daily_pnl() == 0
    assert gate.check("AAPL", BUY, 10, D("12"), D("12")) is None


def test_without_a_mid_positions_are_marked_at_the_last_fill() -> None:
    """As after a restart, whose books hold no mid yet: a position bought at 100 and again
    at 85 was valued at 100, a loss of 15,000 read as a gain."""
    gate = RiskGate(RiskLimits(max_daily_loss=Decimal(5000)))
    gate.on_fill("X", Side.BUY, 1000, Decimal(100))
    gate.on_fill("X", Side.BUY, 1000, Decimal(85))
    assert gate.daily_pnl() == -15000
    assert gate.check("X", Side.BUY, 1, Decimal(85), None) == (
        "daily loss 15000.00 reached max_daily_loss 5000")


def test_kill_switch_at_runtime_and_from_config() -> None:
    audit = Audit()
    gate = RiskGate(RiskLimits(), session="C1", audit=audit)
    assert gate.killed is None
    gate.kill("operator: runaway algo")
    assert gate.check("AAPL", BUY, 1, D("1"), D("1")) == "kill switch: operator: runaway algo"
    assert ("kill_switch", {"session": "C1", "reason": "operator: runaway algo"}) in audit.records
    gate.reset_kill(by="risk desk")
    assert gate.check("AAPL", BUY, 1, D("1"), D("1")) is None
    from_yaml = RiskGate(RiskLimits(kill_switch=True))
    assert from_yaml.check("AAPL", BUY, 1, D("1"), D("1")) == (
        "kill switch: kill_switch set in the risk configuration")


def test_no_limits_accepts_everything_positive() -> None:
    gate = RiskGate(RiskLimits())
    assert gate.check("AAPL", BUY, 10**9, None, None) is None
    assert gate.check("AAPL", BUY, 0, None, None) == "order quantity 0 is not positive"


def test_a_replace_is_checked_as_the_order_it_would_become() -> None:
    audit = Audit()
    gate = RiskGate(RiskLimits(max_order_qty=1000, price_collar_pct=D("2"), max_open_orders=1),
                    session="C1", audit=audit)
    gate.on_order_sent("a")  # the order being replaced: at max_open_orders, which a replace
    assert gate.check_replace("AAPL", BUY, 800, D("100"), 500, D("100"), D("100")) is None
    reason = gate.check_replace("AAPL", BUY, 5000, D("100"), 500, D("100"), D("100"))
    assert reason == "order quantity 5000 exceeds max_order_qty 1000"
    assert audit.records[-1] == ("risk_reject", {
        "session": "C1", "symbol": "AAPL", "side": "BUY", "qty": 5000, "price": "100",
        "reason": reason, "request": "replace"})
    assert gate.check_replace("AAPL", BUY, 500, D("110"), 500, D("100"), D("100")) == (
        "price 110 is 10.00% from the mid 100, outside price_collar_pct 2")
    # lowering the quantity at the same price only reduces risk: never refused
    gate.kill("operator")
    assert gate.check_replace("AAPL", BUY, 100, D("100"), 500, D("100"), None) is None
    assert gate.check_replace("AAPL", BUY, 100, D("99"), 500, D("100"), D("100")) == (
        "kill switch: operator")


def test_orders_beyond_max_orders_per_second_are_throttled(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    config = load(tmp_path, "risk:\n  sessions:\n    C1:\n      max_orders_per_second: 3\n")
    audit = Audit()
    gate = RiskGate(config.for_session("C1"), session="C1", audit=audit)
    t0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    times = [t0, t0 + timedelta(milliseconds=300), t0 + timedelta(milliseconds=600)]
    assert [gate.throttle(t) for t in times] == [None, None, None]
    reason = "more than max_orders_per_second 3 orders in one second"
    assert gate.throttle(t0 + timedelta(milliseconds=999)) == reason
    assert audit.records == [("risk_reject", {"session": "C1", "reason": reason})]
    # a refused order does not count: one second after the first, one more may go
    assert gate.throttle(t0 + timedelta(seconds=1)) is None
    assert gate.throttle(t0 + timedelta(seconds=1)) == reason
    assert RiskGate(RiskLimits()).throttle(t0) is None  # no limit configured
    # with the kill switch thrown, an order is refused for the kill, and not counted
    gate.kill("desk halted")
    later = t0 + timedelta(seconds=5)
    assert [gate.throttle(later) for _ in range(5)] == [None] * 5
    assert gate.check("AAPL", BUY, 10, D("100"), D("100")) == "kill switch: desk halted"
