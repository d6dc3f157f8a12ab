"""Start and stop ``gateway run CONFIG --port 0`` as a real process, for tests over TCP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_gateway(config: Path, run_dir: Path, *, stderr: int | None = None,
                  command: list[str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """The process and the port it listens on (read from its ``listening on`` line);
    ``stderr``: subprocess.PIPE to read what it says there (little: a pipe nobody reads
    would fill), else inherited; ``command``: what runs the CLI (``python -m gateway.cli``),
    such as a script that patches the gateway before it starts."""
    proc = subprocess.Popen(
        [*(command or [sys.executable, "-m", "gateway.cli"]), "run", str(config),
         "--port", "0", "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on"), f"{config.name} did not start: {line!r}"
    return proc, int(line.rsplit(":", 1)[1])


def stop_gateway(proc: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit status (killed after 10 s)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
