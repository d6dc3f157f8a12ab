"""A QuickFIX counterparty (the PyPI ``quickfix`` engine) for interop tests and benchmarks.

Runs in its own process because QuickFIX has its own threads, file store and logs. It talks
to its parent through lines of JSON on stdout (one object a line, ``{"event": ...}``) and
plain commands on stdin.

``initiator`` mode logs on to our acceptor, sends ``--orders`` NewOrderSingle (ClOrdID
``O00000``, ``O00001``, ...) with at most ``--window`` unanswered, and counts the echoes. After
``--disconnect-at`` orders it forces a disconnect with messages in flight:

* ``--disconnect self``: ``Session.disconnect()`` from the sending thread, while QuickFIX's
  socket thread is still reading and writing;
* ``--disconnect external``: print ``{"event": "checkpoint"}`` and wait until the connection
  drops (the parent kills our acceptor with SIGKILL and restarts it on the same port).

Either way it then sends ``--offline`` orders while logged out (QuickFIX numbers and persists
them; the acceptor gets them by resend), prints ``{"event": "offline_sent"}``, waits for
QuickFIX's own reconnect (ReconnectInterval=1), sends the rest, waits for every echo and
prints ``{"event": "report", ...}``: orders sent, echoes received, distinct ClOrdIDs, PossDup
echoes, echoes of an already echoed ClOrdID without PossDup (``fresh_duplicates``, with the
ids), and QuickFIX's next sender/target sequence numbers.

``acceptor`` mode listens (``{"event": "listening", "port": P}``), echoes every
NewOrderSingle back with its own header (as our ``echo`` application does), and answers the
stdin command ``report`` with a report line; ``stop`` or end of input logs out, prints a
final report and stops.

``venue`` mode is that acceptor as an upstream venue for the algo gateway, in the way of
QuickFIX's executor example: each NewOrderSingle is acknowledged and filled at once in two
parts at its limit price, a MarketDataRequest gets a snapshot (W) per symbol (bid 229.90, ask
230.10), an OrderCancelRequest an OrderCancelReject (the order is filled), an
OrderStatusRequest the order's status; its report adds the fills sent and the session-level
and business rejects each side sent (``rejects_received``, ``rejects_sent``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import quickfix as fix  # type: ignore[import-untyped, import-not-found, unused-ignore]

DICTIONARY = Path(__file__).resolve().parents[2] / "fixspec" / "data" / "FIX44.xml"
# Header fields of an incoming hop that an echo must not carry (the session stamps its own).
_HOP_HEADER = (34, 43, 49, 52, 56, 97, 115, 122, 128)


def emit(event: str, **fields: Any) -> None:
    """One line of JSON for the parent process."""
    print(json.dumps({"event": event, **fields}), flush=True)


def settings_text(*, role: str, workdir: Path, sender: str, target: str, begin: str,
                  port: int, host: str = "127.0.0.1", reset_on_logon: bool = False,
                  heartbeat: int = 30, file_log: bool = True) -> str:
    """A QuickFIX settings file: FileStore under ``workdir``, validation on."""
    lines = [
        "[DEFAULT]",
        f"ConnectionType={role}",
        f"FileStorePath={workdir / 'store'}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        f"HeartBtInt={heartbeat}",
        "ReconnectInterval=1",
        "UseDataDictionary=Y",
        f"DataDictionary={DICTIONARY}",
        "ValidateUserDefinedFields=Y",
        f"ResetOnLogon={'Y' if reset_on_logon else 'N'}",
        "ResetOnLogout=N",
        "ResetOnDisconnect=N",
        "PersistMessages=Y",
        "SendRedundantResendRequests=N",
        "CheckLatency=Y",
        "MaxLatency=120",
    ]
    if file_log:
        lines.append(f"FileLogPath={workdir / 'log'}")
    if role == "initiator":
        lines += [f"SocketConnectHost={host}", f"SocketConnectPort={port}"]
    else:
        lines += [f"SocketAcceptHost={host}", f"SocketAcceptPort={port}", "SocketReuseAddress=Y"]
    lines += ["", "[SESSION]", f"BeginString={begin}", f"SenderCompID={sender}",
              f"TargetCompID={target}", ""]
    return "\n".join(lines)


def _str_field(message: Any, tag: int, header: bool = False) -> str | None:
    part = message.getHeader() if header else message
    return str(part.getField(tag)) if part.isSetField(tag) else None


@dataclass
class Tally:
    """Echoes counted by ClOrdID, under a condition the sender waits on."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    echoes: int = 0
    poss_dup: int = 0
    by_id: Counter[str] = field(default_factory=Counter)
    fresh_duplicates: list[str] = field(default_factory=list)
    logons: int = 0
    logouts: int = 0
    logged_on: bool = False
    fills: int = 0  # venue mode: fill reports sent
    rejects_received: int = 0  # Reject (3) or BusinessMessageReject (j) from the peer
    rejects_sent: int = 0  # the same, sent to it (QuickFIX's validation refusing a message)

    def record(self, cl_ord_id: str, poss_dup: bool) -> None:
        with self.cond:
            self.echoes += 1
            self.poss_dup += poss_dup
            if self.by_id[cl_ord_id] and not poss_dup:
                self.fresh_duplicates.append(cl_ord_id)
            self.by_id[cl_ord_id] += 1
            self.cond.notify_all()

    def set_logged_on(self, on: bool) -> None:
        with self.cond:
            self.logged_on = on
            if on:
                self.logons += 1
            else:
                self.logouts += 1
            self.cond.notify_all()

    def wait(self, predicate: Any, timeout: float) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(predicate, timeout))


class PeerApplication(fix.Application):  # type: ignore[misc]
    """Counts NewOrderSingle it receives; in acceptor mode echoes each one back."""

    def __init__(self, tally: Tally, echo: bool) -> None:
        super().__init__()
        self.tally = tally
        self.echo = echo

    def onCreate(self, session_id: Any) -> None:
        pass

    def onLogon(self, session_id: Any) -> None:
        self.tally.set_logged_on(True)

    def onLogout(self, session_id: Any) -> None:
        self.tally.set_logged_on(False)

    def toAdmin(self, message: Any, session_id: Any) -> None:
        pass

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        pass

    def toApp(self, message: Any, session_id: Any) -> None:
        pass

    def fromApp(self, message: Any, session_id: Any) -> None:
        if _str_field(message, 35, header=True) != "D":
            return
        cl_ord_id = _str_field(message, 11) or ""
        self.tally.record(cl_ord_id, _str_field(message, 43, header=True) == "Y")
        if self.echo:
            echo = fix.Message(message)
            header = echo.getHeader()
            for tag in _HOP_HEADER:
                header.removeField(tag)
            fix.Session.sendToTarget(echo, session_id)


class VenueApplication(PeerApplication):
    """``venue`` mode (module docstring): acknowledges and fills every order at once."""

    BID, ASK = "229.90", "230.10"

    def __init__(self, tally: Tally) -> None:
        super().__init__(tally, echo=False)
        self.filled: dict[str, tuple[str, str, str, int, str]] = {}  # ClOrdID -> the order
        self.ids = 0

    def toAdmin(self, message: Any, session_id: Any) -> None:
        if _str_field(message, 35, header=True) == "3":
            with self.tally.cond:
                self.tally.rejects_sent += 1

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        if _str_field(message, 35, header=True) == "3":
            with self.tally.cond:
                self.tally.rejects_received += 1

    def toApp(self, message: Any, session_id: Any) -> None:
        if _str_field(message, 35, header=True) == "j":
            with self.tally.cond:
                self.tally.rejects_sent += 1

    def fromApp(self, message: Any, session_id: Any) -> None:
        kind = _str_field(message, 35, header=True)
        if kind == "j":
            with self.tally.cond:
                self.tally.rejects_received += 1
        elif kind == "D":
            self._order(message, session_id)
        elif kind == "V":
            self._snapshots(message, session_id)
        elif kind == "F":
            self._cancel_reject(message, session_id)
        elif kind == "H":
            order = self.filled.get(_str_field(message, 11) or "")
            if order is not None:
                self._report(session_id, order, "I", order[3], order[4])

    def _order(self, message: Any, session_id: Any) -> None:
        cl = _str_field(message, 11) or ""
        self.tally.record(cl, _str_field(message, 43, header=True) == "Y")
        side = _str_field(message, 54) or "1"
        price = _str_field(message, 44) or (self.ASK if side == "1" else self.BID)
        qty = int(float(_str_field(message, 38) or "0"))
        order = (cl, _str_field(message, 55) or "", side, qty, price)
        self.ids += 1
        self.filled[cl] = order
        self._report(session_id, order, "0", 0, "0")
        first = qty // 2
        self._report(session_id, order, "F", first, price, last=first)
        self._report(session_id, order, "F", qty, price, last=qty - first)
        with self.tally.cond:
            self.tally.fills += 2

    def _report(self, session_id: Any, order: tuple[str, str, str, int, str], exec_type: str,
                cum: int, avg: str, last: int = 0) -> None:
        cl, symbol, side, qty, price = order
        r = fix.Message()
        r.getHeader().setField(fix.MsgType("8"))
        r.setField(fix.OrderID(f"V-{cl}"))
        r.setField(fix.ClOrdID(cl))
        self.ids += 1
        r.setField(fix.ExecID(f"X{self.ids}"))
        r.setField(fix.ExecType(exec_type))
        r.setField(fix.OrdStatus("2" if cum == qty else "1" if cum else "0"))
        r.setField(fix.Symbol(symbol))
        r.setField(fix.Side(side))
        r.setField(fix.OrderQty(qty))
        r.setField(fix.LeavesQty(qty - cum))
        r.setField(fix.CumQty(cum))
        r.setField(6, avg)
        if last:
            r.setField(fix.LastQty(last))
            r.setField(31, price)
        r.setField(60, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()))
        fix.Session.sendToTarget(r, session_id)

    def _snapshots(self, message: Any, session_id: Any) -> None:
        if _str_field(message, 263) == "2":
            return  # an unsubscribe
        group = fix.Group(146, 55)
        for i in range(1, int(_str_field(message, 146) or "0") + 1):
            message.getGroup(i, group)
            w = fix.Message()
            w.getHeader().setField(fix.MsgType("W"))
            w.setField(fix.MDReqID(_str_field(message, 262) or ""))
            w.setField(fix.Symbol(group.getField(55)))
            for entry_type, px in (("0", self.BID), ("1", self.ASK)):
                entry = fix.Group(268, 269)
                entry.setField(269, entry_type)
                entry.setField(270, px)
                entry.setField(271, "5000")
                w.addGroup(entry)
            fix.Session.sendToTarget(w, session_id)

    def _cancel_reject(self, message: Any, session_id: Any) -> None:
        orig = _str_field(message, 41) or ""
        r = fix.Message()
        r.getHeader().setField(fix.MsgType("9"))
        r.setField(fix.OrderID(f"V-{orig}" if orig in self.filled else "NONE"))
        r.setField(fix.ClOrdID(_str_field(message, 11) or ""))
        r.setField(fix.OrigClOrdID(orig))
        r.setField(fix.OrdStatus("2" if orig in self.filled else "8"))
        r.setField(fix.CxlRejResponseTo("1"))
        r.setField(fix.CxlRejReason(0 if orig in self.filled else 1))
        fix.Session.sendToTarget(r, session_id)


def new_order(cl_ord_id: str) -> Any:
    m = fix.Message()
    m.getHeader().setField(fix.MsgType(fix.MsgType_NewOrderSingle))
    m.setField(fix.ClOrdID(cl_ord_id))
    m.setField(fix.HandlInst("1"))
    m.setField(fix.Symbol("INTC"))
    m.setField(fix.Side(fix.Side_BUY))
    m.setField(fix.OrderQty(100))
    m.setField(fix.OrdType(fix.OrdType_MARKET))
    m.setField(60, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()))
    return m


def _session_id(args: argparse.Namespace) -> Any:
    return fix.SessionID(args.begin, args.sender, args.target)


def _report(tally: Tally, session: Any, sent: int, sent_offline: int, elapsed: float,
            orders: int) -> dict[str, Any]:
    with tally.cond:
        missing = [f"O{i:05d}" for i in range(orders) if not tally.by_id[f"O{i:05d}"]]
        return {
            "sent": sent,
            "sent_offline": sent_offline,
            "echoes": tally.echoes,
            "distinct": len(tally.by_id),
            "poss_dup_echoes": tally.poss_dup,
            "fresh_duplicates": sorted(tally.fresh_duplicates),
            "missing": missing[:20],
            "missing_count": len(missing),
            "logons": tally.logons,
            "fills": tally.fills,
            "rejects_received": tally.rejects_received,
            "rejects_sent": tally.rejects_sent,
            "next_sender_seq": session.getExpectedSenderNum() if session else None,
            "next_target_seq": session.getExpectedTargetNum() if session else None,
            "elapsed": round(elapsed, 3),
        }


def run_initiator(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "initiator.cfg"
    cfg.write_text(settings_text(role="initiator", workdir=workdir, sender=args.sender,
                                 target=args.target, begin=args.begin, port=args.port))
    tally = Tally()
    settings = fix.SessionSettings(str(cfg))
    app = PeerApplication(tally, echo=False)
    initiator = fix.SocketInitiator(app, fix.FileStoreFactory(settings), settings,
                                    fix.FileLogFactory(settings))
    sid = _session_id(args)
    initiator.start()
    started = time.monotonic()
    deadline: float = started + args.timeout
    sent = sent_offline = 0

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    def send(i: int) -> None:
        if not fix.Session.sendToTarget(new_order(f"O{i:05d}"), sid):
            raise RuntimeError(f"QuickFIX refused to send order {i}")

    try:
        if not tally.wait(lambda: tally.logged_on, left()):
            raise TimeoutError("no logon")
        emit("logon")
        session = fix.Session.lookupSession(sid)
        for i in range(args.orders):
            if i == args.disconnect_at:
                if args.disconnect == "self":
                    session.disconnect()
                else:
                    emit("checkpoint", sent=sent)
                if not tally.wait(lambda: not tally.logged_on, left()):
                    raise TimeoutError("the connection did not drop")
                for j in range(i, min(args.orders, i + args.offline)):
                    send(j)
                    sent += 1
                    sent_offline += not session.isLoggedOn()
                emit("offline_sent", sent=sent, offline=sent_offline)
                if not tally.wait(lambda: tally.logged_on, left()):
                    raise TimeoutError("no logon after the disconnect")
                emit("logon")
            if i < sent:
                continue  # sent in the offline burst
            if not tally.wait(lambda n=sent: n - len(tally.by_id) < args.window or
                              not tally.logged_on, left()):
                raise TimeoutError(f"window never opened at order {i}")
            send(i)
            sent += 1
        tally.wait(lambda: len(tally.by_id) >= args.orders, left())
        time.sleep(args.settle)  # late duplicates, if any, arrive in this time
        elapsed = time.monotonic() - started
        session.logout("done")  # so both sides end with the Logout exchange counted
        tally.wait(lambda: not tally.logged_on, 5.0)
        report = _report(tally, session, sent, sent_offline, elapsed, args.orders)
    except Exception as exc:
        emit("error", error=repr(exc))
        report = _report(tally, fix.Session.lookupSession(sid), sent, sent_offline,
                         time.monotonic() - started, args.orders)
        emit("report", **report)
        initiator.stop(True)
        return 1
    # reported before QuickFIX's own shutdown, which has been seen to end the process early
    emit("report", **report)
    initiator.stop()
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_acceptor(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    app = VenueApplication(tally) if args.mode == "venue" else PeerApplication(tally, echo=True)
    acceptor = None
    for _ in range(5):  # a free port can be taken between probing and binding: try again
        port = args.port or free_port()
        cfg = workdir / "acceptor.cfg"
        cfg.write_text(settings_text(role="acceptor", workdir=workdir, sender=args.sender,
                                     target=args.target, begin=args.begin, port=port,
                                     reset_on_logon=args.reset_on_logon))
        settings = fix.SessionSettings(str(cfg))
        candidate = fix.SocketAcceptor(app, fix.FileStoreFactory(settings), settings,
                                       fix.FileLogFactory(settings))
        try:
            candidate.start()
        except (RuntimeError, fix.ConfigError, fix.RuntimeError):
            if args.port:
                raise
            continue
        acceptor = candidate
        break
    if acceptor is None:
        emit("error", error="could not bind a port")
        return 1
    emit("listening", port=port)
    sid = _session_id(args)
    started = time.monotonic()

    def report() -> dict[str, Any]:
        session = fix.Session.lookupSession(sid)
        data = _report(tally, session, 0, 0, time.monotonic() - started, 0)
        data["processed_twice"] = sorted(k for k, n in tally.by_id.items() if n > 1)[:20]
        data["logged_on"] = bool(session.isLoggedOn()) if session else False
        return data

    for line in sys.stdin:
        command = line.strip()
        if command == "report":
            emit("report", **report())
        elif command == "stop":
            break
    session = fix.Session.lookupSession(sid)
    if session is not None and session.isLoggedOn():
        session.logout("done")
        tally.wait(lambda: not tally.logged_on, 2.0)
    # reported before QuickFIX's own shutdown, which has been seen to end the process early
    emit("report", **report())
    acceptor.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("initiator", "acceptor", "venue"))
    parser.add_argument("--workdir", required=True, help="QuickFIX store and logs go here")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--begin", default="FIX.4.4")
    parser.add_argument("--sender", default="QF")
    parser.add_argument("--target", default="GW")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=500,
                        help="most orders without an echo yet (initiator)")
    parser.add_argument("--disconnect-at", type=int, default=-1,
                        help="force a disconnect before this order (-1: never)")
    parser.add_argument("--disconnect", choices=("self", "external"), default="self")
    parser.add_argument("--offline", type=int, default=500,
                        help="orders sent while disconnected")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="seconds to wait for late duplicates once all echoes are in")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--reset-on-logon", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.suppress(BrokenPipeError):
        return run_initiator(args) if args.mode == "initiator" else run_acceptor(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
