"""Self-trade prevention (gateway/self_trade.py): a child that would trade with a working child
of another parent of the desk is held before it reaches the venue, until the other is gone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algos.registry import StrategyFactory
from algos.risk import RiskGate, RiskLimits
from algos.runner import AlgoRunner, ParentDone, ParentEvent
from algos.strategy import (
    Action,
    AlgoContext,
    CancelChild,
    ChildOrder,
    MarketSnapshot,
    ParentOrder,
    Side,
    StopParent,
)
from gateway.audit import AuditLog
from gateway.self_trade import HELD_TEXT, OutsideChild, SelfTradeGuard
from tests.test_algo_harness import Harness, Venue, make_parent
from tests.test_app_hostile import T0, send, stamp, venue_clients

SEC = timedelta(seconds=1)


class OneLimitChild:
    """Sends one child of 100 at the parent's limit whenever none is working: the buy parent
    rests it, the sell parent's crosses it (the venue's book is otherwise empty)."""

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        self.parent = parent
        self.ctx = ctx

    def _go(self) -> list[Action]:
        return [] if self.ctx.state.working else [ChildOrder(100, self.parent.limit)]

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        return self._go()

    def on_execution(self, execution: object) -> list[Action]:
        return []

    def on_timer(self, now: datetime) -> list[Action]:
        return self._go()

    def next_wakeup(self) -> datetime | None:
        return self.ctx.now() + SEC


def _parent(cl: str, side: str, price: str) -> str:
    return (f"35=D|11={cl}|54={side}|38=1000|40=2|44={price}|55=AAPL|60={stamp(T0)}|847=1001|"
            f"168={stamp(T0)}|126={stamp(T0 + 600 * SEC)}")


def _records(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_child_that_would_trade_with_another_parents_child_is_held(tmp_path: Path) -> None:
    """The sell parent's child would sell to the buy parent's resting child: it is held, once
    (not refused and tried again at every timer), working as far as its parent knows, until
    the buy child is gone; then it goes to the venue."""
    app, c1, c2 = venue_clients()
    app.desk.strategies["1001"] = OneLimitChild
    app.desk.audit = audit = AuditLog(tmp_path / "audit.jsonl")
    [ack] = send(app, c1, _parent("BUY1", "1", "20.00"))
    assert ack[150] == "0"
    app.on_timer(T0 + SEC)  # the buy parent's child rests at 20.00
    [buy_child] = [c for c, _ in app.desk.working_children()]
    [ack] = send(app, c2, _parent("SELL1", "2", "19.99"), T0 + SEC)  # would sell to it
    for t in range(2, 6):
        app.on_timer(T0 + t * SEC)
    assert [m[150] for m in c1.received() + c2.received()] == []  # no fill, no end
    sell = next(p for p in app.desk.parents.values() if p.order.cl_ord_id == "SELL1")
    [sell_child] = sell.runner.state.working
    assert app.desk._guard.held == [sell_child]
    assert app.desk.children_of(sell.order.order_id) == 0  # it has not reached the venue
    held = [r for r in _records(tmp_path / "audit.jsonl")
            if r["event"] in ("child_held", "child_reject", "child_sent")
            and r["parent"] == sell.order.order_id]
    assert [(r["event"], r["child"]) for r in held] == [("child_sent", sell_child),
                                                        ("child_held", sell_child)]
    assert held[1]["why"] == (f"self-trade prevention: it would trade with {buy_child} "
                              f"(buy 100 at 20.00) of parent {buy_child.split('.')[0]}")
    # the buy parent canceled, its child gone at the venue: the held child goes out
    send(app, c1, f"35=F|11=BUY1X|41=BUY1|54=1|55=AAPL|38=1000|60={stamp(T0 + 6 * SEC)}",
         T0 + 6 * SEC)
    assert app.desk._guard.held == []
    assert app.desk.children_of(sell.order.order_id) == 1
    app.on_timer(T0 + 7 * SEC)
    assert list(sell.runner.state.working) == [sell_child]
    audit.close()
    assert [r["child"] for r in _records(tmp_path / "audit.jsonl")
            if r["event"] == "child_released"] == [sell_child]


def test_children_that_do_not_cross_both_rest() -> None:
    app, c1, c2 = venue_clients()
    app.desk.strategies["1001"] = OneLimitChild
    send(app, c1, _parent("BUY1", "1", "20.00"))
    app.on_timer(T0 + SEC)
    send(app, c2, _parent("SELL1", "2", "20.01"), T0 + SEC)
    app.on_timer(T0 + 2 * SEC)
    working = sorted((c.price, c.leaves) for p in app.desk.parents.values()
                     for c in p.runner.state.working.values())
    assert working == [(Decimal("20.00"), 100), (Decimal("20.01"), 100)]


class _Router:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.cancels: list[str] = []

    def submit(self, child_id: str, symbol: str, side: Side, qty: int, price: Decimal | None,
               tif: str, reason: str = "") -> None:
        self.sent.append(child_id)

    def cancel(self, child_id: str) -> None:
        self.cancels.append(child_id)


class _Desk:
    """The guard's view of a desk: runners by id (a child's id is ``<runner id>.<n>``)."""

    def __init__(self) -> None:
        self.router = _Router()
        self.by_id: dict[str, AlgoRunner] = {}
        self.audited: list[tuple[str, str]] = []
        self.outside: Callable[[], Iterable[OutsideChild]] = tuple
        self.events: list[ParentEvent] = []

    def runners(self) -> list[AlgoRunner]:
        return [r for r in self.by_id.values() if not r.done]

    def runner_of(self, child_id: str) -> AlgoRunner | None:
        return self.by_id.get(child_id.split(".")[0])

    def audit_child(self, child_id: str, event: str, /, **fields: str) -> None:
        self.audited.append((child_id, event))


def _guarded(strategy: StrategyFactory, *parents: tuple[str, Side, str],
             risk: RiskGate | None = None) -> tuple[_Desk, SelfTradeGuard]:
    """A guard over a desk of one runner per (id, side, limit: "" for none), each shown an
    empty book at T0 in turn (so their children go in that order); ``risk`` the gate of
    each."""
    desk = _Desk()
    guard = SelfTradeGuard(desk, lambda: T0)
    snap = MarketSnapshot(time=T0, symbol="AAPL", bid=None, bid_qty=0, ask=None, ask_qty=0)
    for pid, side, limit in parents:
        parent = ParentOrder(id=pid, symbol="AAPL", side=side, qty=1000,
                             limit=Decimal(limit) if limit else None,
                             start=T0, end=T0 + 600 * SEC)
        desk.by_id[pid] = AlgoRunner(parent, strategy, guard, now=T0,
                                     on_event=desk.events.append, risk=risk)
        desk.by_id[pid].on_market_snapshot(snap)
    return desk, guard


class CrossThenStop(OneLimitChild):
    """Its child and, in the same breath, the end of its parent (which cancels the child)."""

    def _go(self) -> list[Action]:
        return [*super()._go(), StopParent("done")] if self.parent.side == Side.SELL else \
            super()._go()


def test_a_held_child_is_never_cancelled_at_the_venue() -> None:
    """The sell parent's child is held and, in the same step, the parent stops, cancelling
    its working children: the held one never reached the venue, so no cancel of it does
    either; the guard answers the cancel itself and the parent ends."""
    desk, guard = _guarded(CrossThenStop, ("B", Side.BUY, "20.00"), ("S", Side.SELL, "19.99"))
    assert desk.router.sent == ["B.1"] and desk.router.cancels == []
    assert desk.audited == [("S.1", "child_held")] and guard.held == []
    done = desk.by_id["S"]
    assert done.done and not done.state.working


def test_the_newest_child_is_held_and_the_oldest_held_goes_first() -> None:
    """A held sell holds back a newer buy that crosses it (the newest of two crossing
    children is the one held, as if the older were at the venue); when the buy at the venue
    ends, the older held child goes and the newer one stays held behind it: no child waits
    on a newer one, so none waits for ever while the other side keeps sending."""
    desk, guard = _guarded(OneLimitChild, ("B1", Side.BUY, "20.00"), ("S", Side.SELL, "19.99"),
                           ("B2", Side.BUY, "20.01"))
    runners, router = desk.by_id, desk.router
    assert router.sent == ["B1.1"] and guard.held == ["S.1", "B2.1"]
    runners["B1"].cancel(T0 + SEC)
    runners["B1"].on_child_done("B1.1", "canceled", T0 + SEC)
    assert runners["B1"].done
    guard.release()
    assert router.sent == ["B1.1", "S.1"] and guard.held == ["B2.1"]


def test_a_held_child_blocks_a_newer_one_while_it_is_held() -> None:
    """B1's buy rests at the venue and holds S's sell; S's sell, held, holds B2's newer buy:
    a release while B1's child works sends neither (B2's buy would trade with S's sell the
    moment that one went out)."""
    desk, guard = _guarded(OneLimitChild, ("B1", Side.BUY, "20.00"), ("S", Side.SELL, "19.99"),
                           ("B2", Side.BUY, "20.01"))
    guard.release()
    assert desk.router.sent == ["B1.1"] and guard.held == ["S.1", "B2.1"]


class MarketChild(OneLimitChild):
    """The buy parent's child is a market order (its parent has no limit); the sell
    parent's, a limit."""

    def _go(self) -> list[Action]:
        if self.ctx.state.working:
            return []
        return [ChildOrder(100, None if self.parent.side == Side.BUY else self.parent.limit)]


def test_a_market_child_at_the_venue_holds_every_opposite_child() -> None:
    """A market order trades with any price: a sell however high is held while it works."""
    desk, guard = _guarded(MarketChild, ("B", Side.BUY, ""), ("S", Side.SELL, "99.99"))
    guard.release()
    assert desk.router.sent == ["B.1"] and guard.held == ["S.1"]
    desk.by_id["B"].on_child_done("B.1", "canceled", T0 + SEC)
    guard.release()  # S's goes; B's next market child is held behind it in turn
    assert desk.router.sent == ["B.1", "S.1"] and guard.held == ["B.2"]


class GrowingChild(OneLimitChild):
    """Whenever none is working: a child of 100, then 200, then 300..."""

    def _go(self) -> list[Action]:
        state = self.ctx.state
        return [] if state.working else [ChildOrder(100 * (state.sent + 1), self.parent.limit)]


def test_the_end_text_tells_of_the_latest_childs_fate_only() -> None:
    """The held child is cancelled (its parent's strategy moves on) and the next one is
    refused by risk: the parent's end Text gives risk's reason, not the hold as well."""
    h = Harness(make_parent(1000, minutes=1, limit="9.00"), GrowingChild, venue=Venue(),
                risk=RiskGate(RiskLimits(max_order_qty=150)))
    h.step(h.now)
    [first] = h.venue.resting
    h.venue.resting.clear()  # held at the desk, never at the venue; cancelled there
    h.runner.on_child_done(first, "canceled while held", h.now, unsent=HELD_TEXT)
    h.step(h.now + SEC)  # (ended unasked: the strategy asks again at its next timer)
    assert h.audited("child_refused")[-1]["why"].startswith("risk: ")  # the next one, 200
    h.run(h.now + timedelta(minutes=1))
    done = h.done()
    assert done is not None and done.reason == "expired"
    assert done.text.startswith("risk refused its last child: ") and "self-trade" not in done.text


class Reprice(OneLimitChild):
    """The sell parent, its first child working (held), cancels it and asks for ``qty`` at
    25.00 (which crosses nothing) in the same step; nothing more."""

    qty = 100

    def _go(self) -> list[Action]:
        state = self.ctx.state
        if self.parent.side == Side.BUY or not state.sent:
            return super()._go()
        if state.working and state.sent == 1:
            [held] = state.working
            return [CancelChild(held, "reprice"), ChildOrder(self.qty, Decimal("25.00"))]
        return []


class RepriceTooBig(Reprice):
    qty = 500


@pytest.mark.parametrize(("strategy", "sent", "text"), [
    (Reprice, ["B.1", "S.2"], ""),
    (RepriceTooBig, ["B.1"],
     "risk refused its last child: order quantity 500 exceeds max_order_qty 150"),
])
def test_a_held_child_cancelled_in_the_step_that_asks_for_the_next_is_not_the_last(
        strategy: StrategyFactory, sent: list[str], text: str) -> None:
    """The guard answers the held child's cancel after the step, by which time the next
    child went to the venue, or risk refused it: the parent's end Text tells of that one,
    not of self-trade prevention."""
    desk, guard = _guarded(strategy, ("B", Side.BUY, "20.00"), ("S", Side.SELL, "19.99"),
                           risk=RiskGate(RiskLimits(max_order_qty=150)))
    sell = desk.by_id["S"]
    sell.on_timer(T0 + SEC)
    assert desk.router.sent == sent and guard.held == []
    sell.on_timer(T0 + 600 * SEC)  # the end: what works is cancelled at the venue
    for child in list(sell.state.working):
        sell.on_child_done(child, "canceled", T0 + 600 * SEC)
    [done] = [e for e in desk.events if isinstance(e, ParentDone)]
    assert (done.reason, done.text) == ("expired", text)


def test_a_held_child_does_not_go_out_once_the_kill_switch_is_thrown() -> None:
    """The kill switch stops every parent, one at a time: the first one's child ending let
    another parent's held child out, to the venue, after the switch (the three-tier stack
    showed it, SIGUSR1 to the algo gateway)."""
    risk = RiskGate(RiskLimits())
    desk, guard = _guarded(OneLimitChild, ("B", Side.BUY, "20.00"), ("S", Side.SELL, "19.99"),
                           risk=risk)
    assert desk.router.sent == ["B.1"] and guard.held == ["S.1"]
    risk.kill("SIGUSR1")
    desk.by_id["B"].stop("kill switch: SIGUSR1", T0 + SEC)
    desk.by_id["B"].on_child_done("B.1", "canceled", T0 + SEC)
    guard.release()
    assert desk.router.sent == ["B.1"] and guard.held == ["S.1"]  # held until S stops
    desk.by_id["S"].stop("kill switch: SIGUSR1", T0 + SEC)
    assert desk.router.sent == ["B.1"] and guard.held == [] and desk.by_id["S"].done


def test_parents_stopped_together_let_none_of_their_held_children_out() -> None:
    """A clean stop, no kill switch: while the parents are stopped one at a time, the first
    one's child ending must not let the second's held child out before it is stopped too."""
    desk, guard = _guarded(OneLimitChild, ("B", Side.BUY, "20.00"), ("S", Side.SELL, "19.99"))
    with guard.holding():
        desk.by_id["B"].stop("gateway stopping", T0 + SEC)
        desk.by_id["B"].on_child_done("B.1", "canceled", T0 + SEC)
        guard.release()  # (as any report about a child asks)
        desk.by_id["S"].stop("gateway stopping", T0 + SEC)
    assert desk.router.sent == ["B.1"] and guard.held == []
    assert desk.by_id["B"].done and desk.by_id["S"].done
