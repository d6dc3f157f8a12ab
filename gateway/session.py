"""The FIX session layer, sans-IO: bytes and ``now`` in, events and bytes to send out.

A :class:`Session` does no I/O and reads no clock (DESIGN.md conventions 1, 2, 11). The
transport (or a test, or a replay) calls :meth:`Session.connection_made`,
:meth:`Session.data_received`, :meth:`Session.on_timer`, :meth:`Session.send` and
:meth:`Session.connection_lost`; each returns an :class:`Output` with the bytes to write, in
order, and the events for the application and the logs. When ``Output.disconnect`` is set the
transport writes the bytes and closes the connection.

Behaviour follows the FIX session protocol as QuickFIX implements it, so counterparties and
conformance suites written against QuickFIX see the same messages:

* Inbound checks, in order: framing (garbled messages are dropped without consuming a
  sequence number; a garbled Logon disconnects); BeginString (before logon: disconnect; after:
  Logout ``Incorrect BeginString`` and disconnect); first message must be a Logon; structure
  and dictionary validation (Reject 3 with SessionRejectReason, RefTagID, RefMsgType,
  RefSeqNum); SendingTime within the tolerance (Reject 10 and Logout); CompIDs (Reject 9 and
  Logout); PossDup needs OrigSendingTime (Reject 1) not later than SendingTime (Reject 10 and
  Logout); MsgSeqNum too high (ResendRequest, the message is queued and processed in order once
  the gap is filled); too low without PossDup (Logout ``MsgSeqNum too low, expecting X but
  received Y`` and disconnect), with PossDup (ignored).
* A Reject consumes the offending message's number only when it was the expected one (not for
  Logon or SequenceReset). Outbound, every message takes the next number, is persisted in the
  store, then handed to the transport; application messages sent while not logged on are
  persisted but not transmitted, and reach the peer through its ResendRequest.
* Heartbeat after ``HeartBtInt`` of silence; TestRequest (TestReqID ``TEST``) after 1.2 x
  HeartBtInt with nothing received, no Heartbeats while it is pending, and disconnect at
  2.4 x HeartBtInt without any message.
* A ResendRequest is answered :attr:`Session.resend_slice` messages (and about
  :attr:`Session.resend_slice_bytes`) at a time: the first slice in the Output of the
  request, the rest from :meth:`Session.send_owed`, called by the transport as the peer reads
  (:attr:`Session.owes` says whether more is owed). What it sends meanwhile is numbered and
  stored at once but queued behind the resend, so the wire keeps sequence order. A
  ResendRequest that comes while one is being served restarts it over the union of both
  ranges (a message the peer already has comes again as a PossDup, which it ignores); what
  was queued behind it, never written, is written after it as it is. A disconnect drops the
  rest of the resend (it is in the store for the next logon's) but still writes the messages
  queued behind it, such as a Logout.
"""

from __future__ import annotations

import contextlib
import heapq
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from engine.framing import Frame, Framer, FrameStatus
from fixspec.dictionary import SessionDictionaries, as_session
from fixspec.fieldtypes import MAX_SEQNUM, TimePrecision, format_utc_timestamp
from fixspec.reject import Reject, RemoteProtocolError
from fixspec.reject import SessionRejectReason as R
from fixspec.validate import ValidationOptions, check_comp_ids, check_sending_time, validate
from gateway import admin
from gateway.codec import decode, encode, encode_flat, own_data_fields
from gateway.config import APPL_VER_IDS, SessionConfig
from gateway.fixmessage import MSG_SEQ_NUM, Field, Message, to_bytes
from gateway.msglog import wire_text
from gateway.resend import (
    ADMIN_MSG_TYPES,
    GapFill,
    Resend,
    Unplanned,
    plan_resend,
    possdup_copy,
    request_range,
)
from gateway.session_state import State, Trigger, next_state
from gateway.store import MessageStore

ORIG_SENDING_TIME, POSS_DUP_FLAG, SENDING_TIME = 122, 43, 52
PRECISIONS = {"s": TimePrecision.SECONDS, "ms": TimePrecision.MILLIS,
              "us": TimePrecision.MICROS, "ns": TimePrecision.NANOS}
TEST_REQUEST_FACTOR = 1.2  # TestRequest after this many HeartBtInts without input
TIMEOUT_FACTOR = 2.4  # disconnect after this many
#: Messages of a resend made per call: the transport asks for the next slice once the peer
#: has read the last one, and serves other sessions in between (about 4 ms of work a slice).
RESEND_SLICE = 500
#: ... and at most about this many bytes (a slice ends after the message that reaches it):
#: well under the transport's slow-consumer limit (1 MiB by default), whatever the messages'
#: size, so a resend of large messages is written as the peer reads, like any other
RESEND_SLICE_BYTES = 256 * 1024
#: the longest HeartBtInt (108) a Logon may ask for, in seconds (a day); beyond it, or
#: negative, the peer is logged out: the timers could not be computed
MAX_HEART_BT_INT = 86_400
_JUST_AFTER = timedelta(microseconds=1)  # a schedule's end is inclusive


# -- events ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoggedOn:
    heartbeat_interval: int
    reset: bool


@dataclass(frozen=True, slots=True)
class LoggedOut:
    text: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The session ends the connection; the transport closes it after writing the output."""

    reason: str


@dataclass(frozen=True, slots=True)
class AppMessage:
    """An application message, in sequence, validated: for the router."""

    message: Message


@dataclass(frozen=True, slots=True)
class Received:
    """Every complete frame received, valid or not (for the message log and metrics)."""

    raw: bytes
    valid: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class RejectSent:
    reject: Reject


@dataclass(frozen=True, slots=True)
class RejectReceived:
    message: Message


@dataclass(frozen=True, slots=True)
class GapDetected:
    expected: int
    received: int


@dataclass(frozen=True, slots=True)
class ResendServed:
    """What went out for a ResendRequest (its range as asked, or as merged with a resend
    it took over), once all of it is written or another ResendRequest takes it over."""

    begin: int
    end: int
    resent: int  # messages resent (PossDup copies)
    gap_filled: int  # messages the SequenceReset-GapFills sent stand for


Event = (LoggedOn | LoggedOut | Disconnect | AppMessage | Received | RejectSent
         | RejectReceived | GapDetected | ResendServed)


@dataclass
class Output:
    """What one call produced: ``data`` to write in order, ``events`` in order."""

    data: list[bytes] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def disconnect(self) -> bool:
        return any(isinstance(e, Disconnect) for e in self.events)

    def app_messages(self) -> list[Message]:
        return [e.message for e in self.events if isinstance(e, AppMessage)]


_APPL_VER_ID = 1128  # ApplVerID, in a FIXT application message's header


class _Stop(Exception):
    """Internal: processing of the current message ends here (disconnect or logout)."""


class Session:
    """One FIX session between our ``sender_comp_id`` and the peer's ``target_comp_id``.

    ``app_types`` lists the application MsgTypes the application handles; others are answered
    with BusinessMessageReject 380=3 ``Unsupported Message Type``. None accepts every type.
    """

    def __init__(
        self,
        config: SessionConfig,
        store: MessageStore,
        dictionaries: SessionDictionaries,
        *,
        app_types: Iterable[str] | None = None,
        password: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.dd = as_session(dictionaries)
        # read by length, SOH and all: the dictionaries' user-defined DATA fields too
        self._data_fields = own_data_fields(self.dd)
        # one framer for the single messages a resend reads back (_fields_of), not one a
        # message: each owns C arrays
        self._message_framer = Framer(message_capacity=2, field_capacity=1024,
                                      data_fields=self._data_fields)
        self.app_types = frozenset(app_types) if app_types is not None else None
        self._password = password
        v = config.validation
        self.options = ValidationOptions(
            check_fields_out_of_order=v.check_fields_out_of_order,
            check_fields_have_values=v.check_fields_have_values,
            check_user_defined_fields=v.check_user_defined_fields,
            allow_unknown_message_fields=v.allow_unknown_message_fields,
        )
        self.precision = PRECISIONS[config.timestamp_precision]
        #: FIXT: the ApplVerID of the one application version the session has a dictionary
        #: for (its DefaultApplVerID); None on FIX 4.x
        self._appl_ver_id = (APPL_VER_IDS[config.default_appl_ver_id]
                             if config.begin_string == "FIXT.1.1" else None)
        self._appl_ver_id_bytes = to_bytes(self._appl_ver_id or "")
        #: BeginString and the CompIDs, as :meth:`_stamp` puts them on every message
        self._ids = ((8, to_bytes(config.begin_string)), (49, to_bytes(config.sender_comp_id)),
                     (56, to_bytes(config.target_comp_id)))
        #: the same header as :meth:`send_fields` writes it around MsgSeqNum and SendingTime
        self._head = (b"\x0149=%s\x0152=" % self._ids[1][1], b"\x0156=%s\x01" % self._ids[2][1])
        self.tolerance = timedelta(seconds=config.sending_time_tolerance)
        self.state = State.DISCONNECTED
        self.heartbeat_interval = config.heartbeat_interval
        # next_deadline's answer while _deadline_known (see there)
        self._deadline: datetime | None = None
        self._deadline_known = False
        self.resend_slice = RESEND_SLICE  # messages of a resend per Output
        self.resend_slice_bytes = RESEND_SLICE_BYTES  # and about this many bytes
        #: what the store keeps across a sequence reset (see MessageStore.reset), asked for
        #: just before each reset; set by an application that needs it (the venue)
        self.carry: Callable[[], Sequence[bytes]] | None = None
        self._reset_connection_data()

    def _reset_store(self, now: datetime) -> None:
        """Every sequence reset (ResetSeqNumFlag, Reset-On options, a new schedule period)
        goes through here, so what :attr:`carry` names survives all of them."""
        carry = self.carry
        self.store.reset(now, carry() if carry is not None else ())
        # what was held or asked for under the old numbers means nothing under the new ones
        self._forget_gap()

    def _forget_gap(self) -> None:
        """Drop what is held behind a gap and the ResendRequest outstanding for it."""
        self.resend_range: tuple[int, int] | None = None
        self.resend_target = 0  # highest number seen while a resend is outstanding
        self.queue: dict[int, Message] = {}
        # the queued numbers, smallest first (it may still hold ones already taken out of the
        # queue): lets the drain drop what a SequenceReset passed over without a scan
        self._queued: list[int] = []

    def _reset_connection_data(self) -> None:
        # a counterparty's stream is read as QuickFIX reads it: BodyLength is trusted, so a
        # message whose BodyLength is too long swallows the next one (both are dropped)
        self.framer = Framer(trust_body_length=True, data_fields=self._data_fields)
        self.connected_at: datetime | None = None
        self._was_logged_on = False  # on this connection (see _on_frame)
        self._sent_reset = False  # our Logon on this connection asked for a sequence reset
        # we confirmed a reset the peer's Logon reply made (see _on_logon): a reset Logon
        # that comes next answers our confirm, and is not answered in turn
        self._reset_answer_due = False
        self._period_end: datetime | None = None
        self.last_sent: datetime | None = None
        self.last_received: datetime | None = None
        self.test_request_sent_at: datetime | None = None
        self.logout_sent_at: datetime | None = None
        self._forget_gap()
        # a resend being served (its steps, then the messages sent behind it, as number and
        # bytes), in sequence order: see send_owed
        self._owed: deque[Resend | GapFill | Unplanned | tuple[int, bytes]] = deque()
        self._owed_bytes = 0  # the messages' bytes, part of the peer's unread output
        self._resending: _Resending | None = None  # what ResendServed tells once it is done
        self._resend_asked = False  # a ResendRequest in the read being processed

    @property
    def logged_on(self) -> bool:
        return self.state is State.ACTIVE

    @property
    def name(self) -> str:
        return self.config.name

    def _go(self, trigger: Trigger) -> None:
        self.state = next_state(self.state, trigger)

    # -- transport events -----------------------------------------------------------------

    def connection_made(self, now: datetime) -> Output:
        """A transport is up. An initiator sends its Logon; an acceptor waits for one."""
        self._deadline_known = False
        out = Output()
        self._reset_connection_data()
        self.connected_at = now
        self._maybe_new_schedule_period(now)
        if self.config.role == "acceptor":
            self._go(Trigger.ACCEPTED)
            return out
        # past the last number a message can carry (see _advance), only a reset goes on
        reset = self._sent_reset = (self.config.reset_on_logon
                                    or self.store.next_target_seq > MAX_SEQNUM)
        if reset:
            self._reset_store(now)
        self.heartbeat_interval = self.config.heartbeat_interval
        self._send_admin(out, now, self._logon_message(reset))
        self._go(Trigger.CONNECTED)
        return out

    def connection_lost(self, now: datetime) -> Output:
        self._deadline_known = False
        out = Output()
        if self.state is not State.DISCONNECTED:
            self._disconnect(out, now, "connection lost")
        return out

    def data_received(self, data: bytes, now: datetime) -> Output:
        """Bytes from the peer: frame them and process every complete message."""
        self._deadline_known = False
        out = Output()
        if self.state is State.DISCONNECTED:
            return out
        ended = self._past_period_end(now)
        if ended and self.state is State.ACTIVE:
            with contextlib.suppress(_Stop):
                self._timers(now, out)  # the Logout
        self.framer.feed(data)
        for batch in self.framer.batches():
            for frame in batch:
                if ended and frame.msg_type != b"5":
                    # the session is over: logged, not acted on; only a Logout (ours may
                    # have crossed the peer's) ends it
                    out.events.append(Received(frame.data, False, "after the session's end"))
                    continue
                with contextlib.suppress(_Stop):
                    self._on_frame(frame, now, out)
                if self._is_down():
                    return out
        if self._resend_asked:  # its first slice, once for all the requests of this read
            self._resend_asked = False
            self._write_owed(out, now)
        return out

    def _is_down(self) -> bool:
        return self.state is State.DISCONNECTED

    def on_timer(self, now: datetime) -> Output:
        """Heartbeats, TestRequests and timeouts due at ``now``."""
        self._deadline_known = False
        out = Output()
        with contextlib.suppress(_Stop):
            self._timers(now, out)
        return out

    def next_deadline(self) -> datetime | None:
        """The earliest time :meth:`on_timer` has something to do (None: nothing pending).

        The answer is kept until the session changes: it depends only on the state, the
        times of the last message sent and received, of the TestRequest or Logout sent and
        of the connection, HeartBtInt and the schedule's end, and only this class's public
        methods change those (each forgets the kept answer as it starts, before any
        change). A backtest asks every session on every step; most steps change none."""
        if not self._deadline_known:
            self._deadline = self._compute_deadline()
            self._deadline_known = True
        return self._deadline

    def _compute_deadline(self) -> datetime | None:
        """:meth:`next_deadline` computed afresh."""
        if self.state in (State.AWAIT_LOGON, State.LOGON_SENT) and self.connected_at:
            return self.connected_at + timedelta(seconds=self.config.logon_timeout)
        if self.state is State.LOGOUT_SENT and self.logout_sent_at:
            return self.logout_sent_at + timedelta(seconds=self.config.logout_timeout)
        if self.state is not State.ACTIVE or not self.last_received or not self.last_sent:
            return None
        deadline: datetime | None = None
        if self.heartbeat_interval:  # HeartBtInt 0: no heartbeats, no silence checks
            hb, test_after, dead_after = self._heartbeat_times()
            if self.test_request_sent_at is not None:
                deadline = self.last_received + dead_after
            else:
                deadline = min(self.last_sent + hb, self.last_received + test_after)
        if self._period_end is not None:  # traffic must not keep a session past its end
            end = self._period_end + _JUST_AFTER
            deadline = end if deadline is None else min(deadline, end)
        return deadline

    def _past_period_end(self, now: datetime) -> bool:
        """Logged on (or logging out) after the end of the schedule's session."""
        return (self.state in (State.ACTIVE, State.LOGOUT_SENT) and self._period_end is not None
                and now > self._period_end)

    def _heartbeat_times(self) -> tuple[timedelta, timedelta, timedelta]:
        """HeartBtInt, the silence before a TestRequest and the silence before giving up,
        as timedeltas."""
        hb = timedelta(seconds=self.heartbeat_interval)
        return hb, TEST_REQUEST_FACTOR * hb, TIMEOUT_FACTOR * hb

    # -- application side -----------------------------------------------------------------

    def send(self, message: Message, now: datetime) -> Output:
        """Send an application message: number, persist, then transmit if logged on."""
        self._deadline_known = False
        out = Output()
        self._send(out, now, message, transmit=self.state is State.ACTIVE)
        return out

    def send_fields(self, msg_type: str, fields: Sequence[Field], now: datetime) -> Output:
        """:meth:`send` of an application message of type ``msg_type`` whose body is the flat
        ``fields``, with no header field of its own: the same bytes as :meth:`send` of that
        message, without building it. ``fields`` must be in the order the encoder writes
        them (ascending tags) and hold no data field (see :func:`gateway.codec.encode_flat`).
        For the messages sent most often (the venue's ExecutionReports)."""
        self._deadline_known = False
        out = Output()
        seq = self.store.next_sender_seq
        sending_time = format_utc_timestamp(now, self.precision).encode("ascii")
        head = b"35=%s\x0134=%d%s%s%s" % (msg_type.encode("ascii"), seq, self._head[0],
                                          sending_time, self._head[1])
        raw = encode_flat(self._ids[0][1], head, fields, msg_type)
        self._sent(out, now, seq, raw, transmit=self.state is State.ACTIVE)
        return out

    @property
    def owes(self) -> bool:
        """Whether a resend is being served: :meth:`send_owed` has more to write."""
        return bool(self._owed)

    @property
    def owed_bytes(self) -> int:
        """Bytes of the messages sent behind an unfinished resend and not yet written (output
        the peer has not read, as a transport's buffer is; the resend itself is not counted,
        it comes from the store)."""
        return self._owed_bytes

    def send_owed(self, now: datetime) -> Output:
        """The next :attr:`resend_slice` messages of the resend being served (then of those
        sent behind it), stamped ``now``. Empty when nothing is owed."""
        self._deadline_known = False
        out = Output()
        self._write_owed(out, now)
        return out

    def logout(self, now: datetime, text: str | None = None) -> Output:
        """Start the Logout handshake (disconnects at once if not logged on)."""
        self._deadline_known = False
        out = Output()
        if self.state is State.ACTIVE:
            self._send_logout(out, now, text)
        elif self.state is not State.DISCONNECTED:
            self._disconnect(out, now, text or "logout requested")
        return out

    # -- outbound -------------------------------------------------------------------------

    def _logon_message(self, reset: bool) -> Message:
        fixt = self.config.begin_string == "FIXT.1.1"
        return admin.logon(
            self.heartbeat_interval,
            reset=reset,
            username=self.config.username if self.config.role == "initiator" else None,
            password=self._password if self.config.role == "initiator" else None,
            default_appl_ver_id=APPL_VER_IDS[self.config.default_appl_ver_id] if fixt else None,
        )

    def _stamp(self, message: Message, seq: int, now: datetime) -> None:
        sending_time = format_utc_timestamp(now, self.precision).encode("ascii")
        message.header.update((*self._ids, (34, b"%d" % seq), (SENDING_TIME, sending_time)))

    def _send(self, out: Output, now: datetime, message: Message, *, transmit: bool) -> None:
        seq = self.store.next_sender_seq
        self._stamp(message, seq, now)
        self._sent(out, now, seq, encode(message, self.dd), transmit=transmit)

    def _sent(self, out: Output, now: datetime, seq: int, raw: bytes, *,
              transmit: bool) -> None:
        """Store message ``seq`` (``raw``), and write it if ``transmit``."""
        self.store.save_sent(seq, raw)
        if not transmit:
            return
        if self._owed:  # behind the resend being served: the wire keeps sequence order
            self._owed.append((seq, raw))
            self._owed_bytes += len(raw)
        else:
            out.data.append(raw)
            self.last_sent = now

    def _send_admin(self, out: Output, now: datetime, message: Message) -> None:
        self._send(out, now, message, transmit=True)

    def _send_logout(self, out: Output, now: datetime, text: str | None = None) -> None:
        self._send_admin(out, now, admin.logout(text))
        self.logout_sent_at = now
        self._go(Trigger.LOGOUT_SENT)

    def _disconnect(self, out: Output, now: datetime, reason: str) -> None:
        # the rest of a resend is dropped (the store has it for the next logon), but what was
        # sent behind it, such as the Logout that ends the session, is still written
        out.data.extend(item[1] for item in self._owed if isinstance(item, tuple))
        self._drop_owed(out)
        out.events.append(Disconnect(reason))
        self._go(Trigger.DISCONNECT)
        if self.config.reset_on_disconnect:
            self._reset_store(now)  # (which forgets the gap too)
        else:
            self._forget_gap()

    def _stop(self, out: Output, now: datetime, reason: str) -> None:
        self._disconnect(out, now, reason)
        raise _Stop

    def _reject(self, out: Output, now: datetime, problem: Reject,
                offending: Message | None) -> None:
        """Send Reject (3); consume the offending number if it was the expected one."""
        self._send_admin(out, now, admin.reject(problem, self.config.begin_string, offending))
        out.events.append(RejectSent(problem))
        if (problem.ref_seq_num == self.store.next_target_seq
                and problem.ref_msg_type not in ("A", "4")):
            self._advance(out, now)

    # -- inbound --------------------------------------------------------------------------

    def _on_frame(self, frame: Frame, now: datetime, out: Output) -> None:
        raw = frame.data
        # a Logout of ours before any Logon (a stop while the peer had not logged on) does
        # not make what follows a session's messages
        awaiting_logon = self.state in (State.AWAIT_LOGON, State.LOGON_SENT) or (
            self.state is State.LOGOUT_SENT and not self._was_logged_on)
        # A sound message with a tag <= 0 is answered (Reject 373=0, as QuickFIX does), not
        # dropped; before logon it is as bad as a garbled Logon.
        invalid_tag = frame.status is FrameStatus.INVALID_TAG and not awaiting_logon
        if not frame.ok and not invalid_tag:
            out.events.append(Received(raw, False, f"garbled: {frame.status.name}"))
            if awaiting_logon and frame.msg_type == b"A":
                self._stop(out, now, "garbled Logon")
            return
        out.events.append(Received(raw, True))
        fields = frame.fields()
        bad_tag: bytes | None = None
        if invalid_tag:  # the framer reports such a field as tag 0 with its tag text
            bad_tag = next(value for tag, value in fields if tag == 0)
            fields = [f for f in fields if f[0] != 0]
        if fields[0][1].decode("latin-1") != self.config.begin_string:
            if awaiting_logon:
                self._stop(out, now, "wrong BeginString before logon")
            # QuickFIX's answer: the message is not processed but its number is used up,
            # and our Logout ends the session once the peer's answers it (or the timeout
            # runs out), so what the peer sent behind it is read, not reset away
            seq = next((value for tag, value in fields if tag == MSG_SEQ_NUM), b"")
            if seq.isdigit() and int(seq) == self.store.next_target_seq:
                self._advance(out, now)
            if self.state is not State.LOGOUT_SENT:
                self._send_logout(out, now, "Incorrect BeginString")
            return
        message: Message | None = None  # once decoded, a Reject reverses its routing fields
        try:
            message = decode(fields, raw, self.dd, options=self.options)
            if bad_tag is not None:
                raise RemoteProtocolError(Reject(
                    R.INVALID_TAG_NUMBER, int(bad_tag), message.msg_type, message.msg_seq_num,
                    f"tag {bad_tag.decode('latin-1')}"))
            if self._appl_ver_id is not None:
                self._check_appl_ver_id(message)
            if self.config.validation.enabled:
                validate(message, self.dd, self.options)
        except RemoteProtocolError as exc:
            if awaiting_logon or exc.reject.ref_msg_type == "A":
                self._stop(out, now, f"invalid Logon: {exc.reject}")
            self._reject(out, now, exc.reject, message)
            # the Reject may have used the number a gap was waiting for: what was held
            # behind it goes on now, not when the peer happens to send again
            self._drain_queue(now, out)
            return
        # a sound message: the peer is alive, whatever it sends (QuickFIX's rule): our
        # TestRequest no longer holds our Heartbeats back. Garbled or invalid input does not
        # count: a peer sending only that would otherwise never be tested and timed out.
        self.last_received = now
        self.test_request_sent_at = None
        msg_type = message.msg_type or ""
        if awaiting_logon and msg_type != "A":
            if msg_type == "5":  # a refusal: its Text is the reason the operator needs
                text = message.body.get_str(58) or ""
                out.events.append(LoggedOut(text))
                if self.state is State.LOGON_SENT and self._ours(message):
                    # our Logon answered with a Logout: answered, and its number used
                    # (QuickFIX/J), or the acceptor's next Logon is "too high" by one
                    self._answer_logout(message, now, out)
                self._stop(out, now, f"first message is a Logout, not a Logon: "
                                     f"{wire_text(text) if text else 'no Text (58)'}")
            self._stop(out, now, f"first message is {msg_type!r}, not a Logon")
        self._dispatch(message, msg_type, now, out)

    def _check_appl_ver_id(self, message: Message) -> None:
        """FIXT: an application message's ApplVerID (1128), when it has one, must be the
        session's (the one version it has a dictionary for), else Reject 373=18."""
        declared = message.header.get(_APPL_VER_ID)
        if declared is None or declared == self._appl_ver_id_bytes:
            return
        msg_type = message.msg_type or ""
        if msg_type in ADMIN_MSG_TYPES:
            return
        raise RemoteProtocolError(Reject(
            R.INVALID_UNSUPPORTED_APPLICATION_VERSION, _APPL_VER_ID, msg_type,
            message.msg_seq_num, f"ApplVerID {declared.decode('latin-1')}, not "
                                 f"{self._appl_ver_id} ({self.config.default_appl_ver_id})"))

    def _dispatch(self, message: Message, msg_type: str, now: datetime, out: Output) -> None:
        if msg_type != "A":  # the peer went on: an answer to our confirm comes no more
            self._reset_answer_due = False
        self._handler(msg_type)(message, now, out, False)
        self._drain_queue(now, out)

    def _handler(self, msg_type: str) -> Callable[[Message, datetime, Output, bool], None]:
        return {
            "A": self._on_logon,
            "0": self._on_heartbeat,
            "1": self._on_test_request,
            "2": self._on_resend_request,
            "3": self._on_reject,
            "4": self._on_sequence_reset,
            "5": self._on_logout,
        }.get(msg_type, self._on_app)

    def _verify(self, message: Message, now: datetime, out: Output, *, too_high: bool,
                too_low: bool, queued: bool = False, headers_checked: bool = False) -> bool:
        """Session checks of QuickFIX's order; False when the message must not be processed.
        ``headers_checked``: SendingTime and CompIDs were checked already (a Logon's are,
        before anything else)."""
        seq = message.msg_seq_num or 0
        expected = self.store.next_target_seq
        if not headers_checked:
            try:
                if not queued:
                    check_sending_time(message, now, self.tolerance)
                self._check_comp_ids(message)
            except RemoteProtocolError as exc:
                self._refuse(out, now, exc.reject, message)
        # (not a SequenceReset's, nor a Logout's: one must be answered, as QuickFIX
        # verifies it, without the PossDup checks, or the peer waits out its timeout)
        if message.poss_dup and message.msg_type not in ("4", "5") and seq <= expected and not (
                self._poss_dup_ok(message, now, out)):
            return False
        if too_high and seq > expected:
            self._target_too_high(message, seq, now, out)
            return False
        if too_low and seq < expected:
            if not message.poss_dup:
                text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
                self._send_admin(out, now, admin.logout(text))
                self._stop(out, now, text)
            return False  # a duplicate we already processed
        return True

    def _answer_logout(self, message: Message, now: datetime, out: Output) -> None:
        """The peer's Logout: ours in answer (unless ours went first), and its number used
        if it is the one expected (not with _advance: the session ends here, with no chunk
        to ask for, and the Logout says all there is to say, even past the last number)."""
        if self.state is not State.LOGOUT_SENT:
            self._send_admin(out, now, admin.logout())
        expected = self.store.next_target_seq
        if (message.msg_seq_num or 0) == expected:
            self.store.set_next_target_seq(expected + 1)

    def _ours(self, message: Message) -> bool:
        """Whether ``message`` is from our peer to us (its CompIDs)."""
        try:
            self._check_comp_ids(message)
        except RemoteProtocolError:
            return False
        return True

    def _check_comp_ids(self, message: Message) -> None:
        """Raise :class:`RemoteProtocolError` (373=9) unless ``message`` is from our peer to us."""
        check_comp_ids(message, sender_comp_id=self.config.target_comp_id,
                       target_comp_id=self.config.sender_comp_id)

    def _refuse(self, out: Output, now: datetime, problem: Reject, message: Message) -> NoReturn:
        """A header the session cannot accept: Reject, then our Logout, and nothing more of
        this message (what follows waits for the peer's Logout or the timeout)."""
        self._reject(out, now, problem, message)
        self._send_logout(out, now)
        raise _Stop

    def _poss_dup_ok(self, message: Message, now: datetime, out: Output) -> bool:
        orig = message.header.get(ORIG_SENDING_TIME)
        msg_type, seq = message.msg_type, message.msg_seq_num
        if orig is None:
            problem = Reject(R.REQUIRED_TAG_MISSING, ORIG_SENDING_TIME, msg_type, seq)
            self._reject(out, now, problem, message)
            return False
        sent = message.sending_time
        orig_time = message.orig_sending_time
        if sent is not None and orig_time is not None and orig_time > sent:
            problem = Reject(R.SENDINGTIME_ACCURACY_PROBLEM, None, msg_type, seq,
                             "OrigSendingTime (122) after SendingTime")  # no 371: QuickFIX's
            self._refuse(out, now, problem, message)
        return True

    def _target_too_high(self, message: Message, seq: int, now: datetime, out: Output) -> None:
        """A message numbered above the expected one: held until the gap before it is filled
        (a Logon too, acted on already: its number is used when the queue reaches it), and
        a ResendRequest for the gap, unless one already covers it."""
        expected = self.store.next_target_seq
        if seq not in self.queue:
            if len(self.queue) >= self.config.max_queued:
                # bounded memory, whatever a peer sends ahead of a gap it does not fill; the
                # held messages were never processed, so the next logon's resend brings them
                text = (f"MsgSeqNum gap from {expected} not filled: more than "
                        f"{self.config.max_queued} messages queued behind it")
                self._send_admin(out, now, admin.logout(text))
                self._stop(out, now, text)
            self.queue[seq] = message
            heapq.heappush(self._queued, seq)
        self.resend_target = max(self.resend_target, seq)
        if self.resend_range is not None and seq >= self.resend_range[0]:
            return  # already asked; QuickFIX does not send redundant requests
        out.events.append(GapDetected(expected, seq))  # (once a gap, not once a held message)
        self._request_resend(expected, seq, now, out)

    def _take_number(self, message: Message, now: datetime, out: Output) -> None:
        """After acting on a message that is not held for its number (a Logon, a
        ResendRequest): the expected number moves on, or if ``message`` is numbered above
        it, it is held (its number used when the queue reaches it) and the gap asked for;
        one below it (a PossDup ResendRequest) changes nothing."""
        seq = message.msg_seq_num or 0
        expected = self.store.next_target_seq
        if seq > expected:
            self._target_too_high(message, seq, now, out)
        elif seq == expected:
            self._advance(out, now)

    def _request_resend(self, expected: int, received: int, now: datetime, out: Output) -> None:
        begin, end = request_range(expected, received, self.config.resend_chunk_size)
        self._send_admin(out, now, admin.resend_request(begin, end))
        self.resend_range = (begin, end)

    def _advance(self, out: Output, now: datetime, to: int | None = None) -> None:
        """The expected inbound number moves on (by one, or to ``to``). Past the largest
        number a message can carry (the peer's last was MAX_SEQNUM, or a SequenceReset's
        NewSeqNo was), the session ends: no message could be taken again, each refused for
        the format of its MsgSeqNum, until sequence numbers are reset."""
        expected = to if to is not None else self.store.next_target_seq + 1
        self.store.set_next_target_seq(expected)
        if expected > MAX_SEQNUM:
            text = (f"MsgSeqNum past {MAX_SEQNUM:,}: no message can carry the next one; "
                    "log on with ResetSeqNumFlag=Y")
            self._send_admin(out, now, admin.logout(text))
            self._stop(out, now, text)
        self._next_chunk(now, out)

    def _next_chunk(self, now: datetime, out: Output) -> None:
        """Once the resend asked for is filled: forget it if nothing more is missing, else
        ask for the next chunk, unless the message next expected is held (the queue takes it,
        and asks here again: after its number is used, or when it does not move it on)."""
        if self.resend_range is None:
            return
        expected = self.store.next_target_seq
        end = self.resend_range[1]
        if end == 0 or expected > end:
            # resend_target, the highest number held, is in the queue: once it is the
            # expected one nothing more is missing
            if expected >= self.resend_target:
                self.resend_range = None
                self.resend_target = 0
            elif end != 0 and self.state is State.ACTIVE and expected not in self.queue:
                # up to the first number held past the gap (not the highest: 20 and 21
                # held, the chunk ending at 20 asked for one already here)
                held = min((n for n in self.queue if n > expected), default=self.resend_target)
                self._request_resend(expected, held, now, out)

    def _drain_queue(self, now: datetime, out: Output) -> None:
        queued = self._queued
        # also while our Logout waits for the peer's: what comes in meanwhile is processed
        # (as it would be if it came in order), and so is what was held behind a gap
        while self.queue and self.state in (State.ACTIVE, State.LOGOUT_SENT):
            expected = self.store.next_target_seq
            # numbers below the expected one (processed, or passed over by a SequenceReset)
            # can never be processed: dropped from the front, each once (a scan of the queue
            # at every message of a long resend would cost its length each time)
            while queued and queued[0] < expected:
                self.queue.pop(heapq.heappop(queued), None)
            message = self.queue.pop(expected, None)
            if message is None:
                # held messages wait for this number: the last one taken may have left it
                # where it was (a gap fill that moved nothing), so the next chunk is due now
                self._next_chunk(now, out)
                return
            if message.msg_type in ("A", "2"):  # acted on when it came (QuickFIX's nextQueued)
                self._advance(out, now)
                continue
            self._handler(message.msg_type or "")(message, now, out, True)

    # -- message handlers ------------------------------------------------------------------

    def _maybe_new_schedule_period(self, now: datetime) -> None:
        schedule = self.config.schedule
        if schedule is not None and schedule.is_new_session(self.store.creation_time, now):
            self._reset_store(now)

    def _on_logon(self, message: Message, now: datetime, out: Output, queued: bool) -> None:
        reset_flag = bool(message.body.get_bool(admin.RESET_SEQ_NUM_FLAG))
        if self.state is State.ACTIVE and not reset_flag:
            self._stop(out, now, "second Logon on an active session")
        if self.state is State.LOGOUT_SENT:  # we are ending the session: not a new start
            self._stop(out, now, "Logon while our Logout is pending")
        schedule = self.config.schedule
        if schedule is not None:
            if not schedule.in_session(now):
                self._stop(out, now, "Logon outside the session schedule")
            # the end of the period this Logon falls in (the connection may predate it)
            self._period_end = schedule.session_end(now)
        try:
            check_sending_time(message, now, self.tolerance)
        except RemoteProtocolError:
            self._stop(out, now, "Logon with SendingTime out of tolerance")
        # CompIDs before anything changes: a Logon that is not our peer's resets nothing
        try:
            self._check_comp_ids(message)
        except RemoteProtocolError as exc:
            if self.state is not State.ACTIVE:  # a stranger: no session to reject within
                self._stop(out, now, f"Logon with wrong CompIDs: {exc.reject}")
            self._refuse(out, now, exc.reject, message)
        if message.poss_dup and message.header.get(ORIG_SENDING_TIME) is None:
            # before anything changes (a reset Logon's store): a Logon we cannot take
            problem = Reject(R.REQUIRED_TAG_MISSING, ORIG_SENDING_TIME, "A",
                             message.msg_seq_num)
            if self.state is not State.ACTIVE:  # no session yet to send a Reject in
                self._stop(out, now, f"invalid Logon: {problem}")
            self._reject(out, now, problem, message)  # the session goes on as it was
            return
        if self.config.role == "acceptor" and not self._credentials_ok(message):
            self._send_admin(out, now, admin.logout("Invalid username or password"))
            self._stop(out, now, "bad credentials")
        declared = message.body.get_str(admin.DEFAULT_APPL_VER_ID)
        if self._appl_ver_id is not None and declared != self._appl_ver_id:
            # the version of what the peer will send: one the session has no dictionary for
            # would be validated by the wrong one
            text = (f"DefaultApplVerID (1137) {declared} is not supported: this session's "
                    f"application messages are {self._appl_ver_id} "
                    f"({self.config.default_appl_ver_id})")
            self._send_admin(out, now, admin.logout(text))
            self._stop(out, now, text)
        try:
            heart_bt_int = message.body.get_int(admin.HEART_BT_INT)
            in_range = heart_bt_int is None or 0 <= heart_bt_int <= MAX_HEART_BT_INT
        except ValueError:  # not a number (only if validation is off)
            heart_bt_int, in_range = None, False
        if not in_range:
            text = (f"HeartBtInt {message.body.get_str(admin.HEART_BT_INT)} out of range "
                    f"(0 to {MAX_HEART_BT_INT} seconds)")
            self._send_admin(out, now, admin.logout(text))
            self._stop(out, now, text)
        if reset_flag and self._reset_answer_due and self.state is State.ACTIVE:
            # The peer took our confirm for a reset request and answered it: its numbers
            # start at 1 again, ours go on; answering in turn would never end.
            self._reset_answer_due = False
            self.store.set_next_target_seq(1)
            if self._verify(message, now, out, too_high=False, too_low=True,
                            headers_checked=True):
                self._advance(out, now)
            return
        if self.state is State.AWAIT_LOGON:
            # a connection made before the period began (clocks half a second apart): its
            # Logon is the period's first, on numbers started over (QuickFIX checks the
            # store's age at each message)
            self._maybe_new_schedule_period(now)
        acceptor_reply = self.state is not State.LOGON_SENT
        # Our Logon, not asking for a reset, answered with ResetSeqNumFlag: the acceptor
        # resets the numbers; so do we, and confirm with a Logon of our own numbered 1
        # (QuickFIX and QuickFIX/J do the same), or our next message is "too high" to it.
        reset_by_peer = not acceptor_reply and reset_flag and not self._sent_reset
        if (acceptor_reply and (reset_flag or self.config.reset_on_logon)) or reset_by_peer:
            self._reset_store(now)
            self._drop_owed(out)  # numbers from before the reset mean nothing to the peer now
        if heart_bt_int is not None and (acceptor_reply or reset_by_peer):
            # 0 too: the peer wants no heartbeats. Not the answer to our own Logon: an
            # initiator keeps the interval it asked for (QuickFIX, QuickFIX/J), or an
            # acceptor answering 0 would switch off its detection of a dead link
            self.heartbeat_interval = heart_bt_int
        if not self._verify(message, now, out, too_high=False, too_low=True,
                            headers_checked=True):
            return
        if acceptor_reply or reset_by_peer:
            self._send_admin(out, now, self._logon_message(reset_flag))
        self._reset_answer_due = reset_by_peer
        self._go(Trigger.LOGON)
        self._was_logged_on = True
        out.events.append(LoggedOn(self.heartbeat_interval, reset_flag))
        self._take_number(message, now, out)

    def _credentials_ok(self, message: Message) -> bool:
        if self.config.username is None:
            return True
        return (message.body.get_str(admin.USERNAME) == self.config.username
                and self._password is not None
                and message.body.get_str(admin.PASSWORD) == self._password)

    def _on_heartbeat(self, message: Message, now: datetime, out: Output, queued: bool) -> None:
        if not self._verify(message, now, out, too_high=True, too_low=True, queued=queued):
            return
        self._advance(out, now)

    def _on_test_request(self, message: Message, now: datetime, out: Output,
                         queued: bool) -> None:
        if not self._verify(message, now, out, too_high=True, too_low=True, queued=queued):
            return
        self._send_admin(out, now, admin.heartbeat(message.body.get(admin.TEST_REQ_ID)))
        self._advance(out, now)

    def _on_reject(self, message: Message, now: datetime, out: Output, queued: bool) -> None:
        """Taken even when numbered too high (QuickFIX's rule); the expected number moves on
        only when it is the expected one, so the gap before it is asked for at the next
        message rather than passed over."""
        if not self._verify(message, now, out, too_high=False, too_low=True, queued=queued):
            return
        out.events.append(RejectReceived(message))
        if message.msg_seq_num == self.store.next_target_seq:
            self._advance(out, now)

    def _on_sequence_reset(self, message: Message, now: datetime, out: Output,
                           queued: bool) -> None:
        gap_fill = bool(message.body.get_bool(admin.GAP_FILL_FLAG))
        if not self._verify(message, now, out, too_high=gap_fill, too_low=gap_fill,
                            queued=queued):
            return
        new_seq = message.body.get_int(admin.NEW_SEQ_NO) or 0
        expected = self.store.next_target_seq
        if new_seq > expected:
            self._advance(out, now, to=new_seq)
        elif new_seq < expected:
            problem = Reject(R.VALUE_IS_INCORRECT, None, "4", message.msg_seq_num,
                             f"NewSeqNo (36) {new_seq} is lower than expected {expected}")
            self._reject(out, now, problem, message)

    def _on_resend_request(self, message: Message, now: datetime, out: Output,
                           queued: bool) -> None:
        """Served even when numbered too high, then held (its number used when the queue
        reaches it, as a Logon's) while the gap before it is asked for: the peer waits for
        what it asked, whatever we missed (FIX test case 2b, QuickFIX/J). Too low without
        PossDupFlag ends the session, as for any message; with it, it is served all the
        same (a peer asking again for what it still lacks: QuickFIX/J's QFJ-673) and its
        number, already used, is not used again."""
        if not self._verify(message, now, out, too_high=False, too_low=not message.poss_dup,
                            queued=queued):
            return
        begin = message.body.get_int(admin.BEGIN_SEQ_NO) or 1
        end = message.body.get_int(admin.END_SEQ_NO) or 0
        seq = message.msg_seq_num or 0
        if 0 < end < begin:
            # no range: resending nothing would leave the peer waiting, and a gap fill from
            # BeginSeqNo would pass over messages it never asked for
            self._reject(out, now, Reject(R.VALUE_IS_INCORRECT, admin.END_SEQ_NO, "2", seq,
                                          f"EndSeqNo {end} is below BeginSeqNo {begin}"),
                         message)
            return
        self._serve_resend(begin, end, now, out)
        self._take_number(message, now, out)

    def _serve_resend(self, begin: int, end: int, now: datetime, out: Output) -> None:
        """Plan the resend of ``begin``..``end`` (0: to the last sent); its first slice is
        written once the read is processed (:meth:`data_received`), the rest when the
        transport asks (:meth:`send_owed`)."""
        next_seq = self.store.next_sender_seq
        last = next_seq - 1
        # Messages sent behind a resend still being served were never written: they go out
        # as they are once the resend is done, whatever it covers (planned from the store
        # they would be PossDup copies, and the admin ones among them a gap fill: a
        # Heartbeat or Reject the peer never got).
        behind = [step for step in self._owed if isinstance(step, tuple)]
        steps = [step for step in self._owed if not isinstance(step, tuple)]
        if self._owed:  # one resend at a time: over this range and what is still owed of it
            limit = behind[0][0] - 1 if behind else last  # the last number ever written
            asked_end = last if end == 0 or end > last else end
            if steps:
                begin = min(max(begin, 1), _owed_seq(steps[0]))
                asked_end = max(asked_end, _owed_seq(steps[-1], last=True))
            end = min(asked_end, limit)
        first, upto = max(begin, 1), last if end == 0 or end > last else end
        self._owed.clear()
        if first <= upto and (end == 0 or begin <= end):  # planned as it is written
            self._owed.append(Unplanned(first, upto, next_seq))
        self._owed.extend(behind)
        self._owed_bytes = sum(len(raw) for _, raw in behind)
        self._served_so_far(out)
        self._resending = _Resending(begin, end)
        # written when the read is processed: a burst of requests (a peer that asks again
        # and again) costs one slice, not one each
        self._resend_asked = True

    def _drop_owed(self, out: Output) -> None:
        """Forget the resend being served (telling what went out for it) and what was
        queued behind it."""
        self._owed.clear()
        self._owed_bytes = 0
        self._served_so_far(out)
        self._resending = None
        self._resend_asked = False

    def _served_so_far(self, out: Output) -> None:
        """:class:`ResendServed` for the resend being served, ended before it was all
        written (another request took it over, a disconnect, a reset), if any of it was."""
        ending = self._resending
        if ending is not None and (ending.resent or ending.gap_filled):
            out.events.append(ending.served())

    def _write_owed(self, out: Output, now: datetime) -> None:
        """Up to :attr:`resend_slice` owed messages into ``out``, ending after the one that
        reaches :attr:`resend_slice_bytes`: resent ones with PossDupFlag=Y and
        OrigSendingTime, gap fills, then the raw messages sent behind the resend."""
        owed = self._owed
        resending = self._resending
        if owed:
            stamp = format_utc_timestamp(now, self.precision)
            size = 0
            for _ in range(self.resend_slice):
                if not owed or size >= self.resend_slice_bytes:
                    break
                step = owed.popleft()
                if isinstance(step, Unplanned):
                    step = self._plan_window(step)
                if resending is not None and not isinstance(step, tuple):
                    if isinstance(step, GapFill):  # (the numbers it stands for)
                        resending.gap_filled += step.new_seq_no - step.seq
                    else:
                        resending.resent += 1
                raw = self._owed_message(step, stamp, now)
                out.data.append(raw)
                size += len(raw)
            self.last_sent = now
        if resending is not None and (not owed or isinstance(owed[0], tuple)):
            self._resending = None  # all planned is written: what follows was sent behind it
            out.events.append(resending.served())

    def _plan_window(self, unplanned: Unplanned) -> Resend | GapFill:
        """Plan the next :attr:`resend_slice` numbers of ``unplanned`` from the store, put
        the steps (and what is left unplanned) at the front of what is owed, and take the
        first."""
        begin, end = unplanned.begin, unplanned.end
        upto = min(end, begin + self.resend_slice - 1)
        steps: list[Resend | GapFill | Unplanned] = [*plan_resend(
            begin, upto, unplanned.next_sender_seq, self.store.sent(begin, upto))]
        if upto < end:
            steps.append(Unplanned(upto + 1, end, unplanned.next_sender_seq))
        self._owed.extendleft(reversed(steps[1:]))
        first = steps[0]
        assert not isinstance(first, Unplanned)  # plan_resend plans at least one step
        return first

    def _owed_message(self, step: Resend | GapFill | tuple[int, bytes], stamp: str,
                      now: datetime) -> bytes:
        """The bytes an owed step writes (``stamp``: now, as SendingTime is written)."""
        if isinstance(step, tuple):
            self._owed_bytes -= len(step[1])
            return step[1]
        if isinstance(step, GapFill):
            msg = admin.sequence_reset(step.new_seq_no, gap_fill=True)
            self._stamp(msg, step.seq, now)
            msg.header.set(POSS_DUP_FLAG, True)
            msg.header.set(ORIG_SENDING_TIME, stamp)
        else:
            copy = possdup_copy(step.raw, stamp.encode(), self.dd.header)
            if copy is not None:
                return copy
            msg = decode(self._fields_of(step.raw), step.raw, self.dd, options=self.options)
            original = msg.header.get(SENDING_TIME) or stamp.encode()
            msg.header.set(POSS_DUP_FLAG, True)
            msg.header.set(ORIG_SENDING_TIME, original)
            msg.header.set(SENDING_TIME, stamp)
        return encode(msg, self.dd)

    def _fields_of(self, raw: bytes) -> list[tuple[int, bytes]]:
        return self._message_framer.scan(raw, final=True).fields(0)

    def _on_logout(self, message: Message, now: datetime, out: Output, queued: bool) -> None:
        if not self._verify(message, now, out, too_high=False, too_low=False, queued=queued):
            return
        out.events.append(LoggedOut(message.body.get_str(58) or ""))
        self._answer_logout(message, now, out)
        if self.config.reset_on_logout:
            self._reset_store(now)
        self._stop(out, now, "logout")

    def _on_app(self, message: Message, now: datetime, out: Output, queued: bool) -> None:
        if not self._verify(message, now, out, too_high=True, too_low=True, queued=queued):
            return
        msg_type = message.msg_type or ""
        if self.app_types is not None and msg_type not in self.app_types:
            if msg_type == "j":
                # never a reject for a reject: a peer answering ours in kind (QuickFIX's
                # UnsupportedMessageType does) traded them with us for ever; the message
                # log has it
                self._advance(out, now)
                return
            self._send_admin(out, now, admin.business_reject(
                message.msg_seq_num, msg_type, admin.UNSUPPORTED_MESSAGE_TYPE,
                "Unsupported Message Type", message))
        else:
            out.events.append(AppMessage(message))
        self._advance(out, now)

    # -- timers ---------------------------------------------------------------------------

    def _timers(self, now: datetime, out: Output) -> None:
        if self.state in (State.AWAIT_LOGON, State.LOGON_SENT):
            if self.connected_at and now - self.connected_at >= timedelta(
                    seconds=self.config.logon_timeout):
                self._stop(out, now, "no Logon in time")
            return
        if self.state is State.LOGOUT_SENT:
            if self.logout_sent_at and now - self.logout_sent_at >= timedelta(
                    seconds=self.config.logout_timeout):
                self._stop(out, now, "no Logout reply in time")
            return
        if self.state is not State.ACTIVE:
            return
        if self._past_period_end(now):
            # also when the next period has begun at once (start = end): the session that
            # follows starts afresh, with sequence numbers reset, on the next connection
            self._send_logout(out, now, "End of session")
            return
        if not self.heartbeat_interval:
            return  # HeartBtInt 0, as the peer asked: heartbeats off (QuickFIX's rule)
        hb, test_after, dead_after = self._heartbeat_times()
        last_in = self.last_received or now
        if now - last_in >= dead_after:
            self._stop(out, now, "peer silent: TestRequest unanswered")
        if self.test_request_sent_at is None and now - last_in >= test_after:
            self._send_admin(out, now, admin.test_request())
            self.test_request_sent_at = now
            return
        if self.test_request_sent_at is None and now - (self.last_sent or now) >= hb:
            self._send_admin(out, now, admin.heartbeat())


def _owed_seq(item: Resend | GapFill | Unplanned | tuple[int, bytes], *,
              last: bool = False) -> int:
    """The first (``last``: the last) sequence number an owed item writes."""
    if isinstance(item, tuple):
        return item[0]
    if isinstance(item, GapFill):
        return item.new_seq_no - 1 if last else item.seq
    if isinstance(item, Unplanned):
        return item.end if last else item.begin
    return item.seq


@dataclass(slots=True)
class _Resending:
    """The resend being served: the range asked for, and what has gone out for it."""

    begin: int
    end: int
    resent: int = 0
    gap_filled: int = 0

    def served(self) -> ResendServed:
        return ResendServed(self.begin, self.end, self.resent, self.gap_filled)
