"""The LOBSTER replay rebuilds the book from messages alone and matches the orderbook file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import lobster
from gateway.cli import main
from gateway.cmd_lobster import first_difference, sample_path
from tests.lobster_synth import generate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"
SAMPLES = [
    ("AMZN_2012-06-21_message_5_head3000.csv", "AMZN_2012-06-21_orderbook_5_head3000.csv"),
    ("AAPL_2012-06-21_message_1_head3000.csv", "AAPL_2012-06-21_orderbook_1_head3000.csv"),
]


def shared_pairs() -> list[tuple[Path, Path]]:
    pairs = []
    for msg in sorted(SHARED.glob("*_message_*.csv")):
        ob = msg.with_name(msg.name.replace("_message_", "_orderbook_"))
        if ob.exists():
            pairs.append((msg, ob))
    return pairs


def replay_matches(msg: Path, ob: Path, tmp_path: Path) -> lobster.ReplayResult:
    out = tmp_path / "BOOK.csv"
    result = lobster.replay(msg, ob, out)
    diff = first_difference(out, ob)
    assert diff is None, f"{msg.name}: rebuilt book differs from {ob.name} at line {diff}"
    return result


@pytest.mark.parametrize(("msg", "ob"), SAMPLES, ids=["AMZN-5", "AAPL-1"])
def test_bundled_sample_rebuilds_every_row(msg: str, ob: str, tmp_path: Path) -> None:
    result = replay_matches(sample_path(msg), sample_path(ob), tmp_path)
    assert result.rows == 3000
    assert 0 < result.levels_learned < result.rows


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} absent: full LOBSTER days not here")
@pytest.mark.parametrize("pair", shared_pairs(), ids=lambda p: p[0].stem)
def test_full_lobster_day_rebuilds_every_row(pair: tuple[Path, Path], tmp_path: Path) -> None:
    result = replay_matches(*pair, tmp_path)
    # Learning covers only levels that came into view from below; most rows need none.
    assert result.levels_learned < 0.3 * result.rows


@pytest.mark.parametrize("levels", [1, 2, 5, 10])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_days_rebuild_every_row(levels: int, seed: int, tmp_path: Path) -> None:
    day = generate(2500, levels, seed, decimals=[9, 6, 3][seed % 3])
    msg, ob = day.write(tmp_path, f"SYN{seed}_2020-01-02_34200000_57600000")
    replay_matches(msg, ob, tmp_path)


def test_windows_line_endings_are_read(tmp_path: Path) -> None:
    day = generate(800, 3, seed=7)
    msg, ob = day.write(tmp_path, "CRLF", newline="\r\n")
    out = tmp_path / "BOOK.csv"
    lobster.replay(msg, ob, out)
    assert out.read_text().splitlines() == ob.read_text().splitlines()


def _mutated(tmp_path: Path, column: int, delta: int) -> tuple[Path, Path, int]:
    """The AMZN sample with one add message's column changed; returns its 1-based line."""
    src = sample_path(SAMPLES[0][0]).read_text().splitlines()
    line = next(i for i, row in enumerate(src) if i > 100 and row.split(",")[1] == "1")
    cells = src[line].split(",")
    cells[column] = str(int(cells[column]) + delta)
    src[line] = ",".join(cells)
    msg = tmp_path / "mutated_message_5.csv"
    msg.write_text("\n".join(src) + "\n")
    return msg, sample_path(SAMPLES[0][1]), line + 1


@pytest.mark.parametrize(("column", "delta"), [(3, 7), (4, 100)], ids=["size", "price"])
def test_changing_one_message_changes_the_book(
    tmp_path: Path, column: int, delta: int
) -> None:
    msg, ob, line = _mutated(tmp_path, column, delta)
    out = tmp_path / "BOOK.csv"
    try:
        lobster.replay(msg, ob, out)
    except lobster.LobsterFormatError as exc:
        # A later message may now name a level that is not there; that is a difference too.
        assert exc.line >= line
        return
    assert first_difference(out, ob) == line


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_MSG = "34200.1,1,11,100,5000000,1\n34200.2,1,12,50,5010000,-1\n"
GOOD_OB = "9999999999,0,5000000,100\n5010000,50,5000000,100\n"


@pytest.mark.parametrize(
    ("msg", "ob", "where", "reason"),
    [
        ("34200.1,1,11,100,5000000,1\n34200.2,1,x2,50,5010000,-1\n", GOOD_OB,
         "m.csv:2", "column 3 (order id): not a number"),
        ("34200.1,9,11,100,5000000,1\n", GOOD_OB[:26], "m.csv:1", "unknown event type"),
        ("34200.1,1,11,100,-5,1\n", GOOD_OB[:26], "m.csv:1",
         "column 5 (price): value out of range"),
        ("34200.1,1,11,100,5000000,0\n", GOOD_OB[:26], "m.csv:1", "direction must be"),
        ("34200.1,1,11,100,5000000\n", GOOD_OB[:26], "m.csv:1", "wrong number of columns"),
        ("34200.1,1,11,100,99999999999999999999,1\n", GOOD_OB[:26], "m.csv:1",
         "value out of range"),
        (GOOD_MSG, "9999999999,0,5000000,100\n5010000,-50,5000000,100\n", "o.csv:2",
         "column 2: negative size"),
        (GOOD_MSG, "9999999999,0,5000000,100\n0,50,5000000,100\n", "o.csv:2",
         "column 1: a level with size has no positive price"),
        (GOOD_MSG, "9999999999,0,5000000,100\n", "o.csv:2", "1 rows but"),
        (GOOD_MSG, "9999999999,0,5000000\n", "o.csv:1", "3 columns"),
        (GOOD_MSG + "34200.3,3,99,10,4990000,1\n", GOOD_OB + "5010000,50,5000000,100\n",
         "m.csv:3", "names an order or level the book does not hold"),
    ],
    ids=["not-a-number", "unknown-type", "negative-price", "bad-direction", "few-columns",
         "huge-number", "negative-size", "size-without-price", "row-count", "not-4-columns",
         "unknown-level"],
)
def test_bad_input_names_file_line_and_reason(
    tmp_path: Path, msg: str, ob: str, where: str, reason: str
) -> None:
    m = _write(tmp_path, "m.csv", msg)
    o = _write(tmp_path, "o.csv", ob)
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.replay(m, o, tmp_path / "out.csv")
    text = str(info.value)
    assert where in text and reason in text, text


def test_cli_replays_bundled_sample_and_checks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "BOOK.csv"
    assert main(["lobster", "replay", "--check", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matches"] is True
    assert report["rows"] == 3000 and report["levels"] == 5
    assert {"levels_learned", "seconds", "events_per_second"} <= report.keys()
    assert out.read_text() == sample_path(SAMPLES[0][1]).read_text()


def test_cli_reports_bad_file_on_stderr(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", "34200.1,1,11,100,5000000\n")
    o = _write(tmp_path, "o.csv", GOOD_OB[:26])
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "lobster", "replay", str(m), str(o),
         "--out", str(tmp_path / "x.csv")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert f"{m}:1: column 6" in proc.stderr and "wrong number of columns" in proc.stderr


def test_time_keeps_nanoseconds_and_drops_float_noise(tmp_path: Path) -> None:
    # LOBSTER's AMZN level-5 file has times like 43002.632812672004 (a double's noise).
    m = _write(tmp_path, "m.csv", "43002.632812672004,1,1,5,100,1\n34200,1,2,5,100,1\n"
               "34200.5,1,3,5,100,1\n")
    msgs = lobster.read_messages(m)
    assert [msgs.array[i].time_ns for i in range(msgs.count)] == [
        43002_632812672, 34200_000000000, 34200_500000000]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "lobster", *args],
                          capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("command", ["replay", "to-fix"])
def test_swapped_files_are_named_as_swapped(tmp_path: Path, command: str) -> None:
    # Once: "orderbook.csv:1: column 5 (price): wrong number of columns".
    m = _write(tmp_path, "AAPL_2012-06-21_message_1.csv", GOOD_MSG)
    o = _write(tmp_path, "AAPL_2012-06-21_orderbook_1.csv", GOOD_OB)
    proc = _cli(command, str(o), str(m), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr == (f"gateway: error: {o}: this is a LOBSTER orderbook file (4 columns "
                           f"per level); {m}, the message file (6 columns), comes first\n")
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.check_order(o, m)
    assert (info.value.path, info.value.line) == (o, 0)
    lobster.check_order(m, o)  # the right order passes


def test_the_wrong_kind_of_file_is_named_by_each_reader(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", GOOD_MSG)
    o = _write(tmp_path, "o.csv", "9999999999,0,5000000,100,10000000,5,4000000,7\n")
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.read_messages(o)
    assert str(info.value).startswith(
        f"{o}:1: 8 integer columns: this is a LOBSTER orderbook file (4 columns per level), "
        "not a message file (6 columns: ")
    with pytest.raises(lobster.LobsterFormatError) as info:
        lobster.read_orderbook(m)
    assert str(info.value) == (f"{m}:1: 6 columns: this is a LOBSTER message file, not an "
                               "orderbook file (4 columns per level)")


def test_a_missing_input_names_the_argument(tmp_path: Path) -> None:
    proc = _cli("to-fix", str(tmp_path / "nope.csv"), str(tmp_path / "o.csv"),
                "-o", str(tmp_path / "x.log"))
    assert (proc.returncode, proc.stderr) == (
        2, f"gateway: error: MESSAGES {tmp_path / 'nope.csv'}: no such file\n")


def test_replay_without_out_writes_under_the_current_directory(tmp_path: Path) -> None:
    help_text = " ".join(_cli("replay", "--help").stdout.split())
    assert ("--out OUT where to write the rebuilt book (default: logs/run/BOOK.csv under the "
            "current directory, folders created as needed)") in help_text
    assert _cli("replay", cwd=tmp_path).returncode == 0
    assert (tmp_path / "logs" / "run" / "BOOK.csv").read_text() == sample_path(
        SAMPLES[0][1]).read_text()


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--sender", "ÄB", "'ÄB': expected printable ASCII without spaces"),
    ("--target", "A B", "'A B': expected printable ASCII without spaces"),
    ("--symbol", "€", "'€': expected printable ASCII without spaces"),
    # year 1 in New York is before 1970: SendingTime came out as 10101-14:26:02
    ("--date", "0001-01-01", "0001-01-01: expected a day from 1971 to 2261"),
    ("--date", "2012-13-01", "'2012-13-01': expected a date YYYY-MM-DD"),
])
def test_to_fix_header_values_are_checked_as_options(
        tmp_path: Path, option: str, value: str, reason: str) -> None:
    msg, ob = SAMPLES[0]
    args = ["to-fix", str(sample_path(msg)), str(sample_path(ob)), "-o", str(tmp_path / "x.log"),
            "--symbol", "T", "--date", "2012-06-21", option, value]
    proc = _cli(*args)
    assert proc.returncode == 2
    assert f"argument {option}: {reason}" in proc.stderr, proc.stderr
    assert not (tmp_path / "x.log").exists()


def test_a_date_in_the_file_name_is_checked_as_the_option_is(tmp_path: Path) -> None:
    msg, ob = SAMPLES[0]
    named = tmp_path / "AMZN_0001-01-01_34200000_57600000_message_5.csv"
    named.write_bytes(sample_path(msg).read_bytes())
    proc = _cli("to-fix", str(named), str(sample_path(ob)), "-o", str(tmp_path / "x.log"))
    assert (proc.returncode, proc.stderr) == (2, f"gateway: error: {named.name}: the date in "
                                                 "its name, 0001-01-01: expected a day from "
                                                 "1971 to 2261; give --date\n")
    assert not (tmp_path / "x.log").exists()
