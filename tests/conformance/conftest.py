"""Start ``gateway run sessions/acceptance.yaml --port 0`` once for the conformance tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conformance.harness import Client
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def gateway_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_gateway(ROOT / "sessions/acceptance.yaml",
                               tmp_path_factory.mktemp("acceptance"))
    yield port
    stop_gateway(proc)


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
