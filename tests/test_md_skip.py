"""Market-data decoding with ``on_error``: each bad line is reported with file and line, and
decoding goes on past it (the backtest's ``on_error: skip``); without it the first one raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.md_feed import MdDecoder, MdLogError

SAMPLE = Path(__file__).resolve().parents[1] / "engine" / "samples" / "AMZN-2012-06-21.md.log"


def _damaged() -> bytes:
    lines = SAMPLE.read_bytes().split(b"\n")[:12]
    bad = list(lines)
    bad[3] = b"garbage line here"                      # line 4: not a FIX message
    bad[5] = bad[5].replace(b"\x0110=", b"\x0110=9")    # line 6: CheckSum field malformed
    bad.insert(8, lines[1])                            # line 9: SendingTime goes backwards
    return b"\n".join(bad) + b"\nTRAILING junk\n"      # line 14: junk after the last message


def test_skip_reports_every_problem_and_keeps_the_good_messages() -> None:
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append)
    decoded = sum(b.count for b in decoder.decode(_damaged(), "x.log"))
    # 13 lines: one is junk, one garbled message and one backwards message are left out
    assert decoded == 10
    assert decoder.skipped == 2
    assert [(e.line, e.source) for e in errors] == [(4, "x.log"), (6, "x.log"), (9, "x.log"),
                                                    (14, "x.log")]
    assert "not a log line" in str(errors[0])
    assert "unreadable FIX message" in str(errors[1])
    assert "earlier than the message before" in str(errors[2])


def test_without_on_error_the_first_problem_stops_decoding() -> None:
    with pytest.raises(MdLogError) as info:
        sum(b.count for b in MdDecoder().decode(_damaged(), "x.log"))
    assert info.value.line == 4


def test_a_gap_in_msg_seq_num_is_an_error_at_its_line() -> None:
    lines = SAMPLE.read_bytes().split(b"\n")
    gap = b"\n".join(lines[:20] + lines[22:40])  # the messages of lines 21 and 22 are lost
    with pytest.raises(MdLogError, match=r"x\.log:21: MsgSeqNum \(34\) is 23 where 21 was "
                                         r"expected: 2 message\(s\) missing"):
        sum(b.count for b in MdDecoder(check_sequence=True).decode(gap, "x.log"))
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    assert sum(b.count for b in decoder.decode(gap, "x.log")) == 38  # nothing else is lost
    assert [e.line for e in errors] == [21]
    # a repeated message is reported and left out: the books see it once
    repeat = b"\n".join(lines[:20] + lines[19:30])
    errors.clear()
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    assert sum(b.count for b in decoder.decode(repeat, "x.log")) == 30
    assert [e.line for e in errors] == [21] and decoder.skipped == 1
    assert ("is 20 where 21 was expected: a message already applied again, or one out of "
            "order, left out") in str(errors[0])
    # a stray older number: left out, and the count goes on from before it
    stray = b"\n".join([*lines[:20], lines[18], *lines[20:30]])
    errors.clear()
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    assert sum(b.count for b in decoder.decode(stray, "x.log")) == 30
    assert [(e.line, "is 19 where 21 was expected" in str(e)) for e in errors] == [(21, True)]
    # the same when the stray one ends a chunk: the next chunk goes on from before it
    errors.clear()
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    first = b"\n".join([*lines[:20], lines[18]]) + b"\n"
    count = sum(b.count for b in decoder.decode(first, "x.log"))
    count += sum(b.count for b in decoder.decode(b"\n".join(lines[20:30]), "x.log",
                                                 line_base=22))
    assert [e.line for e in errors] == [21] and count == 30


def renumber(line: bytes, seq: int | bytes) -> bytes:
    """A log line with its message's MsgSeqNum (34) set to ``seq`` (a number, or any text)
    (BodyLength and CheckSum made again)."""
    prefix, message = line.split(b" : ", 1)
    fields = [f for f in message.split(b"\x01") if f][2:-1]  # without 8, 9 and 10
    value = b"%d" % seq if isinstance(seq, int) else seq
    fields = [b"34=" + value if f.startswith(b"34=") else f for f in fields]
    body = b"\x01".join(fields) + b"\x01"
    out = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return prefix + b" : " + out + b"10=%03d\x01" % (sum(out) % 256)


def test_a_run_of_repeats_is_left_out_to_the_last_one() -> None:
    """Messages 16 to 20 sent again after 20 (a resend of a block): each is reported and
    left out, even across a chunk, and 21 goes on without a gap."""
    lines = SAMPLE.read_bytes().split(b"\n")
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    first = b"\n".join(lines[:20] + lines[15:18]) + b"\n"
    count = sum(b.count for b in decoder.decode(first, "x.log"))
    count += sum(b.count for b in decoder.decode(b"\n".join(lines[18:30]), "x.log",
                                                 line_base=24))
    # lines 21-23 repeat 16-18; the second chunk's lines 24-25 repeat 19-20
    assert [e.line for e in errors] == [21, 22, 23, 24, 25] and count == 30
    assert all("left out" in str(e) for e in errors)


def test_a_new_count_from_1_is_reported_and_kept() -> None:
    lines = SAMPLE.read_bytes().split(b"\n")
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    # the log's messages 21 to 30 numbered anew from 1
    anew = [renumber(line, n) for n, line in enumerate(lines[20:30], 1)]
    assert sum(b.count for b in decoder.decode(b"\n".join(lines[:20] + anew), "x.log")) == 30
    anew_said = "is 1 where 21 was expected: a new count from 1 (the sender reset its numbers)"
    assert [(e.line, anew_said in str(e)) for e in errors] == [(21, True)]


def test_stopping_at_a_break_applies_nothing_of_its_message() -> None:
    """Without on_error the break raises before its message reaches a book: the error is
    the sequence's, not the book's complaint about the message that follows a gap."""
    lines = SAMPLE.read_bytes().split(b"\n")
    for damaged in (lines[:20] + lines[21:40], lines[:20] + lines[19:40]):
        got = []
        with pytest.raises(MdLogError, match=r"x\.log:21: MsgSeqNum \(34\)"):
            for batch in MdDecoder(check_sequence=True).decode(b"\n".join(damaged), "x.log"):
                got.append(batch.count)
        assert sum(got) == 20


def test_a_msg_seq_num_that_is_not_a_number_is_an_error_at_its_own_line() -> None:
    lines = SAMPLE.read_bytes().split(b"\n")[:12]
    bad = list(lines)
    bad[4] = renumber(bad[4], b"x5")
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    sum(b.count for b in decoder.decode(b"\n".join(bad), "x.log"))
    assert [(e.line, e.reason) for e in errors] == [
        (5, "MsgSeqNum (34) is missing or not a whole number")]


def test_two_messages_on_one_line_are_reported_and_both_kept() -> None:
    lines = SAMPLE.read_bytes().split(b"\n")[:12]
    joined = b"\n".join([*lines[:4], lines[4] + lines[5], *lines[6:]])  # lines 5 and 6 as one
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append)
    assert sum(b.count for b in decoder.decode(joined, "x.log")) == 12  # nothing lost
    assert decoder.skipped == 0
    assert [e.line for e in errors] == [5]
    assert "keeps that message" in str(errors[0])


def test_a_gap_left_by_unreadable_messages_is_theirs() -> None:
    """Line 5's message is garbled (the framer refuses it): it is the one problem reported,
    with or without its MsgSeqNum missing after it; a gap wider than the unreadable
    messages can explain is still reported, on the sound message after it, which is kept."""
    lines = SAMPLE.read_bytes().split(b"\n")[:12]

    def errors_of(data: bytes) -> list[MdLogError]:
        errors: list[MdLogError] = []
        decoder = MdDecoder(on_error=errors.append, check_sequence=True)
        sum(b.count for b in decoder.decode(data, "x.log"))
        return errors

    garbled = lines[4][: len(lines[4]) // 2]
    for kept in ([garbled], [garbled, lines[4]]):  # its number lost, or not a message at all
        errors = errors_of(b"\n".join([*lines[:4], *kept, *lines[5:]]))
        assert [(e.line, e.kept) for e in errors] == [(5, False)], errors
        assert "unreadable FIX message" in errors[0].reason
    errors = errors_of(b"\n".join([*lines[:4], garbled, *lines[6:]]))  # and line 6 lost
    assert [(e.line, e.kept) for e in errors] == [(5, False), (6, True)]
    assert errors[1].reason == ("MsgSeqNum (34) is 7 where 5 was expected: 2 message(s) "
                                "missing, or 1 besides the 1 unreadable before it")


def test_after_a_repeat_a_gap_the_unreadable_messages_explain_is_theirs() -> None:
    """A repeat, then two unreadable messages, then the next number but one: the two
    unreadable ones may be the number lost; no gap is reported (was: "1 message(s) missing,
    or -1 besides the 2 unreadable before it")."""
    lines = SAMPLE.read_bytes().split(b"\n")[:12]
    garbled = lines[5][: len(lines[5]) // 2]
    errors: list[MdLogError] = []
    decoder = MdDecoder(on_error=errors.append, check_sequence=True)
    sum(b.count for b in decoder.decode(
        b"\n".join([*lines[:5], lines[1], garbled, garbled, *lines[6:]]), "x.log"))
    assert [e.line for e in errors] == [6, 7, 8]
    assert "a message already applied again" in errors[0].reason
    assert all("unreadable FIX message" in e.reason for e in errors[1:])


def test_after_a_repeat_an_unnumbered_message_has_used_the_next_number() -> None:
    """As without the repeat, the message whose MsgSeqNum is not a number is taken to have
    used the next one: the message after it is in order (was: "1 message(s) missing")."""
    lines = SAMPLE.read_bytes().split(b"\n")[:12]
    unnumbered = renumber(lines[5], b"x")
    for before in ([], [lines[1]]):  # (a repeat of message 2 after 5)
        errors: list[MdLogError] = []
        decoder = MdDecoder(on_error=errors.append, check_sequence=True)
        sum(b.count for b in decoder.decode(
            b"\n".join([*lines[:5], *before, unnumbered, *lines[6:]]), "x.log"))
        assert [e.reason for e in errors][len(before):] == [
            "MsgSeqNum (34) is missing or not a whole number"], errors
