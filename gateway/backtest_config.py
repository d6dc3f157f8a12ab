"""The ``backtest:`` section of a gateway YAML: the parent orders to work against the replay.

A backtest config is a venue config (``application: venue``, its sessions, ``venue:`` with
``market_data:`` naming one or more FIX market-data logs, ``algos:``, ``risk:``) plus::

    backtest:
      orders:                   # parent orders, each from one of the acceptor's sessions
        - {session: CLIENT1, symbol: AMZN, side: buy, qty: 5000, start: "14:00:00",
           window: 1800, strategy: "1001", params: "Slices=30;MaxChildQty=500",
           limit: 230.00, participation: 0.2}
      latency: {entry: 0.0002, ack: 0.0002}   # or {measured: FIX.log, split: 0.5, seed: 1}
      baselines: [naive, twap]  # also run each parent as one market order, and as plain TWAP
      snapshot_interval: 1.0    # market seconds between the views of a changing book for
                                # algos with no market_watch (events: only at their own
                                # timers, fills and acks)
      on_error: stop            # a bad market-data line stops the run; skip: report, go on
      output: ../logs/backtest  # the report folder (relative to this file)

``start`` is a UTC time of day on the date of the first market-data message
(``"14:00:00"``, ``"14:00:00.250"``) or a number of seconds after that message; ``window``
is the schedule's length in seconds (or ``end``, a time of day). ``session`` defaults to the
first acceptor session; ``strategy`` (TargetStrategy 847) to ``"1001"`` (TWAP).
What the venue would refuse is a config error here, at its key, not a rejected parent in
every run: ``qty`` is a multiple of the symbol's ``lot_size`` and at most its ``max_qty``,
``limit`` is positive and on its ``tick_size``, and every number is finite (no ``.nan`` or
``.inf``: gateway.yamlcheck).
``gateway run CONFIG --mode live`` serves the same venue live and ignores this section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from algos.registry import check_parameters
from algos.slicing import StrategyParameterError
from gateway.algo_config import parse_algos
from gateway.algo_orders import parse_parameter_text
from gateway.config import GatewayConfig
from gateway.fix_reports import RequestError, too_long
from gateway.latency import LatencyConfig, parse_latency
from gateway.venue_config import SymbolSpec
from gateway.yamlcheck import ConfigError, Node

__all__ = ["BASELINES", "BacktestConfig", "BacktestOrder", "parse_backtest"]

BASELINES = ("naive", "twap")
#: seconds after the first market-data message an order may start (as long as a window)
MAX_START = 7 * 86400


@dataclass(frozen=True, slots=True)
class BacktestOrder:
    """One parent order of the backtest; ``start``/``end`` as given (see :meth:`window`)."""

    session: str
    symbol: str
    side: str  # "buy" or "sell"
    qty: int
    start: time | float
    end: time | float  # a time of day, or seconds after start
    strategy: str = "1001"
    params: str = ""
    limit: Decimal | None = None
    participation: Decimal | None = None
    where: str = ""  # file:line of the order, for messages

    def window(self, first: datetime) -> tuple[datetime, datetime]:
        """The order's start and end, given the time of the first market-data message."""
        if isinstance(self.start, time):
            start = datetime.combine(first.date(), self.start, first.tzinfo)
        else:
            start = first + timedelta(seconds=self.start)
        if isinstance(self.end, time):
            end = datetime.combine(start.date(), self.end, start.tzinfo)
        else:
            end = start + timedelta(seconds=self.end)
        if end <= start:
            raise ConfigError(f"{self.where}: the order ends ({end:%H:%M:%S.%f}) before it "
                              f"starts ({start:%H:%M:%S.%f})")
        return start, end


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    orders: tuple[BacktestOrder, ...]
    latency: LatencyConfig
    output: Path
    baselines: tuple[str, ...] = BASELINES
    snapshot_interval: float | None = 1.0  # None: at the algos' own events only
    on_error: str = "stop"


def _time_or_seconds(node: Node) -> time | float:
    raw = node.raw()
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return node.number(0, MAX_START)
    text = node.string()
    for fmt in ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise node.error(f"expected a time of day HH:MM:SS[.ffffff] or seconds, got {text!r}")


def _params(node: Node, strategy: str) -> str:
    """848 text, checked here so a bad entry is a config error at its line: its syntax, and
    its keys and values as the builtin ``strategy`` reads them (see
    algos.registry.check_parameters)."""
    text = node.string()
    try:
        check_parameters(strategy, parse_parameter_text(text))
    except (RequestError, StrategyParameterError) as exc:
        raise node.error(str(exc)) from None
    return text


def _qty(node: Node, spec: SymbolSpec) -> int:
    """The order's quantity as the desk takes a parent (gateway.algo_orders.parse_parent): a
    whole multiple of the symbol's lot size, at most its ``max_qty`` (the venue's maximum
    holds for a parent too: one above it would be refused in every run)."""
    qty = node.integer(1)
    where = f"venue.symbols.{spec.symbol}"
    if qty % spec.lot_size:
        raise node.error(f"qty {qty} is not a multiple of {spec.symbol}'s lot size "
                         f"{spec.lot_size} ({where}.lot_size)")
    if qty > spec.max_qty:
        raise node.error(f"qty {qty} is more than the venue accepts in one order for "
                         f"{spec.symbol} ({where}.max_qty: {spec.max_qty}), for a parent too")
    return qty


def _limit(node: Node, spec: SymbolSpec) -> Decimal:
    """A limit price the desk accepts: positive and a whole number of the symbol's ticks
    (gateway.algo_orders.parse_parent refuses any other, which a run would only report)."""
    node.number()  # a number, finite
    raw = node.raw()
    limit = Decimal(str(raw))  # the text YAML read: 224.12345 stays off the tick
    if limit <= 0:
        raise node.error(f"expected a positive limit price, got {raw}")
    if fault := too_long(limit):
        raise node.error(f"limit {raw} has {fault}: the desk refuses it")
    if spec.to_ticks(limit) is None:
        raise node.error(f"limit {raw} is not on {spec.symbol}'s tick size {spec.tick_size} "
                         f"(venue.symbols.{spec.symbol}.tick_size)")
    return limit


def _order(node: Node, sessions: list[str], symbols: Mapping[str, SymbolSpec],
           strategies: Mapping[str, str]) -> BacktestOrder:
    f = node.mapping({"session", "symbol", "side", "qty", "start", "window", "end", "strategy",
                      "params", "limit", "participation"}, {"symbol", "side", "qty", "start"})
    if ("window" in f) == ("end" in f):
        raise node.error("give the order either 'window' (seconds) or 'end' (a time of day)")
    session = f["session"].name() if "session" in f else sessions[0]
    if session not in sessions:
        raise f["session"].error(f"unknown session {session!r} (the config's acceptor "
                                 f"sessions: {', '.join(sessions)})")
    symbol = f["symbol"].name()
    if symbol not in symbols:
        raise f["symbol"].error(f"unknown symbol {symbol!r} (venue symbols: "
                                f"{', '.join(sorted(symbols))})")
    if "window" in f:
        end: time | float = f["window"].number(0.001, 7 * 86400)
    else:
        end_node = f["end"]
        parsed = _time_or_seconds(end_node)
        if not isinstance(parsed, time):
            raise end_node.error("expected a time of day (use 'window' for seconds)")
        end = parsed
    strategy = f["strategy"].name() if "strategy" in f else "1001"
    if strategy not in strategies:
        raise f.get("strategy", node).error(
            f"TargetStrategy {strategy!r} is not one the config's algos offer "
            f"({', '.join(sorted(strategies))})")
    participation = None
    if "participation" in f:
        participation = Decimal(str(f["participation"].number(0, 1)))
        if participation == 0:
            raise f["participation"].error("expected a participation rate in (0, 1], got 0")
    return BacktestOrder(
        session=session, symbol=symbol, side=f["side"].string(("buy", "sell")),
        qty=_qty(f["qty"], symbols[symbol]), start=_time_or_seconds(f["start"]), end=end,
        strategy=strategy,
        params=_params(f["params"], strategies[strategy]) if "params" in f else "",
        limit=_limit(f["limit"], symbols[symbol]) if "limit" in f else None,
        participation=participation, where=f"{node.file}:{node.line}")


def _interval(node: Node) -> float | None:
    if node.raw() == "events":
        return None
    if isinstance(node.raw(), str):
        raise node.error(f"expected seconds or 'events', got {node.raw()!r}")
    return node.number(0, 3600)


def parse_backtest(config: GatewayConfig, symbols: Mapping[str, SymbolSpec]) -> BacktestConfig:
    """Validate the config's ``backtest:`` section against its sessions and the venue's
    ``symbols`` (an order's qty and limit against its symbol's lot, maximum and tick)."""
    node = config.extra.get("backtest")
    if node is None:
        raise ConfigError(f"{config.path}: a backtest needs a 'backtest:' section with its "
                          "parent orders")
    base = config.path.resolve().parent
    m = node.mapping({"orders", "latency", "baselines", "snapshot_interval", "on_error",
                      "output"}, {"orders"})
    sessions = [s.target_comp_id for s in config.sessions if s.role == "acceptor"]
    if not sessions:
        raise node.error("the config has no acceptor session for the orders to come from")
    strategies = parse_algos(config.extra.get("algos"), base).strategies
    baselines: tuple[str, ...] = BASELINES
    if "baselines" in m:
        baselines = tuple(b.string(BASELINES) for b in m["baselines"].sequence())
    orders = tuple(_order(o, sessions, symbols, strategies)
                   for o in m["orders"].sequence())
    if not orders:
        raise m["orders"].error("expected at least one order")
    output = base / (m["output"].string() if "output" in m else "backtest-out")
    return BacktestConfig(
        orders=orders, latency=parse_latency(m.get("latency"), base), output=output,
        baselines=tuple(dict.fromkeys(baselines)),
        snapshot_interval=_interval(m["snapshot_interval"]) if "snapshot_interval" in m
        else 1.0,
        on_error=m["on_error"].string(("stop", "skip")) if "on_error" in m else "stop")
