"""Start ``gateway run sessions/acceptance.yaml --port 0`` once for the conformance tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conformance.harness import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def gateway_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    run_dir = tmp_path_factory.mktemp("acceptance")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", str(ROOT / "sessions/acceptance.yaml"),
         "--port", "0", "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on"), f"gateway did not start: {line!r}"
    yield int(line.rsplit(":", 1)[1])
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def connect(gateway_port: int) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(target: str = "TW", begin: str = "FIX.4.4") -> Client:
        c = Client(gateway_port, target, begin)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(connect: Callable[..., Client]) -> Iterator[Client]:
    """A client logged on as TW (FIX.4.4), logged out again after the test if still on."""
    c = connect()
    c.logon()
    yield c
    try:
        c.msg("35=5")
        c.expect("5", timeout=2)
    except (AssertionError, TimeoutError, OSError):
        pass
