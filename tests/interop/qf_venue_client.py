"""A QuickFIX FIX 4.4 client of the venue (``gateway run sessions/venue.yaml``), for interop tests.

One process, one session (``--sender CLIENT1 --target VENUE``), an initiator of the PyPI
``quickfix`` engine with data-dictionary validation on and QuickFIX's strict defaults spelled
out (fields in order, fields with values, user-defined fields checked, unknown fields in a
message refused): what an outside tester points at the venue. ``--dictionary`` picks the data
dictionary; QuickFIX validates what it receives against it, never what it sends.

It runs in its own process because QuickFIX has its own threads. It talks to its parent in
lines of JSON:

* on stdout, one event a line: ``{"event": "logon"}``, ``{"event": "logout"}``, and every
  message crossing the session as ``{"event": "in" | "out", "type": MSGTYPE, "raw": TEXT}``
  (``in``: received, admin or application; ``out``: sent, including the Rejects QuickFIX
  makes itself when a received message fails validation), ``{"event": "error", ...}``;
* on stdin, commands: ``{"cmd": "send", "type": MSGTYPE, "fields": [[TAG, VALUE], ...],
  "groups": [[COUNT_TAG, DELIM_TAG, [[[TAG, VALUE], ...], ...]], ...]}`` sends an
  application message (QuickFIX fills the header), ``{"cmd": "logout"}`` logs out and waits
  for the venue's Logout, then the process stops; end of input does the same.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

import quickfix as fix  # type: ignore[import-untyped, import-not-found, unused-ignore]

_lock = threading.Lock()  # QuickFIX's threads and the main thread all print events


def emit(event: str, **fields: Any) -> None:
    """One line of JSON for the parent process."""
    line = json.dumps({"event": event, **fields})
    with _lock:
        print(line, flush=True)


def settings_text(*, workdir: Path, sender: str, target: str, port: int,
                  dictionary: Path) -> str:
    """A QuickFIX initiator settings file: strict validation against ``dictionary``, a fresh
    session (sequence numbers reset on logon), stores and logs under ``workdir``."""
    return "\n".join([
        "[DEFAULT]",
        "ConnectionType=initiator",
        f"FileStorePath={workdir / 'store'}",
        f"FileLogPath={workdir / 'log'}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "HeartBtInt=30",
        "ReconnectInterval=1",
        "ResetOnLogon=Y",
        "UseDataDictionary=Y",
        f"DataDictionary={dictionary}",
        # QuickFIX's defaults, written out: this is the strict client the test is about.
        "ValidateFieldsOutOfOrder=Y",
        "ValidateFieldsHaveValues=Y",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        "CheckLatency=Y",
        "MaxLatency=120",
        "SocketConnectHost=127.0.0.1",
        f"SocketConnectPort={port}",
        "",
        "[SESSION]",
        "BeginString=FIX.4.4",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
        "",
    ])


def _msg_type(message: Any) -> str:
    header = message.getHeader()
    return str(header.getField(35)) if header.isSetField(35) else ""


class VenueClient(fix.Application):  # type: ignore[misc]
    """Reports every message and the logon state to the parent; acts on none. With
    ``handles``, an application message of another MsgType is refused as a MessageCracker
    without its handler refuses it (UnsupportedMessageType: QuickFIX answers it with a
    BusinessMessageReject, 380=3)."""

    def __init__(self, handles: frozenset[str] | None = None) -> None:
        super().__init__()
        self.cond = threading.Condition()
        self.logged_on = False
        self.handles = handles

    def _set(self, on: bool) -> None:
        with self.cond:
            self.logged_on = on
            self.cond.notify_all()

    def onCreate(self, session_id: Any) -> None:
        pass

    def onLogon(self, session_id: Any) -> None:
        self._set(True)
        emit("logon")

    def onLogout(self, session_id: Any) -> None:
        self._set(False)
        emit("logout")

    def _report(self, direction: str, message: Any) -> None:
        emit(direction, type=_msg_type(message), raw=message.toString())

    def toAdmin(self, message: Any, session_id: Any) -> None:
        self._report("out", message)

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        self._report("in", message)

    def toApp(self, message: Any, session_id: Any) -> None:
        self._report("out", message)

    def fromApp(self, message: Any, session_id: Any) -> None:
        self._report("in", message)
        if self.handles is not None and _msg_type(message) not in self.handles:
            raise fix.UnsupportedMessageType()


def build(command: dict[str, Any]) -> Any:
    """The application message a ``send`` command describes."""
    message = fix.Message()
    message.getHeader().setField(fix.MsgType(command["type"]))
    for tag, value in command.get("fields", ()):
        message.setField(int(tag), str(value))
    for count_tag, delim, entries in command.get("groups", ()):
        for entry in entries:
            group = fix.Group(int(count_tag), int(delim))
            for tag, value in entry:
                group.setField(int(tag), str(value))
            message.addGroup(group)
    return message


def run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "client.cfg"
    cfg.write_text(settings_text(workdir=workdir, sender=args.sender, target=args.target,
                                 port=args.port, dictionary=Path(args.dictionary)))
    settings = fix.SessionSettings(str(cfg))
    app = VenueClient(frozenset(args.handles.split(",")) if args.handles else None)
    initiator = fix.SocketInitiator(app, fix.FileStoreFactory(settings), settings,
                                    fix.FileLogFactory(settings))
    sid = fix.SessionID("FIX.4.4", args.sender, args.target)
    initiator.start()
    try:
        with app.cond:
            if not app.cond.wait_for(lambda: app.logged_on, args.timeout):
                emit("error", error="no logon")
                return 1
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            if command["cmd"] == "logout":
                break
            if command["cmd"] == "send":
                if not fix.Session.sendToTarget(build(command), sid):
                    emit("error", error=f"QuickFIX refused to send {command}")
            else:
                emit("error", error=f"unknown command {command!r}")
        session = fix.Session.lookupSession(sid)
        if session is not None and session.isLoggedOn():
            session.logout()
            with app.cond:
                app.cond.wait_for(lambda: not app.logged_on, 10.0)
        emit("stopped")
    except Exception as exc:
        emit("error", error=repr(exc))
        return 1
    finally:
        initiator.stop(True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="QuickFIX store and logs go here")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sender", required=True)
    parser.add_argument("--target", default="VENUE")
    parser.add_argument("--dictionary", required=True, help="QuickFIX data dictionary (XML)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to log on")
    parser.add_argument("--handles", help="MsgTypes the application handles (comma-separated; "
                        "others are refused as unsupported); default: all")
    args = parser.parse_args(argv)
    with contextlib.suppress(BrokenPipeError):
        return run(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
