"""The client application's parent ClOrdIDs: unique across clients started together.

A venue refuses a ClOrdID it already saw that day from the same session, so two runs of
``sessions/client.yaml`` started in the same second must not name their parents alike.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from gateway.client_app import ClientApplication, new_cl_ord_id
from gateway.config import SessionConfig, load_config
from gateway.fixmessage import Message

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
