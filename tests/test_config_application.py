"""``application:`` errors name the FILE:LINE of the key that chose the application (a
session's own or the defaults') and the application itself: an unimportable class, and a
built-in application without the top-level section it reads (``application: algo`` once
said ``application 'venue' needs a 'venue:' section``, with no line)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.apps import Dispatcher, load_application
from gateway.config import ConfigError, GatewayConfig, SessionConfig, load_config

ROOT = Path(__file__).resolve().parents[1]

OWN = """\
acceptor: {port: 0}
sessions:
  - begin_string: FIX.4.4
    sender_comp_id: A
    target_comp_id: B
  - begin_string: FIX.4.4
    sender_comp_id: A
    target_comp_id: C
    application: APP
"""
FROM_DEFAULTS = """\
acceptor: {port: 0}
defaults:
  begin_string: FIX.4.4
  application: APP
sessions:
  - {sender_comp_id: A, target_comp_id: B}
"""


@pytest.mark.parametrize(("text", "line", "key"), [
    (OWN, 9, "sessions[1].application"),
    (FROM_DEFAULTS, 4, "defaults.application"),
])
@pytest.mark.parametrize(("app", "reason"), [
    ("nosuch.mod:Cls",
     "application 'nosuch.mod:Cls': cannot import nosuch.mod: No module named 'nosuch'"),
    ("gateway.apps:NoSuchClass",
     "application 'gateway.apps:NoSuchClass': module gateway.apps has no 'NoSuchClass'"),
    ("nosuch", "application 'nosuch': expected one of echo, venue, algo, client or "
               "package.module:Class"),
    ("algo", "application 'algo' needs a 'venue:' section (the symbols the venue trades)"),
    ("venue", "application 'venue' needs a 'venue:' section (the symbols it trades)"),
    ("client", "application 'client' needs a 'client:' section (the parent orders it sends)"),
])
def test_the_error_names_the_key_line_and_application(
        tmp_path: Path, text: str, line: int, key: str, app: str, reason: str) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(text.replace("APP", app))
    config = load_config(path)
    with pytest.raises(ConfigError) as info:
        Dispatcher(config)
    assert str(info.value) == f"{path}:{line}: {key}: {reason}"


def test_gateway_run_prints_it_as_one_line(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(FROM_DEFAULTS.replace("APP", "algo"))
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "run", str(path), "--run-dir",
                           str(tmp_path / "run")], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == (f"gateway: error: {path}:4: defaults.application: application "
                           "'algo' needs a 'venue:' section (the symbols the venue trades)\n")


def test_a_config_built_in_code_names_its_file() -> None:
    config = GatewayConfig(Path("built.yaml"), (SessionConfig("FIX.4.4", "A", "B"),))
    assert config.where_application(0) == "built.yaml"
    with pytest.raises(ConfigError, match=r"^built\.yaml: application 'algo' needs"):
        load_application("algo", config)


def test_the_kill_switch_says_which_applications_have_none(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SIGUSR1 is thrown for every application that has a kill switch; one without (echo
    here, or a user class) is named on stderr rather than skipped in silence."""
    path = tmp_path / "gw.yaml"
    path.write_text(OWN.replace("APP", "echo"))
    Dispatcher(load_config(path)).kill_all("SIGUSR1", datetime(2026, 11, 26, tzinfo=UTC))
    assert capsys.readouterr().err == (
        "gateway: warning: kill switch (SIGUSR1): application 'echo' has no kill switch; "
        "its sessions go on as before\n")


@pytest.mark.parametrize("second", ["", ", application: gateway.client_app:ClientApplication"])
def test_a_client_on_two_sessions_is_refused(tmp_path: Path, second: str) -> None:
    """The client follows its parents on one session: on two, a status request or a cancel
    went to whichever logged on last (the venue, which knew none of them). Named by its
    class path for the second session, it got past the check once."""
    path = tmp_path / "gw.yaml"
    path.write_text(FROM_DEFAULTS.replace("APP", "client")
                    + f"  - {{sender_comp_id: A, target_comp_id: C{second}}}\n"
                    + "client:\n  orders:\n    - {symbol: AMZN, side: buy, qty: 100}\n")
    with pytest.raises(ConfigError) as info:
        Dispatcher(load_config(path))
    where, app = ((f"{path}:4: defaults.application", "client") if not second else
                  (f"{path}:7: sessions[1].application", "gateway.client_app:ClientApplication"))
    assert str(info.value) == (f"{where}: application {app!r} works one session, and 2 "
                               "sessions run such an application (FIX.4.4:A->B, FIX.4.4:A->C)")



@pytest.mark.parametrize(("app", "section", "line", "reason"), [
    ("echo", "risk:\n  default: {max_order_qty: 10}\n", 8,
     "risk: no session's application reads this section (they run echo; venue and algo "
     "read it)"),
    ("client", "client:\n  orders:\n    - {symbol: AMZN, side: buy, qty: 100}\n"
               "algos:\n  router: venue\n", 11,
     "algos: no session's application reads this section (they run client; venue and algo "
     "read it)"),
])
def test_a_section_no_application_reads_is_refused_at_its_line(
        tmp_path: Path, app: str, section: str, line: int, reason: str) -> None:
    """A ``risk:`` in a gateway whose sessions run echo started without a word: limits that
    looked in force were none. An application of one's own may read any section."""
    path = tmp_path / "gw.yaml"
    path.write_text(FROM_DEFAULTS.replace("APP", app) + section)
    with pytest.raises(ConfigError) as info:
        Dispatcher(load_config(path))
    assert str(info.value) == f"{path}:{line}: {reason}"
    path.write_text(FROM_DEFAULTS.replace("APP", app) + "  - {sender_comp_id: A, target_comp_id:"
                    " C, application: 'gateway.echo_app:EchoApplication'}\n" + section)
    assert set(Dispatcher(load_config(path)).apps) == {app, "gateway.echo_app:EchoApplication"}
