"""Audit log and metrics plugged into a real Engine over loopback TCP, as ``gateway run``
would wire them, then ``gateway audit`` on the run folder."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path

import pytest

from gateway.apps import Dispatcher
from gateway.audit import AuditLog, parse_audit_config
from gateway.cli import main
from gateway.config import (
    GatewayConfig,
    ReconnectConfig,
    SessionConfig,
    StoreConfig,
    load_config,
)
from gateway.metrics import GatewayMetrics, parse_metrics_config
from gateway.transport import Engine
from tests.engine_apps import Collector, order, wait_for

CONFIG = """\
acceptor: {host: 127.0.0.1, port: 0}
sessions:
  - {begin_string: FIX.4.4, sender_comp_id: ISLD, target_comp_id: TW, application: echo,
     store: {kind: file, fsync: never}}
metrics: {host: 127.0.0.1, port: 0}
audit: {path: run/audit/gateway.jsonl}
"""


def test_engine_with_audit_and_metrics(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "gw.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "gw.yaml")
    audit_cfg = parse_audit_config(config.extra["audit"], tmp_path)
    metrics_cfg = parse_metrics_config(config.extra["metrics"])
    audit = AuditLog.from_config(audit_cfg)
    metrics = GatewayMetrics()
    port = metrics.serve(metrics_cfg.host, metrics_cfg.port)
    scraped: list[str] = []

    async def scenario() -> None:
        acceptor = Engine(config, Dispatcher(config), run_dir=tmp_path / "run",
                          observers=[audit, metrics])
        await acceptor.start()
        ini = SessionConfig("FIX.4.4", "TW", "ISLD", role="initiator", host="127.0.0.1",
                            port=acceptor.port, application="collector",
                            store=StoreConfig(kind="memory"),
                            reconnect=ReconnectConfig(initial_delay=0.05, max_delay=0.2))
        icfg = GatewayConfig(tmp_path / "ini.yaml", (ini,))
        collector = Collector()
        initiator = Engine(icfg, Dispatcher(icfg, {"collector": collector}),
                           run_dir=tmp_path / "ini")
        await initiator.start()
        runner = initiator.runner("ISLD")
        await wait_for(lambda: runner.logged_on)
        for i in range(5):
            runner.send(order(f"ENG-{i}"))
        await wait_for(lambda: len(collector.received) == 5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            scraped.append(r.read().decode())
        await initiator.stop()
        await acceptor.stop()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        audit.close()
        metrics.close()

    text = scraped[0]
    assert 'messages_received_total{msg_type="D",session="FIX.4.4:ISLD->TW"} 5.0' in text
    assert 'messages_sent_total{msg_type="D",session="FIX.4.4:ISLD->TW"} 5.0' in text
    assert 'session_connected{session="FIX.4.4:ISLD->TW"} 1.0' in text
    assert ('session_state{session="FIX.4.4:ISLD->TW",session_state="active"} 1.0' in text)

    records = [json.loads(line) for line in audit_cfg.path.read_text().splitlines()]
    orders_in = [r["cl_ord_id"] for r in records
                 if r["kind"] == "msg" and r["direction"] == "in" and r["msg_type"] == "D"]
    assert orders_in == [f"ENG-{i}" for i in range(5)]
    events = [r["event"] for r in records if r["kind"] == "session"]
    assert events[:2] == ["Connected", "LoggedOn"]

    # The run folder holds the JSON audit log, the QuickFIX-format message log and the
    # binary store; the timeline reads the first two and finds the order in each: each
    # message once, read first in the audit log, naming its line in the message log too.
    assert main(["audit", str(tmp_path / "run"), "--clordid", "ENG-3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 + 2  # D in and its echo out
    assert all(re.search(r"audit/gateway\.jsonl:\d+ .*\(also \S+/FIX\.4\.4-ISLD-TW\."
                         r"messages\.current\.log:\d+\)$", line) for line in out[1:]), out
    assert all("NewOrderSingle BUY 100 INTC MARKET" in line for line in out[1:])
    assert sum(" in " in line for line in out) == 1
    assert sum(" out " in line for line in out) == 1
