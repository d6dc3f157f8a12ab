"""Small FIX logs in the layouts gateway.fixlog reads, generated with the project's own encoder.

``python -m tests.fixlog_samples`` rewrites tests/data/fixlogs/; tests check the committed
files equal a fresh generation, so the samples and this generator cannot drift apart.
:data:`EXPECTED` lists, per file, each record's (first line, last line, status) in order.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.framing import FrameStatus
from fixspec.dictionary import load_builtin
from fixspec.fieldtypes import TimePrecision, format_utc_timestamp
from gateway.codec import encode
from gateway.fixmessage import Group, Message

SAMPLES = Path(__file__).resolve().parent / "data" / "fixlogs"
T0 = datetime(2024, 1, 2, 13, 45, 1, 123456, tzinfo=UTC)
OK, BAD_LENGTH, BAD_SUM, GARBLED, TRUNCATED = (
    FrameStatus.OK,
    FrameStatus.BAD_BODY_LENGTH,
    FrameStatus.BAD_CHECKSUM,
    FrameStatus.GARBLED,
    FrameStatus.TRUNCATED,
)


def _message(i: int) -> bytes:
    """The i-th message of a small session: logon, heartbeats, orders with parties, fills."""
    fix44 = load_builtin("FIX.4.4")
    kind = ["A", "D", "8", "0", "D", "8"][i % 6]
    msg = Message(kind, begin_string="FIX.4.4")
    msg.sender_comp_id, msg.target_comp_id, msg.msg_seq_num = "CLIENT", "GATEWAY", i + 1
    msg.set_sending_time(T0 + timedelta(milliseconds=250 * i))
    b = msg.body
    if kind == "A":
        b.set(98, 0)
        b.set(108, 30)
    elif kind == "D":
        b.set(11, f"ORD{i}")
        b.set(54, "1" if i % 4 else "2")
        b.set(38, 100 * (i + 1))
        b.set(40, 2)
        b.set(44, "101.25")
        b.set(55, "AAPL")
        b.set(60, format_utc_timestamp(T0, TimePrecision.MILLIS))
        b.set(58, "client note with spaces")
        parties = b.set_group(Group(453, 448))
        parties.add((448, "DESK1"), (447, "D"), (452, 3))
        parties.add((448, "TRADER7"), (447, "D"), (452, 11))
    elif kind == "8":
        for tag, value in ((37, f"X{i}"), (17, f"E{i}"), (150, "F"), (39, "2"), (54, "1"),
                           (55, "AAPL"), (151, 0), (14, 100), (6, "101.25"), (31, "101.25"),
                           (32, 100), (11, f"ORD{i - 1}")):  # fmt: skip
            b.set(tag, value)
    return encode(msg, fix44)


def _with(d: bytes, raw: bytes, final: bool = True) -> bytes:
    out = raw.replace(b"\x01", d)
    return out if final else out[: -len(d)]


def _quickfix() -> tuple[bytes, list[tuple[int, int, FrameStatus]]]:
    lines = []
    for i in range(12):
        t = T0 + timedelta(milliseconds=250 * i, microseconds=7)
        lines.append(format_utc_timestamp(t, TimePrecision.MICROS).encode() + b" : " + _message(i))
    return b"\n".join(lines) + b"\n", [(n, n, OK) for n in range(1, 13)]


def _pipe_iso() -> tuple[bytes, list[tuple[int, int, FrameStatus]]]:
    lines = []
    for i in range(6):
        stamp = (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
        lines.append(stamp + b" " + _with(b"|", _message(i), final=i % 2 == 0))
    return b"\n".join(lines) + b"\n", [(n, n, OK) for n in range(1, 7)]


def _delimiters() -> tuple[bytes, list[tuple[int, int, FrameStatus]]]:
    lines = [_with(d, _message(i)) for i, d in enumerate([b"|", b";", b"^", b",", b" ", b"\x01"])]
    return b"\n".join(lines) + b"\n", [(n, n, OK) for n in range(1, 7)]


def _split() -> tuple[bytes, list[tuple[int, int, FrameStatus]]]:
    out: list[bytes] = []
    expected = []
    for i in range(4):
        raw = _message(i)
        chunks = [raw[k : k + 37] for k in range(0, len(raw), 37)]
        first = len(out) + 1
        out.extend(chunks)
        expected.append((first, len(out), OK))
        out.append(b"")  # a blank line between messages
    return b"\r\n".join(out) + b"\r\n", expected


def _mixed() -> tuple[bytes, list[tuple[int, int, FrameStatus]]]:
    good = [_message(i) for i in range(6)]
    bad_sum = good[3][:-4] + b"%03d\x01" % ((int(good[3][-4:-1]) + 1) % 256)
    bad_length = good[1].replace(b"\x019=", b"\x019=1", 1)
    lines = [
        b"# captured by hand: comments, log noise, two messages on a line, broken ones",
        b"",
        b"2024-01-02 13:45:01,123 INFO  [session] sent: " + good[0] + b" (logon)",
        b"2024-01-02 13:45:01,200 DEBUG [session] heartbeat timer armed",
        b"2024-01-02 13:45:01,373 INFO  [session] recv: " + good[1] + b"JUNK",
        b"two on one line: " + good[2] + b" and " + good[3],
        b"2024-01-02 13:45:02,000 WARN  [session] bad checksum follows",
        b"2024-01-02 13:45:02,001 INFO  [session] recv: " + bad_sum,
        b"2024-01-02 13:45:02,002 INFO  [session] recv: " + bad_length,
        b"2024-01-02 13:45:02,003 INFO  [session] recv: 8=FIXish nonsense",
        b"2024-01-02 13:45:02,004 INFO  [session] recv: " + _with(b"|", good[4]),
        b"2024-01-02 13:45:02,005 INFO  [session] recv: " + good[5][: len(good[5]) // 2],
    ]
    expected = [
        (3, 3, OK), (5, 5, OK), (6, 6, OK), (6, 6, OK), (8, 8, BAD_SUM),
        (9, 9, BAD_LENGTH), (10, 10, GARBLED), (11, 11, OK), (12, 12, TRUNCATED),
    ]  # fmt: skip
    return b"\n".join(lines) + b"\n", expected


GENERATORS: dict[str, Callable[[], tuple[bytes, list[tuple[int, int, FrameStatus]]]]] = {
    "quickfix.messages.log": _quickfix,
    "pipe-iso-timestamps.log": _pipe_iso,
    "delimiters.log": _delimiters,
    "split-crlf.log": _split,
    "mixed-with-errors.log": _mixed,
}

EXPECTED: dict[str, list[tuple[int, int, FrameStatus]]] = {
    name: gen()[1] for name, gen in GENERATORS.items()
}


def generate() -> dict[str, bytes]:
    """File name -> content of every sample."""
    return {name: gen()[0] for name, gen in GENERATORS.items()}


def main() -> int:
    SAMPLES.mkdir(parents=True, exist_ok=True)
    for name, data in generate().items():
        (SAMPLES / name).write_bytes(data)
        print(f"wrote {SAMPLES / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
