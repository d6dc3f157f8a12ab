"""Small applications and helpers for tests that run real engines over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from gateway.application import SessionHandle
from gateway.config import SessionConfig
from gateway.fixmessage import Field, Message


class RecordingHandle:
    """A session handle for an application driven without a transport: a name, a config,
    logged on, and what the application sent on it."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.name = config.name
        self.logged_on = True
        self.sent: list[Message] = []

    def send_fields(self, msg_type: str, fields: Sequence[Field]) -> None:
        self.send(Message.flat(msg_type, fields))

    def send(self, message: Message) -> None:
        self.sent.append(message)


class Collector:
    """An initiator-side application that records what comes back."""

    def __init__(self) -> None:
        self.received: list[Message] = []
        self.logons = 0

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return None

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self.logons += 1

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        pass

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        self.received.append(message)


def order(cl: str) -> Message:
    m = Message("D")
    for tag, v in ((11, cl), (21, "1"), (38, 100), (40, "1"), (54, "1"), (55, "INTC"),
                   (60, "20261125-12:00:00")):
        m.body.set(tag, v)
    return m


async def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)
