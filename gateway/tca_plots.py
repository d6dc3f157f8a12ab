"""The backtest report's PNG plots (matplotlib, Agg canvas: no display, no pyplot state).

:func:`write_plots` draws four files from a backtest's run records and market tapes:

``schedule_vs_fills.png``  per parent (one panel each, up to :data:`MAX_PANELS`): each run's
                           schedule (``ParentRecord.schedule_points``, drawn once when the
                           runs share it) and cumulative fills
``price_fills.png``        per symbol: the tape's mid over the parents' windows, each run's
                           fills as markers (triangle up = buy, down = sell)
``slippage_hist.png``      per run: a histogram of per-fill slippage against the arrival mid,
                           bps (positive = cost)
``cum_pnl.png``            each run's cumulative P&L against the arrival mid over time

The x axis is seconds since the earliest parent start. Long series are thinned to a few
thousand points (the tape's mid by stride, cumulative curves at evenly spaced fills, always
keeping the last), so a day of quotes or tens of thousands of fills plot in about a second.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.book_types import Side
from gateway.backtest_records import FillRecord, MarketTape, RunRecord
from gateway.clock import to_ns
from gateway.tca import arrival_mids, fill_pnl, fill_slippage_bps

__all__ = ["MAX_PANELS", "MAX_POINTS", "PLOT_FILES", "write_plots"]

#: Most points of one plotted series; most panels of one figure (more parents: the first ones).
MAX_POINTS = 4000
MAX_PANELS = 12
PLOT_FILES = ("schedule_vs_fills.png", "price_fills.png", "slippage_hist.png", "cum_pnl.png")

_DPI = 100


def write_plots(folder: Path, runs: Sequence[RunRecord],
                tapes: Mapping[str, MarketTape]) -> dict[str, Path]:
    """Write the four PNGs into ``folder`` (which must exist); returns name -> path. Runs are
    drawn in the given order, run ``i`` in matplotlib's colour ``C{i}``."""
    starts = [p.start for r in runs for p in r.parents]
    t0 = min(starts) if starts else None
    arrivals = arrival_mids(runs, tapes)
    draw: dict[str, Callable[[], Figure]] = {
        "schedule_vs_fills.png": lambda: _schedule_vs_fills(runs, t0),
        "price_fills.png": lambda: _price_fills(runs, tapes, t0),
        "slippage_hist.png": lambda: _slippage_hist(runs, arrivals),
        "cum_pnl.png": lambda: _cum_pnl(runs, arrivals, t0),
    }
    paths: dict[str, Path] = {}
    for name, make in draw.items():
        fig = make()
        FigureCanvasAgg(fig)
        path = folder / name
        fig.savefig(path, dpi=_DPI)
        paths[name] = path
    return paths


def _secs(t: datetime, t0: datetime | None) -> float:
    return (t - t0).total_seconds() if t0 is not None else 0.0


def _xlabel(ax: Axes, t0: datetime | None) -> None:
    ax.set_xlabel(f"seconds since {t0:%Y-%m-%d %H:%M:%S} UTC" if t0 else "seconds")


def _thin(n: int, limit: int = MAX_POINTS) -> Any:
    """Indexes of at most ``limit`` evenly spaced items of ``n``, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _panels(fig: Figure, n: int, *, sharex: bool = True) -> list[Axes]:
    axes = fig.subplots(max(n, 1), 1, squeeze=False, sharex=sharex)
    return [row[0] for row in axes]


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)


def _parent_ids(runs: Sequence[RunRecord]) -> list[str]:
    seen: dict[str, None] = {}
    for r in runs:
        for p in r.parents:
            seen.setdefault(p.parent_id)
    return list(seen)


def _by_parent(run: RunRecord) -> dict[str, list[FillRecord]]:
    out: dict[str, list[FillRecord]] = {}
    for f in run.fills:
        out.setdefault(f.parent_id, []).append(f)
    for fills in out.values():
        fills.sort(key=lambda f: f.time)
    return out


def _schedule_vs_fills(runs: Sequence[RunRecord], t0: datetime | None) -> Figure:
    ids = _parent_ids(runs)
    shown = ids[:MAX_PANELS]
    fig = Figure(figsize=(10, 1.0 + 2.6 * max(len(shown), 1)), layout="constrained")
    axes = _panels(fig, len(shown))
    if not shown:
        _empty(axes[0], "no parent orders")
    fills = {r.run: _by_parent(r) for r in runs}
    for ax, pid in zip(axes, shown, strict=False):
        parents = [(i, r.run, p) for i, r in enumerate(runs)
                   for p in r.parents if p.parent_id == pid]
        # each run's schedule once (the baselines' differ from a VWAP's); one shared by
        # every run is drawn in black
        schedules: dict[tuple[tuple[datetime, int], ...], tuple[int, str]] = {}
        for i, run, parent in parents:
            schedules.setdefault(parent.schedule_points(), (i, run))
        for points, (i, run) in schedules.items():
            one = len(schedules) == 1
            ax.plot([_secs(t, t0) for t, _ in points], [q for _, q in points],
                    color="black" if one else f"C{i}", linestyle="--", linewidth=1,
                    label="schedule" if one else f"{run} schedule")
        for i, run, parent in parents:
            pf = fills[run].get(pid, [])
            # from the start at 0 to the window's end (or the last fill) at the total
            xs = np.array([_secs(parent.start, t0)] + [_secs(f.time, t0) for f in pf]
                          + [max(_secs(parent.end, t0), _secs(pf[-1].time, t0) if pf else 0)])
            ys = np.cumsum([0] + [f.qty for f in pf] + [0])
            keep = _thin(len(xs))
            ax.plot(xs[keep], ys[keep], drawstyle="steps-post", color=f"C{i}",
                    label=f"{run} filled")
        ax.set_title(f"parent {pid}", fontsize=10)
        ax.set_ylabel("shares")
        ax.legend(fontsize=8, loc="upper left")
    title = "schedule vs cumulative fills"
    if len(ids) > len(shown):
        title += f" (first {len(shown)} of {len(ids)} parents)"
    fig.suptitle(title)
    _xlabel(axes[-1], t0)
    return fig


def _mid_series(tape: MarketTape, start: datetime, end: datetime) -> tuple[Any, Any]:
    """Seconds since ``start`` and the mid (NaN while a side is empty) of the quotes from the
    last one at or before ``start`` to ``end``, thinned by stride."""
    a, b = to_ns(start), to_ns(end)
    lo = max(bisect.bisect_right(tape.times, a) - 1, 0)
    hi = bisect.bisect_right(tape.times, b)
    if hi <= lo:
        return np.array([]), np.array([])
    times = np.frombuffer(tape.times, dtype=np.int64)[lo:hi]
    bids = np.frombuffer(tape.bids, dtype=np.int64)[lo:hi]
    asks = np.frombuffer(tape.asks, dtype=np.int64)[lo:hi]
    stride = -(-len(times) // MAX_POINTS)
    idx = np.arange(0, len(times), stride)
    if idx[-1] != len(times) - 1:
        idx = np.append(idx, len(times) - 1)
    bid, ask = bids[idx].astype(np.float64), asks[idx].astype(np.float64)
    mid = np.where((bid > 0) & (ask > 0), (bid + ask) / 2 * float(tape.tick), np.nan)
    xs = np.maximum(times[idx] - a, 0) / 1e9
    return xs, mid


def _price_fills(runs: Sequence[RunRecord], tapes: Mapping[str, MarketTape],
                 t0: datetime | None) -> Figure:
    windows: dict[str, tuple[datetime, datetime]] = {}
    for r in runs:
        for p in r.parents:
            lo, hi = windows.get(p.symbol, (p.start, p.end))
            windows[p.symbol] = (min(lo, p.start), max(hi, p.end))
    symbols = list(windows)[:MAX_PANELS]
    fig = Figure(figsize=(10, 1.0 + 3.2 * max(len(symbols), 1)), layout="constrained")
    axes = _panels(fig, len(symbols), sharex=False)
    if not symbols:
        _empty(axes[0], "no parent orders")
    for ax, sym in zip(axes, symbols, strict=False):
        start, end = windows[sym]
        tape = tapes.get(sym)
        if tape is not None:
            xs, mid = _mid_series(tape, start, end)
            ax.plot(xs + _secs(start, t0), mid, drawstyle="steps-post", color="grey",
                    linewidth=0.8, label="mid")
        for i, r in enumerate(runs):
            for side, marker in ((Side.BUY, "^"), (Side.SELL, "v")):
                pts = [f for f in r.fills if f.symbol == sym and f.side == side]
                if not pts:
                    continue
                keep = _thin(len(pts))
                fx = np.array([_secs(f.time, t0) for f in pts])[keep]
                fy = np.array([float(f.price) for f in pts])[keep]
                ax.scatter(fx, fy, marker=marker, s=14, color=f"C{i}", alpha=0.7,
                           label=f"{r.run} {'buys' if side == Side.BUY else 'sells'}")
        ax.set_title(f"{sym}: mid and fills", fontsize=10)
        ax.set_ylabel("price")
        ax.legend(fontsize=8, loc="best")
        _xlabel(ax, t0)
    return fig


def _slippage_hist(runs: Sequence[RunRecord],
                   arrivals: Mapping[tuple[str, str], Decimal | None]) -> Figure:
    fig = Figure(figsize=(10, 1.0 + 2.4 * max(len(runs), 1)), layout="constrained")
    axes = _panels(fig, len(runs))
    if not runs:
        _empty(axes[0], "no runs")
    per_run: list[list[float]] = []
    for r in runs:
        bps = []
        for f in r.fills:
            arrival = arrivals.get((r.run, f.parent_id))
            if arrival:
                bps.append(float(fill_slippage_bps(f, arrival)))
        per_run.append(bps)
    # one set of bins for every run, so the panels compare (and no run's bars are slivers)
    pooled = [x for bps in per_run for x in bps]
    edges: list[float] = np.histogram_bin_edges(pooled, bins=50).tolist() if pooled else []
    for i, (ax, r, bps) in enumerate(zip(axes, runs, per_run, strict=False)):
        if bps:
            ax.hist(bps, bins=edges, color=f"C{i}")
        else:
            _empty(ax, "no fills with an arrival mid")
        ax.set_title(f"{r.run}: slippage vs arrival per fill (bps, + = cost)", fontsize=10)
        ax.set_ylabel("fills")
    axes[-1].set_xlabel("bps")
    return fig


def _cum_pnl(runs: Sequence[RunRecord], arrivals: Mapping[tuple[str, str], Decimal | None],
             t0: datetime | None) -> Figure:
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot()
    drawn = False
    ends = [p.end for r in runs for p in r.parents]
    last = _secs(max(ends), t0) if ends else 0.0
    for i, r in enumerate(runs):
        xs, ys = [0.0], [0.0]
        total = Decimal(0)
        for f in sorted(r.fills, key=lambda f: f.time):
            arrival = arrivals.get((r.run, f.parent_id))
            if arrival is None:
                continue
            total += fill_pnl(f, arrival)
            xs.append(_secs(f.time, t0))
            ys.append(float(total))
        xs.append(max(last, xs[-1]))  # hold the final P&L to the last window's end
        ys.append(ys[-1])
        keep = _thin(len(xs))
        ax.plot(np.array(xs)[keep], np.array(ys)[keep], drawstyle="steps-post",
                color=f"C{i}", label=r.run)
        drawn = True
    if drawn:
        ax.axhline(0, color="black", linewidth=0.6)
        ax.legend(fontsize=8, loc="best")
    else:
        _empty(ax, "no runs")
    ax.set_title("cumulative P&L against the arrival mid (+ = fills beat arrival)", fontsize=10)
    ax.set_ylabel("P&L (currency)")
    _xlabel(ax, t0)
    return fig
