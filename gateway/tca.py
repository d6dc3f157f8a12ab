"""Transaction cost analysis of a backtest: metrics per parent order and per run.

Pure computation over the records of gateway/backtest_records.py (no I/O; the files are
gateway/tca_report.py's). Money is computed in Decimal; the results are JSON-safe dicts of
floats (rounded, see :data:`PLACES`), ints, strings and None (undefined: no fills, no mid).

Every dict has the keys :data:`METRIC_KEYS`: identity (``parent_id``, ``symbol``, ``side``,
``strategy``, ``status``, ``start`` and ``end`` in ISO 8601, ``parents``: how many) and the
metrics below. Notation: ``s`` = +1 for a buy, -1 for a sell; fill ``i`` has price ``p_i``
and quantity ``q_i``; ``A`` is the arrival mid; the window is the parent's ``[start, end)``
(the schedule it was given: a parent filled at once still has a market to compare with);
``stop`` is when it ended (its final report: filled, canceled, rejected) if that came before
its ``end``, else its ``end``: Perold prices the unfilled quantity when the decision to stop
trading is made.

=========================  ===================================================================
``arrival_mid``            the tape's mid at ``start`` (the market without the run's own orders);
                           before the symbol's first quote, the parent's recorded
                           ``arrival_mid``, else the first quote's mid (:func:`arrival_mid`)
``end_mid``                the tape's mid at ``stop``; before the symbol's first quote, the
                           first quote's mid (:func:`end_mid`)
``notional``               ``Σ p_i q_i``, currency
``avg_px``                 ``notional / filled``
``filled``, ``qty``        ``Σ q_i``; the parent's quantity. ``unfilled = max(qty - filled, 0)``
``fill_rate``              ``filled / qty``
``slippage_arrival_bps``   ``s (avg_px - A) / A * 1e4``: positive is a cost
``interval_vwap``          the market's VWAP over the window (tape trades, not our fills)
``slippage_vwap_bps``      ``s (avg_px - vwap) / vwap * 1e4``
``is_executed``            ``s Σ q_i (p_i - A)``, currency (Perold's execution cost)
``is_opportunity``         ``s unfilled (end_mid - A)``, currency; 0 when nothing is unfilled
``is_cost``, ``is_bps``    ``is_executed + is_opportunity``; as bps of ``qty * A``
``market_volume``          shares the market traded in the window (the tape: not our fills)
``participation``          ``filled / (market_volume + filled)``: our share of all that traded,
                           ours included, the measure the ParticipationRate (849) cap uses
                           (but the tape's volume: a cap also counts the run's other
                           parents' fills as the market's)
``pnl``                    ``Σ (p_i - A) q_i`` times -1 for a buy, +1 for a sell (= -is_executed):
                           positive when the fills beat the arrival mid; currency
``ack_latency_p50_us``     decision to acknowledgement of the parent's children (those acked),
``..._p99_us``             nearest-rank percentiles, microseconds
``fill_latency_p50_us``    decision to first fill (children with a fill), likewise
``child_count``            child orders; ``fill_count`` fills
``passive_share``          passive fill quantity / filled; ``aggressive_share`` likewise
``markout_{1,5,30}s_bps``  per fill, with ``m`` the tape's mid h seconds after the venue executed
                           it: ``(m - p) / p * 1e4`` for a buy, ``(p - m) / p * 1e4`` for
                           a sell (positive = favourable), quantity-weighted over the fills
                           that have a mid; None if none has
=========================  ===================================================================

Totals over a run's parents: counts, quantities and currency amounts are sums (a sum is None if
any parent's part is None), except ``market_volume``: what the symbol traded over the union of
the parents' windows (a trade in two parents' windows counts once), None for parents of
different symbols; rates are ratios of sums (``fill_rate = Σ filled / Σ qty``,
``participation = Σ filled / (V + Σ filled)``, V the union volume summed over the symbols:
every share traded while one of the parents worked, ours included); slippages are
benchmark-notional-weighted means, ``Σ_k s_k (notional_k - B_k filled_k) / Σ_k B_k filled_k *
1e4`` over the parents with fills (B = A or the VWAP), and ``is_bps = Σ is_cost / Σ qty_k
A_k``; latencies, shares and markouts pool the samples of every parent. Price levels
(``avg_px``, ``arrival_mid``, ``end_mid``, ``interval_vwap``) are only defined in a total whose
parents all have one symbol and side: ``avg_px = Σ notional / Σ filled``, the others
quantity-weighted means of the parents'. ``symbol`` and ``side`` of such a total are the common
ones, else ``"mixed"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from engine.book_types import Side
from gateway.backtest_records import (
    ChildRecord,
    FillRecord,
    MarketTape,
    ParentRecord,
    RunRecord,
)
from gateway.clock import to_ns

__all__ = [
    "MARKOUT_SECONDS",
    "METRIC_KEYS",
    "PLACES",
    "Metric",
    "Metrics",
    "RunMetrics",
    "arrival_mid",
    "arrival_mids",
    "fill_pnl",
    "fill_slippage_bps",
    "nearest_rank",
    "parent_metrics",
    "run_metrics",
    "side_sign",
    "side_word",
]

Metric = float | int | str | None
Metrics = dict[str, Metric]

#: Markout horizons, seconds after each fill.
MARKOUT_SECONDS: tuple[int, ...] = (1, 5, 30)

_PRICE, _BPS_PLACES, _CCY, _RATIO = 6, 4, 4, 6
#: Decimal places each float metric is rounded to.
PLACES: dict[str, int] = {
    "fill_rate": _RATIO, "notional": _CCY, "avg_px": _PRICE, "arrival_mid": _PRICE,
    "end_mid": _PRICE, "slippage_arrival_bps": _BPS_PLACES, "interval_vwap": _PRICE,
    "slippage_vwap_bps": _BPS_PLACES, "is_executed": _CCY, "is_opportunity": _CCY,
    "is_cost": _CCY, "is_bps": _BPS_PLACES, "participation": _RATIO, "pnl": _CCY,
    "passive_share": _RATIO, "aggressive_share": _RATIO,
    **{f"markout_{h}s_bps": _BPS_PLACES for h in MARKOUT_SECONDS},
}

#: The keys of every metrics dict (parent and total), in report order.
METRIC_KEYS: tuple[str, ...] = (
    "parent_id", "symbol", "side", "strategy", "status", "start", "end", "parents",
    "qty", "filled", "unfilled", "fill_rate", "fill_count", "notional", "avg_px",
    "arrival_mid", "end_mid", "slippage_arrival_bps", "interval_vwap", "slippage_vwap_bps",
    "is_executed", "is_opportunity", "is_cost", "is_bps", "market_volume", "participation",
    "pnl", "ack_latency_p50_us", "ack_latency_p99_us", "fill_latency_p50_us",
    "fill_latency_p99_us", "child_count", "passive_share", "aggressive_share",
    *(f"markout_{h}s_bps" for h in MARKOUT_SECONDS),
)

_TEN_K = Decimal(10_000)
_US = timedelta(microseconds=1)
_T = TypeVar("_T")


def side_sign(side: Side) -> int:
    """+1 for a buy, -1 for a sell: multiplies a price difference into a cost."""
    return 1 if side == Side.BUY else -1


def side_word(side: Side) -> str:
    return "buy" if side == Side.BUY else "sell"


def arrival_mid(parent: ParentRecord, tape: MarketTape) -> Decimal | None:
    """The market's mid when the parent arrived: the tape's mid at its start (None if the
    book was not two-sided then). The tape, not the mid the desk recorded: the desk sees the
    venue's book, which holds the run's own resting children (a buy resting inside the
    spread raises the mid a later parent is measured from) and lacks the replayed liquidity
    they took, so its mid would differ between the runs of one parent. A parent that starts
    before its symbol's first quote (the tape knows no market then) gets the mid the desk
    recorded when it arrived, else the first book's: the first quote's mid."""
    start = to_ns(parent.start)
    if tape.times and start >= tape.times[0]:
        return tape.mid_at(start)
    if parent.arrival_mid is not None:
        return parent.arrival_mid
    return tape.mid_at(tape.times[0]) if tape.times else None


def arrival_mids(runs: Iterable[RunRecord], tapes: Mapping[str, MarketTape]
                 ) -> dict[tuple[str, str], Decimal | None]:
    """(run, parent id) -> :func:`arrival_mid`, for every parent of ``runs`` (the mid the
    desk recorded for a symbol with no tape)."""
    out: dict[tuple[str, str], Decimal | None] = {}
    for r in runs:
        for p in r.parents:
            tape = tapes.get(p.symbol)
            out[(r.run, p.parent_id)] = (p.arrival_mid if tape is None
                                         else arrival_mid(p, tape))
    return out


def end_mid(stop: datetime, tape: MarketTape) -> Decimal | None:
    """The market's mid when the parent stopped: the tape's at ``stop``; before its symbol's
    first quote (a parent ended at once, on an empty book), the first quote's, as for the
    arrival mid (:func:`arrival_mid`). Without it the unfilled quantity had no price, and
    the run's total implementation shortfall none either."""
    t = to_ns(stop)
    if tape.times and t < tape.times[0]:
        return tape.mid_at(tape.times[0])
    return tape.mid_at(t)


def fill_pnl(fill: FillRecord, arrival: Decimal) -> Decimal:
    """``(p - arrival) q``, times -1 for a buy: positive when the fill beat the arrival mid."""
    return -side_sign(fill.side) * (fill.price - arrival) * fill.qty


def fill_slippage_bps(fill: FillRecord, arrival: Decimal) -> Decimal:
    """``s (p - arrival) / arrival * 1e4``: this fill's slippage, positive is a cost."""
    return side_sign(fill.side) * (fill.price - arrival) / arrival * _TEN_K


def nearest_rank(sorted_samples: Sequence[int], pct: int) -> int | None:
    """The nearest-rank percentile (the smallest sample with at least ``pct``% of the samples
    at or below it) of ascending samples; None if there are none."""
    n = len(sorted_samples)
    if not n:
        return None
    rank = max((pct * n + 99) // 100, 1)  # ceil(pct * n / 100) in integers
    return sorted_samples[rank - 1]


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """One run's metrics: one dict per parent (the run's order) and their total."""

    run: str
    strategy: str
    parents: tuple[Metrics, ...]
    total: Metrics

    def parent(self, parent_id: str) -> Metrics:
        """The metrics of one parent; KeyError if the run has none of that id."""
        for p in self.parents:
            if p["parent_id"] == parent_id:
                return p
        raise KeyError(f"run {self.run!r} has no parent {parent_id!r}")

    def to_json(self) -> dict[str, object]:
        """A JSON-ready copy (what summary.json holds per run)."""
        return {"run": self.run, "strategy": self.strategy, "total": dict(self.total),
                "parents": [dict(p) for p in self.parents]}


@dataclass(slots=True)
class _Sums:
    """What one parent contributes: enough to compute its metrics and any total's."""

    sign: int
    symbol: str
    side: Side
    qty: int
    arrival: Decimal | None
    end_mid: Decimal | None
    vwap: Decimal | None
    market_volume: int
    filled: int = 0
    fill_count: int = 0
    notional: Decimal = Decimal(0)
    passive: int = 0
    aggressive: int = 0
    child_count: int = 0
    ack_us: list[int] = field(default_factory=list)
    fill_us: list[int] = field(default_factory=list)
    # per horizon: Σ q_i * markout_i (bps) and Σ q_i over the fills that have a mid
    markout_num: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * len(MARKOUT_SECONDS))
    markout_qty: list[int] = field(default_factory=lambda: [0] * len(MARKOUT_SECONDS))

    @property
    def unfilled(self) -> int:
        return max(self.qty - self.filled, 0)


def parent_metrics(parent: ParentRecord, fills: Sequence[FillRecord],
                   children: Sequence[ChildRecord], tape: MarketTape) -> Metrics:
    """The metrics of one parent from its fills and child orders and its symbol's tape.

    ``fills`` and ``children`` must all belong to ``parent`` (ValueError otherwise).
    """
    return _parent_dict(parent, _sums(parent, fills, children, tape))


def run_metrics(run: RunRecord, tapes: Mapping[str, MarketTape]) -> RunMetrics:
    """Every parent's metrics and the total of one run.

    ``tapes`` maps each parent's symbol to its market tape (ValueError if one is missing). A
    fill or child whose parent is not among the run's parents is a ValueError: records that do
    not add up are the recorder's bug, not something to report around.
    """
    fills: dict[str, list[FillRecord]] = {p.parent_id: [] for p in run.parents}
    children: dict[str, list[ChildRecord]] = {p.parent_id: [] for p in run.parents}
    for f in run.fills:
        _group(fills, f.parent_id, f, run.run).append(f)
    for c in run.children:
        _group(children, c.parent_id, c, run.run).append(c)
    dicts: list[Metrics] = []
    sums: list[_Sums] = []
    for p in run.parents:
        tape = tapes.get(p.symbol)
        if tape is None:
            raise ValueError(f"run {run.run!r}, parent {p.parent_id!r}: "
                             f"no market tape for symbol {p.symbol!r}")
        s = _sums(p, fills[p.parent_id], children[p.parent_id], tape)
        sums.append(s)
        dicts.append(_parent_dict(p, s))
    total: Metrics = {
        "parent_id": None,
        "symbol": _common(s.symbol for s in sums),
        "side": _common(side_word(s.side) for s in sums),
        "strategy": run.strategy,
        "status": None,
        "start": min(p.start for p in run.parents).isoformat() if run.parents else None,
        "end": max(p.end for p in run.parents).isoformat() if run.parents else None,
        "parents": len(run.parents),
    }
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for p in run.parents:
        windows.setdefault(p.symbol, []).append((p.start, p.end))
    traded = sum(_union_volume(tapes[symbol], spans) for symbol, spans in windows.items())
    total.update(_measures(sums, traded))
    return RunMetrics(run=run.run, strategy=run.strategy, parents=tuple(dicts), total=total)


def _union_volume(tape: MarketTape, spans: Iterable[tuple[datetime, datetime]]) -> int:
    """What the market traded in the union of the windows ``spans`` (each trade once, however
    many windows hold it)."""
    total = 0
    start = end = None
    for a, b in sorted(spans):
        if end is not None and a <= end:
            end = max(end, b)
            continue
        if start is not None and end is not None:
            total += tape.volume(start, end)
        start, end = a, b
    if start is not None and end is not None:
        total += tape.volume(start, end)
    return total


def _group(groups: dict[str, list[_T]], parent_id: str, rec: object, run: str) -> list[_T]:
    try:
        return groups[parent_id]
    except KeyError:
        raise ValueError(f"run {run!r}: {type(rec).__name__} of unknown parent "
                         f"{parent_id!r}") from None


def _common(values: Iterable[str]) -> str | None:
    distinct = set(values)
    if not distinct:
        return None
    return distinct.pop() if len(distinct) == 1 else "mixed"


def _sums(parent: ParentRecord, fills: Sequence[FillRecord], children: Sequence[ChildRecord],
          tape: MarketTape) -> _Sums:
    arrival = arrival_mid(parent, tape)
    sign = side_sign(parent.side)
    stop = parent.done if parent.done is not None and parent.done < parent.end else parent.end
    s = _Sums(sign=sign, symbol=parent.symbol, side=parent.side, qty=parent.qty,
              arrival=arrival, end_mid=end_mid(stop, tape),
              vwap=tape.vwap(parent.start, parent.end),
              market_volume=tape.volume(parent.start, parent.end), child_count=len(children))
    horizons = [h * 1_000_000_000 for h in MARKOUT_SECONDS]
    for f in fills:
        if f.parent_id != parent.parent_id:
            raise ValueError(f"fill of child {f.child_id!r} belongs to parent "
                             f"{f.parent_id!r}, not {parent.parent_id!r}")
        s.filled += f.qty
        s.fill_count += 1
        s.notional += f.price * f.qty
        if f.liquidity == "passive":
            s.passive += f.qty
        else:
            s.aggressive += f.qty
        t = to_ns(f.executed)  # the market after the trade, not after the report's delay
        for k, h in enumerate(horizons):
            mid = tape.mid_at(t + h)
            if mid is not None and f.price > 0:  # a zero price is a recorder bug; skip it
                s.markout_num[k] += sign * (mid - f.price) / f.price * _TEN_K * f.qty
                s.markout_qty[k] += f.qty
    for c in children:
        if c.parent_id != parent.parent_id:
            raise ValueError(f"child {c.child_id!r} belongs to parent {c.parent_id!r}, "
                             f"not {parent.parent_id!r}")
        if c.acked is not None:
            s.ack_us.append(_micros(c.acked - c.decided))
        if c.first_fill is not None:
            s.fill_us.append(_micros(c.first_fill - c.decided))
    return s


def _micros(delta: timedelta) -> int:
    return delta // _US


def _parent_dict(parent: ParentRecord, s: _Sums) -> Metrics:
    d: Metrics = {
        "parent_id": parent.parent_id,
        "symbol": parent.symbol,
        "side": side_word(parent.side),
        "strategy": parent.strategy,
        "status": parent.status,
        "start": parent.start.isoformat(),
        "end": parent.end.isoformat(),
        "parents": 1,
    }
    d.update(_measures([s]))
    return d


def _measures(sums: Sequence[_Sums], traded: int | None = None) -> Metrics:
    """Every computed metric over ``sums`` (one parent, or a run's parents: see the module's
    rules for totals, which for one parent reduce to the per-parent definitions). ``traded``:
    a total's market volume (over the union of its parents' windows, per symbol), else the
    one parent's."""
    qty = sum(s.qty for s in sums)
    filled = sum(s.filled for s in sums)
    notional = sum((s.notional for s in sums), Decimal(0))
    uniform = len({(s.symbol, s.side) for s in sums}) == 1
    with_fills = [s for s in sums if s.filled]

    executed = _sum_or_none(
        s.sign * (s.notional - s.arrival * s.filled) if s.arrival is not None else None
        for s in with_fills)
    opportunity = _sum_or_none(
        s.sign * s.unfilled * (s.end_mid - s.arrival)
        if s.end_mid is not None and s.arrival is not None else None
        for s in sums if s.unfilled)
    is_cost = None if executed is None or opportunity is None else executed + opportunity
    arrival_notional = _sum_or_none(
        s.qty * s.arrival if s.arrival is not None else None for s in sums)
    market_volume = traded if traded is not None else sum(s.market_volume for s in sums)
    ack_us = sorted(x for s in sums for x in s.ack_us)
    fill_us = sorted(x for s in sums for x in s.fill_us)

    m: dict[str, Decimal | int | None] = {
        "qty": qty,
        "filled": filled,
        "unfilled": sum(s.unfilled for s in sums),
        "fill_rate": _ratio(Decimal(filled), Decimal(qty)),
        "fill_count": sum(s.fill_count for s in sums),
        "notional": notional,
        "avg_px": notional / filled if uniform and filled else None,
        "arrival_mid": _level([(s.arrival, s.qty) for s in sums]) if uniform else None,
        "end_mid": _level([(s.end_mid, s.qty) for s in sums]) if uniform else None,
        "slippage_arrival_bps": _slippage(with_fills, lambda s: s.arrival),
        "interval_vwap": _level([(s.vwap, s.qty) for s in sums]) if uniform else None,
        "slippage_vwap_bps": _slippage(with_fills, lambda s: s.vwap),
        "is_executed": executed,
        "is_opportunity": opportunity,
        "is_cost": is_cost,
        "is_bps": (_ratio(is_cost * _TEN_K, arrival_notional)
                   if is_cost is not None and arrival_notional is not None else None),
        # shares of different symbols are not one market's volume
        "market_volume": market_volume if len({s.symbol for s in sums}) == 1 else None,
        "participation": _ratio(Decimal(filled), Decimal(market_volume + filled)),
        "pnl": -executed if executed is not None else None,
        "ack_latency_p50_us": nearest_rank(ack_us, 50),
        "ack_latency_p99_us": nearest_rank(ack_us, 99),
        "fill_latency_p50_us": nearest_rank(fill_us, 50),
        "fill_latency_p99_us": nearest_rank(fill_us, 99),
        "child_count": sum(s.child_count for s in sums),
        "passive_share": _ratio(Decimal(sum(s.passive for s in sums)), Decimal(filled)),
        "aggressive_share": _ratio(Decimal(sum(s.aggressive for s in sums)), Decimal(filled)),
    }
    for k, h in enumerate(MARKOUT_SECONDS):
        m[f"markout_{h}s_bps"] = _ratio(sum((s.markout_num[k] for s in sums), Decimal(0)),
                                        Decimal(sum(s.markout_qty[k] for s in sums)))
    return {key: _out(key, value) for key, value in m.items()}


def _sum_or_none(parts: Iterable[Decimal | None]) -> Decimal | None:
    total = Decimal(0)
    for p in parts:
        if p is None:
            return None
        total += p
    return total


def _ratio(num: Decimal, den: Decimal | None) -> Decimal | None:
    return num / den if den else None


def _level(pairs: Sequence[tuple[Decimal | None, int]]) -> Decimal | None:
    """Quantity-weighted mean of price levels; None if any is None (or no weight)."""
    if len(pairs) == 1:
        return pairs[0][0]
    if any(v is None for v, _ in pairs):
        return None
    weight = sum(w for _, w in pairs)
    return sum((v * w for v, w in pairs if v is not None), Decimal(0)) / weight if weight else None


def _slippage(with_fills: Sequence[_Sums],
              bench: Callable[[_Sums], Decimal | None]) -> Decimal | None:
    """``Σ s (notional - B filled) / Σ B filled * 1e4`` over parents with fills; None if one
    of them has no benchmark B (or none has fills)."""
    num = Decimal(0)
    den = Decimal(0)
    for s in with_fills:
        b = bench(s)
        if b is None:
            return None
        num += s.sign * (s.notional - b * s.filled)
        den += b * s.filled
    return num / den * _TEN_K if den else None


def _out(key: str, value: Decimal | int | None) -> Metric:
    if value is None or isinstance(value, int):
        return value
    return float(round(value, PLACES[key])) + 0.0  # + 0.0 turns -0.0 into 0.0
