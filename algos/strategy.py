"""The public strategy interface: what an execution algorithm sees and what it may decide.

A strategy works one parent order. It is built from the parent (which carries its
parameters) and an :class:`AlgoContext`, and it is called with

* market snapshots (:meth:`Strategy.on_market_snapshot`),
* its own executions (:meth:`Strategy.on_execution`),
* timers it asked for (:meth:`Strategy.on_timer`, when :meth:`Strategy.next_wakeup` is due,
  and after a child ends without filling so the strategy can re-send its quantity: at once
  when its own cancel ended it, a second later (:data:`algos.runner.RETRY`) when the venue
  rejected it or ended it unasked, unless a snapshot comes first),

and each call returns a list of :data:`Action`: child orders to send and child orders to
cancel. It never sends anything itself and never reads a clock, a socket or a file: the
context gives it the time and its order state, and the runner that owns it
(:mod:`algos.runner`) checks risk, submits and audits every action. That is what lets the
same class run live against a venue and in a backtest against a replayed log.

Users plug their own class in by dotted path (``strategy: mypackage.module:MyStrategy``);
``algos/example_strategy.py`` is a worked example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from engine.book_types import Side

__all__ = [
    "Action",
    "AlgoContext",
    "CancelChild",
    "ChildOrder",
    "Execution",
    "MarketSnapshot",
    "MarketWatch",
    "OrderState",
    "ParentOrder",
    "Side",
    "StopParent",
    "Strategy",
    "WorkingChild",
]


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market in one symbol at ``time``: top of book, last trade, cumulative volume.

    ``volume`` is the quantity traded in the symbol since the feed started (monotonic), so a
    strategy measures market volume over an interval as a difference. ``bids``/``asks`` hold
    up to a few levels (best first) as (price, quantity) for strategies that look deeper.
    """

    time: datetime
    symbol: str
    bid: Decimal | None
    bid_qty: int
    ask: Decimal | None
    ask_qty: int
    last_price: Decimal | None = None
    volume: int = 0
    bids: tuple[tuple[Decimal, int], ...] = ()
    asks: tuple[tuple[Decimal, int], ...] = ()

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class MarketWatch:
    """The market changes a strategy waits for in its parent's symbol: the best bid rising
    to ``bid_rises_to`` or above, falling to ``bid_falls_to`` or below, the same for the
    best ask; also, whatever the bounds, a side with a bound emptying, and the book crossed
    (bid above ask) or empty. None: that bound is not watched; ``MarketWatch()`` waits for
    no price at all (only the book going crossed or empty)."""

    bid_rises_to: Decimal | None = None
    bid_falls_to: Decimal | None = None
    ask_rises_to: Decimal | None = None
    ask_falls_to: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """A client's parent order as the algo works it.

    ``qty`` is the total to execute (after a replace, the new total); ``limit`` None means no
    limit (OrdType market). ``start``/``end`` bound the schedule (EffectiveTime/ExpireTime).
    ``participation`` is the cap on our share of market volume (0 < p <= 1) or None.
    ``params`` are TargetStrategyParameters (848) or StrategyParametersGrp entries, keys as
    sent (``Slices``, ``MaxChildQty``, ``UseModel`` ...). Quantities are in shares and are
    multiples of ``lot_size``; prices are multiples of ``tick_size``.
    """

    id: str
    symbol: str
    side: Side
    qty: int
    limit: Decimal | None
    start: datetime
    end: datetime
    participation: float | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    lot_size: int = 1
    tick_size: Decimal = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """A decision to send a child order. ``price`` None is a market order. ``reason`` is a
    short human explanation that goes to the audit log (``slice 3/10``, ``catch-up``)."""

    qty: int
    price: Decimal | None
    tif: Literal["day", "ioc"] = "day"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CancelChild:
    """A decision to cancel a working child order (by the id the runner gave it)."""

    child_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StopParent:
    """A decision to send nothing more for the parent: the runner cancels its working
    children and ends it, unfilled part and all, as soon as none is left working (the client
    hears an unsolicited cancel whose Text is ``reason``). For a strategy whose work is over
    before its end time (one market order, its remainder canceled): the parent does not sit
    open, seemingly working, until the window ends."""

    reason: str


Action = ChildOrder | CancelChild | StopParent


@dataclass(frozen=True, slots=True)
class Execution:
    """A fill of one of this strategy's child orders."""

    time: datetime
    child_id: str
    qty: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class WorkingChild:
    """A child order that is live at the venue (sent, not yet filled, cancelled or rejected).
    ``leaves`` is what can still fill; a cancel in flight keeps the child here until the
    venue confirms."""

    child_id: str
    qty: int
    leaves: int
    price: Decimal | None
    tif: Literal["day", "ioc"]
    sent: datetime
    cancel_pending: bool = False


@dataclass(frozen=True, slots=True)
class OrderState:
    """The parent as the runner sees it right now (a snapshot; the runner makes a new one
    after every change)."""

    parent: ParentOrder
    filled: int
    avg_price: Decimal | None
    working: Mapping[str, WorkingChild]
    done: bool = False
    #: children handed to the router so far (past the runner's checks and risk), and how many
    #: of them were rejected (by the venue, or by a router whose venue link is down): a
    #: strategy tells a refused order from one that worked and ended by these
    sent: int = 0
    rejected: int = 0

    @property
    def working_qty(self) -> int:
        return sum(c.leaves for c in self.working.values())

    @property
    def remaining(self) -> int:
        """Quantity neither filled nor working: what a strategy may still send."""
        left = self.parent.qty - self.filled - self.working_qty
        return left if left > 0 else 0  # max(0, ...), without the call: asked every decision


class AlgoContext(Protocol):
    """What a strategy may ask of the world: the time and its own order state."""

    def now(self) -> datetime: ...

    @property
    def state(self) -> OrderState: ...


class Strategy(Protocol):
    """The interface TWAP, VWAP and user strategies implement.

    Built as ``cls(parent, ctx)``. Every method returns the actions to take now (possibly
    none). The runner enforces the parent's limit price, quantity and risk limits on every
    child, so a strategy cannot overfill or cross the limit even if it asks to.

    After a parent replace the runner builds a new instance for the new parent; if the class
    defines the optional ``carry_over(self, previous) -> None``, it is called with the
    instance being replaced so market state (volume seen since the start, the last book)
    survives the replace.

    A class may also define ``unfilled_reason(self) -> str | None``: asked when the window
    ends with part of the parent unfilled, its answer (a phrase: ``participation cap 0.1:
    2,700 shares traded by others allowed 300``) is added to the report's Text that ends the
    parent, so the client learns why, not only how much.

    And ``planned(self) -> Sequence[tuple[datetime, int]]``: the schedule, as points (time,
    cumulative quantity due by then), non-decreasing, linear between them. Reports draw it
    against the fills (no such method: the whole quantity evenly over the window).

    And ``market_watch(self) -> MarketWatch | None``: the promise that, until the market
    reaches the answer (:class:`MarketWatch`), a snapshot would change nothing the strategy
    does, now or later, beyond what the snapshot when it is reached shows (None, or no such
    method: any snapshot may matter). Asked after every call, like :meth:`next_wakeup`. A
    backtest uses it to let the replay run on in C between the strategy's events instead
    of showing it the book every ``snapshot_interval``; live, every change is shown anyway.
    """

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]: ...

    def on_execution(self, execution: Execution) -> list[Action]: ...

    def on_timer(self, now: datetime) -> list[Action]:
        """Re-evaluate at ``now``. Called when :meth:`next_wakeup` is due, and also when the
        order state changed without an execution (a child its cancel asked for ended, or the
        runner rebuilt the strategy after a replace; a child rejected or ended by the venue
        unasked, a second later if no snapshot comes first), so the strategy can re-send
        what came back. It must decide from ``now`` and ``ctx.state``, not assume that its
        own wakeup time has come."""
        ...

    def next_wakeup(self) -> datetime | None:
        """When :meth:`on_timer` should be called next (None: no timer wanted)."""
        ...
