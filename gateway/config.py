"""Session configuration: YAML in, frozen typed objects out, validated once at the edge.

A file has an optional ``acceptor`` (where to listen), optional ``defaults`` (keys every
session inherits unless it sets them, like QuickFIX's [DEFAULT]) and a list of ``sessions``.
Every unknown key or bad value stops loading with ``FILE:LINE: key.path: reason``. Secrets
never sit in YAML: a session names the environment variable that holds its password.

The keys, their defaults and meaning are the fields of :class:`SessionConfig` and friends
below; README's Configuration section shows a complete example.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fixspec.dictionary import BUILTIN_FILES
from gateway.schedule import Schedule, parse_day
from gateway.yamlcheck import ConfigError, Node, load_yaml

BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4", "FIXT.1.1")
APPL_VER_IDS = {"FIX.4.2": "4", "FIX.4.4": "6", "FIX.5.0": "7", "FIX.5.0SP1": "8",
                "FIX.5.0SP2": "9"}
Role = Literal["acceptor", "initiator"]
Precision = Literal["s", "ms", "us", "ns"]


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """QuickFIX's ValidateFieldsOutOfOrder, ValidateFieldsHaveValues, ValidateUserDefinedFields
    and AllowUnknownMsgFields; ``enabled: false`` skips dictionary validation entirely."""

    enabled: bool = True
    check_fields_out_of_order: bool = True
    check_fields_have_values: bool = True
    check_user_defined_fields: bool = True
    allow_unknown_message_fields: bool = False


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """``kind`` memory or file; a file store lives at ``path`` (default under ``logs/run``)."""

    kind: Literal["memory", "file"] = "file"
    path: Path | None = None
    fsync: Literal["always", "interval", "never"] = "always"
    fsync_interval: float = 0.05


@dataclass(frozen=True, slots=True)
class ReconnectConfig:
    """Initiator reconnects: first attempt at once, then exponential backoff with jitter."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2  # fraction of the delay, drawn uniformly in [-jitter, +jitter]


@dataclass(frozen=True, slots=True)
class TlsConfig:
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    verify_peer: bool = True
    #: the environment variable holding an encrypted key's passphrase (never the YAML)
    key_password_env: str | None = None

    def key_password(self) -> str:
        """The key's passphrase for ``ssl``'s ``load_cert_chain``, asked only when the key is
        encrypted; :class:`ValueError` saying what to set when none is given (``ssl`` would
        otherwise prompt on the terminal)."""
        if self.key_password_env is None:
            raise ValueError("the key is encrypted: name the environment variable holding "
                             "its passphrase with key_password_env")
        password = os.environ.get(self.key_password_env)
        if password is None:
            raise ValueError(f"key_password_env: the environment variable "
                             f"{self.key_password_env} is not set")
        return password


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One FIX session; see the module docstring for where the values come from."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    role: Role = "acceptor"
    heartbeat_interval: int = 30  # initiator's HeartBtInt; an acceptor takes the client's
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    sending_time_tolerance: float = 120.0
    logon_timeout: float = 10.0
    logout_timeout: float = 2.0
    resend_chunk_size: int = 0
    # messages held behind a sequence gap before the session gives up (Logout, disconnect)
    max_queued: int = 50_000
    timestamp_precision: Precision = "ms"
    dictionary: str = "builtin"  # builtin, or a path to a QuickFIX XML
    app_dictionary: str = "builtin"  # FIXT only: the application dictionary
    default_appl_ver_id: str = "FIX.5.0SP2"  # FIXT only
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    schedule: Schedule | None = None
    username: str | None = None
    password_env: str | None = None
    host: str | None = None  # initiator: where to connect
    port: int | None = None
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    tls: TlsConfig | None = None
    application: str = "echo"

    @property
    def key(self) -> tuple[str, str, str]:
        """How the acceptor finds this session: BeginString, our CompID, theirs."""
        return (self.begin_string, self.sender_comp_id, self.target_comp_id)

    @property
    def name(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"

    @property
    def app_version(self) -> str:
        """The FIX version of the session's application messages: its BeginString, or on
        FIXT.1.1 its DefaultApplVerID (``FIX.5.0SP2``...)."""
        return self.default_appl_ver_id if self.begin_string == "FIXT.1.1" else self.begin_string

    def password(self) -> str | None:
        """The password from the environment variable ``password_env`` (None if unset)."""
        return os.environ.get(self.password_env) if self.password_env else None


@dataclass(frozen=True, slots=True)
class AcceptorConfig:
    host: str = "127.0.0.1"
    port: int = 9880
    tls: TlsConfig | None = None
    # unsent output a peer may leave before it is disconnected as a slow consumer (its reads
    # stop earlier, at gateway.session_runner.HIGH_WATER)
    max_buffer: int = 1 << 20


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    path: Path
    sessions: tuple[SessionConfig, ...]
    acceptor: AcceptorConfig | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # sections other modules validate
    # per session, in order: where its application: is written, as a config error's
    # ``FILE:LINE: key`` prefix (see where_application)
    application_at: tuple[str, ...] = ()
    # per session, in order: where its store.path is written, likewise (see where_store_path)
    store_path_at: tuple[str, ...] = ()

    @property
    def listens(self) -> bool:
        """Whether the engine listens: an acceptor section and at least one acceptor session."""
        return self.acceptor is not None and any(s.role == "acceptor" for s in self.sessions)

    def with_port(self, port: int) -> GatewayConfig:
        """The same configuration listening on ``port`` (``gateway run --port``)."""
        return replace(self, acceptor=replace(self.acceptor or AcceptorConfig(), port=port))

    def where_application(self, index: int) -> str:
        """Where session ``index`` names its application (its own ``application:`` or the
        defaults'), as ``FILE:LINE: key``, for errors about that application; the file alone
        when the session takes the default or the config was built in code."""
        if 0 <= index < len(self.application_at):
            return self.application_at[index]
        return str(self.path)

    def where_store_path(self, index: int) -> str:
        """Where session ``index`` takes its ``store.path`` from (its own ``store:`` or the
        defaults'), as ``FILE:LINE: key``, for errors about that path; the file and
        ``sessions[N].store.path`` when the config was built in code."""
        if 0 <= index < len(self.store_path_at):
            return self.store_path_at[index]
        return f"{self.path}: sessions[{index}].store.path"


_SESSION_KEYS = frozenset(f.name for f in fields(SessionConfig))
#: Top-level sections owned by other parts of the gateway (venue, algos, risk, metrics).
EXTRA_SECTIONS = frozenset({"backtest", "venue", "algos", "risk", "metrics", "audit", "client"})


def _time(node: Node) -> time:
    """A quoted time of day to the second (an unquoted one is YAML's base-60 number, which
    Node refuses with its own words)."""
    text = node.string()
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        raise node.error(f"expected a time HH:MM:SS, got {text!r}") from None
    if parsed.microsecond:
        # a schedule turns at whole seconds: 08:00:00.5 was read as 08:00:00, and a window
        # within one second as a whole day
        raise node.error(f"expected a time to the second HH:MM:SS, got {text!r}")
    if parsed.tzinfo is not None:
        # the zone is the schedule's timezone: an offset here would be dropped silently
        raise node.error(f"expected a time of day without a UTC offset, got {text!r} (the "
                         "schedule's timezone key gives the zone)")
    return parsed


def _path(node: Node, base: Path) -> Path:
    p = Path(node.string())
    return p if p.is_absolute() else (base / p)


def _schedule(node: Node) -> Schedule:
    m = node.mapping({"start", "end", "timezone", "start_day", "end_day"}, {"start", "end"})
    # Each part is checked where it is written, so an error names its own key and line. The
    # getters' ConfigErrors already carry FILE:LINE: key: and must not be wrapped again (a
    # ConfigError is a ValueError: catching ValueError around them doubled the prefix).
    start, end = _time(m["start"]), _time(m["end"])
    days: dict[str, int] = {}
    for key in ("start_day", "end_day"):
        if key in m:
            text = m[key].string()
            try:
                days[key] = parse_day(text)
            except ValueError as exc:
                raise m[key].error(str(exc)) from None
    zone = "UTC"
    if "timezone" in m:
        zone = m["timezone"].string()
        try:
            ZoneInfo(zone)
        except (ValueError, OSError, ZoneInfoNotFoundError):  # unknown, or not a zone name
            raise m["timezone"].error(f"unknown time zone {zone!r}") from None
    try:
        return Schedule(start, end, zone, **days)
    except ValueError as exc:  # what only the whole schedule can tell (one day without other)
        raise node.error(str(exc)) from None


def _tls(node: Node, base: Path, *, server: bool = False) -> TlsConfig:
    """An initiator's ``tls`` (``server`` False: it verifies the acceptor's certificate
    unless ``verify_peer`` is false) or ``acceptor.tls`` (it needs its own ``cert``, and
    asks clients for certificates when ``verify_peer`` is true, which needs the ``ca``
    they are verified against; by default, exactly when ``ca`` is given)."""
    m = node.mapping({"cert", "key", "ca", "verify_peer", "key_password_env"})
    if "key_password_env" in m and "cert" not in m:
        raise m["key_password_env"].error("a key's passphrase needs the cert (and key)")
    if "key" in m and "cert" not in m:
        raise m["key"].error("a key needs the cert it belongs to (cert)")
    if server and "cert" not in m:
        raise node.error("an acceptor's TLS needs cert (and key, unless the cert file holds "
                         "it): a TLS server presents a certificate")
    verify_peer = m["verify_peer"].boolean() if "verify_peer" in m else not server or "ca" in m
    if server and verify_peer and "ca" not in m:
        raise m["verify_peer"].error("true needs ca: the CA file client certificates are "
                                     "verified against")
    return TlsConfig(
        cert=_path(m["cert"], base) if "cert" in m else None,
        key=_path(m["key"], base) if "key" in m else None,
        ca=_path(m["ca"], base) if "ca" in m else None,
        verify_peer=verify_peer,
        key_password_env=m["key_password_env"].string() if "key_password_env" in m else None,
    )


def _session_values(node: Node, base: Path) -> dict[str, Any]:
    """The keys a session (or ``defaults``) sets, as typed values."""
    m = node.mapping(_SESSION_KEYS)
    out: dict[str, Any] = {}
    for key, child in m.items():
        if key == "begin_string":
            out[key] = child.string(BEGIN_STRINGS)
        elif key in ("sender_comp_id", "target_comp_id", "username"):
            out[key] = child.name()
        elif key in ("password_env", "host", "application"):
            out[key] = child.string()
        elif key == "role":
            out[key] = child.string(("acceptor", "initiator"))
        elif key in ("reset_on_logon", "reset_on_logout", "reset_on_disconnect"):
            out[key] = child.boolean()
        elif key == "heartbeat_interval":
            out[key] = child.integer(1, 3600)
        elif key in ("sending_time_tolerance", "logon_timeout", "logout_timeout"):
            out[key] = child.number(0.001, 86400)
        elif key == "resend_chunk_size":
            out[key] = child.integer(0, 10**9)
        elif key == "max_queued":
            out[key] = child.integer(1, 10**9)
        elif key == "timestamp_precision":
            out[key] = child.string(("s", "ms", "us", "ns"))
        elif key in ("dictionary", "app_dictionary"):
            text = child.string()
            out[key] = text if text == "builtin" else str(_path(child, base))
            if text != "builtin" and not Path(out[key]).is_file():
                raise child.error(f"no dictionary file at {out[key]}")
        elif key == "default_appl_ver_id":
            out[key] = child.string(tuple(APPL_VER_IDS))
        elif key == "port":
            out[key] = child.integer(1, 65535)
        elif key == "schedule":
            out[key] = _schedule(child)
        elif key == "tls":
            out[key] = _tls(child, base)
        elif key == "validation":
            vm = child.mapping(frozenset(f.name for f in fields(ValidationConfig)))
            out[key] = ValidationConfig(**{k: v.boolean() for k, v in vm.items()})
        elif key == "store":
            sm = child.mapping({"kind", "path", "fsync", "fsync_interval"})
            store: dict[str, Any] = {}
            if "kind" in sm:
                store["kind"] = sm["kind"].string(("memory", "file"))
            if "path" in sm:
                store["path"] = _path(sm["path"], base)
            if "fsync" in sm:
                store["fsync"] = sm["fsync"].string(("always", "interval", "never"))
            if "fsync_interval" in sm:
                store["fsync_interval"] = sm["fsync_interval"].number(0, 60)
            out[key] = StoreConfig(**store)
        elif key == "reconnect":
            rm = child.mapping(frozenset(f.name for f in fields(ReconnectConfig)))
            # a delay of 0 would retry in a tight loop (the first attempt is at once anyway)
            limits = {"initial_delay": (0.001, 3600), "max_delay": (0.001, 86400),
                      "multiplier": (1, 100), "jitter": (0, 1)}
            reconnect = ReconnectConfig(**{k: v.number(*limits[k]) for k, v in rm.items()})
            if "initial_delay" in rm and "max_delay" in rm and (
                    reconnect.initial_delay > reconnect.max_delay):
                # both written, the backoff starting above its own cap: one is a typo (a
                # default below or above the other is the backoff's business: capped)
                raise rm["initial_delay"].error(
                    f"initial_delay {reconnect.initial_delay:g} s is above max_delay "
                    f"{reconnect.max_delay:g} s")
            out[key] = reconnect
    return out


def _session(node: Node, defaults: dict[str, Any], base: Path,
             defaults_node: Node | None = None) -> SessionConfig:
    values = {**defaults, **_session_values(node, base)}
    missing = [k for k in ("begin_string", "sender_comp_id", "target_comp_id") if k not in values]
    if missing:
        raise node.error(f"missing required key {', '.join(missing)} (here or in defaults)")
    session = SessionConfig(**values)
    if session.role == "initiator" and (session.host is None or session.port is None):
        raise node.error("an initiator needs host and port")
    if session.role == "acceptor":
        # each would be ignored: an acceptor session is reached on the acceptor's port,
        # which serves plain text unless acceptor.tls says
        own = node.mapping(_SESSION_KEYS)
        for key, why in _NOT_FOR_ACCEPTORS.items():
            if key in own:
                raise own[key].error(f"session {session.name} is an acceptor: {why}")
        # defaults are shared with initiators: of these, only a tls is refused there, since
        # this acceptor's peers would believe they were encrypted
        shared = defaults_node.mapping(_SESSION_KEYS) if defaults_node is not None else None
        if session.tls is not None and shared is not None and "tls" in shared:
            raise shared["tls"].error(
                f"session {session.name} is an acceptor: {_NOT_FOR_ACCEPTORS['tls']}")
    if (session.begin_string == "FIXT.1.1" and session.app_dictionary == "builtin"
            and session.default_appl_ver_id not in BUILTIN_FILES):
        raise node.error(f"default_appl_ver_id {session.default_appl_ver_id} has no built-in "
                         "dictionary: name its file with app_dictionary")
    _check_credentials(session, node)
    return session


_WHERE_REACHED = ("it is reached on the acceptor's host and port (a session's host and port "
                  "are where an initiator connects: a forgotten role: initiator?)")
#: session keys an acceptor session cannot use, and why
_NOT_FOR_ACCEPTORS = {
    "tls": "its connections use acceptor.tls (a session's tls is for an initiator's "
           "connection)",
    "host": _WHERE_REACHED,
    "port": _WHERE_REACHED,
    "reconnect": "an acceptor does not connect out (reconnect is an initiator's)",
}


def _check_credentials(session: SessionConfig, node: Node) -> None:
    """Username (553) and Password (554) that a Logon can carry and check, else a start-up
    error: the gateway would otherwise start and never log the session on."""
    if session.password_env and session.username is None:
        raise node.error("password_env needs username")
    if session.username is None:
        return
    if session.begin_string == "FIX.4.2" and session.dictionary == "builtin":
        raise node.error("username: FIX.4.2 defines no Username (553) or Password (554): a "
                         "FIX.4.2 counterparty rejects a Logon carrying them (a dictionary "
                         "that adds them can be named with dictionary)")
    if session.role == "acceptor" and not session.password_env:
        # a Logon is checked against both: without a password none would ever pass
        raise node.error("username on an acceptor session needs password_env (a Logon's "
                         "Username and Password are both checked)")
    if session.password_env:
        password = session.password()
        if password is None:
            raise node.error(f"password_env: the environment variable "
                             f"{session.password_env} is not set")
        if not password:
            raise node.error(f"password_env: the environment variable "
                             f"{session.password_env} is set but empty (a FIX field cannot "
                             "be empty)")


def _store_path_node(session: Node, defaults: Node | None) -> Node | None:
    """Where a session's ``store.path`` is written: in the session, in ``defaults``, or nowhere.

    A session's own ``store`` replaces the one in ``defaults`` as a whole (see
    :func:`_session`), so it takes its path only from there."""
    for node in (session, defaults):
        if node is None:
            continue
        m = node.mapping(_SESSION_KEYS)  # already checked: this cannot fail
        if "store" in m:
            return m["store"].mapping({"kind", "path", "fsync", "fsync_interval"}).get("path")
    return None


def _check_store_paths(sessions: tuple[SessionConfig, ...], nodes: list[Node],
                       defaults: Node | None) -> None:
    """Refuse two file stores at one path: both sessions would write one record log.

    Paths are compared after resolving ``..`` and symbolic links. Default paths (under the
    run directory, named after the session) differ whenever the sessions do; the store's lock
    (gateway.store) still refuses at start-up whatever this check cannot see."""
    owner: dict[Path, int] = {}
    for i, (s, node) in enumerate(zip(sessions, nodes, strict=True)):
        if s.store.kind != "file" or s.store.path is None:
            continue
        path = s.store.path.resolve()
        if path in owner:
            j = owner[path]
            where = _store_path_node(node, defaults) or node
            raise where.error(
                f"sessions {j} ({sessions[j].name}) and {i} ({s.name}) would share the store "
                f"file {path}; give each session its own store.path")
        owner[path] = i


def _application_at(session: Node, defaults: Node | None) -> str:
    """``FILE:LINE: key`` of the ``application:`` a session takes (its own, else the
    defaults'); the file alone if neither sets it."""
    for node in (session, defaults):
        if node is None:
            continue
        m = node.mapping(_SESSION_KEYS)  # already checked: this cannot fail
        if "application" in m:
            return f"{m['application'].file}:{m['application'].line}: {m['application'].path}"
    return session.file


def load_config(path: str | Path) -> GatewayConfig:
    """Load and validate a gateway YAML file; raise :class:`ConfigError` on the first problem."""
    root = load_yaml(path)
    base = Path(path).resolve().parent
    top = root.mapping({"acceptor", "defaults", "sessions"} | EXTRA_SECTIONS, {"sessions"})
    defaults = _session_values(top["defaults"], base) if "defaults" in top else {}
    sessions = tuple(_session(n, defaults, base, top.get("defaults"))
                     for n in top["sessions"].sequence())
    if not sessions:
        raise top["sessions"].error("at least one session is needed")
    seen: dict[tuple[str, str, str], int] = {}
    for i, s in enumerate(sessions):
        if s.key in seen:
            raise top["sessions"].error(f"sessions {seen[s.key]} and {i} are both {s.name}")
        seen[s.key] = i
    _check_store_paths(sessions, list(top["sessions"].sequence()), top.get("defaults"))
    acceptor = None
    if "acceptor" in top:
        am = top["acceptor"].mapping({"host", "port", "tls", "max_buffer"})
        acceptor = AcceptorConfig(
            host=am["host"].string() if "host" in am else "127.0.0.1",
            port=am["port"].integer(0, 65535) if "port" in am else 9880,
            tls=_tls(am["tls"], base, server=True) if "tls" in am else None,
            max_buffer=am["max_buffer"].integer(4096, 1 << 30) if "max_buffer" in am else 1 << 20,
        )
    if acceptor is None and any(s.role == "acceptor" for s in sessions):
        raise root.error("acceptor sessions need an 'acceptor' section (host, port)")
    extra = {k: top[k] for k in top.keys() & EXTRA_SECTIONS}
    application_at = tuple(_application_at(n, top.get("defaults"))
                           for n in top["sessions"].sequence())
    store_path_at = tuple(_at(_store_path_node(n, top.get("defaults")) or n)
                          for n in top["sessions"].sequence())
    return GatewayConfig(Path(path), sessions, acceptor, extra, application_at, store_path_at)


def _at(node: Node) -> str:
    """``FILE:LINE: key`` of ``node``, the prefix of a config error about it."""
    return f"{node.file}:{node.line}: {node.path}"


__all__ = ["AcceptorConfig", "ConfigError", "GatewayConfig", "ReconnectConfig", "SessionConfig",
           "StoreConfig", "TlsConfig", "ValidationConfig", "load_config"]
