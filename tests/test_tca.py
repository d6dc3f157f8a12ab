"""TCA metrics (gateway/tca.py) against values computed by hand from tests/tca_samples.py."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from fractions import Fraction as F

import pytest

from engine.book_types import Side
from gateway.backtest_records import RunRecord
from gateway.tca import METRIC_KEYS, Metric, Metrics, nearest_rank, parent_metrics, run_metrics
from tests import tca_samples as s


def approx(x: F | float | int, places: int = 4) -> object:
    return pytest.approx(float(x), abs=0.6 * 10 ** -places)


def bps(num: F) -> F:
    return num * 10_000


@pytest.fixture
def algo() -> RunRecord:
    return s.algo_run()


def num(v: Metric) -> float:
    assert isinstance(v, float), v
    return v


def p1(run: RunRecord) -> Metrics:
    return parent_metrics(run.parents[0], [f for f in run.fills if f.parent_id == "P1"],
                          [c for c in run.children if c.parent_id == "P1"], s.tape())


def test_buy_parent_prices_slippage_and_shortfall(algo: RunRecord) -> None:
    m = p1(algo)
    assert (m["qty"], m["filled"], m["unfilled"], m["fill_count"]) == (100, 80, 20, 2)
    assert m["fill_rate"] == 0.8
    assert m["notional"] == 8006.0                 # 40 x 100.05 + 40 x 100.10
    assert m["avg_px"] == 100.075
    assert m["arrival_mid"] == 100.0               # no recorded arrival: the tape's mid at start
    assert m["end_mid"] == 100.3                   # the quote at exactly 60 s counts
    assert m["slippage_arrival_bps"] == approx(bps(F("0.075") / 100))         # 7.5
    # the market traded 200 @ 100.00 and 300 @ 100.30 inside the window (not the 100 s one)
    assert m["interval_vwap"] == 100.18
    assert m["slippage_vwap_bps"] == approx(bps((F("100.075") - F("100.18")) / F("100.18")))
    assert m["is_executed"] == 6.0                 # 40 x 0.05 + 40 x 0.10
    assert m["is_opportunity"] == 6.0              # 20 unfilled x (100.30 - 100.00)
    assert m["is_cost"] == 12.0
    assert m["is_bps"] == 12.0                     # 12 / (100 x 100.00) x 1e4
    assert m["market_volume"] == 500
    assert m["participation"] == approx(F(80, 580), 6)  # ours included, as the 849 cap counts
    assert m["pnl"] == -6.0                        # bought above the arrival mid


def test_a_parent_ended_early_prices_its_unfilled_quantity_when_it_stopped(
        algo: RunRecord) -> None:
    """P1 canceled at 25 s (of [0 s, 60 s)): its unfilled 20 are priced at the mid when it
    stopped (100.20, the 20 s quote), Perold's rule, not at the 60 s quote. The interval
    VWAP and volume keep the window it was given (a parent filled at once would have none)."""
    algo.parents[0].status, algo.parents[0].done = "canceled", s.at(25)
    m = p1(algo)
    assert m["end_mid"] == 100.2
    assert m["is_opportunity"] == 4.0              # 20 unfilled x (100.20 - 100.00)
    assert (m["interval_vwap"], m["market_volume"]) == (100.18, 500)
    assert m["end"] == s.at(60).isoformat()        # the ExpireTime it was sent with
    algo.parents[0].done = s.at(75)                # ended after its end: the window is its own
    assert p1(algo)["end_mid"] == 100.3


def test_buy_parent_latency_children_liquidity_markouts(algo: RunRecord) -> None:
    m = p1(algo)
    # acks 250, 100, 400 us: nearest rank p50 = 2nd of 3, p99 = 3rd
    assert (m["ack_latency_p50_us"], m["ack_latency_p99_us"]) == (250, 400)
    # first fills 1 s and 3 s after decision (C3 never filled: no sample)
    assert (m["fill_latency_p50_us"], m["fill_latency_p99_us"]) == (1_000_000, 3_000_000)
    assert m["child_count"] == 3
    assert (m["passive_share"], m["aggressive_share"]) == (0.5, 0.5)
    # fill 1: 100.05 at 5 s; mids at 6, 10, 35 s: 100.00, 100.10, 100.20
    # fill 2: 100.10 at 15 s; mids at 16, 20, 45 s: 100.10, 100.20, 100.20
    p1a, p2a = F("100.05"), F("100.10")
    for key, m1, m2 in (("markout_1s_bps", F(100), F("100.10")),
                        ("markout_5s_bps", F("100.10"), F("100.20")),
                        ("markout_30s_bps", F("100.20"), F("100.20"))):
        want = (bps((m1 - p1a) / p1a) * 40 + bps((m2 - p2a) / p2a) * 40) / 80
        assert m[key] == approx(want), key
    assert num(m["markout_1s_bps"]) < 0 < num(m["markout_30s_bps"])  # bought; the mid rose


def test_markouts_count_from_the_execution_not_from_when_the_algo_heard_of_it() -> None:
    """A fill executed at 8.8 s whose report reached the algo at 9.5 s: the 1 s markout is
    the mid at 9.8 s (100.00), not at 10.5 s (100.10)."""
    run = s.algo_run()
    run.fills = [s.fill("algo", "P1", "C1", Side.BUY, 9.5, 40, "100.05", "aggressive", 4,
                        executed=8.8)]
    assert p1(run)["markout_1s_bps"] == approx(bps((F(100) - F("100.05")) / F("100.05")))


def test_sell_parent_signs_and_recorded_arrival(algo: RunRecord) -> None:
    m = run_metrics(algo, {s.SYMBOL: s.tape()}).parent("P2")
    assert m["side"] == "sell"
    assert m["arrival_mid"] == 100.2               # the tape's mid at its start (20 s)
    assert m["avg_px"] == 100.15
    # sold 0.05 below arrival: a cost (positive slippage, positive IS, negative P&L)
    assert m["slippage_arrival_bps"] == approx(bps(F("0.05") / F("100.20")))
    assert m["is_executed"] == 2.5 and m["is_opportunity"] == 0.0 and m["is_cost"] == 2.5
    assert m["is_bps"] == approx(bps(F("2.5") / (50 * F("100.20"))))
    assert m["pnl"] == -2.5
    # the window [20 s, 60 s) saw one trade: 300 @ 100.30; selling below it is a cost
    assert m["interval_vwap"] == 100.3
    assert m["slippage_vwap_bps"] == approx(bps(F("0.15") / F("100.30")))
    assert m["participation"] == approx(F(50, 350), 6)
    # sold at 100.15, then the mid was 100.20 at every horizon: unfavourable for a seller
    for h in (1, 5, 30):
        assert m[f"markout_{h}s_bps"] == approx(bps((F("100.15") - F("100.20")) / F("100.15")))
    assert (m["passive_share"], m["aggressive_share"]) == (0.0, 1.0)


def test_sell_beating_arrival_is_a_gain() -> None:
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "S", Side.SELL, 20, 0, 60)]
    run.fills = [s.fill("algo", "S", "C", Side.SELL, 12, 10, "100.30", "passive", 11)]
    m = run_metrics(run, {s.SYMBOL: s.tape()}).parent("S")
    assert m["pnl"] == 3.0                         # (100.30 - 100.00) x 10, sold above
    assert m["is_executed"] == -3.0
    assert m["slippage_arrival_bps"] == -30.0
    # 10 unsold while the mid rose 100.00 -> 100.30: waiting paid, a negative cost
    assert m["is_opportunity"] == -3.0
    assert m["is_cost"] == -6.0
    assert m["is_bps"] == -30.0                    # -6 / (20 x 100.00) x 1e4
    # mid 100.10 a second later: the seller sold 0.20 above it
    assert m["markout_1s_bps"] == approx(bps(F("0.20") / F("100.30")))


def test_totals_over_two_parents(algo: RunRecord) -> None:
    t = run_metrics(algo, {s.SYMBOL: s.tape()}).total
    assert (t["parents"], t["qty"], t["filled"], t["unfilled"]) == (2, 150, 130, 20)
    assert t["fill_rate"] == approx(F(130, 150), 6)
    assert (t["symbol"], t["side"], t["strategy"]) == ("TEST", "mixed", "TWAP")
    # a buy and a sell: no meaningful average price or arrival level
    assert t["avg_px"] is None and t["arrival_mid"] is None and t["interval_vwap"] is None
    assert t["notional"] == 13013.5
    # costs are sums; slippages weight by each parent's benchmark notional of its fills
    assert (t["is_executed"], t["is_opportunity"], t["is_cost"], t["pnl"]) == (
        8.5, 6.0, 14.5, -8.5)
    assert t["slippage_arrival_bps"] == approx(bps(F("8.5") / (100 * 80 + F("100.20") * 50)))
    vwap_num = (8006 - F("100.18") * 80) - (F("5007.5") - F("100.30") * 50)
    assert t["slippage_vwap_bps"] == approx(bps(vwap_num / (F("100.18") * 80 + F("100.3") * 50)))
    assert t["is_bps"] == approx(bps(F("14.5") / (100 * 100 + 50 * F("100.20"))))
    # the windows 0-60 s and 20-60 s overlap: the 300 traded at 30 s counts once (it was
    # twice, 800, and the total participation too low)
    assert (t["market_volume"], t["participation"]) == (500, approx(F(130, 630), 6))
    # pooled samples: acks 100, 250, 300, 400; first fills 1 s, 1 s, 3 s
    assert (t["ack_latency_p50_us"], t["ack_latency_p99_us"]) == (250, 400)
    assert (t["fill_latency_p50_us"], t["fill_latency_p99_us"]) == (1_000_000, 3_000_000)
    assert t["child_count"] == 4
    assert t["passive_share"] == approx(F(40, 130), 6)
    m = run_metrics(algo, {s.SYMBOL: s.tape()})
    a, b = m.parent("P1"), m.parent("P2")
    for h in (1, 5, 30):  # quantity-weighted over the three fills: 80 of P1's, 50 of P2's
        key = f"markout_{h}s_bps"
        assert t[key] == approx((num(a[key]) * 80 + num(b[key]) * 50) / 130, 3)


def test_a_total_over_two_symbols_has_no_market_volume_but_a_pooled_participation() -> None:
    """Shares of two stocks are not one market's volume: the total's is None, and its
    participation pools what each symbol traded while its parents worked."""
    run = RunRecord(run="algo", strategy="TWAP")
    other = dataclasses.replace(s.parent("algo", "B", Side.BUY, 100, 0, 60), symbol="OTHER")
    run.parents = [s.parent("algo", "A", Side.BUY, 100, 0, 60), other]
    run.fills = [s.fill("algo", "A", "C1", Side.BUY, 5, 100, "100.00", "passive", 4)]
    tape = s.tape()
    t = run_metrics(run, {s.SYMBOL: tape, "OTHER": dataclasses.replace(tape, symbol="OTHER")})
    assert t.parent("A")["market_volume"] == t.parent("B")["market_volume"] == 500
    assert t.total["symbol"] == "mixed" and t.total["market_volume"] is None
    assert t.total["participation"] == approx(F(100, 1100), 6)


def test_totals_of_one_symbol_and_side_have_price_levels() -> None:
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "A", Side.BUY, 100, 0, 60),
                   s.parent("algo", "B", Side.BUY, 300, 20, 60)]       # arrivals 100.00, 100.20
    run.fills = [s.fill("algo", "A", "C1", Side.BUY, 5, 100, "100.00", "passive", 4),
                 s.fill("algo", "B", "C2", Side.BUY, 25, 100, "100.40", "aggressive", 24)]
    t = run_metrics(run, {s.SYMBOL: s.tape()}).total
    assert (t["symbol"], t["side"]) == ("TEST", "buy")
    assert t["avg_px"] == 100.2                    # (10000 + 10040) / 200
    assert t["arrival_mid"] == 100.15              # (100 x 100.00 + 300 x 100.20) / 400
    assert t["end_mid"] == 100.3
    assert t["interval_vwap"] == approx((100 * F("100.18") + 300 * F("100.30")) / 400, 6)
    assert t["slippage_arrival_bps"] == approx(bps(F(20) / (100 * 100 + 100 * F("100.2"))))


def test_unfilled_parent() -> None:
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "U", Side.BUY, 100, 0, 60)]
    run.children = [s.child("algo", "U", "C", Side.BUY, 100, 1, None, None)]
    m = run_metrics(run, {s.SYMBOL: s.tape()}).parent("U")
    assert (m["filled"], m["fill_rate"], m["fill_count"], m["child_count"]) == (0, 0.0, 0, 1)
    for key in ("avg_px", "slippage_arrival_bps", "slippage_vwap_bps", "passive_share",
                "aggressive_share", "ack_latency_p50_us", "ack_latency_p99_us",
                "fill_latency_p50_us", "fill_latency_p99_us", "markout_1s_bps",
                "markout_5s_bps", "markout_30s_bps"):
        assert m[key] is None, key
    # nothing executed; the whole order missed a 0.30 rise: 100 x 0.30
    assert (m["is_executed"], m["pnl"]) == (0.0, 0.0)
    assert m["is_opportunity"] == 30.0 and m["is_cost"] == 30.0
    assert m["is_bps"] == 30.0                     # 30 / (100 x 100.00) x 1e4


def test_no_mid_means_none() -> None:
    """While the book is one-sided (the bid-only quote at 70 s) there is no arrival mid, and
    no mid for the markouts or the end of the window."""
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "E", Side.BUY, 10, 70, 90)]
    run.fills = [s.fill("algo", "E", "C", Side.BUY, 65, 4, "100.30", "passive", 64)]
    m = run_metrics(run, {s.SYMBOL: s.tape()}).parent("E")
    assert m["arrival_mid"] is None and m["end_mid"] is None
    for key in ("slippage_arrival_bps", "is_executed", "is_opportunity", "is_cost", "is_bps",
                "pnl"):
        assert m[key] is None, key
    assert m["avg_px"] == 100.3
    assert m["markout_1s_bps"] == approx(0)      # 66 s: mid 100.30
    assert m["markout_5s_bps"] is None            # 70 s: the bid-only quote
    assert m["markout_30s_bps"] is None           # 95 s: still one-sided


def test_arrival_is_the_markets_mid_not_the_desks() -> None:
    """The desk records the venue book's mid, which holds the run's own resting children (a
    buy of an earlier parent resting at 100.20 inside the 100.10/100.30 spread makes it
    100.25): the arrival is the market's mid at the start, the tape's, the same in every run."""
    runs = []
    for name, recorded in (("algo", "100.20"), ("naive", "100.25")):
        run = RunRecord(run=name, strategy=name)
        run.parents = [s.parent(name, "Q", Side.BUY, 10, 20, 60, arrival=recorded)]
        run.fills = [s.fill(name, "Q", "C", Side.BUY, 25, 10, "100.30", "aggressive", 24)]
        runs.append(run_metrics(run, {s.SYMBOL: s.tape()}).parent("Q"))
    for m in runs:
        assert m["arrival_mid"] == 100.2
        assert m["slippage_arrival_bps"] == approx(bps(F("0.10") / F("100.20")))
        assert m["is_executed"] == 1.0 and m["pnl"] == -1.0   # 10 x (100.30 - 100.20)


def test_a_parent_before_its_market_data_gets_the_first_books_mid() -> None:
    """Started before the symbol's first quote (another symbol's data starts the clock, or
    the config starts it early), with no mid recorded (the desk saw no book yet): the
    arrival is the first book's mid, as the backtest's warning says, not undefined."""
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "E", Side.BUY, 10, -5, 60)]
    run.fills = [s.fill("algo", "E", "C", Side.BUY, 5, 4, "100.05", "aggressive", 4)]
    m = run_metrics(run, {s.SYMBOL: s.tape()}).parent("E")
    assert m["arrival_mid"] == 100.0               # the quote at 0 s
    assert m["slippage_arrival_bps"] == approx(5)
    assert m["is_executed"] == 0.2 and m["pnl"] == -0.2
    assert m["is_opportunity"] == 1.8              # 6 unfilled x (100.30 - 100.00)


def test_a_parent_ended_before_its_market_data_prices_its_rest_at_the_first_books_mid(
        ) -> None:
    """A naive parent whose market order met an empty book (its symbol's first quote still
    to come) ended at once, unfilled: its end mid was undefined, so its opportunity cost,
    and the whole run's total implementation shortfall, were blank."""
    run = RunRecord(run="naive", strategy="naive")
    run.parents = [dataclasses.replace(s.parent("naive", "N", Side.BUY, 10, -5, 60),
                                       done=s.at(-4))]
    other = s.parent("naive", "M", Side.BUY, 10, 20, 60)
    run.parents.append(other)
    run.fills = [s.fill("naive", "M", "C", Side.BUY, 25, 10, "100.30", "aggressive", 24)]
    metrics = run_metrics(run, {s.SYMBOL: s.tape()})
    m = metrics.parent("N")
    assert (m["arrival_mid"], m["end_mid"]) == (100.0, 100.0)   # the quote at 0 s
    assert m["is_opportunity"] == 0.0 and m["is_cost"] == 0.0
    assert metrics.total["is_cost"] == 1.0      # M's 10 x (100.30 - 100.20), N's nothing


def test_nearest_rank() -> None:
    assert nearest_rank([], 50) is None
    assert nearest_rank([7], 99) == 7
    assert nearest_rank([1, 2], 50) == 1
    assert nearest_rank(list(range(1, 101)), 99) == 99
    assert nearest_rank(list(range(1, 201)), 99) == 198
    assert nearest_rank([1, 2, 3], 99) == 3


def test_records_that_do_not_add_up_are_errors(algo: RunRecord) -> None:
    with pytest.raises(ValueError, match="no market tape for symbol 'TEST'"):
        run_metrics(algo, {})
    algo.fills.append(s.fill("algo", "P9", "C9", Side.BUY, 5, 1, "100", "passive", 4))
    with pytest.raises(ValueError, match="unknown parent 'P9'"):
        run_metrics(algo, {s.SYMBOL: s.tape()})
    with pytest.raises(ValueError, match="belongs to parent 'P9'"):
        parent_metrics(algo.parents[0], algo.fills[-1:], [], s.tape())


def test_metrics_are_json_safe_and_complete(algo: RunRecord) -> None:
    m = run_metrics(algo, {s.SYMBOL: s.tape()})
    for d in (m.total, *m.parents):
        assert tuple(d) == METRIC_KEYS
        for v in d.values():
            assert v is None or type(v) in (int, float, str)
    assert json.loads(json.dumps(m.to_json())) == m.to_json()
    with pytest.raises(KeyError):
        m.parent("nope")


def test_arrival_from_record_needs_no_quote() -> None:
    """Before the symbol's first quote the mid the desk recorded stands."""
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "R", Side.BUY, 10, -5, 0, arrival="99.5")]
    run.fills = [s.fill("algo", "R", "C", Side.BUY, -4, 10, "99.6", "aggressive", -5)]
    m = run_metrics(run, {s.SYMBOL: s.tape()}).parent("R")
    assert m["arrival_mid"] == 99.5
    assert m["pnl"] == approx(-1)                  # (99.6 - 99.5) x 10, bought above
    assert m["slippage_arrival_bps"] == approx(bps(F("0.1") / F("99.5")))
    assert Decimal(str(m["avg_px"])) == Decimal("99.6")
