"""``gateway backtest CONFIG.yaml``: the venue on a virtual clock, fed from the bundled AMZN
market-data log, working parents over FIX sessions (in memory), next to the baselines.

The shipped config (sessions/backtest.yaml) is run once for the module; other tests write
their own configs next to a copy of it.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import io
import itertools
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from engine._core import lib

from engine.book_types import OpType, Side
from fixspec.dictionary import load_builtin
from gateway import backtest
from gateway.backtest import Backtest, BacktestInputError
from gateway.backtest_client import BacktestClient, PlannedParent
from gateway.backtest_records import ParentRecord, RunRecord
from gateway.client_app import parent_message
from gateway.client_order import ClientOrder
from gateway.clock import to_ns
from gateway.config import ConfigError
from gateway.latency import MeasuredLatency
from gateway.md_feed import MdLogReader, MdUpdate
from gateway.tca import run_metrics
from tests.conformance.harness import Client
from tests.gateway_proc import start_gateway, stop_gateway
from tests.test_latency import _write_log
from tests.test_md_feed import line

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "sessions" / "backtest.yaml"
SAMPLE = ROOT / "engine" / "samples" / "AMZN-2012-06-21.md.log"
START = datetime(2012, 6, 21, 13, 30, 30, tzinfo=UTC)


def gateway(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def config_with(tmp_path: Path, log: Path = SAMPLE, **backtest: Any) -> Path:
    """The shipped config with ``backtest:`` keys replaced and the log and output moved."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(CONFIG.read_text())
    data["venue"]["market_data"]["log"] = str(log)
    data["backtest"].update(backtest)
    data["backtest"]["output"] = str(tmp_path / "out")
    path = tmp_path / "backtest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest") / "report"
    proc = gateway("backtest", str(CONFIG), "--output", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout
    return out


def test_the_report_folder_has_every_output(report: Path) -> None:
    for name in ("summary.json", "fills.csv", "orders.csv", "timeseries.csv", "report.html",
                 "schedule_vs_fills.png", "price_fills.png", "slippage_hist.png",
                 "cum_pnl.png"):
        assert (report / name).is_file(), name
    html = (report / "report.html").read_text()
    assert all(png in html for png in ("schedule_vs_fills.png", "cum_pnl.png"))
    # each run's audit log and FIX message logs, for gateway audit
    for run in ("algo", "naive", "twap"):
        assert (report / run / "audit.jsonl").is_file()


def test_each_child_in_orders_csv_says_why_the_algo_sent_it(report: Path) -> None:
    """The algo's reason for each child (its audit's child_sent reason: a slice, a
    catch-up) is the orders.csv row's, not an empty column."""
    with (report / "orders.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["run"] == "algo" and r["child_id"]]
    assert rows and all(r["reason"] for r in rows), rows[:3]
    sent = {json.loads(line)["child"]: json.loads(line).get("reason")
            for line in (report / "algo" / "audit.jsonl").read_text().splitlines()
            if '"child_sent"' in line}
    assert {r["child_id"]: r["reason"] for r in rows} == {c: sent[c] for c in sent}


def test_the_algo_works_the_parent_and_the_baselines_run_beside_it(report: Path) -> None:
    summary = json.loads((report / "summary.json").read_text())
    runs = summary["runs"]
    assert set(runs) == {"algo", "naive", "twap"}
    algo = runs["algo"]["total"]
    # TWAP capped at 30% of the volume: it trades, in many children, and the cap holds it
    # back from the quantity the uncapped baseline reaches
    assert 0 < algo["filled"] < 3000 and algo["qty"] == 3000 and algo["child_count"] > 1
    assert runs["algo"]["strategy"] == "twap"
    # naive: one market order at the start; a market order cannot take more than the
    # visible book holds, so it fills part of the parent
    naive = runs["naive"]["total"]
    assert naive["child_count"] == 1
    assert 0 < naive["filled"] <= 3000
    assert naive["aggressive_share"] == 1
    twap = runs["twap"]["total"]
    assert twap["filled"] == 3000 and twap["child_count"] > 1


def test_fills_come_at_market_times_with_the_latency_model(report: Path) -> None:
    with (report / "fills.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["run"] == "naive"]
    assert rows
    # the naive order is decided at the parent's start (13:30:30), executed at the venue
    # entry = 0.5 ms later, and its fills reach the algo entry + ack = 1 ms later
    # (sessions/backtest.yaml: 0.5 ms each way)
    for r in rows:
        decided = datetime.fromisoformat(r["decided"])
        time = datetime.fromisoformat(r["time"])
        executed = datetime.fromisoformat(r["executed"])
        assert decided == START
        assert time - decided == timedelta(milliseconds=1)
        assert executed - decided == timedelta(microseconds=500)
        assert r["liquidity"] == "aggressive"
    with (report / "fills.csv").open() as f:
        liquidity = {r["liquidity"] for r in csv.DictReader(f) if r["run"] == "algo"}
    assert liquidity == {"passive", "aggressive"}  # resting children fill from the replay


def test_the_naive_parent_ends_when_its_market_orders_remainder_is_canceled(
        report: Path) -> None:
    """Its one order is over 1 ms after the start (the venue cancels what the book could
    not fill): the parent ends then, so the TCA prices its unfilled shares at that mid,
    not at the mid two minutes later when its window ends."""
    with (report / "orders.csv").open() as f:
        rows = {r["kind"]: r for r in csv.DictReader(f) if r["run"] == "naive"}
    parent, child = rows["parent"], rows["child"]
    assert child["status"] == "canceled" and int(child["filled"]) < 3000
    assert parent["done"] == child["done"] == (START + timedelta(milliseconds=1)).isoformat(
        timespec="microseconds")
    assert parent["status"] == "canceled" and parent["reason"].startswith("naive: ")
    summary = json.loads((report / "summary.json").read_text())
    naive = summary["runs"]["naive"]["parents"][0]
    assert naive["end"] == parent["end"]  # the window is still the schedule given


def test_the_sessions_run_on_the_market_clock(report: Path) -> None:
    """The venue's own FIX log: the parent order and its reports carry SendingTimes of the
    replayed day, not of the machine that ran the backtest."""
    logs = list((report / "algo" / "venue" / "log").glob("*messages*"))
    assert logs
    text = logs[0].read_text(errors="replace")
    assert "35=D\x01" in text and "\x0152=20120621-13:30:30" in text
    stamps = re.findall(r"\x0152=([^\x01]*)", text)
    assert stamps and all(s.startswith("20120621-13:") for s in stamps)


def test_a_run_repeats_exactly(tmp_path: Path) -> None:
    first = Backtest(config_with(tmp_path)).run()
    second = Backtest(config_with(tmp_path)).run()

    def fills(run: RunRecord) -> list[tuple[object, ...]]:
        return [(f.time, f.qty, f.price, f.liquidity) for f in run.fills]

    for name in ("algo", "naive", "twap"):
        assert fills(first.runs[name]) == fills(second.runs[name])
    assert first.runs["algo"].parents[0].avg_px == second.runs["algo"].parents[0].avg_px


def test_the_same_inputs_give_byte_identical_output_folders(tmp_path: Path) -> None:
    """Every file of two runs' folders, the FIX and audit logs of each pass included: ids
    were numbered from the wall clock and the report held the passes' timings, so no two
    runs could be diffed or kept as a golden file."""
    import subprocess
    import sys
    folders = [tmp_path / "one", tmp_path / "two"]
    for out in folders:
        subprocess.run([sys.executable, "-m", "gateway.cli", "backtest",
                        str(ROOT / "sessions/backtest.yaml"), "--output", str(out)],
                       check=True, capture_output=True, cwd=ROOT, timeout=300)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file()}

    one, two = map(files, folders)
    assert len(one) > 10 and any(name.endswith(".log") for name in one)
    assert one.keys() == two.keys()
    assert [name for name in one if one[name] != two[name]] == []


def test_a_fixt_venue_of_an_earlier_application_version_is_backtested(tmp_path: Path) -> None:
    """The client's generated session said FIX.5.0SP2 in its Logon whatever the venue's
    session took: a FIXT.1.1 venue of FIX.4.4 messages refused it and nothing traded."""
    path = config_with(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["defaults"].update(begin_string="FIXT.1.1", default_appl_ver_id="FIX.4.4")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = Backtest(path).run()
    assert all(p.filled > 0 for p in result.runs["algo"].parents)


def test_resting_children_fill_only_from_the_replay(tmp_path: Path) -> None:
    """Every passive fill of the algo has, at the same market time, a market trade at or
    through its price, or a replayed offer arriving at or through it (which trades with the
    child resting there first): resting children fill from the replay, never from nothing."""
    result = Backtest(config_with(tmp_path, latency={"entry": 0, "ack": 0})).run()
    tape = result.tapes["AMZN"]
    passive = [f for f in result.runs["algo"].fills if f.liquidity == "passive"]
    assert passive
    offers = sorted(  # (time ns, price) of every offer the log adds or moves
        (int(e["time"]), Decimal(int(e["price"])) / 10_000)
        for batch in MdLogReader(SAMPLE) for e in MdUpdate(batch, 0, batch.count, batch.count,
                                                           0).entry_columns()
        if e["kind"] == lib.MD_ENTRY_BOOK and e["side"] == Side.SELL
        and e["type"] in (OpType.ADD, OpType.REPLACE))
    for f in passive:
        lo, hi = tape.trades_between(f.time, f.time + timedelta(microseconds=1))
        prints = [Decimal(p) * tape.tick for p in tape.trade_prices[lo:hi]]
        # the offers the log placed in that microsecond (fills are timed to it)
        at = to_ns(f.time)
        lo, hi = bisect.bisect_left(offers, (at,)), bisect.bisect_left(offers, (at + 1000,))
        arrived = any(price <= f.price for _, price in offers[lo:hi])
        # a buy: a print at or below its bid, or an offer that just arrived there
        assert any(p <= f.price for p in prints) or arrived, f"nothing to fill {f}"


def test_bad_market_data_stops_with_file_and_line_or_is_skipped(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes().split(b"\n")
    lines[9] = b"this is not a FIX message"
    damaged = tmp_path / "damaged.md.log"
    damaged.write_bytes(b"\n".join(lines))
    cfg = config_with(tmp_path, log=damaged)
    proc = gateway("backtest", str(cfg), "--quiet")
    assert proc.returncode == 2
    assert f"{damaged}:10:" in proc.stderr and "not a log line" in proc.stderr
    assert "use --on-error skip" in proc.stderr
    assert not (tmp_path / "out" / "summary.json").exists()

    proc = gateway("backtest", str(cfg), "--quiet", "--on-error", "skip")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped {damaged}:10:" in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    skipped, noted = summary["info"]["skipped_input"], summary["info"]["noted_input"]
    # the junk line is skipped; the message it replaced is missing from the sequence
    # numbers, which is noted at the next line, whose message is applied, not skipped
    assert skipped["count"] == 1 and noted["count"] == 1
    assert f"{damaged}:10: not a log line" in skipped["first"][0]
    assert f"{damaged}:11: MsgSeqNum (34) is 11 where 10 was expected" in noted["first"][0]
    assert f"gateway backtest: {damaged}:11: MsgSeqNum" in proc.stderr
    assert f"skipped {damaged}:11" not in proc.stderr
    assert "skipped 1 bad market-data line(s)" in proc.stdout
    assert "noted 1 problem(s) before market-data messages that were applied" in proc.stdout


def test_a_garbled_message_skipped_is_one_problem_not_two(tmp_path: Path) -> None:
    """A message cut in half: the framer refuses it, and the gap it leaves in MsgSeqNum is
    its own, not a second problem (once: "skipped 2", the next sound line named skipped)."""
    lines = SAMPLE.read_bytes().split(b"\n")
    lines[199] = lines[199][: len(lines[199]) // 2]
    damaged = tmp_path / "damaged.md.log"
    damaged.write_bytes(b"\n".join(lines))
    proc = gateway("backtest", str(config_with(tmp_path, log=damaged)), "--quiet",
                   "--on-error", "skip")
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "out" / "summary.json").read_text())["info"]
    assert (info["skipped_input"]["count"], info["noted_input"]["count"]) == (1, 0)
    assert f"{damaged}:200: unreadable FIX message" in info["skipped_input"]["first"][0]
    assert f"{damaged}:201" not in proc.stderr


def test_a_repeated_trade_skipped_is_not_traded_twice(tmp_path: Path) -> None:
    """A market-data message logged twice: with skip, the repeat is reported and the tape
    (the market's volume, which TCA measures against) is the clean log's."""
    lines = SAMPLE.read_bytes().split(b"\n")
    at = next(i for i, raw in enumerate(lines) if b"\x01269=2\x01" in raw)  # a trade
    doubled = tmp_path / "doubled.md.log"
    doubled.write_bytes(b"\n".join([*lines[:at + 1], lines[at], *lines[at + 1:]]))
    skipped: list[str] = []

    def volume(log: Path, name: str) -> int:
        bt = Backtest(config_with(tmp_path / name, log=log, on_error="skip"),
                      warn=io.StringIO())
        tapes = bt.market_pass()[0]
        skipped.extend(bt._skipped.first)
        return sum(tapes["AMZN"].trade_sizes)

    assert volume(doubled, "doubled") == volume(SAMPLE, "clean")
    assert len(skipped) == 1 and f"{doubled}:{at + 2}: MsgSeqNum (34)" in skipped[0]


def test_an_empty_market_data_log_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md.log"
    empty.write_bytes(b"")
    proc = gateway("backtest", str(config_with(tmp_path, log=empty)), "--quiet")
    assert proc.returncode == 2
    assert f"the market data ({empty}) has no messages" in proc.stderr
    assert "--on-error skip" not in proc.stderr  # skipping cannot help here


def test_a_symbol_the_venue_does_not_list_is_bad_input(tmp_path: Path) -> None:
    """Two logs (merged in time); the second holds a symbol the venue does not list."""
    other = tmp_path / "other.md.log"
    other.write_bytes(line("55=XYZ|268=1|269=0|278=1|270=10|271=50", "W",
                           time="20120621-13:30:10.000000000"))
    cfg = config_with(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    data["venue"]["market_data"]["log"] = [str(SAMPLE), str(other)]
    cfg.write_text(yaml.safe_dump(data))
    proc = gateway("backtest", str(cfg), "--quiet")
    assert proc.returncode == 2
    assert f"{other}:1: unknown symbol 'XYZ'" in proc.stderr
    proc = gateway("backtest", str(cfg), "--quiet", "--on-error", "skip")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped {other}:1: unknown symbol 'XYZ'" in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"]["twap"]["total"]["filled"] == 3000


def test_config_errors_name_the_file_and_key(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, orders=[{"symbol": "NOPE", "side": "buy", "qty": 10,
                                         "start": "13:31:00", "window": 60}])
    with pytest.raises(ValueError, match=r"backtest\.yaml:\d+: .*unknown symbol 'NOPE'"):
        Backtest(cfg)
    cfg = config_with(tmp_path, snapshot_interval="often")
    with pytest.raises(ValueError, match=r"backtest\.yaml:\d+: backtest.snapshot_interval"):
        Backtest(cfg)
    cfg = config_with(tmp_path, orders=[{"symbol": "AMZN", "side": "buy", "qty": 10,
                                         "start": "13:31:00", "window": 60,
                                         "params": "Slices=3;MaxChildQty"}])
    with pytest.raises(ValueError, match=r"backtest\.yaml:\d+: .*params: .*'MaxChildQty' is "
                                         r"not key=value"):
        Backtest(cfg)
    # what TWAP would refuse when the parent arrives is refused here, with its line
    for bad, message in (({"params": "Slicez=4"}, r"params: unknown TWAP parameter Slicez"),
                         ({"params": "Slices=0"}, r"params: TWAP Slices must be a positive"),
                         ({"participation": 0}, r"participation: .*in \(0, 1\], got 0"),
                         ({"strategy": "9999"}, r"strategy: TargetStrategy '9999' is not one")):
        cfg = config_with(tmp_path, orders=[{"symbol": "AMZN", "side": "buy", "qty": 10,
                                             "start": "13:31:00", "window": 60, **bad}])
        with pytest.raises(ValueError, match=r"backtest\.yaml:\d+: .*" + message):
            Backtest(cfg)


def test_a_live_replay_speed_does_not_change_a_backtest(tmp_path: Path) -> None:
    """``market_data: speed`` paces live replays; a backtest runs on market time whatever
    it says, and a symbol the venue lists but the feed does not drive is no error."""
    plain = Backtest(config_with(tmp_path / "a", baselines=[])).run()
    cfg = config_with(tmp_path / "b", baselines=[])
    data = yaml.safe_load(cfg.read_text())
    other = tmp_path / "xyz.md.log"
    other.write_bytes(line("55=XYZ|268=1|269=0|278=1|270=10|271=50", "W",
                           time="20120621-13:30:10.000000000"))
    data["venue"]["market_data"].update(log=[str(SAMPLE), str(other)], speed=20,
                                        symbols=["AMZN"])
    data["venue"]["symbols"]["XYZ"] = {"tick_size": 0.0001}
    cfg.write_text(yaml.safe_dump(data))
    fast = Backtest(cfg).run()
    assert fast.skipped_count == 0 and fast.last == plain.last
    assert [(f.time, f.qty, f.price) for f in fast.runs["algo"].fills] == \
        [(f.time, f.qty, f.price) for f in plain.runs["algo"].fills]


def test_the_report_names_the_symbols_the_market_data_drove(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, baselines=[])
    data = yaml.safe_load(cfg.read_text())
    data["venue"]["symbols"]["MSFT"] = {"tick_size": 0.0001}  # listed, but no data for it
    cfg.write_text(yaml.safe_dump(data))
    assert Backtest(cfg).run().info()["market"]["symbols"] == ["AMZN"]


@pytest.mark.parametrize(("start", "error"), [
    ("15:00:00", r"starts at 15:00:00, after the market data ends"),
    ("13:00:00", r"ends at 13:01:00, before the market data starts"),
])
def test_an_order_outside_the_market_data_is_refused(tmp_path: Path, start: str,
                                                     error: str) -> None:
    # the sample runs from 13:30:00 to 13:40:47: there is no market to trade in
    cfg = config_with(tmp_path, orders=[{"symbol": "AMZN", "side": "buy", "qty": 10,
                                         "start": start, "window": 60}])
    with pytest.raises(BacktestInputError, match=r"backtest\.yaml:\d+: .*" + error):
        Backtest(cfg).run()


def test_a_window_past_the_market_data_is_said_not_silent(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, orders=[{"symbol": "AMZN", "side": "buy", "qty": 10,
                                         "start": "13:40:00", "window": 120}], baselines=[],
                      snapshot_interval="events")
    warn = io.StringIO()
    result = Backtest(cfg, warn=warn).run()
    assert result.info()["snapshot_interval"] == "events"  # as configured, not null
    assert re.search(r"backtest\.yaml:\d+: the order's window runs to 13:42:00, past the end "
                     r"of the market data \(13:40:47\)", warn.getvalue()), warn.getvalue()


def test_a_parent_starting_before_the_market_data_is_said_not_silent(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, orders=[{"symbol": "AMZN", "side": "buy", "qty": 10,
                                         "start": "13:29:30", "window": 60}], baselines=[],
                      snapshot_interval="events")
    warn = io.StringIO()
    Backtest(cfg, warn=warn).run()
    assert re.search(r"backtest\.yaml:\d+: the order starts at 13:29:30, before the market "
                     r"data \(13:30:00\); its arrival mid is the first book's",
                     warn.getvalue()), warn.getvalue()


def test_a_log_or_output_that_cannot_be_used_is_named_before_the_replay(
        tmp_path: Path) -> None:
    for log, reason in ((tmp_path / "nosuch.log", "no such file"),
                        (tmp_path, "is not a regular file")):
        with pytest.raises(ConfigError, match=r"backtest\.yaml:\d+: venue\.market_data\.log: "
                           + f".*{reason}"):
            Backtest(config_with(tmp_path, log=log))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(BacktestInputError, match=r"the output folder .*a-file/out cannot be "
                       r"written"):
        Backtest(config_with(tmp_path), output=blocker / "out")


def test_an_application_other_than_the_venue_is_named_where_it_is_set(tmp_path: Path) -> None:
    path = config_with(tmp_path)
    text = path.read_text().replace("application: venue", "application: echo")
    path.write_text(text)
    line = text.splitlines().index("  application: echo") + 1
    with pytest.raises(ConfigError) as error:
        Backtest(path)
    assert str(error.value) == (f"{path}:{line}: defaults.application: a backtest replays a "
                                "venue config (application: venue), not echo")


def test_gateway_run_mode_backtest_is_the_same_backtest(tmp_path: Path) -> None:
    proc = gateway("run", str(config_with(tmp_path)), "--mode", "backtest")
    assert proc.returncode == 0, proc.stderr
    via_run = json.loads((tmp_path / "out" / "summary.json").read_text())["runs"]
    proc = gateway("backtest", str(config_with(tmp_path)), "--quiet")
    assert proc.returncode == 0, proc.stderr
    direct = json.loads((tmp_path / "out" / "summary.json").read_text())["runs"]
    for run in ("algo", "naive", "twap"):
        assert via_run[run]["total"]["filled"] == direct[run]["total"]["filled"]
        assert via_run[run]["total"]["avg_px"] == direct[run]["total"]["avg_px"]


def test_the_same_config_serves_live(tmp_path: Path) -> None:
    """``gateway run CONFIG`` (--mode live, the default) ignores the backtest section and
    serves the venue over TCP, its AMZN book driven by the market-data log in real time."""
    proc, port = start_gateway(CONFIG, tmp_path / "run")
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        c.msg(f"35=D|11=L1|54=1|38=100|40=2|44=220.00|55=AMZN|59=0|60={c.ts()}")
        c.expect("8", **{"11": "L1", "150": "0"})
        c.close()
    finally:
        assert stop_gateway(proc) == 0


def test_latency_measured_from_a_captured_log(tmp_path: Path) -> None:
    """A child's decision -> acknowledgement is entry (0.5 of a measured round trip) plus
    ack (0.5 of another), or later when it queues behind a message sent before it."""
    log = _write_log(tmp_path / "fix.log")  # round trips 1.25 ms, 15 ms, 10.5 ms
    cfg = config_with(tmp_path, latency={"measured": str(log), "split": 0.5, "seed": 3},
                      baselines=[])
    result = Backtest(cfg).run()
    children = [c for c in result.runs["algo"].children if c.acked is not None]
    assert children
    legs = {0.000625, 0.0075, 0.00525}  # half of each measured round trip
    sums = {round(a + b, 6) for a in legs for b in legs}
    seen = [round((c.acked - c.decided).total_seconds(), 6) for c in children
            if c.acked is not None]
    assert min(seen) >= min(sums)
    assert sum(x in sums for x in seen) >= len(seen) / 2  # most do not queue
    assert result.info()["latency"]["kind"] == "measured"


def test_a_wide_latency_spread_keeps_each_direction_in_order(tmp_path: Path) -> None:
    """Draws of 1 ms and 3 s each way: a cancel never overtakes its order (which would
    leave the order resting after its parent ends), nor a fill its acknowledgement."""
    bt = Backtest(config_with(tmp_path, baselines=["twap"]))
    bt.bt = dataclasses.replace(bt.bt, latency=MeasuredLatency(
        log=tmp_path / "none.log", round_trips=(0.002, 6.0), split=0.5, seed=1))
    result = bt.run()
    for run in result.runs.values():
        parent = run.parents[0]
        assert parent.done is not None, f"{run.run}: the parent never ended"
        for c in run.children:
            assert c.done is not None, f"{run.run}: {c.child_id} still working"
            if c.acked is not None and c.first_fill is not None:
                assert c.acked <= c.first_fill


def test_a_rejected_parent_is_reported_not_silent(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, baselines=[], orders=[
        {"symbol": "AMZN", "side": "buy", "qty": 100, "start": "13:31:00", "window": 60}])
    data = yaml.safe_load(cfg.read_text())
    data["risk"] = {"default": {"max_order_qty": 50}}  # the desk refuses the parent
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = gateway("backtest", str(cfg), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "algo run: parent P1 rejected:" in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"]["algo"]["parents"][0]["status"] == "rejected"
    # named as an accepted one is (the strategy's name, not its TargetStrategy code)
    assert summary["runs"]["algo"]["parents"][0]["strategy"] == "twap"
    assert summary["runs"]["algo"]["strategy"] == "twap"


def test_the_arrival_mid_is_the_markets_in_every_run(tmp_path: Path) -> None:
    """At 13:31 AMZN is 223.86/224.35 (mid 224.105). The naive baseline rests P1's buy at
    its limit 224.00, inside the spread, so the venue's book P2 arrives at a second later
    (the desk's mid) is 224.00/224.35: the TCA measures P2 from the market's mid, the tape's,
    in the naive run as in the algo run, not from a mid its own order moved."""
    cfg = config_with(tmp_path, baselines=["naive"], latency={"entry": 0.001, "ack": 0.002},
                      orders=[{"symbol": "AMZN", "side": "buy", "qty": 500, "start": "13:31:00",
                               "window": 60, "params": "Slices=5", "limit": 224.0},
                              {"symbol": "AMZN", "side": "buy", "qty": 100, "start": "13:31:01",
                               "window": 30, "params": "Slices=2"}])
    result = Backtest(cfg).run()
    tape = result.tapes["AMZN"]
    p2 = result.runs["naive"].parents[1]
    assert tape.mid_at(p2.start) == Decimal("224.105")
    assert p2.arrival_mid == Decimal("224.175")     # what the desk saw: our own bid in it
    for name in ("algo", "naive"):
        m = run_metrics(result.runs[name], result.tapes).parent("P2")
        assert m["arrival_mid"] == 224.105, name
        avg = Decimal(str(m["avg_px"]))
        assert m["slippage_arrival_bps"] == pytest.approx(
            float((avg - Decimal("224.105")) / Decimal("224.105") * 10_000), abs=1e-4)


def test_runs_from_memory_equal_runs_that_read_the_logs_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = Backtest(config_with(tmp_path, baselines=["twap"])).run()
    monkeypatch.setattr(backtest, "KEEP_DECODED_BYTES", 0)  # every run reads the files
    read = Backtest(config_with(tmp_path, baselines=["twap"])).run()
    for name in ("algo", "twap"):
        assert [(f.time, f.qty, f.price) for f in kept.runs[name].fills] == \
            [(f.time, f.qty, f.price) for f in read.runs[name].fills]
        assert kept.passes[1].messages == read.passes[1].messages


def test_a_parent_whose_session_cannot_log_on_is_reported(tmp_path: Path) -> None:
    """CLIENT2's session is scheduled for the evening only: its parent is never sent, the
    run still ends, and says so."""
    cfg = config_with(tmp_path, baselines=[], orders=[
        {"session": "CLIENT2", "symbol": "AMZN", "side": "buy", "qty": 100,
         "start": "13:31:00", "window": 60}])
    data = yaml.safe_load(cfg.read_text())
    data["sessions"][1]["schedule"] = {"start": "20:00:00", "end": "21:00:00",
                                       "timezone": "UTC"}
    cfg.write_text(yaml.safe_dump(data))
    proc = gateway("backtest", str(cfg), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert ("algo run: parent P1 was never sent: session CLIENT2 did not log on"
            in proc.stderr)


def test_a_parent_without_any_report_is_named() -> None:
    """A parent sent but never answered (a session-level Reject reaches only the FIX log)."""
    record = ParentRecord(run="algo", parent_id="P1", symbol="AMZN", side=Side.BUY, qty=10,
                          start=START, end=START + timedelta(seconds=60), strategy="1001")
    client = BacktestClient([PlannedParent("CLIENT1", record, ClientOrder("AMZN", "buy", 10))])
    sent: list[object] = []
    handle = SimpleNamespace(config=SimpleNamespace(sender_comp_id="CLIENT1"),
                             send=sent.append)
    client.on_logon(handle, START)  # type: ignore[arg-type]
    client.on_timer(START)
    assert len(sent) == 1 and not client.all_done()
    assert client.problems() == ["parent P1 got no ExecutionReport (a session Reject? see the "
                                 "run's client/log)"]


@pytest.mark.parametrize("limit", [None, Decimal("10.05")])
def test_a_parent_has_every_field_fix42_requires(limit: Decimal | None) -> None:
    """Its NewOrderSingle had no HandlInst (21), required in FIX 4.2: a FIX 4.2 venue or desk
    answered every parent with a session Reject."""
    order = ClientOrder(symbol="AMZN", side="buy", qty=100, limit=limit)
    now = datetime(2012, 6, 21, 13, 30, 5, tzinfo=UTC)
    body = parent_message("P1", order, now).body
    required = load_builtin("FIX.4.2").message("D").required_tags
    assert required - set(body.tags()) == set()


def test_parent_window_keeps_its_microseconds() -> None:
    """EffectiveTime and ExpireTime go out in milliseconds unless either has finer digits:
    a backtest parent starting on a whole millisecond may still end between two."""
    order = ClientOrder(symbol="AMZN", side="buy", qty=100)
    now = datetime(2012, 6, 21, 13, 30, 5, tzinfo=UTC)
    whole = parent_message("P1", order, now, now, now + timedelta(seconds=20))
    assert (whole.body.get_str(168), whole.body.get_str(126)) == (
        "20120621-13:30:05.000", "20120621-13:30:25.000")
    fine = parent_message("P1", order, now, now, now + timedelta(seconds=20.0005))
    assert (fine.body.get_str(168), fine.body.get_str(126)) == (
        "20120621-13:30:05.000000", "20120621-13:30:25.000500")
    live = parent_message("P1", order, now + timedelta(microseconds=123_456))
    assert (live.body.get_str(168), live.body.get_str(126)) == (
        "20120621-13:30:05.123", "20120621-13:30:25.123"), "a live parent starts now, to the ms"


def test_a_participation_cap_holds_with_fills_on_their_way(tmp_path: Path) -> None:
    """Reports reach the algo after the ack latency while the book it sees moves at once:
    the volume its children traded is left out of its view until it hears of the fills, or
    it counts its own prints as others' volume and trades beyond its rate (it had filled 400
    where its cap allowed 386)."""
    cfg = config_with(tmp_path, orders=[{"symbol": "AMZN", "side": "buy", "qty": 800,
                                         "start": "13:37:19.734", "window": 20,
                                         "strategy": "1001", "params": "Slices=4",
                                         "participation": 0.5}],
                      baselines=[], latency={"entry": 0.0005, "ack": 0.0005})
    bt = Backtest(cfg)
    first = bt.market_pass()[1]
    (parent,) = bt.run_pass("algo", first)[0].parents
    m = re.search(r"participation cap 0\.5: ([\d,]+) shares traded by others allowed ([\d,]+)",
                  parent.text)
    assert m is not None, parent.text
    others, allowed = (int(g.replace(",", "")) for g in m.groups())
    assert 0 < parent.filled <= allowed <= others  # a rate of 0.5: at most what others traded


def test_each_run_reports_its_own_strategys_schedule(tmp_path: Path) -> None:
    """A VWAP's schedule follows its volume curve (9:30-9:35 New York trades more than the
    next five minutes); the TWAP baseline's is even and the naive one's all at the start:
    the report's schedule line is each run's own, not one ramp for all."""
    cfg = config_with(tmp_path, baselines=["naive", "twap"],
                      orders=[{"symbol": "AMZN", "side": "buy", "qty": 1000,
                               "start": "13:30:30", "window": 600, "strategy": "1",
                               "params": "Slices=10"}])
    result = Backtest(cfg).run()
    start, end = START, START + timedelta(seconds=600)
    vwap = result.runs["algo"].parents[0]
    assert vwap.strategy == "vwap"
    assert [t for t, _ in vwap.schedule] == [start + timedelta(seconds=60 * i)
                                             for i in range(11)]
    due = [q for _, q in vwap.schedule]
    assert due[0] == 0 and due[-1] == 1000 and due == sorted(due)
    steps = {b - a for a, b in itertools.pairwise(due)}
    assert len(steps) > 1, due  # not even: the curve
    twap = result.runs["twap"].parents[0].schedule
    assert [q for _, q in twap] == list(range(0, 1001, 100))
    assert result.runs["naive"].parents[0].schedule == ((start, 1000), (end, 1000))
    assert vwap.scheduled_at(start + timedelta(seconds=90)) == (due[1] + due[2]) / 2
