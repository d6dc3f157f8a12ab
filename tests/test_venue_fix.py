"""``gateway run sessions/venue.yaml`` over real TCP: two FIX 4.4 clients trade, cancel,
replace, ask for status and market data, and send hostile input; neither sees the other's
orders and the gateway stays up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from fixspec.dictionary import builtin_session
from gateway.store_batch import read_journal
from tests.conformance.harness import Client, clients_of
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def venue_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path_factory.mktemp("venue"))
    yield port
    assert stop_gateway(proc) == 0, "the venue crashed"


@pytest.fixture
def clients(venue_port: int) -> Iterator[Callable[[str], Client]]:
    with clients_of(venue_port, "VENUE", dictionary=builtin_session("FIX.4.4"),
                    logout=True) as make:
        yield make


def order(c: Client, cl: str, side: str, qty: str, px: str | None, symbol: str = "MSFT",
          tif: str = "0") -> None:
    price = f"44={px}|40=2" if px is not None else "40=1"
    c.msg(f"35=D|11={cl}|54={side}|38={qty}|{price}|55={symbol}|59={tif}|60={c.ts()}")


def test_two_clients_trade_and_each_sees_only_its_own_reports(clients: Callable[..., Client]
                                                              ) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    order(c1, "S1", "2", "100", "300.10")
    c1.expect("8", **{"11": "S1", "150": "0", "39": "0", "151": "100"})
    order(c2, "B1", "1", "60", "300.10")
    ack = c2.expect("8", **{"11": "B1", "150": "0"})
    fill = c2.expect("8", **{"11": "B1", "150": "F", "39": "2", "32": "60", "31": "300.1",
                             "14": "60", "151": "0", "6": "300.1"})
    maker = c1.expect("8", **{"11": "S1", "150": "F", "39": "1", "32": "60", "151": "40"})
    assert ack[37] == fill[37] != maker[37]
    assert len({ack[17], fill[17], maker[17]}) == 3
    # TransactTime as precise as SendingTime (timestamp_precision, ms by default): FIX 4.4
    # has no finer UTCTimestamp
    assert re.fullmatch(r"\d{8}-\d\d:\d\d:\d\d\.\d{3}", fill[60]), fill[60]
    # CLIENT2 cannot cancel, replace or even see CLIENT1's order
    c2.msg(f"35=F|11=X1|41=S1|54=2|55=MSFT|60={c2.ts()}")
    c2.expect("9", **{"41": "S1", "102": "1", "434": "1"})
    c2.msg("35=H|11=S1|54=2|55=MSFT")
    c2.expect("8", **{"150": "I", "39": "8"})
    # CLIENT1 replaces, asks the status and cancels
    c1.msg(f"35=G|11=S1b|41=S1|54=2|38=80|40=2|44=300.20|55=MSFT|60={c1.ts()}")
    c1.expect("8", **{"11": "S1b", "41": "S1", "150": "5", "39": "1", "151": "20",
                      "44": "300.2"})
    c1.msg("35=H|11=S1b|54=2|55=MSFT")
    c1.expect("8", **{"150": "I", "39": "1", "14": "60"})
    c1.msg(f"35=F|11=S1c|41=S1b|54=2|55=MSFT|60={c1.ts()}")
    c1.expect("8", **{"11": "S1c", "41": "S1b", "150": "4", "39": "4", "151": "0"})
    c1.msg(f"35=F|11=S1d|41=S1c|54=2|55=MSFT|60={c1.ts()}")
    c1.expect("9", **{"102": "0"})


def test_market_data_snapshot_then_increments_by_level_and_by_order(
        clients: Callable[..., Client]) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    order(c1, "G1", "1", "10", "150.00", "GOOG")
    c1.expect("8", **{"150": "0"})
    order(c1, "G2", "1", "5", "150.00", "GOOG")
    c1.expect("8", **{"150": "0"})
    c2.msg("35=V|262=L|263=1|264=0|265=1|266=Y|267=3|269=0|269=1|269=2|146=1|55=GOOG")
    snap = c2.expect("W", **{"262": "L", "55": "GOOG", "268": "1", "269": "0", "270": "150",
                             "271": "15"})
    assert 278 not in snap
    c2.msg("35=V|262=O|263=1|264=0|265=1|266=N|267=2|269=0|269=1|146=1|55=GOOG")
    snap = c2.expect("W", **{"262": "O", "268": "2"}, absent=(278,))
    assert 37 in snap  # the public order id: FIX 4.4 snapshots have no MDEntryID
    order(c2, "GS", "2", "12", "150.00", "GOOG")
    c2.expect("8", **{"150": "0"})
    c2.expect("8", **{"150": "F", "32": "10"})
    c2.expect("8", **{"150": "F", "32": "2", "39": "2"})
    got = {}
    for _ in range(2):
        x = c2.expect("X")
        got[x[262]] = x
    assert got["L"][279] == "1" and got["L"][271] == "3"  # level now 3
    assert got["O"][279] == "2"  # first order deleted (and second changed, same message)
    assert got["O"][278] == got["O"][37] == snap[37]  # the snapshot's first (best) order
    c2.msg("35=V|262=Z|263=1|264=0|267=1|269=0|146=1|55=NOPE")
    c2.expect("Y", **{"262": "Z", "281": "0"})


@pytest.mark.parametrize(("body", "text"), [
    ("38=100|40=2|44=10|55=NOPE", "unknown Symbol (55) NOPE"),
    ("38=1000000000000|40=2|44=10|55=INTC", "exceeds the maximum"),
    ("38=100|40=2|44=-5|55=INTC", "must be positive"),
    ("38=100|40=2|44=10.001|55=INTC", "tick size"),
    ("38=100.5|40=2|44=10|55=INTC", "whole number"),
    ("38=100|40=2|55=INTC", "needs a Price"),
])
def test_bad_orders_get_a_reject_and_the_session_stays_up(clients: Callable[..., Client],
                                                           body: str, text: str) -> None:
    c = clients("CLIENT1")
    c.msg(f"35=D|11=BAD|54=1|{body}|60={c.ts()}")
    rej = c.expect("8", **{"150": "8", "39": "8"})
    assert text in rej[58]
    c.msg("35=1|112=still-up")
    c.expect("0", **{"112": "still-up"})


def test_a_reject_states_the_order_as_sent_with_the_fix_reason(
        clients: Callable[..., Client]) -> None:
    c = clients("CLIENT1")
    order(c, "DUP", "2", "250", "20.10", "INTC")
    c.expect("8", **{"150": "0"})
    order(c, "DUP", "2", "250", "20.10", "INTC")  # OrdRejReason 6: duplicate order
    c.expect("8", **{"150": "8", "103": "6", "38": "250", "44": "20.10", "54": "2",
                     "55": "INTC"})
    c.msg(f"35=D|11=Q0|54=1|38=0|40=2|44=20|55=INTC|60={c.ts()}")  # 13: incorrect quantity
    c.expect("8", **{"150": "8", "103": "13", "38": "0", "44": "20"})
    c.msg(f"35=D|11=Q1|54=1|38=10.50|40=2|44=20|55=INTC|60={c.ts()}")  # no fraction of a share
    c.expect("8", **{"11": "Q1", "150": "8", "103": "13", "38": "10.50"})  # not 38=0
    c.msg(f"35=D|11=Q2|54=1|38=1{'0' * 30}|40=2|44=20|55=INTC|60={c.ts()}")  # out of range
    c.expect("8", **{"11": "Q2", "150": "8", "103": "13"}, absent=(38,))
    c.msg(f"35=D|11=S9|54=9|38=100|40=2|44=19|55=INTC|60={c.ts()}")  # a side we do not trade
    rej = c.expect("8", **{"150": "8", "103": "11", "54": "9", "38": "100", "44": "19"})
    assert "Side (54)" in rej[58]
    c.msg("35=H|11=NOPE|54=2|55=INTC")  # the status of an order it never had
    c.expect("8", **{"150": "I", "39": "8", "54": "2", "55": "INTC", "37": "NONE"},
             absent=(40, 59))
    c.msg(f"35=F|11=DUPc|41=DUP|54=2|55=INTC|60={c.ts()}")  # leave the book as it was
    c.expect("8", **{"150": "4"})


def test_a_clordid_that_is_not_utf8_comes_back_byte_for_byte(
        clients: Callable[..., Client]) -> None:
    """A client writing latin-1 (0xE9, é): its ClOrdIDs were read with replacement, so
    caf\xe9 came back as caf\xef\xbf\xbd, and caf\xe8 was refused as its duplicate."""
    c = clients("CLIENT1")
    order(c, "caf\udce9", "2", "100", "300.10")  # (the lone surrogate is the byte 0xE9)
    c.expect("8", **{"11": "caf\udce9", "150": "0"})
    order(c, "caf\udce8", "2", "100", "300.10")
    c.expect("8", **{"11": "caf\udce8", "150": "0"})
    c.msg(f"35=F|11=caf\udce9-x|41=caf\udce9|54=2|55=MSFT|60={c.ts()}")
    c.expect("8", **{"11": "caf\udce9-x", "41": "caf\udce9", "150": "4", "38": "100"})
    c.msg(f"35=F|11=caf\udce8-x|41=caf\udce8|54=2|55=MSFT|60={c.ts()}")
    c.expect("8", **{"11": "caf\udce8-x", "41": "caf\udce8", "150": "4"})


def test_wrong_field_types_get_session_rejects_not_a_crash(clients: Callable[..., Client]
                                                          ) -> None:
    c = clients("CLIENT2")
    c.msg(f"35=D|11=T|54=1|38=abc|40=2|44=10|55=INTC|60={c.ts()}")
    c.expect("3", **{"373": "6", "371": "38"})
    c.msg(f"35=D|11=T2|54=Q|38=5|40=2|44=10|55=INTC|60={c.ts()}")
    c.expect("3", **{"373": "5", "371": "54"})


def test_a_cancel_naming_another_symbol_or_side_cancels_nothing(
        clients: Callable[..., Client]) -> None:
    c = clients("CLIENT1")
    c.msg(f"35=D|11=X1|54=1|38=10|40=2|44=1.00|55=INTC|59=0|60={c.ts()}")
    new = c.expect("8", **{"11": "X1", "150": "0"})
    c.msg(f"35=F|11=X2|41=X1|54=2|55=MSFT|60={c.ts()}")  # the reviewer's: canceled X1
    rej = c.expect("9", **{"11": "X2", "41": "X1", "434": "1", "102": "99", "37": new[37],
                           "39": "0"})
    assert rej[58] == "Symbol (55) MSFT is not order X1's (INTC)"
    c.msg(f"35=F|11=X3|41=X1|54=1|55=INTC|60={c.ts()}")
    c.expect("8", **{"11": "X3", "41": "X1", "150": "4"})


def test_a_flood_of_orders_is_answered_in_order(clients: Callable[..., Client]) -> None:
    c = clients("CLIENT2")
    n = 500
    raw = b"".join(c.peer.msg(f"35=D|11=F{i}|54=1|38=1|40=2|44=1.{i % 90 + 10}|55=INTC|"
                              f"60={c.ts()}", now=c.now) for i in range(n))
    c.send(raw)
    for i in range(n):
        c.expect("8", **{"11": f"F{i}", "150": "0"})


def test_metrics_of_a_venue_driven_by_a_market_data_log(tmp_path: Path) -> None:
    """The live venue replaying the bundled log: each applied batch observes its ingestion
    latency (from when its first message was due) and the books' depth is published."""
    config = yaml.safe_load((ROOT / "sessions/backtest.yaml").read_text())
    del config["backtest"]
    config["venue"]["market_data"] = {"log": str(ROOT / "engine/samples/AMZN-2012-06-21.md.log"),
                                      "speed": 100}
    config["metrics"] = {"host": "127.0.0.1", "port": 0}
    path = tmp_path / "venue-md.yaml"
    path.write_text(yaml.safe_dump(config))
    proc, _port = start_gateway(path, tmp_path / "run")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        deadline = time.monotonic() + 20
        while True:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            count = re.search(r'ingestion_latency_seconds_count\{feed="log"\} (\S+)', text)
            if (count and float(count.group(1)) >= 10) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert count and float(count.group(1)) >= 10, text
        assert re.search(r'book_depth_levels\{side="bid",symbol="AMZN"\} [1-9]', text), text
    finally:
        assert stop_gateway(proc) == 0


def test_a_subscriber_sees_the_trades_of_a_market_data_log_as_it_replays(
        tmp_path: Path) -> None:
    """The live venue replaying the bundled log: a MarketDataRequest for trades gets the
    log's executions as MDEntryType 2 entries in incremental refreshes."""
    config = yaml.safe_load((ROOT / "sessions/backtest.yaml").read_text())
    del config["backtest"]
    config["venue"]["market_data"] = {"log": str(ROOT / "engine/samples/AMZN-2012-06-21.md.log"),
                                      "speed": 20}
    path = tmp_path / "venue-md.yaml"
    path.write_text(yaml.safe_dump(config))
    proc, port = start_gateway(path, tmp_path / "run")
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        c.msg("35=V|262=T|263=1|264=0|265=1|267=1|269=2|146=1|55=AMZN")
        c.expect("W", **{"262": "T", "55": "AMZN"})
        trade = c.expect("X", timeout=20, **{"262": "T", "269": "2", "55": "AMZN"})
        assert float(trade[270]) > 0 and int(trade[271]) > 0
        c.close()
    finally:
        assert stop_gateway(proc) == 0


def test_metrics_are_served_and_sigusr1_throws_the_kill_switch(tmp_path: Path) -> None:
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        order(c, "K1", "1", "10", "20.00", "AAPL")
        c.expect("8", **{"11": "K1", "150": "0"})
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        assert 'messages_received_total{msg_type="D",session="FIX.4.4:VENUE->CLIENT1"}' in text
        assert 'orders_added_total{symbol="AAPL"} 1.0' in text
        # a configured session that never connected has its series too (alerts see it)
        assert 'session_connected{session="FIX.4.4:VENUE->CLIENT2"} 0.0' in text
        proc.send_signal(signal.SIGUSR1)
        canceled = c.expect("8", **{"11": "K1", "150": "4"})
        assert "kill switch" in canceled[58]
        order(c, "K2", "1", "10", "20.00", "AAPL")
        assert "kill switch" in c.expect("8", **{"11": "K2", "150": "8"})[58]
        c.close()
    finally:
        assert stop_gateway(proc) == 0


def test_the_kill_switch_outlives_a_crash_until_its_file_is_removed(tmp_path: Path) -> None:
    """A restart, after SIGKILL here, used to trade again as if the switch had never been
    thrown: it is thrown again at start-up, before any order, until the operator removes
    RUN_DIR/venue.KILL_SWITCH (the configuration's own: another's does not stop it)."""
    run = tmp_path / "run"
    kill_file = run / "venue.KILL_SWITCH"  # the configuration's: others may share the run dir
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not kill_file.exists():  # written as the switch is thrown
            assert time.monotonic() < deadline
            time.sleep(0.01)
        order(c, "K1", "1", "10", "20.00", "AAPL")
        assert "kill switch: SIGUSR1" in c.expect("8", **{"11": "K1", "150": "8"})[58]
        c.close()
    finally:
        proc.kill()  # a crash, not a stop
        proc.wait()
    assert kill_file.read_text().endswith(" SIGUSR1\n")
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run, stderr=subprocess.PIPE)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        order(c, "K2", "1", "10", "20.00", "AAPL")
        text = c.expect("8", **{"11": "K2", "150": "8"})[58]
        assert text.startswith("risk: kill switch: thrown before a restart (") and text.endswith(
            f"SIGUSR1); remove {kill_file} and restart to trade again"), text
        c.close()
    finally:
        assert stop_gateway(proc) == 0
    assert proc.stderr is not None
    assert proc.stderr.read().startswith("gateway: kill switch: thrown before a restart")
    (tmp_path / "other").mkdir()  # another configuration on the same run directory
    other = tmp_path / "other" / "algo-venue.yaml"
    other.write_text((ROOT / "sessions/venue.yaml").read_text())
    proc, port = start_gateway(other, run)
    try:
        c = Client(port, "CLIENT2", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        order(c, "O1", "1", "10", "20.00", "AAPL")
        c.expect("8", **{"11": "O1", "150": "0"})  # not its kill switch
        c.close()
    finally:
        assert stop_gateway(proc) == 0
    kill_file.unlink()
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        order(c, "K3", "1", "10", "20.00", "AAPL")
        c.expect("8", **{"11": "K3", "150": "0"})
        c.close()
    finally:
        assert stop_gateway(proc) == 0


def test_a_kill_switch_file_that_cannot_be_read_still_stops_trading(tmp_path: Path) -> None:
    """Something at the kill switch's path that is no readable file (a folder) ended the
    start-up with a bare errno: the switch is thrown, as for the file."""
    kill_file = tmp_path / "run" / "venue.KILL_SWITCH"
    kill_file.mkdir(parents=True)
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path / "run",
                               stderr=subprocess.PIPE)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        order(c, "K1", "1", "10", "20.00", "AAPL")
        text = c.expect("8", **{"11": "K1", "150": "8"})[58]
        assert text == (f"risk: kill switch: thrown before a restart (unreadable: Is a "
                        f"directory); remove {kill_file} and restart to trade again"), text
        c.close()
    finally:
        assert stop_gateway(proc) == 0


@pytest.mark.parametrize("reset_between", [False, True], ids=["one_logon", "reset_between"])
def test_a_restart_keeps_the_days_loss_against_max_daily_loss(tmp_path: Path,
                                                              reset_between: bool) -> None:
    """The gates were rebuilt empty: a client stopped for the day's loss traded again after
    a restart. The day's fills are read back from the session's store; a reset Logon
    between the buy and the sell discarded the buy's report, and with it the loss."""
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["risk"] = {"sessions": {"CLIENT1": {"max_daily_loss": 5000}}}
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    refused = "risk: daily loss 10000.00 reached max_daily_loss 5000.0"
    proc, port = start_gateway(path, tmp_path / "run")
    try:
        c1, c2 = (Client(port, name, our_comp_id="VENUE") for name in ("CLIENT1", "CLIENT2"))
        for c in (c1, c2):
            c.logon(extra="|141=Y")
        order(c2, "S1", "2", "1000", "100.00")
        c2.expect("8", **{"11": "S1", "150": "0"})
        order(c1, "B1", "1", "1000", "100.00")  # bought 1,000 at 100
        c1.expect("8", **{"11": "B1", "150": "0"})
        c1.expect("8", **{"11": "B1", "39": "2"})
        c2.expect("8", **{"11": "S1", "39": "2"})  # the maker's fill
        if reset_between:
            c1.msg("35=5")
            c1.expect("5")
            c1.close()
            c1 = Client(port, "CLIENT1", our_comp_id="VENUE")
            c1.logon(extra="|141=Y")
        order(c2, "B2", "1", "1000", "90.00")
        c2.expect("8", **{"11": "B2", "150": "0"})
        order(c1, "S2", "2", "1000", "90.00")  # sold them at 90: 10,000 lost
        c1.expect("8", **{"11": "S2", "150": "0"})
        c1.expect("8", **{"11": "S2", "39": "2"})
        order(c1, "B3", "1", "1", "89.00")
        assert c1.expect("8", **{"11": "B3", "150": "8"})[58] == refused
    finally:
        proc.kill()  # a crash, not a stop
        proc.wait()
    proc, port = start_gateway(path, tmp_path / "run")
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")  # a reset Logon: the store was read at start-up
        order(c, "B4", "1", "1", "89.00")
        assert c.expect("8", **{"11": "B4", "150": "8"})[58] == refused
        c.close()
    finally:
        assert stop_gateway(proc) == 0


def test_sigusr1_while_the_gateway_starts_throws_the_kill_switch_before_any_order(
        tmp_path: Path) -> None:
    # The config is a named pipe: the gateway blocks reading it, inside its start-up, until
    # the test writes it. SIGUSR1 then arrives mid start-up: it must neither kill the process
    # (the signal's default) nor be lost, but refuse the first order.
    fifo = tmp_path / "venue.yaml"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", str(fifo), "--port", "0",
         "--run-dir", str(tmp_path / "run")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while True:  # opening the pipe's write end works once the gateway is reading it
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)  # the signal is handled before the config arrives
        with os.fdopen(fd, "w") as f:
            f.write((ROOT / "sessions/venue.yaml").read_text())
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on"), line
        c = Client(int(line.rsplit(":", 1)[1]), "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        order(c, "E1", "1", "10", "20.00", "AAPL")
        refused = c.expect("8", **{"11": "E1", "150": "8"})
        assert "kill switch: SIGUSR1 during start-up" in refused[58], refused
        c.close()
    finally:
        assert stop_gateway(proc) == 0


def test_the_kill_switchs_cancels_to_every_client_are_stored_as_one_journaled_batch(
        tmp_path: Path) -> None:
    # Both clients' cancels are one batch: a crash between their two stores' writes loses
    # neither (gateway.store_batch), as for any input's trades.
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path)
    try:
        clients = [Client(port, name, our_comp_id="VENUE") for name in ("CLIENT1", "CLIENT2")]
        for c, (side, price) in zip(clients, [("1", "20.00"), ("2", "30.00")], strict=True):
            c.logon(extra="|141=Y")
            order(c, f"R{side}", side, "10", price, "AAPL")
            c.expect("8", **{"11": f"R{side}", "150": "0"})
        journals = list(tmp_path.rglob("*.journal"))
        assert [read_journal(j) for j in journals] in ([], [{}])  # one store a batch so far
        proc.send_signal(signal.SIGUSR1)
        for c, side in zip(clients, "12", strict=True):
            assert "kill switch" in c.expect("8", **{"11": f"R{side}", "150": "4"})[58]
        (journal,) = tmp_path.rglob("*.journal")
        assert {Path(p).name for p in read_journal(journal)} == {
            "FIX.4.4-VENUE-CLIENT1.store", "FIX.4.4-VENUE-CLIENT2.store"}
        for c in clients:
            c.close()
    finally:
        assert stop_gateway(proc) == 0
