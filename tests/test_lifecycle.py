"""``gateway run``'s life: what its once-a-second freeze keeps and frees, and how each stop
signal ends it, during start-up (quietly, 128 + the signal) and while serving (sessions
logged out, exit 0)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cmd_run import freeze_survivors
from tests.conformance.harness import Client
from tests.gateway_proc import start_gateway

ROOT = Path(__file__).resolve().parents[1]

CONFIG = ("acceptor: {host: 127.0.0.1, port: 0}\n"
          "sessions:\n"
          "  - {begin_string: FIX.4.4, sender_comp_id: GW, target_comp_id: CLIENT,\n"
          "     store: {kind: memory}}\n")


class Cyclic:
    """An object that refers to itself: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    """No collection but the ones the code under test makes, and nothing left frozen."""
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


async def freeze_once() -> None:
    """Run freeze_survivors until it has frozen once, then stop it."""
    task = asyncio.create_task(freeze_survivors(every=0))
    for _ in range(100):
        await asyncio.sleep(0)
        if gc.get_freeze_count():
            break
    task.cancel()
    assert gc.get_freeze_count(), "freeze_survivors never froze"


def test_garbage_cycles_are_freed_before_the_freeze(no_automatic_gc: None) -> None:
    # a closed connection leaves cycles like this one: garbage no collection has reached yet
    garbage = Cyclic()
    dead = weakref.ref(garbage)
    del garbage
    asyncio.run(freeze_once())
    assert dead() is None, "a garbage cycle was frozen: it can never be freed"


def test_live_objects_are_frozen(no_automatic_gc: None) -> None:
    kept = Cyclic()
    asyncio.run(freeze_once())
    # frozen objects are out of every generation: full collections no longer scan them
    assert not any(o is kept for o in gc.get_objects())


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(CONFIG)
    return path


def loading_modules(pid: int) -> bool:
    """Whether process ``pid`` has begun to load the gateway's modules: the C core is mapped
    (Linux /proc). It is among the first; a quarter of a second or more of imports follows it."""
    try:
        return "engine/_core" in Path(f"/proc/{pid}/maps").read_text()
    except FileNotFoundError:  # it has ended already
        return True


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_start_up_ends_it_quietly(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", str(write_config(tmp_path)),
         "--port", "0", "--run-dir", str(tmp_path / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        while proc.poll() is None and not loading_modules(proc.pid):
            time.sleep(0.002)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out == "", "the signal came after start-up: the test proved nothing"
    assert "Traceback" not in err, err
    assert proc.returncode == 128 + sig, err
    assert err.splitlines() == [f"gateway: stopped by {sig.name}"], err


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_sigusr1_during_the_imports_is_the_kill_switch_not_the_end(tmp_path: Path) -> None:
    # SIGUSR1's default action ends a process: from main() on it is the venue's kill switch,
    # thrown once the sessions are up, so the first order is refused and nothing is lost
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", str(ROOT / "sessions" / "venue.yaml"),
         "--port", "0", "--run-dir", str(tmp_path / "run")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        while proc.poll() is None and not loading_modules(proc.pid):
            time.sleep(0.002)
        proc.send_signal(signal.SIGUSR1)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on"), (line, proc.poll())
        c = Client(int(line.rsplit(":", 1)[1]), "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        c.msg(f"35=D|11=U1|54=1|38=10|44=20.00|40=2|55=AAPL|59=0|60={c.ts()}")
        refused = c.expect("8", **{"11": "U1", "150": "8"})
        assert "kill switch: SIGUSR1 during start-up" in refused[58], refused
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_sighup_logs_the_sessions_out_and_exits_0(tmp_path: Path) -> None:
    proc, port = start_gateway(write_config(tmp_path), tmp_path / "run")
    try:
        client = Client(port, "CLIENT", our_comp_id="GW")
        client.logon()
        proc.send_signal(signal.SIGHUP)
        client.expect("5")  # the gateway's Logout, not a dropped connection
        client.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigusr2_reopens_every_log_for_rotation(tmp_path: Path) -> None:
    # logrotate's way: rename the files, then signal. What came before is in the renamed
    # files, what comes after in new ones at the old paths, and nothing is lost between.
    run = tmp_path / "run"
    proc, port = start_gateway(ROOT / "sessions" / "venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        c.msg(f"35=D|11=R1|54=1|38=10|44=20.00|40=2|55=AAPL|59=0|60={c.ts()}")
        c.expect("8", **{"11": "R1", "150": "0"})
        logs = [run / "audit.jsonl", run / "log" / "FIX.4.4-VENUE-CLIENT1.messages.current.log",
                run / "log" / "FIX.4.4-VENUE-CLIENT1.event.current.log"]
        for log in logs:
            log.rename(log.with_name(log.name + ".1"))
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not all(log.exists() for log in logs):
            assert time.monotonic() < deadline, "the logs were not reopened"
            time.sleep(0.05)
        c.msg(f"35=D|11=R2|54=1|38=10|44=20.00|40=2|55=AAPL|59=0|60={c.ts()}")
        c.expect("8", **{"11": "R2", "150": "0"})
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    audit, messages, events = logs
    for new in (audit, messages):
        old = new.with_name(new.name + ".1").read_text(encoding="latin-1")
        text = new.read_text(encoding="latin-1")
        assert "11=R1" in old and "11=R2" not in old, new
        assert "11=R2" in text and "11=R1" not in text, new
    assert "disconnect" in events.read_text()  # the session's events go on too
    assert "logs reopened (SIGUSR2)" in (run / "log" / "acceptor.event.current.log").read_text()
