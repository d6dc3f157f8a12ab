"""The command line as the shell gives it. A command's stdout: a reader that goes away
(``| head``), a stdout closed (``>&-``), a full disk (``>/dev/full``); the command's work and
exit status stand when nobody reads, a write that fails is one error line naming stdout.
An option no command knows points at the help that lists the command's options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ["audit", str(ROOT / "tests" / "data" / "audit"), "--clordid", "PARENT1"]


def gateway(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT,
                          stderr=subprocess.PIPE, text=True, timeout=120, **kw)  # type: ignore


@pytest.mark.parametrize("args", [AUDIT, ["lobster", "replay", "--out", "{tmp}/BOOK.csv"]])
def test_a_reader_gone_leaves_the_commands_own_status(tmp_path: Path, args: list[str]) -> None:
    """``| head`` having read what it wanted: ``gateway: error: [Errno 32] Broken pipe``,
    exit 2 (a bad argument's status), where the command had done its work."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line
    try:
        done = gateway([a.format(tmp=tmp_path) for a in args], stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_closed_stdout_is_nobody_reading() -> None:
    """``>&-``: sys.stdout is None, and the timeline's writer failed with an AttributeError
    traceback, exit 1 ("nothing mentions ID")."""
    done = gateway(AUDIT, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_stdout_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = gateway(AUDIT, stdout=full)
    assert (done.returncode, done.stderr) == (
        2, "gateway: error: cannot write to stdout: No space left on device\n")


@pytest.mark.parametrize(("args", "command"), [
    (["demo", "--bogus"], "gateway demo"), ([*AUDIT, "--bogus"], "gateway audit"),
    (["lobster", "replay", "--bogus"], "gateway lobster replay"),
])
def test_an_unknown_option_points_at_its_commands_help(args: list[str], command: str) -> None:
    """It said ``see gateway --help``, whose text does not list a command's options."""
    done = gateway(args, stdout=subprocess.DEVNULL)
    assert (done.returncode, done.stderr) == (
        2, f"gateway: error: unrecognized arguments: --bogus; see {command} --help\n")


@pytest.mark.parametrize(("args", "option"), [
    (["backtest", "sessions/backtest.yaml", "--output", ""], "--output"),
    (["lobster", "replay", "--out", ""], "--out"),
    (["run", "sessions/venue.yaml", "--run-dir", ""], "--run-dir"),
])
def test_an_empty_path_is_refused_not_taken_as_the_current_folder(args: list[str],
                                                                  option: str) -> None:
    """``--output ''`` wrote a backtest's report into the current folder."""
    done = gateway(args, stdout=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.startswith(f"gateway: error: argument {option}: expected a path, got "
                                  "an empty one; see gateway "), done.stderr
