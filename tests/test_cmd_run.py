"""``gateway run`` on a bad configuration, bad arguments or what the configuration names
(files, hosts, ports) unusable: one line saying what and where, exit 2, no session started."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tls_files import self_signed

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("text", "line", "what"), [
    ("acceptor: {port: 1}\nsessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A,\n"
     "     target_comp_id: B, heartbeat_intervall: 30}\n", 4, "heartbeat_intervall: unknown key"),
    ("acceptor: {port: 1}\nsessions:\n  - begin_string: FIX.4.4\n    sender_comp_id: A\n"
     "    target_comp_id: B\n    store: {fsync: sometimes}\n", 6, "expected one of always"),
    ("acceptor: {port: 1}\nsessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A,\n"
     "     target_comp_id: B, application: venue}\n", 0, "needs a 'venue:' section"),
    ("acceptor: {port: 1}\nsessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A,\n"
     "     target_comp_id: B, application: venue}\nvenue:\n  symbols:\n"
     "    AAPL: {tick_size: -1}\n", 7, "expected a positive number"),
])
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = run_gateway(tmp_path, path, "--port", "0")
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gateway: error: ") and what in err[0], err
    if line:
        assert f"{path}:{line}:" in err[0]


def run_gateway(tmp_path: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "run", str(config), *args,
                           "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``gateway: error:`` line of a run that ended with status 2."""
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gateway: error: "), proc.stderr
    return err[0]


SESSION = "  - {begin_string: FIX.4.4, sender_comp_id: A, target_comp_id: B}\n"


def test_risk_limits_for_a_compid_no_session_has_are_a_start_up_error(tmp_path: Path) -> None:
    """A typo (CLIENTl for CLIENT1) in ``risk.sessions`` would leave that client's orders
    unchecked by the limits meant for it: the venue does not start, and the line names the
    file, line and key."""
    config = tmp_path / "venue.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n"
                      "  - {begin_string: FIX.4.4, sender_comp_id: VENUE,\n"
                      "     target_comp_id: CLIENT1, application: venue}\n"
                      "venue:\n  symbols: {AAPL: {tick_size: 0.01}}\n"
                      "risk:\n  sessions:\n    CLIENT1: {max_order_qty: 10}\n"
                      "    CLIENTl: {max_order_qty: 10}\n")
    proc = run_gateway(tmp_path, config)
    assert one_error_line(proc) == (
        f"gateway: error: {config}:10: risk.sessions.CLIENTl: no session has the CompID "
        "'CLIENTl'; the sessions' are CLIENT1")
    assert "listening on" not in proc.stdout


@pytest.mark.parametrize("port", ["70000", "65536", "-1"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, port: str) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n" + SESSION)
    line = one_error_line(run_gateway(tmp_path, config, "--port", port))
    assert f"argument --port: {port} is not a port number" in line


def cert_and_missing_key(tmp_path: Path) -> tuple[Path, Path]:
    """A cert file that exists (empty: it is never loaded) and a key file that does not."""
    cert = tmp_path / "gw.crt"
    cert.write_text("")
    return cert, tmp_path / "tls" / "gw.key"


@pytest.mark.parametrize("which", ["cert", "key"])
def test_a_missing_acceptor_tls_file_is_named_with_its_key(tmp_path: Path, which: str) -> None:
    cert, key = cert_and_missing_key(tmp_path)
    if which == "cert":
        cert, key = tmp_path / "nowhere.crt", cert
    config = tmp_path / "gw.yaml"
    config.write_text(f"acceptor: {{port: 0, tls: {{cert: {cert}, key: {key}}}}}\n"
                      "sessions:\n" + SESSION)
    line = one_error_line(run_gateway(tmp_path, config))
    missing = cert if which == "cert" else key
    assert f"acceptor.tls.{which}: no such file: {missing}" in line


def test_an_encrypted_key_without_its_passphrase_is_a_start_up_error(tmp_path: Path) -> None:
    """Not a prompt on the terminal (which a service does not have)."""
    cert, key = self_signed(tmp_path, "pw1")
    config = tmp_path / "gw.yaml"
    config.write_text(f"acceptor: {{port: 0, tls: {{cert: {cert}, key: {key}}}}}\n"
                      "sessions:\n" + SESSION)
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "run", str(config),
                           "--run-dir", str(tmp_path / "run")], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    line = one_error_line(proc)
    assert line.endswith(f"acceptor.tls: cannot load cert {cert}, key {key}: the key is "
                         "encrypted: name the environment variable holding its passphrase "
                         "with key_password_env"), line


def test_a_missing_initiator_tls_file_is_named_with_its_session(tmp_path: Path) -> None:
    # an initiator loads its TLS files only when it connects: it used to retry for ever
    config = tmp_path / "gw.yaml"
    config.write_text("sessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A, "
                      "target_comp_id: B, role: initiator, host: 127.0.0.1, port: 9,\n"
                      f"     tls: {{ca: {tmp_path / 'ca.pem'}}}}}\n")
    line = one_error_line(run_gateway(tmp_path, config))
    assert f"tls of session FIX.4.4:A->B.ca: no such file: {tmp_path / 'ca.pem'}" in line


@pytest.mark.parametrize("role", ["acceptor", "initiator"])
def test_a_host_that_does_not_resolve_is_named(tmp_path: Path, role: str) -> None:
    host = "no-such-host.invalid"  # .invalid never resolves (RFC 6761)
    config = tmp_path / "gw.yaml"
    if role == "acceptor":
        config.write_text(f"acceptor: {{host: {host}, port: 0}}\nsessions:\n" + SESSION)
    else:
        config.write_text("sessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A, "
                          f"target_comp_id: B, role: initiator, host: {host}, port: 9}}\n")
    line = one_error_line(run_gateway(tmp_path, config))
    where = "acceptor.host" if role == "acceptor" else "host of session FIX.4.4:A->B"
    assert f"{where}: '{host}' does not resolve" in line


@pytest.mark.parametrize("section", ["metrics", "acceptor"])
def test_a_port_in_use_says_whose_it_is_and_writes_nothing(tmp_path: Path, section: str) -> None:
    """The ports are bound before any store, log or audit file is opened: a start that
    fails on one leaves a run directory that had nothing with nothing in it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "gw.yaml"
        if section == "metrics":
            config.write_text(f"acceptor: {{port: 0}}\nmetrics: {{host: 127.0.0.1, port: {port}}}"
                              "\nsessions:\n" + SESSION)
        else:
            config.write_text(f"acceptor: {{port: {port}}}\nsessions:\n" + SESSION)
        line = one_error_line(run_gateway(tmp_path, config))
    assert f"{section}: cannot listen on 127.0.0.1:{port}: Address already in use" in line
    run = tmp_path / "run"
    assert not run.exists() or not [p for p in run.rglob("*") if p.is_file()]


def test_a_yaml_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_bytes(b"acceptor: {port: 0}\n# caf\xe9 (latin-1)\nsessions:\n"
                       + SESSION.encode())
    line = one_error_line(run_gateway(tmp_path, config))
    assert f"{config}:2: not UTF-8 text (byte 0xe9)" in line


def test_a_temporary_resolver_failure_is_reported_not_fatal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """EAI_AGAIN (a DNS outage) cannot be made here for real: the resolver is replaced."""
    import asyncio

    from gateway.cmd_run import check_hosts
    from gateway.config import load_config

    path = tmp_path / "i.yaml"
    path.write_text("sessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A, "
                    "target_comp_id: B, role: initiator, host: venue.example, port: 1}\n")
    config = load_config(path)

    async def outage(*_args: object, **_kw: object) -> None:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    async def run() -> None:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", outage)
        await check_hosts(config)

    asyncio.run(run())
    assert "'venue.example' cannot be resolved now" in capsys.readouterr().err


def test_port_on_a_config_without_acceptor_sessions_is_named(tmp_path: Path) -> None:
    config = tmp_path / "client.yaml"
    config.write_text("sessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A, "
                      "target_comp_id: B, role: initiator, host: 127.0.0.1, port: 9}\n")
    line = one_error_line(run_gateway(tmp_path, config, "--port", "5555"))
    assert f"--port 5555: {config} has no acceptor session to listen for" in line


def initiator_that_cannot_connect(tmp_path: Path, port: int, options: str = "",
                                  linger: float = 0.0) -> tuple[str, int, str, str]:
    """``gateway run`` of one initiator to 127.0.0.1:``port`` (``options``: more session
    keys), stopped by SIGTERM ``linger`` seconds after its first stderr line: that line,
    the exit status, stdout and the rest of stderr."""
    config = tmp_path / "client.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n  - {begin_string: FIX.4.4, "
                      "sender_comp_id: A, target_comp_id: B, role: initiator, "
                      f"host: 127.0.0.1, port: {port}{options},\n     reconnect: "
                      "{initial_delay: 0.05, max_delay: 0.1}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", str(config),
                             "--run-dir", str(tmp_path / "run")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        assert ready, "no word of the connection in 30 s"
        first = proc.stderr.readline()
        time.sleep(linger)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return first, proc.returncode, out, err


def test_an_initiator_that_cannot_connect_says_so_once_and_stops_cleanly(
        tmp_path: Path) -> None:
    """Only initiators (an acceptor section, but no acceptor session): nothing listens, and
    a peer that refuses is one line on stderr, not silence (nor a traceback, as it was)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        first, status, out, err = initiator_that_cannot_connect(
            tmp_path, port, linger=1.0)  # several more refusals
    assert first == (f"gateway: session FIX.4.4:A->B: cannot connect to 127.0.0.1:{port}: "
                     "Connection refused; retrying with backoff\n")
    assert status == 0 and out == "" and err == "stopped\n"
    events = (tmp_path / "run" / "log" / "FIX.4.4-A-B.event.current.log").read_text()
    assert events.count("connect failed") > 1  # retried, each in the event log only


def test_a_connect_that_hangs_is_bounded_by_logon_timeout(tmp_path: Path) -> None:
    """A peer whose listen queue is full drops our SYNs: the connect waited for minutes with
    no word and no retry. It is part of logging on, bounded by logon_timeout."""
    with contextlib.ExitStack() as stack:
        full = stack.enter_context(socket.socket())
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        for _ in range(4):  # never accepted: the queue fills, later SYNs are dropped
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        first, status, out, err = initiator_that_cannot_connect(
            tmp_path, port, ", logon_timeout: 1")
    assert first == (f"gateway: session FIX.4.4:A->B: cannot connect to 127.0.0.1:{port}: "
                     "not connected within logon_timeout (1 s); retrying with backoff\n")
    assert status == 0 and (out, err) == ("", "stopped\n")


def test_mode_backtest_takes_output_and_refuses_the_live_options(tmp_path: Path) -> None:
    config = ROOT / "sessions" / "backtest.yaml"
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "run", str(config), "--mode",
                           "backtest", "--output", str(tmp_path / "report")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report" / "summary.json").is_file()  # not the config's output folder
    line = one_error_line(run_gateway(tmp_path, config, "--mode", "backtest"))
    assert ("--run-dir applies to --mode live, not backtest (a backtest writes its logs to "
            "its output folder: --output)") in line
    config_live = tmp_path / "gw.yaml"
    config_live.write_text("acceptor: {port: 0}\nsessions:\n" + SESSION)
    line = one_error_line(run_gateway(tmp_path, config_live, "--output", str(tmp_path)))
    assert "--output applies to --mode backtest, not live" in line


# -- paths the run writes to ------------------------------------------------------------------


@pytest.mark.parametrize(("audit", "reason"), [
    ("/proc/nope/audit.jsonl", "cannot create the folder /proc/nope: No such file or directory"),
    ("{tmp}", "{tmp} is a folder, not a file"),
])
def test_an_unusable_audit_path_is_named_with_its_key(tmp_path: Path, audit: str,
                                                      reason: str) -> None:
    # it was the bare errno text: "[Errno 2] No such file or directory: '/proc/nope'"
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n" + SESSION
                      + f"audit: {{path: {audit.format(tmp=tmp_path)}}}\n")
    line = one_error_line(run_gateway(tmp_path, config))
    assert line == f"gateway: error: {config}:4: audit.path: {reason.format(tmp=tmp_path)}"


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs sysfs (Linux)")
def test_a_folder_nothing_can_be_written_in_is_named_with_its_key(tmp_path: Path) -> None:
    """sysfs takes no new file (as root too; mounted read-only in a container): as a log
    folder on a read-only file system, it failed later with the bare errno text."""
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n" + SESSION
                      + "audit: {path: /sys/kernel/audit.jsonl}\n")
    line = one_error_line(run_gateway(tmp_path, config))
    assert line in (f"gateway: error: {config}:4: audit.path: cannot write in the folder "
                    f"/sys/kernel: {why}" for why in ("Permission denied",
                                                      "Read-only file system")), line


UNWRITABLE = Path("/sys/kernel")  # sysfs takes no new file, as root too


@pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs sysfs (Linux)")
@pytest.mark.parametrize("where", ["log", "store", "store.path"])
def test_a_run_dir_or_store_folder_nothing_can_be_written_in_is_named(
        tmp_path: Path, where: str) -> None:
    """The start-up write probe: a folder that is there but takes no file, the run
    directory's ``log`` or ``store`` (each a link to sysfs here) or a ``store.path``'s, is
    named with the option or key, not met later by the logs or stores with the errno text."""
    run_dir = tmp_path / "run"
    text = "acceptor: {port: 0}\nsessions:\n" + SESSION
    if where == "store.path":
        text += ("  - begin_string: FIX.4.4\n    sender_comp_id: A\n    target_comp_id: C\n"
                 f"    store: {{kind: file, path: {UNWRITABLE / 'C.store'}}}\n")
    else:
        run_dir.mkdir()
        (run_dir / where).symlink_to(UNWRITABLE)
        if where == "store":
            text = text.replace("sessions:", "defaults: {store: {kind: file}}\nsessions:")
    config = tmp_path / "gw.yaml"
    config.write_text(text)
    proc = run_gateway(tmp_path, config)
    line = one_error_line(proc)
    if where == "store.path":
        named, folder = f"{config}:7: sessions[1].store.path", UNWRITABLE
    else:
        named, folder = f"--run-dir {run_dir}", run_dir / where
    assert line in (f"gateway: error: {named}: cannot write in the folder {folder}: {why}"
                    for why in ("Permission denied", "Read-only file system")), line
    assert "listening on" not in proc.stdout


def test_a_store_path_under_a_file_is_named_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file, not a folder\n")
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n" + SESSION
                      + "  - begin_string: FIX.4.4\n    sender_comp_id: A\n"
                      "    target_comp_id: C\n"
                      f"    store: {{kind: file, path: {tmp_path / 'plain' / 'C.store'}}}\n")
    line = one_error_line(run_gateway(tmp_path, config))
    assert line == (f"gateway: error: {config}:7: sessions[1].store.path: cannot create the "
                    f"folder {tmp_path / 'plain'}: {tmp_path / 'plain'} is a file, not a folder")


def test_a_default_store_path_that_is_a_folder_is_named_with_the_run_dir(
        tmp_path: Path) -> None:
    # it was the bare "[Errno 21] Is a directory: '...'" once the engine opened it
    run_dir = tmp_path / "run"
    store = run_dir / "store" / "FIX.4.4-A-B.store"
    store.mkdir(parents=True)
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\ndefaults: {store: {kind: file}}\nsessions:\n"
                      + SESSION)
    line = one_error_line(run_gateway(tmp_path, config))
    assert line == f"gateway: error: --run-dir {run_dir}: {store} is a folder, not a file"


def test_a_store_path_that_is_a_folder_is_named_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\ndefaults: {store: {kind: file, path: "
                      f"{tmp_path}}}}}\nsessions:\n" + SESSION)
    line = one_error_line(run_gateway(tmp_path, config))
    assert line == (f"gateway: error: {config}:2: defaults.store.path: {tmp_path} is a "
                    "folder, not a file")


@pytest.mark.parametrize("under", [False, True])
def test_a_run_dir_that_is_a_file_is_named_as_the_option(tmp_path: Path, under: bool) -> None:
    plain = tmp_path / "plain"
    plain.write_text("a file, not a folder\n")
    run_dir = plain / "run" if under else plain
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n" + SESSION)
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "run", str(config),
                           "--run-dir", str(run_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    line = one_error_line(proc)
    assert line == (f"gateway: error: --run-dir {run_dir}: cannot create the folder "
                    f"{run_dir / 'log'}: {plain} is a file, not a folder")


def test_a_stop_signal_ends_a_run_whose_config_read_blocks(tmp_path: Path) -> None:
    """A config that is a FIFO no one writes: the read blocked inside the event loop, which
    had taken the stop signals over and could not run their handler, so SIGTERM and SIGINT
    were ignored and only SIGKILL ended it. The config is read before: a stop signal ends
    the process as while it loads (128 + the signal)."""
    fifo = tmp_path / "gw.yaml"
    os.mkfifo(fifo)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", str(fifo),
                             "--run-dir", str(tmp_path / "run")], cwd=root,
                            stderr=subprocess.PIPE, text=True)
    try:
        wchan = Path(f"/proc/{proc.pid}/wchan")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError):
                if wchan.read_text() == "wait_for_partner":  # blocked opening the FIFO
                    break
            time.sleep(0.05)
        else:
            pytest.skip("cannot see the process block on the FIFO (needs Linux's wchan)")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (143, "gateway: stopped by SIGTERM\n")


@pytest.mark.parametrize(("session", "key", "file", "version", "needed"), [
    ("begin_string: FIX.4.4", "dictionary", "FIX42.xml", "FIX.4.2", "FIX.4.4"),
    ("begin_string: FIX.4.4", "dictionary", "FIXT11.xml", "FIXT.1.1", "FIX.4.4"),
    ("begin_string: FIXT.1.1", "app_dictionary", "FIX44.xml", "FIX.4.4", "FIX.5.0"),
])
def test_a_dictionary_of_another_version_is_a_start_up_error(
        tmp_path: Path, session: str, key: str, file: str, version: str, needed: str) -> None:
    """A FIX 4.2 file on a FIX 4.4 session judged its messages by 4.2's rules, and a FIXT
    file there dropped every Logon, without a word (QuickFIX refuses such a dictionary)."""
    dictionary = ROOT / "fixspec" / "data" / file
    config = tmp_path / "gw.yaml"
    config.write_text("acceptor: {port: 0}\nsessions:\n"
                      f"  - {{{session}, sender_comp_id: A, target_comp_id: B, "
                      f"{key}: {dictionary}}}\n")
    name = f"{session.split(': ')[1]}:A->B"
    assert one_error_line(run_gateway(tmp_path, config)) == (
        f"gateway: error: {dictionary}: a {version} dictionary, which session {name} cannot "
        f"use as its {key} ({needed} is needed)")
