"""Volume profiles: learning from LOBSTER and FIX logs, storage, and the shipped default."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from algos.volume_profile import (
    DEFAULT_PROFILE_PATH,
    VolumeProfile,
    default_profile,
    main,
)
from engine.lobster import read_messages

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "engine" / "samples" / "AAPL_2012-06-21_message_1_head3000.csv"
FULL_AAPL = (ROOT.parent / "shared" / "data" / "lobster"
             / "AAPL_2012-06-21_34200000_57600000_message_1.csv")


def test_learns_executions_from_the_shipped_lobster_sample() -> None:
    profile = VolumeProfile.from_lobster(SAMPLE, bucket_seconds=60)
    msgs = read_messages(SAMPLE)
    expected: dict[int, int] = {}
    for i in range(msgs.count):
        m = msgs.array[i]
        if m.type in (4, 5):
            k = m.time_ns // 60_000_000_000
            expected[k] = expected.get(k, 0) + m.size
    assert profile.total == sum(expected.values()) > 0
    assert {i: v for i, v in enumerate(profile.volumes) if v} == expected
    assert profile.zone == "America/New_York"
    # Nothing trades before the open in this file; all of it is done by the sample's end.
    assert profile.cumulative(time(9, 29)) == 0.0
    last = max(expected) + 1
    assert profile.cumulative(last * 60) == pytest.approx(1.0)


def test_cumulative_spreads_a_bucket_evenly_and_fraction_wraps_midnight() -> None:
    profile = VolumeProfile({0: 100, 2: 300}, bucket_seconds=3600)  # 00-01h and 02-03h
    assert profile.cumulative(time(0, 30)) == pytest.approx(50 / 400)
    assert profile.cumulative(time(1, 30)) == pytest.approx(100 / 400)
    assert profile.fraction(time(0, 30), time(2, 30)) == pytest.approx(200 / 400)
    assert profile.fraction(time(2, 30), time(0, 30)) == pytest.approx(200 / 400)  # wraps


def test_between_datetimes_converts_zones_and_spans_days() -> None:
    profile = VolumeProfile({10: 100, 14: 100}, bucket_seconds=3600, zone="America/New_York")
    # 14:00 UTC is 10:00 in New York in June: the 10h bucket, one half of the day's volume.
    a = datetime(2024, 6, 3, 14, 0, tzinfo=UTC)
    b = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)
    assert profile.between(a, b) == pytest.approx(0.5)
    assert profile.between(a, a.replace(day=5)) == pytest.approx(2.0)
    assert profile.between(b, a) == 0.0
    naive = datetime(2024, 6, 3, 10, 30)  # naive: already New York time
    assert profile.between(naive, naive.replace(hour=14, minute=30)) == pytest.approx(0.5)


@pytest.mark.parametrize(("start_utc", "what"), [
    (datetime(2024, 11, 3, 5, 30, tzinfo=UTC), "autumn: 01:30 EDT, the hour repeated"),
    (datetime(2024, 3, 10, 6, 30, tzinfo=UTC), "spring: 01:30 EST, the hour skipped"),
])
def test_an_hour_across_a_clock_change_holds_an_hours_volume(start_utc: datetime,
                                                             what: str) -> None:
    """A profile of even volume around the clock (a 24-hour market) in New York: one hour
    across the autumn change counted nothing (01:30 EDT to 01:30 EST compared as clock
    times), and across the spring change two hours (01:30 to 03:30)."""
    profile = VolumeProfile(dict.fromkeys(range(288), 100), bucket_seconds=300,
                            zone="America/New_York")
    hour = profile.between(start_utc, start_utc.replace(hour=start_utc.hour + 1))
    assert hour == pytest.approx(1 / 24), what
    two_hours = profile.between(start_utc, start_utc.replace(hour=start_utc.hour + 2))
    assert two_hours == pytest.approx(2 / 24), what
    # the same instants given in the profile's own zone (arithmetic on them is on the wall
    # clock, which goes back in autumn)
    zone = ZoneInfo("America/New_York")
    local = start_utc.astimezone(zone)
    assert profile.between(local, (start_utc + timedelta(hours=1)).astimezone(zone)) == \
        pytest.approx(1 / 24), what


@pytest.mark.parametrize(("hour", "days"), [
    (1, 336),  # 01:00-02:00 comes twice on 3 November
    (2, 334),  # 02:00-03:00 never comes on 10 March
])
def test_a_window_holding_both_clock_changes_counts_each(hour: int, days: int) -> None:
    """January to December in New York: both ends are on standard time, and each change
    inside still counts (335 days, one hour's volume more or less). The change is found to
    the second: a window from January to June, across the spring change alone, holds whole
    days' volumes too."""
    profile = VolumeProfile({hour: 100}, bucket_seconds=3600, zone="America/New_York")
    a = datetime(2024, 1, 15, 12, tzinfo=UTC)
    year = profile.between(a, datetime(2024, 12, 15, 12, tzinfo=UTC))
    assert year == pytest.approx(days, abs=1e-6)
    spring = profile.between(a, datetime(2024, 6, 15, 12, tzinfo=UTC))
    assert spring == pytest.approx(152 - (hour == 2), abs=1e-6)


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_between_over_years_is_the_sum_of_its_half_hours_each_on_its_own_clock(
        zone: str) -> None:
    """Three years and a bit, crossing every clock change in them (Lord Howe's are half an
    hour): the expected volume is what adding up each half hour of the window, at the
    bucket its own local time falls in, gives."""
    buckets = [(k * 37) % 101 for k in range(48)]
    profile = VolumeProfile(buckets, bucket_seconds=1800, zone=zone)
    tz = ZoneInfo(zone)
    a = datetime(2031, 2, 3, 4, 30, tzinfo=UTC)
    b = a + timedelta(days=1100, hours=7)
    step, t, brute = timedelta(minutes=30), a, 0.0
    while t < b:
        local = t.astimezone(tz)
        brute += buckets[(local.hour * 3600 + local.minute * 60) // 1800] / profile.total
        t += step
    assert profile.between(a, b) == pytest.approx(brute, rel=1e-9)


def test_save_load_round_trip(tmp_path: Path) -> None:
    profile = VolumeProfile.from_lobster(SAMPLE)
    path = tmp_path / "p.csv"
    profile.save(path)
    again = VolumeProfile.load(path)
    assert again == profile
    assert again.to_csv() == profile.to_csv()


def test_load_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("# zone: UTC\nstart,volume\n09:30:00,10\n09:35,x\n")
    with pytest.raises(ValueError, match=r"bad\.csv:4: expected HH:MM:SS,shares"):
        VolumeProfile.load(path)


def test_rejects_a_bucket_width_that_does_not_divide_a_day() -> None:
    with pytest.raises(ValueError, match="must divide a day"):
        VolumeProfile({}, bucket_seconds=7)


def _fix(body: str) -> str:
    """A FIX 4.2 message with a correct BodyLength and CheckSum; ``|`` stands for SOH."""
    b = body.replace("|", "\x01")
    head = f"8=FIX.4.2\x019={len(b)}\x01"
    total = sum((head + b).encode()) % 256
    return f"{head}{b}10={total:03d}\x01"


def test_learns_trades_from_fix_logs_each_once(tmp_path: Path) -> None:
    lines = [
        # A fill at 14:31 UTC, then its resend (same ExecID): counted once.
        _fix("35=8|49=VENUE|56=GW|34=2|52=20240603-14:31:00.000|55=AAPL|17=E1|20=0|150=2|"
             "32=300|31=10.5|60=20240603-14:31:00.000|"),
        _fix("35=8|49=VENUE|56=GW|34=3|43=Y|52=20240603-14:40:00.000|55=AAPL|17=E1|20=0|150=2|"
             "32=300|31=10.5|60=20240603-14:31:00.000|"),
        # A trade cancel (ExecTransType 1) and an ack without quantity: not trades.
        _fix("35=8|49=VENUE|56=GW|34=4|52=20240603-14:32:00.000|55=AAPL|17=E2|20=1|"
             "32=300|31=10.5|60=20240603-14:32:00.000|"),
        _fix("35=8|49=VENUE|56=GW|34=5|52=20240603-14:33:00.000|55=AAPL|17=E3|20=0|150=0|"
             "32=0|31=0|60=20240603-14:33:00.000|"),
        # Another symbol: dropped by the filter.
        _fix("35=8|49=VENUE|56=GW|34=6|52=20240603-14:34:00.000|55=MSFT|17=E4|20=0|150=2|"
             "32=999|31=10.5|60=20240603-14:34:00.000|"),
        # Market data: a bid entry and a trade entry with its own time (15:02:10 UTC).
        _fix("35=X|49=MD|56=GW|34=7|52=20240603-15:02:11.000|268=2|279=0|269=0|55=AAPL|"
             "270=10.4|271=500|279=0|269=2|55=AAPL|270=10.5|271=200|273=15:02:10|"),
        # A trade capture report at 15:10 UTC.
        _fix("35=AE|49=TCR|56=GW|34=8|52=20240603-15:10:00|571=T1|487=0|55=AAPL|32=100|"
             "31=10.5|60=20240603-15:10:00|"),
    ]
    log = tmp_path / "fix.log"
    log.write_text("".join(f"20240603-15:20:00.000 : {m}\n" for m in lines))
    profile = VolumeProfile.from_fix_logs(log, symbol="AAPL", bucket_seconds=300,
                                          zone="America/New_York")
    got = {time(i * 300 // 3600, i * 300 // 60 % 60): v
           for i, v in enumerate(profile.volumes) if v}
    assert got == {time(10, 30): 300, time(11, 0): 200, time(11, 10): 100}
    assert profile.days == 1


def test_shipped_default_profile_is_a_trading_day() -> None:
    profile = default_profile()
    assert profile.zone == "America/New_York"
    assert profile.bucket_seconds == 300
    assert profile.cumulative(time(9, 30)) == 0.0
    assert profile.cumulative(time(16, 0)) == pytest.approx(1.0)
    # The close is busier than midday, as on any equity day.
    assert profile.fraction(time(15, 30), time(16)) > profile.fraction(time(12), time(12, 30))


@pytest.mark.skipif(not FULL_AAPL.exists(),
                    reason="../shared/data/lobster (the full AAPL day) is not present")
def test_shipped_default_profile_regenerates_from_the_full_aapl_day(tmp_path: Path) -> None:
    out = tmp_path / "regenerated.csv"
    assert main(["lobster", str(FULL_AAPL), "-o", str(out)]) == 0
    assert out.read_text() == DEFAULT_PROFILE_PATH.read_text()


def test_a_log_without_trades_names_the_file_and_what_was_looked_for(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Once: "no trades found in the input", with no program and no file.
    log = tmp_path / "acks.log"
    log.write_text("20240603-15:20:00.000 : " + _fix(
        "35=8|49=VENUE|56=GW|34=2|52=20240603-14:31:00.000|55=AAPL|17=E1|20=0|150=0|"
        "32=0|31=0|60=20240603-14:31:00.000|") + "\n")
    out = tmp_path / "profile.csv"
    assert main(["fixlog", str(log), "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"python -m algos.volume_profile: error: {log}: no trades found (looked for fills: "
        "35=8 with LastQty (32) > 0; TradeCaptureReports: 35=AE; market-data trade entries: "
        "35=W/X with 269=2); no profile written\n")
    assert not out.exists()
    assert main(["fixlog", str(log), "-o", str(out), "--symbol", "MSFT"]) == 1
    assert f"{log}: no trades of symbol MSFT found" in capsys.readouterr().err


def test_unreadable_input_is_one_line_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "p.csv")
    assert main(["fixlog", str(tmp_path / "nope.log"), "-o", out]) == 2
    assert capsys.readouterr().err == (
        f"python -m algos.volume_profile: error: INPUT {tmp_path / 'nope.log'}: no such file\n")
    bad = tmp_path / "bad_message_1.csv"
    bad.write_text("34200.1,1,11,100,x,1\n")
    assert main(["lobster", str(bad), "-o", out]) == 2
    assert capsys.readouterr().err == (
        f"python -m algos.volume_profile: error: {bad}:1: column 5 (price): not a number\n")
