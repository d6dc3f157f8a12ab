"""``MarketDataFeed.apply(stop_at_fill=True)``: the update ends with the first message that
filled a client order, so a backtest acts on the fill at that message's time."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.book import Side
from gateway.md_feed import WATCH_HIGH, WATCH_LOW, MarketDataFeed, MdLogReader
from tests.test_md_feed import line, log_time, write

CLIENT = 1 << 62


def test_the_update_stops_after_the_filling_message(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("55=ABC|268=2|269=0|278=1|270=10|271=50|269=1|278=9|270=10.05|271=20", "W"),
        line("268=1|279=0|269=0|278=2|55=ABC|270=9.99|271=30"),              # no trade
        line("268=1|279=0|269=2|55=ABC|270=10|271=5"),                       # hidden print: fill
        line("268=1|279=0|269=0|278=3|55=ABC|270=9.98|271=10"),              # after the fill
        line("268=1|279=0|269=2|55=ABC|270=10|271=5"),                       # a second fill
    )
    (batch,) = list(MdLogReader(path))
    feed = MarketDataFeed()
    feed.apply(batch, 0, 1)
    book = feed.book("ABC")
    book.limit(CLIENT, Side.BUY, 100000, 8)
    clients = {"ABC": [CLIENT]}

    update = feed.apply(batch, 1, 5, clients=clients, stop_at_fill=True)
    assert (update.start, update.stop, update.messages) == (1, 3, 2)
    assert [(f.order_id, f.qty) for f in update.fills] == [(CLIENT, 5)]
    assert [lv.price for lv in book.depth(Side.BUY)] == [100000, 99900]  # 9.98 not yet in

    update = feed.apply(batch, 3, 5, clients=clients, stop_at_fill=True)
    assert update.stop == 5 and [(f.order_id, f.qty) for f in update.fills] == [(CLIENT, 3)]
    assert book.order(CLIENT) is None

    # without the option the same messages run to the end in one update
    feed2 = MarketDataFeed()
    feed2.apply(batch, 0, 1)
    feed2.book("ABC").limit(CLIENT, Side.BUY, 100000, 8)
    update = feed2.apply(batch, 1, 5, clients=clients)
    assert update.stop == 5 and [f.qty for f in update.fills] == [5, 3]


def test_stop_at_fill_takes_clients_of_one_symbol(tmp_path: Path) -> None:
    path = write(tmp_path,
                 line("55=ABC|268=1|269=0|278=1|270=10|271=50", "W"),
                 line("55=XYZ|268=1|269=0|278=2|270=10|271=50", "W"))
    batch = list(MdLogReader(path))[-1]  # a new symbol starts a batch: the last has both
    assert batch.symbols == ("ABC", "XYZ")
    assert MarketDataFeed().apply(batch).symbols_changed() == {"XYZ"}  # only XYZ's message
    with pytest.raises(ValueError, match="one symbol"):
        MarketDataFeed().apply(batch, clients={"ABC": [CLIENT], "XYZ": [CLIENT + 1]},
                               stop_at_fill=True)


def test_a_watched_symbol_is_applied_before_a_symbol_with_clients(tmp_path: Path) -> None:
    """The symbol that may stop goes first, whatever the batch's order: a symbol with client
    orders (not stopping) listed before it must not be applied past the watched stop."""
    log = tmp_path / "two.log"
    log.write_bytes(
        line("55=YYY|268=1|269=1|278=1|270=20|271=50", "W", time=log_time(0), seq=1)
        + line("55=XXX|268=1|269=0|278=2|270=10|271=50", "W", time=log_time(0), seq=2)
        + line("268=1|279=0|269=0|278=3|55=XXX|270=10.05|271=5", time=log_time(1), seq=3)
        + line("268=1|279=0|269=0|278=4|55=YYY|270=19.50|271=7", time=log_time(2), seq=4))
    feed = MarketDataFeed(price_decimals=2)
    first, batch = list(MdLogReader(log, decoder=feed._decoder))
    feed.apply(first)
    feed.apply(batch, 0, 1)
    client = 1 << 62
    feed.book("YYY").limit(client, Side.SELL, 2100, 10)
    update = feed.apply(batch, 1, 3, clients={"YYY": [client]},
                        watch={"XXX": (WATCH_LOW, 1000, WATCH_LOW, WATCH_HIGH)})
    assert update.stop == 2 and update.touched
    assert feed.book("YYY").depth(Side.BUY) == []  # 13:30:02 not applied yet
    feed.apply(batch, update.stop, 3)
    assert [lv.price for lv in feed.book("YYY").depth(Side.BUY)] == [1950] and not feed.rejects
