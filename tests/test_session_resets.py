"""When a session starts its numbers over, and what a reset leaves behind: the configured
resets (on logout, on disconnect), SequenceReset-Reset, a Logon with ResetSeqNumFlag from
either side, and the checks around logging on (the logon timeout, credentials, a wrong
BeginString). The sans-IO core in memory, as tests/test_session_core.py drives it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.session import Session
from gateway.session_state import State
from tests.fixpeer import Peer, fields
from tests.test_session_core import T0, _order, acceptor, initiator, nos, types


def _logged_on(**kw: object) -> tuple[Session, Peer]:
    """An acceptor logged on at T0 that has received one order and sent one report."""
    s = acceptor(**kw)
    s.connection_made(T0)
    peer = Peer()
    assert types(s.data_received(peer.logon(now=T0), T0)) == ["A"]
    s.data_received(peer.msg(nos("A1"), now=T0), T0)
    s.send(_order("R1"), T0)
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (3, 3)
    return s, peer


@pytest.mark.parametrize("reset", [True, False])
def test_reset_on_logout_starts_the_numbers_over_after_the_logout(reset: bool) -> None:
    s, peer = _logged_on(reset_on_logout=reset)
    out = s.data_received(peer.msg("35=5", now=T0), T0)
    assert types(out) == ["5"] and out.disconnect
    numbers = (s.store.next_sender_seq, s.store.next_target_seq)
    assert numbers == ((1, 1) if reset else (4, 4))


@pytest.mark.parametrize("reset", [True, False])
def test_reset_on_disconnect_starts_the_numbers_over_when_the_link_drops(reset: bool) -> None:
    s, _ = _logged_on(reset_on_disconnect=reset)
    s.connection_lost(T0)
    numbers = (s.store.next_sender_seq, s.store.next_target_seq)
    assert numbers == ((1, 1) if reset else (3, 3))


def test_a_sequence_reset_reset_is_taken_whatever_its_own_number() -> None:
    """Without GapFillFlag, a SequenceReset's MsgSeqNum is not checked (FIX: the Reset mode
    is the recovery from a lost store): numbered below what is expected, it still moves the
    expected number to NewSeqNo, and the session stays up."""
    s, peer = _logged_on()
    out = s.data_received(peer.msg("35=4|36=20", seq=1, now=T0), T0)
    assert types(out) == [] and not out.disconnect
    assert s.store.next_target_seq == 20 and s.state is State.ACTIVE


def test_the_logon_timeout_ends_a_connection_at_its_deadline() -> None:
    """A clock driven by next_deadline() (the virtual clock of a backtest) calls on_timer at
    exactly that time: the timeout has run out then, not a tick later."""
    s = acceptor()
    s.connection_made(T0)
    deadline = s.next_deadline()
    assert deadline == T0 + timedelta(seconds=s.config.logon_timeout)
    assert s.on_timer(deadline).disconnect


def test_a_wrong_beginstring_while_our_logout_waits_sends_no_second_logout() -> None:
    s, _ = _logged_on()
    wrong = Peer(begin="FIX.4.2", seq=3)
    assert types(s.data_received(wrong.msg(nos("B1"), now=T0), T0)) == ["5"]
    sent_at = s.logout_sent_at
    later = T0 + timedelta(seconds=1)
    assert types(s.data_received(wrong.msg(nos("B2"), now=later), later)) == []
    assert s.logout_sent_at == sent_at  # its timeout runs from the first


def test_a_username_without_a_configured_password_refuses_every_logon() -> None:
    """A session set up with a username but no password (its environment variable unset)
    does not take a Logon that sends none: credentials fail closed."""
    s = acceptor(username="trader")
    s.connection_made(T0)
    out = s.data_received(Peer().logon(extra="|553=trader", now=T0), T0)
    assert s.state is not State.ACTIVE and types(out) in (["5"], [])


def test_an_initiators_own_reset_answered_with_a_reset_is_one_logon_exchange() -> None:
    """We logged on with ResetSeqNumFlag; the acceptor's answer carries it too, as FIX says:
    that is the reset we asked for, not another one asked of us (which would reset again and
    send a second Logon)."""
    s = initiator(reset_on_logon=True)
    [logon] = [fields(raw) for raw in s.connection_made(T0).data]
    assert (logon[35], logon[34], logon[141]) == ("A", "1", "Y")
    out = s.data_received(Peer(sender="ISLD", target="TW").logon(extra="|141=Y", now=T0), T0)
    assert types(out) == [] and s.state is State.ACTIVE
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (2, 2)


def test_a_reset_the_acceptor_starts_sets_its_heartbeat_interval_on_the_initiator() -> None:
    """Our Logon (30 s) answered with ResetSeqNumFlag and HeartBtInt 60: the acceptor reset
    the session, and its Logon's terms are the session's now (we confirm with a Logon of
    ours numbered 1)."""
    s = initiator()
    s.connection_made(T0)
    out = s.data_received(Peer(sender="ISLD", target="TW").logon(hb=60, extra="|141=Y",
                                                                 now=T0), T0)
    assert types(out) == ["A"] and s.heartbeat_interval == 60


def test_a_reset_logon_drops_the_rest_of_a_resend_under_the_old_numbers() -> None:
    s, peer = _logged_on()
    s.resend_slice = 2
    for i in range(6):
        s.send(_order(f"O{i}"), T0)  # 3-8
    out = s.data_received(peer.msg("35=2|7=1|16=0", now=T0), T0)
    assert s.owes and len(out.data) == 2
    out = s.data_received(Peer().logon(extra="|141=Y", now=T0), T0)
    assert types(out) == ["A"] and fields(out.data[0])[34] == "1"
    assert not s.owes and s.owed_bytes == 0
