"""asyncio transport: pumps bytes between sockets and sans-IO sessions, runs their timers.

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
* Backpressure: a connection's reads stop while its unsent output is above the high-water
  mark, so a peer that does not read cannot make us buffer replies without bound; one whose
  output still exceeds ``max_buffer`` is disconnected as a slow consumer. The framer bounds
  what an incomplete inbound message may occupy.
* Resends: a ResendRequest is written a slice at a time (:meth:`Session.send_owed`) as the
  peer reads, by a task of its own, while the connection's input is still read and other
  sessions are served. A resend of the whole day neither stalls the loop nor counts as
  unread output; what the session sends behind it does.
* Optional TLS with the standard library's ``ssl``. The acceptor's handshake runs in the
  connection's own handler, within the first message's time limit, so a failed or stalled
  handshake is a refused connection (reason ``tls``) like any other, not a line in asyncio's
  log.
* Application timers: an application that has ``next_deadline()``/``on_timer(now)`` (a
  venue's market-data replay, an algo's slices) is called when its deadline passes.
* Observers (audit log, metrics) see every message in and out and every session event.
* :meth:`Engine.stop` logs every session out and reads the peers' Logouts (each session
  waiting at most its ``logout_timeout``, all at once) before it closes the connections, so
  the replies' sequence numbers are consumed and stored and the next logon has no gap.

The transport owns the clock and the logs; the sessions own every protocol decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import ssl
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO, TypeGuard

from engine.framing import Framer
from fixspec.dictionary import SessionDictionaries, builtin_session, load
from gateway.admin import business_reject
from gateway.application import Application, TimedApplication
from gateway.clock import Clock, WallClock
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, TlsConfig
from gateway.deferred_store import DeferredTargetStore
from gateway.fixmessage import Message
from gateway.msglog import SessionLog, log_line, wire_text
from gateway.session import (
    AppMessage,
    Disconnect,
    GapDetected,
    LoggedOn,
    LoggedOut,
    Output,
    Received,
    RejectSent,
    ResendServed,
    Session,
)
from gateway.session_state import State
from gateway.store import FileStore, MemoryStore, MessageStore

if TYPE_CHECKING:
    from gateway.audit import AuditLog
    from gateway.metrics import GatewayMetrics, RefusedReason

READ_SIZE = 65536
_TRAILER = re.compile(rb"\x0110=\d{3}\x01")
HIGH_WATER = 256 * 1024
APP_TICK = 0.05  # longest an application timer may wait past its deadline
COMMIT_BYTES = 4096  # inbound bytes between two writes of the inbound sequence number
LINGER = 2.0  # seconds a closed session's socket keeps reading for the peer's own close
FIRST_MESSAGE_TIMEOUT = 30.0  # seconds a new connection has to deliver its first message
SCHEDULE_POLL = 60.0  # longest an initiator sleeps while it waits for its schedule
FIRST_MESSAGE_LIMIT = 65536  # bytes a first message may take: a Logon is far smaller
STOP_GRACE = 1.0  # seconds past the longest logout_timeout that stop() waits for the sessions
ACCEPTOR_LOG = "acceptor.event.current.log"  # the engine's event log, beside the sessions'


def dictionaries_for(config: SessionConfig) -> SessionDictionaries:
    """The session's dictionaries: built-in ones, or the files the configuration names."""
    if config.begin_string == "FIXT.1.1":
        app = config.default_appl_ver_id
        base = builtin_session("FIXT.1.1", app)
        transport = base.transport if config.dictionary == "builtin" else load(config.dictionary)
        application = base.app if config.app_dictionary == "builtin" else load(
            config.app_dictionary)
        return SessionDictionaries(transport, application)
    if config.dictionary == "builtin":
        return builtin_session(config.begin_string)
    return SessionDictionaries.single(load(config.dictionary))


def store_for(config: SessionConfig, run_dir: Path) -> MessageStore:
    if config.store.kind == "memory":
        return MemoryStore()
    path = config.store.path or run_dir / "store" / (
        f"{config.begin_string}-{config.sender_comp_id}-{config.target_comp_id}.store")
    return FileStore(path, fsync=config.store.fsync, fsync_interval=config.store.fsync_interval)


def ssl_context(tls: TlsConfig, server: bool) -> ssl.SSLContext:
    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    ctx = ssl.create_default_context(purpose, cafile=str(tls.ca) if tls.ca else None)
    if tls.cert is not None:
        ctx.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    if server:
        ctx.verify_mode = ssl.CERT_REQUIRED if tls.verify_peer and tls.ca else ssl.CERT_NONE
    elif not tls.verify_peer:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class SessionObserver(Protocol):
    """Sees a session's traffic from the edge (audit log, metrics); must not raise or block."""

    def message(self, session: SessionRunner, direction: Literal["in", "out"], raw: bytes,
                now: datetime) -> None:
        """A message went out, or came in (``raw`` as received, valid or not)."""
        ...

    def event(self, session: SessionRunner, event: object, now: datetime) -> None:
        """A session event (:mod:`gateway.session` events, :class:`Connected`)."""
        ...


class Connected:
    """The transport's own event: a connection to the peer was made."""

    def __init__(self, peer: object) -> None:
        self.peer = peer


class WriteBuffer(Protocol):
    def get_write_buffer_size(self) -> int: ...


class Writer(Protocol):
    """Where a session's bytes go: an asyncio stream, or an in-memory link (a backtest)."""

    @property
    def transport(self) -> WriteBuffer: ...

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...


class OutputBatch:
    """Output held while one read's input (or one application timer) is handled, shared by
    every session of an engine: what the handling sends on sockets is logged as it goes,
    and when the outermost batch ends the audit log and the sessions' logs are flushed, the
    ``before_write`` hooks run (the inbound sequence numbers are committed), then each
    session's bytes are written in one call. A burst of input then costs a write
    and a flush per session, not per message, and every message still has its log lines
    flushed before it reaches the socket. In-memory links (backtests) are written at once:
    there are no system calls to save and their delivery order is part of the result."""

    def __init__(self, audit: AuditLog | None = None) -> None:
        self.audit = audit
        self.depth = 0
        self.waiting: dict[SessionRunner, None] = {}  # insertion order: first touched first
        #: run after the logs are flushed, before the bytes are written (inbound commits)
        self.before_write: list[Callable[[], None]] = []

    @property
    def open(self) -> bool:
        return self.depth > 0

    def __enter__(self) -> OutputBatch:
        self.depth += 1
        if self.depth == 1 and self.audit is not None:
            self.audit.hold()
        return self

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth:
            return
        waiting = list(self.waiting)
        try:
            if self.audit is not None:
                self.audit.release()
            self._ready()
        finally:
            # whatever failed above (a full disk), the held bytes go out now and in order:
            # left behind, a later message of the same session would overtake them
            self.waiting.clear()
            for runner in waiting:
                runner.write_pending()

    def write_now(self, runner: SessionRunner) -> None:
        """Out of turn (``runner`` is closing): its held bytes now, after what must come
        before them as at the batch's end."""
        if self.audit is not None:
            self.audit.flush()
        self._ready()
        self.waiting.pop(runner, None)
        runner.write_pending()

    def _ready(self) -> None:
        """What comes before held bytes reach a socket: every waiting session's log lines
        on disk, then the ``before_write`` hooks (each run once)."""
        for runner in self.waiting:
            runner.flush_logs()
        hooks, self.before_write = self.before_write, []
        for hook in hooks:
            hook()


class SessionRunner:
    """One session with its store, logs and (at most one) live connection."""

    def __init__(self, config: SessionConfig, app: Application, clock: Clock,
                 run_dir: Path, max_buffer: int,
                 observers: Sequence[SessionObserver] = (), *, flush_logs: bool = True,
                 batch: OutputBatch | None = None) -> None:
        self.config = config
        self.app = app
        self.clock = clock
        self.max_buffer = max_buffer
        self.observers = tuple(observers)
        # flushed by the runner itself (flush_logs): before output reaches the socket
        self.log = SessionLog(run_dir / "log", config.begin_string, config.sender_comp_id,
                              config.target_comp_id)
        self._flush_logs = flush_logs
        self.batch = batch or OutputBatch()
        self._pending: list[bytes] = []  # bytes held by the batch
        # Inbound numbers are persisted only after the application has seen the messages
        # (see gateway.deferred_store): a crash in between must not lose them.
        self.store = DeferredTargetStore(store_for(config, run_dir))
        self.session = Session(config, self.store, dictionaries_for(config),
                               app_types=app.app_types(config), password=config.password())
        self.writer: Writer | None = None
        self.logged_on_event = asyncio.Event()
        self.disconnected_event = asyncio.Event()
        self._half_closed = False  # our FIN is out (see _close): nothing more to write
        self._owed_task: asyncio.Task[None] | None = None  # writes a resend (_write_owed)
        self._owing = False  # _write_owed's loop for a writer that is not a stream runs
        self._read_timeout: asyncio.Timeout | None = None  # serve()'s read, while it waits

    # -- SessionHandle ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def logged_on(self) -> bool:
        return self.session.logged_on

    def send(self, message: Message) -> None:
        self._handle(self.session.send(message, self.clock.now()))

    def release(self) -> None:
        """Close the message log and the store (and its lock): the runner is done."""
        self.log.close()
        self.session.store.close()

    def logout(self, text: str | None = None) -> None:
        self._handle(self.session.logout(self.clock.now(), text))
        self._deadline_moved()  # the Logout's timeout is sooner than the read waits

    def _deadline_moved(self) -> None:
        """The session's next deadline may be sooner than the one :meth:`serve`'s pending
        read waits for (it was taken before the read): bring that read's timeout forward."""
        read_timeout = self._read_timeout
        deadline = self.session.next_deadline()
        if read_timeout is None or deadline is None or read_timeout.expired():
            return  # an expired one has fired already: serve() runs the timers next
        wait = max(0.0, (deadline - self.clock.now()).total_seconds())
        when = asyncio.get_running_loop().time() + wait
        current = read_timeout.when()
        if current is None or when < current:
            read_timeout.reschedule(when)

    # -- plumbing ---------------------------------------------------------------------------

    def _handle(self, out: Output) -> None:
        """Write the output's bytes, log them, tell the application its events. Inside a
        batch, socket bytes and log flushes wait for its end (:class:`OutputBatch`)."""
        now = self.clock.now()
        writer = self.writer
        held = self.batch.open
        if held:
            self.batch.waiting[self] = None
        # What came in is logged before the replies it caused, then the replies, then the
        # other events (which may make the application send more).
        for event in out.events:
            if isinstance(event, Received):
                for o in self.observers:
                    o.message(self, "in", event.raw, now)
                self._event(event, now)
        for raw in out.data:
            self.log.message(now, raw)
            for o in self.observers:
                o.message(self, "out", raw, now)
            if not self._writable(writer):
                continue
            if held and isinstance(writer, asyncio.StreamWriter):
                self._pending.append(raw)
            else:
                self.flush_logs()
                writer.write(raw)
        for event in out.events:
            if not isinstance(event, Received):
                for o in self.observers:
                    o.event(self, event, now)
                self._event(event, now)
        if not held:
            self.flush_logs()
        self._check_backlog()
        if self.session.owes:
            self._write_owed()

    def _write_owed(self) -> None:
        """The rest of a resend the session is serving: by a task that waits for the peer
        to read each slice (a stream), or at once (an in-memory link, which has no buffer)."""
        writer = self.writer
        if not self._writable(writer):
            return
        if isinstance(writer, asyncio.StreamWriter):
            if self._owed_task is None:
                self._owed_task = asyncio.get_running_loop().create_task(
                    self._stream_owed(writer))
            return
        if self._owing:  # called back from the loop below
            return
        self._owing = True
        try:
            while self.session.owes and self._writable(self.writer):
                self._handle(self.session.send_owed(self.clock.now()))
        finally:
            self._owing = False

    async def _stream_owed(self, writer: asyncio.StreamWriter) -> None:
        try:
            while self.session.owes and self.writer is writer and self._writable(writer):
                await writer.drain()  # the peer has read all but the transport's low water
                if self.writer is not writer:
                    break
                with self.batch:
                    self._handle(self.session.send_owed(self.clock.now()))
                await asyncio.sleep(0)  # drain() does not yield below the high-water mark
        except (ConnectionError, OSError):
            pass  # the connection ended: serve() sees it too
        finally:
            self._owed_task = None

    def flush_logs(self) -> None:
        """Push this session's log lines to the OS (unless the engine keeps them buffered
        until close: a backtest, whose logs are read after the run)."""
        if self._flush_logs:
            self.log.flush()

    def write_pending(self) -> None:
        """Write the bytes the batch held, in one call."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        writer = self.writer
        if self._writable(writer):
            writer.write(data)
            self._check_backlog()

    def _check_backlog(self) -> None:
        writer = self.writer
        if not self._writable(writer):
            return
        # what the session queued behind a resend is unread output too
        if writer.transport.get_write_buffer_size() + self.session.owed_bytes > self.max_buffer:
            self.log.event(self.clock.now(),
                           "slow consumer: output buffer over limit, disconnecting")
            self._pending.clear()
            self._close(graceful=False)  # it does not read: a graceful close would wait on it

    def _event(self, event: object, now: datetime) -> None:
        if isinstance(event, Received):
            self.log.message(now, event.raw)
            if not event.valid:
                self.log.event(now, f"dropped {event.note}")
        elif isinstance(event, AppMessage):
            try:
                self.app.on_message(self, event.message, now)
            except Exception as exc:  # an application bug must not cost the connection
                msg = event.message
                self.log.event(now, f"application error on {msg.msg_type} "
                                    f"{msg.msg_seq_num}: {exc!r}\n{traceback.format_exc()}")
                self.send(business_reject(msg.msg_seq_num, msg.msg_type or "", 0,
                                          "internal error processing the message", msg))
        elif isinstance(event, LoggedOn):
            self.log.event(now, f"logged on (HeartBtInt={event.heartbeat_interval}"
                                f"{', sequence reset' if event.reset else ''})")
            self.logged_on_event.set()
            self.app.on_logon(self, now)
        elif isinstance(event, LoggedOut):
            self.log.event(now, f"logout received {event.text!r}")
        elif isinstance(event, Disconnect):
            self.log.event(now, f"disconnect: {event.reason}")
            self._close()
        elif isinstance(event, RejectSent):
            self.log.event(now, f"reject sent: {event.reject}")
        elif isinstance(event, GapDetected):
            self.log.event(now, f"gap: expected {event.expected}, received {event.received}")
        elif isinstance(event, ResendServed):
            self.log.event(now, f"resend {event.begin}-{event.end}: {event.resent} resent, "
                                f"{event.gap_filled} gap fills")

    def _writable(self, writer: Writer | None) -> TypeGuard[Writer]:
        return writer is not None and not writer.is_closing() and not self._half_closed

    def _close(self, *, graceful: bool = True) -> None:
        """End the connection. Gracefully (a plain TCP stream): send our FIN after what is
        written and let :meth:`serve` read until the peer closes too. A socket closed with
        the peer's bytes unread, or with more arriving (its Logout, crossing ours), makes the
        kernel reset the connection, and a reset can cost the peer our last messages and
        shows as an error where a clean end was due. Otherwise (TLS, an in-memory link, a
        slow consumer, shutdown) close at once."""
        writer = self.writer
        if writer is None or writer.is_closing() or self._half_closed:
            return
        if self._pending:  # what the batch holds goes out before the connection ends
            self.batch.write_now(self)
            if writer.is_closing():  # the write found a slow consumer and closed it
                return
        if graceful and isinstance(writer, asyncio.StreamWriter) and writer.can_write_eof():
            try:
                writer.write_eof()
            except OSError:  # the peer reset it already (ENOTCONN): nothing left to end
                writer.close()
                return
            self._half_closed = True
        else:
            writer.close()

    def open(self, writer: Writer, peer: object) -> None:
        """Start a connection: the session's bytes go to ``writer``. :meth:`serve` pumps an
        asyncio stream; any other caller (an in-memory link) hands it what arrives with
        :meth:`receive` and calls :meth:`on_timer` once :meth:`next_deadline` has passed."""
        now = self.clock.now()
        self.writer = writer
        self.log.event(now, f"connected {peer}")
        for o in self.observers:
            o.event(self, Connected(peer), now)
        self._handle(self.session.connection_made(now))

    def next_deadline(self) -> datetime | None:
        return self.session.next_deadline()

    def on_timer(self) -> None:
        self._handle(self.session.on_timer(self.clock.now()))

    def receive(self, data: bytes) -> None:
        """Hand ``data`` to the session and its messages to the application, then persist the
        inbound number. Slices of COMMIT_BYTES bound what a crash makes the peer resend (and
        the application see twice, as PossDup) to about one slice of messages."""
        for at in range(0, len(data), COMMIT_BYTES):
            with self.batch:
                self._handle(self.session.data_received(data[at:at + COMMIT_BYTES],
                                                        self.clock.now()))
                # committed once the input and its replies are logged, before the replies
                # reach the peer: a peer that has them never resends what caused them (the
                # replies themselves are in the store, resent if a crash comes first)
                self.batch.before_write.append(self.store.commit)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    initial: bytes = b"") -> None:
        """Run the session over one connection until it ends."""
        self.disconnected_event.clear()
        self.logged_on_event.clear()
        was_logged_on = False
        self.open(writer, writer.get_extra_info("peername"))
        try:
            if initial:
                self.receive(initial)
            while self._writable(writer):
                was_logged_on |= self.session.logged_on
                if writer.transport.get_write_buffer_size() > HIGH_WATER:
                    await writer.drain()  # stop reading until the peer reads
                deadline = self.session.next_deadline()
                timeout = None
                if deadline is not None:
                    timeout = max(0.0, (deadline - self.clock.now()).total_seconds())
                try:
                    # asyncio.timeout, unlike wait_for, wraps no task around each read.
                    async with asyncio.timeout(timeout) as self._read_timeout:
                        data = await reader.read(READ_SIZE)
                except TimeoutError:
                    self.on_timer()
                    continue
                finally:
                    self._read_timeout = None
                if not data:
                    break
                self.receive(data)
        except (ConnectionError, OSError) as exc:
            self.log.event(self.clock.now(), f"connection error: {exc}")
        finally:
            self._handle(self.session.connection_lost(self.clock.now()))
            if self._owed_task is not None:  # blocked on a peer that is gone
                self._owed_task.cancel()
            self.writer = None
            half_closed, self._half_closed = self._half_closed, False
            if was_logged_on or self.session.logged_on:
                self.app.on_logout(self, self.clock.now())
            self.disconnected_event.set()
            # The session is over (a new connection may log on now); the socket ends cleanly.
            try:
                if half_closed and not writer.is_closing():
                    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                        async with asyncio.timeout(LINGER):
                            while await reader.read(READ_SIZE):
                                pass  # what the peer sent after our last message: not acted on
            finally:  # cancelled in the linger read (a stop), the socket still closes
                with contextlib.suppress(Exception):
                    writer.close()
                    await writer.wait_closed()


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
        self._file: TextIO | None = None
        self._closed = False
        self.errors = 0

    def event(self, now: datetime, text: str) -> None:
        if self._closed:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8", newline="\n")
            self._file.write(log_line(now, text))
            self._file.flush()
        except OSError as exc:  # a full disk must not cost the acceptor its next connection
            self.errors += 1
            if self.errors == 1:
                print(f"gateway: {self.path}: cannot write: {exc}", file=sys.stderr)

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


class Engine:
    """Every session of a configuration, the acceptor port, and the initiators' connections."""

    def __init__(self, config: GatewayConfig, app: Application, *, clock: Clock | None = None,
                 run_dir: Path = Path("logs/run"), rng: random.Random | None = None,
                 observers: Sequence[SessionObserver] = (), audit: AuditLog | None = None,
                 metrics: GatewayMetrics | None = None, flush_logs: bool = True) -> None:
        self.config = config
        self.app = app
        self.audit = audit  # applications log order and algo events here (see bind)
        self.metrics = metrics
        observers = [*observers, *(o for o in (audit, metrics) if o is not None)]
        self.clock = clock or WallClock()
        self.rng = rng or random.Random()
        acceptor = config.acceptor or AcceptorConfig()
        self.batch = OutputBatch(audit)
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

    async def start(self) -> None:
        acceptor = self.config.acceptor
        if acceptor is not None and self.config.listens:
            self._tls = ssl_context(acceptor.tls, server=True) if acceptor.tls else None
            self._server = await asyncio.start_server(
                self._accept, acceptor.host, acceptor.port, limit=READ_SIZE)
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

    async def stop(self) -> None:
        """Stop serving (``gateway run`` calls this on SIGTERM and SIGINT), then :meth:`close`.

        No new connection is accepted. Every logged-on session sends Logout and the engine
        waits for the peers' Logouts, for all sessions at once and each at most its
        ``logout_timeout`` (the session ends its connection on the reply, or at that timeout
        with ``no Logout reply in time`` in its event log): the reply's MsgSeqNum is consumed
        and committed like any input, so the next logon without a reset has no gap. A session
        connected but not logged on is disconnected at once. What is still connected after
        that (STOP_GRACE past the longest logout_timeout) is closed."""
        self._stopping = True
        if self._server is not None:
            self._server.close()  # no new connections while the sessions log out
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
        self.event_log.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # stop() lets it finish: cut off, it reports its cancellation
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        buf, key, reason, detail = await self._first_message(reader, writer)
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
        delay = min(rc.max_delay, rc.initial_delay * rc.multiplier ** (attempt - 1))
        return max(0.0, delay * (1 + self.rng.uniform(-rc.jitter, rc.jitter)))

    async def _initiate(self, runner: SessionRunner) -> None:
        config = runner.config
        attempt = 0
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
                tls = ssl_context(config.tls, server=False) if config.tls else None
                reader, writer = await asyncio.open_connection(
                    config.host, config.port, ssl=tls, limit=READ_SIZE)
            except OSError as exc:
                runner.log.event(self.clock.now(), f"connect failed: {exc}")
                continue
            if self._stopping:
                writer.close()
                break
            try:
                await runner.serve(reader, writer)
            except Exception as exc:  # whatever ended this connection, the next one is tried
                runner.log.event(self.clock.now(), f"connection failed: {exc!r}\n"
                                                   f"{traceback.format_exc()}")
            if runner.logged_on_event.is_set():
                attempt = 1  # logged on this time: start the backoff over

    def backoff_schedule(self, config: SessionConfig, attempts: int) -> list[float]:
        """The delays the first ``attempts`` connection attempts would wait (for tests)."""
        return [self._backoff(i, config) for i in range(attempts)]
