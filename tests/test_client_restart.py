"""A client killed with SIGKILL and started again follows the parents it had sent, instead
of sending its config's orders a second time (gateway/client_journal.py); a clean stop that
settles them all leaves no journal, so the next run is a new one."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.client_app import ClientApplication
from gateway.client_journal import JournalError, ParentJournal, SentParent
from gateway.client_order import ClientOrder
from gateway.config import load_config
from tests.engine_apps import RecordingHandle
from tests.gateway_proc import start_gateway, stop_gateway
from tests.test_client_app import client_config

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 5, 21, 14, 30, 5, tzinfo=UTC)


class _Engine:
    """What ClientApplication.bind reads of an engine: runners, run_dir, notice."""

    def __init__(self, run_dir: Path) -> None:
        self.runners: dict[object, object] = {}
        self.run_dir = run_dir
        self.notices: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)


def _started(run_dir: Path) -> tuple[ClientApplication, RecordingHandle, _Engine]:
    config = load_config(ROOT / "sessions" / "client.yaml")
    app = ClientApplication(config)
    engine = _Engine(run_dir)
    app.bind(engine)
    handle = RecordingHandle(config.sessions[0])
    app.on_logon(handle, NOW)
    return app, handle, engine


def test_a_restart_follows_the_journaled_parent_and_a_settled_stop_clears_it(
        tmp_path: Path) -> None:
    _, handle, _ = _started(tmp_path)
    [order] = handle.sent
    cl = order.body.get_str(11)
    journal = tmp_path / "CLIENT2-ALGO.client-parents.jsonl"
    [line] = journal.read_text().splitlines()
    assert json.loads(line)["cl_ord_id"] == cl and json.loads(line)["index"] == 0
    # killed here; a new process on the same run directory asks about it, sends nothing new
    again, handle, engine = _started(tmp_path)
    assert [(m.msg_type, m.body.get_str(11)) for m in handle.sent] == [("H", cl)]
    assert list(again.orders) == [cl] and again.orders[cl].order.qty == 1000
    assert engine.notices == [f"client: following 1 parent(s) sent by a run that did not "
                              f"stop cleanly ({journal}), not sending them again"]
    settled = again.wind_down(NOW)
    assert not settled() and journal.exists()  # its cancel is not answered yet
    again.orders[cl].status = "4"
    assert settled() and not journal.exists()
    _, handle, engine = _started(tmp_path)  # a new run after a clean stop sends anew
    assert [m.msg_type for m in handle.sent] == ["D"] and engine.notices == []


def test_an_order_edited_after_the_crash_is_not_sent_beside_the_one_followed(
        tmp_path: Path) -> None:
    """The config's order at a journaled place changed (its quantity; or the orders
    swapped): the journaled parent is followed and nothing new goes out there (once, a
    second parent was sent beside the first)."""
    _, handle, _ = _started(tmp_path)
    [sent] = handle.sent
    config = load_config(ROOT / "sessions" / "client.yaml")
    app = ClientApplication(config)
    [(index, order)] = app.to_send
    app.to_send = [(index, dataclasses.replace(order, qty=1200))]
    engine = _Engine(tmp_path)
    app.bind(engine)
    handle = RecordingHandle(config.sessions[0])
    app.on_logon(handle, NOW)
    assert [(m.msg_type, m.body.get_str(11)) for m in handle.sent] == [
        ("H", sent.body.get_str(11))]
    assert engine.notices[0].endswith("; the config's order(s) 1 differ from what was sent "
                                      "and are not sent")


def test_two_clients_sharing_a_run_directory_keep_their_own_journals(tmp_path: Path) -> None:
    """Named by the session, not the config file: client.yaml files of two folders (two
    sessions) once shared one journal, and the second took over the first's parents."""
    _started(tmp_path)
    config = load_config(ROOT / "sessions" / "client.yaml")
    other = dataclasses.replace(config, sessions=[
        dataclasses.replace(config.sessions[0], sender_comp_id="CLIENT9")])
    app = ClientApplication(other)
    engine = _Engine(tmp_path)
    app.bind(engine)
    handle = RecordingHandle(other.sessions[0])
    app.on_logon(handle, NOW)
    assert [m.msg_type for m in handle.sent] == ["D"] and engine.notices == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "CLIENT2-ALGO.client-parents.jsonl", "CLIENT9-ALGO.client-parents.jsonl"]


def test_a_line_cut_short_at_the_end_is_an_order_never_sent(tmp_path: Path) -> None:
    """The crash came while the line was written (before its fsync, so before the order went
    out): it is passed over; a bad line before the end is an error naming file and line."""
    path = tmp_path / "j.jsonl"
    journal = ParentJournal(path)
    order = ClientOrder(symbol="AMZN", side="sell", qty=5, limit=Decimal("230.5"),
                        participation=Decimal("0.2"))
    journal.record(SentParent(2, "P1", order))
    assert journal.load() == [SentParent(2, "P1", order)]
    whole = path.read_bytes()
    path.write_bytes(whole + whole[:20])
    cut = ParentJournal(path)
    assert cut.load() == [SentParent(2, "P1", order)]
    # the cut line is gone from the file: the next record starts a line of its own (it was
    # appended to the cut one, and the restart after that could not read the journal)
    cut.record(SentParent(3, "P2", order))
    assert ParentJournal(path).load() == [SentParent(2, "P1", order), SentParent(3, "P2", order)]
    path.write_bytes(whole[:20] + b"\n" + whole)
    with pytest.raises(JournalError, match=rf"{path}:1: not a parent the client sent"):
        ParentJournal(path).load()


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    assert ready, "no progress line in time"
    line = proc.stdout.readline()
    assert line, "the client ended"
    return line


def test_a_client_killed_with_sigkill_follows_its_parent_after_a_restart(
        tmp_path: Path) -> None:
    """Real processes: the venue, and the client of sessions/client.yaml killed with
    SIGKILL once its parent is acknowledged. Restarted on the same run directory it reports
    that parent (asked with an OrderStatusRequest) and sends no second one; its clean stop
    cancels it and removes the journal."""
    venue, port = start_gateway(ROOT / "sessions" / "venue.yaml", tmp_path / "venue")
    path = client_config(tmp_path, port, window=120, params="Slices=2")
    run_dir = tmp_path / "client"

    def client() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", str(path), "--run-dir",
             str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})

    try:
        first = client()
        line = _read_line(first, time.monotonic() + 60)
        cl = line.split(":")[0]
        assert line == f"{cl}: buy AMZN new 0/1000\n"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = client()
        try:
            line = _read_line(second, time.monotonic() + 60)
            assert line.startswith(f"{cl}: buy AMZN new 0/1000"), line  # the status answer
        finally:
            assert stop_gateway(second) == 0
        assert second.stderr is not None
        err = second.stderr.read()
        assert "client: following 1 parent(s) sent by a run that did not stop cleanly" in err
        assert second.stdout is not None
        rest = second.stdout.read().splitlines()
        assert rest and all(r.startswith(f"{cl}: ") for r in rest), rest  # no other parent
        assert rest[-1].startswith(f"{cl}: buy AMZN canceled ")
        assert not (run_dir / "CLIENT1-VENUE.client-parents.jsonl").exists()
    finally:
        assert stop_gateway(venue) == 0
