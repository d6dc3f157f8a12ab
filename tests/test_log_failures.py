"""A session's log that cannot be written (a full disk) costs neither the session nor the
gateway's clean stop: the failure is said once on stderr and trading goes on, the store
holding what is sent. The full disk is /dev/full, which answers every write with ENOSPC:
the session's log files are links to it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fixspec.dictionary import builtin_session
from tests.conformance.harness import Client
from tests.gateway_proc import ROOT, start_gateway, stop_gateway


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_log_on_a_full_disk_costs_neither_the_session_nor_the_clean_stop(
        tmp_path: Path) -> None:
    """Once, the failed write escaped the connection's end: the session stayed "connected"
    for good (its next logon refused) and SIGTERM ended with a bare errno and status 2."""
    log = tmp_path / "run" / "log"
    log.mkdir(parents=True)
    for kind in ("messages", "event"):
        (log / f"FIX.4.4-VENUE-CLIENT1.{kind}.current.log").symlink_to("/dev/full")
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path / "run",
                               stderr=subprocess.PIPE)
    try:
        for attempt in ("first", "again"):
            c = Client(port, target_comp_id="CLIENT1", our_comp_id="VENUE",
                       dictionary=builtin_session("FIX.4.4"))
            c.logon(extra="|141=Y")
            c.msg(f"35=D|11={attempt}|54=1|38=100|40=2|44=10|55=AAPL|59=0|60={c.ts()}")
            c.expect("8", **{"11": attempt, "150": "0"})
            c.close()
    finally:
        status = stop_gateway(proc)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert status == 0, err
    [line] = [line for line in err.splitlines() if "cannot write" in line]
    assert line.startswith(f"gateway: log {log}/FIX.4.4-VENUE-CLIENT1."), line
    assert line.endswith(": cannot write: No space left on device; the session goes on, its "
                         "store keeps what it sends"), line
    assert "Traceback" not in err
