"""The client application's parent ClOrdIDs: unique across clients started together.

A venue refuses a ClOrdID it already saw that day from the same session, so two runs of
``sessions/client.yaml`` started in the same second must not name their parents alike.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import select
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from fixspec.dictionary import load_builtin
from gateway.client_app import ClientApplication, OrderProgress, new_cl_ord_id
from gateway.client_order import ClientOrder
from gateway.codec import decode_bytes, encode
from gateway.config import ConfigError, load_config
from gateway.fixmessage import Message
from gateway.progress_lines import LinePrinter
from gateway.store import MemoryStore
from tests.engine_apps import RecordingHandle
from tests.fixpeer import frame
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 5, 21, 14, 30, 5, 250000, tzinfo=UTC)


def _parents_at(now: datetime) -> list[str]:
    config = load_config(ROOT / "sessions" / "client.yaml")
    app = ClientApplication(config)
    handle = RecordingHandle(config.sessions[0])
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


def client_config(tmp_path: Path, port: int, **order: object) -> Path:
    """sessions/client.yaml as CLIENT1 of the venue on ``port``, its order changed by
    ``order`` (window=1.5, ...), written in ``tmp_path``."""
    config = yaml.safe_load((ROOT / "sessions" / "client.yaml").read_text())
    config["sessions"][0].update(target_comp_id="VENUE", sender_comp_id="CLIENT1", port=port)
    config["client"]["orders"][0].update(order)
    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_gateway_run_of_a_client_config_prints_its_parent_as_the_reports_come(
        tmp_path: Path) -> None:
    # sessions/client.yaml against the venue, both as `gateway run` processes: the client
    # says what became of its order, a line a report, from the acknowledgement to the end
    venue, port = start_gateway(ROOT / "sessions" / "venue.yaml", tmp_path / "venue")
    path = client_config(tmp_path, port, window=1.5, params="Slices=2")
    client = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", str(path), "--run-dir",
         str(tmp_path / "client")], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: list[str] = []
    try:
        assert client.stdout is not None
        deadline = time.monotonic() + 60
        while not lines or not re.search(_FINAL, lines[-1]):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([client.stdout], [], [], max(0.0, left))
            assert ready, f"no final report within 60 s: {lines}"
            line = client.stdout.readline()
            assert line, f"the client ended without a final report: {lines}"
            lines.append(line)
    finally:
        codes = stop_gateway(client), stop_gateway(venue)
    assert codes == (0, 0)
    assert re.fullmatch(r"P\d{12}-\d+-1: buy AMZN new 0/1000\n", lines[0]), lines
    assert all(line.startswith(lines[0].split(":")[0] + ":") for line in lines), lines


_FINAL = r" (filled|canceled|expired|rejected|done for day) "


def _progress(text: str = "") -> OrderProgress:
    order = ClientOrder(symbol="AMZN", side="buy", qty=1000)
    return OrderProgress("P1", order, status="1", cum=300, avg_px=Decimal("223.56"),
                         fills=[(NOW, 100, Decimal("223.57"))], text=text)


def test_a_progress_line_says_where_the_order_stands_and_escapes_the_venues_text() -> None:
    assert _progress().line() == ("P1: buy AMZN partially filled 300/1000 avg 223.56, last 100 "
                                  "@ 223.57")
    hostile = _progress("E\x1b[31mVIL\nnext line").line()
    assert hostile.endswith("('E\\x1b[31mVIL\\x0anext line')"), hostile
    assert all(" " <= ch <= "~" for ch in hostile)


def test_a_report_without_text_clears_the_last_ones() -> None:
    app = ClientApplication(load_config(ROOT / "sessions" / "client.yaml"))
    handle = RecordingHandle(load_config(ROOT / "sessions" / "client.yaml").sessions[0])
    app.on_logon(handle, NOW)
    cl = handle.sent[0].body.get_str(11) or ""
    for text in ("held: market closed", None):
        report = Message("8")
        for tag, value in ((11, cl), (39, "0"), (14, "0"), (6, "0")):
            report.body.set(tag, value)
        if text is not None:
            report.body.set(58, text)
        app.on_message(handle, report, NOW)
    assert app.orders[cl].text == ""


def test_progress_lines_stop_quietly_when_stdout_is_gone() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # | head, after its lines
    warnings: list[str] = []
    printer = LinePrinter(fd=write_end, warn=warnings.append)
    try:
        printer.print(_progress().line())  # the report's handling goes on: nothing raised
        deadline = time.monotonic() + 10
        while not printer.broken and time.monotonic() < deadline:
            time.sleep(0.01)
        printer.print(_progress().line())
        assert printer.broken
        assert warnings == ["progress lines stopped: stdout: Broken pipe"]
    finally:
        os.close(write_end)


def test_progress_lines_never_wait_for_a_stdout_nobody_reads() -> None:
    """A pipe nobody empties: the printing session is never held up; lines past the pipe and
    a short queue are dropped and counted, and the ones written are the first, in order."""
    read_end, write_end = os.pipe()
    warnings: list[str] = []
    printer = LinePrinter(fd=write_end, queued=10, warn=warnings.append)
    lines = [f"line {i} " + "x" * 100 for i in range(5000)]  # 0.5 MB, the pipe takes 64 KB
    try:
        def report_all() -> None:
            for line in lines:
                printer.print(line)

        caller = threading.Thread(target=report_all, daemon=True)
        caller.start()
        caller.join(30)
        assert not caller.is_alive(), "print() blocked on a pipe nobody reads"
        assert 0 < printer.dropped < len(lines)
        assert warnings == ["stdout is not being read: progress lines are dropped until it is"]
        data = b""
        while data.count(b"\n") < 10:  # the writer thread may still be on its way there
            data += os.read(read_end, 8192)
        assert data.decode().splitlines()[:10] == lines[:10]
        printer.close()
        assert warnings[-1] == (f"{printer.dropped} progress lines were dropped: stdout was "
                                "not read")
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize(("order", "error"), [
    ('{symbol: AMZN, side: buy, qty: 100, strategy: "999x"}',
     "client.orders[0].strategy: expected a TargetStrategy (847) number such as 1001 (TWAP) "
     "or 1 (VWAP), got 999x"),
    ("{symbol: AMZN, side: buy, qty: 100, strategy: 1001.0}", "got 1001.0"),
    ("{symbol: AMZN, side: buy, qty: 100, strategy: null}", "got None"),
    ("{symbol: AMZN, side: buy, qty: 100, strategy: [1, 2]}", "got [1, 2]"),
    ('{symbol: "AM\\x01ZN", side: buy, qty: 100}',
     "client.orders[0].symbol: control character 0x01 at position 3 of 'AM\\x01ZN'"),
    ("{symbol: AMZN, side: buy, qty: 100, limit: 0}",
     "client.orders[0].limit: expected a number > 0, got 0"),
    ("{symbol: AMZN, side: buy, qty: 100, participation: 0}",
     "client.orders[0].participation: expected a number in (0, 1], got 0"),
    ("{symbol: AMZN, side: buy, qty: 0}",
     "client.orders[0].qty: expected an integer >= 1, got 0"),
])
def test_a_client_order_the_gateway_could_never_take_stops_start_up(
        tmp_path: Path, order: str, error: str) -> None:
    """These passed the config check, then went out as 847=1001.0, 847=None, a symbol with
    SOH in it (the session dropped and the order was lost, saying nothing), or a limit or
    participation of 0 refused every run; and the errors read ``[1, None]``."""
    config = yaml.safe_load((ROOT / "sessions" / "client.yaml").read_text())
    del config["client"]
    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False)
                    + f"client:\n  orders:\n    - {order}\n")
    with pytest.raises(ConfigError) as exc:
        ClientApplication(load_config(path))
    assert str(exc.value).startswith(f"{path}:")
    assert error in str(exc.value)


def test_a_client_config_without_orders_stops_start_up(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "sessions" / "client.yaml").read_text())
    config["client"] = {"orders": []}
    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ConfigError, match=r"client\.orders: expected at least one order"):
        ClientApplication(load_config(path))


def test_a_strategy_given_as_a_number_or_its_digits_goes_out_as_847(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "sessions" / "client.yaml").read_text())
    config["client"] = {"orders": [{"symbol": "AMZN", "side": "buy", "qty": 100,
                                    "strategy": value} for value in (1, "1001")]}
    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded = load_config(path)
    app = ClientApplication(loaded)
    handle = RecordingHandle(loaded.sessions[0])
    app.on_logon(handle, NOW)
    assert [m.body.get_str(847) for m in handle.sent] == ["1", "1001"]


def _client() -> tuple[ClientApplication, RecordingHandle, MemoryStore]:
    """sessions/client.yaml's client logged on once, its parent sent and stored as
    MsgSeqNum 1 (the store a running session would have)."""
    config = load_config(ROOT / "sessions" / "client.yaml")
    app = ClientApplication(config)
    handle = RecordingHandle(config.sessions[0])
    store = app._stores[handle.name] = MemoryStore()
    app.on_logon(handle, NOW)
    [parent] = handle.sent
    store.save_sent(1, encode(parent, load_builtin("FIX.4.4")))
    store.set_next_sender_seq(2)
    return app, handle, store


def _report(cl: str, fields: str) -> Message:
    return decode_bytes(frame("FIX.4.4", f"35=8|37=O1|17=E1|11={cl}|55=AMZN|54=1|{fields}"),
                        load_builtin("FIX.4.4"))


def test_a_later_logon_asks_the_status_of_every_parent_not_done() -> None:
    """A client whose session was reset at its logon (client.yaml's reset_on_logon) never
    heard the reports sent while it was away, and showed a filled parent as new for ever.
    Each later logon asks about every parent not known done; the answer updates it."""
    app, handle, _ = _client()
    cl = handle.sent[0].body.get_str(11) or ""
    app.on_message(handle, _report(cl, "150=0|39=0|38=1000|14=0|6=0|151=1000"), NOW)
    handle.sent.clear()
    app.on_logon(handle, NOW)
    [ask] = handle.sent
    assert (ask.msg_type, ask.body.get_str(11), ask.body.get_str(55), ask.body.get_str(54)) == (
        "H", cl, "AMZN", "1")
    app.on_message(handle, _report(cl, "150=I|39=2|38=1000|14=1000|6=223.5|151=0"), NOW)
    assert (app.orders[cl].status, app.orders[cl].cum) == ("2", 1000)
    handle.sent.clear()
    app.on_logon(handle, NOW)
    assert handle.sent == []  # done: nothing to ask


@pytest.mark.parametrize("refusal", [
    "35=3|45=1|371=847|372=D|373=5|58=Value is incorrect (out of range) for this tag",
    "35=j|45=1|372=D|380=0|58=not now",
    "35=j|372=D|379={cl}|380=4|58=application not available",
])
def test_a_parent_the_gateway_rejects_at_session_or_business_level_is_rejected(
        refusal: str) -> None:
    """A session Reject or BusinessMessageReject of the parent's NewOrderSingle was ignored:
    the client printed nothing and waited for ever. The parent is rejected, with the
    peer's reason."""
    app, handle, _ = _client()
    cl = handle.sent[0].body.get_str(11) or ""
    shown: list[str] = []
    app.on_update = lambda p: shown.append(p.line())
    message = decode_bytes(frame("FIX.4.4", refusal.format(cl=cl)), load_builtin("FIX.4.4"))
    if message.msg_type == "3":
        app.on_reject(handle, message, NOW)
    else:
        app.on_message(handle, message, NOW)
    kind = "session" if message.msg_type == "3" else "business"
    assert shown == [f"{cl}: buy AMZN rejected 0/1000 ('{kind} reject: "
                     f"{message.body.get_str(58)}')"]
    assert app.orders[cl].done


def test_a_clean_stop_cancels_the_parents_not_done() -> None:
    """A stopped client left its parent trading unseen, and a second run sent it again: two
    parents bought what the file asked once. A clean stop cancels each parent not done and
    says when all are (the engine waits a little for that before logging out)."""
    app, handle, _ = _client()
    cl = handle.sent[0].body.get_str(11) or ""
    app.on_message(handle, _report(cl, "150=0|39=0|38=1000|14=0|6=0|151=1000"), NOW)
    handle.sent.clear()
    settled = app.wind_down(NOW)
    [cancel] = handle.sent
    b = cancel.body
    assert (cancel.msg_type, b.get_str(11), b.get_str(41), b.get_str(55), b.get_str(54),
            b.get_str(38)) == ("F", f"{cl}-X", cl, "AMZN", "1", "1000")
    assert not settled()
    app.on_message(handle, _report(f"{cl}-X", f"41={cl}|150=4|39=4|38=1000|14=300|6=223.5|"
                                   "151=0"), NOW)
    assert settled() and app.orders[cl].status == "4"
    handle.sent.clear()
    assert app.wind_down(NOW)() and handle.sent == []  # nothing left to cancel
