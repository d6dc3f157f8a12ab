"""``gateway demo``'s arguments: a bad value is that argument's error (argparse's exit status
2) before anything is created, not an error in a YAML file the demo generated; a ``--run-dir``
that cannot be made is named as such; a failed start leaves no run directory behind."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway import cmd_demo
from gateway.cli import UserError, build_parser
from gateway.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def gateway(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize(("option", "reason"), [
    ("--qty", "must be at least 1, got 0"),
    ("--slices", "must be at least 1, got 0"),
    ("--window", "must be between 0.1 and 86400, got 0"),
    ("--speed", "must be between 0.001 and 1000000, got 0"),
])
def test_a_zero_is_the_arguments_error_and_creates_nothing(tmp_path: Path, option: str,
                                                          reason: str) -> None:
    runs = tmp_path / "runs"
    proc = gateway("demo", option, "0", "--run-dir", str(runs))
    assert proc.returncode == 2
    assert proc.stderr == (f"gateway: error: argument {option}: {reason}; "
                           "see gateway demo --help\n")
    assert proc.stdout == ""
    assert not runs.exists()


def test_the_slice_bound_is_the_twaps() -> None:
    """The demo's --slices bound (and its help) is what the TWAP accepts, not a copy that
    could drift: MAX_SLICES slices parse, one more is refused."""
    from algos.slicing import MAX_SLICES

    parser = build_parser()
    assert parser.parse_args(["demo", "--slices", str(MAX_SLICES)]).slices == MAX_SLICES
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--slices", str(MAX_SLICES + 1)])
    assert f"1 to {MAX_SLICES}" in gateway("demo", "--help").stdout


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--qty", "-3", "must be at least 1, got -3"),
    ("--qty", "1.5", "expected an integer, got '1.5'"),
    ("--qty", "lots", "expected an integer, got 'lots'"),
    ("--slices", "2.5", "expected an integer, got '2.5'"),
    ("--slices", "10001", "must be at most 10000, got 10001"),  # the TWAP's MAX_SLICES
    ("--window", "0.05", "must be between 0.1 and 86400, got 0.05"),
    ("--window", "86401", "must be between 0.1 and 86400, got 86401"),
    ("--window", "nan", "must be between 0.1 and 86400, got nan"),
    ("--window", "inf", "must be between 0.1 and 86400, got inf"),
    ("--window", "soon", "expected a number, got 'soon'"),
    ("--speed", "0.0001", "must be between 0.001 and 1000000, got 0.0001"),
    ("--speed", "2e6", "must be between 0.001 and 1000000, got 2e6"),
    ("--speed", "NaN", "must be between 0.001 and 1000000, got NaN"),
])
def test_values_the_demo_cannot_run_are_refused_by_argparse(
        option: str, value: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["demo", option, value])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (f"gateway: error: argument {option}: {reason}; "
                                       "see gateway demo --help\n")


@pytest.mark.parametrize("argv", [
    ["--qty", "1", "--slices", "1", "--window", "0.1", "--speed", "0.001"],
    ["--window", "86400", "--speed", "1000000", "--slices", "100"],
])
def test_every_value_argparse_accepts_makes_configs_that_load(tmp_path: Path,
                                                              argv: list[str]) -> None:
    """The argument checks and the generated configs' checks agree: a value the parser lets
    through never comes back as an error naming a generated file."""
    args = build_parser().parse_args(["demo", *argv])
    venue = tmp_path / "venue.yaml"
    client = tmp_path / "client.yaml"
    cmd_demo._write(venue, cmd_demo.venue_yaml(tmp_path, args.speed))
    cmd_demo._write(client, cmd_demo.client_yaml(9, args.qty, args.window, args.slices))
    load_config(venue)
    load_config(client)


def test_a_run_dir_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    proc = gateway("demo", "--run-dir", str(afile / "runs"))
    assert proc.returncode == 2
    assert proc.stderr == (f"gateway: error: --run-dir {afile / 'runs'}: cannot create: "
                           "Not a directory\n")
    proc = gateway("demo", "--run-dir", str(afile))
    assert proc.returncode == 2
    assert proc.stderr == f"gateway: error: --run-dir {afile}: not a directory\n"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_the_reviewers_run_dir_in_proc() -> None:
    with pytest.raises(UserError, match=r"^--run-dir /proc/nope: cannot create: "
                                        r"No such file or directory$"):
        cmd_demo.claim_run_dir(Path("/proc/nope"), datetime.now())


def test_a_failed_start_leaves_no_run_directory(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The venue is up when the client's config turns out bad: the venue is stopped and the
    run directory (configs, audit log, FIX logs so far) removed."""
    def bad_client(*args: Any) -> dict[str, Any]:
        return {"sessions": "none"}

    monkeypatch.setattr(cmd_demo, "client_yaml", bad_client)
    args = argparse.Namespace(qty=100, window=1.0, slices=1, speed=60.0, run_dir=tmp_path)
    with pytest.raises(ConfigError):
        asyncio.run(cmd_demo.demo(args))
    assert list(tmp_path.iterdir()) == []

