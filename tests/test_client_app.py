"""The client application's parent ClOrdIDs: unique across clients started together.

A venue refuses a ClOrdID it already saw that day from the same session, so two runs of
``sessions/client.yaml`` started in the same second must not name their parents alike.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from gateway.client_app import ClientApplication, new_cl_ord_id
from gateway.config import SessionConfig, load_config
from gateway.fixmessage import Message
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 5, 21, 14, 30, 5, 250000, tzinfo=UTC)


class Recorder:
    """The session handle the client sends its parents on: keeps what it was given."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.name = config.name
        self.logged_on = True
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def _parents_at(now: datetime) -> list[str]:
    config = load_config(ROOT / "sessions" / "client.yaml")
    app = ClientApplication(config)
    handle = Recorder(config.sessions[0])
    app.on_logon(handle, now)
    return [m.body.get_str(11) or "" for m in handle.sent]


def test_two_clients_logging_on_at_the_same_instant_send_different_cl_ord_ids() -> None:
    first, second = _parents_at(NOW), _parents_at(NOW)
    assert len(first) == len(second) == 1
    assert first != second
    assert first[0].startswith("P143005250000-")  # the time, to the microsecond, leads


def _child(now: datetime, out: multiprocessing.queues.Queue[str]) -> None:
    out.put(new_cl_ord_id(now))


def test_processes_at_the_same_instant_send_different_cl_ord_ids() -> None:
    # each process counts from 1: the process id is what tells them apart
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.queues.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(NOW, out)) for _ in range(2)]
    for p in procs:
        p.start()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(set(got)) == 2, got
    assert all(g.endswith("-1") for g in got), got


def test_gateway_run_of_a_client_config_prints_its_parent_as_the_reports_come(
        tmp_path: Path) -> None:
    # sessions/client.yaml against the venue, both as `gateway run` processes: the client
    # says what became of its order, a line a report, from the acknowledgement to the end
    venue, port = start_gateway(ROOT / "sessions" / "venue.yaml", tmp_path / "venue")
    config = yaml.safe_load((ROOT / "sessions" / "client.yaml").read_text())
    config["sessions"][0].update(target_comp_id="VENUE", sender_comp_id="CLIENT1", port=port)
    config["client"]["orders"][0].update(window=1.5, params="Slices=2")
    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump(config))
    client = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", str(path), "--run-dir",
         str(tmp_path / "client")], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert client.stdout is not None
        lines = [client.stdout.readline()]
        while not re.search(r" (filled|canceled|expired|rejected|done for day) ", lines[-1]):
            assert lines[-1], lines  # the client ended without a final report
            lines.append(client.stdout.readline())
        assert re.fullmatch(r"P\d{12}-\d+-1: buy AMZN new 0/1000\n", lines[0]), lines
        assert all(line.startswith(lines[0].split(":")[0] + ":") for line in lines), lines
    finally:
        assert stop_gateway(client) == 0
        assert stop_gateway(venue) == 0
