"""Self-trade prevention for the algo desk's child orders.

Every child of every parent goes to the venue as the desk's own order (one account), so a
buy parent's child and a sell parent's child on one symbol can trade with each other: a wash
trade, buying from ourselves, which no client wants and regulators look for. The runners'
children therefore pass through :class:`SelfTradeGuard` on their way to the desk's router,
which refuses a child that would cross a working child of another parent (the opposite side,
the same symbol, at a price that would trade with it: a market order always does): the
newest order is the one refused ("cancel newest", a venue's usual self-trade prevention),
while the resting one keeps its place in the queue.

The refusal reaches the child's runner at once as a reject that is not counted among the
rejects in a row (it says nothing about the venue: the parent is not stopped for it), with
the crossing child named in the reason, which the runner audits. The strategy tries again
at its next snapshot or timer, by which time the other child may have filled, moved or
gone. A child whose cancel is on its way still counts: until the venue confirms, it can
trade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from algos.runner import AlgoRunner, ChildRouter
from engine.book_types import Side

__all__ = ["SelfTradeGuard", "crossing_child"]


class _Desk(Protocol):
    """What the guard needs of the desk: the router children go to, and the runners."""

    @property
    def router(self) -> ChildRouter: ...

    def runners(self) -> Iterable[AlgoRunner]: ...

    def runner_of(self, child_id: str) -> AlgoRunner | None: ...


def crossing_child(runners: Iterable[AlgoRunner], child_id: str, symbol: str, side: Side,
                   price: Decimal | None) -> str | None:
    """Why a new child (``side`` ``symbol`` at ``price``, None: market) of the parent whose
    child ``child_id`` is would trade with a working child of another parent, or None."""
    for runner in runners:
        parent = runner.parent
        if parent.symbol != symbol or parent.side == side or child_id in runner.state.working:
            continue
        for other in runner.state.working.values():
            if (price is None or other.price is None
                    or (other.price <= price if side == Side.BUY else other.price >= price)):
                at = "market" if other.price is None else str(other.price)
                return (f"self-trade prevention: it would trade with {other.child_id} "
                        f"({parent.side.name.lower()} {other.leaves:,} at {at}) of parent "
                        f"{parent.id}")
    return None


class SelfTradeGuard:
    """The runners' :class:`~algos.runner.ChildRouter`: the desk's router behind a
    self-trade check (module docstring). ``now`` gives the time of the call in hand."""

    def __init__(self, desk: _Desk, now: Callable[[], datetime]) -> None:
        self.desk = desk
        self.now = now
        self._refused: set[str] = set()  # children refused here: never at the venue

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Literal["day", "ioc"], reason: str = "") -> None:
        why = crossing_child(self.desk.runners(), child_id, symbol, side, price)
        if why is None:
            self.desk.router.submit(child_id, symbol, side, qty, price, tif, reason)
            return
        runner = self.desk.runner_of(child_id)
        if runner is not None:
            # those whose runners have read their rejects need no guarding any more
            self._refused = {c for c in self._refused if self._working(c)}
            self._refused.add(child_id)
            runner.on_child_reject(child_id, why, self.now(), counted=False)

    def _working(self, child_id: str) -> bool:
        runner = self.desk.runner_of(child_id)
        return runner is not None and child_id in runner.state.working

    def cancel(self, child_id: str) -> None:
        if child_id in self._refused:
            # (the runner may ask before it has read the child's reject, queued in its step)
            self._refused.discard(child_id)
            return
        self.desk.router.cancel(child_id)
