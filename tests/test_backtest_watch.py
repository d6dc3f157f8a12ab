"""The algos' market watches in a backtest (``Strategy.market_watch``, csrc/mdfeed.h's watch).

A TWAP or VWAP says which market change it waits for; the backtest then runs the replay on
in C up to that change instead of showing the algo every book. That must change nothing the
algo does: these runs, with the algos seeing the book after every message time
(``snapshot_interval: 0``), must decide the same children at the same times and get the
same fills whether the watches are used or not.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from algos.slicing import SlicedStrategy
from algos.strategy import (
    Action,
    AlgoContext,
    ChildOrder,
    Execution,
    MarketSnapshot,
    MarketWatch,
    ParentOrder,
)
from gateway.backtest import Backtest
from gateway.backtest_records import RunRecord
from tests.test_backtest import CONFIG, config_with
from tests.test_md_feed import message

ORDERS: list[dict[str, Any]] = [
    {"session": "CLIENT1", "symbol": "AMZN", "side": "buy", "qty": 3000, "start": "13:30:10",
     "window": 240, "strategy": "1001", "params": "Slices=8;MaxChildQty=400"},
    {"session": "CLIENT2", "symbol": "AMZN", "side": "sell", "qty": 2500,
     "start": "13:31:00", "window": 200, "strategy": "1001", "params": "Slices=5",
     "limit": 223.5},
]


def _children(run: RunRecord) -> list[tuple[object, ...]]:
    return [(c.parent_id, c.decided, c.qty, c.price, c.tif, c.status, c.filled, c.reason)
            for c in run.children]


def _fills(run: RunRecord) -> list[tuple[object, ...]]:
    return [(f.time, f.qty, f.price, f.liquidity) for f in run.fills]


def _run(tmp_path: Path, **backtest: Any) -> tuple[RunRecord, int]:
    return _pass(config_with(tmp_path, orders=ORDERS, baselines=[], **backtest))


def _pass(config: Path) -> tuple[RunRecord, int]:
    bt = Backtest(config)
    first = bt.market_pass()[1]
    record, stats = bt.run_pass("algo", first)
    return record, stats.steps


def test_watching_the_market_decides_what_seeing_every_book_decides(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watched, watched_steps = _run(tmp_path / "watched", snapshot_interval=0)
    monkeypatch.setattr(SlicedStrategy, "market_watch", lambda self: None)
    every, every_steps = _run(tmp_path / "every", snapshot_interval=0)
    assert len(watched.children) > 20 and len(watched.fills) > 10  # a run with decisions
    assert any("reprice" in c.reason for c in watched.children) or any(
        c.status == "canceled" for c in watched.children)  # and repricing
    assert _children(watched) == _children(every)
    assert _fills(watched) == _fills(every)
    assert [p.filled for p in watched.parents] == [p.filled for p in every.parents]
    assert watched_steps * 2 < every_steps  # the replay ran on in C between decisions


def test_an_algo_without_a_watch_sees_the_book_every_interval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[datetime] = []
    original = SlicedStrategy.on_market_snapshot

    def spy(self: SlicedStrategy, snapshot: Any) -> Any:
        seen.append(snapshot.time)
        return original(self, snapshot)

    def seconds() -> int:  # market seconds in which the algos saw the book
        return len({t.replace(microsecond=0) for t in seen})

    monkeypatch.setattr(SlicedStrategy, "on_market_snapshot", spy)
    _run(tmp_path / "watched", snapshot_interval=1.0)
    watching = seconds()
    seen.clear()
    monkeypatch.setattr(SlicedStrategy, "market_watch", lambda self: None)
    _run(tmp_path / "every", snapshot_interval=1.0)
    # the sample's market changes in about 140 of the windows' seconds: without a watch the
    # algos see each of them; watching, only those of their own events and watched changes
    # (about 90 of some 150: a child self-trade prevention holds waits as any working
    # child does, where a refused one was tried again at every book, a quarter less only)
    assert seconds() > 120 and watching * 3 < seconds() * 2


# -- edges of a message time, on synthetic logs of ABC (cent ticks) ---------------------------

ABC_BOOK = "55=ABC|268=2|269=0|278=1|270=10.00|271=1000|269=1|278=2|270=10.10|271=1000"
BUY_ABC = {"session": "CLIENT1", "symbol": "ABC", "side": "buy", "qty": 1000,
           "start": "13:30:01", "window": 100, "strategy": "1001", "params": "Slices=1"}


class _Log:
    """A market-data log of X messages after a snapshot, times in seconds after 13:30:00."""

    def __init__(self, snapshot: str = ABC_BOOK) -> None:
        self.lines: list[bytes] = []
        self.add(snapshot, 0, msg_type="W")

    def add(self, body: str, seconds: float, ns: int = 0, msg_type: str = "X") -> None:
        whole = int(seconds)
        t = f"20120621-13:30:{whole:02d}.{round((seconds - whole) * 1e9) + ns:09d}"
        self.lines.append(t.encode() + b" : " + message(body, msg_type, t, len(self.lines) + 1)
                          + b"\n")

    def offers_far_away(self, seconds: range) -> None:
        """One message a second that changes nothing the algo prices from."""
        for k in seconds:
            self.add(f"268=1|279=0|269=1|278={100 + k}|55=ABC|270=10.{50 + k % 10}|271=1", k)

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(self.lines))
        return path


def _abc_config(tmp: Path, logs: list[Path], orders: list[dict[str, Any]],
                symbols: dict[str, dict[str, Any]] | None = None, **backtest: Any) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(CONFIG.read_text())
    data["venue"]["symbols"] = symbols or {"ABC": {"tick_size": 0.01, "band_pct": 50}}
    data["venue"]["market_data"]["log"] = [str(p) for p in logs]
    data["backtest"].update(orders=orders, baselines=[], snapshot_interval=0,
                            output=str(tmp / "out"), **backtest)
    path = tmp / "backtest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _same_with_and_without_watches(tmp: Path, monkeypatch: pytest.MonkeyPatch,
                                   *args: Any, **kwargs: Any) -> RunRecord:
    watched, _ = _pass(_abc_config(tmp / "watched", *args, **kwargs))
    with monkeypatch.context() as m:
        m.setattr(SlicedStrategy, "market_watch", lambda self: None)
        every, _ = _pass(_abc_config(tmp / "every", *args, **kwargs))
    assert _children(watched) == _children(every)
    assert _fills(watched) == _fills(every)
    return watched


def test_a_message_time_split_by_a_batch_or_another_log_is_applied_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bid above the child's comes and goes within one microsecond: the watch must judge
    the book at the end of that microsecond even where a batch (4,096 messages) or another
    log's message cuts it, as a replay stopping at every time sees only the book after it."""
    log = _Log()
    for k in range(4096 - 3):  # so the passing bid is the last message of the first batch
        side = "0" if k % 2 == 0 else "2"
        log.add(f"268=1|279={side}|269=1|278={1000 + k - k % 2}|55=ABC|270=10.50|271=1",
                12 + k * 0.001)
    log.add("268=1|279=0|269=0|278=50|55=ABC|270=10.05|271=10", 20, 100)
    log.add("268=1|279=2|269=0|278=50|55=ABC|270=10.05|271=10", 20, 500)
    log.offers_far_away(range(21, 59))
    run = _same_with_and_without_watches(tmp_path / "batch", monkeypatch,
                                         [log.write(tmp_path / "abc.log")], [BUY_ABC])
    assert len(run.children) == 2  # the child at 10.00, and the crossing one at half time

    abc, xyz = _Log(), _Log("55=XYZ|268=1|269=1|278=9|270=20|271=50")
    abc.add("268=1|279=0|269=0|278=50|55=ABC|270=10.05|271=10", 20, 100)
    xyz.add("268=1|279=0|269=1|278=10|55=XYZ|270=21|271=5", 20, 300)
    abc.add("268=1|279=2|269=0|278=50|55=ABC|270=10.05|271=10", 20, 500)
    abc.offers_far_away(range(21, 59))
    two = {s: {"tick_size": 0.01, "band_pct": 50} for s in ("ABC", "XYZ")}
    _same_with_and_without_watches(tmp_path / "logs", monkeypatch,
                                   [abc.write(tmp_path / "abc2.log"),
                                    xyz.write(tmp_path / "xyz.log")], [BUY_ABC], two)


def test_an_event_goes_before_the_market_data_of_its_own_microsecond(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child's cancel confirmation (an event) due in the microsecond of a bid change: the
    algo re-sends before the change, with or without a watch ending the chunk before."""
    log = _Log()
    log.add("268=1|279=0|269=0|278=3|55=ABC|270=10.02|271=100", 15)  # the child lags: reprice
    log.add("268=1|279=0|269=1|278=5|55=ABC|270=10.60|271=1", 15, 700_000)
    log.add("268=1|279=0|269=0|278=4|55=ABC|270=10.04|271=100", 15, 1_000_500)
    log.offers_far_away(range(16, 59))
    _same_with_and_without_watches(tmp_path, monkeypatch, [log.write(tmp_path / "abc.log")],
                                   [BUY_ABC], latency={"entry": 0.0005, "ack": 0.0005})


def test_a_rejected_child_is_sent_again_at_the_next_book(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner does not ask the strategy at once after a venue reject: its watch from
    before (nothing to wait for) no longer holds, and it tries again at the next book."""
    log = _Log()
    for k in range(1, 400):  # the market changes every 100 ms, away from the touch
        log.add(f"268=1|279={'0' if k % 2 else '2'}|269=1|278={1000 + k - (k + 1) % 2}"
                "|55=ABC|270=10.50|271=1", k * 0.1)
    order = {**BUY_ABC, "window": 30, "params": "Slices=1;MaxChildQty=600"}
    # a band of a millionth of a percent: every child's limit price is outside it
    run = _same_with_and_without_watches(
        tmp_path, monkeypatch, [log.write(tmp_path / "abc.log")], [order],
        {"ABC": {"tick_size": 0.01, "band_pct": 1e-6}})
    assert sum(c.status == "rejected" for c in run.children) >= 2


def test_two_parents_whose_children_would_cross_never_trade_with_each_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A buy and a sell parent on ABC: their children once traded with each other (a wash
    trade, one print and two reports, which also took the algos' volume below zero). Now
    each child that would cross the other parent's is held before the venue sees it
    (self-trade prevention), every fill is with the log's liquidity, and the volume each
    algo sees never falls."""
    seen: dict[str, list[int]] = {}
    track = SlicedStrategy._track_volume

    def spy(self: SlicedStrategy, snapshot: Any) -> None:
        seen.setdefault(self.parent.id, []).append(snapshot.volume)
        track(self, snapshot)

    monkeypatch.setattr(SlicedStrategy, "_track_volume", spy)
    log = _Log("55=ABC|268=2|269=0|278=1|270=10.00|271=1000|269=1|278=2|270=10.10|271=1")
    log.offers_far_away(range(1, 59))
    buy = {**BUY_ABC, "qty": 500, "window": 40}
    sell = {**BUY_ABC, "session": "CLIENT2", "side": "sell", "qty": 500}
    config = _abc_config(tmp_path, [log.write(tmp_path / "abc.log")], [buy, sell],
                         latency={"entry": 0.0005, "ack": 0.0005})
    run, _ = _pass(config)
    # the sell parent sold to the log's bid; the buy parent, whose children would have
    # bought from the sell parent's, bought nothing
    assert [(f.parent_id, f.qty, f.price, f.liquidity) for f in run.fills] == [
        ("P2", 500, Decimal("10.00"), "aggressive")]
    assert [(p.parent_id, p.filled) for p in run.parents] == [("P1", 0), ("P2", 500)]
    # the buy parent's client hears why it did nothing (not who the other parent was)
    assert run.parents[0].text == (
        "window ended with 500 unfilled: self-trade prevention held its last child back: it "
        "would have traded with another parent's child order")
    audit = (tmp_path / "out" / "algo" / "audit.jsonl").read_text()
    assert '"event":"child_held"' in audit
    assert '"why":"self-trade prevention: it would trade with' in audit
    for volumes in seen.values():
        assert volumes == sorted(volumes) and volumes[0] >= 0


class PostOnceAndWatch:
    """A user strategy (named in the config by dotted path): one child at the bid, and a
    watch on the bid rising past it. It records every book it is shown."""

    seen: ClassVar[list[tuple[datetime, Decimal | None]]] = []
    watching: ClassVar[bool] = True

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        self.parent, self.ctx = parent, ctx
        self.price: Decimal | None = None

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        self.seen.append((snapshot.time, snapshot.bid))
        if self.price is not None or snapshot.bid is None:
            return []
        self.price = snapshot.bid
        return [ChildOrder(self.parent.qty, snapshot.bid, reason="post once")]

    def on_execution(self, execution: Execution) -> list[Action]:
        return []

    def on_timer(self, now: datetime) -> list[Action]:
        return []

    def next_wakeup(self) -> datetime | None:
        return None

    def market_watch(self) -> MarketWatch | None:
        if not self.watching or self.price is None:
            return None
        return MarketWatch(bid_rises_to=self.price + self.parent.tick_size)


def test_a_user_strategys_watch_shows_it_the_book_when_its_move_comes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any strategy may say what it waits for: shown every book (snapshot_interval 0) or only
    at its watch, it sees the bid pass its child at the same time, after fewer books."""
    log = _Log()
    for k in range(1, 40):  # offers coming and going; the bid moves up once, at 13:30:20
        log.add(f"268=1|279=0|269=1|278={100 + k}|55=ABC|270=10.{50 + k % 10}|271=1", k)
        if k == 20:
            log.add("268=1|279=0|269=0|278=50|55=ABC|270=10.01|271=10", k, 500)
    path = log.write(tmp_path / "abc.log")
    order = {**BUY_ABC, "strategy": "1002", "window": 30}

    def passes(name: str) -> list[tuple[datetime, Decimal | None]]:
        PostOnceAndWatch.seen = []
        cfg = _abc_config(tmp_path / name, [path], [order])
        data = yaml.safe_load(cfg.read_text())
        data["algos"]["strategies"]["1002"] = f"{__name__}:PostOnceAndWatch"
        cfg.write_text(yaml.safe_dump(data, sort_keys=False))
        _pass(cfg)
        return PostOnceAndWatch.seen

    watched = passes("watched")
    monkeypatch.setattr(PostOnceAndWatch, "watching", False)
    every = passes("every")
    risen = Decimal("10.01")

    def first_risen(seen: list[tuple[datetime, Decimal | None]]) -> datetime:
        return next(t for t, bid in seen if bid == risen)

    at = first_risen(watched)
    assert at == first_risen(every)

    def before(seen: list[tuple[datetime, Decimal | None]]) -> int:
        return sum(t < at for t, _ in seen)

    # shown every offer coming and going before it, or only the books of its own events
    # (the first, where it posted, and its child's arrival in the book)
    assert before(every) >= 19 and before(watched) <= 2
