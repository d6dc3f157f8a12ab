"""Conformance: heartbeats (4a, 4b, 6), resends (8), SequenceReset (10, 11), simultaneous
ResendRequests (20), over TCP."""

from __future__ import annotations

from collections.abc import Callable

from tests.conformance.harness import Client, nos

Connect = Callable[..., Client]


def test_4a_heartbeat_after_heartbtint_of_silence(connect: Connect) -> None:
    c = connect()
    c.logon(hb=1)
    c.expect("0", timeout=3)


def test_4b_test_request_is_answered_with_its_id(client: Client) -> None:
    client.msg("35=1|112=PING-42")
    client.expect("0", **{"112": "PING-42"})


def test_6_test_request_after_silence_then_heartbeats_resume(connect: Connect) -> None:
    c = connect()
    c.logon(hb=1)
    while c._peek_type(3) == "0":  # heartbeats, then a TestRequest: we have been silent
        c.expect("0")
    c.expect("1", **{"112": "TEST"})
    c.msg("35=0|112=TEST")
    c.expect("0", timeout=3)  # regular heartbeats again


def test_6_unanswered_test_request_disconnects(connect: Connect) -> None:
    c = connect()
    c.logon(hb=1)
    seen = []
    while (raw := c._next_raw(5)) is not None:
        seen.append(raw.split(b"\x0135=", 1)[1][:1])
    assert b"1" in seen  # it asked with a TestRequest before giving up


def test_8_resend_of_admin_and_application_messages(client: Client) -> None:
    client.msg(nos(client, "R1"))
    client.expect("D", **{"34": "2"})
    client.msg(nos(client, "R2"))
    client.expect("D", **{"34": "3"})
    client.msg("35=2|7=1|16=0")
    gap = client.expect("4", **{"34": "1", "123": "Y", "36": "2", "43": "Y"})
    assert 122 in gap
    for seq, cl in (("2", "R1"), ("3", "R2")):
        resent = client.expect("D", **{"34": seq, "11": cl, "43": "Y"})
        assert resent[122] <= resent[52]


def test_8_resend_of_only_admin_messages(client: Client) -> None:
    client.msg("35=1|112=X")
    client.expect("0")
    client.msg("35=2|7=1|16=0")
    client.expect("4", **{"34": "1", "36": "3", "123": "Y"})


def test_8_resend_of_a_bounded_range(client: Client) -> None:
    for cl in ("B1", "B2", "B3"):
        client.msg(nos(client, cl))
        client.expect("D")
    client.msg("35=2|7=3|16=3")
    client.expect("D", **{"34": "3", "11": "B2", "43": "Y"})
    client.msg(nos(client, "AFTER"))
    client.expect("D", **{"11": "AFTER", "34": "5"})


def test_10_gap_fill_with_expected_seq_moves_expected(client: Client) -> None:
    client.msg("35=4|123=Y|36=10")
    client.peer.seq = 10
    client.msg(nos(client, "TEN"))
    client.expect("D", **{"11": "TEN"})


def test_10_gap_fill_with_seq_too_high_asks_for_resend(client: Client) -> None:
    client.peer.seq = 5
    client.msg("35=4|123=Y|36=10")
    client.expect("2", **{"7": "2", "16": "0"})


def test_10_gap_fill_with_seq_too_low_logs_out(client: Client) -> None:
    client.msg("35=4|123=Y|36=10", seq=1)
    client.expect("5", **{"58": "MsgSeqNum too low, expecting 2 but received 1"})
    client.expect_disconnect()


def test_11a_reset_to_higher_seq(client: Client) -> None:
    client.msg("35=4|36=20", seq=99)  # a Reset ignores its own MsgSeqNum
    client.peer.seq = 20
    client.msg(nos(client, "TWENTY"))
    client.expect("D", **{"11": "TWENTY"})


def test_11b_reset_to_equal_seq_changes_nothing(client: Client) -> None:
    client.msg("35=4|36=2", seq=2, bump=False)
    client.msg(nos(client, "SAME"))
    client.expect("D", **{"11": "SAME", "34": "2"})


def test_11c_reset_to_lower_seq_is_rejected(client: Client) -> None:
    client.msg(nos(client))
    client.expect("D")
    client.msg("35=4|36=1")
    client.expect("3", absent=(371,), **{"373": "5", "372": "4",
                                         "58": "Value is incorrect (out of range) for this tag"})


def test_20_simultaneous_resend_requests(client: Client) -> None:
    client.msg(nos(client, "OURS"))
    client.expect("D", **{"34": "2"})
    client.peer.seq = 5  # skip 3 and 4: the gateway asks for them
    client.msg(nos(client, "FIVE"))
    client.expect("2", **{"7": "3", "16": "0", "34": "3"})
    client.msg("35=2|7=1|16=0")  # our own ResendRequest while the gateway's is outstanding
    client.expect("4", **{"34": "1", "36": "2", "123": "Y"})
    client.expect("D", **{"34": "2", "11": "OURS", "43": "Y"})
    client.expect("4", **{"34": "3", "36": "4", "123": "Y"})
    # now answer the gateway's request: 3-4 were nothing, 5 is the order, 6 our request
    client.msg("35=4|123=Y|36=5", seq=3, header=f"43=Y|122={client.ts(-1)}")
    client.expect("D", **{"11": "FIVE"})
    client.msg("35=4|123=Y|36=7", seq=6, header=f"43=Y|122={client.ts(-1)}")
    client.peer.seq = 7
    client.msg(nos(client, "AFTER"))
    client.expect("D", **{"11": "AFTER"})
