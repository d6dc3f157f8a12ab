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
A message that cannot be read ends its log's replay with the reason in
:attr:`FeedReplay.errors` (one a log; the other logs go on), unless ``on_error`` is given:
it is then told (the error names file and line) and the replay goes on past the message.
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

from algos.strategy import MarketWatch
from gateway.clock import from_ns
from gateway.config import ConfigError
from gateway.md_feed import (
    CHUNK_BYTES,
    WATCH_HIGH,
    WATCH_LOW,
    FeedBook,
    FeedFill,
    MarketDataFeed,
    MdBatch,
    MdDecoder,
    MdLogError,
    MdLogReader,
    Watch,
)
from gateway.venue_config import MarketDataFeedConfig, SymbolSpec, tick_decimals

__all__ = ["FeedChange", "FeedReplay"]


_MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class FeedChange:
    """What one :meth:`FeedReplay.due` call did to a symbol: its trades in order, as columns
    (price in ticks, quantity, log time in ns), and the fills of client orders they reached
    (csrc/mdfeed.h's rule)."""

    symbol: str
    trade_prices: array[int] = field(default_factory=lambda: array("q"))
    trade_sizes: array[int] = field(default_factory=lambda: array("q"))
    trade_times: array[int] = field(default_factory=lambda: array("q"))
    fills: list[tuple[FeedFill, datetime]] = field(default_factory=list)  # with their time

    def add_trades(self, prices: array[int], sizes: array[int], times: array[int],
                   owners: array[int], book: FeedBook) -> None:
        """Append trades (columns as :meth:`MdUpdate.trade_columns` gives them, with the
        prints' owners when ``book`` had liquidity taken by client orders), less what client
        orders took of that liquidity: a negative owner's (taken whole: FeedBook.gone), and
        what FeedBook.partly holds for a positive one (which the prints use up). The client
        orders' trades printed that volume already, and the log's own print of it is of
        liquidity the venue no longer had. Afterwards an id of ``partly`` that has left
        ``book`` is forgotten: what was taken of it was of that order, or of that level, not
        of one the log adds again under its id."""
        partly = book.partly
        if prices and (book.gone or partly) and any(i < 0 or i in partly for i in owners):
            kept: tuple[array[int], array[int], array[int]] = (
                array("q"), array("q"), array("q"))
            for k, i in enumerate(owners):
                size = sizes[k]
                if i < 0:
                    continue
                taken = partly.get(i, 0)
                if taken:  # (what was taken is printed once, whatever the log's split)
                    cut = min(taken, size)
                    size -= cut
                    if taken > cut:
                        partly[i] = taken - cut
                    else:
                        del partly[i]
                    if size <= 0:
                        continue
                kept[0].append(prices[k])
                kept[1].append(size)
                kept[2].append(times[k])
            prices, sizes, times = kept
        for i in [i for i in partly if book.order(i) is None]:
            del partly[i]
        if not prices:
            return
        self.trade_prices += prices
        self.trade_sizes += sizes
        self.trade_times += times


#: the most a log kept decoded is read in at once (CHUNK_BYTES otherwise; a read allocates
#: what it asks for): the framer's records of one piece take about 0.7 bytes a byte
KEPT_CHUNK_BYTES = 64 << 20


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
        # A log kept decoded is read in larger pieces (one, for a day of one symbol): its
        # batches hold every piece anyway, and each cut copies a piece and counts its lines
        self.batches: Iterator[MdBatch] = (
            iter(decoded) if decoded is not None else
            _kept(MdLogReader(path, decoder=MdDecoder(price_decimals=digits, on_error=on_error,
                                                      check_sequence=True, only=symbols),
                              chunk_bytes=CHUNK_BYTES if keep is None else max(
                                  CHUNK_BYTES, min(KEPT_CHUNK_BYTES, path.stat().st_size))),
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
        decimals = {tick_decimals(specs[s].tick_size) for s in symbols}
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
        self._scale = Decimal(10) ** digits  # prices in ticks of the feed
        self.books: dict[str, FeedBook] = {s: self.feed.add_symbol(s) for s in symbols}
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
        self.stopped = False  # the last due() stopped early: at stop_ns, for a fill or watch
        self.stop_ns = 0
        self.errors: list[str] = []  # a log's first bad message ends that log (see module)
        self._deadline: datetime | None = None  # next_deadline's answer, until due() or anchor()
        self._unit_speed = config.speed == 1
        for cursor in self._logs:
            self._note(cursor.advance())
        firsts = [t for t in (c.next_time() for c in self._logs) if t is not None]
        # t0 on a whole microsecond (datetimes have no finer grain): a message's time is
        # then its own log time, cut to the microsecond, when the replay starts at t0
        self._t0 = min(firsts) // 1000 * 1000 if firsts else None
        # watch groups: the messages of one time due (at speed 1, a microsecond: _due_us)
        self._groups = ((self._t0 + 999, 1000) if self._t0 is not None and self._unit_speed
                        else (0, 0))

    def _note(self, error: str | None) -> None:
        if error is not None:
            self.errors.append(error)

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

    def _time_due_end(self, time_ns: int) -> int:
        """The latest log time due with ``time_ns`` (the same microsecond at speed 1)."""
        base, step = self._groups
        if not step:
            return time_ns
        return base + max(0, -(-(time_ns - base) // step)) * step

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

    def watch(self, bounds: MarketWatch) -> Watch:
        """``bounds`` (prices) in this feed's ticks, for :meth:`due`: the range a touch may
        move in without reaching a bound (a bound of None: not watched)."""
        scale = self._scale

        def below(price: Decimal | None) -> int:  # the highest tick below price
            return WATCH_HIGH if price is None else math.ceil(price * scale) - 1

        def above(price: Decimal | None) -> int:  # the lowest tick above price
            return WATCH_LOW if price is None else math.floor(price * scale) + 1

        return (above(bounds.bid_falls_to), below(bounds.bid_rises_to),
                above(bounds.ask_falls_to), below(bounds.ask_rises_to))

    def due(self, now: datetime, clients: Mapping[str, Sequence[int]] | None = None, *,
            stop_at_fill: bool = False,
            watch: Mapping[str, Watch] | None = None) -> list[FeedChange]:
        """Apply every message due at ``now``, the logs' messages merged in time; per
        changed symbol, its trades and the fills of the ``clients`` orders (per symbol, the
        book ids of client orders resting in it).

        ``stop_at_fill``: stop after the first message that fills a client order or leaves
        one crossed by replayed liquidity; ``watch`` (per symbol, from :meth:`watch`): stop
        after the first time due that leaves the symbol's touch outside its watch, or its
        book crossed or empty, with every message of that time due applied, in every log
        and batch (up to a fill among them): the book as a replay stopping after every time
        shows it. Then :attr:`stopped` is true and :attr:`stop_ns` is the log time of a
        message of the time it stopped at, so the caller can act at that time. A log whose
        batch holds symbols of several clients or watches stops after each time due instead
        when some are watched, and is applied without stopping otherwise (its fills then
        come at ``now``)."""
        self.stopped = False
        self.stop_ns = 0
        self._deadline = None
        if self._t0 is None:
            return []
        if self._start is None:
            self._start = now
        elapsed_us = (now - self._start) // _MICROSECOND
        limit = (self._t0 + 999 + elapsed_us * 1000 if self._unit_speed
                 else self._limit(elapsed_us))  # _limit, inline at speed 1
        changed: dict[str, FeedChange] = {}
        watching = watch
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
            stopped = self._apply(first, upto, clients, stop_at_fill, watching, changed)
            if stopped == "fill":
                break
            if stopped == "watch":
                # the rest of that time due first, which may go on in the next batch or
                # another log: the book as a replay stopping after every time shows it
                end = self._time_due_end(self.stop_ns)
                if end < limit:
                    limit = end
                watching = None
        return list(changed.values())

    def _apply(self, log: _Log, upto: int, clients: Mapping[str, Sequence[int]] | None,
               stop_at_fill: bool, watch: Mapping[str, Watch] | None,
               changed: dict[str, FeedChange]) -> str | None:
        """Apply ``log``'s messages of log time up to ``upto`` (within its current batch);
        ``"fill"`` or ``"watch"`` if it stopped for one (then :attr:`stop_ns` says where),
        else None."""
        assert log.batch is not None
        batch, start = log.batch, log.i
        stop = bisect.bisect_right(log.times, upto, start)
        if stop <= start:  # at least one message (max(), without the call)
            stop = start + 1
        mine = ({sy: ids for sy in batch.symbols if (ids := clients.get(sy))}
                if clients else None)
        watched = ({sy: w for sy in batch.symbols if (w := watch.get(sy)) is not None}
                   if watch else None)
        stoppers = set(mine or ()) if stop_at_fill else set()
        stoppers.update(watched or ())
        one = len(stoppers) <= 1
        stop_fills = stop_at_fill and one and bool(mine)
        if not one and watched:  # one time due at a time: the caller looks after each
            end = self._time_due_end(log.times[start])
            stop = bisect.bisect_right(log.times, end if end < upto else upto, start)
        update = self.feed.apply(batch, start, stop, clients=mine, tops=self.record_tops,
                                 stop_at_fill=stop_fills,
                                 watch=watched if one else None, watch_groups=self._groups)
        stop = update.stop
        self.applied += stop - start
        if len(batch.symbols) == 1:  # the usual log: what follows, without the sets
            only = update.only_symbol_trades()
            if only is not None and (symbol := batch.symbols[0]) in self.books:
                book = self.books[symbol]
                change = changed.get(symbol)
                if change is None and not book.gone and not book.partly:
                    changed[symbol] = FeedChange(symbol, *only[:3])  # (this call's arrays)
                else:
                    changed.setdefault(symbol, FeedChange(symbol)).add_trades(*only, book)
        else:
            for symbol in update.symbols_changed() & self.books.keys():
                changed.setdefault(symbol, FeedChange(symbol)).add_trades(
                    *update.trade_columns(symbol), self.books[symbol])
        for fill in update.fills:
            changed.setdefault(fill.symbol, FeedChange(fill.symbol)).fills.append(
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
        if stop_fills and (update.fills or update.crossed):
            self.stopped, self.stop_ns = True, at
            return "fill"
        if update.touched or (not one and watched):
            self.stopped, self.stop_ns = True, at
            return "watch"
        return None

