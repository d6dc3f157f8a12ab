"""LOBSTER -> FIX market-data log -> books: the replayed book is the orderbook file, row for row."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import lobster
from fixspec.dictionary import builtin_session
from fixspec.validate import validate
from gateway.cli import main
from gateway.cmd_lobster import sample_path
from gateway.codec import decode_bytes, encode
from gateway.fixlog import read_log
from gateway.md_feed import MarketDataFeed, MdLogReader
from gateway.md_fix import FixLogSummary, format_price, format_timestamp, lobster_to_fix
from gateway.md_fix import lobster_utc_ns as utc_ns
from tests.lobster_synth import generate
from tests.test_lobster import SAMPLES, SHARED, shared_pairs

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_LOG = ROOT / "engine" / "samples" / "AMZN-2012-06-21.md.log"
DAY = date(2012, 6, 21)
# A level add: New without MDEntryID for a bid or offer (the snapshot's entries have no 279).
LEVEL_ADD = re.compile(rb"\x01279=0\x01269=[01]\x0155=")


def replay_rows(log: Path, symbol: str, depth: int) -> bytes:
    """The book after every incremental refresh of ``log``, as LOBSTER CSV."""
    feed = MarketDataFeed()
    return b"".join(feed.apply(batch, record=symbol, depth=depth).rows_csv()
                    for batch in MdLogReader(log))


def round_trip(msg: Path, ob: Path, symbol: str, tmp_path: Path) -> FixLogSummary:
    """Write the log, replay it, and check every property users depend on."""
    log = tmp_path / f"{symbol}.md.log"
    summary = lobster_to_fix(msg, ob, log, symbol=symbol, day=DAY)
    replay = lobster.replay(msg, ob, tmp_path / "replay.csv")
    assert summary.rows_differ == 0, f"replay differs from {ob.name}"
    expected = ob.read_bytes().replace(b"\r\n", b"\n")
    got = replay_rows(log, symbol, summary.levels)
    if got != expected:
        ours, theirs = got.split(b"\n"), expected.split(b"\n")
        line = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=False), 1) if a != b)
        pytest.fail(f"{msg.name}: replayed book differs from {ob.name} at line {line}")
    data = log.read_bytes()
    # One X per LOBSTER message, one W; the levels that came into view are level adds,
    # exactly as many as the LOBSTER replay learned.
    assert data.count(b"\x0135=X\x01") == summary.messages == summary.incremental_refreshes
    assert data.count(b"\x0135=W\x01") == 1
    assert summary.levels_into_view == replay.levels_learned
    assert len(LEVEL_ADD.findall(data)) == summary.levels_into_view
    assert data.count(b"\n") == summary.messages + 1
    return summary


@pytest.mark.parametrize(("msg", "ob"), SAMPLES, ids=["AMZN-5", "AAPL-1"])
def test_shipped_samples_round_trip(msg: str, ob: str, tmp_path: Path) -> None:
    summary = round_trip(sample_path(msg), sample_path(ob), msg.split("_")[0], tmp_path)
    assert summary.messages == 3000
    assert summary.levels_into_view > 0 and summary.levels_out_of_view > 0


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} absent: full LOBSTER days not here")
@pytest.mark.parametrize("pair", shared_pairs(), ids=lambda p: p[0].stem)
def test_full_lobster_days_round_trip(pair: tuple[Path, Path], tmp_path: Path) -> None:
    msg, ob = pair
    summary = round_trip(msg, ob, msg.name.split("_")[0], tmp_path)
    assert summary.messages > 50_000


@pytest.mark.parametrize("levels", [1, 2, 5, 10])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_days_round_trip(levels: int, seed: int, tmp_path: Path) -> None:
    # Hidden depth, hidden executions, crosses and halts, times with 9, 6 or 3 decimals.
    day = generate(2500, levels, seed, decimals=[9, 6, 3][seed % 3])
    msg, ob = day.write(tmp_path, f"SYN{seed}_2012-06-21_34200000_57600000")
    round_trip(msg, ob, "SYN", tmp_path)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), levels=st.integers(1, 12), events=st.integers(1, 400))
def test_any_synthetic_day_round_trips(
    tmp_path: Path, seed: int, levels: int, events: int
) -> None:
    day = generate(events, levels, seed, decimals=seed % 10)
    folder = tmp_path / f"{seed}-{levels}-{events}"
    folder.mkdir()
    msg, ob = day.write(folder, "SYN_2012-06-21_34200000_57600000")
    round_trip(msg, ob, "SYN", folder)


def test_bundled_log_is_what_the_tool_writes(tmp_path: Path) -> None:
    msg, ob = (sample_path(name) for name in SAMPLES[0])
    out = tmp_path / "again.md.log"
    assert main(["lobster", "to-fix", str(msg), str(ob), "--symbol", "AMZN",
                 "--date", "2012-06-21", "-o", str(out)]) == 0
    assert out.read_bytes() == BUNDLED_LOG.read_bytes()
    assert BUNDLED_LOG.stat().st_size < 2_000_000


def test_bundled_log_replays_to_the_excerpts_orderbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "BOOK.csv"
    assert main(["backtest", "--log", str(BUNDLED_LOG), "--dump-book", "5",
                 "--book-out", str(book)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert book.read_bytes() == sample_path(SAMPLES[0][1]).read_bytes()
    assert report["rows"] == report["incremental_refreshes"] == 3000
    assert report["snapshots"] == 1 and report["symbols"] == ["AMZN"]
    assert report["messages"] == 3001 and report["events_per_second"] > 0


def test_every_message_is_valid_fix44_and_canonical() -> None:
    sd = builtin_session("FIX.4.4")
    seq = 0
    for record in read_log(BUNDLED_LOG, strict=True):
        message = decode_bytes(record.raw, sd)
        validate(message, sd)
        # Our own encoder writes the same bytes: field order is the dictionary's.
        assert encode(message, sd) == record.raw
        seq += 1
        assert message.header.get(34) == str(seq).encode()
        # The log line's time is the message's SendingTime, to the microsecond here.
        sending = message.header.get(52)
        assert sending is not None and record.timestamp is not None
        assert record.timestamp.strftime("%Y%m%d-%H:%M:%S.%f") == sending.decode()[:-3]
    assert seq == 3001


def test_synthetic_halts_and_crosses_are_valid_fix44(tmp_path: Path) -> None:
    day = generate(3000, 3, seed=11)
    msg, ob = day.write(tmp_path, "HALT")
    log = tmp_path / "halt.md.log"
    lobster_to_fix(msg, ob, log, symbol="SYN", day=DAY)
    data = log.read_bytes()
    assert b"\x01276=B\x0158=trading halt\x01" in data
    sd = builtin_session("FIX.4.4")
    for record in read_log(log, strict=True):
        validate(decode_bytes(record.raw, sd), sd)


def test_entries_say_what_each_lobster_event_did(tmp_path: Path) -> None:
    log = tmp_path / "t.md.log"
    text = ("34200.000000001,1,11,100,5000000,1\n"   # new bid order 11
            "34200.000000002,1,12,50,5010000,-1\n"   # new ask order 12
            "34200.5,2,11,30,5000000,1\n"            # partial cancel: 70 left
            "34201,4,11,70,5000000,1\n"              # executed: gone
            "34201.25,5,0,9,5005000,1\n"             # hidden execution: a trade only
            "34202,3,12,50,5010000,-1\n")            # deleted
    rows = ("9999999999,0,5000000,100\n5010000,50,5000000,100\n5010000,50,5000000,70\n"
            "5010000,50,-9999999999,0\n5010000,50,-9999999999,0\n9999999999,0,-9999999999,0\n")
    msg = tmp_path / "m.csv"
    ob = tmp_path / "o.csv"
    msg.write_text(text)
    ob.write_text(rows)
    lobster_to_fix(msg, ob, log, symbol="T", day=DAY)
    bodies = [line.split(b"\x01268=", 1)[1].rsplit(b"\x0110=", 1)[0].replace(b"\x01", b"|")
              for line in log.read_bytes().splitlines()[1:]]
    assert bodies == [
        b"1|279=0|269=0|278=11|55=T|270=500|271=100",
        b"1|279=0|269=1|278=12|55=T|270=501|271=50",
        b"1|279=1|269=0|278=11|55=T|270=500|271=70",
        b"2|279=0|269=2|55=T|270=500|271=70|37=11|279=2|269=0|278=11|55=T|270=500|271=70",
        b"1|279=0|269=2|55=T|270=500.5|271=9",
        b"1|279=2|269=1|278=12|55=T|270=501|271=50",
    ]
    assert replay_rows(log, "T", 1) == rows.encode()


def test_times_are_utc_with_lobsters_nanoseconds() -> None:
    # 2012-06-21 is daylight time in New York (UTC-4); 2012-01-03 is standard time (UTC-5).
    assert format_timestamp(utc_ns(DAY)(34_200_017_459_617)) == "20120621-13:30:00.017459617"
    winter = utc_ns(date(2012, 1, 3))
    assert format_timestamp(winter(34_200 * 10**9)) == "20120103-14:30:00.000000000"
    # The clocks went forward at 02:00 on 2012-03-11: 01:00 local is UTC-5, 09:30 is UTC-4.
    switch = utc_ns(date(2012, 3, 11))
    assert format_timestamp(switch(3600 * 10**9)) == "20120311-06:00:00.000000000"
    assert format_timestamp(switch(34_200 * 10**9 + 1)) == "20120311-13:30:00.000000001"
    # Late in the evening is the next day in UTC.
    assert format_timestamp(utc_ns(DAY)(86_399 * 10**9)) == "20120622-03:59:59.000000000"


def test_prices_are_shortest_decimals() -> None:
    assert [format_price(p) for p in (2238200, 2230000, 2238250, 1, 0)] == [
        b"223.82", b"223", b"223.825", b"0.0001", b"0"]


def _write_pair(tmp_path: Path, messages: str, rows: str) -> tuple[Path, Path]:
    msg, ob = tmp_path / "m.csv", tmp_path / "o.csv"
    msg.write_text(messages)
    ob.write_text(rows)
    return msg, ob


@pytest.mark.parametrize(
    ("messages", "rows", "where", "reason"),
    [
        ("34200.2,1,11,100,5000000,1\n34200.1,1,12,50,5010000,-1\n",
         "9999999999,0,5000000,100\n5010000,50,5000000,100\n", "m.csv:2",
         "column 1 (time): earlier than the message before"),
        ("34200.1,1,11,100,5000000,1\n34200.2,3,99,10,4990000,1\n",
         "9999999999,0,5000000,100\n9999999999,0,5000000,100\n", "m.csv:2",
         "names an order or level the book does not hold"),
        ("34200.1,1,0,100,5000000,1\n", "9999999999,0,5000000,100\n", "m.csv:1",
         "a new order needs an id above 0"),
        ("34200.1,1,11,100,5000000\n", "9999999999,0,5000000,100\n", "m.csv:1",
         "wrong number of columns"),
    ],
    ids=["time-backwards", "unknown-level", "order-id-0", "few-columns"],
)
def test_bad_lobster_input_names_file_and_line(
    tmp_path: Path, messages: str, rows: str, where: str, reason: str
) -> None:
    msg, ob = _write_pair(tmp_path, messages, rows)
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster_to_fix(msg, ob, tmp_path / "x.log", symbol="T", day=DAY)
    assert where in str(info.value) and reason in str(info.value), str(info.value)


def test_cli_takes_symbol_and_date_from_lobster_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msg, ob = (sample_path(name) for name in SAMPLES[1])
    out = tmp_path / "aapl.log"
    assert main(["lobster", "to-fix", str(msg), str(ob), "-o", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["symbol"] == "AAPL" and report["matches_orderbook"] is True
    assert report["incremental_refreshes"] == 3000 and report["levels_into_view"] > 0
    assert b"\x0152=20120621-13:30:00.004241176\x01" in out.read_bytes()


def test_cli_needs_symbol_and_date_when_names_do_not_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msg, ob = _write_pair(tmp_path, "34200.1,1,11,100,5000000,1\n", "9999999999,0,5000000,100\n")
    assert main(["lobster", "to-fix", str(msg), str(ob), "-o", str(tmp_path / "x")]) == 2
    assert "give --symbol and --date" in capsys.readouterr().err


def test_cli_reports_rows_the_log_cannot_reproduce(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The second row claims a size no message explains: the log reproduces the replay.
    msg, ob = _write_pair(tmp_path, "34200.1,1,11,100,5000000,1\n34200.2,1,12,50,5010000,-1\n",
                          "9999999999,0,5000000,100\n5010000,50,5000000,999\n")
    assert main(["lobster", "to-fix", str(msg), str(ob), "--symbol", "T", "--date",
                 "2012-06-21", "-o", str(tmp_path / "x.log")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["matches_orderbook"] is False and report["first_differing_row"] == 2
