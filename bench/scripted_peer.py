"""A FIX counterparty for benchmarks that write logs: frames the messages a script names.

``ScriptedPeer(sender="CLIENT", target="GW").msg("35=D|11=X|...", now)`` adds BeginString,
BodyLength, MsgSeqNum, the CompIDs, SendingTime and CheckSum, as a FIX engine would send it.
The benchmark's own copy, so that what it measures does not change with the test helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fixspec.fieldtypes import format_utc_timestamp


@dataclass
class ScriptedPeer:
    """The side whose CompID is ``sender``, sending to ``target``; ``seq`` is the MsgSeqNum of
    its next message."""

    begin: str = "FIX.4.4"
    sender: str = "TW"
    target: str = "ISLD"
    seq: int = 1

    def msg(self, body: str, now: datetime) -> bytes:
        """The complete message for ``body`` (``35=D|11=A|...``: MsgType first, then the body
        fields, ``|`` for SOH, no header field), sent at ``now``; takes the next MsgSeqNum.
        Header fields follow MsgType in the order MsgSeqNum, SenderCompID, SendingTime
        (milliseconds), TargetCompID."""
        msg_type, _, rest = body.partition("|")
        header = [msg_type, f"34={self.seq}", f"49={self.sender}",
                  f"52={format_utc_timestamp(now)}", f"56={self.target}"]
        self.seq += 1
        payload = "|".join(header + ([rest] if rest else [])).replace("|", "\x01").encode()
        if not payload.endswith(b"\x01"):
            payload += b"\x01"
        head = f"8={self.begin}\x019={len(payload)}\x01".encode() + payload
        return head + f"10={sum(head) % 256:03d}\x01".encode()
