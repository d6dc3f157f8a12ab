"""A scripted FIX counterparty for tests: writes raw messages the way a test script does.

``Peer.msg("35=D|11=X|...")`` fills in BeginString, BodyLength, MsgSeqNum, the CompIDs,
SendingTime and CheckSum unless the script gives them, so a test can also send exactly the
wrong thing it wants (a bad CheckSum, a stale SendingTime, fields out of order).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fixspec.fieldtypes import format_utc_timestamp


def frame(begin: str, body: str, *, checksum: int | None = None,
          body_length: int | None = None) -> bytes:
    """A complete message: ``body`` is everything between BodyLength and CheckSum. A lone
    surrogate in it (``"caf\\udce9"``) is the byte it escapes (0xE9), as ``parse`` reads one."""
    payload = body.replace("|", "\x01").encode("utf-8", "surrogateescape")
    if not payload.endswith(b"\x01"):
        payload += b"\x01"
    length = len(payload) if body_length is None else body_length
    head = f"8={begin}\x019={length}\x01".encode() + payload
    total = sum(head) % 256 if checksum is None else checksum
    return head + f"10={total:03d}\x01".encode()


def parse(raw: bytes) -> list[tuple[int, str]]:
    out = []
    for part in raw.split(b"\x01"):
        if part:
            tag, _, value = part.partition(b"=")
            out.append((int(tag), value.decode("utf-8", "surrogateescape")))
    return out


def fields(raw: bytes) -> dict[int, str]:
    """First value of each tag."""
    d: dict[int, str] = {}
    for tag, value in parse(raw):
        d.setdefault(tag, value)
    return d


@dataclass
class Peer:
    """The other side: its CompID is ``sender``; it sends to ``target``."""

    begin: str = "FIX.4.4"
    sender: str = "TW"
    target: str = "ISLD"
    seq: int = 1

    def msg(self, body: str, *, now: datetime | None = None, seq: int | None = None,
            sending_time: str | None = None, bump: bool = True, header: str = "",
            **kw: int) -> bytes:
        """Body like ``35=D|11=A``: header fields are added after 35 unless present;
        ``header`` (``43=Y|122=...``) goes after them, before the body."""
        now = now or datetime.now(UTC)
        parts = body.split("|")
        msg_type, rest = parts[0], parts[1:]
        tags = {p.split("=", 1)[0] for p in rest}
        header_fields = [msg_type]
        if "34" not in tags:
            header_fields.append(f"34={self.seq if seq is None else seq}")
        if "49" not in tags:
            header_fields.append(f"49={self.sender}")
        if "52" not in tags:
            header_fields.append(f"52={sending_time or format_utc_timestamp(now)}")
        if "56" not in tags:
            header_fields.append(f"56={self.target}")
        if bump and seq is None:
            self.seq += 1
        extra = [header] if header else []
        return frame(self.begin, "|".join(header_fields + extra + rest), **kw)

    def logon(self, hb: int = 30, extra: str = "", **kw: object) -> bytes:
        return self.msg(f"35=A|98=0|108={hb}{extra}", **kw)  # type: ignore[arg-type]


def ts(now: datetime, delta_seconds: float = 0) -> str:
    return format_utc_timestamp(now + timedelta(seconds=delta_seconds))
