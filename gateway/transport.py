"""asyncio transport: accepts and makes the connections of a configuration's sessions,
runs their timers and the applications'.

* One acceptor port serves every acceptor session of the configuration. A connection is
  routed by its first complete message: BeginString, then SenderCompID and TargetCompID as
  seen from our side. An unknown session, or one that already has a connection, is closed
  without a reply (QuickFIX does the same; no information leaks to a stranger). Each refused
  connection leaves one line in the engine's event log, ``RUN_DIR/log/``
  :data:`ACCEPTOR_LOG` (the session event logs' format: peer address, reason, what the peer
  sent, escaped and cut short), and counts in the metrics' ``connections_refused_total``
  under one of a fixed set of reasons. Nothing is kept per refused connection.
* Initiators connect at once, then after each failure or disconnect wait an exponential
  backoff (``initial_delay`` x ``multiplier``^n, capped at ``max_delay``) with +/- ``jitter``;
  a successful logon resets the backoff.
* Optional TLS with the standard library's ``ssl``. The acceptor's handshake runs in the
  connection's own handler, within the first message's time limit, so a failed or stalled
  handshake is a refused connection (reason ``tls``) like any other, not a line in asyncio's
  log.
* Application timers: an application that has ``next_deadline()``/``on_timer(now)`` (a
  venue's market-data replay, an algo's slices) is called when its deadline passes.
* Each session's connection is pumped by its :class:`~gateway.session_runner.SessionRunner`
  (output order, backpressure, resends, observers).
* :meth:`Engine.stop` logs every session out and reads the peers' Logouts (each session
  waiting at most its ``logout_timeout``, all at once) before it closes the connections, so
  the replies' sequence numbers are consumed and stored and the next logon has no gap.

The transport owns the clock and the logs; the sessions own every protocol decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import re
import ssl
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.framing import Framer
from gateway.application import Application, TimedApplication
from gateway.clock import Clock, WallClock
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, TlsConfig
from gateway.msglog import log_line, wire_text, write_failed
from gateway.session_runner import (
    READ_SIZE,
    OutputBatch,
    SessionObserver,
    SessionRunner,
    store_path,
)
from gateway.session_state import State
from gateway.store_batch import StoreBatch, journal_path

if TYPE_CHECKING:
    from gateway.audit import AuditLog
    from gateway.metrics import GatewayMetrics, RefusedReason

_TRAILER = re.compile(rb"\x0110=\d{3}\x01")
APP_TICK = 0.05  # longest an application timer may wait past its deadline
FIRST_MESSAGE_TIMEOUT = 30.0  # seconds a new connection has to deliver its first message
SCHEDULE_POLL = 60.0  # longest an initiator sleeps while it waits for its schedule
FIRST_MESSAGE_LIMIT = 65536  # bytes a first message may take: a Logon is far smaller
SHOWN_BYTES = 64  # of a refused connection's input, in its log line (escaped, then cut)
STOP_GRACE = 1.0  # seconds past the longest logout_timeout that stop() waits for the sessions
WIND_DOWN = 3.0  # seconds stop() lets applications settle their orders before the Logouts
ACCEPTOR_LOG = "acceptor.event.current.log"  # the engine's event log, beside the sessions'


def ssl_context(tls: TlsConfig, server: bool) -> ssl.SSLContext:
    """The context for ``tls``; :class:`OSError` or :class:`ValueError` (an encrypted key
    without its passphrase: never a prompt on the terminal) if its files cannot be used."""
    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    ctx = ssl.create_default_context(purpose, cafile=str(tls.ca) if tls.ca else None)
    if tls.cert is not None:
        ctx.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None,
                            password=tls.key_password)
    if server:
        # client certificates are asked for with a ca to verify them (a configuration that
        # says verify_peer without a ca is refused: gateway.config._tls)
        ctx.verify_mode = ssl.CERT_REQUIRED if tls.verify_peer and tls.ca else ssl.CERT_NONE
    elif not tls.verify_peer:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ConnectTimeout(TimeoutError):
    """Connecting (and a TLS handshake) took longer than ``logon_timeout``; its text says so."""


async def _connected_within(
        seconds: float, connecting: Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
        tls: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``connecting``'s streams, or :class:`ConnectTimeout` after ``seconds``."""
    try:
        return await asyncio.wait_for(connecting, seconds)
    except TimeoutError:
        what = "connected and through the TLS handshake" if tls else "connected"
        raise ConnectTimeout(f"not {what} within logon_timeout ({seconds:g} s)") from None


def connect_failure(exc: OSError, tls: bool) -> str:
    """Why a connection attempt failed, for the operator: the OS's words for a socket error
    (not asyncio's "Connect call failed" wrapping), the TLS library's for a handshake (its
    errno is OpenSSL's code, not an OS error number)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the acceptor's certificate is not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}"
    if isinstance(exc, ConnectTimeout):
        return str(exc)
    if exc.errno:
        return os.strerror(exc.errno)
    if tls:  # closed or reset with no OS error: the peer does not speak TLS, most likely
        return (f"{type(exc).__name__} during the TLS handshake (does the acceptor serve "
                "TLS?)")
    return str(exc) or type(exc).__name__


def peer_text(peer: object) -> str:
    """A socket's peer address as ``host:port`` (``[host]:port`` for IPv6)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return wire_text(str(peer))


class EngineLog:
    """The engine's own event log (``directory/ACCEPTOR_LOG``): lines as in the session
    event logs, ``YYYYMMDD-HH:MM:SS.ffffff : text``, flushed as written. Opened when first
    written, so an engine that refuses nothing leaves no file; after :meth:`close` lines are
    dropped (a connection refused while the engine stops). It never raises: a line it cannot
    write is counted in ``errors`` (the first reported on stderr)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ACCEPTOR_LOG
        self._file: BinaryIO | None = None
        self._closed = False
        self.errors = 0

    def event(self, now: datetime, text: str) -> None:
        if self._closed:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
            self._file.write(log_line(now, text.encode("utf-8", "surrogateescape")))
            self._file.flush()
        except OSError as exc:  # a full disk must not cost the acceptor its next connection
            self.errors = write_failed(self.path, exc, self.errors, "connections go on")

    def reopen(self) -> None:
        """Close the file: the next line opens a new one at the same path (after a log
        rotation renamed this one)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self._closed = True
        self.reopen()


def peek_session_key(data: bytes) -> tuple[str, str, str] | None:
    """(BeginString, our CompID, theirs) from the first complete message in ``data``; None
    if no complete message is there yet. Raises ValueError for a first message that is garbled
    or lacks the fields."""
    batch = Framer().scan(data)
    if not len(batch):
        # A CheckSum field already arrived but no message was framed: its BodyLength is wrong.
        # The framer waits for the next "8=FIX" to resynchronise; before logon nothing else
        # is coming, and a garbled Logon ends the connection (as in QuickFIX).
        if _TRAILER.search(data):
            raise ValueError("first message garbled (BodyLength does not match)")
        return None
    if not batch.ok(0):
        raise ValueError(f"first message garbled ({batch.status(0).name})")
    begin, sender, target = (batch.value(0, t) for t in (8, 49, 56))
    if begin is None or sender is None or target is None:
        raise ValueError("first message lacks BeginString or CompIDs")
    return begin.decode("latin-1"), target.decode("latin-1"), sender.decode("latin-1")


_BACKLOG = 100  # asyncio's own default for its servers


class Listener:
    """The acceptor's port, bound and listening before the engine opens any file, and
    served by :meth:`Engine.start`: a port in use then fails a start with nothing written (no
    empty store, log or lock files in a run directory that had none). Clients that connect
    before it serves wait in the backlog; every connection is handed to the engine."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self._handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                Awaitable[None]] | None = None

    @classmethod
    async def bind(cls, host: str | None, port: int) -> Listener:
        """Bind and listen on ``host:port`` (every address the host resolves to, as
        asyncio's servers do) without accepting yet; raises OSError as
        :func:`asyncio.start_server` does. Clients that connect before :meth:`serve` wait in
        the backlog."""
        listener = cls()
        server = listener.server = await asyncio.start_server(
            listener._connected, host, port, limit=READ_SIZE, start_serving=False)
        try:
            # asyncio calls listen() only when it starts serving, and two bound sockets with
            # SO_REUSEADDR that are not listening can share a port: listen now, so the port
            # is ours (or the error is) before anything else starts
            for sock in server.sockets:
                with sock.dup() as same:  # a second descriptor of the same socket
                    same.listen(_BACKLOG)
        except BaseException:
            server.close()
            raise
        return listener

    async def serve(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                            Awaitable[None]]) -> asyncio.Server:
        """Accept connections from now on, each handed to ``handler``."""
        assert self.server is not None
        self._handler = handler
        await self.server.start_serving()
        return self.server

    def close(self) -> None:
        """Give the port up (a listener that was never served, after a failed start)."""
        if self.server is not None:
            self.server.close()

    async def _connected(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """A connection's task (asyncio's server made it; nothing awaits it). A stop that
        cancels it ends it normally: Python 3.11's server asks a cancelled connection task
        for its exception, which raises, and printed a traceback at every stop that found
        a peer still connected."""
        assert self._handler is not None  # nothing connects before serve()
        with contextlib.suppress(asyncio.CancelledError):
            await self._handler(reader, writer)


class Engine:
    """Every session of a configuration, the acceptor port, and the initiators' connections."""

    def __init__(self, config: GatewayConfig, app: Application, *, clock: Clock | None = None,
                 run_dir: Path = Path("logs/run"), rng: random.Random | None = None,
                 observers: Sequence[SessionObserver] = (), audit: AuditLog | None = None,
                 metrics: GatewayMetrics | None = None, flush_logs: bool = True,
                 notice: Callable[[str], None] | None = None) -> None:
        self.config = config
        # the operator's console (gateway run: stderr): an initiator that cannot connect,
        # and when it connects again; the details stay in the session's event log
        self.notice = notice or (lambda text: None)
        self.app = app
        self.audit = audit  # applications log order and algo events here (see bind)
        self.metrics = metrics
        observers = [*observers, *(o for o in (audit, metrics) if o is not None)]
        self.clock = clock or WallClock()
        self.rng = rng or random.Random()
        acceptor = config.acceptor or AcceptorConfig()
        stores = [p for s in config.sessions if (p := store_path(s, run_dir)) is not None]
        self.batch = OutputBatch(audit, StoreBatch(journal_path(stores)))
        self.runners: dict[tuple[str, str, str], SessionRunner] = {}
        try:
            for s in config.sessions:
                self.runners[s.key] = SessionRunner(s, app, self.clock, run_dir,
                                                    acceptor.max_buffer, observers,
                                                    flush_logs=flush_logs, batch=self.batch)
        except BaseException:  # a store in use, say: release what the others opened
            for runner in self.runners.values():
                runner.release()
            raise
        if metrics is not None:
            for runner in self.runners.values():
                metrics.add_session(runner)
        # acceptor sessions by CompIDs alone: tells a wrong BeginString from a stranger
        self._by_comp_ids = {(s.sender_comp_id, s.target_comp_id): self.runners[s.key]
                             for s in config.sessions if s.role == "acceptor"}
        self.run_dir = run_dir  # applications keep their own files there (see bind)
        self.event_log = EngineLog(run_dir / "log")
        self._server: asyncio.Server | None = None
        self._tls: ssl.SSLContext | None = None  # the acceptor's, for _accept's handshakes
        self._tasks: list[asyncio.Task[None]] = []
        self._connections: set[asyncio.Task[Any]] = set()  # each accepted socket's handler
        self._stopping = False

    def runner(self, name_or_target: str) -> SessionRunner:
        """A session by its name or its TargetCompID."""
        for r in self.runners.values():
            if name_or_target in (r.name, r.config.target_comp_id):
                return r
        raise KeyError(name_or_target)

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, listener: Listener | None = None) -> None:
        """Serve the acceptor port on ``listener`` (bound here if None: see
        :class:`Listener`), start the initiators' connections and the application's timer."""
        acceptor = self.config.acceptor
        if acceptor is not None and self.config.listens:
            self._tls = ssl_context(acceptor.tls, server=True) if acceptor.tls else None
            if listener is None:
                listener = await Listener.bind(acceptor.host, acceptor.port)
            self._server = await listener.serve(self._accept)
        for runner in self.runners.values():
            if runner.config.role == "initiator":
                self._tasks.append(asyncio.create_task(self._initiate(runner)))
        bind = getattr(self.app, "bind", None)
        if bind is not None:
            bind(self)
        if isinstance(self.app, TimedApplication):
            self._tasks.append(asyncio.create_task(self._app_timer(self.app)))

    async def _app_timer(self, app: TimedApplication) -> None:
        """Call the application's ``on_timer`` whenever its ``next_deadline`` has passed.
        Polls at least every ``APP_TICK`` seconds, so a deadline the application moves
        earlier (a new algo order) is seen soon without a wake-up channel."""
        while not self._stopping:
            now = self.clock.now()
            deadline = app.next_deadline()
            if deadline is not None and deadline <= now:
                try:
                    with self.batch:
                        app.on_timer(now)
                except Exception:  # a bug in one timer must not stop every later one
                    print(f"gateway: application timer failed:\n{traceback.format_exc()}",
                          file=sys.stderr, flush=True)
                    await asyncio.sleep(APP_TICK)
                await asyncio.sleep(0)
                continue
            wait = APP_TICK if deadline is None else (deadline - now).total_seconds()
            await asyncio.sleep(min(APP_TICK, max(0.0, wait)))

    async def _wind_down(self) -> None:
        """Let an application that works orders it could not resume after a restart settle
        them while the sessions are up (``wind_down(now)``, see apps.Dispatcher): at most
        WIND_DOWN seconds, as the venue's answers to its cancels come in."""
        wind = getattr(self.app, "wind_down", None)
        if wind is None:
            return
        with self.batch:  # its cancels, to many sessions, stored as one batch
            settled = wind(self.clock.now())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WIND_DOWN
        while not settled() and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving (``gateway run`` calls this on SIGTERM and SIGINT), then :meth:`close`.

        No new connection is accepted. An application with orders it could not resume after
        a restart settles them first (:meth:`_wind_down`). Every logged-on session sends
        Logout and the engine
        waits for the peers' Logouts, for all sessions at once and each at most its
        ``logout_timeout`` (the session ends its connection on the reply, or at that timeout
        with ``no Logout reply in time`` in its event log): the reply's MsgSeqNum is consumed
        and committed like any input, so the next logon without a reset has no gap. A session
        connected but not logged on is disconnected at once. What is still connected after
        that (STOP_GRACE past the longest logout_timeout) is closed."""
        self._stopping = True
        if self._server is not None:
            self._server.close()  # no new connections while the sessions log out
        await self._wind_down()
        now = self.clock.now()
        # an in-memory link (a backtest) has no serve() to end it: nothing to wait for there
        serving = [r for r in self.runners.values()
                   if isinstance(r.writer, asyncio.StreamWriter)]
        for runner in self.runners.values():
            if runner.writer is None:
                continue
            if runner.session.logged_on:
                runner.log.event(now, f"shutting down: Logout sent, waiting up to "
                                      f"{runner.config.logout_timeout:g} s for the peer's "
                                      f"Logout")
                runner.logout("shutting down")
            elif runner.session.state is not State.LOGOUT_SENT:  # that one is ending already
                runner.logout("shutting down")  # not logged on: disconnects at once
        limit = max((r.config.logout_timeout for r in serving), default=0.0) + STOP_GRACE
        await self._disconnected(serving, limit)
        for task in self._tasks:
            task.cancel()
        connected = [r for r in self.runners.values() if r.writer is not None]
        for runner in connected:
            runner._close(graceful=False)
        # Let each connection's serve() finish (it records the disconnect) before its log
        # and store close under it.
        await self._disconnected(connected, 2.0)
        # and each connection's handler to the end of its socket's close
        handlers = [t for t in self._connections if t is not asyncio.current_task()]
        if handlers:
            await asyncio.wait(handlers, timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()
        self.close()

    @staticmethod
    async def _disconnected(runners: Sequence[SessionRunner], limit: float) -> None:
        """Wait until each runner's connection has ended, at most ``limit`` seconds in all."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                for runner in runners:
                    await runner.disconnected_event.wait()

    def reopen_logs(self) -> list[str]:
        """Every session's message and event logs and the engine's event log go on in new
        files at their paths (``gateway run`` does this on SIGUSR2, after logrotate or an
        operator renamed them). Returns the problems (path: reason) of logs that could not be
        reopened; those keep writing to their old files."""
        problems = []
        for runner in self.runners.values():
            try:
                runner.log.flush()
                runner.log.reopen()
            except OSError as exc:
                problems.append(f"{runner.log.messages_path}: {exc.strerror or exc}")
        try:
            self.event_log.reopen()
        except OSError as exc:  # its last lines could not be flushed: say so, go on
            problems.append(f"{self.event_log.path}: {exc.strerror or exc}")
        return problems

    def close(self) -> None:
        """Close every session's message log and store (once no connection uses them) and
        the engine's event log."""
        for runner in self.runners.values():
            runner.release()
        self.batch.stores.close()
        self.event_log.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # stop() lets it finish: cut off, it reports its cancellation
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        buf, key, reason, detail = await self._first_message(reader, writer)
        if key is None and buf:  # what a stranger sent, in the few characters a line shows
            detail += f"; sent {wire_text(buf[:SHOWN_BYTES].decode('latin-1'))}"
        runner = None
        if self._stopping:  # a Logon now would be answered and then cut off
            reason, detail = "closed", "the gateway is stopping"
        elif key is not None:
            runner, reason, detail = self._route(key)
        if runner is None:
            self._refuse(writer.get_extra_info("peername"), reason, detail)
            writer.close()  # no reply: a stranger learns nothing
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        await runner.serve(reader, writer, buf)

    async def _first_message(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                             ) -> tuple[bytes, tuple[str, str, str] | None, RefusedReason, str]:
        """A new connection's TLS handshake (if configured) and first message, all within
        FIRST_MESSAGE_TIMEOUT: what was read, the session key it names (None if it names
        none), and otherwise why the connection is refused and what the log line says."""
        buf = b""
        handshake = self._tls is not None  # still in it: a failure is a TLS refusal
        try:
            # the whole first message within FIRST_MESSAGE_TIMEOUT, not each read: a peer
            # trickling a byte at a time must not hold a socket (a file descriptor) for ever
            async with asyncio.timeout(FIRST_MESSAGE_TIMEOUT):
                if self._tls is not None:
                    await writer.start_tls(self._tls)
                    handshake = False
                while len(buf) < FIRST_MESSAGE_LIMIT:
                    chunk = await reader.read(READ_SIZE)
                    if not chunk:
                        return buf, None, "closed", "before a complete first message"
                    buf += chunk
                    if not b"8=".startswith(buf[:2]):  # not FIX (an HTTP probe, say): now
                        return buf, None, "garbled", "not a FIX message (no 8= at the start)"
                    key = peek_session_key(buf)
                    if key is not None:
                        return buf, key, "closed", ""
            return buf, None, "garbled", f"no message in the first {len(buf)} bytes"
        except ValueError as exc:  # its text is ours (the framer's status), not the peer's
            return buf, None, "garbled", str(exc)
        except TimeoutError:
            what = "TLS handshake" if handshake else "complete first message"
            return buf, None, "timeout", f"no {what} in {FIRST_MESSAGE_TIMEOUT:g} s"
        except ssl.SSLError as exc:  # OpenSSL's words for what went wrong, not the peer's
            what = "handshake failed" if handshake else "error before a complete first message"
            return buf, None, "tls", f"{what}: {exc.reason or type(exc).__name__}"
        except (ConnectionError, OSError) as exc:
            if handshake:
                return buf, None, "tls", "the peer closed the connection during the handshake"
            return buf, None, "closed", (
                f"before a complete first message ({type(exc).__name__})")

    def _route(self, key: tuple[str, str, str]
               ) -> tuple[SessionRunner | None, RefusedReason, str]:
        """The acceptor session a first message's (BeginString, our CompID, theirs) names, if
        it may take the connection; else None, why, and what the log line says of it."""
        begin, ours, theirs = key
        runner = self.runners.get(key)
        if runner is not None and runner.config.role == "acceptor":
            if runner.writer is None:
                return runner, "closed", ""
            return None, "already_connected", f"session {runner.name} has a connection"
        sent = (f"BeginString {wire_text(begin)}, SenderCompID {wire_text(theirs)}, "
                f"TargetCompID {wire_text(ours)}")
        same_ids = self._by_comp_ids.get((ours, theirs))
        if same_ids is not None:
            return None, "wrong_begin_string", (
                f"{sent}; session {same_ids.name} expects {same_ids.config.begin_string}")
        return None, "unknown_session", sent

    def _refuse(self, peer: object, reason: RefusedReason, detail: str) -> None:
        """Record a refused connection: one event log line and the metric. Nothing else is
        kept, so a peer refused a million times costs a million short lines, not memory."""
        self.event_log.event(self.clock.now(), f"refused {peer_text(peer)}: {reason} ({detail})")
        if self.metrics is not None:
            self.metrics.connection_refused(reason)

    def _backoff(self, attempt: int, config: SessionConfig) -> float:
        rc = config.reconnect
        if attempt == 0:
            return 0.0
        # the exponent stops where the cap is reached: the attempts of a peer down for a
        # night are unbounded, and a float power of their number overflows (OverflowError,
        # about 8.5 hours in at the defaults, ending the reconnect loop for good)
        steps = attempt - 1
        if rc.initial_delay >= rc.max_delay:
            steps = 0
        elif rc.multiplier > 1:
            steps = min(steps, math.ceil(math.log(rc.max_delay / rc.initial_delay,
                                                  rc.multiplier)))
        delay = min(rc.max_delay, rc.initial_delay * rc.multiplier ** steps)
        return max(0.0, delay * (1 + self.rng.uniform(-rc.jitter, rc.jitter)))

    async def _initiate(self, runner: SessionRunner) -> None:
        config = runner.config
        # loaded once (start-up checked the files: check_tls), not on every attempt
        tls = ssl_context(config.tls, server=False) if config.tls else None
        attempt = 0
        failing = False  # since the last connection: the operator was told once
        unanswered = False  # connections without a logon since the last one logged on: told
        while not self._stopping:
            await asyncio.sleep(self._backoff(attempt, config))
            if self._stopping:  # stop() is logging the sessions out: no new connection
                break
            if config.schedule is not None and not config.schedule.in_session(self.clock.now()):
                # outside its schedule an initiator does not connect (its Logon would only
                # be refused): it waits for the next start, then connects at once
                start = config.schedule.next_start(self.clock.now())
                runner.log.event(self.clock.now(), f"outside the session schedule: "
                                                   f"waiting for its start at {start}")
                while not config.schedule.in_session(self.clock.now()):
                    wait = (config.schedule.next_start(self.clock.now())
                            - self.clock.now()).total_seconds()
                    await asyncio.sleep(min(max(wait, 0.01), SCHEDULE_POLL))
                attempt = 0
            attempt += 1
            try:
                # connecting and a handshake are part of logging on: bounded by
                # logon_timeout together (a peer whose listen queue is full drops the SYNs:
                # the connect waited minutes, unsaid); the handshake's own bound is only
                # there to replace asyncio's 60 s, shorter than a longer logon_timeout
                reader, writer = await _connected_within(
                    config.logon_timeout, asyncio.open_connection(
                        config.host, config.port, ssl=tls, limit=READ_SIZE,
                        ssl_handshake_timeout=config.logon_timeout if tls else None),
                    tls is not None)
            except OSError as exc:
                runner.log.event(self.clock.now(), f"connect failed: {exc!r}")
                if not failing:
                    why = connect_failure(exc, config.tls is not None)
                    self.notice(f"session {runner.name}: cannot connect to {config.host}:"
                                f"{config.port}: {why}; retrying with backoff")
                failing = True
                continue
            if self._stopping:
                writer.close()
                break
            if failing:
                self.notice(f"session {runner.name}: connected to {config.host}:{config.port}")
                failing = False
            began = time.monotonic()
            runner.last_disconnect = None
            try:
                await runner.serve(reader, writer)
            except Exception as exc:  # whatever ended this connection, the next one is tried
                runner.log.event(self.clock.now(), f"connection failed: {exc!r}\n"
                                                   f"{traceback.format_exc()}")
            if runner.logged_on_event.is_set():
                unanswered = False
            elif not unanswered and not self._stopping:
                # connected is not logged on (a Logon refused, unanswered, or answered with a
                # Logout): the operator hears why once, not only the session's event log
                why = runner.last_disconnect or "the connection closed"
                self.notice(f"session {runner.name}: connected to {config.host}:{config.port} "
                            f"but not logged on ({why}); retrying with backoff")
                unanswered = True
            if (runner.logged_on_event.is_set()
                    and time.monotonic() - began >= config.reconnect.max_delay):
                # a session that lasted: start the backoff over. One that a peer ended at
                # once (a Logout after each Logon) goes on backing off, or it would be
                # reconnected every initial_delay for ever.
                attempt = 1

    def backoff_schedule(self, config: SessionConfig, attempts: int) -> list[float]:
        """The delays the first ``attempts`` connection attempts would wait (for tests)."""
        return [self._backoff(i, config) for i in range(attempts)]
