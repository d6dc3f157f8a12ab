"""Conformance: logon (1a-1e) and logout (13b), over TCP against the acceptance profile."""

from __future__ import annotations

from collections.abc import Callable

from tests.conformance.harness import Client, nos
from tests.fixpeer import frame

Connect = Callable[..., Client]


def test_1a_valid_logon_with_correct_msg_seq_num(connect: Connect) -> None:
    c = connect()
    reply = c.logon()
    assert (reply[34], reply[98], reply[108]) == ("1", "0", "30")
    c.msg("35=5")
    c.expect("5")
    c.expect_disconnect()


def test_1a_logon_msg_seq_num_too_high_gets_logon_then_resend_request(connect: Connect) -> None:
    c = connect()
    c.peer.seq = 5
    c.logon()
    c.expect("2", **{"7": "1", "16": "0"})


def test_1b_duplicate_identity_is_disconnected_without_reply(connect: Connect) -> None:
    first = connect()
    first.logon()
    second = connect()
    second.send(second.peer.logon(now=second.now))
    second.expect_disconnect()
    first.msg(nos(first, "STILL-UP"))
    first.expect("D", **{"11": "STILL-UP"})


def test_1c_unknown_comp_ids_are_disconnected_without_reply(connect: Connect) -> None:
    for target in ("NOBODY",):
        c = connect(target)
        c.send(c.peer.logon(now=c.now))
        c.expect_disconnect()
    c = connect()
    c.peer.target = "NOT_ISLD"
    c.send(c.peer.logon(now=c.now))
    c.expect_disconnect()


def test_1d_logon_with_bad_sending_time_disconnects(connect: Connect) -> None:
    c = connect()
    c.send(c.peer.logon(sending_time=c.ts(-1000)))
    c.expect_disconnect()


def test_1d_logon_with_wrong_begin_string_disconnects(connect: Connect) -> None:
    c = connect(begin="FIX.4.2")  # TW is a FIX.4.4 session
    c.send(c.peer.logon(now=c.now))
    c.expect_disconnect()


def test_1d_garbled_logon_disconnects(connect: Connect) -> None:
    c = connect()
    body = f"35=A|34=1|49=TW|52={c.ts()}|56=ISLD|98=0|108=30"
    c.send(frame("FIX.4.4", body, body_length=5))
    c.expect_disconnect()


def test_1e_first_message_not_logon_disconnects(connect: Connect) -> None:
    c = connect()
    c.msg("35=0")
    c.expect_disconnect()


def test_second_logon_on_active_session_disconnects(connect: Connect) -> None:
    c = connect()
    c.logon()
    c.send(c.peer.logon(now=c.now))
    c.expect_disconnect()


def test_reset_seq_num_flag_mid_session_resets_both_sides(connect: Connect) -> None:
    c = connect()
    c.logon()
    c.msg(nos(c, "A"))
    c.expect("D")
    c.peer.seq = 1
    reply = c.logon(extra="|141=Y")
    assert (reply[34], reply[141]) == ("1", "Y")
    c.msg(nos(c, "B"))
    c.expect("D", **{"34": "2", "11": "B"})


def test_13b_unsolicited_logout_is_answered_then_disconnected(client: Client) -> None:
    client.msg("35=5|58=bye")
    client.expect("5")
    client.expect_disconnect()


def test_logout_with_msg_seq_num_too_high_is_still_answered(client: Client) -> None:
    client.peer.seq += 5
    client.msg("35=5")
    client.expect("5")
    client.expect_disconnect()


def test_fix42_and_no_check_fields_sessions_log_on(connect: Connect) -> None:
    c = connect("TW42", "FIX.4.2")
    c.logon()
    c.msg(nos(c, "42"))
    c.expect("D", **{"11": "42"})
    n = connect("NO_CHECK_FIELDS_HAVE_VALUES")
    n.logon()
    n.msg(nos(n, "NC") + "|58=")  # an empty value is let through on this session
    n.expect("D", **{"11": "NC"})
