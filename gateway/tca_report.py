"""The backtest's report folder and its one-screen summary.

:func:`write_report` writes, into one folder:

``summary.json``     ``{"info": ..., "runs": {run: RunMetrics.to_json()}}`` (gateway/tca.py
                     defines every metric); values that JSON cannot hold in ``info`` become
                     strings
``fills.csv``        one row per fill of every run: :data:`FILL_COLUMNS`. ``latency_us`` is
                     decision to the fill reaching the algo; ``slippage_arrival_bps`` and
                     ``pnl`` are the fill's own (the TCA's definitions, one fill)
``orders.csv``       parents then each parent's children, per run: :data:`ORDER_COLUMNS`.
                     ``kind`` is ``parent`` or ``child``; ``start`` is a parent's
                     EffectiveTime or a child's decision, ``end`` a parent's ExpireTime;
                     ``price`` a parent's limit or a child's price (empty: market);
                     ``filled``/``avg_px``/``status`` are what the ExecutionReports said;
                     ``reason`` is a child's reason from the algo, a parent's last Text
                     (58): why it was rejected or ended unfilled
``timeseries.csv``   per run and parent, at a regular step over the window (window / 100,
                     at least one second; the window's end is always a row):
                     :data:`SERIES_COLUMNS`. ``schedule_qty`` is what the strategy's schedule
                     had due by then (:meth:`ParentRecord.scheduled_at`: a VWAP's volume
                     curve, the naive baseline's whole quantity from the start);
                     ``filled_cum`` and ``pnl_cum`` (against the arrival mid) count the fills
                     at or before ``time``; ``mid`` is the tape's
the four PNGs        :data:`gateway.tca_plots.PLOT_FILES`, drawn by gateway/tca_plots.py
``report.html``      the run info, the summary table (metric rows, run columns: algo, then
                     its baselines), one table per parent and the PNGs (relative links);
                     no script, no external resource

Times are ISO 8601 (UTC, microseconds); prices and currency amounts in the CSVs are exact
Decimal strings; empty cells are undefined values.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from engine.book_types import Side
from gateway.backtest_records import ChildRecord, FillRecord, MarketTape, RunRecord
from gateway.tca import (
    MARKOUT_SECONDS,
    Metric,
    Metrics,
    RunMetrics,
    arrival_mids,
    fill_pnl,
    fill_slippage_bps,
    side_word,
)
from gateway.tca_plots import PLOT_FILES, write_plots

__all__ = [
    "FILL_COLUMNS",
    "LABELS",
    "ORDER_COLUMNS",
    "RUN_ORDER",
    "SERIES_COLUMNS",
    "html_value",
    "notes",
    "ordered_runs",
    "series_times",
    "summary_text",
    "write_report",
]

#: Runs shown first, in this order (the algo next to its baselines); others follow as given.
RUN_ORDER = ("algo", "naive", "twap")

FILL_COLUMNS = ("run", "parent_id", "child_id", "symbol", "side", "time", "executed", "decided",
                "latency_us", "qty", "price", "liquidity", "arrival_mid",
                "slippage_arrival_bps", "pnl")
ORDER_COLUMNS = ("kind", "run", "parent_id", "child_id", "symbol", "side", "qty", "price",
                 "tif", "strategy", "start", "end", "acked", "first_fill", "done", "filled",
                 "avg_px", "arrival_mid", "status", "reason", "ack_latency_us",
                 "fill_latency_us")
SERIES_COLUMNS = ("run", "parent_id", "time", "elapsed_s", "schedule_qty", "filled_cum", "mid",
                  "pnl_cum")

#: Row labels of the HTML tables, one per computed metric.
LABELS: dict[str, str] = {
    "parents": "parent orders", "qty": "quantity", "filled": "filled",
    "unfilled": "unfilled", "fill_rate": "fill rate", "fill_count": "fills",
    "notional": "notional", "avg_px": "average fill price", "arrival_mid": "arrival mid",
    "end_mid": "mid when it stopped", "slippage_arrival_bps": "slippage vs arrival (bps)",
    "interval_vwap": "interval VWAP", "slippage_vwap_bps": "slippage vs interval VWAP (bps)",
    "is_executed": "IS: executed cost", "is_opportunity": "IS: opportunity cost",
    "is_cost": "IS: total cost", "is_bps": "IS (bps)", "market_volume": "market volume",
    "participation": "participation", "pnl": "P&L vs arrival",
    "ack_latency_p50_us": "decision→ack p50 (µs)", "ack_latency_p99_us": "decision→ack p99 (µs)",
    "fill_latency_p50_us": "decision→first fill p50 (µs)",
    "fill_latency_p99_us": "decision→first fill p99 (µs)", "child_count": "child orders",
    "passive_share": "passive share", "aggressive_share": "aggressive share",
    **{f"markout_{h}s_bps": f"markout {h} s (bps, + = favourable)" for h in MARKOUT_SECONDS},
}

_SECOND = timedelta(seconds=1)


def ordered_runs(names: Iterable[str]) -> list[str]:
    """``names`` with :data:`RUN_ORDER`'s first, in that order, then the rest as given."""
    names = list(names)
    return [n for n in RUN_ORDER if n in names] + [n for n in names if n not in RUN_ORDER]


def notes(metrics: Mapping[str, RunMetrics], runs: Sequence[RunRecord],
          tapes: Mapping[str, MarketTape]) -> list[str]:
    """What a reader of the figures must know to read them right, one line each.

    A naive baseline parent without a limit left unfilled was bounded by the depth the
    market data shows (one market order, and no liquidity beyond the recorded book; with
    level-1 data the best level only), so its fill rate and cost say as much about the data
    as about the strategy. (Not so for a limit parent, whose price may have kept it out, nor
    one rejected: ``runs`` say which.)

    A parent whose children filled passively through the market the data showed (a sell
    below the best bid of ``tapes``, a buy above the best ask, at the execution): a child
    left resting through a limited-depth book, once it had swept what the data shows,
    trades at its own price with the liquidity that comes into view, though in the market
    that liquidity was there first (the fill model's bias against the child).

    A parent that traded nothing because every child it sent was rejected, or because it
    ended without sending one (risk refused them all), with the parent's last Text: its
    figures measure the refusals, not the strategy."""
    out = []
    for run in runs:
        out += _untraded(run)
        through: dict[str, int] = {}
        for f in run.fills:
            tape = tapes.get(f.symbol)
            if f.liquidity != "passive" or tape is None:
                continue
            bid, ask = tape.quote_at(f.executed)
            ticks = f.price / tape.tick
            if (bid > 0 and ticks < bid) if f.side == Side.SELL else (0 < ask < ticks):
                through[f.parent_id] = through.get(f.parent_id, 0) + f.qty
        for parent_id, shares in through.items():
            out.append(f"{run.run} {parent_id}: {shares:,} shares filled through the market the "
                       "data showed (a child resting past the visible book trades at its own "
                       "price with liquidity coming into view, which the market had before: "
                       "see the README's fill model)")
    naive = metrics.get("naive")
    market = {p.parent_id for r in runs if r.run == "naive" for p in r.parents
              if p.limit is None and p.status != "rejected"}
    for p in naive.parents if naive is not None else ():
        filled, qty = p["filled"], p["qty"]
        if (p["parent_id"] in market and isinstance(filled, int) and isinstance(qty, int)
                and filled < qty):
            out.append(f"naive {p['parent_id']}: filled {filled:,} of {qty:,} {p['symbol']}: "
                       "one market order takes only the liquidity the market data shows (with "
                       "level-1 data, the best level); the rest counts as unfilled")
    return out


def _untraded(run: RunRecord) -> list[str]:
    """The notes of :func:`notes` on ``run``'s parents that sent nothing that traded."""
    sent: dict[str, list[ChildRecord]] = {}
    for c in run.children:
        sent.setdefault(c.parent_id, []).append(c)
    traded = {f.parent_id for f in run.fills}
    out = []
    for p in run.parents:
        if p.parent_id in traded or p.done is None or p.status == "rejected":
            continue  # a parent the desk rejected is on stderr already
        children = sent.get(p.parent_id, [])
        why = f": {p.text}" if p.text else ""
        if not children:
            out.append(f"{run.run} {p.parent_id}: ended with no child order sent{why}")
        elif all(c.status == "rejected" for c in children):
            out.append(f"{run.run} {p.parent_id}: all {len(children)} child orders were "
                       f"rejected{why}")
    return out


def write_report(folder: Path, runs: Sequence[RunRecord], metrics: Mapping[str, RunMetrics],
                 tapes: Mapping[str, MarketTape], info: Mapping[str, object]) -> dict[str, Path]:
    """Write the report files (module docstring) into ``folder``, created if needed, and
    return file name -> path. ``metrics`` maps each run's name to its
    :func:`gateway.tca.run_metrics`; ``tapes`` each symbol to its tape; ``info`` (config,
    data files, anything JSON can show) heads summary.json and the HTML."""
    folder.mkdir(parents=True, exist_ok=True)
    by_name = {r.run: r for r in runs}
    runs = [by_name[n] for n in ordered_runs(by_name)]
    arrivals = arrival_mids(runs, tapes)
    paths = {
        "summary.json": _write_summary(folder / "summary.json", metrics, info),
        "fills.csv": _write_csv(folder / "fills.csv", FILL_COLUMNS, _fill_rows(runs, arrivals)),
        "orders.csv": _write_csv(folder / "orders.csv", ORDER_COLUMNS,
                                 _order_rows(runs, arrivals)),
        "timeseries.csv": _write_csv(folder / "timeseries.csv", SERIES_COLUMNS,
                                     _series_rows(runs, tapes, arrivals)),
    }
    paths.update(write_plots(folder, runs, tapes))
    report = folder / "report.html"
    report.write_text(_html(metrics, runs, info, tapes), encoding="utf-8")
    paths["report.html"] = report
    return paths


def _write_summary(path: Path, metrics: Mapping[str, RunMetrics],
                   info: Mapping[str, object]) -> Path:
    doc = {"info": dict(info),
           "runs": {n: metrics[n].to_json() for n in ordered_runs(metrics)}}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _us(a: datetime | None, b: datetime | None) -> int | None:
    return None if a is None or b is None else (b - a) // timedelta(microseconds=1)


def _fill_rows(runs: Sequence[RunRecord],
               arrivals: Mapping[tuple[str, str], Decimal | None]) -> Iterator[list[object]]:
    for r in runs:
        for f in r.fills:
            a = arrivals.get((r.run, f.parent_id))
            yield [_cell(v) for v in (
                r.run, f.parent_id, f.child_id, f.symbol, side_word(f.side), f.time, f.executed,
                f.decided,
                _us(f.decided, f.time), f.qty, f.price, f.liquidity, a,
                round(fill_slippage_bps(f, a), 4) if a else None,
                fill_pnl(f, a) if a is not None else None)]


def _order_rows(runs: Sequence[RunRecord],
                arrivals: Mapping[tuple[str, str], Decimal | None]) -> Iterator[list[object]]:
    for r in runs:
        children: dict[str, list[ChildRecord]] = {}
        for c in r.children:
            children.setdefault(c.parent_id, []).append(c)
        for p in r.parents:
            yield [_cell(v) for v in (
                "parent", r.run, p.parent_id, None, p.symbol, side_word(p.side), p.qty, p.limit,
                None, p.strategy, p.start, p.end, None, None, p.done, p.filled, p.avg_px,
                arrivals.get((r.run, p.parent_id)), p.status, p.text, None, None)]
            for c in children.pop(p.parent_id, []):
                yield _child_row(r.run, c)
        # children of a parent the run does not list still belong in the file
        for orphans in children.values():
            for c in orphans:
                yield _child_row(r.run, c)


def _child_row(run: str, c: ChildRecord) -> list[object]:
    return [_cell(v) for v in (
        "child", run, c.parent_id, c.child_id, c.symbol, side_word(c.side), c.qty, c.price,
        c.tif, None, c.decided, None, c.acked, c.first_fill, c.done, c.filled, None, None,
        c.status, c.reason, _us(c.decided, c.acked), _us(c.decided, c.first_fill))]


def series_times(start: datetime, end: datetime) -> list[datetime]:
    """The time series' sample times of a window: every ``max(window / 100, 1 s)`` from
    ``start``, then ``end``."""
    window = end - start
    if window <= timedelta(0):
        return [start]
    step = max(window / 100, _SECOND)
    times = []
    k = 0
    while (t := start + step * k) < end:
        times.append(t)
        k += 1
    times.append(end)
    return times


def _series_rows(runs: Sequence[RunRecord], tapes: Mapping[str, MarketTape],
                 arrivals: Mapping[tuple[str, str], Decimal | None]) -> Iterator[list[object]]:
    for r in runs:
        fills: dict[str, list[FillRecord]] = {}
        for f in r.fills:
            fills.setdefault(f.parent_id, []).append(f)
        for p in r.parents:
            pf = sorted(fills.get(p.parent_id, []), key=lambda f: f.time)
            arrival = arrivals.get((r.run, p.parent_id))
            tape = tapes.get(p.symbol)
            i, filled, pnl = 0, 0, Decimal(0)
            for t in series_times(p.start, p.end):
                while i < len(pf) and pf[i].time <= t:
                    filled += pf[i].qty
                    if arrival is not None:
                        pnl += fill_pnl(pf[i], arrival)
                    i += 1
                yield [_cell(v) for v in (
                    r.run, p.parent_id, t, round((t - p.start).total_seconds(), 6),
                    round(p.scheduled_at(t), 2), filled,
                    tape.mid_at(t) if tape is not None else None,
                    pnl if arrival is not None else None)]


# -- HTML ---------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; text-align: left; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
"""


def html_value(v: Metric) -> str:
    """A metric as the HTML tables show it: numbers as summary.json writes them."""
    if v is None:
        return "&ndash;"
    return html.escape(str(v))


def _table(runs: Sequence[str], columns: Sequence[Metrics | None]) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in runs)
    rows = [f"<tr><th>metric</th>{head}</tr>"]
    for key in ("strategy", "symbol", "side", "status", *LABELS):
        if all(c is None or key not in c for c in columns):
            continue
        if key in ("symbol", "side", "status") and all(c is None or c[key] is None
                                                       for c in columns):
            continue  # a total has no status; say nothing rather than a row of dashes
        label = LABELS.get(key, key)
        cells = "".join(f"<td>{html_value(c.get(key)) if c is not None else ''}</td>"
                        for c in columns)
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _html(metrics: Mapping[str, RunMetrics], runs: Sequence[RunRecord],
          info: Mapping[str, object], tapes: Mapping[str, MarketTape]) -> str:
    names = ordered_runs(metrics)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>Backtest report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Backtest report</h1>"]
    if info:
        out.append("<h2>Run</h2><table>")
        for k, v in info.items():
            shown = v if isinstance(v, str) else json.dumps(v, default=str)
            out.append(f"<tr><th>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'>{html.escape(shown)}</td></tr>")
        out.append("</table>")
    found = notes(metrics, runs, tapes)
    if found:
        out.append("<h2>Notes</h2><ul>")
        out += [f"<li>{html.escape(n)}</li>" for n in found]
        out.append("</ul>")
    out.append("<h2>Summary: all parent orders</h2>")
    out.append(_table(names, [metrics[n].total for n in names]))
    parent_ids: dict[str, None] = {}
    for n in names:
        for p in metrics[n].parents:
            parent_ids.setdefault(str(p["parent_id"]))
    for pid in parent_ids:
        cols: list[Metrics | None] = []
        for n in names:
            cols.append(next((p for p in metrics[n].parents if p["parent_id"] == pid), None))
        first = next(c for c in cols if c is not None)
        out.append(f"<h2>Parent {html.escape(pid)}: {html.escape(str(first['side']))} "
                   f"{first['qty']} {html.escape(str(first['symbol']))}, "
                   f"{html.escape(str(first['start']))} to {html.escape(str(first['end']))}"
                   "</h2>")
        out.append(_table(names, cols))
    out.append("<h2>Plots</h2>")
    for name in PLOT_FILES:
        out.append(f'<h3>{html.escape(name)}</h3><img src="{html.escape(name)}" '
                   f'alt="{html.escape(name)}">')
    out.append("<p>Definitions: gateway/tca.py. Slippage, IS and costs are positive when they "
               "cost; P&amp;L and markouts are positive when favourable.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- one-screen summary -------------------------------------------------------------------

def _num(fmt: str) -> Callable[[Metric], str]:
    return lambda v: "-" if v is None else format(v, fmt)


def _pct(v: Metric) -> str:
    return "-" if v is None or isinstance(v, str) else f"{v * 100:.2f}%"


_TEXT_ROWS: tuple[tuple[str, Callable[[Metrics], str]], ...] = (
    ("strategy", lambda m: str(m["strategy"])),
    ("parents", lambda m: str(m["parents"])),
    ("filled / qty", lambda m: f"{m['filled']}/{m['qty']}"),
    ("fill rate", lambda m: _pct(m["fill_rate"])),
    ("avg px", lambda m: _num(".6g")(m["avg_px"])),
    ("arrival mid", lambda m: _num(".6g")(m["arrival_mid"])),
    ("slippage vs arrival bps", lambda m: _num(".2f")(m["slippage_arrival_bps"])),
    ("slippage vs VWAP bps", lambda m: _num(".2f")(m["slippage_vwap_bps"])),
    ("IS bps", lambda m: _num(".2f")(m["is_bps"])),
    ("IS cost", lambda m: _num(",.2f")(m["is_cost"])),
    ("participation", lambda m: _pct(m["participation"])),
    ("P&L vs arrival", lambda m: _num(",.2f")(m["pnl"])),
    ("ack p50/p99", lambda m: _pair(m["ack_latency_p50_us"], m["ack_latency_p99_us"])),
    ("first fill p50/p99",
     lambda m: _pair(m["fill_latency_p50_us"], m["fill_latency_p99_us"])),
    ("children", lambda m: str(m["child_count"])),
    ("passive share", lambda m: _pct(m["passive_share"])),
    *((f"markout {h}s bps", lambda m, h=h: _num(".2f")(m[f"markout_{h}s_bps"]))
      for h in MARKOUT_SECONDS),
)


def _pair(a: Metric, b: Metric) -> str:
    return f"{_duration(a)}/{_duration(b)}"


def _duration(us: Metric) -> str:
    """Microseconds in a short unit: 250us, 3.5ms, 1.2s."""
    if not isinstance(us, int | float):
        return "-"
    if us < 1_000:
        return f"{us:g}us"
    if us < 1_000_000:
        return f"{us / 1_000:.3g}ms"
    return f"{us / 1_000_000:.3g}s"


def summary_text(metrics: Mapping[str, RunMetrics], *, width: int = 100) -> str:
    """The run totals as a plain-text table (metric rows, run columns: algo, naive, twap,
    then any other run): at most 30 lines and ``width`` columns (cells that do not fit are
    cut and end in ``~``)."""
    names = ordered_runs(metrics)
    label_w = max(len(label) for label, _ in _TEXT_ROWS) + 2
    col_w = max(min(16, (width - label_w) // max(len(names), 1)), 4)

    def fit(s: str) -> str:
        return s if len(s) <= col_w - 1 else s[:col_w - 2] + "~"

    lines = ["TCA summary (totals over each run's parent orders)",
             "run".ljust(label_w) + "".join(fit(n).rjust(col_w) for n in names)]
    lines.append("-" * len(lines[-1]))
    for label, show in _TEXT_ROWS:
        lines.append(label.ljust(label_w)
                     + "".join(fit(show(metrics[n].total)).rjust(col_w) for n in names))
    return "\n".join(line[:width].rstrip() for line in lines)
