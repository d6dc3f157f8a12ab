"""One FIX session over one connection at a time: :class:`SessionRunner` pumps bytes
between a writer (an asyncio stream, or an in-memory link) and its sans-IO
:class:`~gateway.session.Session`, with the session's store, message logs and observers.

* Output order: what one read's input causes is logged, then committed (the inbound
  sequence number, see :mod:`gateway.deferred_store`), then written to each socket in one
  call (:class:`OutputBatch`, shared by every session of an engine).
* Backpressure: a connection's reads stop while its unsent output is above the high-water
  mark, so a peer that does not read cannot make us buffer replies without bound; one whose
  output still exceeds ``max_buffer`` is disconnected as a slow consumer. The framer bounds
  what an incomplete inbound message may occupy.
* Resends: a ResendRequest is written a slice at a time (:meth:`Session.send_owed`) as the
  peer reads, by a task of its own, while the connection's input is still read and other
  sessions are served. A resend of the whole day neither stalls the loop nor counts as
  unread output; what the session sends behind it does.
* Observers (audit log, metrics) see every message in and out and every session event.
* Deferred fsyncs: an ``fsync: interval`` file store leaves records written within the
  interval of its last fsync for later; an event-loop timer (:meth:`SessionRunner._arm_sync`)
  fsyncs them when the oldest falls due, connected or not, however quiet the session is.

The runner owns the logs; the session owns every protocol decision. Accepting and making
connections is :mod:`gateway.transport`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeGuard

from fixspec.dictionary import (
    DataDictionary,
    DictionaryError,
    SessionDictionaries,
    builtin_session,
    load,
    load_builtin,
)
from gateway.admin import business_reject
from gateway.application import Application
from gateway.clock import Clock
from gateway.config import SessionConfig
from gateway.deferred_store import DeferredTargetStore
from gateway.fixmessage import Field, Message
from gateway.msglog import SessionLog
from gateway.session import (
    AppMessage,
    Disconnect,
    GapDetected,
    LoggedOn,
    LoggedOut,
    Output,
    Received,
    RejectReceived,
    RejectSent,
    ResendServed,
    Session,
)
from gateway.store import FileStore, MemoryStore, MessageStore, StoreError
from gateway.store_batch import StoreBatch

if TYPE_CHECKING:
    from gateway.audit import AuditLog

READ_SIZE = 65536
HIGH_WATER = 256 * 1024
COMMIT_BYTES = 4096  # inbound bytes between two writes of the inbound sequence number
LINGER = 2.0  # seconds a closed session's socket keeps reading for the peer's own close


def dictionaries_for(config: SessionConfig) -> SessionDictionaries:
    """The session's dictionaries: built-in ones, or the files the configuration names,
    each of the version the session speaks (else DictionaryError: a FIX 4.2 file on a FIX
    4.4 session judged its messages by 4.2's rules, and a FIXT file dropped every Logon)."""
    if config.begin_string == "FIXT.1.1":
        app = config.default_appl_ver_id
        if config.dictionary == config.app_dictionary == "builtin":
            return builtin_session("FIXT.1.1", app)
        # (a version without a built-in dictionary, FIX.5.0 or 5.0SP1, names its file: the
        # configuration refuses it otherwise)
        transport = (load_builtin("FIXT.1.1") if config.dictionary == "builtin"
                     else _of_version(load(config.dictionary), "FIXT.1.1", "dictionary",
                                      config))
        # (of the version's family: a FIX.5.0SP2 file serves a FIX.5.0SP1 session)
        application = (load_builtin(app) if config.app_dictionary == "builtin"
                       else _of_version(load(config.app_dictionary), app.partition("SP")[0],
                                        "app_dictionary", config))
        return SessionDictionaries(transport, application)
    if config.dictionary == "builtin":
        return builtin_session(config.begin_string)
    return SessionDictionaries.single(
        _of_version(load(config.dictionary), config.begin_string, "dictionary", config))


def _of_version(dd: DataDictionary, version: str, key: str,
                config: SessionConfig) -> DataDictionary:
    """``dd`` if it is of ``version`` (a service pack aside when ``version`` names none)."""
    if dd.version != version and dd.version.partition("SP")[0] != version:
        raise DictionaryError(dd.source, None, f"a {dd.version} dictionary, which session "
                              f"{config.name} cannot use as its {key} ({version} is needed)")
    return dd


def store_path(config: SessionConfig, run_dir: Path) -> Path | None:
    """Where the session's file store is (None: it keeps a memory store)."""
    if config.store.kind == "memory":
        return None
    return config.store.path or run_dir / "store" / (
        f"{config.begin_string}-{config.sender_comp_id}-{config.target_comp_id}.store")


def store_for(config: SessionConfig, run_dir: Path,
              batch: StoreBatch | None = None) -> MessageStore:
    path = store_path(config, run_dir)
    if path is None:
        return MemoryStore()
    return FileStore(path, fsync=config.store.fsync, fsync_interval=config.store.fsync_interval,
                     batch=batch)


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
    ``before_write`` hooks run (the inbound sequence numbers are committed), the file stores
    write their records (``stores``, :mod:`gateway.store_batch`: journaled first when
    several stores wrote, so a process that dies between two of them loses neither), then
    each session's bytes are written in one call. A burst of input then costs a write and a
    flush per session and store, not per message, and every message still has its log lines
    flushed and its record written before it reaches the socket. In-memory links
    (backtests) are written at once, their stores' records first: there are no system calls
    to save and their delivery order is part of the result."""

    def __init__(self, audit: AuditLog | None = None, stores: StoreBatch | None = None) -> None:
        self.audit = audit
        self.stores = stores or StoreBatch()
        self.depth = 0
        self.waiting: dict[SessionRunner, None] = {}  # insertion order: first touched first
        #: run after the logs are flushed, before the bytes are written (inbound commits)
        self.before_write: list[Callable[[], None]] = []

    @property
    def open(self) -> bool:
        return self.depth > 0

    def __enter__(self) -> OutputBatch:
        self.depth += 1
        if self.depth == 1:
            self.stores.open = True
            if self.audit is not None:
                self.audit.hold()
        return self

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth:
            return
        self.stores.open = False
        waiting = list(self.waiting)
        try:
            self._ready()
        finally:
            # What came in is logged before it is committed (as QuickFIX's next() logs a
            # message before processing it); what goes out is stored before it is logged and
            # sent (DESIGN.md's persist, then transmit, with the log on the transmit side).
            # A crash between the two leaves a stored message without its log line (a
            # restart resends it), never a log line of a message that was not stored and
            # whose number a restart uses again.
            self.stores.write()
            try:
                if self.audit is not None:
                    self.audit.release()
            finally:
                # whatever failed above (a full disk), the stored messages go out now and
                # in order: left behind, a later message of the session would overtake them
                self.waiting.clear()
                self._send(waiting)

    def write_now(self, runner: SessionRunner) -> None:
        """Out of turn (``runner`` is closing): its held bytes now, after what must come
        before them as at the batch's end."""
        self._ready()
        self.stores.write()
        if self.audit is not None:
            self.audit.flush()
        self.waiting.pop(runner, None)
        self._send([runner])

    def _send(self, runners: list[SessionRunner]) -> None:
        """The runners' held bytes (their stores have written their records); a session
        whose store could not (now, or at an earlier write of this batch) loses its
        connection instead (:meth:`SessionRunner.store_failed`), while the others go on."""
        for runner in runners:
            failure = runner.store.inner.failure
            if failure is None:
                runner.write_pending()
            else:
                runner.store_failed(failure)

    def _ready(self) -> None:
        """What comes before the batch's records are written: every waiting session's log
        lines on disk (what came in: the lines of what goes out wait for the store, see
        :meth:`SessionRunner.write_pending`), then the ``before_write`` hooks (each run
        once: the inbound commits, which join the batch's records)."""
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
        #: time.perf_counter() of the last read from the peer (0: none yet)
        self.read_at = 0.0
        self._pending: list[bytes] = []  # bytes held by the batch
        # the held messages' log lines, written once the batch has stored them
        self._pending_lines: list[tuple[datetime, bytes]] = []
        # Inbound numbers are persisted only after the application has seen the messages
        # (see gateway.deferred_store): a crash in between must not lose them.
        self.store = DeferredTargetStore(store_for(config, run_dir, self.batch.stores))
        for repair in getattr(self.store.inner, "repairs", ()):  # said, not silent
            self.log.event(clock.now(), f"store {store_path(config, run_dir)}: {repair}")
        # an "interval" file store defers fsyncs: a loop timer runs each when due (_arm_sync)
        self._defers_sync = config.store.kind == "file" and config.store.fsync == "interval"
        self._sync_timer: asyncio.TimerHandle | None = None
        self.session = Session(config, self.store, dictionaries_for(config),
                               app_types=app.app_types(config), password=config.password())
        self.writer: Writer | None = None
        self.logged_on_event = asyncio.Event()
        self.disconnected_event = asyncio.Event()
        self.last_disconnect: str | None = None  # why the session last ended (its event log's)
        self._half_closed = False  # our FIN is out (see _close): nothing more to write
        self._owed_task: asyncio.Task[None] | None = None  # writes a resend (_write_owed)
        self._owing = False  # _write_owed's loop for a writer that is not a stream runs
        # one string for the session's life: every order the venue keeps holds its owner's
        # (the config's property makes a new one each call: 70 bytes an order, all day)
        self._name = config.name
        #: the application failed on this connection's Logon: it gets none of its messages
        self._refused_at_logon = False
        self._read_timeout: asyncio.Timeout | None = None  # serve()'s reads, while they wait

    # -- SessionHandle ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def logged_on(self) -> bool:
        return self.session.logged_on

    def send(self, message: Message) -> None:
        self._handle(self.session.send(message, self.clock.now()))

    def send_fields(self, msg_type: str, fields: Sequence[Field]) -> None:
        self._handle(self.session.send_fields(msg_type, fields, self.clock.now()))

    def release(self) -> None:
        """Close the message log and the store (and its lock): the runner is done. Closing
        the store fsyncs what its deferred fsync was still waiting for."""
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        self.log.close()
        self.session.store.close()

    def logout(self, text: str | None = None) -> None:
        self._handle(self.session.logout(self.clock.now(), text))
        self._deadline_moved()  # the Logout's timeout is sooner than the read waits

    def _deadline_moved(self) -> None:
        """The session's next deadline may be sooner than the one :meth:`serve`'s reads
        wait for (it was taken before them): bring their timeout forward."""
        read_timeout = self._read_timeout
        if read_timeout is None or read_timeout.expired():
            return  # an expired one has fired already: serve() runs the timers next
        deadline = self.session.next_deadline()
        if deadline is None:
            if not self._writable(self.writer):
                # the session ended the connection from outside serve() (a stop while our
                # Logon was unanswered): its read waited for the logon deadline, gone now
                read_timeout.reschedule(asyncio.get_running_loop().time())
            return
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
            for o in self.observers:
                o.message(self, "out", raw, now)
            writable = self._writable(writer)
            if held and (not writable or isinstance(writer, asyncio.StreamWriter)):
                # logged once the batch has stored it, as it is written (write_pending)
                self._pending_lines.append((now, raw))
                if writable:
                    self._pending.append(raw)
                continue
            if held:  # stored before it is logged and written, as at the batch's end
                self.batch.stores.write()
                if self.store.inner.failure is not None:
                    raise StoreError(f"not sent: {self.store.inner.failure}")
            self.log.message(now, raw)
            if self._writable(writer):  # (a TypeGuard: writable, said again for the checker)
                self.flush_logs()
                writer.write(raw)
        for event in out.events:
            if not isinstance(event, Received):
                # (a message the application will not get is not one for the metrics either)
                if not (self._refused_at_logon and isinstance(event, AppMessage)):
                    for o in self.observers:
                        o.event(self, event, now)
                self._event(event, now)
        if not held:
            self.flush_logs()
        self._arm_sync()  # the output's messages may be waiting for an fsync
        self._check_backlog()
        if self.session.owes:
            self._write_owed()

    def _arm_sync(self) -> None:
        """Have the event loop call the store's ``sync_if_due`` when its oldest record
        waiting for an fsync falls due, so records written just before a quiet spell are
        fsynced within the interval (the store alone fsyncs only at a later write). A loop
        timer rather than :meth:`serve`'s read timeout: the store is also written while no
        connection is served (a venue's reports for a logged-out client) and by other
        sessions' input or the application's timers while the read waits. Without a running
        loop (a synchronous driver) nothing is armed: the next write or :meth:`release`
        fsyncs."""
        if not self._defers_sync or self._sync_timer is not None:
            return  # no fsync deferred, or one is armed already
        wait = self.store.next_sync()
        if wait is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sync_timer = loop.call_later(wait, self._sync_store)

    def _sync_store(self) -> None:
        """The store's deferred fsync fell due (:meth:`_arm_sync`)."""
        self._sync_timer = None
        try:
            self.store.sync_if_due()
        except OSError as exc:
            # not retried at once (it would spin): the next write's fsync tries again
            self.log.event(self.clock.now(), f"store fsync failed: {exc}")
            return
        self._arm_sync()  # the timer fired a little early, or more records wait already

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

    def store_failed(self, error: BaseException) -> None:
        """The store could not write a batch's records (a full disk) and is closed for
        good: the bytes the batch held were never persisted, so they are dropped, not
        sent (nor logged), and the connection ends; the event log says why."""
        self._pending.clear()
        self._pending_lines.clear()
        if self._writable(self.writer):
            self.log.event(self.clock.now(), f"store write failed, its messages not sent, "
                                             f"disconnecting: {error}")
            self._close(graceful=False)

    def write_pending(self) -> None:
        """Log the messages the batch held, then write their bytes in one call (their
        records are written: the store's deferred fsync, if any, is armed first)."""
        self._arm_sync()
        lines, self._pending_lines = self._pending_lines, []
        for now, raw in lines:
            self.log.message(now, raw)
        if lines:
            self.flush_logs()
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
            if self._refused_at_logon:  # logging out: the application has not the session
                self.log.event(now, f"not processed: {event.message.msg_type} "
                                    f"{event.message.msg_seq_num} (application error at logon)")
                return
            try:
                self.app.on_message(self, event.message, now)
            except Exception as exc:  # an application bug must not cost the connection
                msg = event.message
                self._app_error(now, f"{msg.msg_type} {msg.msg_seq_num}", exc)
                if msg.msg_type != "j":  # never a reject for a reject (Session._on_app)
                    self.send(business_reject(msg.msg_seq_num, msg.msg_type or "", 0,
                                              "internal error processing the message", msg))
        elif isinstance(event, LoggedOn):
            self.log.event(now, f"logged on (HeartBtInt={event.heartbeat_interval}"
                                f"{', sequence reset' if event.reset else ''})")
            self.logged_on_event.set()
            try:
                self.app.on_logon(self, now)
            except Exception as exc:  # the application has not taken the session: end it
                self._app_error(now, "logon", exc)
                self._refused_at_logon = True
                self.logout("application error at logon")
        elif isinstance(event, LoggedOut):
            self.log.event(now, f"logout received {event.text!r}")
        elif isinstance(event, Disconnect):
            self.log.event(now, f"disconnect: {event.reason}")
            self.last_disconnect = event.reason
            self._close()
        elif isinstance(event, RejectSent):
            self.log.event(now, f"reject sent: {event.reject}")
        elif isinstance(event, RejectReceived):
            on_reject = getattr(self.app, "on_reject", None)
            if on_reject is not None:
                try:
                    on_reject(self, event.message, now)
                except Exception as exc:  # an application bug must not cost the connection
                    self._app_error(now, "a Reject", exc)
        elif isinstance(event, GapDetected):
            self.log.event(now, f"gap: expected {event.expected}, received {event.received}")
        elif isinstance(event, ResendServed):
            self.log.event(now, f"resend {event.begin}-{event.end}: {event.resent} resent, "
                                f"{event.gap_filled} gap-filled")

    def _app_error(self, now: datetime, what: str, exc: Exception) -> None:
        """An application that raised handling ``what``: in the event log, with where."""
        self.log.event(now, f"application error on {what}: {exc!r}\n{traceback.format_exc()}")

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
        self._refused_at_logon = False
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
        self.read_at = time.perf_counter()  # when ``data`` was read (market data's latency)
        for at in range(0, len(data), COMMIT_BYTES):
            with self.batch:
                self._handle(self.session.data_received(data[at:at + COMMIT_BYTES],
                                                        self.clock.now()))
                # committed once the input and its replies are logged, before the replies
                # reach the peer: a peer that has them never resends what caused them (the
                # replies themselves are in the store, resent if a crash comes first)
                self.batch.before_write.append(self._commit)

    def _commit(self) -> None:
        """Persist the inbound number (a batch's ``before_write`` hook); its record may
        wait for a deferred fsync like any other."""
        self.store.commit()
        self._arm_sync()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    initial: bytes = b"") -> None:
        """Run the session over one connection until it ends."""
        failure = self.store.inner.failure
        if failure is not None:  # nothing can be stored, so nothing may be sent
            self.log.event(self.clock.now(), f"connection refused until a restart: the "
                                             f"store failed: {failure}")
            writer.close()
            return
        self.disconnected_event.clear()
        self.logged_on_event.clear()
        was_logged_on = False
        self.open(writer, writer.get_extra_info("peername"))
        try:
            if initial:
                self.receive(initial)
            ended = False
            while self._writable(writer) and not ended:
                deadline = self.session.next_deadline()
                timeout = None
                if deadline is not None:
                    timeout = max(0.0, (deadline - self.clock.now()).total_seconds())
                try:
                    # One timeout for the reads until the session's next deadline, not one a
                    # read (a timer scheduled and cancelled per message): input moves the
                    # deadline later, mostly, and then the timeout fires early, finds
                    # nothing due and is taken again; one that moves it sooner brings the
                    # timeout forward (_deadline_moved).
                    async with asyncio.timeout(timeout) as self._read_timeout:
                        while self._writable(writer):
                            was_logged_on |= self.session.logged_on
                            if writer.transport.get_write_buffer_size() > HIGH_WATER:
                                await writer.drain()  # stop reading until the peer reads
                            data = await reader.read(READ_SIZE)
                            if not data:
                                ended = True
                                break
                            self.receive(data)
                            self._deadline_moved()
                except TimeoutError:
                    self.on_timer()
                finally:
                    self._read_timeout = None
        except (ConnectionError, OSError) as exc:
            self.log.event(self.clock.now(), f"connection error: {exc}")
        finally:
            half_closed = False  # (a failure below skips the linger read: closed at once)
            try:
                # What the end makes the application send (the venue's cancels, the trades
                # its algos make then) is one batch, its stores journaled as an input's
                # would be.
                with self.batch:
                    self._handle(self.session.connection_lost(self.clock.now()))
                    if self._owed_task is not None:  # blocked on a peer that is gone
                        self._owed_task.cancel()
                    self.writer = None
                    half_closed, self._half_closed = self._half_closed, False
                    if was_logged_on or self.session.logged_on:
                        try:
                            self.app.on_logout(self, self.clock.now())
                        except Exception as exc:  # an application bug, logged as any is
                            self._app_error(self.clock.now(), "logout", exc)
            finally:
                # Whatever failed above, the session is over (a new connection may log on
                # now); the socket ends cleanly.
                self.writer = None
                self._half_closed = False
                self.disconnected_event.set()
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
