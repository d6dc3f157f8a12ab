"""Self-trade prevention for the algo desk's child orders.

Every child of every parent goes to the venue as the desk's own order (one account), so a
buy parent's child and a sell parent's child on one symbol can trade with each other: a wash
trade, buying from ourselves, which no client wants and regulators look for. The runners'
children therefore pass through :class:`SelfTradeGuard` on their way to the desk's router.
A child that would cross a working child of another parent (the opposite side, the same
symbol, at a price that would trade with it: a market order always does) is the newest of
the two and is held back ("cancel newest", a venue's usual self-trade prevention, but held
rather than refused), while the resting one keeps its place in the queue.

A held child is working as far as its runner knows (sent, not yet acknowledged): its
strategy does not try again at every market update while the other child rests (a refusal
would have it do so, each try audited), and it may cancel the held child as any other,
which the guard answers itself (the venue never saw it). Whenever the venue reports on a
child, or a held one is cancelled, the held children that now cross nothing are sent, the
oldest first (:meth:`SelfTradeGuard.release`). A held child blocks the newer ones as one
at the venue would (newest held, whatever the order in which the others go), never an
older one, so two held children never wait for each other. A child whose cancel is on its
way still blocks: until the venue confirms, it can trade. So does a child no runner works
(:class:`OutsideChild`: a lost parent's, after a restart, until the venue accounts for it),
its price unknown: as a market order would, it blocks every opposite child of its symbol.
``child_held`` and ``child_released`` in the parent's audit say when and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from algos.runner import AlgoRunner, ChildRouter
from engine.book_types import Side

__all__ = ["HELD_TEXT", "OutsideChild", "SelfTradeGuard", "crossing_child"]

#: a parent's end Text when its latest child was held back until it was cancelled
HELD_TEXT = ("self-trade prevention held its last child back: it would have traded with "
             "another parent's child order")


@dataclass(frozen=True, slots=True)
class OutsideChild:
    """A child order of the desk's at the venue that no runner works (price unknown)."""

    child_id: str
    symbol: str
    side: Side


class _Desk(Protocol):
    """What the guard needs of the desk: the router children go to, and the runners."""

    @property
    def router(self) -> ChildRouter: ...

    def runners(self) -> Iterable[AlgoRunner]: ...

    def runner_of(self, child_id: str) -> AlgoRunner | None: ...

    def audit_child(self, child_id: str, event: str, /, **fields: str) -> None: ...

    @property
    def outside(self) -> Callable[[], Iterable[OutsideChild]]: ...


def trades_with(side: Side, price: Decimal | None, other: Decimal | None) -> bool:
    """Whether a child on ``side`` at ``price`` would trade with a working child of the
    other side at ``other`` (None: a market order, which trades with anything)."""
    return (price is None or other is None
            or (other <= price if side == Side.BUY else other >= price))


def crossing_child(runners: Iterable[AlgoRunner], symbol: str, side: Side,
                   price: Decimal | None, outside: Iterable[OutsideChild] = ()) -> str | None:
    """Why a new child (``side`` ``symbol`` at ``price``, None: market) would trade with a
    working child of another parent (a runner's of ``runners``) or with one of
    ``outside``, or None. (A parent's own children are on its side: never crossed.)"""
    for out in outside:
        if out.symbol == symbol and out.side != side:
            return (f"self-trade prevention: it could trade with {out.child_id} "
                    f"({out.side.name.lower()}, of a parent lost at a restart, being canceled)")
    for runner in runners:
        parent = runner.parent
        if parent.symbol != symbol or parent.side == side:
            continue
        for other in runner.state.working.values():
            if trades_with(side, price, other.price):
                at = "market" if other.price is None else str(other.price)
                return (f"self-trade prevention: it would trade with {other.child_id} "
                        f"({parent.side.name.lower()} {other.leaves:,} at {at}) of parent "
                        f"{parent.id}")
    return None


class _Reach:
    """How far some working children of one side of a symbol reach into the other side: a
    market order among them, else the most aggressive price (the highest bid, the lowest
    offer). A release pass asks it of every held child, where :func:`crossing_child` would
    go through every working child each time (a pass of H held children among W working
    ones took H x W steps, after every report: 24 capped parents on one symbol, 30 s)."""

    __slots__ = ("best", "market", "side")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.market = False
        self.best: Decimal | None = None

    def add(self, price: Decimal | None) -> None:
        if price is None:
            self.market = True
        elif self.best is None or (price > self.best if self.side == Side.BUY
                                   else price < self.best):
            self.best = price

    def crossed_by(self, price: Decimal | None) -> bool:
        """Whether a child of the other side at ``price`` would trade with one of these."""
        if self.market:
            return True
        other = Side.SELL if self.side == Side.BUY else Side.BUY
        return self.best is not None and trades_with(other, price, self.best)


@dataclass(frozen=True, slots=True)
class _Held:
    """A child's submit, held back."""

    symbol: str
    side: Side
    qty: int
    price: Decimal | None
    tif: Literal["day", "ioc"]
    reason: str


class SelfTradeGuard:
    """The runners' :class:`~algos.runner.ChildRouter`: the desk's router behind a
    self-trade check (module docstring). ``now`` gives the time of the call in hand."""

    def __init__(self, desk: _Desk, now: Callable[[], datetime]) -> None:
        self.desk = desk
        self.now = now
        self._held: dict[str, _Held] = {}  # child id -> its submit, the oldest first
        self._releasing = False
        self._again = False

    @property
    def held(self) -> list[str]:
        """The children held back, the oldest first."""
        return list(self._held)

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Literal["day", "ioc"], reason: str = "") -> None:
        # every child held is older than this one: it blocks it as one at the venue would
        why = crossing_child(self.desk.runners(), symbol, side, price,
                             outside=self.desk.outside())
        if why is None:
            self.desk.router.submit(child_id, symbol, side, qty, price, tif, reason)
            return
        self._held[child_id] = _Held(symbol, side, qty, price, tif, reason)
        self.desk.audit_child(child_id, "child_held", why=why)

    def cancel(self, child_id: str) -> None:
        if self._held.pop(child_id, None) is None:
            self.desk.router.cancel(child_id)
            return
        runner = self.desk.runner_of(child_id)
        if runner is not None:
            # (queued if the runner asked from inside its own step: it reads it after); the
            # parent's end Text does not name the other parent: it may be another client's
            runner.on_child_done(child_id, "canceled while held by self-trade prevention "
                                 "(never sent)", self.now(), unsent=HELD_TEXT)
        self.release()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Nothing is released inside the block, then what may go is (stopping every parent
        one at a time, the first one's cancels must not let another's held child out before
        that one is stopped too)."""
        if self._releasing:
            yield
            return
        self._releasing = True
        try:
            yield
        finally:
            self._releasing = False
        if self._again:
            self.release()

    def _reach(self) -> dict[tuple[str, Side], _Reach]:
        """What the runners' working children not held reach, by their symbol and side."""
        out: dict[tuple[str, Side], _Reach] = {}
        for runner in self.desk.runners():
            parent = runner.parent
            for child in runner.state.working.values():
                if child.child_id not in self._held:
                    key = (parent.symbol, parent.side)
                    if key not in out:
                        out[key] = _Reach(parent.side)
                    out[key].add(child.price)
        return out

    def release(self) -> None:
        """Send the held children that no longer cross another parent's child at the venue
        or an older held one, the oldest first; forget those their runners no longer work.
        Re-entrant: a submit whose answers come back at once (an in-process venue) asks
        again when it is done."""
        if not self._held:
            return  # called after every report about a child: the usual case is nothing held
        if self._releasing:
            self._again = True
            return
        self._releasing = True
        try:
            self._again = True
            while self._again:
                self._again = False
                order = list(self._held.items())
                # what the children not held reach, and children held outside the runners
                # (both read once a pass, and again after a send: its answers may change
                # them); what the held ones met so far reach (older: they block a newer one)
                reach: dict[tuple[str, Side], _Reach] | None = None
                outside: set[tuple[str, Side]] = set()
                older: dict[tuple[str, Side], _Reach] = {}
                for child_id, held in order:
                    if child_id not in self._held:
                        continue
                    runner = self.desk.runner_of(child_id)
                    if runner is None or child_id not in runner.state.working:
                        del self._held[child_id]
                        continue
                    if reach is None:
                        reach = self._reach()
                        outside = {(o.symbol, o.side) for o in self.desk.outside()}
                    other = (held.symbol, Side.SELL if held.side == Side.BUY else Side.BUY)
                    blocked = (other in outside
                               or (other in reach and reach[other].crossed_by(held.price))
                               or (other in older and older[other].crossed_by(held.price)))
                    # (not may_send: a kill switch, a stop; its cancel comes)
                    if blocked or not runner.may_send():
                        # still held: it blocks the newer ones (one sent is in the reach of
                        # the children not held, if the venue's answers left it working)
                        older.setdefault((held.symbol, held.side), _Reach(held.side)).add(
                            held.price)
                        continue
                    del self._held[child_id]
                    self.desk.audit_child(child_id, "child_released")
                    self.desk.router.submit(child_id, held.symbol, held.side, held.qty,
                                            held.price, held.tif, held.reason)
                    reach = None
        finally:
            self._releasing = False
