"""The TCA report folder (gateway/tca_report.py) and its one-screen summary."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.book_types import Side
from gateway.backtest_records import MarketTape, RunRecord
from gateway.tca import RunMetrics, run_metrics
from gateway.tca_plots import PLOT_FILES
from gateway.tca_report import (
    FILL_COLUMNS,
    ORDER_COLUMNS,
    SERIES_COLUMNS,
    html_value,
    notes,
    ordered_runs,
    series_times,
    summary_text,
    write_report,
)
from tests import tca_samples as s

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _runs() -> list[RunRecord]:
    # given out of order: the report puts algo first, then naive, then twap
    return [s.algo_run("twap", "TWAP"), s.naive_run(), s.algo_run("algo", "VWAP")]


def _metrics(runs: list[RunRecord], tapes: dict[str, MarketTape]) -> dict[str, RunMetrics]:
    return {r.run: run_metrics(r, tapes) for r in runs}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _header(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return next(csv.reader(fh))


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, dict[str, Path], list[RunRecord],
                                    dict[str, RunMetrics]]:
    runs = _runs()
    tapes = {s.SYMBOL: s.tape()}
    metrics = _metrics(runs, tapes)
    folder = tmp_path / "out" / "report"            # created by write_report
    paths = write_report(folder, runs, metrics, tapes, {"config": "bt.yaml", "seed": 7})
    return folder, paths, runs, metrics


def test_every_file_is_written(report: tuple[Path, dict[str, Path], list[RunRecord],
                                             dict[str, RunMetrics]]) -> None:
    folder, paths, _, _ = report
    names = {"summary.json", "fills.csv", "orders.csv", "timeseries.csv", "report.html",
             *PLOT_FILES}
    assert set(paths) == names
    for name, path in paths.items():
        assert path == folder / name and path.is_file() and path.stat().st_size > 0
    for name in PLOT_FILES:
        assert paths[name].read_bytes()[:8] == PNG_MAGIC


def test_summary_json_holds_info_and_run_metrics(
        report: tuple[Path, dict[str, Path], list[RunRecord], dict[str, RunMetrics]]) -> None:
    _, paths, _, metrics = report
    doc = json.loads(paths["summary.json"].read_text())
    assert doc["info"] == {"config": "bt.yaml", "seed": 7}
    assert list(doc["runs"]) == ["algo", "naive", "twap"]
    for name, m in metrics.items():
        assert doc["runs"][name] == m.to_json()
    assert doc["runs"]["algo"]["total"]["is_cost"] == 14.5
    assert doc["runs"]["naive"]["parents"][0]["slippage_arrival_bps"] == 10.0


def test_fills_csv(report: tuple[Path, dict[str, Path], list[RunRecord],
                                 dict[str, RunMetrics]]) -> None:
    _, paths, runs, _ = report
    assert tuple(_header(paths["fills.csv"])) == FILL_COLUMNS
    rows = _rows(paths["fills.csv"])
    assert len(rows) == sum(len(r.fills) for r in runs) == 8
    assert [r["run"] for r in rows] == ["algo"] * 3 + ["naive"] * 2 + ["twap"] * 3
    first = rows[0]                                 # algo P1: 40 @ 100.05, decided 1 s before
    assert (first["parent_id"], first["child_id"], first["side"]) == ("P1", "C1", "buy")
    assert (first["qty"], first["price"], first["liquidity"]) == ("40", "100.05", "aggressive")
    assert first["latency_us"] == "1000000"
    assert first["arrival_mid"] == "100.00"
    assert float(first["slippage_arrival_bps"]) == 5.0
    assert float(first["pnl"]) == -2.0
    sell = rows[2]                                  # algo P2: sold 50 @ 100.15, arrival 100.20
    assert (sell["side"], float(sell["pnl"])) == ("sell", -2.5)
    assert float(sell["slippage_arrival_bps"]) == pytest.approx(4.99)


def test_orders_csv(report: tuple[Path, dict[str, Path], list[RunRecord],
                                  dict[str, RunMetrics]]) -> None:
    _, paths, runs, _ = report
    assert tuple(_header(paths["orders.csv"])) == ORDER_COLUMNS
    rows = _rows(paths["orders.csv"])
    assert len(rows) == sum(len(r.parents) + len(r.children) for r in runs) == 16
    algo = [(r["kind"], r["parent_id"], r["child_id"]) for r in rows if r["run"] == "algo"]
    assert algo == [("parent", "P1", ""), ("child", "P1", "C1"), ("child", "P1", "C2"),
                    ("child", "P1", "C3"), ("parent", "P2", ""), ("child", "P2", "C4")]
    c1 = next(r for r in rows if r["run"] == "algo" and r["child_id"] == "C1")
    assert (c1["ack_latency_us"], c1["fill_latency_us"], c1["tif"]) == ("250", "1000000", "ioc")
    c3 = next(r for r in rows if r["run"] == "algo" and r["child_id"] == "C3")
    assert c3["fill_latency_us"] == "" and c3["first_fill"] == ""
    p2 = next(r for r in rows if r["run"] == "algo" and r["kind"] == "parent"
              and r["parent_id"] == "P2")
    assert (p2["side"], p2["qty"], p2["arrival_mid"], p2["strategy"]) == (
        "sell", "50", "100.20", "VWAP")


def test_timeseries_csv(report: tuple[Path, dict[str, Path], list[RunRecord],
                                      dict[str, RunMetrics]]) -> None:
    _, paths, runs, _ = report
    assert tuple(_header(paths["timeseries.csv"])) == SERIES_COLUMNS
    rows = _rows(paths["timeseries.csv"])
    # P1's 60 s window: every second (60 / 100 < 1 s), 0..59 and the end; P2's 40 s: 41 rows
    assert len(rows) == sum(len(series_times(p.start, p.end)) for r in runs for p in r.parents)
    assert len(rows) == 3 * (61 + 41)
    p1 = {float(r["elapsed_s"]): r for r in rows if r["run"] == "algo" and r["parent_id"] == "P1"}
    assert len(p1) == 61 and max(p1) == 60.0
    assert (p1[0.0]["filled_cum"], p1[0.0]["schedule_qty"], p1[0.0]["mid"]) == ("0", "0.0",
                                                                              "100.00")
    assert (p1[14.0]["filled_cum"], float(p1[14.0]["pnl_cum"])) == ("40", -2.0)
    assert (p1[15.0]["filled_cum"], float(p1[15.0]["pnl_cum"])) == ("80", -6.0)  # at t counts
    assert float(p1[30.0]["schedule_qty"]) == 50.0
    assert (p1[60.0]["schedule_qty"], p1[60.0]["mid"]) == ("100.0", "100.30")
    # the naive baseline's schedule is its one order at the start, not a ramp
    naive = [r["schedule_qty"] for r in rows if r["run"] == "naive" and r["parent_id"] == "P1"]
    assert len(naive) == 61 and set(naive) == {"100.0"}
    # P2's schedule is its strategy's (a volume curve), linear between its points
    p2 = {float(r["elapsed_s"]): float(r["schedule_qty"])
          for r in rows if r["run"] == "algo" and r["parent_id"] == "P2"}
    assert (p2[0.0], p2[10.0], p2[20.0], p2[30.0], p2[40.0]) == (0.0, 17.5, 35.0, 42.5, 50.0)


def test_series_times() -> None:
    t = s.at(0)
    assert series_times(t, t) == [t]
    assert series_times(t, s.at(2.5)) == [s.at(0), s.at(1), s.at(2), s.at(2.5)]
    hour = series_times(t, s.at(3600))              # coarser than a second: window / 100
    assert len(hour) == 101 and hour[1] - hour[0] == timedelta(seconds=36)


def test_report_html_shows_tables_and_plots(
        report: tuple[Path, dict[str, Path], list[RunRecord], dict[str, RunMetrics]]) -> None:
    _, paths, _, metrics = report
    page = paths["report.html"].read_text()
    for name in PLOT_FILES:
        assert f'src="{name}"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    # run columns: the algo first, then its baselines
    assert page.index("<th>algo</th>") < page.index("<th>naive</th>") < page.index("<th>twap</th>")
    for m in metrics.values():
        for d in (m.total, *m.parents):
            for key in ("filled", "fill_rate", "slippage_arrival_bps", "slippage_vwap_bps",
                        "is_bps", "is_cost", "pnl", "participation", "ack_latency_p99_us",
                        "markout_1s_bps", "markout_30s_bps"):
                assert f"<td>{html_value(d[key])}</td>" in page, (m.run, key)
    assert "Parent P1" in page and "Parent P2" in page
    assert "bt.yaml" in page


def test_summary_text_fits_one_screen() -> None:
    tapes = {s.SYMBOL: s.tape()}
    text = summary_text(_metrics(_runs(), tapes))
    lines = text.splitlines()
    assert len(lines) <= 30 and max(len(line) for line in lines) <= 100
    header = next(line for line in lines if line.startswith("run"))
    assert header.split()[1:] == ["algo", "naive", "twap"]
    row = {line[:26].strip(): line[26:].split() for line in lines[3:]}
    assert row["filled / qty"] == ["130/150", "150/150", "130/150"]
    assert row["slippage vs arrival bps"] == ["6.53", "9.99", "6.53"]
    assert row["IS cost"] == ["14.50", "15.00", "14.50"]
    assert row["P&L vs arrival"] == ["-8.50", "-15.00", "-8.50"]
    assert row["ack p50/p99"] == ["250us/400us", "50us/60us", "250us/400us"]
    assert row["first fill p50/p99"][0] == "1s/3s"
    assert row["children"] == ["4", "2", "4"]


def test_passive_fills_through_the_market_the_data_showed_are_noted() -> None:
    """A sell child left resting below the bid after sweeping a limited-depth book filled at
    its own price with liquidity coming into view: the report said nothing of it."""
    tapes = {s.SYMBOL: s.tape()}
    run = s.algo_run()
    assert notes(_metrics([run], tapes), [run], tapes) == []
    # P2 sells; at 25 s the data's best bid is 100.10: a passive fill at 99.00 is through it
    run.fills[-1] = s.fill("algo", "P2", "C4", Side.SELL, 25, 50, "99.00", "passive", 24)
    found = notes(_metrics([run], tapes), [run], tapes)
    assert found == ["algo P2: 50 shares filled through the market the data showed (a child "
                     "resting past the visible book trades at its own price with liquidity "
                     "coming into view, which the market had before: see the README's fill "
                     "model)"]
    run.fills[-1] = s.fill("algo", "P2", "C4", Side.SELL, 25, 50, "99.00", "aggressive", 24)
    assert notes(_metrics([run], tapes), [run], tapes) == []  # took it: at the book's price


def test_a_parent_that_traded_nothing_because_of_refusals_is_noted(tmp_path: Path) -> None:
    """Every child rejected (a limit outside the venue's price band), or none sent (risk
    refused them): the run's figures measure the refusals, and the summary says so with the
    parent's last Text, as orders.csv's parent row does."""
    tapes = {s.SYMBOL: s.tape()}
    run = s.algo_run()
    run.fills = [f for f in run.fills if f.parent_id != "P1"]
    for c in run.children:
        c.status = "rejected" if c.parent_id == "P1" else "filled"
    p1 = run.parents[0]  # P2 traded
    p1.status, p1.done = "canceled", s.at(50)
    p1.text = "5 child orders rejected in a row, last: price outside the band"
    assert notes(_metrics([run], tapes), [run], tapes) == [
        "algo P1: all 3 child orders were rejected: 5 child orders rejected in a row, last: "
        "price outside the band"]
    paths = write_report(tmp_path, [run], _metrics([run], tapes), tapes, {})
    row = next(r for r in _rows(paths["orders.csv"]) if r["kind"] == "parent"
               and r["parent_id"] == "P1")
    assert row["reason"] == p1.text
    run.children[0].status = "canceled"  # one was not refused: no such note
    assert notes(_metrics([run], tapes), [run], tapes) == []
    run.children = [c for c in run.children if c.parent_id != "P1"]
    p1.text = "window ended with 100 unfilled: risk refused its last child: max order qty"
    assert notes(_metrics([run], tapes), [run], tapes) == [
        f"algo P1: ended with no child order sent: {p1.text}"]
    p1.status = "rejected"  # rejected by the desk: stderr says it, not a note
    assert notes(_metrics([run], tapes), [run], tapes) == []


def test_summary_text_many_runs_still_fits() -> None:
    tapes = {s.SYMBOL: s.tape()}
    runs = [s.algo_run(f"variant-with-a-long-name-{k}") for k in range(9)]
    lines = summary_text(_metrics(runs, tapes)).splitlines()
    assert len(lines) <= 30 and max(len(line) for line in lines) <= 100


def test_a_naive_baseline_bounded_by_the_books_depth_is_noted(tmp_path: Path) -> None:
    # the naive P1 fills 40 of 100: the market data showed no more (level-1 data shows only
    # the best level); the summary and the report say so, a full fill says nothing
    tapes = {s.SYMBOL: s.tape()}
    whole = _metrics(_runs(), tapes)
    assert notes(whole, _runs(), tapes) == []
    short = s.naive_run()
    short.fills[0] = s.fill("naive", "P1", "N1", Side.BUY, 0.001, 40, "100.10", "aggressive", 0)
    metrics = _metrics([s.algo_run(), short], tapes)
    found = notes(metrics, [s.algo_run(), short], tapes)
    assert len(found) == 1 and found[0].startswith(f"naive P1: filled 40 of 100 {s.SYMBOL}: ")
    assert "level-1" in found[0]
    # a limit parent's price, or a rejection, not the depth, may be why: no such note
    for change in ({"limit": Decimal("99.00")}, {"status": "rejected"}):
        other = s.naive_run()
        other.fills[0] = short.fills[0]
        other.parents = [dataclasses.replace(other.parents[0], **change), *other.parents[1:]]
        assert notes(_metrics([s.algo_run(), other], tapes), [s.algo_run(), other],
                     tapes) == []
    paths = write_report(tmp_path, [s.algo_run(), short], metrics, tapes, {})
    page = paths["report.html"].read_text()
    assert "<h2>Notes</h2>" in page and "naive P1: filled 40 of 100" in page


def test_ordered_runs() -> None:
    assert ordered_runs(["x", "twap", "naive", "algo", "b"]) == ["algo", "naive", "twap", "x", "b"]
    assert ordered_runs(["naive"]) == ["naive"]


def test_empty_and_unfilled_runs_still_report(tmp_path: Path) -> None:
    tapes = {s.SYMBOL: s.tape()}
    idle = RunRecord(run="algo", strategy="TWAP")
    idle.parents = [s.parent("algo", "P1", Side.BUY, 100, 0, 60)]
    nothing = RunRecord(run="naive", strategy="naive")
    runs = [idle, nothing]
    metrics = _metrics(runs, tapes)
    paths = write_report(tmp_path, runs, metrics, tapes, {})
    for name in PLOT_FILES:
        assert paths[name].read_bytes()[:8] == PNG_MAGIC
    assert _rows(paths["fills.csv"]) == []
    assert len(_rows(paths["orders.csv"])) == 1
    assert json.loads(paths["summary.json"].read_text())["runs"]["naive"]["total"]["qty"] == 0
    empty = write_report(tmp_path / "none", [], {}, tapes, {})
    assert all(p.is_file() for p in empty.values())


def test_many_fills_are_thinned_in_plots(tmp_path: Path) -> None:
    """More fills and quotes than a plot keeps: every file is still written and complete."""
    tapes = {s.SYMBOL: s.tape()}
    tape = tapes[s.SYMBOL]
    last = tape.times[-1]
    for k in range(1, 6000):                        # two-sided quotes after the bid-only one
        tape.times.append(last + k * 1_000_000)
        tape.bids.append(10000 + k % 7)
        tape.asks.append(10020 + k % 7)
    run = RunRecord(run="algo", strategy="TWAP")
    run.parents = [s.parent("algo", "P1", Side.BUY, 6000, 0, 60)]
    run.fills = [s.fill("algo", "P1", f"C{k}", Side.BUY, k / 100, 1, "100.05",
                        "passive" if k % 2 else "aggressive", k / 100 - 0.5)
                 for k in range(1, 5001)]
    metrics = _metrics([run], tapes)
    assert metrics["algo"].total["filled"] == 5000
    assert metrics["algo"].total["passive_share"] == 0.5
    paths = write_report(tmp_path, [run], metrics, tapes, {})
    assert len(_rows(paths["fills.csv"])) == 5000
    for name in PLOT_FILES:
        assert paths[name].read_bytes()[:8] == PNG_MAGIC
