"""FileStore under SIGKILL: a writer process is killed at random points, many times.

The writer follows the session's outbound order: take the next sequence number, save the
message, then "transmit" it by printing the number on stdout. The parent reads what was
transmitted, kills the writer at a random moment (mid-save, mid-print, anywhere), restarts it,
and at the end checks that no transmitted number was ever reused and that the store can
resend every transmitted message with its exact bytes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.store import FileStore

WRITER = r"""
import sys
from gateway.store import FileStore
store = FileStore(sys.argv[1], fsync=sys.argv[2])
out = sys.stdout
while True:
    seq = store.next_sender_seq
    store.save_sent(seq, b"8=FIX.4.4\x0135=D\x0111=" + str(seq).encode() * 3 + b"\x01")
    out.write(f"S {seq}\n")
    out.flush()
    if seq % 7 == 0:
        target = store.next_target_seq + 1
        store.set_next_target_seq(target)
        out.write(f"T {target}\n")
        out.flush()
"""


def expected_raw(seq: int) -> bytes:
    return b"8=FIX.4.4\x0135=D\x0111=" + str(seq).encode() * 3 + b"\x01"


@pytest.mark.parametrize(("policy", "kills"), [("never", 40), ("always", 10)])
def test_sigkill_never_reuses_or_loses_a_sent_message(
    tmp_path: Path, policy: str, kills: int
) -> None:
    path = tmp_path / "crash.store"
    rng = random.Random(20261125)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    transmitted: list[int] = []
    last_target = 1
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), policy],
            stdout=subprocess.PIPE, text=True, env=env,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it is writing
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Everything printed before death reached the "wire".
        for line in [first, *proc.stdout.read().splitlines()]:
            kind, _, num = line.strip().partition(" ")
            if kind == "S" and num.isdigit():
                transmitted.append(int(num))
            elif kind == "T" and num.isdigit():
                last_target = int(num)
        proc.stdout.close()
    assert len(transmitted) > kills, "the writer never got going"
    assert transmitted == sorted(set(transmitted)), "a sequence number was reused"
    store = FileStore(path)
    assert store.next_sender_seq > transmitted[-1]
    assert store.next_target_seq >= last_target
    stored = {m.seq: m.raw for m in store.sent(1, transmitted[-1])}
    missing = [s for s in transmitted if stored.get(s) != expected_raw(s)]
    assert not missing, f"sent but not resendable: {missing[:10]}"
    store.close()
