"""A venue's books driven by FIX market-data logs (``venue: market_data:``), in time.

The logs (35=W/X, as ``gateway lobster to-fix`` writes them) are replayed into the same C
books the venue matches client orders on: message *i* is applied at
``start + (time_i - time_0) / speed``, where ``time_0`` is the earliest first message of the
logs and ``start`` the first timer call (a backtest's virtual clock starts at ``time_0`` at
speed 1, so it applies each message at its own time). Several logs are merged in time; they
normally hold different symbols (within one call's messages, one log's are applied before
the next's).

Clients trade against the replayed liquidity. The feed's own later changes to orders a
client already took are skipped by the C feed (rejects are counted, not fatal, because
client trading makes the live book differ from the recorded one). A client order resting
in the book fills when replayed executions reach it (csrc/mdfeed.h's fill rule: the
executions of orders it has priority over, and prints through its price, go to it first);
:meth:`FeedReplay.due` returns those fills with the symbol's trades.

Prices: the log's decimals are read in ticks of the venue's tick size, so every symbol the
feed drives must have the same power-of-ten tick (0.01 -> 2 decimals), fine enough for every
price in the log (LOBSTER's hidden executions trade at half cents: use 0.0001 for those).
A message that cannot be read ends the replay with the reason in :attr:`FeedReplay.error`,
unless ``on_error`` is given: it is then told (the error names file and line) and the replay
goes on past the message.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from engine.book import OrderBook
from gateway.clock import from_ns
from gateway.config import ConfigError
from gateway.md_feed import (
    FeedFill,
    MarketDataFeed,
    MdBatch,
    MdDecoder,
    MdLogError,
    MdLogReader,
)
from gateway.venue_config import MarketDataFeedConfig, SymbolSpec

__all__ = ["FeedChange", "FeedReplay"]


_MICROSECOND = timedelta(microseconds=1)


def _decimals(tick: Decimal) -> int | None:
    exp = tick.normalize().as_tuple()
    if exp.digits != (1,) or not isinstance(exp.exponent, int) or exp.exponent > 0:
        return None
    return -exp.exponent


@dataclass(slots=True)
class FeedChange:
    """What one :meth:`FeedReplay.due` call did to a symbol: its trades (ticks, quantity), in
    order, and the fills of client orders they reached (csrc/mdfeed.h's rule)."""

    symbol: str
    trades: list[tuple[int, int]]
    fills: list[tuple[FeedFill, datetime]] = field(default_factory=list)  # with their time
    trade_times: list[int] = field(default_factory=list)  # log time (ns) of each trade


def _kept(batches: Iterable[MdBatch], keep: list[MdBatch] | None) -> Iterator[MdBatch]:
    for batch in batches:
        if keep is not None:
            keep.append(batch)
        yield batch


class _Log:
    """One log's read position: the current batch and the next message in it."""

    def __init__(self, path: Path, digits: int,
                 on_error: Callable[[MdLogError], None] | None, symbols: list[str],
                 decoded: list[MdBatch] | None, keep: list[MdBatch] | None) -> None:
        self.path = path
        self.batches: Iterator[MdBatch] = (
            iter(decoded) if decoded is not None else
            _kept(MdLogReader(path, decoder=MdDecoder(price_decimals=digits, on_error=on_error,
                                                      check_sequence=True, only=symbols)),
                  keep))
        self.batch: MdBatch | None = None
        self.times: Sequence[int] = ()
        self.i = 0

    def advance(self) -> str | None:
        """Move to the next message; returns why the log cannot be read on (file:line), if
        so (the log then counts as done)."""
        while self.batch is None or self.i >= self.batch.count:
            try:
                self.batch = next(self.batches, None)
            except MdLogError as exc:
                self.batch = None
                return str(exc)
            self.i = 0
            if self.batch is None:
                return None
            # the md_msg array: int64 SendingTime first in each 32-byte record
            self.times = memoryview(self.batch.msgs).cast("q")[::4]
        return None

    def next_time(self) -> int | None:
        return self.times[self.i] if self.batch is not None else None


class FeedReplay:
    def __init__(self, config: MarketDataFeedConfig, specs: dict[str, SymbolSpec], *,
                 on_error: Callable[[MdLogError], None] | None = None,
                 record_tops: bool = False,
                 decoded: Mapping[Path, list[MdBatch]] | None = None,
                 keep_decoded: bool = False) -> None:
        """``decoded``: batches an earlier replay of the same logs kept (``keep_decoded``,
        then in :attr:`decoded`), replayed from memory instead of reading the files again."""
        symbols = sorted(config.symbols if config.symbols is not None else specs)
        unknown = [s for s in symbols if s not in specs]
        if unknown:
            raise ConfigError(f"venue: market_data: symbols {unknown} are not listed")
        decimals = {_decimals(specs[s].tick_size) for s in symbols}
        if len(decimals) != 1 or None in decimals:
            raise ConfigError("venue: market_data: the symbols it drives need one tick size "
                              "that is a power of ten")
        for path in config.logs:
            if not path.is_file():
                raise ConfigError(f"venue: market_data: log {path} does not exist")
        (digits,) = decimals
        assert digits is not None
        self.config = config
        self.feed = MarketDataFeed(strict=False, price_decimals=digits, uncrossed=True)
        self.books: dict[str, OrderBook] = {s: self.feed.add_symbol(s) for s in symbols}
        self.record_tops = record_tops
        #: with ``record_tops``: per symbol, (time ns, bid, bid qty, ask, ask qty) rows
        #: flattened, one after every message that changed its best bid or offer
        self.tops: dict[str, array[int]] = {s: array("q") for s in symbols}
        self.decoded: dict[Path, list[MdBatch]] = (
            {path: [] for path in config.logs} if keep_decoded else {})
        # a symbol the venue does not list is bad input; one it lists but this feed does not
        # drive is replayed into a book of the feed's own, which no client trades on
        self._logs = [_Log(path, digits, on_error, sorted(specs),
                           decoded.get(path) if decoded is not None else None,
                           self.decoded.get(path)) for path in config.logs]
        self._t0: int | None = None
        self._start: datetime | None = None
        self.applied = 0
        self.last_ns = 0  # log time of the latest message applied
        self.stopped_at_fill = False
        self.fill_ns = 0
        self.error: str | None = None
        self._deadline: datetime | None = None  # next_deadline's answer, until due() or anchor()
        self._unit_speed = config.speed == 1
        for cursor in self._logs:
            self._note(cursor.advance())
        firsts = [t for t in (c.next_time() for c in self._logs) if t is not None]
        # t0 on a whole microsecond (datetimes have no finer grain): a message's time is
        # then its own log time, cut to the microsecond, when the replay starts at t0
        self._t0 = min(firsts) // 1000 * 1000 if firsts else None

    def _note(self, error: str | None) -> None:
        if error is not None and self.error is None:
            self.error = error

    @property
    def done(self) -> bool:
        for log in self._logs:  # noqa: SIM110  # no generator: asked on every step of a run
            if log.batch is not None:
                return False
        return True

    def first_time(self) -> datetime | None:
        """The time of the earliest first message of the logs (None: they are empty)."""
        if self._t0 is None:
            return None
        return from_ns(self._t0)

    def anchor(self, start: datetime) -> None:
        """Map the logs' first message to ``start`` (else the first call to :meth:`due`)."""
        self._start = start
        self._deadline = None

    # Log time and replay time: a message of log time ``ns`` is due once
    # ``now - start`` reaches ``_due_us(ns)`` microseconds; ``due``, ``next_deadline`` and
    # ``time_of`` all use this one rule, so a deadline always admits its message.

    def _limit(self, elapsed_us: int) -> int:
        """The latest log time due ``elapsed_us`` after the start."""
        assert self._t0 is not None
        speed = self.config.speed
        return self._t0 + 999 + (elapsed_us * 1000 if speed == 1
                                 else int(elapsed_us * 1000 * speed))

    def _due_us(self, time_ns: int) -> int:
        """The first whole microsecond after the start at which ``time_ns`` is due."""
        assert self._t0 is not None
        need = time_ns - self._t0 - 999
        if self.config.speed == 1:
            return max(0, -(-need // 1000))
        us = max(0, math.ceil(need / 1000 / self.config.speed))
        while self._limit(us) < time_ns:  # float rounding: never a deadline short of it
            us += 1
        return us

    def time_of(self, time_ns: int) -> datetime:
        """When the message of log time ``time_ns`` is (or was) due."""
        start = self._start
        assert start is not None, "the replay has not started"
        if self._unit_speed:  # _due_us, inline: asked on every step of a run
            assert self._t0 is not None
            need = time_ns - self._t0 - 999
            return start + _MICROSECOND * (-(-need // 1000) if need > 0 else 0)
        return start + _MICROSECOND * self._due_us(time_ns)

    def next_deadline(self) -> datetime | None:
        """When the next message is due (the distant past before the first timer call:
        the replay starts at once)."""
        if self._deadline is not None:  # asked once per step of a run: kept until it moves
            return self._deadline
        nxt: int | None = None
        for log in self._logs:
            t = log.next_time()
            if t is not None and (nxt is None or t < nxt):
                nxt = t
        if nxt is None:
            return None
        if self._start is None:
            return datetime.min.replace(tzinfo=UTC)
        self._deadline = self.time_of(nxt)
        return self._deadline

    def due(self, now: datetime, clients: Mapping[str, Sequence[int]] | None = None, *,
            stop_at_fill: bool = False) -> list[FeedChange]:
        """Apply every message due at ``now``, the logs' messages merged in time; per
        changed symbol, its trades and the fills of the ``clients`` orders (per symbol, the
        book ids of client orders resting in it).

        ``stop_at_fill``: stop after the first message that fills a client order or leaves
        one crossed by replayed liquidity (then :attr:`stopped_at_fill` is true and
        :attr:`fill_ns` is that message's log time), so the caller can act at its own
        time; a log whose batch holds clients of several symbols is applied without stopping
        (its fills then come at ``now``)."""
        self.stopped_at_fill = False
        self.fill_ns = 0
        self._deadline = None
        if self._t0 is None:
            return []
        if self._start is None:
            self._start = now
        elapsed_us = (now - self._start) // _MICROSECOND
        limit = (self._t0 + 999 + elapsed_us * 1000 if self._unit_speed
                 else self._limit(elapsed_us))  # _limit, inline at speed 1
        changed: dict[str, FeedChange] = {}
        while True:
            # the log whose next message comes first (the first such log on a tie), up to
            # the next message of any other
            first: _Log | None = None
            first_t = upto = limit
            for log in self._logs:
                t = log.next_time()
                if t is None or t > limit:
                    continue
                if first is None or t < first_t:
                    if first is not None:
                        upto = first_t
                    first, first_t = log, t
                elif t < upto:
                    upto = t
            if first is None:
                break
            if self._apply(first, upto, clients, stop_at_fill, changed):
                break
        return list(changed.values())

    def _apply(self, log: _Log, upto: int, clients: Mapping[str, Sequence[int]] | None,
               stop_at_fill: bool, changed: dict[str, FeedChange]) -> bool:
        """Apply ``log``'s messages of log time up to ``upto`` (within its current batch);
        True if it stopped at a fill."""
        assert log.batch is not None
        batch, start = log.batch, log.i
        stop = bisect.bisect_right(log.times, upto, start)
        if stop <= start:  # at least one message (max(), without the call)
            stop = start + 1
        mine = ({sy: ids for sy in batch.symbols if (ids := clients.get(sy))}
                if clients else None)
        stopping = stop_at_fill and mine is not None and len(mine) == 1
        update = self.feed.apply(batch, start, stop, clients=mine, tops=self.record_tops,
                                 stop_at_fill=stopping)
        stop = update.stop
        self.applied += stop - start
        if len(batch.symbols) == 1:  # the usual log: what follows, without the sets
            only = update.only_symbol_trades()
            if only is not None and (symbol := batch.symbols[0]) in self.books:
                prices, sizes, times = only  # lists of this call's own
                change = changed.get(symbol)
                if change is None:
                    trades = list(zip(prices, sizes, strict=True)) if prices else []
                    changed[symbol] = FeedChange(symbol, trades, [], times)
                elif prices:
                    change.trades += zip(prices, sizes, strict=True)
                    change.trade_times += times
        else:
            for symbol in update.symbols_changed() & self.books.keys():
                change = changed.setdefault(symbol, FeedChange(symbol, []))
                prices, sizes, times = update.trade_columns(symbol)
                if prices:
                    change.trades += zip(prices, sizes, strict=True)
                    change.trade_times += times
        for fill in update.fills:
            changed.setdefault(fill.symbol, FeedChange(fill.symbol, [])).fills.append(
                (fill, self.time_of(fill.time_ns)))
        if self.record_tops:
            for symbol, rows in update.tops.items():
                if symbol in self.tops:
                    self.tops[symbol].extend(rows)
        at = log.times[stop - 1]
        if at > self.last_ns:
            self.last_ns = at
        log.i = stop
        if stop >= batch.count:
            self._note(log.advance())
        if stopping and (update.fills or update.crossed):
            self.stopped_at_fill = True
            self.fill_ns = at
            return True
        return False

