"""A venue's books driven by a FIX market-data log (``venue: market_data:``), in time.

The log (35=W/X, as ``gateway lobster to-fix`` writes it) is replayed into the same C books
the venue matches client orders on: message *i* is applied at
``start + (time_i - time_0) / speed``, where ``start`` is the first timer call. Clients trade
against the replayed liquidity; the feed's own later changes to orders a client already took
are skipped by the C feed (rejects are counted, not fatal, because client trading makes the
live book differ from the recorded one).

Prices: the log's decimals are read in ticks of the venue's tick size, so every symbol the
feed drives must have the same power-of-ten tick (0.01 -> 2 decimals), fine enough for every
price in the log (LOBSTER's hidden executions trade at half cents: use 0.0001 for those).
A message that cannot be read ends the replay with the reason in :attr:`FeedReplay.error`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.book import OrderBook
from gateway.config import ConfigError
from gateway.md_feed import MarketDataFeed, MdBatch, MdDecoder, MdLogError, MdLogReader
from gateway.venue_config import MarketDataFeedConfig, SymbolSpec

__all__ = ["FeedReplay"]


def _decimals(tick: Decimal) -> int | None:
    exp = tick.normalize().as_tuple()
    if exp.digits != (1,) or not isinstance(exp.exponent, int) or exp.exponent > 0:
        return None
    return -exp.exponent


class FeedReplay:
    def __init__(self, config: MarketDataFeedConfig, specs: dict[str, SymbolSpec]) -> None:
        symbols = sorted(config.symbols if config.symbols is not None else specs)
        unknown = [s for s in symbols if s not in specs]
        if unknown:
            raise ConfigError(f"venue: market_data: symbols {unknown} are not listed")
        decimals = {_decimals(specs[s].tick_size) for s in symbols}
        if len(decimals) != 1 or None in decimals:
            raise ConfigError("venue: market_data: the symbols it drives need one tick size "
                              "that is a power of ten")
        if not config.log.is_file():
            raise ConfigError(f"venue: market_data: log {config.log} does not exist")
        (digits,) = decimals
        assert digits is not None
        self.config = config
        self.feed = MarketDataFeed(strict=False, price_decimals=digits)
        self.books: dict[str, OrderBook] = {s: self.feed.add_symbol(s) for s in symbols}
        self._batches: Iterator[MdBatch] = iter(MdLogReader(
            config.log, decoder=MdDecoder(price_decimals=digits)))
        self._batch: MdBatch | None = None
        self._i = 0
        self._t0: int | None = None
        self._start: datetime | None = None
        self.applied = 0
        self.error: str | None = None
        self._advance()

    def _advance(self) -> None:
        """Move to the next message; a log that cannot be read ends the replay there, with
        the reason (file:line) in :attr:`error`."""
        while self._batch is None or self._i >= self._batch.count:
            try:
                self._batch = next(self._batches, None)
            except MdLogError as exc:
                self.error = str(exc)
                self._batch = None
            self._i = 0
            if self._batch is None:
                return

    @property
    def done(self) -> bool:
        return self._batch is None

    def next_deadline(self) -> datetime | None:
        """When the next message is due (the distant past before the first timer call:
        the replay starts at once)."""
        if self._batch is None:
            return None
        if self._start is None:
            return datetime.min.replace(tzinfo=UTC)
        assert self._t0 is not None
        delay = (self._batch.time_ns(self._i) - self._t0) / 1e9 / self.config.speed
        return self._start + timedelta(seconds=delay)

    def due(self, now: datetime) -> Iterator[tuple[str, list[tuple[int, int]]]]:
        """Apply every message due at ``now``; yield each changed symbol with its trades
        (ticks, quantity)."""
        changed: dict[str, list[tuple[int, int]]] = {}
        while self._batch is not None:
            batch = self._batch
            if self._start is None:
                self._start, self._t0 = now, batch.time_ns(self._i)
            assert self._t0 is not None
            limit = self._t0 + (now - self._start).total_seconds() * self.config.speed * 1e9
            stop = self._i
            while stop < batch.count and batch.time_ns(stop) <= limit:
                stop += 1
            if stop == self._i:
                break
            update = self.feed.apply(batch, self._i, stop)
            self.applied += stop - self._i
            for symbol in update.changed_levels():
                changed.setdefault(symbol, [])
            for t in update.trades():
                changed.setdefault(t.symbol, []).append((t.price, t.size))
            self._i = stop
            self._advance()
        yield from changed.items()
