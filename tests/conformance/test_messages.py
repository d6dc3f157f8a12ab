"""Conformance: message handling (2a-2t), garbling (3b-3c), Reject (7), field order (15),
PossResend (19), NumInGroup zero (21) and validation rejects (14a-14i), over TCP."""

from __future__ import annotations

import pytest

from tests.conformance.harness import Client, nos
from tests.fixpeer import frame


def test_2a_msg_seq_num_correct_is_processed(client: Client) -> None:
    client.msg(nos(client, "2A"))
    client.expect("D", **{"11": "2A", "34": "2"})


def test_2b_msg_seq_num_too_high_then_gap_filled_in_order(client: Client) -> None:
    client.peer.seq = 4
    client.msg(nos(client, "FOUR"))
    client.expect("2", **{"7": "2", "16": "0"})
    for seq, cl in ((2, "TWO"), (3, "THREE")):
        client.msg(nos(client, cl), seq=seq, header=f"43=Y|122={client.ts(-1)}")
    for cl in ("TWO", "THREE", "FOUR"):
        client.expect("D", **{"11": cl})


def test_2c_msg_seq_num_too_low_logs_out_with_reason(client: Client) -> None:
    client.msg(nos(client), seq=1)
    client.expect("5", **{"58": "MsgSeqNum too low, expecting 2 but received 1"})
    client.expect_disconnect()


@pytest.mark.parametrize("bad", ["garbled", "checksum", "body_length", "order"],
                         ids=["2d-3c-garbled", "3b-checksum", "2m-body-length",
                              "2t-first-three-out-of-order"])
def test_bad_frames_are_ignored_without_consuming_a_number(client: Client, bad: str) -> None:
    seq = client.peer.seq
    body = (f"35=D|34={seq}|49=TW|52={client.ts()}|56=ISLD|11=BAD|21=1|38=1|40=1|54=1|55=X"
            f"|60={client.ts()}")
    if bad == "garbled":
        raw = frame("FIX.4.4", body.replace("|21=1|", "|21=1|garbage|"))
    elif bad == "checksum":
        raw = frame("FIX.4.4", body, checksum=1)
    elif bad == "body_length":
        raw = frame("FIX.4.4", body, body_length=20)
    else:
        good = frame("FIX.4.4", body)
        raw = good.replace(b"9=", b"35=D\x019=", 1).replace(b"\x0135=D\x0134", b"\x0134", 1)
    client.send(raw)
    client.msg(nos(client, "GOOD"))
    client.expect("D", **{"11": "GOOD", "34": "2"})


def test_2m_too_long_body_length_swallows_the_next_message(client: Client) -> None:
    # BodyLength is trusted, as QuickFIX trusts it: the message runs on to the next CheckSum,
    # so the one sent right after it is lost with it, and the peer sends both again
    seq = client.peer.seq
    body = (f"35=D|34={seq}|49=TW|52={client.ts()}|56=ISLD|11=LONG|21=1|38=1|40=1|54=1|55=X"
            f"|60={client.ts()}")
    client.send(frame("FIX.4.4", body, body_length=len(body) + 40))
    client.msg(nos(client, "EATEN"), seq=seq + 1, bump=False)
    client.msg(nos(client, "AGAIN"), seq=seq, bump=False)
    client.msg(nos(client, "NEXT"), seq=seq + 1)
    client.expect("D", **{"11": "AGAIN", "34": "2"})
    client.expect("D", **{"11": "NEXT", "34": "3"})


def test_2e_poss_dup_already_received_is_ignored(client: Client) -> None:
    client.msg(nos(client, "ONCE"))
    client.expect("D")
    client.msg(nos(client, "ONCE"), seq=2, header=f"43=Y|122={client.ts(-1)}")
    client.msg(nos(client, "NEXT"))
    client.expect("D", **{"11": "NEXT"})


def test_2e_poss_dup_not_received_is_processed(client: Client) -> None:
    client.msg(nos(client, "PD"), header=f"43=Y|122={client.ts(-1)}")
    client.expect("D", **{"11": "PD"})


def test_2f_orig_sending_time_after_sending_time(client: Client) -> None:
    client.msg(nos(client), seq=1, header=f"43=Y|122={client.ts(+60)}")
    client.expect("3", absent=(371,), **{"373": "10", "45": "1", "372": "D"})
    client.expect("5")


def test_2g_poss_dup_without_orig_sending_time(client: Client) -> None:
    client.msg(nos(client), seq=1, header="43=Y")
    client.expect("3", **{"373": "1", "371": "122", "45": "1"})


def test_2i_begin_string_unexpected(client: Client) -> None:
    client.peer.begin = "FIX.4.2"
    wrong = client.peer.msg("35=0", now=client.now)
    client.peer.begin = "FIX.4.4"
    # Heartbeats right behind it, more than one read takes, still unread when the gateway
    # ends the connection: it must close cleanly all the same, not reset the connection,
    # which would discard its Logout on our side before we read it.
    client.send(wrong + b"".join(client.peer.msg("35=0", now=client.now) for _ in range(3000)))
    client.expect("5", **{"58": "Incorrect BeginString"})
    client.expect_disconnect()


def test_2k_comp_id_does_not_match_profile(client: Client) -> None:
    client.peer.sender = "WRONG"
    client.msg("35=0")
    client.expect("3", absent=(371,), **{"373": "9", "45": "2", "58": "CompID problem"})
    client.expect("5")
    client.expect_disconnect(timeout=5)  # logout timeout is 2 s


def test_2o_sending_time_out_of_range(client: Client) -> None:
    client.msg("35=0", sending_time=client.ts(-600))
    client.expect("3", absent=(371,),
                  **{"373": "10", "45": "2", "58": "SendingTime accuracy problem"})
    client.expect("5")


def test_2q_msg_type_not_valid(client: Client) -> None:
    client.msg("35=ZZ")
    client.expect("3", absent=(371,),
                  **{"373": "11", "372": "ZZ", "45": "2", "58": "Invalid MsgType"})
    client.msg(nos(client, "AFTER"))
    client.expect("D", **{"11": "AFTER"})


def test_2r_unregistered_msg_type_gets_business_reject(client: Client) -> None:
    client.msg("35=B|148=Headline|33=1|58=line")
    client.expect("j", **{"380": "3", "372": "B", "45": "2", "58": "Unsupported Message Type"})


def test_7_received_reject_only_advances(client: Client) -> None:
    client.msg("35=3|45=1|58=whatever")
    client.msg(nos(client, "AFTER"))
    client.expect("D", **{"11": "AFTER"})


def test_15_header_and_body_fields_in_another_order(client: Client) -> None:
    body = (f"35=D|52={client.ts()}|56=ISLD|49=TW|34={client.peer.seq}|60={client.ts()}"
            "|55=INTC|54=1|40=1|38=100|21=1|11=ORDER")
    client.peer.seq += 1
    client.send(frame("FIX.4.4", body))
    client.expect("D", **{"11": "ORDER"})


def test_19_poss_resend(client: Client) -> None:
    client.msg(nos(client, "PR1"), header="97=Y")  # not seen before: processed
    client.expect("D", **{"11": "PR1", "97": "Y"})
    client.msg(nos(client, "PR1"), header="97=Y")  # seen: ignored
    client.msg(nos(client, "PR2"))
    client.expect("D", **{"11": "PR2"})


def test_21_num_in_group_zero(client: Client) -> None:
    client.msg(nos(client, "G0") + "|453=0")
    client.expect("D", **{"11": "G0"})


@pytest.mark.parametrize(
    ("extra", "reason", "ref_tag", "text"),
    [
        ("|4999=X", "0", "4999", "Invalid tag number"),  # 14a: no such tag
        ("|5999=X", "0", "5999", "Invalid tag number"),  # user-defined, not in dictionary
        ("|58=", "4", "58", "Tag specified without a value"),  # 14d
        ("|336=X", "2", "336", "Tag not defined for this message type"),  # 14c
        ("|59=Z", "5", "59", "Value is incorrect (out of range) for this tag"),  # 14e
        ("|44=ABC", "6", "44", "Incorrect data format for value"),  # 14f
        ("|55=DUP", "13", "55", "Tag appears more than once"),  # 14h
        ("|453=2|448=P1|447=D|452=1", "16", "453",
         "Incorrect NumInGroup count for repeating group"),  # 14i
    ],
    ids=["14a", "14a-user-defined", "14d", "14c", "14e", "14f", "14h", "14i"],
)
def test_14_validation_rejects(client: Client, extra: str, reason: str, ref_tag: str,
                               text: str) -> None:
    client.msg(nos(client, "V") + extra)
    client.expect("3", **{"373": reason, "371": ref_tag, "372": "D", "45": "2", "58": text})
    client.msg(nos(client, "NEXT"))  # the rejected message consumed its number
    client.expect("D", **{"11": "NEXT", "34": "3"})


def test_14b_required_field_missing(client: Client) -> None:
    client.msg(f"35=D|21=1|38=100|40=1|54=1|55=INTC|60={client.ts()}")
    client.expect("3", **{"373": "1", "371": "11", "58": "Required tag missing"})


@pytest.mark.parametrize("tag", ["0", "-1"])
def test_14a_tag_number_zero_or_negative_is_rejected_and_counted(client: Client,
                                                                   tag: str) -> None:
    client.msg(f"35=0|{tag}=HI")
    client.expect("3", **{"373": "0", "371": tag, "372": "0", "45": "2",
                          "58": "Invalid tag number"})
    client.msg(nos(client, "NEXT"))  # 34=3: the rejected message used up 34=2
    client.expect("D", **{"11": "NEXT"})


def test_reject_of_an_invalid_message_reverses_its_routing(client: Client) -> None:
    # OnBehalfOf* become DeliverTo* and back, as on any reply (QuickFIX's ReverseRoute)
    client.msg(nos(client, "RR").replace("40=1", "40=Z"), header="115=JCD|128=KOD|144=NY")
    client.expect("3", **{"373": "5", "371": "40", "128": "JCD", "115": "KOD", "145": "NY"})


def test_reject_leaves_out_empty_routing_fields(client: Client) -> None:
    client.msg(nos(client, "RE"), header="115=JCD|116=")
    client.expect("3", absent=(129,), **{"373": "4", "371": "116", "128": "JCD",
                                         "58": "Tag specified without a value"})


def test_14g_header_field_after_body_field(client: Client) -> None:
    client.msg(nos(client, "HB") + "|115=ONBEHALF")
    client.expect("3", **{"373": "14", "371": "115",
                          "58": "Tag specified out of required order"})
