"""How ``gateway demo`` tells the user how its parent ended: states in words (never a raw
OrdStatus code), the venue's reason when it rejects or cancels the parent, and an exit status
for each end (0 filled or expired, 3 rejected, 4 canceled). Real processes, real FIX
sessions over TCP."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import cmd_demo
from gateway.client_app import TEXT_SHOWN

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not cmd_demo.SAMPLE.is_file(),
                                reason="the bundled market data is missing")
#: what a progress line says after ``avg PRICE``
PROGRESS = re.compile(r"^ +[\d.]+s \[[# ]{20}\] +\d+/\d+ avg \S+ +(?P<said>.*)$")


def demo(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "demo", *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def said(stdout: str) -> list[str]:
    return [m["said"] for m in map(PROGRESS.match, stdout.splitlines()) if m]


def status_column(stdout: str) -> str:
    row = next(line for line in stdout.splitlines() if "buy AMZN" in line)
    return row.split("  ")[-1].strip()


def test_a_rejected_parent_shows_the_venues_reason_and_exits_3(tmp_path: Path) -> None:
    # --slices 0 is an argument error now; the demo itself is called with it to get a
    # parent the venue rejects
    code = ("import argparse, sys\nfrom pathlib import Path\nfrom gateway import cmd_demo\n"
            "sys.exit(cmd_demo.run(argparse.Namespace(qty=3000, window=20.0, slices=0, "
            f"speed=30.0, run_dir=Path({str(tmp_path)!r}))))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    reason = "TWAP Slices must be a positive integer, got '0'"
    assert said(proc.stdout) == [f"rejected: {reason}"]
    assert status_column(proc.stdout) == "rejected"
    assert re.fullmatch(rf"gateway: demo: the venue rejected parent P\S+: {re.escape(reason)}\n",
                        proc.stderr), proc.stderr


def test_a_parent_the_venue_cancels_shows_why_and_exits_4(tmp_path: Path) -> None:
    # with a price band of a millionth of a percent every child's limit price is outside
    # it: the TWAP gives up after a few rejected children and the desk cancels the parent
    code = ("import argparse, sys\nfrom pathlib import Path\nfrom gateway import cmd_demo\n"
            "made = cmd_demo.venue_yaml\n"
            "def venue_yaml(run_dir, speed):\n"
            "    config = made(run_dir, speed)\n"
            "    config['venue']['symbols']['AMZN']['band_pct'] = 1e-6\n"
            "    return config\n"
            "cmd_demo.venue_yaml = venue_yaml\n"
            "sys.exit(cmd_demo.run(argparse.Namespace(qty=3000, window=2.0, slices=4, "
            f"speed=60.0, run_dir=Path({str(tmp_path)!r}))))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    last = said(proc.stdout)[-1]
    assert last.startswith("canceled: ") and "child orders rejected" in last, last
    assert status_column(proc.stdout) == "canceled"
    assert proc.stderr.startswith("gateway: demo: the venue canceled parent P"), proc.stderr


@pytest.mark.parametrize(("argv", "end"), [
    (("--qty", "600", "--window", "4", "--slices", "4"), r".*, filled"),
    (("--qty", "200000", "--window", "0.5"), r"expired: window ended with \d+ unfilled"),
])
def test_progress_says_each_state_in_words_and_the_end_exits_0(
        tmp_path: Path, argv: tuple[str, ...], end: str) -> None:
    proc = demo(*argv, "--speed", "60", "--run-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = said(proc.stdout)
    assert lines[0] == "new"
    assert re.fullmatch(end, lines[-1]), lines[-1]
    # between them: fills, never a bare OrdStatus code
    assert all(re.fullmatch(r"last \d+ @ [\d.]+", x) for x in lines[1:-1]), lines
    assert status_column(proc.stdout) in ("filled", "expired")
    assert proc.stderr == ""


def test_the_venues_text_cannot_drive_the_terminal() -> None:
    assert cmd_demo.shown("got '0'\x1b[2J\nnext\\") == "got '0'\\x1b[2J\\x0anext\\x5c"
    long = cmd_demo.shown("\x07" * 100)
    assert long.endswith("...") and len(long) <= TEXT_SHOWN + 3
    assert long[:-3] == "\\x07" * (len(long[:-3]) // 4)


def test_help_states_the_exit_statuses() -> None:
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "demo", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0
    for line in ("0    the parent ended filled or expired", "1    the parent had not ended",
                 "2    a bad argument", "3    the venue rejected the parent",
                 "4    the venue canceled the parent"):
        assert line in proc.stdout


def test_ctrl_c_logs_out_names_the_run_and_exits_130(tmp_path: Path) -> None:
    """Ctrl-C once the parent is working: the sessions log out, the audit log is whole, and
    one line says where the run so far is; no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "demo", "--window", "60",
                             "--run-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        while "avg" not in proc.stdout.readline():  # a first fill: the parent is working
            assert proc.poll() is None, "the demo ended before its first fill"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    [run_dir] = tmp_path.iterdir()
    assert proc.returncode == 130
    assert err == f"interrupted; the run so far: {run_dir} (gateway audit {run_dir} " \
                  "--clordid ID)\n"
    events = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text().splitlines()]
    assert [e.get("msg_type") for e in events if e.get("direction") == "out"].count("5") >= 1


def test_the_audit_command_shown_can_be_pasted() -> None:
    """A run folder with a space (``--run-dir "rd sp"``) was shown unquoted: pasted, the
    command named a folder ``rd`` that does not exist."""
    run_dir = Path("/tmp/rd sp/20261129-160136")
    command = cmd_demo.audit_command(run_dir)
    assert shlex.split(command) == ["gateway", "audit", str(run_dir)]
