"""``gateway backtest CONFIG.yaml``: the live venue, fed from files, on a virtual clock.

A backtest builds exactly what ``gateway run CONFIG.yaml`` builds (the acceptor's sessions,
the venue application with its C books, algo desk, risk gates and audit log) and changes
only the edges: the clock is a :class:`~gateway.clock.VirtualClock` that jumps from event to
event, the market-data logs of ``venue: market_data:`` drive the books at their own
timestamps, and the clients are FIX initiator sessions connected to the acceptor's
sessions in memory (:mod:`gateway.backtest_link`), sending the ``backtest:`` section's
parent orders at their start times (:mod:`gateway.backtest_client`). Child orders and the
venue's reports cross the latency model between the desk and the books.

Passes, each a fresh replay (no run's orders ever move the market another run sees):

1. ``market``: the logs alone, to check them (bad lines stop the backtest, or with
   ``on_error: skip`` are reported and passed over) and to record the market tape (best bid
   and offer after every change, every trade) the TCA measures against;
2. ``algo``: the parents as configured;
3. one pass per baseline: ``naive`` (each parent as one market order at its start,
   :class:`algos.baselines.MarketAtStart`) and ``twap`` (plain TWAP over the same window).

Each run writes its logs to a folder of its name, staged inside the output folder until the
backtest finishes (gateway/backtest_output.py): a backtest that fails leaves the output
folder as the last finished one wrote it.

How the replay and the algos meet: market data is applied in C in chunks. Between the
algos' events (a slice timer, an acknowledgement arriving, a parent starting) the chunk runs
to the next event, or to the first market change a working algo waits for (its
``market_watch``: the touch reaching a price; the chunk then ends after that message time).
While a working parent's algo does not say what it waits for, chunks end at least every
``snapshot_interval`` of market time (0: after every message time). The desk sees a book
snapshot after each chunk. Fills of resting child orders are found inside C at the message
that causes them (csrc/mdfeed.h), so their prices and times do not depend on the chunking.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

from algos.baselines import MarketAtStart
from algos.registry import load_strategy
from algos.risk import parse_risk
from engine.book_types import Side
from gateway.algo_orders import parse_parameter_text
from gateway.audit import AuditLog
from gateway.backtest_client import BacktestClient, PlannedParent
from gateway.backtest_config import BacktestConfig, parse_backtest
from gateway.backtest_link import ChildLink, MemoryWire, Scheduler
from gateway.backtest_output import StagedOutput
from gateway.backtest_records import MarketTape, ParentRecord, RunRecord
from gateway.client_order import ClientOrder
from gateway.clock import VirtualClock
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.latency import LatencyModel
from gateway.md_feed import MdBatch, MdLogError
from gateway.output_files import why_unwritable
from gateway.risk_gates import client_comp_ids
from gateway.routers import DESK_OWNER, parent_of
from gateway.session_runner import SessionRunner
from gateway.transport import Engine
from gateway.venue_app import VenueApplication, venue_config
from gateway.venue_config import VenueConfig
from gateway.venue_feed import FeedReplay

__all__ = ["Backtest", "BacktestInputError", "BacktestResult"]

NAIVE_CODE = "1003"  # TargetStrategy of the naive baseline (FIX44.xml: MARKET_AT_START)
TWAP_CODE = "1001"
KEEP_DECODED_BYTES = 512 << 20  # logs up to this size are decoded once for every pass
GRACE = timedelta(seconds=60)  # after the last parent's end, for its last reports
STUCK_STEPS = 100_000  # steps at one virtual time that can only mean a loop
_MICROSECOND = timedelta(microseconds=1)
SHOWN_ERRORS = 20


class SkippedInput:
    """Bad market data passed over (``on_error: skip``): the decoder's ``on_error``. What
    was left out is counted in :attr:`count`, the first SHOWN_ERRORS kept in :attr:`first`;
    a problem whose message was applied all the same (:attr:`MdLogError.kept`: a gap in
    MsgSeqNum) in :attr:`noted_count` and :attr:`noted`. The first SHOWN_ERRORS of each are
    printed to ``warn`` (on a line of its own when a progress bar shares it), ``skipped``
    or not: a file of bad lines would otherwise bury the report in them."""

    def __init__(self, warn: TextIO, *, below_progress: bool = False) -> None:
        self.warn = warn
        self.lead = "\n" if below_progress else ""
        self.count = 0
        self.first: list[str] = []
        self.noted_count = 0
        self.noted: list[str] = []

    def __call__(self, error: MdLogError) -> None:
        if error.kept:
            self.noted_count += 1
            shown, word = self.noted, ""
        else:
            self.count += 1
            shown, word = self.first, "skipped "
        if len(shown) < SHOWN_ERRORS:
            shown.append(str(error))
            print(f"{self.lead}gateway backtest: {word}{error}", file=self.warn, flush=True)


class BacktestInputError(ValueError):
    """The market data cannot be replayed, or an order does not fit it: the message names
    the file, the line and what is wrong. ``skippable``: a bad market-data message, which
    ``on_error: skip`` would have passed over."""

    def __init__(self, message: str, *, skippable: bool = False) -> None:
        super().__init__(message)
        self.skippable = skippable


@dataclass
class PassStats:
    name: str
    messages: int = 0
    seconds: float = 0.0
    steps: int = 0

    @property
    def rate(self) -> float | None:
        """Market-data messages per second of the pass's work."""
        return self.messages / self.seconds if self.seconds else None

    def as_dict(self) -> dict[str, Any]:
        """What the report keeps of the pass: its counts, not its time, so that the same
        inputs give byte-identical reports (the time is printed on the console)."""
        return {"pass": self.name, "messages": self.messages, "steps": self.steps}


@dataclass
class BacktestResult:
    config: BacktestConfig
    tapes: dict[str, MarketTape]
    runs: dict[str, RunRecord]
    passes: list[PassStats]
    first: datetime
    last: datetime
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    noted: list[str] = field(default_factory=list)  # see SkippedInput
    noted_count: int = 0
    config_path: Path | None = None
    latency: dict[str, object] = field(default_factory=dict)
    #: the runs' folders not yet in the output folder (Backtest.run(publish=False)), else None
    staged: StagedOutput | None = None

    def info(self) -> dict[str, object]:
        """What the report says about the run itself (config, market, passes, input)."""
        return {
            "config": str(self.config_path) if self.config_path else None,
            "market": {"first": self.first.isoformat(), "last": self.last.isoformat(),
                       # the symbols the market data drove, not every one the venue lists
                       "symbols": sorted(s for s, tape in self.tapes.items() if tape.times)},
            "latency": self.latency,
            "snapshot_interval": (self.config.snapshot_interval
                                  if self.config.snapshot_interval is not None else "events"),
            "passes": [p.as_dict() for p in self.passes],
            "skipped_input": {"count": self.skipped_count, "first": self.skipped},
            "noted_input": {"count": self.noted_count, "first": self.noted},
        }


class Progress:
    """A one-line progress bar on ``out`` (a terminal), redrawn at most 10 times a second."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self._drawn = 0.0

    def due(self) -> bool:
        """Whether a redraw is due (callers skip formatting the note otherwise)."""
        return self.out is not None and time.monotonic() - self._drawn >= 0.1

    def show(self, label: str, done: float, note: str = "", final: bool = False) -> None:
        if self.out is None or not (final or self.due()):
            return
        self._drawn = time.monotonic()
        done = min(1.0, max(0.0, done))
        bar = "#" * int(done * 30)
        end = "\n" if final else ""
        self.out.write(f"\r{label:<8} [{bar:<30}] {done * 100:5.1f}% {note:<28}{end}")
        self.out.flush()


class Backtest:
    """One backtest of a config file. ``progress``: where the progress bar goes (None:
    nowhere); ``warn``: where skipped input is reported."""

    def __init__(self, path: Path, *, progress: TextIO | None = None,
                 warn: TextIO = sys.stderr, on_error: str | None = None,
                 output: Path | None = None) -> None:
        self.path = path
        self.gw: GatewayConfig = load_config(path)
        other = next((i for i, s in enumerate(self.gw.sessions) if s.application != "venue"),
                     None)
        if other is not None:  # named where it is set (FILE:LINE: key), as a live run would
            raise ConfigError(f"{self.gw.where_application(other)}: a backtest replays a venue "
                              f"config (application: venue), not "
                              f"{self.gw.sessions[other].application}")
        self.venue: VenueConfig = venue_config(self.gw)
        if self.venue.market_data is None:
            raise ConfigError(f"{path}: a backtest needs market data: venue: market_data: "
                              "log: FILE (or a list of files)")
        self.bt = parse_backtest(self.gw, self.venue.symbols)
        if "risk" in self.gw.extra:  # read again by each run's venue; checked before any replay
            parse_risk(self.gw.extra["risk"], client_comp_ids(self.gw))
        self.bt = dataclasses.replace(self.bt, on_error=on_error or self.bt.on_error,
                                      output=output or self.bt.output)
        try:  # before the replay, not after it: a report with nowhere to go is found now
            self.bt.output.mkdir(parents=True, exist_ok=True)
            probe = self.bt.output / ".write-test"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise BacktestInputError(f"{path}: the output folder {self.bt.output} cannot be "
                                     f"written: {why_unwritable(self.bt.output, exc)}"
                                     ) from None
        self.progress = Progress(progress)
        self.warn = warn
        self._skipped = SkippedInput(warn, below_progress=progress is not None)
        self._decoded: dict[Path, list[MdBatch]] | None = None

    # -- the whole backtest -----------------------------------------------------------------

    def run(self, *, publish: bool = True) -> BacktestResult:
        """The market pass, then each run's pass, into a staging folder inside the output
        folder (gateway/backtest_output.py). ``publish``: move the runs' folders into the
        output folder at the end, removing those of passes this backtest does not make;
        False leaves them in ``result.staged`` for the caller to add the report and publish
        it all at once (``gateway backtest`` does). Whatever stops it before that leaves
        the output folder as it was."""
        staged = StagedOutput(self.bt.output)
        try:  # bad market data stops the market pass: the folder's note is wanted then too
            tapes, first, last, market = self.market_pass()
            runs: dict[str, RunRecord] = {}
            passes = [market]
            for name in ("algo", *self.bt.baselines):
                record, stats = self.run_pass(name, first, staged.path(name))
                runs[name] = record
                passes.append(stats)
        except BaseException as exc:
            staged.discard(exc)
            raise
        skipped = self._skipped
        result = BacktestResult(self.bt, tapes, runs, passes, first, last,
                                list(skipped.first), skipped.count, list(skipped.noted),
                                skipped.noted_count, self.path,
                                LatencyModel(self.bt.latency).describe(), staged=staged)
        if publish:
            staged.publish()
            result.staged = None
        return result

    # -- pass 1: the market alone --------------------------------------------------------------

    def market_pass(self) -> tuple[dict[str, MarketTape], datetime, datetime, PassStats]:
        """Replay the logs alone: check them, and record the tape of every symbol."""
        assert self.venue.market_data is not None
        # market time: a live replay's speed does not apply
        md = dataclasses.replace(self.venue.market_data, speed=1.0)
        # The runs replay what this pass decoded, from memory, unless the logs are too big
        # to hold (then each run reads them again).
        keep = sum(path.stat().st_size for path in md.logs) <= KEEP_DECODED_BYTES
        feed = FeedReplay(md, self.venue.symbols, record_tops=True, keep_decoded=keep,
                          on_error=self._skipped if self.bt.on_error == "skip" else None)
        first = feed.first_time()
        if first is None:
            self._stop(feed)
            logs = ", ".join(str(path) for path in md.logs)
            raise BacktestInputError(f"{self.path}: the market data ({logs}) has no messages")
        feed.anchor(first)
        tapes = {s: MarketTape(s, self.venue.symbols[s].tick_size) for s in feed.books}
        stats = PassStats("market")
        ends = [o.window(first)[1] for o in self.bt.orders]
        horizon = max(ends) + GRACE
        started = time.perf_counter()
        t = first
        step = timedelta(seconds=60)
        while not feed.done:
            # a minute of market time a step (for the progress bar), gaps jumped over
            t = max(t + step, feed.next_deadline() or t)
            for change in feed.due(t):
                tape = tapes.get(change.symbol)
                if tape is not None:
                    tape.trade_times.extend(change.trade_times)
                    tape.trade_prices.extend(change.trade_prices)
                    tape.trade_sizes.extend(change.trade_sizes)
            stats.steps += 1
            span = (horizon - first).total_seconds()
            self.progress.show("market", (t - first).total_seconds() / span if span else 1,
                               f"{t:%H:%M:%S} {feed.applied:,} msgs")
        self._stop(feed)
        stats.seconds = time.perf_counter() - started
        stats.messages = feed.applied
        for symbol, rows in feed.tops.items():
            tape = tapes[symbol]
            tape.times.extend(rows[0::5])
            tape.bids.extend(rows[1::5])
            tape.asks.extend(rows[3::5])
        last = feed.time_of(feed.last_ns) if feed.last_ns else first
        for order in self.bt.orders:
            if order.symbol not in tapes or not tapes[order.symbol].times:
                raise BacktestInputError(f"{order.where}: no market data for {order.symbol}")
            start, end = order.window(first)
            if start > last:
                at, data_end = clock_times(start, last)
                raise BacktestInputError(f"{order.where}: the order starts at {at}, "
                                         f"after the market data ends ({data_end})")
            if end <= first:
                at, data_start = clock_times(end, first)
                raise BacktestInputError(f"{order.where}: the order ends at {at}, "
                                         f"before the market data starts ({data_start})")
            first_book = feed.time_of(tapes[order.symbol].times[0])
            if start < first_book:  # allowed, but no market is known before: say so
                at, book_start = clock_times(start, first_book)
                what = ("the market data" if first_book == first
                        else f"{order.symbol}'s first book in the market data")
                print(f"gateway backtest: {order.where}: the order starts at {at}, before "
                      f"{what} ({book_start}); its arrival mid is the first book's",
                      file=self.warn, flush=True)
            if end > last:  # allowed, but the book stands still past the data: say so
                at, data_end = clock_times(end, last)
                print(f"gateway backtest: {order.where}: the order's window runs to {at}, "
                      f"past the end of the market data ({data_end}); after that its children "
                      "trade against the last book, which no longer moves, and its end mid "
                      "and markouts use the last quote", file=self.warn, flush=True)
        self.progress.show("market", 1, f"{last:%H:%M:%S} {feed.applied:,} msgs", final=True)
        self._decoded = feed.decoded if keep else None
        return tapes, first, last, stats

    def _stop(self, feed: FeedReplay) -> None:
        if feed.errors:
            raise BacktestInputError(feed.errors[0], skippable=True)

    # -- the runs -----------------------------------------------------------------------------

    def run_pass(self, name: str, first: datetime,
                 out: Path | None = None) -> tuple[RunRecord, PassStats]:
        """One replay with the parents worked by ``name`` (``algo`` or a baseline), its logs
        written to ``out`` (:meth:`run` gives a staging folder; by default OUTPUT/NAME,
        replaced at once)."""
        if out is None:
            out = self.bt.output / name
            shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        clock = VirtualClock(first)
        scheduler = Scheduler()
        # the market pass reported every bad line already
        app = VenueApplication(self.gw, feed_errors=_ignore if self.bt.on_error == "skip"
                               else None, market_clock=True, decoded=self._decoded)
        audit = AuditLog(out / "audit.jsonl", flush_every=4096)
        # the run's logs are read after it: buffered, flushed when the run closes them
        engine = Engine(self.gw, app, clock=clock, run_dir=out / "venue", audit=audit,
                        flush_logs=False)
        app.bind(engine)
        feed = app.feed
        assert feed is not None
        feed.anchor(first)
        desk = app.desk
        strategy = "configured"
        if name == "naive":
            desk.strategies[NAIVE_CODE] = MarketAtStart
            desk.strategy_names[NAIVE_CODE] = strategy = "naive"
        elif name == "twap":
            desk.strategies[TWAP_CODE] = load_strategy("twap")
            desk.strategy_names[TWAP_CODE] = strategy = "twap"  # the registry name
        record = RunRecord(run=name, strategy=strategy)

        def client_id(child_id: str) -> str:
            parent = desk.parents.get(parent_of(child_id))
            return parent.order.cl_ord_id if parent is not None else parent_of(child_id)

        link = ChildLink(desk.router, desk.on_child_report, scheduler,
                         LatencyModel(self.bt.latency), record, lambda: desk.now, desk.touch,
                         app.settle, client_id)
        desk.router = link
        desk.snapshot = link.snapshot_view(desk.snapshot, desk.book_changed)
        app.sinks[DESK_OWNER] = link.report

        planned = self._planned(name, first)
        client = BacktestClient(planned)
        client_cfg = load_config(self._client_yaml(out, planned))
        client_engine = Engine(client_cfg, client, clock=clock, run_dir=out / "client",
                               flush_logs=False)
        runners: list[SessionRunner] = []
        for session in sorted({p.session for p in planned}):
            acceptor = engine.runner(session)
            initiator = next(r for r in client_engine.runners.values()
                             if r.config.sender_comp_id == session)
            acceptor.open(MemoryWire(scheduler, clock, initiator.receive), f"backtest {session}")
            initiator.open(MemoryWire(scheduler, clock, acceptor.receive), "backtest venue")
            runners += [acceptor, initiator]
        # asked on every step: the sessions themselves, not through their runners
        sessions = [r.session for r in runners]

        stats = PassStats(name)
        started = time.perf_counter()
        applied0 = feed.applied
        horizon = max(p.record.end for p in planned) + GRACE
        interval = (timedelta(seconds=self.bt.snapshot_interval)
                    if self.bt.snapshot_interval is not None else None)
        span = (horizon - first).total_seconds() or 1.0
        same_time, last_now = 0, clock.now()
        while True:
            now = clock.now()
            if (client.all_done() and not len(scheduler)) or now >= horizon:
                break
            same_time = same_time + 1 if now == last_now else 0
            last_now = now
            if same_time > STUCK_STEPS:  # a component that keeps asking for a past time
                raise RuntimeError(f"backtest {name} run: no progress at {now.isoformat()} "
                                   f"after {STUCK_STEPS} steps")
            # the earliest of the scheduler's, desk's, client's and sessions' times (a step
            # per market chunk: no list, no generator)
            t_evt = scheduler.next_time()
            for t in (desk.next_deadline(), client.next_deadline()):
                if t is not None and (t_evt is None or t < t_evt):
                    t_evt = t
            for s in sessions:
                t = s.next_deadline()
                if t is not None and (t_evt is None or t < t_evt):
                    t_evt = t
            t_feed = feed.next_deadline()  # None once the logs are done
            stats.steps += 1
            if t_feed is not None and (t_evt is None or t_feed < t_evt):
                # up to the event, not at it: an event goes before the market data due at
                # its own time, whatever ended the chunk before it
                upto = t_evt - _MICROSECOND if t_evt is not None else horizon
                # what the working algos wait for in the market; None: some algo may act on
                # any snapshot, and sees one every interval (if set)
                watches = desk.market_watches()
                if watches is None and interval is not None:
                    cap = t_feed + interval
                    if cap < upto:  # min(), without the call
                        upto = cap
                changes = feed.due(upto, app.venue.resting_ids(), stop_at_fill=True,
                                   watch={symbol: feed.watch(w) for symbol, w in watches.items()}
                                   if watches else None)
                # a fill or a watched change ends the chunk: the algo hears of it at its time
                clock.advance_to(feed.time_of(feed.stop_ns) if feed.stopped else upto)
                app.on_market(changes, clock.now())
            else:
                if t_evt is None:
                    break
                clock.advance_to(t_evt)
                now = clock.now()
                scheduler.run_due(now)
                for r in runners:
                    deadline = r.next_deadline()
                    if deadline is not None and deadline <= now:
                        r.on_timer()
                deadline = client.next_deadline()
                if deadline is not None and deadline <= now:
                    client.on_timer(now)
                deadline = app.next_deadline()  # the live engine's rule for its timer
                if deadline is not None and deadline <= now:
                    app.on_timer(now)
            if self.progress.due():
                self.progress.show(name, (clock.now() - first).total_seconds() / span,
                                   f"{clock.now():%H:%M:%S} {len(record.fills)} fills")
        stats.seconds = time.perf_counter() - started
        stats.messages = feed.applied - applied0
        self.progress.show(name, 1, f"{clock.now():%H:%M:%S} {len(record.fills)} fills",
                           final=True)
        for parent in desk.parents.values():  # (planned may audit a strategy error)
            rec = client.parents.get(parent.order.cl_ord_id) or client.parents.get(
                parent.order.orig_cl_ord_id or "")
            if rec is not None:
                rec.arrival_mid = parent.arrival_mid
                rec.strategy = parent.strategy
                rec.schedule = parent.runner.planned()
        audit.close()
        engine.close()
        client_engine.close()
        record.parents = [p.record for p in planned]
        for rec in record.parents:  # one the desk refused still holds its TargetStrategy code
            rec.strategy = desk.strategy_names.get(rec.strategy, rec.strategy)
        for problem in client.problems():
            print(f"gateway backtest: {name} run: {problem}", file=self.warn, flush=True)
        if name == "algo":  # what the desk ran for the configured codes
            record.strategy = ", ".join(sorted({p.strategy for p in record.parents}))
        return record, stats

    def _planned(self, name: str, first: datetime) -> list[PlannedParent]:
        out = []
        for n, o in enumerate(self.bt.orders, 1):
            start, end = o.window(first)
            code, params = o.strategy, o.params
            if name == "naive":
                code, params = NAIVE_CODE, ""
            elif name == "twap":
                slices = parse_parameter_text(o.params).get("Slices")
                code, params = TWAP_CODE, f"Slices={slices}" if slices else ""
            rec = ParentRecord(run=name, parent_id=f"P{n}", symbol=o.symbol,
                               side=Side.BUY if o.side == "buy" else Side.SELL, qty=o.qty,
                               start=start, end=end, strategy=code, limit=o.limit)
            order = ClientOrder(symbol=o.symbol, side=o.side, qty=o.qty, strategy=code,
                                params=params, limit=o.limit,
                                participation=o.participation if name == "algo" else None)
            out.append(PlannedParent(o.session, rec, order))
        return out

    def _client_yaml(self, out: Path, planned: Iterable[PlannedParent]) -> Path:
        sessions = []
        for name in sorted({p.session for p in planned}):
            acc = next(s for s in self.gw.sessions if s.target_comp_id == name)
            sessions.append({
                "role": "initiator", "sender_comp_id": name,
                "target_comp_id": acc.sender_comp_id, "begin_string": acc.begin_string,
                "host": "127.0.0.1", "port": 1, "heartbeat_interval": 300,
                "reset_on_logon": True, "application": "client-of-backtest",
                "store": {"kind": "memory"},
                # a harness: the venue's acceptor validates what the client sends; the
                # client need not check the venue's reports against the dictionary
                "validation": {"enabled": False},
                # FIXT: the application version the venue's session takes (its Logon says)
                **({"default_appl_ver_id": acc.default_appl_ver_id,
                    "app_dictionary": acc.app_dictionary}
                   if acc.begin_string == "FIXT.1.1" else {})})
        path = out / "client.yaml"
        path.write_text(yaml.safe_dump({"sessions": sessions}, sort_keys=False))
        return path


def clock_times(a: datetime, b: datetime) -> tuple[str, str]:
    """``a`` and ``b`` as times of day, in whole seconds unless that shows them equal, then
    with milliseconds, or microseconds if those are equal too (``13:30:00.000`` before
    ``13:30:00.017``): a warning that one time is before another must show the difference.
    On different dates, with them (a window past the data's day: ``13:35:00`` was shown as
    past ``13:40:47``)."""
    if a.date() != b.date():
        return f"{a:%Y-%m-%d %H:%M:%S}", f"{b:%Y-%m-%d %H:%M:%S}"
    x, y = f"{a:%H:%M:%S.%f}", f"{b:%H:%M:%S.%f}"
    for width in (8, 12):  # HH:MM:SS, HH:MM:SS.mmm
        if x[:width] != y[:width]:
            return x[:width], y[:width]
    return x, y


def _ignore(_error: MdLogError) -> None:
    pass
