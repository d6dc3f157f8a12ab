"""The sans-IO session core, driven in memory with a scripted peer and a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fixspec.dictionary import builtin_session
from fixspec.reject import Reject, SessionRejectReason
from gateway import admin
from gateway.config import SessionConfig
from gateway.session import (
    AppMessage,
    Disconnect,
    LoggedOn,
    LoggedOut,
    Output,
    Received,
    RejectSent,
    ResendServed,
    Session,
)
from gateway.session_state import State
from gateway.store import MemoryStore
from tests.fixpeer import Peer, fields, frame, ts

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def acceptor(**kw: object) -> Session:
    cfg = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", **kw)  # type: ignore[arg-type]
    return Session(cfg, MemoryStore(T0), builtin_session("FIX.4.4"),
                   app_types={"D", "C", "d"})


def initiator(store: MemoryStore | None = None, **kw: object) -> Session:
    """An initiator TW -> ISLD (FIX 4.4) on ``store`` (default: a fresh one)."""
    cfg = SessionConfig("FIX.4.4", "TW", "ISLD", role="initiator", **kw)  # type: ignore[arg-type]
    return Session(cfg, store if store is not None else MemoryStore(T0),
                   builtin_session("FIX.4.4"), app_types={"8"})


def types(out: Output) -> list[str]:
    return [fields(raw)[35] for raw in out.data]


@pytest.fixture
def active() -> tuple[Session, Peer]:
    s = acceptor()
    s.connection_made(T0)
    peer = Peer()
    out = s.data_received(peer.logon(now=T0), T0)
    assert types(out) == ["A"] and s.state is State.ACTIVE
    return s, peer


def nos(cl: str = "X") -> str:
    return f"35=D|11={cl}|21=1|38=100|40=1|54=1|55=IBM|60=20261125-12:00:00"


def test_logon_is_answered_with_same_heartbeat(active: tuple[Session, Peer]) -> None:
    s, _ = active
    assert s.heartbeat_interval == 30
    assert s.store.next_target_seq == 2 and s.store.next_sender_seq == 2


def test_logon_too_high_gets_logon_then_resend_request() -> None:
    s = acceptor()
    s.connection_made(T0)
    out = s.data_received(Peer(seq=5).logon(now=T0), T0)
    assert types(out) == ["A", "2"]
    rr = fields(out.data[1])
    assert (rr[7], rr[16]) == ("1", "0")


def test_a_gap_filled_up_to_a_too_high_logon_goes_on_past_it() -> None:
    """Logon numbered 5 where 1 was expected: once the peer gap-fills 1 to 4 (up to its
    Logon, which arrived), the Logon's number is used and 6 is next; the session used to
    wait for a 5 that never came, holding everything after it."""
    s = acceptor()
    s.connection_made(T0)
    peer = Peer(seq=5)
    s.data_received(peer.logon(now=T0), T0)
    s.data_received(peer.msg("35=4|123=Y|36=5", seq=1, now=T0, header=f"43=Y|122={ts(T0)}"),
                    T0)
    assert s.store.next_target_seq == 6
    out = s.data_received(peer.msg("35=1|112=PING", seq=6, now=T0), T0)
    assert types(out) == ["0"] and fields(out.data[0])[112] == "PING"
    assert s.store.next_target_seq == 7 and not s.queue


def test_first_message_not_logon_disconnects_silently() -> None:
    s = acceptor()
    s.connection_made(T0)
    out = s.data_received(Peer().msg(nos(), now=T0), T0)
    assert out.data == [] and out.disconnect


def test_app_message_delivered_in_order(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos("A1"), now=T0), T0)
    assert [m.body.get_str(11) for m in out.app_messages()] == ["A1"]
    assert s.store.next_target_seq == 3


def test_gap_queues_and_processes_after_fill(active: tuple[Session, Peer]) -> None:
    s, peer = active
    m2 = peer.msg(nos("A2"), now=T0)
    m3 = peer.msg(nos("A3"), now=T0)
    out = s.data_received(m3, T0)
    assert types(out) == ["2"] and out.app_messages() == []
    out = s.data_received(m2, T0)
    assert [m.body.get_str(11) for m in out.app_messages()] == ["A2", "A3"]
    assert s.store.next_target_seq == 4 and s.resend_range is None


def test_a_gap_holds_at_most_max_queued_messages_then_logs_out() -> None:
    # a peer that sends ahead of a gap it never fills cannot grow our memory without bound;
    # nothing held was processed, so the next logon's resend brings it all again
    s = acceptor(max_queued=3)
    s.connection_made(T0)
    peer = Peer()
    s.data_received(peer.logon(now=T0), T0)
    peer.msg(nos("lost"), now=T0)  # 2, never delivered
    for k in range(3):
        out = s.data_received(peer.msg(nos(f"A{k}"), now=T0), T0)
        assert not out.disconnect and out.app_messages() == []
    assert sorted(s.queue) == [3, 4, 5]
    out = s.data_received(peer.msg(nos("A3"), now=T0), T0)
    assert types(out) == ["5"] and out.disconnect
    assert fields(out.data[0])[58] == ("MsgSeqNum gap from 2 not filled: more than 3 "
                                       "messages queued behind it")
    assert s.store.next_target_seq == 2


def test_a_queue_past_a_sequence_reset_is_processed_from_the_new_number(
        active: tuple[Session, Peer]) -> None:
    # 2 is missing, 3..5 wait; a GapFill at 2 jumps to 4: 3 is passed over, 4 and 5 processed
    s, peer = active
    peer.msg(nos("lost"), now=T0)
    queued = [peer.msg(nos(f"A{n}"), now=T0) for n in (3, 4, 5)]
    for m in queued:
        s.data_received(m, T0)
    gap_fill = peer.msg("35=4|123=Y|36=4", now=T0, seq=2)
    out = s.data_received(gap_fill, T0)
    assert [m.body.get_str(11) for m in out.app_messages()] == ["A4", "A5"]
    assert s.store.next_target_seq == 6 and s.queue == {}


def test_a_reject_that_fills_a_gap_lets_what_was_held_behind_it_go_on(
        active: tuple[Session, Peer]) -> None:
    """The resent 2 fails validation: its Reject uses number 2, so the TestRequest held as 3
    is answered at once (QuickFIX's nextQueued after a Reject), not when the peer next
    sends."""
    s, peer = active
    bad = peer.msg("35=D|21=1|38=5|40=1|54=1|55=IBM|60=20261125-12:00:00", now=T0)  # no 11
    assert types(s.data_received(peer.msg("35=1|112=HELLO1", now=T0), T0)) == ["2"]
    out = s.data_received(bad, T0)
    assert types(out) == ["3", "0"] and fields(out.data[1])[112] == "HELLO1"
    assert s.store.next_target_seq == 4 and not s.queue and s.resend_range is None


def test_a_reset_logon_forgets_what_was_held_and_asked_under_the_old_numbers(
        active: tuple[Session, Peer]) -> None:
    s, peer = active
    peer.msg(nos("lost"), now=T0)  # 2, never sent
    assert types(s.data_received(peer.msg(nos("STALE"), now=T0), T0)) == ["2"]  # 3 held
    reset = Peer()
    assert types(s.data_received(reset.logon(extra="|141=Y", now=T0), T0)) == ["A"]
    assert not s.queue and s.resend_range is None
    out = s.data_received(reset.msg(nos("N2"), now=T0) + reset.msg(nos("N3"), now=T0), T0)
    assert [m.body.get_str(11) for m in out.app_messages()] == ["N2", "N3"]  # no STALE
    reset.msg(nos("N4"), now=T0)  # never sent: a gap under the new numbers is asked for
    out = s.data_received(reset.msg(nos("N5"), now=T0), T0)
    assert types(out) == ["2"] and (fields(out.data[0])[7], fields(out.data[0])[16]) == (
        "4", "0")


def test_any_message_after_our_test_request_lets_heartbeats_resume(
        active: tuple[Session, Peer]) -> None:
    """The peer answers our TestRequest with an order, not a Heartbeat: it is alive, so
    after HeartBtInt of our silence we heartbeat again (QuickFIX resets the pending
    TestRequest on every message)."""
    s, peer = active
    assert types(s.on_timer(T0 + timedelta(seconds=30))) == ["0"]
    assert types(s.on_timer(T0 + timedelta(seconds=36))) == ["1"]
    at = T0 + timedelta(seconds=37)
    assert types(s.data_received(peer.msg(nos("ALIVE"), now=at), at)) == []
    assert types(s.on_timer(T0 + timedelta(seconds=66))) == ["0"]


def test_what_was_held_is_processed_while_our_logout_waits(
        active: tuple[Session, Peer]) -> None:
    """Our Logout went out (a message with a bad SendingTime) while 3 was held behind a
    gap: the peer's gap fill lets 3 through before its Logout, as QuickFIX processes the
    queue in every state."""
    s, peer = active
    peer.msg(nos("lost"), now=T0)  # 2, never sent
    assert types(s.data_received(peer.msg(nos("QUEUED"), now=T0), T0)) == ["2"]
    old = T0 - timedelta(seconds=600)
    assert types(s.data_received(peer.msg("35=1|112=T", now=old), T0)) == ["3", "5"]
    assert s.state is State.LOGOUT_SENT
    fill = peer.msg("35=4|123=Y|36=3", seq=2, now=T0, header=f"43=Y|122={ts(T0)}")
    out = s.data_received(fill, T0)
    assert [m.body.get_str(11) for m in out.app_messages()] == ["QUEUED"]
    assert s.store.next_target_seq == 4


def test_too_low_without_possdup_logs_out_and_disconnects(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos(), now=T0, seq=1), T0)
    assert types(out) == ["5"] and out.disconnect
    assert fields(out.data[0])[58] == "MsgSeqNum too low, expecting 2 but received 1"


def test_possdup_duplicate_ignored(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos(), header=f"43=Y|122={ts(T0, -1)}", now=T0, seq=1), T0)
    assert out.data == [] and not out.disconnect and s.store.next_target_seq == 2


def test_possdup_without_orig_sending_time_rejected(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos(), header="43=Y", now=T0, seq=1), T0)
    assert types(out) == ["3"]
    r = fields(out.data[0])
    assert (r[373], r[371], r[45]) == ("1", "122", "1")


def test_garbled_message_does_not_consume_a_number(active: tuple[Session, Peer]) -> None:
    s, peer = active
    bad = peer.msg(nos(), now=T0, checksum=1)
    out = s.data_received(bad, T0)
    assert out.data == [] and s.store.next_target_seq == 2
    good = peer.msg(nos(), now=T0, seq=2)
    assert len(s.data_received(good, T0).app_messages()) == 1


def test_garbled_input_alone_does_not_keep_a_silent_peer_alive(
        active: tuple[Session, Peer]) -> None:
    """Only a sound message shows the peer alive (QuickFIX's rule): a peer sending nothing
    but bad checksums still gets our TestRequest and is disconnected when it goes
    unanswered."""
    s, peer = active
    sent: list[str] = []
    for k in range(1, 9):
        at = T0 + timedelta(seconds=10 * k)
        s.data_received(peer.msg("35=0", now=at, seq=2, checksum=1), at)
        out = s.on_timer(at)
        sent += types(out)
        if out.disconnect:
            break
    assert sent == ["0", "1"] and s.state is State.DISCONNECTED


def test_a_reject_numbered_too_high_leaves_the_gap_before_it_to_be_asked_for(
        active: tuple[Session, Peer]) -> None:
    """A Reject is taken when it comes, but its number is not the expected one: 2 and 3
    never arrived, so the next message asks for them from 2 (QuickFIX moves on only for
    the expected number; moving on by one had lost message 2 for good)."""
    s, peer = active
    peer.msg(nos("LOST2"), now=T0)
    peer.msg(nos("LOST3"), now=T0)
    out = s.data_received(peer.msg("35=3|45=1|58=x", now=T0), T0)  # 4
    assert out.data == [] and s.store.next_target_seq == 2
    out = s.data_received(peer.msg(nos("N5"), now=T0), T0)
    rr = fields(out.data[0])
    assert (rr[35], rr[7], rr[16]) == ("2", "2", "0")


def test_a_resend_request_numbered_too_high_is_served_then_its_gap_asked_for(
        active: tuple[Session, Peer]) -> None:
    """FIX test case 2b for a ResendRequest (QuickFIX/J's QFJ-673): the peer gets what it
    asked for at once, we ask for the gap before the request, and the request, held, is
    not served a second time when the gap is filled."""
    s, peer = active
    s.send(_order("O1"), T0)  # our 2
    peer.msg(nos("LOST2"), now=T0)
    out = s.data_received(peer.msg("35=2|7=2|16=0", now=T0), T0)  # 3, too high
    got = [fields(raw) for raw in out.data]
    assert [(f[35], f.get(11), f.get(7)) for f in got] == [("D", "O1", None), ("2", None, "2")]
    assert (got[1][16], s.store.next_target_seq) == ("0", 2)
    fill = peer.msg("35=4|123=Y|36=3", seq=2, now=T0, header=f"43=Y|122={ts(T0)}")
    out = s.data_received(fill, T0)
    assert out.data == [] and s.store.next_target_seq == 4 and not s.queue
    assert s.resend_range is None


def test_a_resend_request_numbered_too_low_without_possdup_logs_out(
        active: tuple[Session, Peer]) -> None:
    """As for any message (QuickFIX/J's QFJ-653): served, it had let a peer whose numbers
    went wrong carry on."""
    s, peer = active
    s.send(_order("O1"), T0)
    s.data_received(peer.msg(nos("A"), now=T0), T0)  # 2
    out = s.data_received(peer.msg("35=2|7=1|16=0", seq=2, now=T0), T0)
    assert types(out) == ["5"] and out.disconnect
    assert fields(out.data[0])[58] == "MsgSeqNum too low, expecting 3 but received 2"


def test_a_resend_request_numbered_too_low_with_possdup_is_served(
        active: tuple[Session, Peer]) -> None:
    """A peer sending its ResendRequest again (PossDupFlag=Y) still lacks what it asked for
    (QuickFIX/J's QFJ-673): served, and the number it had used is not used again."""
    s, peer = active
    for cl in ("O0", "O1", "O2"):
        s.send(_order(cl), T0)  # our 2-4
    s.data_received(peer.msg("35=0", now=T0), T0)  # the peer's 2
    again = peer.msg("35=2|7=2|16=0", seq=2, now=T0, header=f"43=Y|122={ts(T0)}")
    out = s.data_received(again, T0)
    assert [fields(raw)[11] for raw in out.data] == ["O0", "O1", "O2"]
    assert not out.disconnect and s.store.next_target_seq == 3


def test_a_possdup_logon_without_orig_sending_time_disconnects_without_a_reject() -> None:
    """Before logon there is no session to send a Reject in (QuickFIX/J cannot): the
    Reject had used our number 1 and left the session waiting for a Logon half-open."""
    s = acceptor()
    s.connection_made(T0)
    out = s.data_received(Peer().logon(now=T0, header="43=Y"), T0)
    assert out.data == [] and out.disconnect and s.state is State.DISCONNECTED
    assert s.store.next_sender_seq == 1


def _chunked_resend(chunk_size: int, script: list[tuple[str, int, bool]]
                    ) -> tuple[Session, list[tuple[str, str]], list[str]]:
    """Log a fresh peer on to an acceptor with ``resend_chunk_size`` ``chunk_size`` (2
    expected next), then feed it ``script`` in order: (body, MsgSeqNum, re-sent), a re-sent
    message carrying PossDupFlag and OrigSendingTime. Returns the session, the (BeginSeqNo,
    EndSeqNo) of every ResendRequest it sent, and the ClOrdIDs of the application messages it
    delivered, in order."""
    s = acceptor(resend_chunk_size=chunk_size)
    s.connection_made(T0)
    peer = Peer()
    s.data_received(peer.logon(now=T0), T0)
    asked: list[tuple[str, str]] = []
    taken: list[str] = []
    for body, seq, resent in script:
        header = f"43=Y|122={ts(T0)}" if resent else ""
        out = s.data_received(peer.msg(body, seq=seq, now=T0, header=header), T0)
        asked += [(f[7], f[16]) for f in map(fields, out.data) if f[35] == "2"]
        taken += [m.body.get_str(11) or "" for m in out.app_messages()]
    return s, asked, taken


def _resent_orders(seqs: range | tuple[int, ...]) -> list[tuple[str, int, bool]]:
    """Script lines (see :func:`_chunked_resend`) for the peer re-sending an order numbered
    each of ``seqs``, ClOrdID ``R<n>``."""
    return [(nos(f"R{n}"), n, True) for n in seqs]


def test_chunked_resend_requests_stop_before_the_message_held() -> None:
    """resend_chunk_size 2, 11 held while 2 was expected: chunks 2-3, 4-5, 6-7, 8-9, then
    10 alone, not 10-11: 11 is held, and goes on once 10 is in, with no request after."""
    s, asked, taken = _chunked_resend(2, [(nos("HELD"), 11, False),
                                          *_resent_orders(range(2, 11))])
    assert asked == [("2", "3"), ("4", "5"), ("6", "7"), ("8", "9"), ("10", "10")]
    assert taken == [*(f"R{n}" for n in range(2, 11)), "HELD"]
    assert s.store.next_target_seq == 12 and s.resend_range is None


@pytest.mark.parametrize("new_seq_no", [5, 4])
def test_a_held_gap_fill_that_moves_nothing_does_not_stall_a_chunked_resend(
        new_seq_no: int) -> None:
    """resend_chunk_size 3, 5 held (a GapFill whose NewSeqNo does not move past it) and 10:
    once 2-4 are in, the queue takes 5, which leaves 5 expected; the next chunk is asked
    from 5, where waiting for a queue that could not move stalled the session for good."""
    s, asked, _ = _chunked_resend(3, [(f"35=4|123=Y|36={new_seq_no}", 5, True),
                                      (nos("H10"), 10, False), *_resent_orders((2, 3, 4))])
    assert asked == [("2", "4"), ("5", "7")] and s.store.next_target_seq == 5


def test_a_possdup_reset_logon_without_orig_sending_time_resets_nothing(
        active: tuple[Session, Peer]) -> None:
    """In a session, it is rejected under the session's numbers and nothing is reset: the
    store had been reset first, and the Reject, numbered 1, left the session half-open."""
    s, _ = active
    for cl in ("O0", "O1", "O2"):
        s.send(_order(cl), T0)  # our 2-4
    out = s.data_received(Peer(seq=1).msg("35=A|98=0|108=30|141=Y", now=T0, header="43=Y"),
                          T0)
    [reject] = [fields(raw) for raw in out.data]
    assert (reject[35], reject[34], reject[371], reject[373]) == ("3", "5", "122", "1")
    assert s.state is State.ACTIVE and not out.disconnect
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (6, 2)


def test_a_chunk_is_not_asked_for_a_message_already_held() -> None:
    """resend_chunk_size 3, 5 and 10 held while 2 was expected: once 2-4 are in, 5 goes on
    from the queue and the next request is 6-8, not 5-7."""
    s, asked, taken = _chunked_resend(3, [(nos("H5"), 5, False), (nos("H10"), 10, False),
                                          *_resent_orders((2, 3, 4))])
    assert asked == [("2", "4"), ("6", "8")] and s.store.next_target_seq == 6
    assert taken == ["R2", "R3", "R4", "H5"]  # 10 waits for 6-9


def test_the_last_chunk_stops_before_the_first_of_several_held() -> None:
    """resend_chunk_size 5, 20 and 21 held while 2 was expected: the chunks stopped before
    the highest held, so the last one was 17-20 and asked for 20 again; now 17-19."""
    s, asked, taken = _chunked_resend(5, [(nos("H20"), 20, False), (nos("H21"), 21, False),
                                          *_resent_orders(range(2, 20))])
    assert asked == [("2", "6"), ("7", "11"), ("12", "16"), ("17", "19")]
    assert taken == [*(f"R{n}" for n in range(2, 20)), "H20", "H21"]
    assert s.store.next_target_seq == 22 and s.resend_range is None


def test_bad_compid_rejected_and_logged_out(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos() + "|", now=T0) .replace(b"49=TW", b"49=XX"), T0)
    # the replace broke the checksum: garbled, dropped
    assert out.data == []
    peer2 = Peer(sender="XX", seq=2)
    out = s.data_received(peer2.msg(nos(), now=T0), T0)
    assert types(out) == ["3", "5"]
    assert fields(out.data[0])[373] == "9"
    assert s.state is State.LOGOUT_SENT


def test_sending_time_out_of_tolerance(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos(), now=T0 - timedelta(seconds=600)), T0)
    assert types(out) == ["3", "5"]
    assert fields(out.data[0])[373] == "10"


def test_validation_reject_consumes_number(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg("35=D|21=1|38=5|40=1|54=1|55=IBM|60=20261125-12:00:00",
                                   now=T0), T0)
    assert types(out) == ["3"]
    r = fields(out.data[0])
    assert (r[373], r[371], r[58]) == ("1", "11", "Required tag missing")
    assert s.store.next_target_seq == 3


def test_unsupported_type_business_reject(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg("35=E|66=L1|394=1|73=0", now=T0), T0)
    assert types(out) in (["j"], ["3"])


def test_test_request_answered(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg("35=1|112=HELLO", now=T0), T0)
    assert types(out) == ["0"] and fields(out.data[0])[112] == "HELLO"


def test_heartbeat_then_test_request_then_disconnect(active: tuple[Session, Peer]) -> None:
    s, _ = active
    assert types(s.on_timer(T0 + timedelta(seconds=30))) == ["0"]
    out = s.on_timer(T0 + timedelta(seconds=36))
    assert types(out) == ["1"] and fields(out.data[0])[112] == "TEST"
    assert s.on_timer(T0 + timedelta(seconds=66)).data == []  # no heartbeat while pending
    assert s.on_timer(T0 + timedelta(seconds=72)).disconnect


def test_resend_request_served_with_gap_fill(active: tuple[Session, Peer]) -> None:
    s, peer = active
    for cl in ("O1", "O2"):
        s.send(_order(cl), T0)
    out = s.data_received(peer.msg("35=2|7=1|16=0", now=T0), T0)
    got = [fields(r) for r in out.data]
    assert [(f[35], f[34]) for f in got] == [("4", "1"), ("D", "2"), ("D", "3")]
    assert got[0][123] == "Y" and got[0][36] == "2"
    assert all(f[43] == "Y" and 122 in f for f in got)


def test_a_resend_request_ending_before_it_begins_is_rejected(
        active: tuple[Session, Peer]) -> None:
    """BeginSeqNo 3, EndSeqNo 2: a Reject naming EndSeqNo, not a gap fill from 3 that told
    the peer to pass over messages 3 and 4, which it never asked for."""
    s, peer = active
    for cl in ("O1", "O2", "O3"):
        s.send(_order(cl), T0)  # numbers 2-4
    out = s.data_received(peer.msg("35=2|7=3|16=2", now=T0), T0)
    [reject] = [fields(r) for r in out.data]
    assert (reject[35], reject[373], reject[371], reject[45]) == ("3", "5", "16", "2")
    assert s.store.next_target_seq == 3  # its number is used


def _drain(s: Session, out: Output, now: datetime) -> list[dict[int, str]]:
    """Everything a resend writes: ``out`` and then each slice the transport would ask for."""
    got = [fields(r) for r in out.data]
    while s.owes:
        slice_ = s.send_owed(now).data
        assert 0 < len(slice_) <= s.resend_slice
        got += [fields(r) for r in slice_]
    return got


def test_a_long_resend_comes_a_slice_at_a_time_and_later_messages_after_it(
        active: tuple[Session, Peer]) -> None:
    s, peer = active
    s.resend_slice = 3
    for i in range(7):
        s.send(_order(f"O{i}"), T0)  # numbers 2-8
    out = s.data_received(peer.msg("35=2|7=1|16=0", now=T0), T0)
    assert len(out.data) == 3 and s.owes  # the gap fill for the Logon, O0, O1
    # sent while the resend is being written: numbered and stored now, written after it
    assert s.send(_order("LATE"), T0).data == []
    assert s.owed_bytes > 0
    got = [(f[35], f[34], f.get(43), f.get(11)) for f in _drain(s, out, T0)]
    assert got == [("4", "1", "Y", None),
                   *((("D", str(i + 2), "Y", f"O{i}")) for i in range(7)),
                   ("D", "9", None, "LATE")]
    assert not s.owes and s.owed_bytes == 0
    assert s.send(_order("NEXT"), T0).data != []  # written at once again


def test_a_resend_is_planned_a_slice_at_a_time_whatever_its_range(
        active: tuple[Session, Peer]) -> None:
    """A day of messages asked for again and again: each ResendRequest reads the store
    for the slice it writes, not for the whole range (planning all of it at every request
    held every session up for tens of milliseconds a request). What is written is still
    the whole plan: each order once, PossDup, every number covered, runs of admin messages
    gap-filled, and ResendServed told once it is written. Asked many times in one read,
    one slice is written, not one a request."""
    s, peer = active
    s.resend_slice = 7
    for i in range(300):
        if i % 10 in (3, 4, 5):  # runs of admin messages, across slice boundaries too
            s.send(admin.heartbeat(None), T0)
        else:
            s.send(_order(f"O{i}"), T0)
    read = 0
    sent = s.store.sent

    def counting(begin: int, end: int):  # type: ignore[no-untyped-def]
        nonlocal read
        for message in sent(begin, end):
            read += 1
            yield message

    s.store.sent = counting  # type: ignore[method-assign]
    for i in range(20):  # a peer asking the same again while the first is served
        out = s.data_received(peer.msg("35=2|7=1|16=0", now=T0), T0)
        assert len(out.data) == 7  # the restart's first slice, and what the last one wrote
        served = [e for e in out.events if isinstance(e, ResendServed)]
        # (a ResendRequest during a resend covers both: to 301 here, the last sent)
        assert served == ([ResendServed(1, 0 if i == 1 else 301, 5, 4)] if i else [])
    # at most two windows of 7 numbers a slice (gap fills make a window fewer messages),
    # not the 301 numbers each request covers
    assert read <= 20 * 2 * 7
    read = 0
    burst = b"".join(peer.msg("35=2|7=1|16=0", now=T0) for _ in range(50))
    out = s.data_received(burst, T0)  # asked 50 times in one read: one slice written
    assert len(out.data) == 7 and read <= 2 * 7
    assert [e for e in out.events if isinstance(e, ResendServed)] == [
        ResendServed(1, 301, 5, 4)]  # the last one's; those that wrote nothing say nothing
    got = [fields(raw) for raw in out.data]
    events = []
    while s.owes:
        more = s.send_owed(T0)
        got += [fields(raw) for raw in more.data]
        events += more.events
    covered = []
    for f in got:
        last_of = int(f[36]) - 1 if f[35] == "4" else int(f[34])
        covered += range(int(f[34]), last_of + 1)
        assert f[43] == "Y"
    assert covered == list(range(1, 302))
    assert [f[11] for f in got if f[35] == "D"] == [
        f"O{i}" for i in range(300) if i % 10 not in (3, 4, 5)]
    assert [e for e in events if isinstance(e, ResendServed)] == [ResendServed(1, 301, 210, 91)]
    assert read <= 2 * 7 + 301


def test_a_resend_cut_short_by_a_disconnect_still_tells_what_went_out(
        active: tuple[Session, Peer]) -> None:
    s, peer = active
    assert _resending(s, peer, "7=2|16=0") == ["2", "3"]
    out = s.connection_lost(T0)
    assert [e for e in out.events if isinstance(e, ResendServed)] == [
        ResendServed(2, 0, 2, 0)]
    assert any(isinstance(e, Disconnect) for e in out.events)


def _resending(s: Session, peer: Peer, request: str) -> list[str]:
    """Orders O0-O4 sent (numbers 2-6), then ``request`` (a ResendRequest's 7 and 16) served
    two messages a slice: the numbers of the first slice."""
    s.resend_slice = 2
    for i in range(5):
        s.send(_order(f"O{i}"), T0)
    first = s.data_received(peer.msg(f"35=2|{request}", now=T0), T0)
    return [fields(r)[34] for r in first.data]


def test_a_resend_request_during_a_resend_restarts_it_over_both_ranges(
        active: tuple[Session, Peer]) -> None:
    s, peer = active
    assert _resending(s, peer, "7=4|16=6") == ["4", "5"]
    s.send(_order("LATE"), T0)  # 7, queued behind
    again = s.data_received(peer.msg("35=2|7=2|16=3", now=T0), T0)
    got = [(f[34], f.get(43)) for f in _drain(s, again, T0)]
    # 2..6 again (the union), then LATE, never written before: as it is, not a PossDup
    assert got == [*((str(n), "Y") for n in range(2, 7)), ("7", None)]


def test_a_resend_of_large_messages_comes_in_slices_of_bounded_bytes(
        active: tuple[Session, Peer]) -> None:
    """500 messages of 12 KB in one slice (6 MB) went over the slow-consumer limit before
    the peer could read any of it: a slice ends once it holds resend_slice_bytes."""
    s, peer = active
    for i in range(40):
        s.send(_order(f"O{i}", text="x" * 12_000), T0)
    out = s.data_received(peer.msg("35=2|7=2|16=0", now=T0), T0)
    slices = [out.data]
    while s.owes:
        slices.append(s.send_owed(T0).data)
    sizes = [sum(len(raw) for raw in part) for part in slices]
    assert max(sizes) < s.resend_slice_bytes + 13_000 and len(slices) > 1
    assert [fields(raw)[11] for part in slices for raw in part] == [f"O{i}" for i in range(40)]


def test_admin_messages_behind_a_resend_survive_a_second_resend_request(
        active: tuple[Session, Peer]) -> None:
    """A Heartbeat answering a TestRequest and our own ResendRequest, numbered while a
    resend is being written, are not gap-filled when the peer asks for another resend:
    they were never written, so they go out as they are after it (a gap fill over them
    had lost the Heartbeat and hung the session on a ResendRequest never sent)."""
    s, peer = active
    assert _resending(s, peer, "7=2|16=0") == ["2", "3"]
    s.data_received(peer.msg("35=1|112=T1", now=T0), T0)  # Heartbeat 7, behind
    peer.seq += 3
    s.data_received(peer.msg("35=0", now=T0), T0)  # too high: our ResendRequest 8, behind
    again = s.data_received(peer.msg("35=2|7=2|16=0", seq=4, now=T0), T0)  # the expected
    got = [(f[34], f[35], f.get(43), f.get(112), f.get(7)) for f in _drain(s, again, T0)]
    assert got == [*((str(n), "D", "Y", None, None) for n in range(2, 7)),
                   ("7", "0", None, "T1", None), ("8", "2", None, None, "4")]


def test_a_disconnect_during_a_resend_still_writes_the_logout(
        active: tuple[Session, Peer]) -> None:
    s, peer = active
    s.resend_slice = 2
    for i in range(6):
        s.send(_order(f"O{i}"), T0)
    s.data_received(peer.msg("35=2|7=1|16=0", now=T0), T0)
    assert s.owes
    out = s.data_received(peer.msg("35=5", now=T0), T0)  # the peer gives up
    assert types(out) == ["5"] and out.disconnect  # our Logout, not the rest of the resend
    assert not s.owes


def test_a_resent_message_keeps_its_header_group(active: tuple[Session, Peer]) -> None:
    """A header the byte-level copy leaves alone (a group) is decoded and encoded again."""
    from gateway.fixmessage import Group

    s, peer = active
    order = _order("O1")
    hops = Group(627, 628)
    hops.add((628, "HOP1"), (629, "20261125-11:59:59.000"))
    order.header.add_group(hops)  # type: ignore[attr-defined]
    s.send(order, T0)  # type: ignore[arg-type]
    later = T0 + timedelta(seconds=5)
    out = s.data_received(peer.msg("35=2|7=2|16=2", now=later), later)
    got = fields(out.data[0])
    assert (got[35], got[34], got[43], got[627], got[628]) == ("D", "2", "Y", "1", "HOP1")
    assert got[122] == "20261125-12:00:00.000" and got[52] == "20261125-12:00:05.000"


def _logged_on_until_five() -> tuple[Session, Peer]:
    """An acceptor session on an 08:00-17:00 (UTC) schedule, logged on at T0 (12:00)."""
    from datetime import time

    from gateway.schedule import Schedule

    cfg = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor",
                        schedule=Schedule(time(8), time(17)))
    s = Session(cfg, MemoryStore(T0), builtin_session("FIX.4.4"), app_types=frozenset({"D"}))
    s.connection_made(T0)
    peer = Peer()
    s.data_received(peer.logon(now=T0), T0)
    return s, peer


def test_after_the_end_input_is_logged_and_only_a_logout_acted_on() -> None:
    """Past the schedule's end the session sends its Logout; what the peer sends meanwhile is
    reported (for the message log) as not processed, and the peer's Logout, even one that
    crossed ours in the same read, completes the handshake."""
    s, peer = _logged_on_until_five()
    late = datetime(2026, 11, 25, 17, 0, 5, tzinfo=UTC)
    order = peer.msg(nos("LATE1"), now=late)
    out = s.data_received(order, late)
    assert types(out) == ["5"] and s.state is State.LOGOUT_SENT
    assert [(e.raw, e.valid) for e in out.events if isinstance(e, Received)] == [(order, False)]
    assert not any(isinstance(e, AppMessage) for e in out.events)
    later = late + timedelta(seconds=1)
    order2, logout = peer.msg(nos("LATE2"), now=later), peer.msg("35=5", now=later)
    out = s.data_received(order2 + logout, later)
    assert out.data == [] and not any(isinstance(e, AppMessage) for e in out.events)
    assert [(e.raw, e.valid) for e in out.events if isinstance(e, Received)] == [
        (order2, False), (logout, True)]
    assert any(isinstance(e, LoggedOut) for e in out.events) and out.disconnect


def test_a_logout_that_crosses_ours_at_the_end_completes_the_logout() -> None:
    s, peer = _logged_on_until_five()
    late = datetime(2026, 11, 25, 17, 0, 1, tzinfo=UTC)
    out = s.data_received(peer.msg(nos("LATE"), now=late) + peer.msg("35=5", now=late), late)
    assert types(out) == ["5"]  # our Logout; the peer's, read with it, is its reply
    assert any(isinstance(e, LoggedOut) for e in out.events) and out.disconnect


def _order(cl: str, text: str | None = None) -> object:
    from gateway.fixmessage import Message

    m = Message("D")
    for tag, v in ((11, cl), (21, "1"), (38, 100), (40, "1"), (54, "1"), (55, "IBM"),
                   (58, text), (60, "20261125-12:00:00")):
        if v is not None:
            m.body.set(tag, v)
    return m


def test_sequence_reset_lower_rejected(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg("35=4|36=1", now=T0), T0)
    r = fields(out.data[0])
    assert (r[35], r[373], r[372]) == ("3", "5", "4")
    assert 371 not in r  # as QuickFIX: no RefTagID for a NewSeqNo below the expected number


def test_a_session_whose_peer_used_the_last_number_ends_with_a_logout(
        active: tuple[Session, Peer]) -> None:
    """The peer's number 999,999,999,999,999,999 (18 digits, the most MsgSeqNum takes) made
    the next expected one 19 digits: every later message was refused for its MsgSeqNum's
    format, without a Logout, for good (the store kept the number). Now the session ends
    saying why; a Logon that resets the numbers starts it again."""
    s, peer = active
    nines = "9" * 18
    s.data_received(peer.msg(f"35=4|123=Y|36={nines}", now=T0), T0)
    assert s.store.next_target_seq == int(nines)
    peer.seq = int(nines)
    out = s.data_received(peer.msg("35=0", now=T0), T0)
    assert types(out) == ["5"] and out.disconnect and s.state is State.DISCONNECTED
    assert fields(out.data[0])[58] == ("MsgSeqNum past 999,999,999,999,999,999: no message can "
                                      "carry the next one; log on with ResetSeqNumFlag=Y")
    s.connection_made(T0)
    out = s.data_received(Peer().logon(extra="|141=Y", now=T0), T0)
    assert types(out) == ["A"] and s.store.next_target_seq == 2


@pytest.mark.parametrize("seq", [1, 4])
def test_an_initiators_logon_answered_with_a_logout_answers_it(seq: int) -> None:
    """The acceptor refused our Logon with a Logout: no Logout back and its number unused,
    so its next Logon was "too high" (a ResendRequest for the Logout). Now it is answered
    and, when it is the number expected, its number is used, as QuickFIX/J does."""
    s = initiator()
    s.connection_made(T0)
    out = s.data_received(Peer(sender="ISLD", target="TW", seq=seq).msg(
        "35=5|58=not now", now=T0), T0)
    assert types(out) == ["5"] and out.disconnect
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (3, 2 if seq == 1 else 1)
    s.connection_made(T0)  # a Logout from other CompIDs: not answered, its number not ours
    out = s.data_received(Peer(sender="XX", target="TW", seq=2).msg("35=5", now=T0), T0)
    assert types(out) == [] and out.disconnect
    assert s.store.next_target_seq == (2 if seq == 1 else 1)


def test_past_the_last_number_an_initiator_logs_on_with_a_reset() -> None:
    """Our side as initiator: it logged on again without ResetSeqNumFlag, expecting a number
    no message can carry, and was refused at every reconnect."""
    store = MemoryStore(T0)
    store.set_next_sender_seq(8)
    store.set_next_target_seq(10**18)
    s = initiator(store)
    [logon] = [fields(raw) for raw in s.connection_made(T0).data]
    assert (logon[35], logon[34], logon[141]) == ("A", "1", "Y")
    assert (store.next_sender_seq, store.next_target_seq) == (2, 1)


def test_a_logout_numbered_the_last_number_gets_one_logout(
        active: tuple[Session, Peer]) -> None:
    """It got two: the answer, then the one saying the numbers are spent."""
    s, peer = active
    nines = 10**18 - 1
    s.data_received(peer.msg(f"35=4|123=Y|36={nines}", now=T0), T0)
    peer.seq = nines
    out = s.data_received(peer.msg("35=5", now=T0), T0)
    assert types(out) == ["5"] and out.disconnect and 58 not in fields(out.data[0])


@pytest.mark.parametrize("header", ["", "43=Y"])
def test_logout_handshake(active: tuple[Session, Peer], header: str) -> None:
    """A Logout is answered, PossDupFlag without OrigSendingTime too (it was rejected, 373=1
    on 122, and the session stayed up while the peer waited for our Logout)."""
    s, peer = active
    out = s.data_received(peer.msg("35=5", now=T0, header=header), T0)
    assert types(out) == ["5"] and out.disconnect and s.store.next_target_seq == 3


@pytest.mark.parametrize("extra", ["", "|141=Y"])
def test_a_logon_while_our_logout_is_pending_disconnects(active: tuple[Session, Peer],
                                                         extra: str) -> None:
    """A hostile or confused peer answers our Logout with a Logon (with or without a reset):
    the session ends, without a reply, as for a second Logon (it raised a TransitionError
    out of data_received before)."""
    s, peer = active
    assert types(s.logout(T0, "end of day")) == ["5"] and s.state is State.LOGOUT_SENT
    out = s.data_received(peer.logon(extra=extra, now=T0), T0)
    assert out.data == [] and out.disconnect and s.state is State.DISCONNECTED


@pytest.mark.parametrize("hb", ["-5", "300000000000", "86401"])
def test_a_heartbeat_interval_out_of_range_logs_the_peer_out(hb: str) -> None:
    """A HeartBtInt no timer can use (negative, or beyond a day) ends the session with a
    Logout saying so; a huge one overflowed the deadline's datetime arithmetic."""
    s = acceptor()
    s.connection_made(T0)
    out = s.data_received(Peer().msg(f"35=A|98=0|108={hb}", now=T0), T0)
    assert types(out) == ["5"] and out.disconnect and s.state is State.DISCONNECTED
    assert fields(out.data[0])[58] == f"HeartBtInt {hb} out of range (0 to 86400 seconds)"
    assert s.next_deadline() is None


def test_a_reset_logon_with_wrong_comp_ids_resets_nothing(active: tuple[Session, Peer]) -> None:
    """Mid-session, a Logon with ResetSeqNumFlag but another TargetCompID is rejected and
    logged out under the session's own numbers: the store is not reset by it."""
    s, peer = active
    for i in range(3):
        s.send(_order(f"O{i}"), T0)  # numbers 2-4
    stranger = Peer(target="OTHER")
    stranger.seq = peer.seq
    out = s.data_received(stranger.logon(extra="|141=Y", now=T0), T0)
    assert types(out) == ["3", "5"] and fields(out.data[0])[373] == "9"
    assert [fields(raw)[34] for raw in out.data] == ["5", "6"]
    assert [m.seq for m in s.store.sent(1, 10)] == [1, 2, 3, 4, 5, 6]


def test_an_initiators_logon_answered_with_wrong_comp_ids_is_not_a_session() -> None:
    """Our Logon answered by a Logon naming other CompIDs: disconnect, nothing after it is
    taken as the session's (an application message once reached the application)."""
    s = initiator()
    s.connection_made(T0)
    out = s.data_received(Peer(sender="ISLD", target="OTHER").logon(now=T0), T0)
    assert out.data == [] and out.disconnect and not s.logged_on


def test_an_initiators_logon_answered_with_a_reset_resets_and_confirms() -> None:
    """The acceptor answers our Logon (number 8, no reset asked) with ResetSeqNumFlag=Y,
    numbered 1: we reset too and confirm with a Logon numbered 1, as QuickFIX does (it
    used to be "MsgSeqNum too low" and a Logout, on every reconnect)."""
    store = MemoryStore(T0)
    store.set_next_sender_seq(8)
    store.set_next_target_seq(8)
    s = initiator(store)
    assert fields(s.connection_made(T0).data[0])[34] == "8"
    out = s.data_received(Peer(sender="ISLD", target="TW").logon(extra="|141=Y", now=T0), T0)
    assert s.logged_on and not out.disconnect
    [confirm] = [fields(r) for r in out.data]
    assert (confirm[35], confirm[34], confirm[141]) == ("A", "1", "Y")
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (2, 2)
    # an acceptor that takes the confirm for a reset request answers it (numbered 1 again):
    # that answer is taken, not answered in turn (the two sides once did so for ever)
    acceptor = Peer(sender="ISLD", target="TW")
    answer = s.data_received(acceptor.logon(extra="|141=Y", now=T0), T0)
    assert answer.data == [] and s.logged_on and s.store.next_target_seq == 2
    out = s.data_received(acceptor.msg("35=1|112=T", now=T0), T0)  # numbered 2
    assert types(out) == ["0"] and s.store.next_sender_seq == 3
    # a later reset Logon is a request of the peer's own: answered
    again = s.data_received(Peer(sender="ISLD", target="TW").logon(extra="|141=Y", now=T0), T0)
    assert [fields(r)[141] for r in again.data] == ["Y"]


def test_a_reset_request_after_a_confirm_nobody_answered_is_answered() -> None:
    """The acceptor does not answer our confirm (QuickFIX does not): once it sends anything
    else, a later reset Logon of its own is a request again, answered."""
    store = MemoryStore(T0)
    store.set_next_sender_seq(8)
    store.set_next_target_seq(8)
    s = initiator(store)
    s.connection_made(T0)
    acceptor = Peer(sender="ISLD", target="TW")
    s.data_received(acceptor.logon(extra="|141=Y", now=T0), T0)
    s.data_received(acceptor.msg("35=0", now=T0), T0)  # a Heartbeat: the peer went on
    later = s.data_received(Peer(sender="ISLD", target="TW").logon(extra="|141=Y", now=T0), T0)
    assert [(fields(r)[35], fields(r)[141]) for r in later.data] == [("A", "Y")]


def test_heartbtint_0_turns_heartbeats_off() -> None:
    """A Logon with HeartBtInt 0: the reply says 0 and neither side heartbeats or tests
    the other's silence (QuickFIX's rule), however long it lasts."""
    s = acceptor()
    s.connection_made(T0)
    out = s.data_received(Peer().logon(hb=0, now=T0), T0)
    assert fields(out.data[0])[108] == "0"
    assert s.logged_on and s.next_deadline() is None
    later = s.on_timer(T0 + timedelta(hours=2))
    assert later.data == [] and not later.disconnect


@pytest.mark.parametrize("answer", [0, 600])
def test_an_initiator_keeps_the_heartbtint_it_asked_for(answer: int) -> None:
    """The acceptor's Logon answering 0 (or 600) set ours: no heartbeat and no TestRequest
    for good, a dead link never found. QuickFIX and QuickFIX/J keep the initiator's own."""
    s = initiator(heartbeat_interval=2)
    s.connection_made(T0)
    s.data_received(Peer(sender="ISLD", target="TW").logon(hb=answer, now=T0), T0)
    assert s.logged_on and s.heartbeat_interval == 2
    assert types(s.on_timer(T0 + timedelta(seconds=2))) == ["0"]


def test_after_a_refused_logon_nothing_is_a_session_message() -> None:
    """A Logon refused with Reject and Logout (here a PossDup copy whose OrigSendingTime is
    after its SendingTime) leaves the session waiting for the peer's Logout, never logged
    on: an order that comes next is not the session's (it reached the application)."""
    s = acceptor()
    s.connection_made(T0)
    peer = Peer()
    out = s.data_received(
        peer.logon(now=T0, header=f"43=Y|122={ts(T0 + timedelta(seconds=1))}"), T0)
    assert types(out) == ["3", "5"] and s.state is State.LOGOUT_SENT and not s.logged_on
    out = s.data_received(peer.msg(nos(), now=T0), T0)
    assert not any(isinstance(e, AppMessage) for e in out.events)
    assert out.disconnect and s.state is State.DISCONNECTED


def test_wrong_begin_string_after_logon(active: tuple[Session, Peer]) -> None:
    """QuickFIX's answer (test case 2i): Logout "Incorrect BeginString", the message's
    number used up, and the session ends when the peer's Logout answers ours (it used to
    disconnect at once, resetting what the peer had sent behind it, and expected the
    number again at the next logon)."""
    s, peer = active
    raw = frame("FIX.4.2", f"35=0|34=2|49=TW|52={ts(T0)}|56=ISLD")
    peer.seq = 3
    out = s.data_received(raw + peer.msg("35=0", now=T0), T0)
    assert types(out) == ["5"] and fields(out.data[0])[58] == "Incorrect BeginString"
    assert not out.disconnect and s.state is State.LOGOUT_SENT
    assert s.store.next_target_seq == 4  # its number, and the Heartbeat's behind it
    out = s.data_received(peer.msg("35=5", now=T0), T0)
    assert out.disconnect and types(out) == []


def test_events_are_typed(active: tuple[Session, Peer]) -> None:
    s, peer = active
    out = s.data_received(peer.msg(nos(), now=T0), T0)
    assert any(isinstance(e, AppMessage) for e in out.events)
    assert not any(isinstance(e, (Disconnect, RejectSent, LoggedOn)) for e in out.events)


@pytest.mark.parametrize(("begin", "reason", "has_373"), [
    ("FIX.4.2", SessionRejectReason.INVALID_MSGTYPE, True),
    ("FIX.4.2", SessionRejectReason.TAG_APPEARS_MORE_THAN_ONCE, False),
    ("FIX.4.4", SessionRejectReason.TAG_APPEARS_MORE_THAN_ONCE, True),
])
def test_reject_reason_only_where_the_version_defines_it(
        begin: str, reason: SessionRejectReason, has_373: bool) -> None:
    msg = admin.reject(Reject(reason, ref_tag=55, ref_seq_num=7), begin)
    assert (373 in msg.body) == has_373
    assert msg.body.get_str(58) == reason.text and msg.body.get_int(45) == 7


def test_a_session_connected_before_its_start_still_ends_at_its_end() -> None:
    """The period end comes from the Logon, not the connection: a peer that connects half a
    second before the start and logs on after it is logged out at the end like any other."""
    from datetime import time

    from gateway.schedule import Schedule

    schedule = Schedule(time(8), time(17))
    connected = datetime(2026, 11, 25, 7, 59, 59, 500000, tzinfo=UTC)
    cfg = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", schedule=schedule)
    s = Session(cfg, MemoryStore(connected - timedelta(days=1)), builtin_session("FIX.4.4"),
                app_types=frozenset({"D"}))
    s.connection_made(connected)
    peer = Peer()
    logon_at = datetime(2026, 11, 25, 8, 0, 0, 200000, tzinfo=UTC)
    assert [fields(r)[35] for r in s.data_received(peer.logon(now=logon_at), logon_at).data] == [
        "A"]
    end = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert s.next_deadline() is not None and s.next_deadline() <= end + timedelta(seconds=1)
    late = end + timedelta(minutes=1)
    out = s.data_received(peer.msg("35=D|11=LATE|21=1|38=100|40=1|54=1|55=IBM|"
                                   "60=20261125-17:01:00", now=late), late)
    assert [fields(r)[35] for r in out.data] == ["5"]  # the Logout, and the order not taken
    assert not any(isinstance(e, AppMessage) for e in out.events)


def test_a_logon_just_after_the_start_on_a_connection_made_before_it_starts_over() -> None:
    """The check for a new period ran only as the connection was made, still yesterday's
    period: the day's first Logon (34=1) was refused, "MsgSeqNum too low, expecting 43",
    whenever the peer's clock ran half a second ahead. QuickFIX resets at that Logon."""
    from datetime import time

    from gateway.schedule import Schedule

    yesterday = datetime(2026, 11, 24, 9, tzinfo=UTC)
    cfg = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor",
                        schedule=Schedule(time(8), time(17)))
    store = MemoryStore(yesterday)
    store.set_next_target_seq(43)
    store.set_next_sender_seq(3)
    s = Session(cfg, store, builtin_session("FIX.4.4"), app_types=frozenset({"D"}))
    s.connection_made(datetime(2026, 11, 25, 7, 59, 59, 500000, tzinfo=UTC))
    logon_at = datetime(2026, 11, 25, 8, 0, 0, 200000, tzinfo=UTC)
    [answer] = s.data_received(Peer().logon(now=logon_at), logon_at).data
    assert (fields(answer)[35], fields(answer)[34]) == ("A", "1")
    assert (store.next_target_seq, store.next_sender_seq) == (2, 2)
    assert store.creation_time == logon_at


def fixt_acceptor(app_version: str = "FIX.5.0SP2") -> tuple[Session, Peer]:
    cfg = SessionConfig("FIXT.1.1", "ISLD", "TW", role="acceptor",
                        default_appl_ver_id=app_version)
    s = Session(cfg, MemoryStore(T0), builtin_session("FIXT.1.1", app_version),
                app_types={"D", "C", "d"})
    s.connection_made(T0)
    peer = Peer()
    peer.begin = "FIXT.1.1"
    return s, peer


def test_a_fixt_logon_declaring_another_application_version_is_refused() -> None:
    """What the peer will send is validated by the session's one application dictionary:
    a Logon saying its messages are FIX 4.4 (1137=6) to a FIX 5.0SP2 session was accepted,
    and its messages judged by 5.0SP2 rules."""
    s, peer = fixt_acceptor()
    out = s.data_received(peer.logon(now=T0, extra="|1137=6"), T0)
    assert types(out) == ["5"] and out.disconnect
    assert fields(out.data[0])[58] == ("DefaultApplVerID (1137) 6 is not supported: this "
                                       "session's application messages are 9 (FIX.5.0SP2)")
    s, peer = fixt_acceptor("FIX.4.4")
    out = s.data_received(peer.logon(now=T0, extra="|1137=6"), T0)
    assert types(out) == ["A"] and fields(out.data[0])[1137] == "6"


def test_a_fixt_application_message_of_another_version_is_rejected_with_reason_18() -> None:
    s, peer = fixt_acceptor()
    assert types(s.data_received(peer.logon(now=T0, extra="|1137=9"), T0)) == ["A"]
    out = s.data_received(peer.msg(nos(), now=T0, header="1128=6"), T0)
    (reject,) = [fields(raw) for raw in out.data]
    assert (reject[35], reject[373], reject[371], reject[45], reject[58]) == (
        "3", "18", "1128", "2", "Invalid/Unsupported Application Version")
    assert not any(isinstance(e, AppMessage) for e in out.events)
    assert s.store.next_target_seq == 3  # its number used, as for any Reject
    out = s.data_received(peer.msg(nos(), now=T0, header="1128=9"), T0)
    assert any(isinstance(e, AppMessage) for e in out.events) and types(out) == []


def test_a_business_message_reject_is_never_answered_with_one(active: tuple[Session,
                                                                           Peer]) -> None:
    """A MsgType the application does not take gets a BusinessMessageReject (380=3), but a
    BusinessMessageReject itself got one too: a QuickFIX client whose application raises
    UnsupportedMessageType for our reject answered it in kind, and the two sides traded
    11,000 rejects in 3 s. It is taken (its number used), not answered."""
    s, peer = active
    out = s.data_received(peer.msg("35=R|131=Q1|146=1|55=IBM", now=T0), T0)
    [reject] = out.data
    assert (fields(reject)[35], fields(reject)[372], fields(reject)[380]) == ("j", "R", "3")
    theirs = peer.msg(f"35=j|45={fields(reject)[34]}|372=j|380=3|58=Unsupported", now=T0)
    out = s.data_received(theirs, T0)
    assert out.data == [] and s.store.next_target_seq == peer.seq
    out = s.data_received(peer.msg("35=0", now=T0), T0)  # and the session goes on
    assert out.data == [] and not out.disconnect and s.store.next_target_seq == peer.seq
