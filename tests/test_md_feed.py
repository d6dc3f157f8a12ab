"""Reading market-data logs and applying W/X messages to the C books (gateway.md_feed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.book import Level, Side
from fixspec.dictionary import builtin_session
from gateway.cli import main
from gateway.cmd_lobster import sample_path
from gateway.codec import decode_bytes
from gateway.md_feed import (
    MarketDataFeed,
    MdDecoder,
    MdLogError,
    MdLogReader,
    MdUpdate,
    entry_types,
)
from gateway.md_fix import lobster_to_fix
from tests.test_lobster import SAMPLES
from tests.test_md_fix import BUNDLED_LOG, DAY, replay_rows

T0 = "20120621-13:30:00.000000001"


def message(body: str, msg_type: str = "X", time: str = T0, seq: int = 1) -> bytes:
    """A FIX 4.4 message, ``|`` for SOH in ``body``, with BodyLength and CheckSum."""
    fields = f"35={msg_type}|34={seq}|49=V|52={time}|56=G|" + (f"{body}|" if body else "")
    rest = fields.replace("|", "\x01").encode()
    frame = b"8=FIX.4.4\x019=%d\x01%s" % (len(rest), rest)
    return frame + b"10=%03d\x01" % (sum(frame) % 256)


def log_time(second: int, ns: int = 0) -> str:
    """A SendingTime ``second`` s (and ``ns`` ns) after 13:30:00 on the samples' day."""
    return f"20120621-13:30:{second:02d}.{ns:09d}"


def line(body: str, msg_type: str = "X", time: str = T0, seq: int = 1) -> bytes:
    return time.encode() + b" : " + message(body, msg_type, time, seq) + b"\n"


SNAPSHOT = line("55=ABC|268=4|269=0|270=10|271=100|269=0|270=9.99|271=50|"
                "269=1|270=10.01|271=70|269=1|270=10.02|271=5", "W")


def write(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "md.log"
    path.write_bytes(b"".join(lines))
    return path


def books_after_each(path: Path, symbol: str = "ABC") -> list[tuple[list[Level], list[Level]]]:
    feed = MarketDataFeed()
    out = []
    for batch in MdLogReader(path):
        for i in range(batch.count):
            feed.apply(batch, i, i + 1)
            book = feed.book(symbol)
            out.append((book.depth(Side.BUY), book.depth(Side.SELL)))
    return out


def test_orders_and_level_quantities(tmp_path: Path) -> None:
    path = write(
        tmp_path, SNAPSHOT,
        line("268=1|279=0|269=0|278=7|55=ABC|270=10|271=20"),  # order 7 behind the level's 100
        line("268=1|279=1|269=0|278=7|55=ABC|270=10|271=15"),  # order 7 now 15
        line("268=1|279=1|269=0|55=ABC|270=10|271=60"),        # the level's own quantity: 60
        line("268=1|279=2|269=0|278=99|55=ABC|270=10|271=65"),  # unknown id: the level loses 65
        line("268=1|279=2|269=1|55=ABC|270=10.02|271=5"),      # the level is gone
        line("268=1|279=2|269=0|278=7|55=ABC|270=10|271=10"),  # known id: gone, whatever the size
    )
    steps = books_after_each(path)
    bids = [[(lv.price, lv.qty, lv.orders) for lv in b] for b, _ in steps]
    asks = [[(lv.price, lv.qty) for lv in a] for _, a in steps]
    assert bids == [
        [(100000, 100, 1), (99900, 50, 1)],
        [(100000, 120, 2), (99900, 50, 1)],
        [(100000, 115, 2), (99900, 50, 1)],
        [(100000, 75, 2), (99900, 50, 1)],
        [(100000, 10, 1), (99900, 50, 1)],   # 60 of the level's own, then 5 of order 7
        [(100000, 10, 1), (99900, 50, 1)],
        [(99900, 50, 1)],
    ]
    assert asks[4] == [(100100, 70), (100200, 5)] and asks[5] == [(100100, 70)]


def test_a_price_level_feed_without_entry_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("55=XYZ|268=0", "W"),
        line("268=2|279=0|269=0|55=XYZ|270=5|271=10|279=0|269=1|55=XYZ|270=5.5|271=4"),
        line("268=1|279=1|269=0|55=XYZ|270=5|271=3"),
        line("268=1|279=1|269=1|55=XYZ|270=5.5|271=0"),
    )
    steps = books_after_each(path, "XYZ")
    assert [([(lv.price, lv.qty) for lv in b], [(lv.price, lv.qty) for lv in a])
            for b, a in steps] == [
        ([], []), ([(50000, 10)], [(55000, 4)]), ([(50000, 3)], [(55000, 4)]),
        ([(50000, 3)], []),
    ]


def test_trades_and_changed_symbols(tmp_path: Path) -> None:
    path = write(
        tmp_path, SNAPSHOT,
        line("268=2|279=0|269=2|55=ABC|270=10.01|271=30|37=55|"
             "279=1|269=1|55=ABC|270=10.01|271=40", time="20120621-13:30:01.5"),
        line("268=1|279=0|269=2|55=ABC|270=10.005|271=9", time="20120621-13:30:02"),
    )
    feed = MarketDataFeed()
    (batch,) = MdLogReader(path)
    update = feed.apply(batch)
    t1 = 1340285401_500000000

    def trades(u: MdUpdate, symbol: str = "ABC") -> list[tuple[int, int, int, int]]:
        return list(zip(*u.trade_columns(symbol), strict=True))

    # price, size, time, OrderID (37; 0 without)
    assert trades(update) == [(100100, 30, t1, 55), (100050, 9, t1 + 500_000_000, 0)]
    assert update.symbols_changed() == {"ABC"}
    assert trades(feed.apply(batch, 2, 3)) == [(100050, 9, t1 + 500_000_000, 0)]
    assert trades(feed.apply(batch, 1, 1)) == [] and feed.apply(batch, 1, 1).symbols_changed() \
        == set()
    assert batch.kind(0) == "W" and batch.kind(1) == "X" and batch.time_ns(1) == t1


def test_text_entry_ids_map_to_the_same_order(tmp_path: Path) -> None:
    path = write(
        tmp_path, SNAPSHOT,
        line("268=2|279=0|269=1|278=ord-A|55=ABC|270=10.05|271=8|"
             "279=0|269=1|278=007|55=ABC|270=10.05|271=2"),
        line("268=1|279=1|269=1|278=ord-A|55=ABC|270=10.05|271=3"),
        line("268=1|279=2|269=1|278=007|55=ABC|270=10.05|271=2"),
    )
    steps = books_after_each(path)
    assert [a[-1] for _, a in steps[1:]] == [
        Level(100500, 10, 2), Level(100500, 5, 2), Level(100500, 3, 1)]


def test_apply_message_takes_decoded_messages_and_bytes() -> None:
    feed = MarketDataFeed()
    sd = builtin_session("FIX.4.4")
    feed.apply_message(decode_bytes(message("55=ABC|268=1|269=0|270=10|271=100", "W"), sd))
    update = feed.apply_message(message("268=1|279=0|269=0|278=5|55=ABC|270=10|271=1",
                                        time="20120621-13:30:01"))
    assert update.messages == 1 and update.ops == 1
    assert feed.book("ABC").depth(Side.BUY) == [Level(100000, 101, 2)]
    with pytest.raises(MdLogError, match="SendingTime"):
        feed.apply_message(message("268=1|279=2|269=0|278=5|55=ABC|270=10|271=1"))
    with pytest.raises(MdLogError, match="unknown symbol 'XYZ'"):
        feed.apply_message(message("268=1|279=0|269=0|278=6|55=XYZ|270=1|271=1",
                                   time="20120621-13:30:02"))
    feed.add_symbol("XYZ")
    feed.apply_message(message("268=1|279=0|269=0|278=6|55=XYZ|270=1|271=1",
                               time="20120621-13:30:02"))
    assert feed.book("XYZ").bbo().bid_qty == 1


def test_one_message_at_a_time_is_the_same_book(tmp_path: Path) -> None:
    expected = sample_path(SAMPLES[0][1]).read_bytes()
    feed = MarketDataFeed()
    rows = []
    for batch in MdLogReader(BUNDLED_LOG):
        for i in range(batch.count):
            rows.append(feed.apply(batch, i, i + 1, record="AMZN", depth=5).rows_csv())
    assert b"".join(rows) == expected


def test_small_chunks_read_the_same_and_count_lines(tmp_path: Path) -> None:
    expected = sample_path(SAMPLES[0][1]).read_bytes()
    feed = MarketDataFeed()
    got = b"".join(feed.apply(b, record="AMZN", depth=5).rows_csv()
                   for b in MdLogReader(BUNDLED_LOG, chunk_bytes=1000))
    assert got == expected
    lines = BUNDLED_LOG.read_bytes().splitlines(keepends=True)
    lines[2500] = b"not a message\n"
    broken = write(tmp_path, *lines)
    with pytest.raises(MdLogError) as info:
        for _ in MdLogReader(broken, chunk_bytes=1000):
            pass
    assert info.value.line == 2501 and str(info.value).startswith(f"{broken}:2501: ")


def test_a_log_that_grows_while_read_still_counts_its_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The chunk that reached the file's end is counted only if more comes. More comes when
    # the log grows between that check and the next read: here the check is told the file
    # ends where the first chunk does, and the read finds ten more lines and a bad one.
    lines = BUNDLED_LOG.read_bytes().splitlines(keepends=True)
    first = b"".join(lines[:1000])
    path = write(tmp_path, first, *lines[1000:1010], b"not a message\n")
    real_fstat = os.fstat
    monkeypatch.setattr("gateway.md_feed.os.fstat", lambda fd: os.stat_result(
        (*real_fstat(fd)[:6], len(first), *real_fstat(fd)[7:])))
    with pytest.raises(MdLogError) as info:
        for _ in MdLogReader(path, chunk_bytes=len(first)):
            pass
    assert info.value.line == 1011


def test_two_symbols_in_one_log(tmp_path: Path) -> None:
    logs = []
    for msg, ob in SAMPLES:
        symbol = msg.split("_")[0]
        out = tmp_path / f"{symbol}.log"
        lobster_to_fix(sample_path(msg), sample_path(ob), out, symbol=symbol, day=DAY)
        logs.append(out.read_bytes().splitlines(keepends=True))
    # Interleave by time (the line's prefix); sorted() is stable, so each log keeps its order.
    merged = sorted(logs[0] + logs[1], key=lambda ln: ln[:27])
    path = write(tmp_path, *merged)
    for (msg, ob), depth in zip(SAMPLES, (5, 1), strict=True):
        symbol = msg.split("_")[0]
        assert replay_rows(path, symbol, depth) == sample_path(ob).read_bytes()


GOOD = line("268=1|279=0|269=0|278=7|55=ABC|270=10|271=20")
GOOD2 = line("268=1|279=0|269=0|278=8|55=ABC|270=10|271=20")


def bad_checksum(good: bytes) -> bytes:
    """Three digits that are not ``good``'s CheckSum."""
    return b"%03d" % ((int(good[-5:-2]) + 1) % 256)


@pytest.mark.parametrize(
    ("lines", "line_no", "reason"),
    [
        ((SNAPSHOT, b"hello\n", GOOD), 2, "not a log line with one FIX message"),
        ((SNAPSHOT, GOOD, GOOD2[:-5] + bad_checksum(GOOD2) + b"\x01\n"), 3,
         "unreadable FIX message (BAD_CHECKSUM): CheckSum (10) is not the byte sum"),
        ((SNAPSHOT, GOOD[:-40] + b"\n", GOOD), 2, "unreadable FIX message"),
        ((SNAPSHOT, GOOD[:-1] + message("268=0") + b"\n"), 2, "not a log line with one"),
        ((SNAPSHOT, GOOD, b"\n  \n", GOOD2, b"junk"), 6, "not a log line with one"),
        ((SNAPSHOT, line("268=1|279=0|269=0|278=7|55=ABC|270=10|271=20",
                         time="20120621-13:29:59.999999999")), 2,
         "SendingTime (52) 20120621-13:29:59.999999999 is earlier than the message before "
         "(20120621-13:30:00.000000001)"),
        ((line("268=1|279=0|269=0|278=7|55=ABC|270=10|271=20"),), 1,
         "unknown symbol 'ABC': no snapshot (35=W)"),
        ((SNAPSHOT, line("268=1|279=0|269=0|278=7|55=ABC|270=10.00001|271=20")), 2,
         "MDEntryPx (270) has a bad value '10.00001'"),
        ((SNAPSHOT, line("268=2|279=0|269=0|278=7|55=ABC|270=10|271=20")), 2,
         "NoMDEntries (268) differs"),
        ((SNAPSHOT, line("268=1|269=0|278=7|55=ABC|270=10|271=20")), 2,
         "MDEntryType (269) before the entry's first field"),
        ((SNAPSHOT, line("268=1|279=0|269=0|278=7|55=ABC|270=10")), 2, "MDEntrySize (271) missing"),
        ((SNAPSHOT, line("268=1|279=0|269=0|278=7|278=8|55=ABC|270=10|271=2")), 2,
         "MDEntryID (278) appears twice in one entry"),
        # the message's own fields again: among the entries too (once read as entry fields
        # and passed over)
        ((SNAPSHOT, line("268=1|279=0|269=0|278=7|55=ABC|270=10|271=2|268=7")), 2,
         "NoMDEntries (268) appears twice in the message"),
        ((SNAPSHOT, line("268=1|279=0|269=0|278=7|55=ABC|270=10|271=2|52=20990101-00:00:00")),
         2, "SendingTime (52) appears twice in the message"),
        ((SNAPSHOT, line("55=ABC|55=ABC|268=1|279=0|269=0|278=7|270=10|271=2")), 2,
         "Symbol (55) appears twice in the message"),
        ((SNAPSHOT, line("268=1|279=1|269=0|278=404|55=ABC|270=10|271=2")), 2,
         "the ABC book rejects Change of MDEntryID 404 (size 2): no resting order has this id"),
        ((SNAPSHOT, GOOD, GOOD), 3, "rejects New of MDEntryID 7"),
        ((SNAPSHOT, line("268=1|279=0|269=Z|278=7|55=ABC|270=10|271=20")), 2,
         "MDEntryType (269) has a bad value 'Z' (not an MDEntryType of FIX.4.4)"),
        ((SNAPSHOT, line("268=1|279=0|269=00|278=7|55=ABC|270=10|271=20")), 2,
         "MDEntryType (269) has a bad value '00'"),

    ],
    ids=["text-line", "bad-checksum", "cut-message", "two-on-a-line", "junk-at-end",
         "time-backwards", "unknown-symbol", "price-finer-than-tick", "count-mismatch",
         "entry-order", "missing-size", "duplicate-field", "count-again", "time-again",
         "symbol-again", "change-unknown-order",
         "duplicate-order", "entry-type-not-of-the-version", "entry-type-two-characters"],
)
def test_bad_logs_name_file_line_and_reason(
    tmp_path: Path, lines: tuple[bytes, ...], line_no: int, reason: str
) -> None:
    path = write(tmp_path, *lines)
    feed = MarketDataFeed()
    with pytest.raises(MdLogError) as info:
        for batch in MdLogReader(path):
            feed.apply(batch)
    assert str(info.value).startswith(f"{path}:{line_no}: "), str(info.value)
    assert reason in str(info.value), str(info.value)


def test_lenient_feed_counts_rejects_and_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, SNAPSHOT, GOOD, GOOD,
                 line("268=1|279=1|269=0|278=7|55=ABC|270=10|271=5"))
    feed = MarketDataFeed(strict=False)
    for batch in MdLogReader(path):
        feed.apply(batch)
    assert feed.rejects == 1
    assert feed.book("ABC").depth(Side.BUY)[0] == Level(100000, 105, 2)


def test_entries_of_other_types_of_the_logs_version_change_no_book(tmp_path: Path) -> None:
    """An opening price (269=4) and an imbalance (269=A) are FIX 4.4 values: kept, no book
    change; 'Z' is only FIX 5.0SP2's, so a FIX 4.4 log holding it is refused (above)."""
    path = write(tmp_path, SNAPSHOT, line("268=2|279=0|269=4|55=ABC|270=11|271=5|"
                                          "279=0|269=A|55=ABC|270=9|271=7"))
    assert books_after_each(path)[1] == books_after_each(path)[0]
    assert entry_types("FIX.4.4") >= {"0", "1", "2", "4", "A"} and "Z" not in entry_types(
        "FIX.4.4")
    assert "Z" in entry_types("FIXT.1.1") and "Z" in entry_types("FIX.4.3")  # 5.0SP2's


def test_text_holding_8_fix_does_not_set_the_logs_version() -> None:
    """The version whose MDEntryType values are allowed is the first sound message's: a junk
    line holding "8=FIX.4.3" (a version without a built-in dictionary: any value) once
    switched the check off for the whole log."""
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append)
    data = b"x 8=FIX.4.3\n" + SNAPSHOT + line("268=1|279=0|269=Z|278=7|55=ABC|270=10|271=20")
    sum(b.count for b in decoder.decode(data, "x.log"))
    assert [e.line for e in errors] == [1, 3]
    assert errors[1].reason == ("MDEntryType (269) has a bad value 'Z' (not an MDEntryType "
                                "of FIX.4.4)")


def test_other_messages_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    heartbeat = T0.encode() + b" : " + message("", "0") + b"\n"
    path = write(tmp_path, b"\n", heartbeat, SNAPSHOT, b"  \r\n", GOOD)
    batches = list(MdLogReader(path))
    kinds = [(b.kind(i), b.line(i)) for b in batches for i in range(b.count)]
    assert kinds == [("other", 2), ("W", 3), ("X", 5)]


def test_decoder_keeps_symbols_and_time_across_logs(tmp_path: Path) -> None:
    first = write(tmp_path, SNAPSHOT)
    second = tmp_path / "second.log"
    second.write_bytes(GOOD)
    decoder = MdDecoder()
    feed = MarketDataFeed()
    for path in (first, second):
        for batch in MdLogReader(path, decoder=decoder):
            feed.apply(batch)
    assert decoder.symbols == ["ABC"] and decoder.last_time_ns is not None
    assert feed.book("ABC").depth(Side.BUY)[0].qty == 120


def test_cli_errors_name_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SNAPSHOT, b"garbage\n")
    assert main(["backtest", "--log", str(path)]) == 2
    assert f"{path}:2: not a log line" in capsys.readouterr().err


# An empty book for a second symbol, after the bundled log's last message.
# numbered after the bundled log's 3,001 messages: the replay checks MsgSeqNum
AAPL_SNAPSHOT = line("55=AAPL|268=0", "W", time="20120621-13:40:47.5", seq=3002)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--dump-book", "5"], "--dump-book N and --book-out FILE go together"),
        (["--symbol", "NOPE"], "no snapshot for symbol 'NOPE' (the log has AMZN, AAPL)"),
        (["--dump-book", "1", "--book-out", "B.csv"], "several symbols (AMZN, AAPL)"),
    ],
)
def test_cli_backtest_refuses_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    path = write(tmp_path, BUNDLED_LOG.read_bytes(), AAPL_SNAPSHOT)
    args = [a if a != "B.csv" else str(tmp_path / a) for a in args]
    assert main(["backtest", "--log", str(path), *args]) == 2
    assert error in capsys.readouterr().err


def test_cli_backtest_replay_checks_its_input_like_a_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = BUNDLED_LOG.read_bytes().splitlines(keepends=True)
    gap = write(tmp_path, *lines[:10], *lines[11:])  # the message of line 11 is lost
    book = tmp_path / "B.csv"
    dump = ["--dump-book", "1", "--book-out", str(book)]
    assert main(["backtest", "--log", str(gap), *dump]) == 2
    assert (f"{gap}:11: MsgSeqNum (34) is 12 where 11 was expected"
            in capsys.readouterr().err)
    assert main(["backtest", "--log", str(gap), *dump, "--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    # line 11's message is sound and applied: the gap before it is noted, nothing skipped
    assert f"gateway backtest: {gap}:11: MsgSeqNum (34) is 12" in captured.err
    assert "skipped" not in captured.err.replace("skipped or missing", "")
    report = json.loads(captured.out)
    # the lost message added a level that a later one deletes: counted and said, not fatal
    assert (report["skipped"], report["noted"], report["book_rejects"]) == (0, 1, 1)
    assert ("1 market-data entries the books rejected after skipped or missing input"
            in captured.err)
    empty = write(tmp_path, b"")
    assert main(["backtest", "--log", str(empty), *dump]) == 2
    assert "no market-data messages" in capsys.readouterr().err


def test_cli_backtest_dumps_the_chosen_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BUNDLED_LOG.read_bytes(), AAPL_SNAPSHOT)
    book = tmp_path / "B.csv"
    assert main(["backtest", "--log", str(path), "--symbol", "AMZN", "--dump-book", "5",
                 "--book-out", str(book)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["symbols"] == ["AMZN", "AAPL"] and report["dumped_symbol"] == "AMZN"
    assert book.read_bytes() == sample_path(SAMPLES[0][1]).read_bytes()


_T = [f"20120621-13:30:0{i}.000000001" for i in range(4)]
_TWO_SIDED = line("55=ABC|268=2|269=0|278=1|270=10|271=100|269=1|278=2|270=10.1|271=100", "W",
                  time=_T[0], seq=1)
_STALE_ASK = line("268=1|279=0|269=1|278=3|55=ABC|270=10.05|271=10", time=_T[1], seq=2)


@pytest.mark.parametrize(("lines", "bids", "asks"), [
    # an order at or through the other side's best: that liquidity is stale and goes
    ([_STALE_ASK, line("268=1|279=0|269=0|278=4|55=ABC|270=10.06|271=10", time=_T[2], seq=3)],
     [(100600, 10), (100000, 100)], [(101000, 100)]),
    # the same with another entry after it on the other side, in either order
    ([_STALE_ASK, line("268=2|279=0|269=0|278=4|55=ABC|270=10.06|271=10|"
                       "279=0|269=1|278=5|55=ABC|270=10.5|271=10", time=_T[2], seq=3)],
     [(100600, 10), (100000, 100)], [(101000, 100), (105000, 10)]),
    ([_STALE_ASK, line("268=2|279=0|269=1|278=5|55=ABC|270=10.5|271=10|"
                       "279=0|269=0|278=4|55=ABC|270=10.06|271=10", time=_T[2], seq=3)],
     [(100600, 10), (100000, 100)], [(101000, 100), (105000, 10)]),
    # an aggressive buy reported as added and then consumed within its message (the offer it
    # traded with changed to 70): it is not in the book, so it finds nothing stale
    ([line("268=4|279=1|269=1|278=2|55=ABC|270=10.1|271=70|"
           "279=0|269=0|278=9|55=ABC|270=10.1|271=30|279=0|269=2|55=ABC|270=10.1|271=30|37=2|"
           "279=2|269=0|278=9|55=ABC", time=_T[1], seq=2)],
     [(100000, 100)], [(101000, 70)]),
])
def test_an_uncrossed_feed_removes_only_liquidity_an_entry_crosses(
        tmp_path: Path, lines: list[bytes], bids: list[tuple[int, int]],
        asks: list[tuple[int, int]]) -> None:
    path = write(tmp_path, _TWO_SIDED, *lines)
    feed = MarketDataFeed(strict=False, price_decimals=2, uncrossed=True)
    for batch in MdLogReader(path):
        feed.apply(batch)
    book = feed.book("ABC")
    assert [(lv.price, lv.qty) for lv in book.depth(Side.BUY)] == bids
    assert [(lv.price, lv.qty) for lv in book.depth(Side.SELL)] == asks


def test_a_crossed_snapshot_is_kept_as_it_is_even_uncrossed(tmp_path: Path) -> None:
    """A snapshot cannot hold stale liquidity (it replaces the feed's): an auction's crossed
    book stays as the log has it."""
    path = write(tmp_path, line("55=ABC|268=2|269=0|278=1|270=10.2|271=100|"
                                "269=1|278=2|270=10.1|271=100", "W", time=_T[0], seq=1))
    feed = MarketDataFeed(strict=False, price_decimals=2, uncrossed=True)
    for batch in MdLogReader(path):
        feed.apply(batch)
    book = feed.book("ABC")
    assert [(lv.price, lv.qty) for lv in book.depth(Side.BUY)] == [(102000, 100)]
    assert [(lv.price, lv.qty) for lv in book.depth(Side.SELL)] == [(101000, 100)]
