"""A minimal FIX initiator over a plain socket, for replaying logs to a running acceptor.

One thread, no asyncio: :meth:`ReplayWire.poll` waits on the socket up to a timeout, frames
what arrived (C framer) and handles the session level itself: it answers TestRequests,
fills any ResendRequest with a SequenceReset-GapFill (a replay never resends old orders),
sends Heartbeats when it has been quiet for the heartbeat interval, and returns the
application messages and session Rejects (the answers a replay compares). Logon carries
ResetSeqNumFlag (141=Y), so both sides start at 1 and the acceptor's stored sequence numbers
do not matter. Incoming sequence numbers are not checked: the replayer is a test client, not
a counterparty that must recover a session.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from engine.framing import Framer
from fixspec.fieldtypes import format_utc_timestamp
from gateway.codec import checksum
from gateway.config import APPL_VER_IDS

SOH = b"\x01"


class WireError(ConnectionError):
    """The acceptor could not be reached, refused the logon or dropped the session."""


@dataclass(frozen=True, slots=True)
class Received:
    """One message from the acceptor: its first value of each tag, and its raw bytes."""

    values: dict[int, str]
    raw: bytes


def now_stamp() -> str:
    return format_utc_timestamp(datetime.now(UTC))


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 address in brackets: ``[::1]:9878``) -> (host, port);
    ValueError naming what is wrong."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"--to {text!r}: expected HOST:PORT (an IPv6 address in brackets: "
                         "[::1]:9878)")
    if not sep or not host or not port.isascii() or not port.isdigit():
        raise ValueError(f"--to {text!r}: expected HOST:PORT")
    if len(port) > 5 or not 0 < int(port) < 65536:  # (before int: a port of 5,000 digits)
        raise ValueError(f"--to {text[:60]!r}: the port is outside 1-65535")
    return host, int(port)


class ReplayWire:
    """A logged-on session from ``sender`` to ``target``; create with :meth:`connect`."""

    def __init__(self, sock: socket.socket, begin_string: str, sender: str, target: str,
                 heartbeat: int, app_version: str = "FIX.5.0SP2") -> None:
        self.sock = sock
        self.begin_string = begin_string
        self.app_version = app_version  # the application messages' version on FIXT.1.1
        self.sender = sender
        self.target = target
        self.heartbeat = heartbeat
        self.next_seq = 1
        self.closed = False
        self.logged_out = False
        self.logout_text = ""
        self._framer = Framer()
        self._last_sent = time.monotonic()

    @classmethod
    def connect(cls, host: str, port: int, *, begin_string: str, sender: str, target: str,
                heartbeat: int = 30, timeout: float = 5.0,
                app_version: str = "FIX.5.0SP2") -> ReplayWire:
        """Connect and log on (on FIXT.1.1 declaring ``app_version``, DefaultApplVerID);
        :class:`WireError` with the reason if either fails."""
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise WireError(f"cannot connect to {host}:{port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = cls(sock, begin_string, sender, target, heartbeat, app_version)
        try:
            logon = [(98, b"0"), (108, str(heartbeat).encode()), (141, b"Y")]
            if begin_string == "FIXT.1.1":  # required there: the messages' FIX version
                logon.append((1137, APPL_VER_IDS[app_version].encode()))
            wire.send("A", logon)
            wire._await_logon(timeout)
        except BaseException:
            sock.close()
            raise
        return wire

    def _await_logon(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireError(f"no Logon answer from the acceptor within {timeout:g} s")
            for msg in self._read(left):
                kind = msg.values.get(35)
                if kind == "A":
                    return
                if kind in ("5", "3"):
                    text = msg.values.get(58, "no reason given")
                    raise WireError(f"the acceptor refused the logon of {self.sender}->"
                                    f"{self.target} ({self.begin_string}): {text}")
            if self.closed:
                raise WireError(f"the acceptor closed the connection instead of answering the "
                                f"logon of {self.sender}->{self.target} ({self.begin_string})")

    def send(self, msg_type: str, fields: Iterable[tuple[int, bytes]],
             header: Iterable[tuple[int, bytes]] = ()) -> int:
        """Send one message with our header; returns its MsgSeqNum."""
        seq = self.next_seq
        parts = [f"35={msg_type}\x0134={seq}\x0149={self.sender}\x0152={now_stamp()}"
                 f"\x0156={self.target}\x01".encode()]
        parts += [b"%d=%s\x01" % (tag, value) for tag, value in header]
        parts += [b"%d=%s\x01" % (tag, value) for tag, value in fields]
        body = b"".join(parts)
        head = f"8={self.begin_string}\x019={len(body)}\x01".encode() + body
        data = head + b"10=%03d\x01" % checksum(head)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.closed = True
            raise WireError(f"connection lost while sending: {exc}") from exc
        self.next_seq += 1
        self._last_sent = time.monotonic()
        return seq

    def _read(self, timeout: float) -> list[Received]:
        """Messages that arrive within ``timeout`` (all those already buffered, or the first
        read's worth); sets ``closed`` at end of stream."""
        if self.closed:
            return []
        ready, _, _ = select.select([self.sock], [], [], max(timeout, 0.0))
        if not ready:
            return []
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return []
        self._framer.feed(data)
        out: list[Received] = []
        for batch in self._framer.batches():
            for frame in batch:
                if not frame.ok:
                    continue  # garbage on the wire: a real acceptor would not send it
                values: dict[int, str] = {}
                for tag, value in frame.fields():
                    values.setdefault(tag, value.decode("latin-1"))
                out.append(Received(values, frame.data))
        return out

    def poll(self, timeout: float) -> list[Received]:
        """Answers that arrive within ``timeout`` seconds (returns early when some did), after
        handling the session-level messages among them."""
        self._keep_alive()
        answers: list[Received] = []
        for msg in self._read(timeout):
            kind = msg.values.get(35)
            if kind == "1":
                self.send("0", [(112, msg.values.get(112, "").encode("latin-1"))])
            elif kind == "2":
                begin = msg.values.get(7, "1")
                self._gap_fill(int(begin) if begin.isdigit() else 1)
            elif kind == "5":
                self.logged_out = True
                self.logout_text = msg.values.get(58, "")
            elif kind in ("0", "4", "A"):
                pass
            else:
                answers.append(msg)
        self._keep_alive()
        return answers

    def _gap_fill(self, begin: int) -> None:
        # Fill the whole requested range with one GapFill sent under the first requested
        # sequence number, PossDupFlag set, as FIX prescribes for skipped messages.
        seq = self.next_seq
        self.next_seq = begin
        try:
            self.send("4", [(123, b"Y"), (36, str(seq).encode())],
                      header=[(43, b"Y"), (122, now_stamp().encode())])
        finally:
            self.next_seq = seq

    def _keep_alive(self) -> None:
        if not self.closed and time.monotonic() - self._last_sent >= self.heartbeat:
            self.send("0", [])

    def logout(self, timeout: float = 2.0) -> None:
        """Send Logout, wait briefly for the acceptor's, then close the socket."""
        try:
            if not self.closed and not self.logged_out:
                self.send("5", [])
                deadline = time.monotonic() + timeout
                while not self.closed and not self.logged_out:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.poll(left)
        except WireError:
            pass
        finally:
            self.sock.close()
            self.closed = True
