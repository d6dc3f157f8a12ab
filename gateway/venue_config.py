"""The ``venue:`` section of a gateway YAML: the symbols the venue lists and its market data.

::

    venue:
      symbols:
        AAPL: {tick_size: 0.01, lot_size: 1, band_pct: 10, max_qty: 1000000}
        AMZN: {tick_size: 0.01}
      market_data:                 # optional: drive the books from FIX market-data logs
        log: ../engine/samples/AMZN-2012-06-21.md.log   # or a list of logs, merged in time
        speed: 20                  # log seconds per wall second
      cancel_on_disconnect: false  # cancel a client's resting orders when it disconnects

Prices on the wire are decimals; the venue's books count in ticks of ``tick_size``. An order
price must be a whole number of ticks, a quantity a whole number of lots. ``band_pct`` is
the price band: a limit price more than that many percent away from the reference price
(the last trade, else the mid, else no check while neither is known) is rejected, as
exchanges reject fat-finger prices. ``min_price``/``max_price`` are static bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from gateway.yamlcheck import Node

__all__ = ["MarketDataFeedConfig", "SymbolSpec", "VenueConfig", "parse_venue"]


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    tick_size: Decimal = Decimal("0.01")
    lot_size: int = 1
    band_pct: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    max_qty: int = 10_000_000

    def to_ticks(self, price: Decimal) -> int | None:
        """The price in ticks, or None if it is not a whole number of ticks."""
        ticks = price / self.tick_size
        if ticks != ticks.to_integral_value():
            return None
        n = int(ticks)
        if n * self.tick_size == price:
            return n
        # The division rounds to the context's 28 digits, so a price with more (a client's
        # 10000000000.000000000000000001) looked like a whole number of ticks and rested at
        # another price than the one reported: with more digits, the answer is exact.
        a, b = price.as_integer_ratio()
        c, d = self.tick_size.as_integer_ratio()
        n, rest = divmod(a * d, b * c)
        return n if not rest else None

    def to_price(self, ticks: int) -> Decimal:
        return plain(self.tick_size * ticks) if ticks else Decimal(0)


def plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and never in exponent form: ``100.00`` is ``100``,
    not ``1E+2`` (which ``normalize`` gives, and CSV and JSON readers do not expect)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


@dataclass(frozen=True, slots=True)
class MarketDataFeedConfig:
    logs: tuple[Path, ...]
    speed: float = 1.0
    symbols: frozenset[str] | None = None  # None: every symbol in the log the venue lists


@dataclass(frozen=True, slots=True)
class VenueConfig:
    symbols: dict[str, SymbolSpec] = field(default_factory=dict)
    market_data: MarketDataFeedConfig | None = None
    cancel_on_disconnect: bool = False


def _decimal(node: Node, positive: bool = True) -> Decimal:
    raw = node.raw()
    try:
        value = Decimal(str(raw)) if not isinstance(raw, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or (positive and value <= 0):
        raise node.error(f"expected a {'positive ' if positive else ''}number, got {raw!r}")
    return value


def _symbol(name: str, node: Node) -> SymbolSpec:
    """A symbol's spec; bounds that leave no order possible (a min_price above the max_price,
    a max_qty under one lot) are errors, not a symbol that refuses everything."""
    m = node.mapping({"tick_size", "lot_size", "band_pct", "min_price", "max_price", "max_qty"})
    spec = SymbolSpec(
        symbol=name,
        tick_size=_decimal(m["tick_size"]) if "tick_size" in m else Decimal("0.01"),
        lot_size=m["lot_size"].integer(1) if "lot_size" in m else 1,
        band_pct=_decimal(m["band_pct"]) if "band_pct" in m else None,
        min_price=_decimal(m["min_price"]) if "min_price" in m else None,
        max_price=_decimal(m["max_price"]) if "max_price" in m else None,
        max_qty=m["max_qty"].integer(1) if "max_qty" in m else 10_000_000,
    )
    if spec.min_price is not None and spec.max_price is not None \
            and spec.min_price > spec.max_price:
        raise m["min_price"].error(f"min_price {spec.min_price} is above max_price "
                                   f"{spec.max_price}: no price passes both")
    if spec.max_qty < spec.lot_size:
        where = m.get("max_qty", m["lot_size"])  # (a lot size above the default max_qty)
        raise where.error(f"max_qty {spec.max_qty} is less than one lot ({spec.lot_size}): "
                          "no quantity passes both")
    return spec


def tick_decimals(tick: Decimal) -> int | None:
    """The decimals of a tick size that is a power of ten (0.01: 2); None for another."""
    exp = tick.normalize().as_tuple()
    if exp.digits != (1,) or not isinstance(exp.exponent, int) or exp.exponent > 0:
        return None
    return -exp.exponent


def parse_venue(node: Node, base: Path) -> VenueConfig:
    """Validate a ``venue:`` section; relative paths are relative to the YAML's folder."""
    m = node.mapping({"symbols", "market_data", "cancel_on_disconnect"}, {"symbols"})
    sym_node = m["symbols"]
    names = sym_node.free_mapping("symbol: {tick_size, lot_size, ...}")
    symbols = {name: _symbol(name, n) for name, n in names.items()}
    if not symbols:
        raise sym_node.error("at least one symbol is needed")
    feed = None
    if "market_data" in m:
        f = m["market_data"].mapping({"log", "speed", "symbols"}, {"log"})
        log_node = f["log"]
        nodes = list(log_node.sequence()) if isinstance(log_node.raw(), list) else [log_node]
        if not nodes:
            raise log_node.error("expected a log file or a list of them")
        logs = tuple(n.existing_file(base) for n in nodes)
        seen: dict[tuple[int, int], int] = {}
        for i, (n, log) in enumerate(zip(nodes, logs, strict=True)):
            st = log.stat()
            first = seen.setdefault((st.st_dev, st.st_ino), i)
            if first != i:  # (another name for it, a link say)
                raise n.error(f"{log} is the log of item {first} ({logs[first]}) again: its "
                              "messages would be replayed twice")
        feed = MarketDataFeedConfig(
            logs=logs,
            speed=f["speed"].number(1e-3, 1e6) if "speed" in f else 1.0,
            symbols=frozenset(s.name() for s in f["symbols"].sequence())
            if "symbols" in f else None,
        )
        driven = sorted(feed.symbols if feed.symbols is not None else symbols)
        if unknown := [s for s in driven if s not in symbols]:
            raise f["symbols"].error(f"{', '.join(unknown)} not among venue.symbols")
        ticks = {symbols[s].tick_size for s in driven}
        decimals = {tick_decimals(t) for t in ticks}
        if len(decimals) != 1 or None in decimals:
            raise m["market_data"].error(
                "the symbols it drives need one tick size that is a power of ten (prices are "
                f"read in its ticks), not {', '.join(sorted(map(str, ticks)))}")
    return VenueConfig(symbols, feed, m["cancel_on_disconnect"].boolean()
                       if "cancel_on_disconnect" in m else False)


