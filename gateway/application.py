"""What an application (echo, venue, algo router) sees of the engine: sessions it can send on.

The engine calls the application with every in-sequence, validated application message and
with logon/logout notices; the application answers through :meth:`SessionHandle.send`, which
numbers, persists and transmits like any outbound message (or only persists while the
session is logged out; the peer gets it by resend after the next logon).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from gateway.config import SessionConfig
from gateway.fixmessage import Field, Message


class SessionHandle(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def config(self) -> SessionConfig: ...

    @property
    def logged_on(self) -> bool: ...

    def send(self, message: Message) -> None:
        """Send an application message on this session now (header filled in here)."""
        ...

    def send_fields(self, msg_type: str, fields: Sequence[Field]) -> None:
        """:meth:`send` of the message of type ``msg_type`` whose body is the flat ``fields``
        in the order the encoder writes them (ascending tags, no data field), without
        building it (:meth:`gateway.session.Session.send_fields`)."""
        ...


class Application(Protocol):
    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        """Application MsgTypes this application handles on a session (None: all).

        Others get BusinessMessageReject 380=3 from the session layer.
        """
        ...

    def on_logon(self, session: SessionHandle, now: datetime) -> None: ...

    def on_logout(self, session: SessionHandle, now: datetime) -> None: ...

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None: ...


@runtime_checkable
class TimedApplication(Protocol):
    """An application with timers of its own (market-data replay, algo slices): the engine
    calls :meth:`on_timer` once ``next_deadline()`` has passed."""

    def next_deadline(self) -> datetime | None: ...

    def on_timer(self, now: datetime) -> None: ...
