"""Interoperability with QuickFIX (the PyPI ``quickfix`` engine) in both directions.

Each test trades 10,000 NewOrderSingle through logon, a forced disconnect with orders in
flight, orders sent while disconnected, reconnect, resend and gap fill, and checks that no
order is lost and none is processed twice.

"Processed" means the echo application answered the order: an echo with the order's ClOrdID
under a new MsgSeqNum. A resent echo (43=Y) keeps its number and repeats an earlier answer; it
is not a new processing. "Processed twice" is allowed only as FIX allows it: when a crash lost
the record that an order was processed, the peer resends the order as a PossDup and the
application may answer again (at-least-once delivery, as in QuickFIX); without a crash every
order is processed exactly once, and each order reaches the application exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from gateway.application import SessionHandle
from gateway.apps import Dispatcher
from gateway.config import GatewayConfig, SessionConfig, load_config
from gateway.fixmessage import Message
from gateway.session_runner import COMMIT_BYTES, SessionRunner
from gateway.store import FileStore
from gateway.transport import Engine
from tests.interop.harness import INTEROP, Gateway, QuickFixPeer, traffic

pytest.importorskip("quickfix", reason="QuickFIX not installed (pip install -e '.[interop]')")

pytestmark = pytest.mark.slow

ORDERS = 10_000
DISCONNECT_AT = 4_000
OFFLINE = 500  # orders sent while the connection is down
TIMEOUT = 120.0  # seconds for one whole scenario; a hang fails instead of blocking CI


# -- QuickFIX initiator -> our acceptor ------------------------------------------------------

def _gateway_files(run_dir: Path) -> tuple[Path, Path]:
    stem = "FIX.4.4-GW-QF"
    return run_dir / "log" / f"{stem}.messages.current.log", run_dir / "store" / f"{stem}.store"


def _quickfix_initiator(tmp_path: Path, port: int, disconnect: str) -> QuickFixPeer:
    return QuickFixPeer([
        "initiator", "--workdir", str(tmp_path / "qf"), "--port", str(port),
        "--orders", str(ORDERS), "--disconnect-at", str(DISCONNECT_AT),
        "--disconnect", disconnect, "--offline", str(OFFLINE), "--timeout", str(TIMEOUT),
    ]).start()


def _check_acceptor_side(report: dict[str, object], run_dir: Path, *, crashed: bool) -> None:
    """What QuickFIX got back and what our gateway's message log and store say."""
    ids = {f"O{i:05d}" for i in range(ORDERS)}
    assert report["sent"] == ORDERS
    assert report["missing_count"] == 0, f"orders never echoed: {report['missing']}"
    assert report["distinct"] == ORDERS
    assert report["sent_offline"] == OFFLINE  # the resend path was exercised

    log, store_path = _gateway_files(run_dir)
    inbound, outbound = traffic(log, "QF"), traffic(log, "GW")
    assert inbound.ids() == ids
    # QuickFIX sends each order once; every other copy is a PossDup resend.
    assert max(inbound.fresh.values()) == 1
    offline = {f"O{i:05d}" for i in range(DISCONNECT_AT, DISCONNECT_AT + OFFLINE)}
    assert offline.isdisjoint(inbound.fresh), "orders sent while down arrived as fresh"
    assert offline <= set(inbound.poss_dup)
    assert outbound.ids() == ids  # every order was answered
    twice = {cl: n for cl, n in outbound.processed().items() if n > 1}
    if crashed:
        # At-least-once: an order answered again only because QuickFIX resent it as PossDup
        # after the crash lost the record that it had been processed.
        excess = {cl: n for cl, n in twice.items() if n > 1 + inbound.poss_dup[cl]}
        assert not excess, f"processed twice without a PossDup copy: {excess}"
        assert set(report["fresh_duplicates"]) <= set(twice)  # type: ignore[call-overload]
        # The inbound number is persisted every COMMIT_BYTES of input, so a crash redelivers
        # about that much (these orders are over 100 bytes long).
        assert len(twice) <= COMMIT_BYTES // 100, f"{len(twice)} orders processed twice"
    else:
        assert not twice, f"processed twice: {sorted(twice)[:10]}"
        assert set(outbound.fresh) == ids  # and each answer went out at once, not by resend
        assert report["fresh_duplicates"] == []

    # Sequence numbers continue across the break: no number reused or skipped either way, and
    # each side expects what the other sends next.
    store = FileStore(store_path, fsync="never")
    store.close()
    outbound.assert_continuous(store.next_sender_seq)
    inbound.assert_continuous(store.next_target_seq)
    assert (store.next_target_seq, store.next_sender_seq) == (
        report["next_sender_seq"], report["next_target_seq"])


def test_quickfix_initiator_through_a_forced_disconnect(tmp_path: Path) -> None:
    """QuickFIX drops its own connection (Session.disconnect from another thread than its
    socket thread) while orders and echoes are in flight, keeps sending, reconnects."""
    run_dir = tmp_path / "gw"
    gateway = Gateway(INTEROP / "gateway_acceptor.yaml", run_dir).start()
    peer = _quickfix_initiator(tmp_path, gateway.port, "self")
    try:
        report = peer.event("report", TIMEOUT)
    finally:
        peer.close()
        gateway.stop()
    assert report["logons"] == 2
    _check_acceptor_side(report, run_dir, crashed=False)


def test_quickfix_initiator_through_a_gateway_crash(tmp_path: Path) -> None:
    """Our gateway is killed with SIGKILL in the middle of the flow and restarted on the same
    port and store; QuickFIX sends while it is down and recovers by resend after logon."""
    run_dir = tmp_path / "gw"
    gateway = Gateway(INTEROP / "gateway_acceptor.yaml", run_dir).start()
    peer = _quickfix_initiator(tmp_path, gateway.port, "external")
    try:
        peer.event("checkpoint", TIMEOUT)
        gateway.kill()
        peer.event("offline_sent", TIMEOUT)
        gateway = Gateway(gateway.config, run_dir, port=gateway.port).start()
        report = peer.event("report", TIMEOUT)
    finally:
        peer.close()
        gateway.stop()
    assert report["logons"] == 2
    _check_acceptor_side(report, run_dir, crashed=True)


# -- our initiator -> QuickFIX acceptor ------------------------------------------------------

class OrderCounter:
    """The initiator's application: counts the echoes of its orders by ClOrdID."""

    def __init__(self) -> None:
        self.fresh: Counter[str] = Counter()
        self.poss_dup: Counter[str] = Counter()
        self.logons = 0
        self.changed = asyncio.Event()

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return frozenset({"D"})

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self.logons += 1
        self.changed.set()

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        self.changed.set()

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        cl_ord_id = message.body.get_str(11) or ""
        (self.poss_dup if message.poss_dup else self.fresh)[cl_ord_id] += 1
        self.changed.set()

    def distinct(self) -> int:
        return len(set(self.fresh) | set(self.poss_dup))

    async def until(self, predicate: object, what: str, timeout: float = 30) -> None:
        async def wait() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None


def order(i: int) -> Message:
    m = Message("D")
    for tag, value in ((11, f"O{i:05d}"), (21, "1"), (38, 100), (40, "1"), (54, "1"),
                       (55, "INTC"), (60, "20261125-12:00:00")):
        m.body.set(tag, value)
    return m


def _initiator_config(port: int) -> GatewayConfig:
    config = load_config(INTEROP / "gateway_initiator.yaml")
    return replace(config, sessions=tuple(replace(s, port=port) for s in config.sessions))


async def _trade(runner: SessionRunner, counter: OrderCounter, window: int = 500) -> None:
    """Send every order with at most ``window`` unanswered; drop the connection mid-way."""
    for i in range(ORDERS):
        if i == DISCONNECT_AT:
            assert runner.writer is not None
            runner.writer.transport.abort()  # what is in our buffers and theirs is lost
            await counter.until(lambda: not runner.logged_on, "the disconnect")
            for j in range(i, i + OFFLINE):
                runner.send(order(j))  # numbered and stored; the peer gets them by resend
            await counter.until(lambda: runner.logged_on, "the reconnect")
        if DISCONNECT_AT <= i < DISCONNECT_AT + OFFLINE:
            continue
        await counter.until(lambda i=i: i - counter.distinct() < window, f"window at {i}")
        runner.send(order(i))
    await counter.until(lambda: counter.distinct() == ORDERS, "every echo", TIMEOUT)


def test_our_initiator_with_a_quickfix_acceptor(tmp_path: Path) -> None:
    peer = QuickFixPeer(["acceptor", "--workdir", str(tmp_path / "qf"), "--sender", "QFA",
                         "--target", "GWI"]).start()
    counter = OrderCounter()
    run_dir = tmp_path / "gw"
    seqs: list[int] = []  # our next sender and target numbers at the end

    async def scenario() -> None:
        port = int(peer.event("listening", 30)["port"])
        config = _initiator_config(port)
        engine = Engine(config, Dispatcher(config, {"order_counter": counter}),
                        run_dir=run_dir)
        await engine.start()
        runner = engine.runner("QFA")
        try:
            await counter.until(lambda: runner.logged_on, "the first logon")
            await _trade(runner, counter)
            runner.logout("done")
            await asyncio.wait_for(runner.disconnected_event.wait(), 10)
            peer.command("report")
            report = peer.event("report", 30)
            store = runner.session.store
            seqs.extend((store.next_sender_seq, store.next_target_seq))
            # Each side expects what the other sends next.
            assert (store.next_sender_seq, store.next_target_seq) == (
                report["next_target_seq"], report["next_sender_seq"])
            assert report["distinct"] == ORDERS and report["processed_twice"] == []
            assert report["echoes"] == ORDERS  # QuickFIX processed each order exactly once
        finally:
            await engine.stop()

    try:
        asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
        peer.command("stop")
        peer.event("report", 30)
    finally:
        peer.close()
    assert counter.logons == 2
    assert counter.distinct() == ORDERS
    assert max(counter.fresh.values()) == 1, "an order was answered twice"

    log = run_dir / "log" / "FIX.4.4-GWI-QFA.messages.current.log"
    ours, theirs = traffic(log, "GWI"), traffic(log, "QFA")
    offline = {f"O{i:05d}" for i in range(DISCONNECT_AT, DISCONNECT_AT + OFFLINE)}
    assert offline.isdisjoint(ours.fresh) and offline <= set(ours.poss_dup)  # by resend
    ours.assert_continuous(seqs[0])
    theirs.assert_continuous(seqs[1])
