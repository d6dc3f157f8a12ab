"""The inbound sequence number is persisted only after the application has seen the messages.

Regression: the session advanced (and the file store persisted) the expected inbound number
for a whole batch of messages before the transport handed any of them to the application. A
gateway killed in between came back expecting the number after the batch, so the peer never
resent those orders and they were lost (found by tests/test_interop_quickfix.py killing the
gateway with SIGKILL mid-flow: 72 of 10,000 orders never answered).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from gateway.application import SessionHandle
from gateway.apps import Dispatcher
from gateway.config import AcceptorConfig, GatewayConfig, SessionConfig, StoreConfig
from gateway.deferred_store import DeferredTargetStore
from gateway.fixmessage import Message
from gateway.session_runner import COMMIT_BYTES
from gateway.store import FileStore, MemoryStore, peek_store
from gateway.transport import Engine
from tests.fixpeer import Peer

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def test_target_number_reaches_the_store_only_on_commit() -> None:
    inner = MemoryStore(T0)
    store = DeferredTargetStore(inner)
    store.set_next_target_seq(5)
    assert (store.next_target_seq, inner.next_target_seq) == (5, 1)
    store.commit()
    assert inner.next_target_seq == 5
    store.save_sent(1, b"x")  # outbound goes straight through: persist before transmit
    assert inner.next_sender_seq == 2


def test_reset_drops_an_uncommitted_target_number() -> None:
    inner = MemoryStore(T0)
    store = DeferredTargetStore(inner)
    inner.set_next_target_seq(3)
    store.set_next_target_seq(9)
    store.reset(T0)
    store.commit()
    assert (store.next_target_seq, inner.next_target_seq) == (1, 1)


class RestartProbe:
    """On each order, reads what a gateway restarted at this instant would recover."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self.seen: list[tuple[int, int]] = []  # (order's MsgSeqNum, recovered next target)

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return None

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        pass

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        pass

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        recovered = peek_store(self.store_path)  # what a restart now would recover
        self.seen.append((message.msg_seq_num or 0, recovered.next_target_seq))


def _probe(tmp_path: Path, orders: int) -> list[tuple[int, int]]:
    """Log on, send ``orders`` orders in one write; what a restart would recover at each."""
    store_path = tmp_path / "acc.store"
    session = SessionConfig("FIX.4.4", "ISLD", "TW", application="probe",
                            store=StoreConfig(kind="file", path=store_path, fsync="never"))
    config = GatewayConfig(tmp_path / "acc.yaml", (session,), AcceptorConfig("127.0.0.1", 0))
    probe = RestartProbe(store_path)

    async def scenario() -> None:
        engine = Engine(config, Dispatcher(config, {"probe": probe}), run_dir=tmp_path)
        await engine.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
        peer = Peer()
        now = datetime.now(UTC)
        writer.write(peer.logon(now=now))
        assert b"\x0135=A\x01" in await asyncio.wait_for(reader.read(65536), 10)
        writer.write(b"".join(
            peer.msg(f"35=D|11=C{i}|21=1|38=100|40=1|54=1|55=IBM|60=20261125-12:00:00",
                     now=now) for i in range(orders)))
        while len(probe.seen) < orders:
            await asyncio.sleep(0.01)  # the probe answers nothing; the scenario timeout bounds
        writer.close()
        await engine.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert FileStore(store_path, fsync="never").next_target_seq == orders + 2  # all committed
    return probe.seen


def test_a_crash_before_the_application_sees_a_batch_gets_it_resent(tmp_path: Path) -> None:
    # A restart while the application handles order N expects N again, never a later one.
    assert _probe(tmp_path, 3) == [(2, 2), (3, 2), (4, 2)]


def test_a_crash_makes_the_peer_resend_at_most_a_slice_of_messages(tmp_path: Path) -> None:
    seen = _probe(tmp_path, 300)  # about 28 KiB, read at once: more than one commit slice
    assert all(recovered <= seq for seq, recovered in seen)
    most = COMMIT_BYTES // 90 + 1  # these orders are over 90 bytes long
    assert max(seq - recovered for seq, recovered in seen) <= most
