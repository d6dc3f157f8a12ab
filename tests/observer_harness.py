"""A real :class:`gateway.session_runner.SessionRunner` driven without sockets, for observer tests.

The runner's own plumbing (``_handle``, ``_receive``) calls the observers exactly as it does
with a live connection; a :class:`VirtualClock` makes every ``now`` known to the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.application import Application
from gateway.clock import VirtualClock
from gateway.config import SessionConfig, StoreConfig
from gateway.echo_app import EchoApplication
from gateway.session_runner import Connected, SessionObserver, SessionRunner
from tests.fixpeer import Peer

T0 = datetime(2024, 5, 6, 9, 30, 0, 123456, tzinfo=UTC)


class Harness:
    """An acceptor session ISLD <- ``peer`` (TW by default; FIX.4.4, ``app`` or the echo
    application, memory store)."""

    def __init__(self, tmp_path: Path, observers: Sequence[SessionObserver],
                 peer: str = "TW", app: Application | None = None) -> None:
        self.clock = VirtualClock(T0)
        self.observers = observers
        config = SessionConfig("FIX.4.4", "ISLD", peer, role="acceptor", application="echo",
                               store=StoreConfig(kind="memory"))
        self.runner = SessionRunner(config, app or EchoApplication(), self.clock, tmp_path,
                                    1 << 20, observers)
        self.peer = Peer(sender=peer)

    def advance(self, seconds: float) -> datetime:
        self.clock.advance_to(self.clock.now() + timedelta(seconds=seconds))
        return self.clock.now()

    def connect(self) -> None:
        now = self.clock.now()
        for o in self.observers:
            o.event(self.runner, Connected(("127.0.0.1", 40000)), now)
        self.runner._handle(self.runner.session.connection_made(now))

    def logon(self) -> None:
        self.connect()
        self.runner.receive(self.peer.logon(now=self.advance(0.001)))

    def send(self, body: str, seconds: float = 0.001, **kw: object) -> None:
        """The peer sends ``body`` (see :meth:`tests.fixpeer.Peer.msg`) ``seconds`` later."""
        now = self.advance(seconds)
        self.runner.receive(self.peer.msg(body, now=now, **kw))  # type: ignore[arg-type]

    def drop(self) -> None:
        self.runner._handle(self.runner.session.connection_lost(self.advance(0.001)))

    def close(self) -> None:
        self.runner.log.close()


def nos(cl_ord_id: str) -> str:
    return (f"35=D|11={cl_ord_id}|21=1|38=100|40=2|44=10.00|54=1|55=AAPL"
            "|60=20240506-09:30:00")
