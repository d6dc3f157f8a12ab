"""A session schedule on a running gateway (real process, TCP, wall clock): at the end time
the gateway logs the client out, and at the next start a new session begins with sequence
numbers reset, so a client may log on again from MsgSeqNum 1 without ResetSeqNumFlag."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.conformance.harness import Client
from tests.fixpeer import fields
from tests.gateway_proc import start_gateway, stop_gateway


def _until_logout(c: Client, timeout: float) -> dict[int, str]:
    """Read to the gateway's Logout, passing over heartbeats and answering TestRequests."""
    deadline = time.monotonic() + timeout
    while True:
        raw = c._next_raw(max(0.01, deadline - time.monotonic()))
        assert raw is not None, "the gateway disconnected without a Logout"
        got = fields(raw)
        if got[35] == "5":
            return got
        if got[35] == "1":
            c.msg(f"35=0|112={got[112]}")


def scheduled_gateway(tmp_path: Path, start_in: float, end_in: float
                      ) -> tuple[subprocess.Popen[str], int, datetime, datetime]:
    """``gateway run`` with one echo session TW scheduled daily (UTC, to the second) from
    ``start_in`` to ``end_in`` seconds from now; the process, its port, start and end.
    Skips the test when the times would cross midnight (the schedule is by time of day)."""
    now = datetime.now(UTC)
    start, end = now + timedelta(seconds=start_in), now + timedelta(seconds=end_in)
    if max(start, end).date() != now.date():
        pytest.skip("the schedule would cross midnight; run again later")
    config = {
        "acceptor": {"host": "127.0.0.1", "port": 0},
        "defaults": {"role": "acceptor", "sender_comp_id": "ISLD", "application": "echo",
                     "logout_timeout": 1, "store": {"kind": "file", "fsync": "never"}},
        "sessions": [{"begin_string": "FIX.4.4", "target_comp_id": "TW",
                      "schedule": {"start": start.strftime("%H:%M:%S"),
                                   "end": end.strftime("%H:%M:%S"), "timezone": "UTC"}}],
    }
    path = tmp_path / "scheduled.yaml"
    path.write_text(yaml.safe_dump(config))
    return (*start_gateway(path, tmp_path / "run"), start, end)


def test_the_session_ends_at_its_end_time_and_restarts_fresh(tmp_path: Path) -> None:
    # in session from `start` until `end` the next day: now is inside yesterday's session;
    # margins for a slow machine: the gateway must be up and logged on before `end`
    proc, port, start, end = scheduled_gateway(tmp_path, 10, 8)
    try:
        c = Client(port, "TW", our_comp_id="ISLD")
        c.logon(hb=1)
        for i in range(3):
            c.msg(f"35=1|112=T{i}")
            c.expect("0", **{"112": f"T{i}"})
        logout = _until_logout(c, timeout=15)
        assert datetime.now(UTC) >= end - timedelta(seconds=1)
        assert "End of session" in logout.get(58, "")
        c.msg("35=5")
        c.expect_disconnect()
        c.sock.close()

        # between end and start nobody may log on
        early = Client(port, "TW", our_comp_id="ISLD")
        early.send(early.peer.logon(1, "", now=early.now))
        early.expect_disconnect()
        early.sock.close()

        time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 1.2)
        again = Client(port, "TW", our_comp_id="ISLD")  # a new peer: MsgSeqNum 1, no 141=Y
        answer = again.logon(hb=1)
        assert answer[34] == "1"  # the gateway's numbers started over too
        again.close()
    finally:
        assert stop_gateway(proc) == 0


def test_traffic_does_not_keep_a_session_past_its_end(tmp_path: Path) -> None:
    """The end time is kept while messages flow (QuickFIX checks it on every message, not
    only when a heartbeat falls due): the Logout comes at the end, not HeartBtInt later."""
    proc, port, _start, end = scheduled_gateway(tmp_path, 3600, 5)
    try:
        c = Client(port, "TW", our_comp_id="ISLD")
        c.logon(hb=30)
        answered = 0
        while True:  # a TestRequest every 0.2 s: never a heartbeat's worth of silence
            c.msg(f"35=1|112=T{answered}")
            got = fields(c._next_raw(10) or b"")
            if got.get(35) == "5":
                break
            assert got.get(35) == "0" and datetime.now(UTC) < end + timedelta(seconds=5)
            answered += 1
            time.sleep(0.2)
        assert "End of session" in got.get(58, "")
        # at the end, not a HeartBtInt (30 s) later; the margin is for a loaded machine
        assert end - timedelta(seconds=1) <= datetime.now(UTC) < end + timedelta(seconds=5)
        assert answered > 5
        c.sock.close()
    finally:
        assert stop_gateway(proc) == 0


def test_a_session_without_a_pause_still_ends_and_starts_afresh(tmp_path: Path) -> None:
    """Start = end (one period after the other, no pause): at the boundary the client is
    logged out and logs on again into a new session whose sequence numbers start over."""
    proc, port, _start, _end = scheduled_gateway(tmp_path, 5, 5)
    try:
        c = Client(port, "TW", our_comp_id="ISLD")
        c.logon(hb=30)
        logout = _until_logout(c, timeout=15)
        assert "End of session" in logout.get(58, "")
        c.msg("35=5")
        c.expect_disconnect()
        c.sock.close()
        again = Client(port, "TW", our_comp_id="ISLD")  # MsgSeqNum 1, no 141=Y
        assert again.logon(hb=30)[34] == "1"
        again.close()
    finally:
        assert stop_gateway(proc) == 0
