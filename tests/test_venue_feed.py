"""A venue driven by the bundled market-data log: the replay keeps time, clients trade with
the replayed liquidity, and ``gateway demo`` works a TWAP parent to the end."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from algos.strategy import MarketWatch
from engine.book_types import Side
from fixspec.dictionary import load_builtin
from gateway.codec import decode_bytes
from gateway.config import load_config
from gateway.fixmessage import Message
from gateway.market_data import MarketDataPublisher
from gateway.md_feed import WATCH_HIGH, WATCH_LOW, MarketDataFeed, MdLogReader
from gateway.metrics import GatewayMetrics
from gateway.venue import NewOrder, Venue
from gateway.venue_app import VenueApplication
from gateway.venue_config import MarketDataFeedConfig, SymbolSpec, VenueConfig
from gateway.venue_feed import FeedChange, FeedReplay
from gateway.venue_orders import ExecReport, Report
from tests.engine_apps import RecordingHandle
from tests.fixpeer import frame
from tests.test_md_feed import line, log_time, message

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "engine" / "samples" / "AMZN-2012-06-21.md.log"
BOOK = ROOT / "engine" / "samples" / "AMZN_2012-06-21_orderbook_5_head3000.csv"
T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SPEC = SymbolSpec("AMZN", tick_size=Decimal("0.0001"))



def fix44(text: str) -> Message:
    """A FIX 4.4 application message from ``|``-separated fields."""
    return decode_bytes(frame("FIX.4.4", text), load_builtin("FIX.4.4"))


def applied(venue: Venue, change: FeedChange, at: datetime) -> list[Report]:
    """What the venue reports of a feed change (as VenueApplication.on_market hands it)."""
    return [*venue.feed_applied(change.symbol, change.trade_prices, change.trade_sizes, at,
                                change.fills), *venue.uncross(change.symbol, at)]

def replay(speed: float = 1.0) -> tuple[FeedReplay, Venue]:
    feed = FeedReplay(MarketDataFeedConfig((LOG,), speed), {"AMZN": SPEC})
    return feed, Venue(VenueConfig({"AMZN": SPEC}), books=feed.books, id_prefix="t-")


def abc_replay(log: Path) -> tuple[FeedReplay, Venue]:
    """A venue trading ABC (cent ticks) on the replay of ``log``, at speed 1."""
    spec = SymbolSpec("ABC", tick_size=Decimal("0.01"))
    feed = FeedReplay(MarketDataFeedConfig((log,), 1.0), {"ABC": spec})
    return feed, Venue(VenueConfig({"ABC": spec}), books=feed.books, id_prefix="t-")


def run_to(feed: FeedReplay, venue: Venue, t: datetime) -> list[ExecReport]:
    out = []
    for change in feed.due(t, venue.resting_ids()):
        out += [r for r in applied(venue, change, t)
                if isinstance(r, ExecReport)]
    return out


def test_replay_keeps_the_log_time_scaled_by_speed() -> None:
    feed, venue = replay(speed=10)
    run_to(feed, venue, T0)  # the first message is applied at once
    first = feed.applied
    assert first >= 1
    # the sample spans about 647 s of market time: 64.7 s at 10x
    run_to(feed, venue, T0 + timedelta(seconds=30))
    middle = feed.applied
    assert first < middle < 3001
    run_to(feed, venue, T0 + timedelta(seconds=70))
    assert feed.done and not feed.errors and feed.applied == 3001  # W + 3000 X


def test_book_after_the_replay_is_the_lobster_book() -> None:
    feed, venue = replay()
    run_to(feed, venue, T0)
    run_to(feed, venue, T0 + timedelta(hours=1))
    last = [int(x) for x in BOOK.read_text().split()[-1].split(",")]
    book = venue.books["AMZN"]
    asks = [(lv.price, lv.qty) for lv in book.depth(Side.SELL, 5)]
    bids = [(lv.price, lv.qty) for lv in book.depth(Side.BUY, 5)]
    assert asks == [(last[i], last[i + 1]) for i in range(0, 20, 4)]
    assert bids == [(last[i + 2], last[i + 3]) for i in range(0, 20, 4)]


def test_clients_trade_with_replayed_liquidity_and_feed_crossing() -> None:
    feed, venue = replay()
    run_to(feed, venue, T0)
    bbo = venue.books["AMZN"].bbo()
    ask = SPEC.to_price(bbo.ask_price)
    out = venue.new_order(NewOrder("C1", "b", "AMZN", Side.BUY, "2", 10, ask), T0)
    fills = [r for r in out if isinstance(r, ExecReport) and r.exec_type == "F"]
    assert fills and fills[0].last_px == ask
    # a sell resting above the bid fills once the replayed bids rise to it (the sample's
    # bid goes from 223.18 to 223.75): the feed's crossing buy trades with it
    price = SPEC.to_price(bbo.bid_price) + Decimal("0.52")
    venue.new_order(NewOrder("C1", "r", "AMZN", Side.SELL, "2", 5, price), T0)
    assert venue.order("C1", "r").cum == 0  # type: ignore[union-attr]
    reports = run_to(feed, venue, T0 + timedelta(hours=1))
    assert [r.exec_type for r in reports if r.cl_ord_id == "r"][-1] == "F"
    order = venue.order("C1", "r")
    assert order is not None and order.cum == 5 and order.avg_px >= price


def test_order_by_order_market_data_follows_the_client_orders_the_feed_fills() -> None:
    """The replay fills resting client orders in C (its executions at their level) and by
    crossing them; order-by-order market data shows each client order at its size until it
    is gone, so an increment-built book matches a snapshot (a filled order had stayed
    shown for ever)."""
    feed, venue = replay(speed=20)
    publisher = MarketDataPublisher(venue, lambda session, message: None)
    run_to(feed, venue, T0)
    bbo = venue.books["AMZN"].bbo()
    # at and near both touches, and where the sample's rising bids reach later
    rests = [(Side.BUY, bbo.bid_price), (Side.BUY, bbo.bid_price - 100),
             (Side.SELL, bbo.ask_price), (Side.SELL, bbo.bid_price + 5200),
             (Side.SELL, bbo.ask_price + 100)]
    for k, (side, ticks) in enumerate(rests):
        venue.new_order(NewOrder("C1", f"o{k}", "AMZN", side, "2", 50, SPEC.to_price(ticks)),
                        T0)
    placed = {str(o.book_id) for o in venue.open_orders("C1")}
    now = T0
    while not feed.done:
        now += timedelta(seconds=1)
        run_to(feed, venue, now)
        shown = {k: e.qty for k, e in publisher.views["AMZN"].entries.items() if k in placed}
        assert shown == {str(o.book_id): o.leaves for o in venue.open_orders("C1")}, now
    filled = [venue.order("C1", f"o{k}") for k in range(5)]
    assert sum(1 for o in filled if o is not None and o.cum) >= 2  # the paths were taken


def test_gateway_demo_works_a_twap_to_the_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", "--qty", "600", "--window", "4",
         "--slices", "4", "--speed", "60", "--run-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    row = next(line for line in lines if "buy AMZN" in line)
    assert "600/600" in row and "filled" in row
    assert "slippage bps" in proc.stdout and "audit log:" in proc.stdout
    audit = next(tmp_path.glob("*/audit.jsonl"))
    assert '"kind":"algo"' in audit.read_text()
    assert not proc.stderr.strip(), proc.stderr


def message_line(body: str, time: str, seq: int) -> bytes:
    return time.encode() + b" : " + message(body, "X", time, seq) + b"\n"


def test_several_logs_merge_in_time_up_to_a_fill(tmp_path: Path) -> None:
    """Two logs, one symbol each: a fill in the second stops the replay at its message, and
    the first log has then been applied only up to that time."""
    abc = tmp_path / "abc.log"
    abc.write_bytes(line("55=ABC|268=1|269=0|278=1|270=10|271=50", "W", time=log_time(0))
                    + b"".join(message_line(f"268=1|279=0|269=0|278={10 + s}|55=ABC|270=9.9"
                                            "|271=1", log_time(s), s + 1) for s in range(1, 9)))
    xyz = tmp_path / "xyz.log"
    xyz.write_bytes(line("55=XYZ|268=1|269=1|278=1|270=20|271=50", "W", time=log_time(0)) +
                    message_line("268=1|279=0|269=2|55=XYZ|270=20|271=5", log_time(2), 2))
    specs = {s: SymbolSpec(s, tick_size=Decimal("0.01")) for s in ("ABC", "XYZ")}
    feed = FeedReplay(MarketDataFeedConfig((abc, xyz)), specs)
    start = datetime(2012, 6, 21, 13, 30, tzinfo=UTC)
    feed.anchor(start)
    feed.due(start)
    client = 1 << 62
    feed.books["XYZ"].limit(client, Side.SELL, 2000, 10)  # at the print's price, alone
    changes = feed.due(start + timedelta(seconds=10), {"XYZ": [client]}, stop_at_fill=True)
    assert feed.stopped and feed.time_of(feed.stop_ns) == start + timedelta(seconds=2)
    assert [f.qty for c in changes for f, _ in c.fills] == [5]
    # ABC's messages of 13:30:01 and 13:30:02 are in, the later ones not yet
    assert feed.books["ABC"].depth(Side.BUY)[-1].qty == 2
    feed.due(start + timedelta(seconds=10))
    assert feed.books["ABC"].depth(Side.BUY)[-1].qty == 8


def test_a_deadline_admits_its_message_at_any_speed() -> None:
    for speed in (1.0, 3.0, 20.0, 0.5):
        feed = FeedReplay(MarketDataFeedConfig((LOG,), speed), {"AMZN": SPEC})
        feed.anchor(T0)
        for _ in range(200):
            deadline = feed.next_deadline()
            assert deadline is not None
            before = feed.applied
            feed.due(deadline)
            assert feed.applied > before, f"speed {speed}: nothing due at {deadline}"


def _crossing_log(tmp_path: Path) -> Path:
    """A 10.00 / 10.10 market; at +3 s a sell of 30 arrives at 10.05, where our buy rests;
    at +3.5 s the log executes it (a trade naming it, then its delete); at +4 s a bid."""
    t = ["20120621-13:30:00.000000001", "20120621-13:30:03.000000001",
         "20120621-13:30:03.500000001", "20120621-13:30:04.000000001"]
    lines = [
        line("55=ABC|268=2|269=0|278=1|270=10|271=100|269=1|278=2|270=10.1|271=100", "W",
             time=t[0], seq=1),
        line("268=1|279=0|269=1|278=9|55=ABC|270=10.05|271=30", time=t[1], seq=2),
        line("268=2|279=0|269=2|55=ABC|270=10.05|271=30|37=9|"
             "279=2|269=1|278=9|55=ABC|270=10.05|271=30", time=t[2], seq=3),
        line("268=1|279=0|269=0|278=5|55=ABC|270=10|271=10", time=t[3], seq=4),
    ]
    path = tmp_path / "cross.md.log"
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("step", [0.1, 1.0, 5.0])
def test_a_replayed_order_crossing_a_resting_client_trades_with_it_once(
        tmp_path: Path, step: float) -> None:
    """However the replay is chunked, the crossing sell trades with our resting buy at its
    own message's time, at our price, with us as the maker; the log's later execution of
    that sell is of liquidity we took, so it fills nothing again."""
    feed, venue = abc_replay(_crossing_log(tmp_path))
    feed.anchor(T0)
    feed.due(T0, venue.resting_ids(), stop_at_fill=True)
    venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", 100, Decimal("10.05")), T0)
    fills: list[tuple[datetime, ExecReport]] = []
    now = T0
    while not feed.done:
        now = min(now + timedelta(seconds=step), T0 + timedelta(seconds=10))
        while True:  # as a backtest does: a stop ends the chunk at the message's time
            changes = feed.due(now, venue.resting_ids(), stop_at_fill=True)
            at = feed.time_of(feed.stop_ns) if feed.stopped else now
            for change in changes:
                fills += [(at, r) for r in applied(venue, change, at)
                          if isinstance(r, ExecReport) and r.exec_type == "F"]
            if not feed.stopped:
                break
    assert [(at - T0, r.last_qty, r.last_px, r.aggressor) for at, r in fills] == [
        (timedelta(seconds=3), 30, Decimal("10.05"), False)]
    book = venue.books["ABC"]
    assert book.order(9) is None and venue.order("C1", "b").cum == 30  # type: ignore[union-attr]
    assert [(lv.price, lv.qty) for lv in book.depth(Side.BUY)] == [(1005, 70), (1000, 110)]


def test_order_by_order_market_data_shows_a_crossed_client_order_at_what_is_left(
        tmp_path: Path) -> None:
    """A replayed sell crosses our resting buy of 100 and takes 30 (the venue trades it,
    _uncross): by-order market data shows the buy at 70, as the book holds it."""
    feed, venue = abc_replay(_crossing_log(tmp_path))
    publisher = MarketDataPublisher(venue, lambda session, message: None)
    feed.anchor(T0)
    feed.due(T0, venue.resting_ids())
    venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", 100, Decimal("10.05")), T0)
    order = venue.order("C1", "b")
    assert order is not None
    for k in range(1, 11):  # as a backtest steps: a stop ends the chunk at the message's time
        while True:
            changes = feed.due(T0 + timedelta(seconds=k), venue.resting_ids(), stop_at_fill=True)
            at = feed.time_of(feed.stop_ns) if feed.stopped else T0 + timedelta(seconds=k)
            for change in changes:
                applied(venue, change, at)
            if not feed.stopped:
                break
    assert order.cum == 30
    assert publisher.views["ABC"].entries[str(order.book_id)].qty == 70


def test_the_feed_takes_only_its_own_liquidity_from_a_client_level(tmp_path: Path) -> None:
    """A client buy rests at 9.98 before that level is in the feed's view. The level comes
    into view behind it; a delete of an order the log never added, a delete of the whole
    level (out of view again) and a new snapshot each take the feed's liquidity only: the
    client's order keeps its quantity, gets no report, and still rests, behind the new
    snapshot's 150 at its price (where it stood among them is unknown: the worst is
    assumed)."""
    t = [f"20120621-13:30:0{i}.000000001" for i in range(5)]
    lines = [
        line("55=ABC|268=2|269=0|270=10|271=100|269=1|270=10.1|271=100", "W", time=t[0], seq=1),
        line("268=1|279=0|269=0|55=ABC|270=9.98|271=400", time=t[1], seq=2),
        line("268=1|279=2|269=0|278=777|55=ABC|270=9.98|271=49", time=t[2], seq=3),
        line("268=1|279=2|269=0|55=ABC|270=9.98", time=t[3], seq=4),
        line("55=ABC|268=3|269=0|270=10|271=90|269=0|270=9.98|271=150|269=1|270=10.1|271=80",
             "W", time=t[4], seq=5),
    ]
    log = tmp_path / "view.md.log"
    log.write_bytes(b"".join(lines))
    feed, venue = abc_replay(log)
    run_to(feed, venue, T0)
    venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", 300, Decimal("9.98")), T0)
    book = venue.books["ABC"]
    depths = []
    for second in range(1, 5):
        assert run_to(feed, venue, T0 + timedelta(seconds=second)) == [], f"at +{second} s"
        depths.append([(lv.price, lv.qty) for lv in book.depth(Side.BUY)])
    assert feed.done and not feed.errors
    assert depths == [[(1000, 100), (998, 700)],  # the level in view: 400 behind ours
                      [(1000, 100), (998, 651)],  # 49 of the feed's 400 deleted
                      [(1000, 100), (998, 300)],  # the level deleted: ours is left
                      [(1000, 90), (998, 450)]]   # a new snapshot: ours is still there
    order = venue.order("C1", "b")
    assert order is not None and (order.status, order.leaves, order.cum) == ("0", 300, 0)
    assert book.queue_position(order.book_id) == (150, 1)


def test_replayed_liquidity_a_client_took_cannot_come_back_crossed(tmp_path: Path) -> None:
    """A client takes a replayed bid whole; the log, which cannot know, later shows its level
    coming back into view (the same 100, as level quantity) and then deletes the order (an
    entry for liquidity already gone: skipped). The level quantity is a ghost: when an offer
    arrives at or below it, the feed's bids there are stale and go, so the book is never left
    crossed by replayed liquidity (a crossed book is no book to an algo)."""
    t = [f"20120621-13:30:0{i}.000000001" for i in range(5)]
    lines = [
        line("55=ABC|268=2|269=0|278=5|270=10|271=100|269=1|278=6|270=10.1|271=100", "W",
             time=t[0], seq=1),
        line("268=1|279=2|269=0|55=ABC|270=10", time=t[1], seq=2),
        line("268=1|279=0|269=0|55=ABC|270=10|271=100", time=t[2], seq=3),
        line("268=1|279=2|269=0|278=5|55=ABC|270=10|271=100", time=t[3], seq=4),
        line("268=1|279=0|269=1|278=7|55=ABC|270=9.99|271=50", time=t[4], seq=5),
    ]
    log = tmp_path / "ghost.md.log"
    log.write_bytes(b"".join(lines))
    feed, venue = abc_replay(log)
    run_to(feed, venue, T0)
    out = venue.new_order(NewOrder("C1", "s", "ABC", Side.SELL, "2", 100, Decimal("10")), T0)
    assert [r.ord_status for r in out if isinstance(r, ExecReport)][-1] == "2"
    book = venue.books["ABC"]
    for second in range(1, 4):
        run_to(feed, venue, T0 + timedelta(seconds=second))
    assert [(lv.price, lv.qty) for lv in book.depth(Side.BUY)] == [(1000, 100)]  # the ghost
    assert run_to(feed, venue, T0 + timedelta(seconds=4)) == []
    assert feed.done and not feed.errors
    assert book.depth(Side.BUY) == []
    assert [(lv.price, lv.qty) for lv in book.depth(Side.SELL)] == [(999, 50), (1010, 100)]


_ORDER_7 = "279=0|269=2|55=ABC|270=10.05|271={}|37=7"


@pytest.mark.parametrize(("taken", "prints", "shown"), [
    (100, [100], [(990, 40)]),  # taken whole: its print is gone
    (60, [100], [(1005, 40), (990, 40)]),  # taken in part: the rest is printed
    (60, [30, 70], [(1005, 40), (990, 40)]),  # however the log splits its prints
], ids=["whole", "part", "part_split"])
def test_the_log_s_prints_of_a_replayed_order_a_client_took_show_only_what_was_left(
        tmp_path: Path, taken: int, prints: list[int], shown: list[tuple[int, int]]) -> None:
    """A client buys ``taken`` of replayed offer 7 (100), printed then as the client's
    trade; the log later reports order 7's own execution (trades naming it, then its
    delete). That print went out whole: 200 shares traded where the book held 100 (160 for
    60 taken), in the tape, the volume and the last price. Now the log's prints of 7 show
    only what clients left; a print naming another order (5) comes through."""
    t = [f"20120621-13:30:0{i}.000000001" for i in range(3)]
    entries = [*(_ORDER_7.format(qty) for qty in prints),
               "279=2|269=1|278=7|55=ABC|270=10.05|271=100",
               "279=0|269=2|55=ABC|270=9.9|271=40|37=5"]
    log = tmp_path / "took.md.log"
    log.write_bytes(b"".join([
        line("55=ABC|268=2|269=0|278=5|270=9.9|271=100|269=1|278=7|270=10.05|271=100", "W",
             time=t[0], seq=1),
        line(f"268={len(entries)}|" + "|".join(entries), time=t[1], seq=2)]))
    feed, venue = abc_replay(log)
    run_to(feed, venue, T0)
    out = venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", taken, Decimal("10.05")),
                          T0)
    assert [r.ord_status for r in out if isinstance(r, ExecReport)][-1] == "2"
    changes = feed.due(T0 + timedelta(seconds=2), venue.resting_ids())
    assert [(c.symbol, list(zip(c.trade_prices, c.trade_sizes, strict=True)))
            for c in changes] == [("ABC", shown)]


def test_the_tape_and_the_band_see_the_log_s_prints_before_the_trades_they_lead_to(
        tmp_path: Path) -> None:
    """One log message prints 10.05, then adds an ask at 10.01 that crosses a client's buy
    resting at 10.02, which trades at once. Subscribers got the 10.02 trade first and the
    10.05 print in a later refresh, so their last trade disagreed with the venue's (the
    price band's reference). Now the tape is in the order things happened. Both that trade
    and the print's fill of a client sell ahead of it count in trades_executed_total (the
    feed's fills, made in C without book events, were not counted)."""
    t = ["20120621-13:30:00.000000001", "20120621-13:30:03.000000001"]
    log = tmp_path / "print.md.log"
    log.write_bytes(b"".join([
        line("55=AAPL|268=2|269=0|278=1|270=9.9|271=100|269=1|278=2|270=10.05|271=100", "W",
             time=t[0], seq=1),
        line("268=3|279=0|269=2|55=AAPL|270=10.05|271=100|37=2|"
             "279=2|269=1|278=2|55=AAPL|270=10.05|271=100|"
             "279=0|269=1|278=7|55=AAPL|270=10.01|271=100", time=t[1], seq=2)]))
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["venue"]["market_data"] = {"log": str(log), "speed": 1}
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    gw = load_config(path)
    app = VenueApplication(gw)
    app.metrics = GatewayMetrics()
    c1, c2 = (RecordingHandle(next(s for s in gw.sessions if s.target_comp_id == comp_id))
              for comp_id in ("CLIENT1", "CLIENT2"))
    for h in (c1, c2):
        app.on_logon(h, T0)
    app.on_timer(T0)  # the snapshot
    app.on_message(c2, fix44("35=V|262=T|263=1|264=0|265=1|267=1|269=2|146=1|55=AAPL"),
                   T0)
    app.on_message(c2, fix44("35=V|262=L|263=1|264=0|265=1|267=2|269=0|269=1|146=1|"
                             "55=AAPL"), T0)
    app.on_message(c1, fix44("35=D|11=B|54=1|38=100|40=2|44=10.02|55=AAPL|59=0|"
                             "60=20261125-15:00:00"), T0)
    # ahead of the ask the log executes: filled by that print (in C, no book event)
    app.on_message(c2, fix44("35=D|11=S|54=2|38=30|40=2|44=10.04|55=AAPL|59=0|"
                             "60=20261125-15:00:00"), T0)
    app.on_timer(T0 + timedelta(seconds=3))
    assert [(m.body.get_str(32), m.body.get_str(31)) for m in c2.sent
            if m.msg_type == "8" and m.body.get_str(150) == "F"] == [("30", "10.04")]
    prints = [(e.get_str(270), e.get_str(271)) for m in c2.sent if m.msg_type == "X"
              and m.body.get_str(262) == "T"
              for group in [m.body.group(268)] if group is not None for e in group.entries]
    assert prints == [("10.05", "100"), ("10.02", "100")]
    # a level view rebuilt from the snapshot and each refresh is never crossed: the 10.01
    # ask showed beside the 10.02 bid it was about to trade with
    book: dict[tuple[str, str], int] = {}
    for m in c2.sent:
        if m.body.get_str(262) != "L":
            continue
        group = m.body.group(268)
        for e in group.entries if group is not None else []:
            key = (e.get_str(269) or "", e.get_str(270) or "")
            if m.msg_type == "W" or e.get_str(279) in ("0", "1"):
                book[key] = int(e.get_str(271) or 0)
            else:
                book.pop(key, None)
        bids = [Decimal(px) for side, px in book if side == "0"]
        asks = [Decimal(px) for side, px in book if side == "1"]
        assert not bids or not asks or max(bids) < min(asks), (m, book)
    spec = app.venue.specs["AAPL"]
    venue_levels = {("0" if side == Side.BUY else "1", str(spec.to_price(lv.price))): lv.qty
                    for side in (Side.BUY, Side.SELL)
                    for lv in app.venue.books["AAPL"].depth(side)}
    assert book == venue_levels  # and it ends where the venue's book is
    assert app.venue.last_trade["AAPL"] == Decimal("10.02")
    assert app.metrics.registry.get_sample_value("trades_executed_total",
                                                 {"symbol": "AAPL"}) == 2


@pytest.mark.parametrize("stop_at_fill", [False, True])
def test_a_replayed_order_moved_through_a_client_order_trades_it_with_a_report(
        tmp_path: Path, stop_at_fill: bool) -> None:
    """A Change moves the replayed offer from 10.10 down to 10.02, through our buy resting at
    10.03: the book re-rests the offer without matching (as it adds one), and the venue
    trades our buy with it as the maker, with a fill report. (The book's own matching of the
    re-entered offer had filled our buy silently, and the venue then failed on an order the
    book no longer held.)"""
    lines = [
        line("55=ABC|268=2|269=0|278=1|270=10|271=100|269=1|278=2|270=10.1|271=100", "W",
             time="20120621-13:30:00.000000001", seq=1),
        line("268=1|279=1|269=1|278=2|55=ABC|270=10.02|271=100",
             time="20120621-13:30:01.000000001", seq=2),
    ]
    log = tmp_path / "move.md.log"
    log.write_bytes(b"".join(lines))
    feed, venue = abc_replay(log)
    feed.anchor(T0)
    feed.due(T0, venue.resting_ids(), stop_at_fill=stop_at_fill)
    venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", 30, Decimal("10.03")), T0)
    now = T0 + timedelta(seconds=1)
    reports = []
    for change in feed.due(now, venue.resting_ids(), stop_at_fill=stop_at_fill):
        reports += [r for r in applied(venue, change, now) if isinstance(r, ExecReport)]
    assert [(r.exec_type, r.last_qty, r.last_px, r.aggressor) for r in reports] == [
        ("F", 30, Decimal("10.03"), False)]
    order = venue.order("C1", "b")
    assert order is not None and (order.status, order.cum) == ("2", 30)
    assert [(lv.price, lv.qty) for lv in venue.books["ABC"].depth(Side.SELL)] == [(1002, 70)]


def test_a_watch_stops_the_replay_after_the_time_that_leaves_it(tmp_path: Path) -> None:
    """A watch on the touch (csrc/mdfeed.h) ends a due() call after the first time due (a
    microsecond) whose messages leave the touch outside it: a bid that comes and goes within
    one microsecond stops nothing."""
    log = tmp_path / "abc.log"
    log.write_bytes(
        line("55=ABC|268=2|269=0|278=1|270=10|271=50|269=1|278=2|270=10.05|271=50", "W",
             time=log_time(0))
        + message_line("268=1|279=0|269=0|278=3|55=ABC|270=10.01|271=5", log_time(1), 2)
        + message_line("268=1|279=0|269=0|278=4|55=ABC|270=10.03|271=5", log_time(2, 100), 3)
        + message_line("268=1|279=2|269=0|278=4|55=ABC|270=10.03|271=5", log_time(2, 900), 4)
        + message_line("268=1|279=0|269=0|278=5|55=ABC|270=10.02|271=5", log_time(3), 5)
        + message_line("268=1|279=0|269=1|278=6|55=ABC|270=10.04|271=5", log_time(4), 6))
    feed, _venue = abc_replay(log)
    start = datetime(2012, 6, 21, 13, 30, tzinfo=UTC)
    feed.anchor(start)
    feed.due(start)
    watch = feed.watch(MarketWatch(bid_rises_to=Decimal("10.02")))
    assert watch == (WATCH_LOW, 1001, WATCH_LOW, WATCH_HIGH)  # the highest bid short of it
    assert feed.watch(MarketWatch(ask_falls_to=Decimal("10.045"))) == (
        WATCH_LOW, WATCH_HIGH, 1005, WATCH_HIGH)  # off the tick: the lowest ask above it
    feed.due(start + timedelta(seconds=10), watch={"ABC": watch})
    assert feed.stopped and feed.time_of(feed.stop_ns) == start + timedelta(seconds=3)
    assert feed.books["ABC"].depth(Side.BUY)[0].price == 1002
    assert feed.books["ABC"].depth(Side.SELL)[0].price == 1005  # the later ask not yet in
    # a stop for every time that leaves the book outside: the caller watches anew
    later = feed.watch(MarketWatch(bid_rises_to=Decimal("10.03")))
    feed.due(start + timedelta(seconds=10), watch={"ABC": later})
    assert not feed.stopped and feed.done


def test_a_log_of_several_watched_symbols_stops_after_each_time(tmp_path: Path) -> None:
    """C stops at one symbol: a batch holding two watched symbols is applied one time due at
    a time instead, so neither watch is passed over."""
    log = tmp_path / "two.log"
    log.write_bytes(
        line("55=ABC|268=1|269=0|278=1|270=10|271=50", "W", time=log_time(0), seq=1)
        + line("55=XYZ|268=1|269=1|278=2|270=20|271=50", "W", time=log_time(0), seq=2)
        + b"".join(message_line(f"268=1|279=0|269=0|278={10 + s}|55=ABC|270=9.9|271=1",
                                log_time(s), s + 2) for s in range(1, 4)))
    specs = {s: SymbolSpec(s, tick_size=Decimal("0.01")) for s in ("ABC", "XYZ")}
    feed = FeedReplay(MarketDataFeedConfig((log,)), specs)
    start = datetime(2012, 6, 21, 13, 30, tzinfo=UTC)
    feed.anchor(start)
    feed.due(start)
    both = {s: feed.watch(MarketWatch()) for s in specs}
    stops = []
    while not feed.done:
        feed.due(start + timedelta(seconds=10), watch=both)
        stops.append(feed.time_of(feed.stop_ns) if feed.stopped else None)
    assert stops == [start + timedelta(seconds=s) for s in (1, 2, 3)]
    with pytest.raises(ValueError, match="one symbol"):
        feed_of_both = MarketDataFeed()
        batches = list(MdLogReader(log))  # the second holds both symbols
        feed_of_both.apply(batches[0])
        feed_of_both.apply(batches[1], watch={s: (WATCH_LOW, WATCH_HIGH, WATCH_LOW, WATCH_HIGH)
                                             for s in specs})


def test_a_bad_line_ends_a_live_replay_there_and_the_book_stays(tmp_path: Path) -> None:
    """Live (unlike a backtest, which stops the run or passes over it): the first bad line
    ends the replay for good, with one line saying where; what came before it stays in the
    book and the log's later lines are not applied."""
    log = tmp_path / "abc.log"
    lines = [line("55=ABC|268=1|269=0|278=1|270=10|271=50", "W", time=log_time(0))]
    lines += [message_line(f"268=1|279=0|269=0|278={10 + s}|55=ABC|270=9.9|271=1",
                           log_time(s), s + 1) for s in range(1, 4)]
    lines.insert(3, b"20120621-13:30:02.500000000 : this is not a FIX message\n")
    log.write_bytes(b"".join(lines))
    feed, _ = abc_replay(log)
    start = datetime(2012, 6, 21, 13, 30, tzinfo=UTC)
    feed.anchor(start)
    feed.due(start + timedelta(seconds=10))
    [error] = feed.errors
    assert f"{log}:4" in error
    assert feed.books["ABC"].depth(Side.BUY)[-1].qty == 2  # 01's and 02's, not 03's
    assert feed.done


def test_each_log_that_stops_on_a_bad_line_is_told(tmp_path: Path) -> None:
    """Two logs each with a bad line, met in one step: the feed kept the first error only,
    so the second log stopped without a word."""
    logs = []
    for symbol, bad_at in (("ABC", 2), ("XYZ", 3)):
        log = tmp_path / f"{symbol.lower()}.log"
        lines = [line(f"55={symbol}|268=1|269=0|278=1|270=10|271=50", "W", time=log_time(0))]
        lines += [message_line(f"268=1|279=0|269=0|278={10 + s}|55={symbol}|270=9.9|271=1",
                               log_time(s), s + 1) for s in range(1, 4)]
        lines.insert(bad_at, b"20120621-13:30:01.500000000 : this is not a FIX message\n")
        log.write_bytes(b"".join(lines))
        logs.append(log)
    specs = {s: SymbolSpec(s, tick_size=Decimal("0.01")) for s in ("ABC", "XYZ")}
    feed = FeedReplay(MarketDataFeedConfig(tuple(logs)), specs)
    start = datetime(2012, 6, 21, 13, 30, tzinfo=UTC)
    feed.anchor(start)
    feed.due(start + timedelta(seconds=10))
    assert sorted(e.split(":")[0] for e in feed.errors) == [str(log) for log in logs]


@pytest.mark.parametrize("taken", [100, 60])
def test_a_print_of_level_liquidity_a_client_took_fills_no_other_client(
        tmp_path: Path, taken: int) -> None:
    """The snapshot shows the 10.05 offer by its level only (no MDEntryID: orders resting
    before the log starts, as ``gateway lobster to-fix`` writes them). Client C1 buys
    ``taken`` of it; C2 then offers 100 at 10.05, behind what is left. The log reports the
    execution of order 7, one of that level's orders (never added: the log cannot know a
    client took it), then the level's new size. That print is of liquidity C1 took first,
    as a print naming an order a client took is: it fills C2 only past what the level still
    held (nothing here: all of it when C1 took the level whole, and the 40 C1 left are ahead
    of C2), and the tape shows only what C1 left."""
    t = [f"20120621-13:30:0{i}.000000001" for i in range(3)]
    lines = [
        line("55=ABC|268=2|269=0|278=5|270=9.9|271=100|269=1|270=10.05|271=100", "W",
             time=t[0], seq=1),
        line("268=2|279=0|269=2|55=ABC|270=10.05|271=100|37=7"
             "|279=1|269=1|55=ABC|270=10.05|271=0", time=t[1], seq=2),
    ]
    log = tmp_path / "level.md.log"
    log.write_bytes(b"".join(lines))
    feed, venue = abc_replay(log)
    run_to(feed, venue, T0)
    out = venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", taken, Decimal("10.05")),
                          T0)
    assert [r.cum for r in out if isinstance(r, ExecReport)][-1] == taken
    venue.new_order(NewOrder("C2", "s", "ABC", Side.SELL, "2", 100, Decimal("10.05")), T0)
    changes = feed.due(T0 + timedelta(seconds=2), venue.resting_ids())
    fills = [r for c in changes for r in applied(venue, c, T0)
             if isinstance(r, ExecReport) and r.last_qty]
    left = 100 - taken
    assert fills == []
    assert [(c.symbol, list(zip(c.trade_prices, c.trade_sizes, strict=True)))
            for c in changes] == [("ABC", [(1005, left)] if left else [])]


@pytest.mark.parametrize(("taken", "again"), [
    (100, ["55=ABC|268=2|269=0|278=5|270=9.9|271=100|269=1|270=10.05|271=100"]),  # snapshot
    (100, ["268=1|279=0|269=1|55=ABC|270=10.05|271=100"]),  # back into view, by level
    (60, ["268=1|279=2|269=1|55=ABC|270=10.05",  # what C1 left leaves the view ...
          "268=1|279=0|269=1|55=ABC|270=10.05|271=100"]),  # ... and the level comes back
], ids=["whole_snapshot", "whole_level_entry", "part_out_and_back"])
def test_level_liquidity_the_log_shows_again_prints_again(
        tmp_path: Path, taken: int, again: list[str]) -> None:
    """C1 takes ``taken`` of the 10.05 level; the log then shows that level again (new
    liquidity for the book, as any ghost: README's fill model), and reports a pre-data
    order's execution of 40 there: that print is of the level as it now is, and the tape
    shows it whole (what C1 took is not cut from it again)."""
    t = [f"20120621-13:30:0{i}.000000001" for i in range(len(again) + 2)]
    log = tmp_path / "again.md.log"
    log.write_bytes(b"".join([
        line("55=ABC|268=2|269=0|278=5|270=9.9|271=100|269=1|270=10.05|271=100", "W",
             time=t[0], seq=1),
        *(line(body, "W" if body.startswith("55=") else "X", time=t[k + 1], seq=k + 2)
          for k, body in enumerate(again)),
        line("268=2|279=0|269=2|55=ABC|270=10.05|271=40|37=7"
             "|279=1|269=1|55=ABC|270=10.05|271=60", time=t[-1], seq=len(again) + 2)]))
    feed, venue = abc_replay(log)
    run_to(feed, venue, T0)
    out = venue.new_order(NewOrder("C1", "b", "ABC", Side.BUY, "2", taken, Decimal("10.05")),
                          T0)
    assert [r.cum for r in out if isinstance(r, ExecReport)][-1] == taken
    for second in range(1, len(again) + 1):
        run_to(feed, venue, T0 + timedelta(seconds=second))
    changes = feed.due(T0 + timedelta(seconds=len(again) + 1), venue.resting_ids())
    assert [(c.symbol, list(zip(c.trade_prices, c.trade_sizes, strict=True)))
            for c in changes] == [("ABC", [(1005, 40)])]
