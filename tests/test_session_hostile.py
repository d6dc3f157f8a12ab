"""A hostile or broken peer against the sans-IO session: whatever well-framed messages it
sends (any MsgType, any fields and values, any MsgSeqNum, PossDup or not, resend requests and
sequence resets of any range), the session never raises, every byte it writes is a sound
FIX message, and its numbers stay valid. (Garbled bytes are the framer's, fuzzed in C.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.framing import Framer, FrameStatus
from fixspec.dictionary import builtin_session
from gateway.config import SessionConfig
from gateway.session import Session
from gateway.session_state import State
from gateway.store import MemoryStore
from tests.fixpeer import Peer

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MSG_TYPES = ["0", "1", "2", "3", "4", "5", "A", "D", "F", "G", "H", "8", "9", "j", "V", "Z",
             "AE", "BE", "", "DD"]
# tags a message may carry: session fields the layer acts on, order fields, groups
TAGS = [7, 16, 36, 43, 45, 58, 97, 98, 108, 112, 122, 123, 141, 371, 372, 373, 380, 553, 554,
        789, 11, 21, 38, 40, 44, 54, 55, 59, 60, 37, 41, 150, 39, 78, 79, 80, 453, 448, 447, 452,
        627, 628, 629, 630, 34, 52, 49, 56, 9999, 5000]
VALUES = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.sampled_from(["Y", "N", "", "0", "1", "2", "4", "20261126-12:00:00", "20261126-11:59:00",
                     "20991231-23:59:59.999", "X" * 300, "1e9", "-0", "\u00e9"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="|"),
            max_size=12),
)


@st.composite
def message(draw: st.DrawFn) -> tuple[str, int | None, str]:
    """(body, MsgSeqNum or None for the next, extra header) of one message."""
    msg_type = draw(st.sampled_from(MSG_TYPES))
    pairs = draw(st.lists(st.tuples(st.sampled_from(TAGS), VALUES), max_size=8))
    body = "|".join([f"35={msg_type}", *(f"{t}={v}" for t, v in pairs)])
    seq = draw(st.one_of(st.none(), st.integers(0, 40), st.just(10**9)))
    header = draw(st.sampled_from(["", "43=Y", "43=Y|122=20261126-11:59:00",
                                   "43=Y|122=20261126-12:01:00", "97=Y"]))
    return body, seq, header


def _sound(data: bytes) -> bool:
    batch = Framer().scan(data, final=True)
    return len(batch) == 1 and batch.status(0) == FrameStatus.OK and batch.ends[0] == len(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message(), min_size=1, max_size=25), st.booleans())
def test_no_message_sequence_breaks_the_session(script: list[tuple[str, int | None, str]],
                                                 logged_on: bool) -> None:
    cfg = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", max_queued=10)
    session = Session(cfg, MemoryStore(T0), builtin_session("FIX.4.4"),
                      app_types={"D", "F", "G", "H"})
    session.resend_slice = 2  # resends in slices, with the peer's messages in between
    session.connection_made(T0)
    peer = Peer()
    now = T0
    if logged_on:
        session.data_received(peer.logon(now=now), now)
    for body, seq, header in script:
        now += timedelta(milliseconds=300)
        out = session.data_received(peer.msg(body, now=now, seq=seq, header=header), now)
        assert all(_sound(d) for d in out.data), out.data
        out = session.on_timer(now)
        assert all(_sound(d) for d in out.data), out.data
        if session.owes:  # one slice of a resend, as a transport writes them
            out = session.send_owed(now)
            assert out.data and all(_sound(d) for d in out.data), out.data
        store = session.store
        assert store.next_sender_seq >= 1 and store.next_target_seq >= 1
        assert len(session.queue) <= cfg.max_queued
        if session.state is State.DISCONNECTED:
            break
