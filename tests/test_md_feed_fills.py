"""Client orders filled by the feed's trades, and top-of-book rows (gateway.md_feed, C md_apply).

Client orders rest in the feed's own books with ids from 2**62 (as the venue's do); FIX W/X
lines are written by hand with the helpers of tests/test_md_feed.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.book import Level, OrderBook, Side
from gateway.md_feed import (
    FeedBook,
    FeedFill,
    MarketDataFeed,
    MdBatch,
    MdDecoder,
    MdLogReader,
    MdUpdate,
    Top,
)
from tests.test_md_feed import T0, line, write
from tests.test_md_fix import BUNDLED_LOG

CLIENT = 1 << 62
T1 = 1340285400_000000001  # T0 in ns


class Step(NamedTuple):
    """One message of a log, to apply on its own."""

    batch: MdBatch
    i: int

    def apply(self, feed: MarketDataFeed, **kw: Any) -> MdUpdate:
        return feed.apply(self.batch, self.i, self.i + 1, **kw)


def steps(path: Path) -> list[Step]:
    return [Step(b, i) for b in MdLogReader(path) for i in range(b.count)]


def leaves(book: OrderBook, order_id: int) -> int:
    info = book.order(order_id)
    return info.qty if info is not None else 0


def bids(book: OrderBook) -> list[tuple[int, int, int]]:
    return [(lv.price, lv.qty, lv.orders) for lv in book.depth(Side.BUY)]


def test_a_resting_client_fills_in_price_time_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("55=ABC|268=2|269=0|278=1|270=10|271=50|269=1|278=9|270=10.05|271=20", "W"),
        line("268=1|279=0|269=0|278=2|55=ABC|270=10|271=30"),                 # B
        line("268=2|279=0|269=2|55=ABC|270=10|271=20|37=1|"                   # A trades
             "279=1|269=0|278=1|55=ABC|270=10|271=30"),
        line("268=2|279=0|269=2|55=ABC|270=10|271=4|37=2|"                    # B trades
             "279=1|269=0|278=2|55=ABC|270=10|271=26"),
        line("268=1|279=0|269=2|55=ABC|270=10|271=100"),                      # hidden print
    )
    feed = MarketDataFeed()
    w, add_b, on_a, on_b, hidden = steps(path)
    w.apply(feed)
    book = feed.book("ABC")
    book.limit(CLIENT, Side.BUY, 100000, 10)  # behind A, ahead of B (added next)
    clients = {"ABC": [CLIENT, CLIENT + 1]}
    add_b.apply(feed, clients=clients)

    # A trade on A, which is ahead of the client: no fill; the book as recorded.
    update = on_a.apply(feed, clients=clients)
    assert update.fills == ()
    assert bids(book) == [(100000, 70, 3)]

    # A trade on B, which is behind the client: the print goes to the client first.
    update = on_b.apply(feed, clients=clients)
    assert update.fills == (FeedFill("ABC", CLIENT, 100000, 4, 6, T1, 2),)
    assert bids(book) == [(100000, 30 + 6 + 26, 3)]
    assert book.queue_position(CLIENT).orders_ahead == 1  # still behind A only

    # A hidden print at 10: clients at and above it, best price first, until it is used up.
    book.limit(CLIENT + 1, Side.BUY, 100100, 5)
    update = hidden.apply(feed, clients=clients)
    assert update.fills == (FeedFill("ABC", CLIENT + 1, 100100, 5, 0, T1, 0),
                            FeedFill("ABC", CLIENT, 100000, 6, 0, T1, 0))
    assert book.order(CLIENT) is None and book.order(CLIENT + 1) is None
    assert bids(book) == [(100000, 56, 2)]
    book.check_invariants()


def test_better_priced_and_unknown_order_trades(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("55=ABC|268=2|269=0|278=1|270=10|271=50|269=1|278=9|270=10.05|271=20", "W"),
        line("268=2|279=0|269=2|55=ABC|270=10.05|271=3|37=9|"    # offer 9 lifted at 10.05
             "279=1|269=1|278=9|55=ABC|270=10.05|271=17"),
        line("268=1|279=0|269=2|55=ABC|270=10.03|271=2|37=777"),  # an OrderID no book holds
    )
    feed = MarketDataFeed()
    w, lift, unknown = steps(path)
    w.apply(feed)
    book = feed.book("ABC")
    book.limit(CLIENT, Side.SELL, 100400, 5)      # better than the offer: filled through it
    book.limit(CLIENT + 1, Side.BUY, 100100, 5)   # the other side: not for a lifted offer
    clients = {"ABC": [CLIENT + 7, CLIENT, CLIENT + 1], "XYZ": [CLIENT + 9]}
    update = lift.apply(feed, clients=clients)
    assert update.fills == (FeedFill("ABC", CLIENT, 100400, 3, 2, T1, 9),)
    assert leaves(book, 9) == 17
    # Side unknown: sells at or below 10.03 (none) and buys at or above it (none) fill.
    assert unknown.apply(feed, clients=clients).fills == ()
    assert leaves(book, CLIENT) == 2


def test_an_order_from_before_the_data_fills_the_queue_front_first(tmp_path: Path) -> None:
    """LOBSTER's executions of orders resting before the log starts name an OrderID the book
    never held: that order is in the level's quantity without MDEntryID, at the front of the
    queue. A client at the print's price behind it does not fill; one priced through does."""
    path = write(
        tmp_path,
        line("55=ABC|268=2|269=0|270=10|271=50|269=1|270=10.05|271=20", "W"),
        line("268=2|279=0|269=2|55=ABC|270=10|271=8|37=777|"         # 8 of 777, then the level
             "279=1|269=0|55=ABC|270=10|271=42"),
        line("268=1|279=0|269=2|55=ABC|270=10|271=3"),                # hidden: no OrderID
        line("268=2|279=0|269=2|55=ABC|270=10|271=42|37=778|"        # the level's last 42
             "279=1|269=0|55=ABC|270=10|271=0"),
        line("268=1|279=0|269=2|55=ABC|270=10|271=4|37=779"),
    )
    feed = MarketDataFeed()
    w, exec_777, hidden, exec_778, exec_779 = steps(path)
    w.apply(feed)
    book = feed.book("ABC")
    book.limit(CLIENT, Side.BUY, 100000, 5)        # at 10, behind the level's 50
    book.limit(CLIENT + 1, Side.BUY, 100100, 2)    # through 10
    clients = {"ABC": [CLIENT, CLIENT + 1]}
    assert book.queue_position(CLIENT).qty_ahead == 50

    update = exec_777.apply(feed, clients=clients)
    assert update.fills == (FeedFill("ABC", CLIENT + 1, 100100, 2, 0, T1, 777),)
    assert leaves(book, CLIENT) == 5

    # A print without OrderID is hidden liquidity: clients at its price still fill.
    update = hidden.apply(feed, clients=clients)
    assert update.fills == (FeedFill("ABC", CLIENT, 100000, 3, 2, T1, 0),)

    # Still behind the level's quantity at the print (the delete comes after it): nothing.
    assert exec_778.apply(feed, clients=clients).fills == ()
    assert book.queue_position(CLIENT).qty_ahead == 0

    # Nothing ahead any more: the client is the front of the queue and fills.
    update = exec_779.apply(feed, clients=clients)
    assert update.fills == (FeedFill("ABC", CLIENT, 100000, 2, 0, T1, 779),)
    assert book.order(CLIENT) is None
    book.check_invariants()


def test_without_clients_nothing_fills(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("55=ABC|268=1|269=0|278=1|270=10|271=50", "W"),
        line("268=1|279=0|269=2|55=ABC|270=9.99|271=100"),
    )
    feed = MarketDataFeed()
    w, hidden = steps(path)
    w.apply(feed)
    feed.book("ABC").limit(CLIENT, Side.BUY, 100000, 10)
    off: tuple[dict[str, list[int]] | None, ...] = (None, {}, {"ABC": []})
    for clients in off:
        update = hidden.apply(feed, clients=clients)
        assert update.fills == () and update.tops == {}
    assert leaves(feed.book("ABC"), CLIENT) == 10


def test_fills_come_in_message_order_across_symbols(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("55=ABC|268=1|269=0|278=1|270=10|271=50", "W"),
        line("55=XYZ|268=1|269=1|278=2|270=20|271=50", "W"),
        # XYZ's print comes first although ABC's book is applied first
        line("268=2|279=0|269=2|55=XYZ|270=20|271=1|279=0|269=2|55=ABC|270=10|271=1"),
    )
    feed = MarketDataFeed()
    (batch,) = MdLogReader(path, decoder=MdDecoder(symbols=["ABC", "XYZ"]))
    feed.apply(batch, 0, 2)
    feed.book("ABC").limit(CLIENT, Side.BUY, 100000, 5)
    feed.book("XYZ").limit(CLIENT + 1, Side.SELL, 200000, 5)
    update = feed.apply(batch, 2, 3, clients={"ABC": [CLIENT], "XYZ": [CLIENT + 1]})
    assert [(f.symbol, f.order_id, f.qty, f.leaves) for f in update.fills] == [
        ("XYZ", CLIENT + 1, 1, 4), ("ABC", CLIENT, 1, 4)]


def test_tops_rows_only_when_the_best_prices_change(tmp_path: Path) -> None:
    t = "20120621-13:30:0%d"
    path = write(
        tmp_path,
        line("55=ABC|268=2|269=0|270=10|271=100|269=1|270=10.05|271=70", "W", time=t % 0),
        line("268=1|279=0|269=0|278=5|55=ABC|270=9.99|271=20", time=t % 1),   # deeper: no row
        line("268=1|279=0|269=0|278=6|55=ABC|270=10|271=20", time=t % 2),     # bid qty: row
        line("268=1|279=0|269=2|55=ABC|270=10|271=5", time=t % 3),            # print: no row
        line("268=1|279=2|269=1|55=ABC|270=10.05", time=t % 4),               # asks gone: row
    )
    feed = MarketDataFeed()
    (batch,) = MdLogReader(path)
    update = feed.apply(batch, tops=True)
    base = 1340285400_000000000
    assert update.top_rows("ABC") == [
        Top(base, 100000, 100, 100500, 70),
        Top(base + 2_000_000_000, 100000, 120, 100500, 70),
        Top(base + 4_000_000_000, 100000, 120, 0, 0),
    ]
    assert list(update.tops["ABC"][:5]) == [base, 100000, 100, 100500, 70]
    assert update.top_rows("XYZ") == []

    # A client fill by a print alone moves the top too.
    feed.book("ABC").limit(CLIENT, Side.BUY, 100100, 5)
    again = write(tmp_path, line("268=1|279=0|269=2|55=ABC|270=10.01|271=2", time=t % 5))
    (b2,) = MdLogReader(again, decoder=MdDecoder(symbols=["ABC"]))
    update = feed.apply(b2, clients={"ABC": [CLIENT]}, tops=True)
    assert update.top_rows("ABC") == [Top(base + 5_000_000_000, 100100, 3, 0, 0)]


# -- the rule against a Python twin, on random books ---------------------------------------------


def expected_fills(book: OrderBook, clients: list[int], order_id: int, price: int,
                   qty: int) -> list[tuple[int, int, int, int]]:
    """(client id, price, qty, leaves) that csrc/mdfeed.h's rule gives a print, from the book
    before it (written from the contract, not from the C code)."""
    x = book.order(order_id) if order_id else None
    # An OrderID the book does not hold sits in the level's anonymous quantity, at the front:
    # a client at the print's price fills only with nothing ahead of it.
    front_only = order_id != 0 and x is None
    ref = x.price if x is not None else price
    ranked = []
    for slot, cid in enumerate(clients):
        o = book.order(cid)
        if o is None or (x is not None and o.side != x.side):
            continue
        through = o.price - ref if o.side == Side.BUY else ref - o.price
        pos = book.queue_position(cid)
        if through < 0 or (x is not None and through == 0
                           and pos.orders_ahead > book.queue_position(order_id).orders_ahead):
            continue
        ranked.append((-through, int(o.side), pos.orders_ahead, slot, cid, o.price, o.qty,
                       pos.qty_ahead))
    out = []
    taken: dict[tuple[int, int], int] = {}  # filled at (side, price) by this print so far
    for _, side, _, _, cid, px, leaves, qty_ahead in sorted(ranked):
        if qty == 0:
            break
        # What was ahead of it, less the clients ahead of it that this print filled (to zero:
        # else nothing is left of the print).
        if front_only and px == price and qty_ahead - taken.get((side, px), 0) > 0:
            continue
        take = min(qty, leaves)
        qty -= take
        taken[side, px] = taken.get((side, px), 0) + take
        out.append((cid, px, take, leaves - take))
    return out


BID_PRICES = ("9.98", "9.99", "10", "10.01")
ASK_PRICES = ("10.02", "10.03", "10.04", "10.05")
# (kind, a, b, qty): an order or client side a % 2 at price index b % 4; a trade on the OrderID
# picked by a at the price index b; a print at the price of client a, on the OrderID picked by b
action = st.tuples(st.sampled_from(("order", "order", "client", "client", "trade", "print")),
                   st.integers(0, 40), st.integers(0, 7), st.integers(1, 40))


@settings(max_examples=150, deadline=None)
@given(st.lists(action, min_size=1, max_size=60))
def test_fills_follow_the_rule(actions: list[tuple[str, int, int, int]]) -> None:
    decoder = MdDecoder()
    feed = MarketDataFeed()

    def apply(body: str, msg_type: str = "X", clients: list[int] | None = None) -> list[
            FeedFill]:
        (batch,) = decoder.decode(line(body, msg_type, T0), "<test>")
        update = feed.apply(batch, clients={"ABC": clients} if clients else None)
        return list(update.fills)

    # the level's own quantity (no MDEntryID), ahead of every order at its price
    apply("55=ABC|268=5|269=0|270=9.97|271=100|269=0|270=9.99|271=30|269=0|270=10|271=30|"
          "269=1|270=10.03|271=30|269=1|270=10.04|271=30", "W")
    book = feed.book("ABC")
    orders: list[int] = []
    clients: list[int] = []
    client_prices: list[str] = []
    for kind, a, b, qty in actions:
        if kind == "order":
            buy = a % 2 == 0
            px = (BID_PRICES if buy else ASK_PRICES)[b % 4]
            orders.append(len(orders) + 1)
            apply(f"268=1|279=0|269={0 if buy else 1}|278={orders[-1]}|55=ABC|270={px}|"
                  f"271={qty}")
        elif kind == "client":
            buy = a % 2 == 0
            px = (BID_PRICES if buy else ASK_PRICES)[b % 4]
            clients.append(CLIENT + len(clients))
            client_prices.append(px)
            book.limit(clients[-1], Side.BUY if buy else Side.SELL,
                       round(float(px) * 10_000), qty)
        elif kind == "print" and not clients:
            continue
        else:
            if kind == "trade":
                # the OrderID: one of the feed's orders, none, or never seen
                oid = orders[a % len(orders)] if orders and a < 30 else (0 if a < 35 else 999)
                px = (BID_PRICES + ASK_PRICES)[b]
            else:
                # at a client's price (filled or not), where queue position decides
                oid = (0, 999, orders[b % len(orders)] if orders else 999)[b % 3]
                px = client_prices[a % len(clients)]
            want = expected_fills(book, clients, oid, round(float(px) * 10_000), qty)
            tag37 = f"|37={oid}" if oid else ""
            got = apply(f"268=1|279=0|269=2|55=ABC|270={px}|271={qty}{tag37}", clients=clients)
            assert [(f.order_id, f.price, f.qty, f.leaves) for f in got] == want
            assert all(f.trade_order_id == oid and f.time_ns == T1 for f in got)
            for cid, _px, _q, left in want:
                assert leaves(book, cid) == left
        book.check_invariants()


def test_a_day_with_resting_clients(tmp_path: Path) -> None:
    """The bundled AMZN excerpt with client orders at and inside the first touch: fills are
    at the clients' prices, never more than their size, and the C arrays never run short."""
    feed = MarketDataFeed()
    batches = list(MdLogReader(BUNDLED_LOG))
    feed.apply(batches[0], 0, 1)
    book = feed.book("AMZN")
    bbo = book.bbo()
    placed = {CLIENT: (Side.BUY, bbo.bid_price, 100), CLIENT + 1: (Side.BUY, bbo.bid_price - 100,
              300), CLIENT + 2: (Side.SELL, bbo.ask_price, 100),
              CLIENT + 3: (Side.SELL, bbo.ask_price - 100, 50)}
    for cid, (side, px, qty) in placed.items():
        book.limit(cid, side, px, qty)
    filled = dict.fromkeys(placed, 0)
    top_count = 0
    first = 1
    for batch in batches:
        update = feed.apply(batch, first, clients={"AMZN": list(placed)}, tops=True)
        first = 0
        for f in update.fills:
            side, px, qty = placed[f.order_id]
            filled[f.order_id] += f.qty
            assert f.price == px and f.leaves == qty - filled[f.order_id] >= 0
        top_count += len(update.top_rows("AMZN"))
        book.check_invariants()
    assert any(filled.values())
    for cid, (_side, _px, qty) in placed.items():
        info = book.order(cid)
        # left in the book exactly what was not filled (unless the feed removed the level)
        assert info is None or info.qty == qty - filled[cid]
    assert 0 < top_count < 3000
    assert book.depth(Side.BUY, 1) != [Level(0, 0, 0)]


def test_a_replayed_order_crossing_a_client_ends_the_update(tmp_path: Path) -> None:
    """Feed adds do not trade; with stop_at_fill the update ends after the message that left
    a client order crossed, so the caller trades it at that message's time."""
    path = write(
        tmp_path,
        line("55=ABC|268=2|269=0|278=1|270=10|271=50|269=1|278=9|270=10.05|271=20", "W"),
        line("268=1|279=0|269=0|278=2|55=ABC|270=10|271=30"),    # a bid: nothing crossed
        line("268=1|279=0|269=1|278=3|55=ABC|270=10.02|271=30"),  # an offer at the client's bid
        line("268=1|279=0|269=0|278=4|55=ABC|270=9.99|271=30"),
    )
    feed = MarketDataFeed()
    (batch,) = list(MdLogReader(path))
    feed.apply(batch, 0, 1)
    book = feed.book("ABC")
    book.limit(CLIENT, Side.BUY, 100200, 10)  # inside the spread
    update = feed.apply(batch, 1, 4, clients={"ABC": [CLIENT]}, stop_at_fill=True)
    assert (update.stop, update.crossed, update.fills) == (3, True, ())
    assert leaves(book, CLIENT) == 10 and leaves(book, 3) == 30  # added, not traded
    # without stop_at_fill nothing stops
    assert not feed.apply(batch, 3, 4, clients={"ABC": [CLIENT]}).crossed


def test_what_the_log_says_of_an_order_a_client_took_is_skipped(tmp_path: Path) -> None:
    """Once the caller's orders took replayed order 9 whole (FeedBook.took), the log's later
    change, delete or trade of 9 is of liquidity already gone: its book entries are skipped
    (counted) and its trade fills no client."""
    path = write(
        tmp_path,
        line("55=ABC|268=3|269=0|278=1|270=10|271=50|269=1|278=9|270=10.05|271=20|"
             "269=1|278=8|270=10.05|271=40", "W"),
        # the log executes 20 of 9, then deletes it; a trade of 8 follows
        line("268=2|279=0|269=2|55=ABC|270=10.05|271=20|37=9|"
             "279=2|269=1|278=9|55=ABC|270=10.05|271=20"),
        line("268=1|279=1|269=1|278=8|55=ABC|270=10.05|271=35"),
    )
    feed = MarketDataFeed(strict=False)
    w, on_9, change_8 = steps(path)
    w.apply(feed)
    book = feed.book("ABC")
    assert isinstance(book, FeedBook)
    book.market(CLIENT, Side.BUY, 20)  # our buy takes 9 (first in the queue) whole
    assert book.order(9) is None and leaves(book, 8) == 40
    book.took(9)
    book.took(9)  # once is enough
    assert list(book.gone) == [9]
    book.limit(CLIENT + 1, Side.SELL, 100400, 5)  # a better offer than the print's
    update = on_9.apply(feed, clients={"ABC": [CLIENT + 1]})
    # the trade names 9: no client fill (were 9 an order from before the data, our offer
    # through its price would have traded first); the delete of 9 does not fall back to
    # taking 20 from the level (8's)
    assert update.fills == () and feed.skipped == 1 and feed.rejects == 0
    assert leaves(book, 8) == 40 and leaves(book, CLIENT + 1) == 5
    change_8.apply(feed, clients={"ABC": [CLIENT + 1]})
    assert leaves(book, 8) == 35  # other orders' entries apply as before
