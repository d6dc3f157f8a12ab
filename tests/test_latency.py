"""The backtest's latency model: the ``latency:`` YAML section, round trips measured from
FIX logs written here with our encoder (QuickFIX layout, known times), seeded draws, and
the captured KOD-BON log when ../shared/data is present."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixspec.fieldtypes import TimePrecision
from gateway.codec import encode
from gateway.config import ConfigError
from gateway.fixmessage import Message
from gateway.latency import (
    ConstantLatency,
    LatencyModel,
    MeasuredLatency,
    measure_round_trips,
    parse_latency,
)
from gateway.yamlcheck import load_yaml

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixlogs"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} not present (shared data is not part of a clone)"
)

T0 = datetime(2012, 6, 21, 13, 30, 0, tzinfo=UTC)
VENUE_CLOCK = timedelta(milliseconds=500)  # the venue's SendingTime runs 0.5 s ahead


def _fix(msg_type: str, sender: str, target: str, seq: int, cl_ord_id: str, at: timedelta,
         poss_dup: bool = False) -> bytes:
    msg = Message(msg_type, begin_string="FIX.4.2")
    msg.sender_comp_id, msg.target_comp_id, msg.msg_seq_num = sender, target, seq
    clock = VENUE_CLOCK if sender == "VENUE" else timedelta()
    msg.set_sending_time(T0 + at + clock, TimePrecision.MICROS)
    if poss_dup:
        msg.poss_dup = True
    msg.body.set(11, cl_ord_id)
    if msg_type == "D":
        for tag, value in ((21, "1"), (38, 100), (40, "1"), (54, "1"), (55, "AAPL")):
            msg.body.set(tag, value)
    else:
        for tag, value in ((37, "X"), (17, f"E{seq}"), (20, "0"), (150, "0"), (39, "0"),
                           (54, "1"), (55, "AAPL"), (151, 100), (14, 0), (6, 0)):
            msg.body.set(tag, value)
    return encode(msg)


def _ms(n: float) -> timedelta:
    return timedelta(microseconds=round(n * 1000))


# (MsgType, sender, target, ClOrdID, log time after T0, PossDup)
SESSION: list[tuple[str, str, str, str, timedelta, bool]] = [
    ("D", "CLIENT", "VENUE", "A", _ms(0), False),
    ("8", "VENUE", "CLIENT", "A", _ms(1.25), False),      # A: 1.25 ms
    ("D", "CLIENT", "VENUE", "B", _ms(10), False),
    ("D", "CLIENT", "VENUE", "B", _ms(20), True),         # resent copy: not a new start
    ("8", "VENUE", "CLIENT", "A", _ms(22), False),        # A's later report: not a pair
    ("8", "VENUE", "CLIENT", "B", _ms(25), False),        # B: 15 ms from the original
    ("D", "CLIENT", "VENUE", "C", _ms(30), False),
    ("8", "VENUE", "CLIENT", "C", _ms(31), True),         # resent copy: not the answer
    ("8", "CLIENT", "VENUE", "C", _ms(32), False),        # same side: not an answer
    ("8", "VENUE", "OTHER", "C", _ms(33), False),         # another session: not an answer
    ("8", "VENUE", "CLIENT", "C", _ms(40.5), False),      # C: 10.5 ms
    ("D", "CLIENT", "VENUE", "A", _ms(50), False),        # ClOrdID reused: skipped
    ("8", "VENUE", "CLIENT", "A", _ms(51), False),
    ("D", "CLIENT", "VENUE", "E", _ms(60), False),        # never answered
    ("D", "CLIENT", "VENUE", "F", _ms(70), True),         # a resend whose original is not
    ("8", "VENUE", "CLIENT", "F", _ms(71), False),        # in the log: its timing is not F's
]
LINE_TIMES = [0.00125, 0.015, 0.0105]
SENDING_TIMES = [rt + 0.5 for rt in LINE_TIMES]


def _write_log(path: Path, quickfix_layout: bool = True) -> Path:
    lines = []
    for seq, (kind, sender, target, cl_ord_id, at, dup) in enumerate(SESSION, 1):
        raw = _fix(kind, sender, target, seq, cl_ord_id, at, dup)
        if quickfix_layout:
            # QuickFIX writes milliseconds; microseconds where a time needs them
            stamp = (T0 + at).strftime("%Y%m%d-%H:%M:%S.%f")
            stamp = stamp[:-3] if at.microseconds % 1000 == 0 else stamp
            lines.append(stamp.encode() + b" : " + raw)
        else:
            lines.append(raw.replace(b"\x01", b"|"))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# -- measuring ----------------------------------------------------------------------------------


def test_round_trips_use_the_log_line_times(tmp_path: Path) -> None:
    # SendingTimes differ by the venue's clock offset, so only line times give these values
    assert measure_round_trips(_write_log(tmp_path / "fix.log")) == pytest.approx(
        LINE_TIMES, abs=1e-9)


def test_round_trips_use_sending_time_when_lines_have_no_time(tmp_path: Path) -> None:
    log = _write_log(tmp_path / "pipes.log", quickfix_layout=False)
    assert measure_round_trips(log) == pytest.approx(SENDING_TIMES, abs=1e-9)


def test_a_log_without_pairs_is_an_error_naming_it(tmp_path: Path) -> None:
    log = tmp_path / "orders-only.log"
    log.write_bytes(b"20120621-13:30:00.000 : " + _fix("D", "C", "V", 1, "A", timedelta()))
    with pytest.raises(ValueError, match=r"orders-only\.log: no NewOrderSingle answered"):
        measure_round_trips(log)


# -- the model ----------------------------------------------------------------------------------


def test_constant_model() -> None:
    model = LatencyModel(ConstantLatency(entry=0.0002, ack=0.0003))
    assert [model.entry(), model.entry()] == [timedelta(microseconds=200)] * 2
    assert model.ack() == timedelta(microseconds=300)
    d = model.describe()
    assert (d["kind"], d["source"], d["samples"]) == ("constant", None, 0)
    assert d["round_trip_p50_us"] == d["round_trip_p99_us"] == pytest.approx(500)


def test_measured_draws_repeat_and_take_measured_values_times_split(tmp_path: Path) -> None:
    trips = (0.001, 0.002, 0.004, 0.010)
    config = MeasuredLatency(tmp_path / "fix.log", trips, split=0.25, seed=7)
    a, b = LatencyModel(config), LatencyModel(config)
    draws_a = [(a.entry(), a.ack()) for _ in range(200)]
    assert draws_a == [(b.entry(), b.ack()) for _ in range(200)]
    entries = {timedelta(seconds=t * 0.25) for t in trips}
    acks = {timedelta(seconds=t * 0.75) for t in trips}
    assert {e for e, _ in draws_a} == entries and {k for _, k in draws_a} == acks
    other = LatencyModel(MeasuredLatency(tmp_path / "fix.log", trips, split=0.25, seed=8))
    assert [(other.entry(), other.ack()) for _ in range(200)] != draws_a
    d = a.describe()
    assert (d["kind"], d["source"], d["samples"]) == ("measured", str(tmp_path / "fix.log"), 4)
    assert d["round_trip_p50_us"] == pytest.approx(3000)  # between 2 and 4 ms
    assert d["round_trip_p99_us"] == pytest.approx(4000 + 0.97 * 6000)


# -- the YAML section ---------------------------------------------------------------------------


def _parse(tmp_path: Path, body: str) -> ConstantLatency | MeasuredLatency:
    path = tmp_path / "backtest.yaml"
    path.write_text("latency:\n" + body)
    return parse_latency(load_yaml(path).mapping({"latency"})["latency"], tmp_path)


def test_parse_constant_and_defaults(tmp_path: Path) -> None:
    assert _parse(tmp_path, "  {entry: 0.0002, ack: 0.0003}\n") == ConstantLatency(0.0002, 0.0003)
    assert _parse(tmp_path, "  {ack: 1}\n") == ConstantLatency(0.0, 1.0)
    assert parse_latency(None, tmp_path) == ConstantLatency(0.0, 0.0)


def test_parse_measured_reads_the_log_relative_to_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    _write_log(tmp_path / "logs" / "fix.log")
    config = _parse(tmp_path, "  measured: logs/fix.log\n  split: 0.4\n  seed: 7\n")
    assert isinstance(config, MeasuredLatency)
    assert (config.log, config.split, config.seed) == (tmp_path / "logs" / "fix.log", 0.4, 7)
    assert config.round_trips == pytest.approx(LINE_TIMES, abs=1e-9)
    assert _parse(tmp_path, "  {measured: logs/fix.log}\n") == MeasuredLatency(
        tmp_path / "logs" / "fix.log", config.round_trips, 0.5, 0)


@pytest.mark.parametrize(("body", "key", "expected"), [
    ("  {entry: 0.1, jitter: 2}\n", "latency.jitter", "unknown key; expected one of ack, entry"),
    ("  {entry: -0.001}\n", "latency.entry", "seconds >= 0"),
    ("  {ack: fast}\n", "latency.ack", "expected a number"),
    ("  {ack: .inf}\n", "latency.ack", "finite"),
    ("  {entry: 0.1, split: 0.5}\n", "latency.split", "only with measured"),
    ("  {measured: fix.log, entry: 0.1}\n", "latency.entry", "not allowed with measured"),
    ("  {measured: fix.log, split: 1.5}\n", "latency.split", "expected a number in [0.0, 1.0]"),
    ("  {measured: fix.log, seed: x}\n", "latency.seed", "expected an integer"),
    ("  {measured: missing.log}\n", "latency.measured", "no such file"),
    ("  {measured: orders-only.log}\n", "latency.measured", "no NewOrderSingle answered"),
    ("  {measured: backwards.log}\n", "latency.measured", "1 of 1 round trips are negative"),
    ("  0.002\n", "latency", "expected a mapping"),
])
def test_parse_errors_name_the_file_and_key(tmp_path: Path, body: str, key: str,
                                            expected: str) -> None:
    _write_log(tmp_path / "fix.log")
    (tmp_path / "orders-only.log").write_bytes(
        b"20120621-13:30:00.000 : " + _fix("D", "C", "V", 1, "A", timedelta()))
    (tmp_path / "backwards.log").write_bytes(
        b"20120621-13:30:00.500 : " + _fix("D", "C", "V", 1, "A", timedelta()) + b"\n"
        + b"20120621-13:30:00.400 : " + _fix("8", "V", "C", 1, "A", timedelta()) + b"\n")
    with pytest.raises(ConfigError) as info:
        _parse(tmp_path, body)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'backtest.yaml'}:")
    assert f": {key}: " in message and expected in message


def test_a_log_without_pairs_is_named_once_with_the_key(tmp_path: Path) -> None:
    # Once: "cannot measure LOG: LOG: no NewOrderSingle ..." (the path twice).
    log = tmp_path / "orders-only.log"
    log.write_bytes(b"20120621-13:30:00.000 : " + _fix("D", "C", "V", 1, "A", timedelta()))
    with pytest.raises(ConfigError) as info:
        _parse(tmp_path, "  measured: orders-only.log\n")
    assert str(info.value) == (
        f"{tmp_path / 'backtest.yaml'}:2: latency.measured: cannot measure round trips: "
        f"{log}: no NewOrderSingle answered by an ExecutionReport")


# -- captured logs ------------------------------------------------------------------------------


@needs_shared
def test_kod_bon_every_order_paired_with_its_ack() -> None:
    trips = measure_round_trips(SHARED / "FIX.4.2-KOD-BON.messages.current.log")
    assert len(trips) == 602 and all(t >= 0 for t in trips)


@needs_shared
def test_log_without_line_times_measures_sending_times() -> None:
    log = SHARED / "log4fix-j" / "FIX42-CoyTrade-BCExchange-SenderAndTargetInSameLogFile.log"
    assert measure_round_trips(log) == pytest.approx([0.741])  # 22:35:40.763 -> 22:35:41.504
