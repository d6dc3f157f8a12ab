"""The schedule engine TWAP and VWAP share: slices, passive then aggressive, catch-up.

A :class:`SlicedStrategy` cuts the window ``[start, end)`` into ``Slices`` equal slices and
asks its subclass for the share of the parent due by the end of each slice
(:meth:`SlicedStrategy.schedule`: equal steps for TWAP, the volume profile for VWAP). The
cumulative target of slice ``i`` is that share of the quantity rounded to whole lots (half
up), the last slice's target being the whole quantity; when the quantity has fewer lots
than there are slices, the lots land on evenly spread slices and the others send nothing.

One built for a replace (the window begun, some of it filled) plans what is left over the
time that is left: the window starts at the later of ``start`` and now, and the targets are
what is filled then plus the schedule's share of the rest. Planned from the original start,
a larger quantity went out in one burst (the slices already gone) and a moved window or a
smaller one sent nothing until the old curve caught up with the fills.

Within slice ``i`` (times relative to its start, ``L`` its length):

* at 0, the strategy posts ``target(i) - filled - working`` at the near touch (bid for a
  buy), DAY: quantity a slice did not fill carries into the next one;
* at ``f * L`` (``f`` = 0.5, or earlier with ``UseModel=Y``, see :mod:`algos.overlay`),
  whatever is still short of ``target(i)`` crosses the spread: children resting at a worse
  price are cancelled and, once the venue confirms, re-sent at the far touch, DAY;
* a child left behind by a moving market is repriced once it has rested ``L / 10``;
* from ``catch-up`` (``end - min(L / 4, 60 s)``, ``L`` here the slice length over the
  parent's whole window, also for one built for a replace) the target is the whole
  quantity: the rest goes as IOC at the far touch, once per new snapshot (an IOC's unfilled
  part comes back and is retried when the book changes, not in a loop); if the far touch
  is beyond the limit, as DAY at the limit instead.

Every price is capped by the parent's limit (a buy never above it, a sell never below) and
rounded to the tick away from the far side. Quantities are whole lots except the parent's
final odd remainder, and no child exceeds ``MaxChildQty`` (a larger quantity is split, at
most :data:`MAX_CHILDREN_PER_DECISION` children per decision). With a participation cap
(``ParentOrder.participation``, ``rate``), our fills stay within ``rate`` of all volume traded
since the start, ours included (``MarketSnapshot.volume`` counts every print; the baseline
is the last snapshot at or before the start): filled + working never exceeds
``rate / (1 - rate)`` x the volume the others traded (market volume less our fills), so
whatever is working may fill and the share still holds. Counting our own prints as room
instead would let each fill make room for the next: a burst of ever smaller children within
one instant, converging to the same quantity. Before any volume trades the cap is zero, so
a capped order sends nothing until the market prints. Without a snapshot showing a bid and an ask,
or with a crossed book, the strategy waits.

Parameters (``ParentOrder.params``, anything else is refused so a typo cannot pass):
``Slices`` (positive integer, at most MAX_SLICES; default one slice per 5 minutes of
window), ``MaxChildQty`` (positive integer, at least one lot), ``UseModel`` (``Y``/``N``,
default N).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Literal

from algos.overlay import DEFAULT_FRACTION, FillOverlay, fill_features
from algos.strategy import (
    Action,
    AlgoContext,
    CancelChild,
    ChildOrder,
    Execution,
    MarketSnapshot,
    MarketWatch,
    OrderState,
    ParentOrder,
    Side,
    WorkingChild,
)

__all__ = [
    "DEFAULT_SLICE",
    "MAX_CHILDREN_PER_DECISION",
    "SliceParams",
    "SlicedStrategy",
    "StrategyParameterError",
    "cap_to_limit",
    "parse_slice_params",
    "round_to_tick",
]

#: Default slice length when ``Slices`` is not given.
DEFAULT_SLICE = timedelta(minutes=5)
#: Most children one decision sends (a MaxChildQty far below the quantity would otherwise
#: flood the venue at once); the rest follows at the next decision.
MAX_CHILDREN_PER_DECISION = 20
_CATCH_UP_MAX = timedelta(seconds=60)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_PARAMS = ("MaxChildQty", "Slices", "UseModel")
#: The most slices a parent may ask for (one every 2.3 s of a 6.5-hour day): the schedule's
#: work grows with the count, and a client's 848=Slices=100000000 stalled the venue a minute.
MAX_SLICES = 10_000


def _default_slices(window: timedelta) -> int:
    """The slice count when ``Slices`` is not given: one per :data:`DEFAULT_SLICE`, capped as
    a given count is (an ExpireTime years ahead is no reason for a million slices)."""
    return min(MAX_SLICES, max(1, round(window / DEFAULT_SLICE)))


class StrategyParameterError(ValueError):
    """A strategy parameter is missing, unknown or out of range; the message says which."""


@dataclass(frozen=True, slots=True)
class SliceParams:
    slices: int | None
    max_child_qty: int | None
    use_model: bool


def _positive_int(params: Mapping[str, str], key: str, strategy: str,
                  most: int | None = None) -> int | None:
    raw = params.get(key)
    if raw is None:
        return None
    text = raw.strip()
    # ASCII digits only: int() would also take "1_0" (as 10) and other scripts' digits
    value = int(text) if text.isascii() and text.isdigit() else 0
    if value <= 0:
        raise StrategyParameterError(f"{strategy} {key} must be a positive integer, got {raw!r}")
    if most is not None and value > most:
        raise StrategyParameterError(f"{strategy} {key} must be at most {most}, got {value}")
    return value


def parse_slice_params(params: Mapping[str, str], strategy: str,
                       extra: Sequence[str] = ()) -> SliceParams:
    """``Slices``, ``MaxChildQty`` and ``UseModel`` from ``params``; keys outside those and
    ``extra`` are refused."""
    allowed = (*_PARAMS, *extra)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise StrategyParameterError(
            f"unknown {strategy} parameter {', '.join(unknown)}; expected "
            f"{', '.join(sorted(allowed))}")
    use = params.get("UseModel", "N").strip().upper()
    if use not in ("Y", "N"):
        raise StrategyParameterError(f"{strategy} UseModel must be Y or N, got {use!r}")
    return SliceParams(
        slices=_positive_int(params, "Slices", strategy, MAX_SLICES),
        max_child_qty=_positive_int(params, "MaxChildQty", strategy),
        use_model=use == "Y",
    )


def cap_to_limit(price: Decimal, side: Side, limit: Decimal | None) -> Decimal:
    """``price`` made no worse than ``limit``: a buy at most it, a sell at least it."""
    if limit is None:
        return price
    return min(price, limit) if side == Side.BUY else max(price, limit)


def round_to_tick(price: Decimal, side: Side, tick: Decimal) -> Decimal:
    """``price`` on the tick grid, rounded the passive way (a buy down, a sell up), so
    rounding never makes a price more aggressive or crosses a limit."""
    steps = (price / tick).to_integral_value(ROUND_FLOOR if side == Side.BUY else ROUND_CEILING)
    return steps * tick


def _lags(child: Decimal | None, wanted: Decimal, side: Side) -> bool:
    """A child at ``child`` is less aggressive than ``wanted`` (a market child never is)."""
    if child is None:
        return False
    return child < wanted if side == Side.BUY else child > wanted


class SlicedStrategy:
    """Base of TWAP and VWAP; subclasses give :meth:`schedule` and a ``name``.

    Built as ``cls(parent, ctx, model=None)``: ``model`` is the shared overlay used when the
    parent says ``UseModel=Y`` (a private one is made if none is given); with ``UseModel=N``
    the model is never called. Raises :class:`StrategyParameterError` for bad parameters.
    """

    name = "sliced"
    extra_params: tuple[str, ...] = ()

    def __init__(self, parent: ParentOrder, ctx: AlgoContext, *,
                 model: FillOverlay | None = None) -> None:
        if parent.end <= parent.start:
            raise StrategyParameterError(f"{self.name}: the end time must be after the start")
        if parent.qty <= 0 or parent.lot_size <= 0:
            raise StrategyParameterError(f"{self.name}: quantity and lot size must be positive")
        params = self.check_params(parent.params)
        self.parent = parent
        self.ctx = ctx
        #: where the schedule starts: the parent's start, or now for one built once the
        #: window has begun (a replace), and what was filled by then (see the module doc)
        self.start = max(parent.start, ctx.now())
        if self.start >= parent.end:
            raise StrategyParameterError(f"{self.name}: the end time must be after now")
        self.base = min(ctx.state.filled, parent.qty)
        window = parent.end - self.start
        self.slices = params.slices or _default_slices(window)
        self.slice_len = window / self.slices
        lot = parent.lot_size
        if params.max_child_qty is not None and params.max_child_qty < lot:
            raise StrategyParameterError(
                f"{self.name} MaxChildQty {params.max_child_qty} is below the lot size {lot}")
        self.max_child = (params.max_child_qty // lot * lot if params.max_child_qty
                          else parent.qty)
        self.model = (model or FillOverlay()) if params.use_model else None
        # the parent's, whenever this was built: planned from a replace's time left (shorter
        # slices), a replace late in the window had moved it to the last instants
        whole = parent.end - parent.start
        whole_slice = whole / (params.slices or _default_slices(whole))
        self.catch_up_at = parent.end - min(whole_slice / 4, _CATCH_UP_MAX)
        self.min_rest = self.slice_len / 10
        # The strategy is asked about the slice and its crossing point several times per
        # market update: slice_at keeps its last answer with the span it holds for, and
        # cross_at its answer per slice (until the model moves that slice's point).
        self._slice = 0
        self._slice_from = self._slice_to = self.start  # empty: the first call computes
        self._cross: dict[int, datetime] = {}
        self._ticked: tuple[Decimal, Decimal] | None = None  # see _on_tick
        self.targets = self._targets(self.schedule())
        self._snapshot: MarketSnapshot | None = None
        self._snapshots = 0  # count of usable snapshots seen, to retry IOCs once per book
        self._ioc_at_snapshot = -1
        self._volume_last: int | None = None
        self._volume_seen = 0
        # the cap's rate as the exact fraction it was written as (0.3 is 3/10): in floats,
        # 0.3 / 0.7 * 700 is 299.99999999999994, one share short of the cap
        rate = parent.participation
        self._rate = Fraction(str(rate)) if rate is not None and rate < 1 else None
        self._fractions: dict[int, float] = {}  # crossing point per slice, from the model
        # The slice whose passive fill the model predicted and still waits to learn:
        # (slice, features, prediction, cumulative quantity that means "filled").
        self._pending: tuple[int, dict[str, float], float, int] | None = None
        self._watch: MarketWatch | None = None  # market_watch's answer, set by every decision

    @classmethod
    def check_params(cls, params: Mapping[str, str]) -> SliceParams:
        """``params`` (TargetStrategyParameters) as this strategy reads them; raises
        :class:`StrategyParameterError` for an unknown key or a bad value."""
        return parse_slice_params(params, cls.name, cls.extra_params)

    # -- for subclasses -----------------------------------------------------------------------

    def schedule(self) -> Sequence[Fraction | float]:
        """Share of the parent due by the end of each slice: non-decreasing, last = 1."""
        raise NotImplementedError

    # -- the Strategy interface ---------------------------------------------------------------

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        if snapshot.symbol != self.parent.symbol:
            return []
        self._track_volume(snapshot)
        bid, ask = snapshot.bid, snapshot.ask
        if (bid is None and ask is None) or (bid is not None and ask is not None and bid > ask):
            self._snapshot = None  # empty or crossed: wait rather than price off it
        else:
            self._snapshot = snapshot  # one side is enough: see _prices
            self._snapshots += 1
        return self._decide(self.ctx.now())

    def on_execution(self, execution: Execution) -> list[Action]:
        if self._pending is not None and self.model is not None:
            _, x, p, goal = self._pending
            if self.ctx.state.filled >= goal:
                self.model.learn(x, True, p)
                self._pending = None
        return self._decide(self.ctx.now())

    def on_timer(self, now: datetime) -> list[Action]:
        return self._decide(now)

    def next_wakeup(self) -> datetime | None:
        now = self.ctx.now()
        p = self.parent
        if now < p.start:
            return p.start
        if now >= self.catch_up_at:
            return None
        i = self.slice_at(now)
        # slice_at left _slice_to at the next slice's start (unbounded for the last slice)
        to = self._slice_to if i + 1 < self.slices else p.end
        wake = to if to < self.catch_up_at else self.catch_up_at  # min(), without the call
        cross = self.cross_at(i)
        if now < cross < wake:
            wake = cross
        # a child that may not be repriced yet (min_rest) may be from then on: a decision
        # then, not at whatever snapshot comes next (market_watch leaves such children out)
        for child in self.ctx.state.working.values():
            if child.price is not None and not child.cancel_pending:
                rested = child.sent + self.min_rest
                if now < rested < wake:
                    wake = rested
        return wake

    def market_watch(self) -> MarketWatch | None:
        """After a decision that sent nothing and had nothing to wait for but the market
        moving away from a child (outside the catch-up and with the participation cap not
        binding): the touch at which the least aggressive child that may be repriced would
        lag the price :meth:`_decide` wants. None otherwise (any snapshot may matter)."""
        return self._watch

    def unfilled_reason(self) -> str | None:
        """Why the parent is not filled, when the market data says (see
        :class:`~algos.strategy.Strategy`): no usable book seen, the participation cap, or a
        market that stayed beyond the limit price."""
        p = self.parent
        if self._snapshots == 0:
            return f"no usable book of {p.symbol} seen (none, or only empty or crossed ones)"
        filled = self.ctx.state.filled
        cap = self.participation_cap(filled)
        if cap < p.qty and cap <= filled + p.lot_size:
            others = self._volume_seen - filled
            if others <= 0:
                return f"participation cap {p.participation}: no market volume but ours seen"
            return (f"participation cap {p.participation}: {others:,} shares traded by others "
                    f"allowed {cap:,}")
        snap = self._snapshot
        if p.limit is not None and snap is not None:
            far = snap.ask if p.side == Side.BUY else snap.bid
            if far is not None and (far > p.limit if p.side == Side.BUY else far < p.limit):
                return f"the market was beyond the limit {p.limit} at the end ({far})"
        return None

    def carry_over(self, previous: object) -> None:
        """After a replace: keep the market state the replaced instance had seen (the last
        book and the volume since the start, which the participation cap counts from)."""
        if isinstance(previous, SlicedStrategy):
            self._snapshot = previous._snapshot
            self._snapshots = previous._snapshots
            self._ioc_at_snapshot = previous._ioc_at_snapshot
            self._volume_last = previous._volume_last
            self._volume_seen = previous._volume_seen

    # -- schedule -----------------------------------------------------------------------------

    def _targets(self, shares: Sequence[Fraction | float]) -> list[int]:
        if len(shares) != self.slices:
            raise ValueError(f"{self.name}: schedule has {len(shares)} entries, "
                             f"expected {self.slices}")
        lot = self.parent.lot_size
        lots = (self.parent.qty - self.base) // lot
        out: list[int] = []
        last = 0
        for share in shares:
            # Half-up rounding in lots; max() keeps the targets non-decreasing against
            # float noise in a profile's cumulative shares.
            n = math.floor(Fraction(share) * lots + Fraction(1, 2))
            last = max(last, min(n, lots))
            out.append(self.base + last * lot)
        out[-1] = self.parent.qty
        return out

    def slice_start(self, i: int) -> datetime:
        return self.start + self.slice_len * i

    def planned(self) -> list[tuple[datetime, int]]:
        """The schedule (see :class:`~algos.strategy.Strategy`): what was filled at the
        start, then each slice's target by its end."""
        ends = [self.slice_start(i + 1) for i in range(self.slices - 1)] + [self.parent.end]
        return [(self.start, self.base), *zip(ends, self.targets, strict=True)]

    def slice_at(self, now: datetime) -> int:
        """Index of the slice holding ``now`` (clamped to the first and last)."""
        if self._slice_from <= now < self._slice_to:
            return self._slice
        i = min(max(int((now - self.start) / self.slice_len), 0), self.slices - 1)
        # the times that give i: from its start to the next one's (the first and last slice
        # extend without bound, as the index is clamped)
        self._slice = i
        self._slice_from = self.slice_start(i) if i > 0 else _EARLIEST
        self._slice_to = self.slice_start(i + 1) if i + 1 < self.slices else _LATEST
        return i

    def cross_at(self, i: int) -> datetime:
        """When slice ``i`` stops waiting for passive fills and crosses the spread."""
        at = self._cross.get(i)
        if at is None:
            at = self._cross[i] = (self.slice_start(i)
                                   + self.slice_len * self._fractions.get(i, DEFAULT_FRACTION))
        return at

    def participation_cap(self, filled: int) -> int:
        """Most that may be filled + working under the participation cap (qty if none),
        with ``filled`` of the volume seen being our own fills."""
        rate = self._rate
        if rate is None:
            return self.parent.qty
        others = max(0, self._volume_seen - filled)
        # filled <= rate * (others + filled), in whole shares
        allowed = rate.numerator * others // (rate.denominator - rate.numerator)
        if allowed >= self.parent.qty:
            return self.parent.qty
        return allowed // self.parent.lot_size * self.parent.lot_size

    def _track_volume(self, s: MarketSnapshot) -> None:
        if self._volume_last is not None and s.time > self.parent.start:
            # A drop means the feed restarted its count: take the new value as a baseline.
            grown = s.volume - self._volume_last
            if grown > 0:  # (max(0, ...) costs a call on every snapshot)
                self._volume_seen += grown
        self._volume_last = s.volume

    # -- deciding -----------------------------------------------------------------------------

    def _decide(self, now: datetime) -> list[Action]:
        self._watch = None
        p = self.parent
        snap = self._snapshot
        if now < p.start or now >= p.end or snap is None:
            return []
        state = self.ctx.state
        if state.done:
            return []
        i = self.slice_at(now)
        catch_up = now >= self.catch_up_at
        cross = self.cross_at(i)
        aggressive = catch_up or now >= cross
        if aggressive:
            self._learn_missed(state)
        passive, far = self._prices(snap)
        wanted = far if aggressive and far is not None else passive
        if wanted is None:
            return []  # nothing on our side and the far side too low to post under
        limit = p.limit  # (cap_to_limit is a no-op without one: not called then)
        price = self._on_tick(wanted if limit is None else cap_to_limit(wanted, p.side, limit))
        marketable = far is not None and (limit is None
                                          or cap_to_limit(far, p.side, limit) == far)
        phase = "catch-up" if catch_up else "cross" if aggressive else "passive"

        actions: list[Action] = []
        phase_start: datetime | None = None
        for child in state.working.values():
            if child.cancel_pending or not _lags(child.price, price, p.side):
                continue
            if phase_start is None:  # (only when a child lags: most decisions need none)
                phase_start = self._phase_start(i, catch_up, aggressive, cross)
            if self._may_reprice(child, now, phase_start):
                actions.append(CancelChild(child.child_id,
                                           f"{self._label(i)} {phase}: reprice to {price}"))

        goal = p.qty if catch_up else self.targets[i]
        cap = self.participation_cap(state.filled)
        target = cap if cap < goal else goal  # min(), without the call
        tif: Literal["day", "ioc"] = "day"
        if catch_up and marketable:
            if self._ioc_at_snapshot == self._snapshots:
                return actions  # this book was already tried; wait for the next one
            tif = "ioc"
        qty = self._sendable(target, state)
        if qty <= 0:
            if not catch_up and cap >= goal:
                locked = snap.bid is not None and snap.bid == snap.ask
                self._watch = self._watch_for(
                    now, state, actions, aggressive, locked,
                    phase_start or self._phase_start(i, catch_up, aggressive, cross))
            return actions
        if tif == "ioc":
            self._ioc_at_snapshot = self._snapshots
        if (not aggressive and self.model is not None and i not in self._fractions
                and snap.bid is not None and snap.ask is not None):  # the model needs both
            self._predict(i, snap, now, state, target)
        reason = f"{self._label(i)} {phase}: target {target}, filled {state.filled}"
        chunks = 0
        while qty > 0 and chunks < MAX_CHILDREN_PER_DECISION:
            size = min(qty, self.max_child)
            actions.append(ChildOrder(size, price, tif, reason))
            qty -= size
            chunks += 1
        return actions

    def _phase_start(self, i: int, catch_up: bool, aggressive: bool, cross: datetime
                     ) -> datetime:
        """When the phase slice ``i`` is in began: the catch-up, its crossing point, or the
        slice's start."""
        return self.catch_up_at if catch_up else cross if aggressive else self.slice_start(i)

    def _may_reprice(self, child: WorkingChild, now: datetime, phase_start: datetime) -> bool:
        """Whether ``child`` may be cancelled to reprice it now: one sent before the phase
        began at once, one sent in it once it has rested ``min_rest``."""
        return child.sent < phase_start or now - child.sent >= self.min_rest

    def _watch_for(self, now: datetime, state: OrderState, actions: list[Action],
                   aggressive: bool, locked: bool, phase_start: datetime) -> MarketWatch:
        """The market change that would make :meth:`_decide` cancel a child it keeps now:
        the touch it prices from (the near one, or the far one when ``aggressive`` or when
        posting in a ``locked`` book; the other if that one empties, which the watch counts
        too) reaching one tick beyond the least aggressive child that may be repriced (not
        cancelling, rested ``min_rest`` or sent before ``phase_start``), unless the limit
        keeps the price from getting there."""
        p = self.parent
        buy = p.side == Side.BUY
        cancelling = {a.child_id for a in actions if isinstance(a, CancelChild)}
        worst: Decimal | None = None
        for child in state.working.values():
            px = child.price
            if (px is None or child.cancel_pending or child.child_id in cancelling
                    or not self._may_reprice(child, now, phase_start)):
                continue
            if worst is None or (px < worst if buy else px > worst):
                worst = px
        if worst is None:
            return MarketWatch()
        tick = p.tick_size
        beyond = worst + tick if buy else worst - tick
        if p.limit is not None:
            cap = round_to_tick(p.limit, p.side, tick)
            if (beyond > cap) if buy else (beyond < cap):
                return MarketWatch()  # the limit keeps every price at or behind the child
        ask_side = buy == aggressive  # a buy crossing, or a sell posting: the ask
        if locked and not aggressive:
            # posting one tick inside the far touch (_prices): a buy's price rises with the
            # ask, past the child once the ask is two ticks above it (a sell's, the bid)
            ask_side = buy
            beyond = beyond + tick if buy else beyond - tick
        if ask_side:
            return MarketWatch(ask_rises_to=beyond) if buy else MarketWatch(ask_falls_to=beyond)
        return MarketWatch(bid_rises_to=beyond) if buy else MarketWatch(bid_falls_to=beyond)

    def _on_tick(self, price: Decimal) -> Decimal:
        """``price`` rounded to the tick (:func:`round_to_tick`), the last answer kept for the
        same price object: every decision asks, and snapshot prices come from a cache, so a
        touch that did not move is the very same Decimal."""
        last = self._ticked
        if last is None or last[0] is not price:
            p = self.parent
            last = self._ticked = (price, round_to_tick(price, p.side, p.tick_size))
        return last[1]

    def _label(self, i: int) -> str:
        """Slice ``i`` as the reasons of its actions name it (made only for an action: most
        decisions take none)."""
        return f"{self.name} slice {i + 1}/{self.slices}"

    def _prices(self, snap: MarketSnapshot) -> tuple[Decimal | None, Decimal | None]:
        """(passive, far) for ``snap``: the near touch to post at, and the far touch to cross
        to (None when that side is empty). With our side of the book empty, the passive price
        is one tick inside the far touch, the best price that does not cross: a buy TWAP
        facing offers alone must still work, not wait for someone else to bid first. So too
        with the book locked (bid = ask, which a consolidated feed shows): the near touch is
        the far one there, and a child posted at it would take liquidity, not add it."""
        p = self.parent
        buy = p.side == Side.BUY
        near, far = (snap.bid, snap.ask) if buy else (snap.ask, snap.bid)
        if far is not None and (near is None or near == far):
            inside = far - p.tick_size if buy else far + p.tick_size
            near = inside if inside > 0 else None
        return near, far

    def _sendable(self, target: int, state: OrderState) -> int:
        """What to send towards ``target``: whole lots, or everything that is left."""
        remaining = state.remaining
        # filled + working is qty - remaining whenever anything remains (and with nothing
        # remaining the answer is 0 whatever the deficit)
        deficit = target - (state.parent.qty - remaining)
        if deficit >= remaining:
            return remaining
        lot = self.parent.lot_size
        return deficit // lot * lot if deficit > 0 else 0  # max(0, ...), without the call

    # -- model overlay ------------------------------------------------------------------------

    def _predict(self, i: int, snap: MarketSnapshot, now: datetime, state: OrderState,
                 goal: int) -> None:
        assert self.model is not None
        p = self.parent
        x = fill_features(snap, p.side, p.tick_size,
                          (p.end - now) / (p.end - p.start), (p.qty - state.filled) / p.qty)
        prob = self.model.predict(x)
        # If the snapshot came late in the slice the new point may already have passed:
        # the next decision then crosses at once, which is what the schedule needs anyway.
        self._fractions[i] = self.model.aggressive_fraction(prob)
        self._cross.pop(i, None)
        self._pending = (i, x, prob, goal)

    def _learn_missed(self, state: OrderState) -> None:
        """At the crossing point: the passive child did not fill in time unless it did."""
        if self._pending is None or self.model is None:
            return
        _, x, prob, goal = self._pending
        self.model.learn(x, state.filled >= goal, prob)
        self._pending = None
