"""The acceptance profile's test application (``application: echo``), as conformance suites
expect it: echo NewOrderSingle (D), SecurityDefinition (d) and Email (C) back unchanged with
our header, ignore a PossResend=Y NewOrderSingle whose ClOrdID was already seen on this
connection, and leave every other application message to the session layer, which answers
BusinessMessageReject 380=3 (Unsupported Message Type)."""

from __future__ import annotations

from datetime import datetime

from gateway.application import SessionHandle
from gateway.config import GatewayConfig, SessionConfig
from gateway.fixmessage import Message

ECHOED = frozenset({"D", "d", "C"})
# Header fields that belong to the incoming hop; the session fills in its own.
_OWN_HEADER = frozenset({8, 9, 10, 34, 43, 49, 52, 56, 122})


class EchoApplication:
    def __init__(self, config: GatewayConfig | None = None) -> None:
        self._seen: dict[str, set[bytes]] = {}

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return ECHOED

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self._seen[session.name] = set()  # "already seen" is per connection

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        self._seen.pop(session.name, None)

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        if message.msg_type == "D":
            cl_ord_id = message.body.get(11) or b""
            seen = self._seen.setdefault(session.name, set())
            if message.poss_resend and cl_ord_id in seen:
                return
            seen.add(cl_ord_id)
        echo = message.copy()
        echo.header.remove_tags(_OWN_HEADER)
        session.send(echo)
