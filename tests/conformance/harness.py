"""Scripted FIX counterparty over real TCP, for the session-level conformance tests.

Each test drives ``gateway run sessions/acceptance.yaml`` (started once per test session by
``conftest.py``) the way a conformance suite does: send exact bytes, expect exact answers.
:meth:`Client.expect` reads the next message and checks its MsgType and the fields given;
:meth:`Client.expect_disconnect` waits for the gateway to close the socket.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.framing import Framer
from fixspec.dictionary import SessionDictionaries
from fixspec.validate import validate
from gateway.codec import decode_bytes
from tests.fixpeer import Peer, fields

DEFAULT_TIMEOUT = 5.0


@dataclass
class Client:
    port: int
    target_comp_id: str = "TW"
    begin: str = "FIX.4.4"
    our_comp_id: str = "ISLD"  # the gateway's CompID
    #: if set, every message from the gateway must pass validation against it, as a strict
    #: counterparty (QuickFIX with UseDataDictionary=Y) would check it
    dictionary: SessionDictionaries | None = None
    peer: Peer = field(init=False)
    sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.peer = Peer(begin=self.begin, sender=self.target_comp_id, target=self.our_comp_id)
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEFAULT_TIMEOUT)
        self._framer = Framer()
        self._pending: list[bytes] = []
        self.reset = False  # the gateway's end of the connection came as a reset (RST)

    def close(self) -> None:
        """Close our side and wait until the gateway has closed its side too, so the next
        test can log on with the same CompIDs without racing this connection's teardown."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(DEFAULT_TIMEOUT)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.close()

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def msg(self, body: str, **kw: object) -> None:
        """Send ``body`` (``35=D|11=...``) with header fields filled in by the peer."""
        self.send(self.peer.msg(body, now=self.now, **kw))  # type: ignore[arg-type]

    def logon(self, hb: int = 30, extra: str = "") -> dict[int, str]:
        self.send(self.peer.logon(hb, extra, now=self.now))
        return self.expect("A", **{"108": str(hb)})

    def _next_raw(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the gateway in time")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("no message from the gateway in time") from None
            except ConnectionResetError:
                self.reset = True
                return None
            if not data:
                return None
            self._framer.feed(data)
            for batch in self._framer.batches():
                for frame in batch:
                    assert frame.ok, f"gateway sent a bad frame: {frame.data!r}"
                    self._pending.append(frame.data)
        return self._pending.pop(0)

    def expect(self, msg_type: str, timeout: float = DEFAULT_TIMEOUT, *,
               absent: tuple[int, ...] = (), **expected: str) -> dict[int, str]:
        """The next message: its MsgType, the ``expected`` fields (tag=value) and none of
        the ``absent`` tags."""
        raw = self._next_raw(timeout)
        assert raw is not None, f"expected 35={msg_type}, but the gateway disconnected"
        got = fields(raw)
        shown = raw.replace(b"\x01", b"|").decode(errors="backslashreplace")
        assert got[35] == msg_type, f"expected 35={msg_type}, got {shown}"
        assert got[49] == self.our_comp_id and got[56] == self.target_comp_id, shown
        if self.dictionary is not None:
            try:
                validate(decode_bytes(raw, self.dictionary), self.dictionary)
            except Exception as exc:
                raise AssertionError(f"{shown} fails its dictionary: {exc}") from None
        for tag, value in expected.items():
            assert got.get(int(tag)) == value, f"expected {tag}={value} in {shown}"
        for tag in absent:
            assert tag not in got, f"expected no {tag}= in {shown}"
        return got

    def _peek_type(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """MsgType of the next message, without consuming it."""
        raw = self._next_raw(timeout)
        assert raw is not None, "the gateway disconnected"
        self._pending.insert(0, raw)
        return fields(raw)[35]

    def expect_disconnect(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The gateway closes the connection, cleanly: a reset would fail a conformance
        runner that reads to end of file (QuickFIX's raises ECONNRESET there)."""
        raw = self._next_raw(timeout)
        assert raw is None, f"expected a disconnect, got {raw!r}"
        assert not self.reset, "the gateway reset the connection instead of closing it"

    def expect_nothing(self, seconds: float) -> None:
        try:
            raw = self._next_raw(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected silence, got {raw!r}")

    def ts(self, delta: float = 0) -> str:
        from fixspec.fieldtypes import format_utc_timestamp

        return format_utc_timestamp(self.now + timedelta(seconds=delta))


@contextlib.contextmanager
def clients_of(port: int, our_comp_id: str, *, dictionary: SessionDictionaries | None = None,
               logout: bool = False) -> Iterator[Callable[[str], Client]]:
    """Make clients of the gateway on ``port`` by CompID as a test asks for them, each logged
    on with ResetSeqNumFlag (a fresh sequence for every test of a module-wide gateway), and
    close them at the end (after a Logout if ``logout``)."""
    made: list[Client] = []

    def make(name: str) -> Client:
        c = Client(port, name, our_comp_id=our_comp_id, dictionary=dictionary)
        c.logon(extra="|141=Y")
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            if logout:
                c.msg("35=5")
            c.close()


NOS = "35=D|11={cl}|21=1|38=100|40=1|54=1|55=INTC|60={t}"


def nos(client: Client, cl: str = "ID") -> str:
    return NOS.format(cl=cl, t=client.ts())
