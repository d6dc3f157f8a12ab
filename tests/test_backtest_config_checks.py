"""Backtest configs: every bad value is a ``FILE:LINE: key: reason`` config error (exit 2),
before any replay, and the warnings and usage errors say what they mean.

Covers NaN and infinity (which once slipped past every range check), a file that is not
UTF-8, limits and quantities the venue would refuse, ``CONFIG --log`` given together, and an
order starting within a second of the market data."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.backtest import Backtest, clock_times
from gateway.cli import main
from gateway.config import ConfigError, load_config
from gateway.yamlcheck import load_yaml
from tests.test_backtest import SAMPLE, config_with, gateway

ORDER: dict[str, Any] = {"symbol": "AMZN", "side": "buy", "qty": 300, "start": "13:31:00",
                         "window": 60}


def line_of(path: Path, text: str) -> int:
    """1-based number of the first line of ``path`` that holds ``text``."""
    return next(i for i, row in enumerate(path.read_text().splitlines(), 1) if text in row)


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        Backtest(path)
    return str(info.value)


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("window", math.nan, "window: .nan"),
    ("start", math.nan, "start: .nan"),
    ("start", math.inf, "start: .inf"),
    ("participation", math.nan, "participation: .nan"),
    ("limit", math.inf, "limit: .inf"),
    ("limit", -math.inf, "limit: -.inf"),
])
def test_nan_and_infinity_in_an_order_are_named_at_their_key(
        tmp_path: Path, key: str, value: float, shown: str) -> None:
    cfg = config_with(tmp_path, orders=[{**ORDER, key: value}], baselines=[])
    message = config_error(cfg)
    got = "nan" if math.isnan(value) else str(value)
    assert message == (f"{cfg}:{line_of(cfg, shown)}: backtest.orders[0].{key}: expected a "
                       f"finite number, got {got}")


def test_nan_snapshot_interval_is_named_at_its_key(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, snapshot_interval=math.nan)
    assert config_error(cfg) == (f"{cfg}:{line_of(cfg, 'snapshot_interval: .nan')}: "
                                 "backtest.snapshot_interval: expected a finite number, got nan")


@pytest.mark.parametrize(("section", "change", "key"), [
    ("venue", lambda d: d["venue"]["market_data"].update(speed=math.nan),
     "venue.market_data.speed"),
    ("risk", lambda d: d.update(risk={"default": {"max_notional": math.nan}}),
     "risk.default.max_notional"),
    ("risk", lambda d: d.update(risk={"default": {"price_collar_pct": math.inf}}),
     "risk.default.price_collar_pct"),
    ("algos", lambda d: d["algos"].update(default_window=math.inf), "algos.default_window"),
    ("sessions", lambda d: d["defaults"].update(logon_timeout=math.nan),
     "defaults.logon_timeout"),
])
def test_nan_and_infinity_anywhere_in_the_config_are_named(
        tmp_path: Path, section: str, change: Any, key: str) -> None:
    """One shared number check covers every section, the venue's and risk's included."""
    cfg = config_with(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    change(data)
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    assert re.fullmatch(rf"{re.escape(str(cfg))}:\d+: {re.escape(key)}: expected a finite "
                        r"number, got (nan|inf)", config_error(cfg)), section


def test_the_cli_reports_a_nan_as_a_config_error(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, orders=[{**ORDER, "window": math.nan}], baselines=[])
    proc = gateway("backtest", str(cfg), "--quiet")
    assert proc.returncode == 2
    assert proc.stderr == (f"gateway: error: {cfg}:{line_of(cfg, 'window: .nan')}: "
                           "backtest.orders[0].window: expected a finite number, got nan\n")


def test_a_config_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    expected = f"{binary}:1: not UTF-8 text (byte 0xff): save the file as UTF-8"
    # one loader for every config: gateway run, gateway backtest, and the library calls
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_yaml(binary)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(binary)
    proc = gateway("backtest", str(binary), "--quiet")
    assert (proc.returncode, proc.stderr) == (2, f"gateway: error: {expected}\n")
    later = tmp_path / "later.yaml"
    later.write_bytes(b"acceptor: {port: 0}\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=re.escape(f"{later}:2: not UTF-8 text (byte 0xe9)")):
        Backtest(later)


@pytest.mark.parametrize(("order", "shown", "reason"), [
    ({"limit": 0}, "limit: 0", "expected a positive limit price, got 0"),
    ({"limit": -5}, "limit: -5", "expected a positive limit price, got -5"),
    ({"limit": 224.12345}, "limit: 224.12345",
     "limit 224.12345 is not on AMZN's tick size 0.0001 (venue.symbols.AMZN.tick_size)"),
    ({"qty": 10**20}, "qty: 100000000000000000000",
     "qty 100000000000000000000 is more than the venue accepts in one order for AMZN "
     "(venue.symbols.AMZN.max_qty: 10000000), for a parent too"),
    ({"qty": 10_000_001}, "qty: 10000001",
     "qty 10000001 is more than the venue accepts in one order for AMZN "
     "(venue.symbols.AMZN.max_qty: 10000000), for a parent too"),
    ({"limit": 1.0e+300}, "limit: 1.0e+300",
     "limit 1e+300 has more than 30 digits before the decimal point: the desk refuses it"),
])
def test_a_limit_or_qty_the_venue_would_refuse_is_a_config_error(
        tmp_path: Path, order: dict[str, Any], shown: str, reason: str) -> None:
    key = next(iter(order))
    cfg = config_with(tmp_path, orders=[{**ORDER, **order}], baselines=["naive"])
    assert config_error(cfg) == (f"{cfg}:{line_of(cfg, shown)}: backtest.orders[0].{key}: "
                                 f"{reason}")


def test_a_parent_above_max_qty_is_refused_whatever_the_baselines(tmp_path: Path) -> None:
    """The desk refuses a parent above the symbol's max_qty (live too): without the naive
    baseline the config passed, and every run reported the parent rejected."""
    cfg = config_with(tmp_path, orders=[{**ORDER, "qty": 20_000_000}], baselines=["twap"])
    assert config_error(cfg).endswith("qty 20000000 is more than the venue accepts in one "
                                      "order for AMZN (venue.symbols.AMZN.max_qty: 10000000), "
                                      "for a parent too")


def test_a_qty_off_the_lot_size_is_a_config_error(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, orders=[{**ORDER, "qty": 150}], baselines=[])
    data = yaml.safe_load(cfg.read_text())
    data["venue"]["symbols"]["AMZN"]["lot_size"] = 100
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    assert config_error(cfg) == (f"{cfg}:{line_of(cfg, 'qty: 150')}: backtest.orders[0].qty: "
                                 "qty 150 is not a multiple of AMZN's lot size 100 "
                                 "(venue.symbols.AMZN.lot_size)")


def test_a_limit_on_the_tick_and_a_qty_within_the_maximum_pass(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, orders=[{**ORDER, "qty": 10_000_000, "limit": 224.1234}],
                      baselines=[])
    order = Backtest(cfg).bt.orders[0]
    assert (order.qty, str(order.limit)) == (10_000_000, "224.1234")


def test_the_cli_refuses_a_bad_limit_before_any_run(tmp_path: Path) -> None:
    """Once accepted, then every run printed 'parent P1 rejected' and exited 0."""
    cfg = config_with(tmp_path, orders=[{**ORDER, "limit": 0}])
    proc = gateway("backtest", str(cfg), "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert "backtest.orders[0].limit: expected a positive limit price" in proc.stderr
    assert "rejected" not in proc.stderr and not (tmp_path / "out" / "summary.json").exists()


def test_a_config_and_a_log_together_are_named_as_the_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config_with(tmp_path)
    assert main(["backtest", str(cfg), "--log", str(SAMPLE)]) == 2
    err = capsys.readouterr().err
    assert "not both" in err and "--log" in err, err
    assert main(["backtest"]) == 2
    err = capsys.readouterr().err
    assert "give a backtest config" in err and "not both" not in err, err


def test_a_start_within_a_second_of_the_market_data_shows_the_difference(
        tmp_path: Path) -> None:
    """The sample's first message is at 13:30:00.017459: whole seconds would say the order
    starts at 13:30:00, before the market data (13:30:00)."""
    cfg = config_with(tmp_path, orders=[{**ORDER, "start": "13:30:00"}], baselines=[],
                      snapshot_interval="events")
    warn = io.StringIO()
    Backtest(cfg, warn=warn).run()
    assert re.search(r"the order starts at 13:30:00\.000, before the market data "
                     r"\(13:30:00\.017\)", warn.getvalue()), warn.getvalue()


def test_a_log_listed_twice_under_another_name_is_named(tmp_path: Path) -> None:
    """A log and a link to it: its messages were replayed twice, the market's volume
    doubled and every participation figure halved, without a word."""
    link = tmp_path / "again.md.log"
    link.symlink_to(SAMPLE)
    cfg = config_with(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    data["venue"]["market_data"]["log"] = [str(SAMPLE), str(link)]
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    assert config_error(cfg) == (
        f"{cfg}:{line_of(cfg, str(link))}: venue.market_data.log[1]: {link} is the log of "
        f"item 0 ({SAMPLE}) again: its messages would be replayed twice")


def test_times_on_different_days_are_shown_with_their_dates() -> None:
    """A window running into the next day was said to run "to 13:35:00, past the end of
    the market data (13:40:47)"."""
    end = datetime(2012, 6, 22, 13, 35, tzinfo=UTC)
    data_end = datetime(2012, 6, 21, 13, 40, 47, tzinfo=UTC)
    assert clock_times(end, data_end) == ("2012-06-22 13:35:00", "2012-06-21 13:40:47")
    assert clock_times(data_end.replace(second=0), data_end) == ("13:40:00", "13:40:47")


def test_symbols_of_different_tick_sizes_on_one_feed_are_named_at_the_feed(
        tmp_path: Path) -> None:
    """The error named no file, line or key (it came from the replay, after the config was
    read): prices are read in one tick for every symbol a feed drives."""
    cfg = config_with(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    data["venue"]["symbols"]["MSFT"] = {"tick_size": 0.01}
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    message = config_error(cfg)
    assert re.match(rf"{re.escape(str(cfg))}:\d+: venue\.market_data: the symbols it drives "
                    "need one tick size that is a power of ten", message), message
    assert message.endswith("not 0.0001, 0.01"), message
