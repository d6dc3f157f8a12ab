"""``MarketDataFeed.apply(stop_at_fill=True)``: the update ends with the first message that
filled a client order, so a backtest acts on the fill at that message's time."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.book import Side
from gateway.md_feed import MarketDataFeed, MdLogReader
from tests.test_md_feed import line, write

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
