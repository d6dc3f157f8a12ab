"""``gateway run FILE.yaml [--port P]``: start the sessions a configuration describes.

Prints one line ``listening on HOST:PORT`` (with the real port when ``--port 0`` asks for a
free one) once the acceptor is up, then runs until SIGINT or SIGTERM, when it logs every
session out and closes its stores. Logs and stores go under ``--run-dir`` (``logs/run``),
the JSON audit log to ``audit: {path}`` (default ``RUN_DIR/audit.jsonl``). With a
``metrics: {host, port}`` section, Prometheus metrics are served over HTTP and a line
``metrics on http://HOST:PORT/metrics`` is printed after the ``listening on`` line. A
client application's parent orders (``application: client``) are printed a line a report
(:meth:`gateway.client_app.OrderProgress.line`), by a thread that never makes the sessions
wait on stdout (:mod:`gateway.progress_lines`).
SIGUSR1 throws the kill switch of an application that has one (the venue: refuse new
orders, cancel resting ones, stop algos); one sent while it starts is thrown as soon as its
sessions are up, before it reads any order. The switch is written to ``RUN_DIR/CONFIG.KILL_SWITCH``
(``CONFIG`` the configuration file's name without its suffix: ``venue.KILL_SWITCH``), and a
start of that configuration on that run directory throws it again: only removing the file
(and restarting) resets it. SIGUSR2 reopens every log file (session message
and event logs, the acceptor's log, the audit log) at its path, for log rotation: rename the
files, then send it.

``--mode backtest`` runs the config's ``backtest:`` section instead, exactly as
``gateway backtest FILE.yaml`` does (``--output`` and ``--on-error`` as there); ``--mode
live`` (the default) serves it live, where a ``backtest:`` section is ignored and clients send
their own orders. An option of the other mode (``--port`` or ``--run-dir`` with a backtest,
``--output`` or ``--on-error`` live) is an error, not ignored.

Stopping: SIGINT, SIGTERM and SIGHUP all stop it gracefully (every session logged out, stores
closed, ``stopped`` on stderr, exit 0) from the moment it has begun to start its sessions; a
signal in the moment before that, while the program's modules load, stops it at once and
quietly with 128 + the signal's number (see :mod:`gateway.cli`).

Start-up problems end it with one line ``gateway: error: ...`` and exit 2, before any session
starts: ``--port`` outside 0-65535, a YAML file that is not UTF-8 (named with the line), a
TLS cert, key or CA file that is missing or cannot be loaded (named with its config key), an
acceptor or initiator host that does not resolve, an acceptor or metrics port that cannot
be listened on (in use, or not allowed), and a folder that cannot be made for ``--run-dir``,
``audit.path`` or a session's ``store.path``, or an ``audit.path`` or ``store.path`` that is a
folder (named with the option or config key and the path, where the OS says only ``[Errno
17] File exists``).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from gateway.apps import Dispatcher
from gateway.audit import AuditConfig, AuditLog, parse_audit_config
from gateway.cli import STOP_SIGNALS, ignore_stop_signals, kill_requested
from gateway.client_app import ClientApplication
from gateway.config import GatewayConfig, TlsConfig, load_config
from gateway.input_paths import path_arg
from gateway.metrics import GatewayMetrics, parse_metrics_config
from gateway.progress_lines import LinePrinter
from gateway.session_runner import store_path
from gateway.transport import Engine, Listener, ssl_context

RUN_DIR = Path("logs/run")  # where a live run's logs and stores go unless --run-dir says
KILL_FILE = "{config}.KILL_SWITCH"  # in the run directory: the kill switch a run threw


class StartupError(ValueError):
    """Something the configuration names cannot be used (a file, a host, a port). The message
    says what and where; a ValueError, so that :mod:`gateway.cli` prints it as one line and
    exits 2."""


def port_number(text: str) -> int:
    """argparse type of ``--port``: an integer in 0-65535 (0 asks for a free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: 0 to 65535, "
                                         f"0 picks a free one")
    return port


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run the FIX sessions of a YAML configuration",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=path_arg, help="sessions YAML (see sessions/)")
    p.add_argument("--port", type=port_number,
                   help="override the acceptor's listening port (0: a free one)")
    p.add_argument("--run-dir", type=path_arg,
                   help=f"where logs and stores go (default: {RUN_DIR}; live mode)")
    p.add_argument("--mode", choices=("live", "backtest"), default="live",
                   help="serve live (default), or run the config's backtest: section")
    p.add_argument("--output", type=path_arg,
                   help="backtest mode: the report folder (overrides the config's)")
    p.add_argument("--on-error", choices=("stop", "skip"),
                   help="backtest mode: on bad market data, stop (default) or skip it")
    p.set_defaults(run=run)


def freeze_now() -> None:
    """Free the cyclic garbage there is now, then freeze every object left (see
    :func:`freeze_survivors`).

    The collection must come first: ``gc.freeze()`` moves *every* tracked object to the
    permanent generation, garbage included, and a frozen cycle is never collected. A
    connection's objects (reader, writer, transport, protocol) form cycles when it closes;
    frozen before a collection reached them they leaked about 1 KB a connection. The
    collection scans only what is not frozen yet, that is what was allocated since the last
    freeze, so it costs little more than the automatic collections of that second."""
    gc.collect()
    gc.freeze()


async def freeze_survivors(every: float = 1.0) -> None:
    """Every ``every`` seconds, move the objects that survive a collection out of the cycle
    collector's reach (:func:`freeze_now`).

    What lives that long here (sessions, books, orders of the day, stored messages) is never
    cyclic garbage, yet every full collection would scan all of it: with many orders in memory
    that is tens of milliseconds with the event loop stopped. Young objects are still
    collected as usual."""
    while True:
        await asyncio.sleep(every)
        freeze_now()


def read_config(path: Path, port: int | None) -> GatewayConfig:
    """The validated configuration, with ``--port`` applied. A file that is not UTF-8 is a
    :class:`~gateway.yamlcheck.ConfigError` naming the file and line, as in every command
    that reads a config (gateway.yamlcheck.load_yaml)."""
    config = load_config(path)
    if port is None:
        return config
    if not any(s.role == "acceptor" for s in config.sessions):
        raise StartupError(f"--port {port}: {path} has no acceptor session to listen for "
                           "(its sessions are initiators, which connect out)")
    return config.with_port(port)


def _tls_in_use(config: GatewayConfig) -> list[tuple[str, TlsConfig, bool]]:
    """Each TLS configuration the engine will load: (its config key, it, server side?)."""
    out: list[tuple[str, TlsConfig, bool]] = []
    if config.listens and config.acceptor is not None and config.acceptor.tls:
        out.append(("acceptor.tls", config.acceptor.tls, True))
    out += [(f"tls of session {s.name}", s.tls, False) for s in config.sessions
            if s.role == "initiator" and s.tls is not None]
    return out


def check_tls(config: GatewayConfig) -> None:
    """Load every TLS configuration the engine will use, now rather than on the first
    connection; raise :class:`StartupError` naming the config key and the file. (``ssl``
    says only ``[Errno 2] No such file or directory``, naming neither.)"""
    for where, tls, server in _tls_in_use(config):
        files = {"cert": tls.cert, "key": tls.key, "ca": tls.ca}
        for key, path in files.items():
            if path is not None and not path.is_file():
                raise StartupError(f"{config.path}: {where}.{key}: no such file: {path}")
        try:
            ssl_context(tls, server=server)
        except (OSError, ValueError) as exc:
            named = ", ".join(f"{k} {p}" for k, p in files.items() if p is not None)
            raise StartupError(f"{config.path}: {where}: cannot load {named}: {exc}") from None


async def check_hosts(config: GatewayConfig) -> None:
    """Resolve the acceptor's host and every initiator's; raise :class:`StartupError` naming
    the one that does not exist (an initiator would otherwise retry for ever with the reason
    only in its session log). A temporary resolver failure (EAI_AGAIN) is only reported: a
    gateway restarted during a DNS outage keeps its sessions, and initiators retry."""
    hosts: list[tuple[str, str, int]] = []
    if config.listens and config.acceptor is not None and config.acceptor.host:
        hosts.append(("acceptor.host", config.acceptor.host, config.acceptor.port))
    hosts += [(f"host of session {s.name}", s.host, s.port or 0) for s in config.sessions
              if s.role == "initiator" and s.host is not None]
    loop = asyncio.get_running_loop()
    for where, host, port in hosts:
        try:
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:
                print(f"gateway: warning: {config.path}: {where}: {host!r} cannot be resolved "
                      f"now ({exc.strerror}); going on", file=sys.stderr, flush=True)
                continue
            raise StartupError(f"{config.path}: {where}: {host!r} does not resolve: "
                               f"{exc.strerror}") from None


#: bind() errors that mean "this address and port cannot be listened on"
_LISTEN_ERRORS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


async def bind_acceptor(config: GatewayConfig) -> Listener | None:
    """The acceptor's port, bound before anything opens a file (None if nothing listens); a
    port that cannot be listened on raises :class:`StartupError` saying it is the
    acceptor's."""
    a = config.acceptor
    if a is None or not config.listens:
        return None
    try:
        return await Listener.bind(a.host, a.port)
    except OSError as exc:
        if exc.errno in _LISTEN_ERRORS:
            raise StartupError(f"{config.path}: acceptor: cannot listen on {a.host}:{a.port}: "
                               f"{os.strerror(exc.errno)}") from None
        raise


def edges(config: GatewayConfig, run_dir: Path
          ) -> tuple[AuditLog, GatewayMetrics | None, str | None]:
    """The audit log and (if configured) the metrics of a configuration and their URL, and
    the folders the engine writes in (:func:`make_folders`). The metrics port is bound
    first: one that cannot be listened on leaves no audit file and no folder."""
    node = config.extra.get("metrics")
    metrics = url = None
    if node is not None:
        mc = parse_metrics_config(node)
        try:
            metrics = GatewayMetrics()
            bound = metrics.serve(mc.host, mc.port)
        except OSError as exc:  # in use, not allowed, or a host that does not resolve
            raise StartupError(f"{config.path}: metrics: cannot listen on {mc.host}:{mc.port}: "
                               f"{exc.strerror or exc}") from None
        host = f"[{mc.host}]" if ":" in mc.host else mc.host  # an IPv6 address, as URLs write it
        url = f"http://{host}:{bound}/metrics"
    node = config.extra.get("audit")
    try:
        make_folders(config, run_dir)
        if node is None:
            audit = _open_audit(AuditConfig(run_dir / "audit.jsonl"), f"--run-dir {run_dir}")
        else:
            audit_config = parse_audit_config(node, config.path.resolve().parent)
            path_node = node.mapping({"path", "flush_every"})["path"]
            audit = _open_audit(audit_config,
                                f"{path_node.file}:{path_node.line}: {path_node.path}")
    except BaseException:
        if metrics is not None:
            metrics.close()
        raise
    return audit, metrics, url


def _open_audit(config: AuditConfig, where: str) -> AuditLog:
    """The audit log; a path that cannot be opened raises :class:`StartupError` naming
    ``where`` (the config key or option the path comes from) and the path, where
    :class:`AuditLog` says only the errno text."""
    folder_problem(config.path.parent, where)
    if config.path.is_dir():
        raise StartupError(f"{where}: {config.path} is a folder, not a file")
    try:
        return AuditLog.from_config(config)
    except OSError as exc:
        raise StartupError(f"{where}: cannot open {config.path}: "
                           f"{exc.strerror or exc}") from None


def folder_problem(folder: Path, where: str) -> None:
    """Create ``folder`` (and its parents) if it is not there; raise :class:`StartupError`
    naming ``where`` (a config key or option) and the folder when it cannot be, saying which
    part of the path is a file when one is (mkdir says only ``File exists`` or ``Not a
    directory``), or when nothing can be written in it (a read-only file system, no
    permission: the logs and stores opened there would fail with the bare errno text)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        for part in (folder, *folder.parents):
            if part.exists() and not part.is_dir():
                reason = f"{part} is a file, not a folder"
                break
        raise StartupError(f"{where}: cannot create the folder {folder}: {reason}") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise StartupError(f"{where}: cannot write in the folder {folder}: "
                           f"{exc.strerror or exc}") from None


def make_folders(config: GatewayConfig, run_dir: Path) -> None:
    """Create the folders the engine writes in before it opens anything there: the run
    directory's ``log`` (and ``store``, for file stores without a ``store.path``) and the
    folder of each ``store.path``. One that cannot be made, or a ``store.path`` that is a
    folder, raises :class:`StartupError` naming the option or config key it comes from and
    the path (the engine would fail with the bare errno text)."""
    option = f"--run-dir {run_dir}"
    folder_problem(run_dir / "log", option)
    for i, s in enumerate(config.sessions):
        if s.store.kind != "file":
            continue
        path = store_path(s, run_dir)
        assert path is not None  # (a file store)
        where = option if s.store.path is None else config.where_store_path(i)
        folder_problem(path.parent, where)
        if path.is_dir():
            raise StartupError(f"{where}: {path} is a folder, not a file")


class KillSwitch:
    """SIGUSR1 during and after start-up. One handler from the start of :func:`serve`: a
    signal before :meth:`arm` (the application not yet serving) is kept and thrown by
    :meth:`arm`, one after it at once, so none is lost between the two (asyncio runs a
    signal's callback in a later loop iteration than its arrival)."""

    def __init__(self) -> None:
        self._throw: Callable[[str], None] | None = None
        self._pending = False

    def signalled(self) -> None:
        if self._throw is None:
            self._pending = True
        else:
            self._throw("SIGUSR1")

    def arm(self, throw: Callable[[str], None]) -> None:
        """From now on the switch throws with ``throw(reason)``; throw it now if SIGUSR1
        came during start-up (here, or before :func:`serve`: see :mod:`gateway.cli`)."""
        self._throw = throw
        if self._pending or kill_requested():
            self._pending = False
            throw("SIGUSR1 during start-up")


def throw_kill_switch(engine: Engine, app: Dispatcher, kill_file: Path, reason: str) -> None:
    """Every application's kill switch; what they send then (the venue's cancels, to each
    client) is stored as one batch, journaled like an input's. The switch is written to
    ``kill_file`` first (fsynced), so a restart, a crash's included, throws it again
    (:func:`rethrow_kill_switch`) rather than trading on."""
    try:
        with kill_file.open("w", encoding="utf-8") as f:
            f.write(f"{engine.clock.now().isoformat()} {reason}\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # it is thrown all the same: only a restart would forget it
        print(f"gateway: warning: kill switch ({reason}): cannot write {kill_file}: "
              f"{exc.strerror or exc}; a restart would not throw it again", file=sys.stderr,
              flush=True)
    _throw(engine, app, reason)


def rethrow_kill_switch(engine: Engine, app: Dispatcher, kill_file: Path) -> None:
    """At start-up: the kill switch a run in this run directory threw (``kill_file``) is
    thrown again, until the operator removes the file. Only a restart resets the switch."""
    try:
        thrown = kill_file.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return
    except OSError as exc:  # there, but not readable (a folder): thrown all the same
        thrown = f"unreadable: {exc.strerror or exc}"
    reason = f"thrown before a restart ({thrown}); remove {kill_file} and restart to trade again"
    print(f"gateway: kill switch: {reason}", file=sys.stderr, flush=True)
    _throw(engine, app, reason)


def _throw(engine: Engine, app: Dispatcher, reason: str) -> None:
    with engine.batch:
        app.kill_all(reason, engine.clock.now())


def reopen_logs(engine: Engine, audit: AuditLog) -> None:
    """SIGUSR2: every log file goes on in a new file at its path (logrotate's ``create``
    mode renames them, then signals). What cannot be reopened is one line on stderr each and
    keeps its old file; trading goes on either way."""
    problems = engine.reopen_logs()
    try:
        audit.reopen()
    except OSError as exc:
        problems.append(f"{audit.path}: {exc.strerror or exc}")
    for problem in problems:
        print(f"gateway: warning: cannot reopen {problem}", file=sys.stderr, flush=True)
    engine.event_log.event(engine.clock.now(), "logs reopened (SIGUSR2)")


async def serve(config: GatewayConfig, config_path: Path, run_dir: Path) -> None:
    """Start the sessions of ``config`` (read from ``config_path``), serve until a signal
    of :data:`STOP_SIGNALS`, stop gracefully.

    The stop signals are taken over first, before anything else is read: one that comes
    while the sessions are still being set up stops them as soon as they are started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    kill = KillSwitch()
    loop.add_signal_handler(signal.SIGUSR1, kill.signalled)
    check_tls(config)
    await check_hosts(config)
    app = Dispatcher(config)
    printer = LinePrinter()
    for part in app.apps.values():
        if isinstance(part, ClientApplication):  # the client's orders, as the reports come
            part.on_update = lambda progress: printer.print(progress.line())
    listener: Listener | None = None
    audit: AuditLog | None = None
    metrics: GatewayMetrics | None = None
    try:
        listener = await bind_acceptor(config)
        audit, metrics, url = edges(config, run_dir)
        engine = Engine(config, app, run_dir=run_dir, audit=audit, metrics=metrics,
                        notice=lambda text: print(f"gateway: {text}", file=sys.stderr,
                                                  flush=True))
        await engine.start(listener)
        # No await since the start: the loop has read no order yet, so a kill switch thrown
        # during start-up (from main() on: see gateway.cli) takes effect before the first.
        # one per configuration: gateways of other configurations (a venue, an algo gateway)
        # may share the run directory
        kill_file = run_dir / KILL_FILE.format(config=config_path.stem)
        rethrow_kill_switch(engine, app, kill_file)
        kill.arm(partial(throw_kill_switch, engine, app, kill_file))
        loop.add_signal_handler(signal.SIGUSR2, reopen_logs, engine, audit)
        freezer = asyncio.create_task(freeze_survivors())
        if not stop.is_set():
            if config.listens:
                assert config.acceptor is not None
                print(f"listening on {config.acceptor.host}:{engine.port}", flush=True)
            if url is not None:
                print(f"metrics on {url}", flush=True)
        await stop.wait()
        freezer.cancel()
        await engine.stop()  # it waits for the peers' Logouts and the sockets' close
    finally:
        # The loop, closing, would put back the signals' defaults, which end the process:
        # until gateway.cli restores its own, a late SIGUSR1 or SIGUSR2 is ignored instead.
        for sig in (signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
        if listener is not None:  # served, the engine has closed it; else never accepted
            listener.close()
        if audit is not None:
            audit.close()
        printer.close()
        if metrics is not None:
            metrics.close()


def run(args: argparse.Namespace) -> int:
    wrong = ([f"--{name.replace('_', '-')}" for name in ("port", "run_dir")
              if getattr(args, name) is not None] if args.mode == "backtest" else
             [f"--{name.replace('_', '-')}" for name in ("output", "on_error")
              if getattr(args, name) is not None])
    if wrong:  # said, rather than silently ignored
        other = "live" if args.mode == "backtest" else "backtest"
        raise StartupError(f"{', '.join(wrong)} applies to --mode {other}, not {args.mode}"
                           + (" (a backtest writes its logs to its output folder: --output)"
                              if args.mode == "backtest" else ""))
    if args.mode == "backtest":
        from gateway.cmd_backtest import run_config  # the backtest's imports only when asked

        return run_config(argparse.Namespace(config=args.config, on_error=args.on_error,
                                             output=args.output, quiet=False))
    # read before the loop takes the stop signals over: a read that blocks (a FIFO no one
    # writes) is then ended by one, as anything else while the program loads is, where the
    # loop's handler would wait for the read to end
    config = read_config(args.config, args.port)
    asyncio.run(serve(config, args.config, args.run_dir or RUN_DIR))
    ignore_stop_signals()  # stopped: one more SIGTERM has nothing left to stop
    print("stopped", file=sys.stderr)
    return 0
