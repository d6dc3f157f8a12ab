"""Self-trade prevention against random sequences of children (buy and sell parents on one
or two symbols, limit and market children, cancels, a venue that answers at once or
later, runners reacting to their children's ends, kill switches): no child ever goes out
that would trade with another parent's child at the venue, and none is held for good."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.book_types import Side
from gateway.self_trade import SelfTradeGuard

T0 = datetime(2026, 11, 29, 14, 30, tzinfo=UTC)


class _Parent:
    def __init__(self, pid: str, symbol: str, side: Side) -> None:
        self.id, self.symbol, self.side = pid, symbol, side


class _Child:
    def __init__(self, child_id: str, price: Decimal | None) -> None:
        self.child_id, self.price, self.leaves = child_id, price, 100


class _State:
    def __init__(self, working: dict[str, _Child]) -> None:
        self.working = working


class _Runner:
    """What the guard reads of a runner; its strategy sends, cancels, or is stopped."""

    def __init__(self, desk: _Desk, pid: str, symbol: str, side: Side) -> None:
        self.desk, self.parent = desk, _Parent(pid, symbol, side)
        self.working: dict[str, _Child] = {}
        self.seq, self.active, self.done = 0, True, False

    @property
    def state(self) -> _State:
        return _State(dict(self.working))

    def may_send(self) -> bool:
        return self.active

    def new_child(self) -> None:
        self.seq += 1
        child_id = f"{self.parent.id}.{self.seq}"
        rng = self.desk.rng
        price = None if rng.random() < 0.1 else Decimal(rng.randint(95, 105))
        self.working[child_id] = _Child(child_id, price)
        self.desk.guard.submit(child_id, self.parent.symbol, self.parent.side, 100, price,
                               "day")

    def on_child_done(self, child_id: str, reason: str, now: object,
                      unsent: str | None = None) -> None:
        self.working.pop(child_id, None)
        self.react()

    def react(self) -> None:
        if self.desk.quiet:
            return
        x = self.desk.rng.random()
        if x < 0.35 and self.active and len(self.working) < 3:
            self.new_child()
        elif x < 0.5 and self.working:
            self.desk.guard.cancel(self.desk.rng.choice(sorted(self.working)))


class _Desk:
    """A desk whose router is a venue: it checks every child it is sent against the
    children it holds, and answers at once (a fill) or later."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.router = self
        self.outside = tuple
        self.at_venue: set[str] = set()
        self.crossed: list[str] = []
        self.quiet = False  # the runners no longer react to their children's ends
        self.runs = {}
        for i in range(2 + seed % 5):
            pid = f"P{i}"
            self.runs[pid] = _Runner(self, pid, f"S{self.rng.randrange(1 + (seed % 3 == 0))}",
                                     self.rng.choice([Side.BUY, Side.SELL]))
        self.guard = SelfTradeGuard(self, lambda: T0)  # type: ignore[arg-type]

    def runners(self) -> list[_Runner]:
        return list(self.runs.values())

    def runner_of(self, child_id: str) -> _Runner | None:
        return self.runs.get(child_id.split(".")[0])

    def audit_child(self, child_id: str, event: str, /, **fields: str) -> None:
        pass

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: str, reason: str = "") -> None:
        for other in self.at_venue:
            runner = self.runner_of(other)
            assert runner is not None
            resting = runner.working.get(other)
            if (resting is not None and runner.parent.symbol == symbol
                    and runner.parent.side != side
                    and (price is None or resting.price is None
                         or (resting.price <= price if side == Side.BUY
                             else resting.price >= price))):
                self.crossed.append(f"{child_id} would trade with {other}")
        self.at_venue.add(child_id)
        if self.rng.random() < 0.4:  # an in-process venue: the answer comes at once
            self.done(child_id)

    def cancel(self, child_id: str) -> None:
        if self.rng.random() < 0.7:
            self.done(child_id)

    def done(self, child_id: str) -> None:
        self.at_venue.discard(child_id)
        runner = self.runner_of(child_id)
        if runner is not None and child_id in runner.working:
            del runner.working[child_id]
            runner.react()
        self.guard.release()

    def step(self) -> None:
        x = self.rng.random()
        runner = self.rng.choice(list(self.runs.values()))
        if x < 0.5:
            runner.new_child()
        elif x < 0.8 and self.at_venue:
            self.done(self.rng.choice(sorted(self.at_venue)))
        elif x < 0.9:
            if runner.working:
                self.guard.cancel(self.rng.choice(sorted(runner.working)))
        else:
            runner.active = not runner.active
            self.guard.release()


@pytest.mark.parametrize("seed", range(400))
def test_no_child_goes_out_that_would_trade_with_another_parents(seed: int) -> None:
    desk = _Desk(seed)
    for _ in range(60):
        desk.step()
    assert desk.crossed == []
    # then the runners stop deciding and the venue answers everything: every held child
    # goes out in turn, the oldest first, and none is left held
    desk.quiet = True
    for runner in desk.runs.values():
        runner.active = True
    desk.guard.release()
    for _ in range(1000):
        if not desk.at_venue:
            break
        desk.done(sorted(desk.at_venue)[0])
    assert desk.guard.held == [] and not desk.at_venue
    assert desk.crossed == []


def test_a_child_filled_as_it_is_sent_no_longer_holds_the_newer_ones() -> None:
    """Three held children, the oldest first: a sell at 100, a buy at 101, a sell at 105;
    the venue fills each as it is sent. The sell at 100 went and filled, yet went on
    holding the buy for the rest of the pass, so the sell at 105 went before it."""
    desk = _Desk(0)
    desk.runs = {pid: _Runner(desk, pid, "AAPL", side)
                 for pid, side in (("R", Side.SELL), ("O", Side.BUY), ("N", Side.SELL))}
    desk.quiet = True
    sent: list[str] = []
    blocker = _Runner(desk, "X", "AAPL", Side.BUY)  # its buy at 105 holds all three
    desk.runs["X"] = blocker
    blocker.working["X.1"] = _Child("X.1", Decimal(105))
    desk.at_venue.add("X.1")
    for pid, price in (("R", 100), ("O", 101), ("N", 105)):
        desk.runs[pid].working[f"{pid}.1"] = _Child(f"{pid}.1", Decimal(price))
        desk.guard.submit(f"{pid}.1", "AAPL", desk.runs[pid].parent.side, 100,
                          Decimal(price), "day")
    assert desk.guard.held == ["R.1", "O.1", "N.1"]

    def fill_at_once(child_id: str, *args: object) -> None:
        sent.append(child_id)
        desk.done(child_id)

    desk.submit = fill_at_once  # type: ignore[method-assign, assignment]
    del blocker.working["X.1"]  # its buy is done: the three may go, in turn
    desk.at_venue.discard("X.1")
    desk.guard.release()
    assert sent == ["R.1", "O.1", "N.1"]
