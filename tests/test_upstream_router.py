"""The algo gateway's router to the upstream venue, in process: what it sends while the
venue link is down and once it is back. The link itself is a stand-in session handle that
records what the router sends (the same router over real sockets is in
tests/test_algo_upstream.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.config import SessionConfig, load_config
from gateway.fixmessage import Message
from gateway.upstream import AlgoGatewayApplication

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)


@dataclass
class Link:
    """A session handle: ``logged_on`` as the test sets it, and every message sent."""

    name: str
    config: SessionConfig
    logged_on: bool = False
    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        assert self.logged_on, "nothing may be sent on a link that is down"
        self.sent.append(message)


def test_a_cancel_while_the_venue_link_is_down_is_sent_once_it_is_back() -> None:
    config = load_config(ROOT / "sessions/algo.yaml")
    app = AlgoGatewayApplication(config)
    session = next(s for s in config.sessions if s.name == app.upstream_name)
    link = Link(app.upstream_name, session)
    app.upstream = link
    app.desk.touch(NOW)  # as the desk's own calls into the router are
    app.cancel("P1-A1.1")
    app.cancel("P1-A1.1")  # asked twice while down: one cancel when back
    app.cancel("P1-A1.2")
    assert link.sent == []
    link.logged_on = True
    app.on_logon(link, NOW)
    cancels = [m for m in link.sent if m.msg_type == "F"]
    assert [(m.body.get_str(41), m.body.get_str(11)) for m in cancels] == [
        ("P1-A1.1", "P1-A1.1~c"), ("P1-A1.2", "P1-A1.2~c")]
    link.sent.clear()
    app.on_logon(link, NOW)  # a later logon sends them no more
    assert [m for m in link.sent if m.msg_type == "F"] == []
