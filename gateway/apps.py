"""Which application serves which session: ``application:`` in a session's YAML.

Built-in names map to the gateway's applications; anything else is a dotted path
``package.module:Class``. Either is called with the :class:`GatewayConfig` (an application
reads its own top-level section, such as ``venue:``, from ``config.extra``). One engine runs one
:class:`Dispatcher`, which hands each session's traffic to that session's application.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import datetime

from gateway.application import Application, SessionHandle, TimedApplication
from gateway.client_app import ClientApplication
from gateway.config import ConfigError, GatewayConfig, SessionConfig
from gateway.echo_app import EchoApplication
from gateway.fixmessage import Message
from gateway.upstream import AlgoGatewayApplication
from gateway.venue_app import VenueApplication

AppFactory = Callable[[GatewayConfig], Application]
BUILTIN: dict[str, AppFactory] = {"echo": EchoApplication, "venue": VenueApplication,
                                  "algo": AlgoGatewayApplication, "client": ClientApplication}


# The top-level section a built-in application reads, and what the section gives it. Checked
# here, where the application's name and line are known: the venue's own check (venue_config)
# serves the algo gateway too, so its message would name the venue.
SECTIONS: dict[str, tuple[str, str]] = {
    "venue": ("venue", "the symbols it trades"),
    "algo": ("venue", "the symbols the venue trades"),
    "client": ("client", "the parent orders it sends"),
}

# The top-level sections each built-in application reads. A section no session's application
# reads is refused when every application is built in: limits in a `risk:` the sessions'
# applications never apply would look in force and be none.
READS: dict[str, frozenset[str]] = {
    "echo": frozenset(), "venue": frozenset({"venue", "algos", "risk"}),
    "algo": frozenset({"venue", "algos", "risk"}), "client": frozenset({"client"}),
}


def check_sections_read(config: GatewayConfig) -> None:
    """Raise a ConfigError at a ``venue:``, ``algos:``, ``risk:`` or ``client:`` section that
    no session's application reads (only when all of them are built in: an application of
    one's own may read any section)."""
    names = dict.fromkeys(s.application for s in config.sessions)
    if not names or any(name not in READS for name in names):
        return
    read = frozenset().union(*(READS[name] for name in names))
    for section in sorted(frozenset().union(*READS.values()) - read):
        node = config.extra.get(section)
        if node is not None:
            readers = " and ".join(n for n in READS if section in READS[n])
            raise node.error(f"no session's application reads this section (they run "
                             f"{', '.join(names)}; {readers} read it)")


def load_application(spec: str, config: GatewayConfig, where: str | None = None) -> Application:
    """The application ``spec`` names (a built-in name or ``package.module:Class``), made from
    ``config``. Errors are ConfigErrors that start with ``where`` (``FILE:LINE: key`` of the
    ``application:`` value, see GatewayConfig.where_application; default: the config's file)
    and name the application."""
    where = where or str(config.path)
    factory = BUILTIN.get(spec)
    if factory is not None:
        section = SECTIONS.get(spec)
        if section is not None and section[0] not in config.extra:
            raise ConfigError(f"{where}: application {spec!r} needs a '{section[0]}:' section "
                              f"({section[1]})")
        return factory(config)
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr or module_name.startswith("."):
        raise ConfigError(f"{where}: application {spec!r}: expected one of "
                          f"{', '.join(BUILTIN)} or package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: application {spec!r}: cannot import {module_name}: "
                          f"{exc}") from None
    except Exception as exc:  # the module itself is broken: say so rather than a traceback
        raise ConfigError(f"{where}: application {spec!r}: importing {module_name} failed: "
                          f"{type(exc).__name__}: {exc}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise ConfigError(f"{where}: application {spec!r}: module {module_name} has no "
                          f"{attr!r}")
    app: Application = cls(config)
    return app


class Dispatcher:
    """One application per distinct ``application:`` value, chosen per session."""

    def __init__(self, config: GatewayConfig,
                 apps: dict[str, Application] | None = None) -> None:
        self.apps: dict[str, Application] = dict(apps or {})
        check_sections_read(config)
        for i, s in enumerate(config.sessions):
            if s.application not in self.apps:
                self.apps[s.application] = load_application(s.application, config,
                                                            config.where_application(i))
        # An application that works one session (ONE_SESSION true: the client, whose parents,
        # status requests and cancels all go to one algo gateway), whatever names it.
        alone = [i for i, s in enumerate(config.sessions)
                 if getattr(self.apps[s.application], "ONE_SESSION", False)]
        if len(alone) > 1:
            names = ", ".join(config.sessions[i].name for i in alone)
            raise ConfigError(f"{config.where_application(alone[1])}: application "
                              f"{config.sessions[alone[1]].application!r} works one session, "
                              f"and {len(alone)} sessions run such an application ({names})")

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

    # Optional parts of an application, forwarded to the applications that have them.

    def on_reject(self, session: SessionHandle, message: Message, now: datetime) -> None:
        """A session-level Reject (3) the peer sent, for an application that wants to know
        (``on_reject(session, message, now)``: the algo gateway, whose child order it may
        refuse); the session layer has handled it."""
        on_reject = getattr(self._for(session.config), "on_reject", None)
        if on_reject is not None:
            on_reject(session, message, now)

    def bind(self, engine: object) -> None:
        """Give applications that route between sessions (``bind(engine)``) the engine."""
        for app in self.apps.values():
            bind = getattr(app, "bind", None)
            if bind is not None:
                bind(engine)

    def wind_down(self, now: datetime) -> Callable[[], bool]:
        """Before a clean stop logs the sessions out: each application that works orders it
        cannot resume after a restart (``wind_down(now)``: the algo gateway's parents) stops
        them; the answer says when all of them have settled."""
        settled = [wind(now) for app in self.apps.values()
                   if (wind := getattr(app, "wind_down", None)) is not None]
        return lambda: all(done() for done in settled)

    def kill_all(self, reason: str, now: datetime) -> None:
        """Throw the kill switch of every application that has one (the venue's and the
        algo gateway's); of each that has none (echo, client, a user class without
        ``kill_all(reason, now)``), one warning line on stderr: the switch is thrown for
        nothing there, which the operator who threw it must hear."""
        for spec, app in self.apps.items():
            kill = getattr(app, "kill_all", None)
            if kill is not None:
                kill(reason, now)
            else:
                print(f"gateway: warning: kill switch ({reason}): application {spec!r} has "
                      "no kill switch; its sessions go on as before", file=sys.stderr,
                      flush=True)

    def next_deadline(self) -> datetime | None:
        deadlines = [d for app in self.apps.values() if isinstance(app, TimedApplication)
                     if (d := app.next_deadline()) is not None]
        return min(deadlines, default=None)

    def on_timer(self, now: datetime) -> None:
        for app in self.apps.values():
            if isinstance(app, TimedApplication):
                deadline = app.next_deadline()
                if deadline is not None and deadline <= now:
                    app.on_timer(now)
