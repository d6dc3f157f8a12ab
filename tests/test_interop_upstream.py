"""The algo gateway's upstream side against a real QuickFIX venue.

``gateway run sessions/algo.yaml`` logs on, as an initiator, to a PyPI ``quickfix`` acceptor
playing the venue (``tests/interop/qf_peer.py venue``: QuickFIX's FileStore, the data
dictionary's validation on; it acknowledges and fills each order at once, in two parts, and
answers market-data, cancel and status requests), and a client (``gateway run
sessions/client.yaml``) hands the gateway a TWAP parent. The parent fills through the
children QuickFIX filled, and neither side refuses anything the other sent: no Reject (3) or
BusinessMessageReject (j) either way, no order processed twice.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.interop.harness import ENV, ROOT, Gateway, LineReader, QuickFixPeer, message_log

pytest.importorskip("quickfix", reason="QuickFIX not installed (pip install -e '.[interop]')")

pytestmark = pytest.mark.slow

QTY = 1000
TIMEOUT = 40.0  # seconds for the parent to fill (its window is 4 s)


def _config(source: str, path: Path, change: dict[str, object]) -> Path:
    """``sessions/<source>`` with ``change`` applied (a key path ``a.b`` -> value; a session
    by its role), written to ``path``."""
    data = yaml.safe_load((ROOT / "sessions" / source).read_text())
    for key, value in change.items():
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = (next(s for s in node if s.get("role", "initiator") == part)
                    if isinstance(node, list) else node[part])
        node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_algo_gateway_fills_a_twap_through_a_quickfix_venue(tmp_path: Path) -> None:
    venue = QuickFixPeer(["venue", "--workdir", str(tmp_path / "qf"), "--sender", "VENUE",
                          "--target", "CLIENT1"]).start()
    client: subprocess.Popen[str] | None = None
    try:
        port = int(venue.event("listening", 30)["port"])
        algo = Gateway(_config("algo.yaml", tmp_path / "algo.yaml", {
            "acceptor.port": 0, "sessions.initiator.port": port}), tmp_path / "algo").start()
        try:
            client = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run",
                 str(_config("client.yaml", tmp_path / "client.yaml", {
                     "sessions.initiator.port": algo.port,
                     "client.orders": [{"symbol": "AMZN", "side": "buy", "qty": QTY,
                                        "strategy": "1001", "window": 4,
                                        "params": "Slices=2", "limit": 231.00}]})),
                 "--run-dir", str(tmp_path / "client")],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
            assert client.stdout is not None
            lines = LineReader(client.stdout)
            while True:
                line = lines.next(TIMEOUT)
                assert line is not None, f"the client ended: {lines.seen[-5:]}"
                if f" filled {QTY}/{QTY}" in line and "partially" not in line:
                    break
        finally:
            if client is not None:
                client.terminate()
                client.communicate(timeout=30)
            algo.stop()
        venue.command("report")
        report = venue.event("report", 30)
    finally:
        venue.close()
    assert report["rejects_received"] == 0 and report["rejects_sent"] == 0
    assert report["echoes"] >= 2 and report["fresh_duplicates"] == []  # children, each once
    upstream = list(message_log(tmp_path / "algo" / "log"
                                / "FIX.4.4-CLIENT1-VENUE.messages.current.log"))
    assert not [m for m in upstream if m.get(35) in ("3", "j")]
    fills = [m for m in upstream if m.get(35) == "8" and m.get(150) == "F"]
    assert sum(int(m[32]) for m in fills) == QTY
