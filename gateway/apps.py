"""Which application serves which session: ``application:`` in a session's YAML.

Built-in names map to the gateway's applications; anything else is a dotted path
``package.module:Class`` whose class is built with no arguments. One engine runs one
:class:`Dispatcher`, which hands each session's traffic to that session's application.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime

from gateway.application import Application, SessionHandle
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.echo_app import EchoApplication
from gateway.fixmessage import Message

BUILTIN: dict[str, Callable[[], Application]] = {"echo": EchoApplication}


def load_application(spec: str) -> Application:
    factory = BUILTIN.get(spec)
    if factory is not None:
        return factory()
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ConfigError(f"application {spec!r}: expected one of {', '.join(BUILTIN)} "
                          "or package.module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"application {spec!r}: {exc}") from None
    app: Application = cls()
    return app


class Dispatcher:
    """One application per distinct ``application:`` value, chosen per session."""

    def __init__(self, config: GatewayConfig,
                 apps: dict[str, Application] | None = None) -> None:
        self.apps: dict[str, Application] = dict(apps or {})
        for s in config.sessions:
            if s.application not in self.apps:
                self.apps[s.application] = load_application(s.application)

    def _for(self, config: SessionConfig) -> Application:
        return self.apps[config.application]

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return self._for(config).app_types(config)

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self._for(session.config).on_logon(session, now)

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        self._for(session.config).on_logout(session, now)

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        self._for(session.config).on_message(session, message, now)
