"""AlgoRunner: works one parent order with a strategy, a child router and a risk gate.

The runner is sans-IO: the FIX layer (or a backtest) calls it with market snapshots, timers
and the venue's answers about child orders, each carrying ``now``; it calls the router to
send and cancel children and reports what happens to the parent as small events.

Inputs (all return None; results come out through the router, ``on_event`` and ``audit``):

* :meth:`AlgoRunner.on_market_snapshot`, :meth:`AlgoRunner.on_timer` (when
  :meth:`AlgoRunner.next_wakeup` is due);
* the router's answers: :meth:`AlgoRunner.on_child_ack`, :meth:`AlgoRunner.on_child_fill`,
  :meth:`AlgoRunner.on_child_done` (cancelled, expired, IOC remainder),
  :meth:`AlgoRunner.on_child_reject`;
* the client: :meth:`AlgoRunner.cancel`, :meth:`AlgoRunner.replace`; the gateway:
  :meth:`AlgoRunner.stop` (kill switch, session gone).

Guarantees, whatever the strategy asks:

* filled + working never exceeds the parent's quantity: a child is clipped to what is left
  (and to whole lots unless it completes the parent), refused if nothing is left;
* a child's price is never worse than the parent's limit (a buy above it is clipped down, a
  market child of a limit parent becomes a limit child at the limit) and is on the tick;
* no child before the start or from the end on, and none while a cancel, replace, expiry or
  stop is in progress;
* every child passes the risk gate; every clip and refusal is audited with its reason;
* a venue fill counts once: a second report of a child's fill under the same ExecID (a
  venue's PossResend copy) is audited as a duplicate and changes nothing.

Parent lifecycle. Cancel: cancel every working child, report :class:`ParentPendingCancel`,
then :class:`ParentDone` ``canceled`` when the venue has confirmed the last (fills that
arrive meanwhile are reported; if they complete the parent it is ``filled``). Replace: the
same, then the strategy is rebuilt for the new :class:`ParentOrder` keeping the filled
quantity (:class:`ParentReplaced`); a new quantity below the filled one (also when fills
during the cancels pass it), a different symbol or side, or parameters the strategy refuses,
are refused (:class:`ParentReplaceRejected`) and the old order goes on. A rebuilt strategy
that defines ``carry_over(previous)`` is given the instance it replaces, to keep what it
learned from the market (the builtins keep the market volume seen since the start, which
their participation cap needs, and the last book); one that does not is shown the last
snapshot at once. At the end time the runner
cancels the working children and reports ``expired`` with the unfilled quantity. A
strategy that raises, the risk gate's kill switch, or ``max_child_rejects`` child rejects in
a row stop the parent the same way (``stopped``, with the reason in ``text``); so do as many
resting children in a row that the venue ended unfilled without being asked (a sweep of
several at once counting once). A rejected child, or one the venue ended so, is the
strategy's to place again at its next snapshot, or :data:`RETRY` later, not at once (it
would meet the same end in the same instant). The runner
waits for the venue to confirm each cancel; timing out a venue that never answers belongs
to the router.

Re-entrancy: a router may answer synchronously, from inside ``submit`` or ``cancel``; such
calls are queued and handled once the current one is done, so the runner never sees its
own state half-changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from algos.audit import AuditSink, AuditValue, null_audit
from algos.registry import StrategyFactory
from algos.risk import RiskGate
from algos.slicing import cap_to_limit, round_to_tick
from algos.strategy import (
    Action,
    CancelChild,
    ChildOrder,
    Execution,
    MarketSnapshot,
    MarketWatch,
    OrderState,
    ParentOrder,
    Side,
    StopParent,
    Strategy,
    WorkingChild,
)

__all__ = [
    "RETRY",
    "AlgoRunner",
    "ChildRouter",
    "DoneReason",
    "ParentCancelRejected",
    "ParentDone",
    "ParentEvent",
    "ParentFill",
    "ParentPendingCancel",
    "ParentPendingReplace",
    "ParentReplaceRejected",
    "ParentReplaced",
    "Tif",
    "countable_fill",
]

Tif = Literal["day", "ioc"]
DoneReason = Literal["filled", "expired", "canceled", "stopped"]


class ChildRouter(Protocol):
    """Where child orders go. Both calls only start the work: the router answers later (or
    at once, re-entrantly) through the runner's ``on_child_*`` methods. ``reason`` is the
    strategy's for the child (``ChildOrder.reason``: a slice, a catch-up), for a router that
    records it (a backtest's orders.csv); the others pass it by."""

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Tif, reason: str = "") -> None: ...

    def cancel(self, child_id: str) -> None: ...


# -- parent events ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParentFill:
    """A child fill, seen from the parent: ``leaves`` = quantity - ``cum_qty``;
    ``child_id`` and ``exec_id``, the venue's ExecID of the fill, name it."""

    parent_id: str
    time: datetime
    qty: int
    price: Decimal
    cum_qty: int
    avg_px: Decimal
    leaves: int
    child_id: str
    exec_id: str


@dataclass(frozen=True, slots=True)
class ParentPendingCancel:
    parent_id: str
    time: datetime


@dataclass(frozen=True, slots=True)
class ParentPendingReplace:
    parent_id: str
    time: datetime


@dataclass(frozen=True, slots=True)
class ParentReplaced:
    """The replace took effect: ``parent`` is the order now worked (its id may be new)."""

    parent_id: str
    time: datetime
    parent: ParentOrder
    previous_id: str


@dataclass(frozen=True, slots=True)
class ParentReplaceRejected:
    """A replace refused: ``reason`` in words; ``too_late`` as for
    :class:`ParentCancelRejected`."""

    parent_id: str
    time: datetime
    reason: str
    too_late: bool = False


@dataclass(frozen=True, slots=True)
class ParentCancelRejected:
    """A cancel refused: ``reason`` in words; ``too_late`` when the parent is ending anyway
    (its end time passed, or it is being stopped): CxlRejReason 0, Too late to cancel."""

    parent_id: str
    time: datetime
    reason: str
    too_late: bool = False


@dataclass(frozen=True, slots=True)
class ParentDone:
    """The parent is finished; nothing more will be sent. ``unfilled`` = qty - cum_qty."""

    parent_id: str
    time: datetime
    reason: DoneReason
    cum_qty: int
    avg_px: Decimal | None
    unfilled: int
    text: str = ""


ParentEvent = (ParentFill | ParentPendingCancel | ParentPendingReplace | ParentReplaced
               | ParentReplaceRejected | ParentCancelRejected | ParentDone)

_Status = Literal["active", "canceling", "replacing", "expiring", "stopping", "done"]


@dataclass(slots=True)
class _Child:
    child_id: str
    qty: int
    leaves: int
    price: Decimal | None
    tif: Tif
    sent: datetime
    cancel_pending: bool = False

    def view(self) -> WorkingChild:
        return WorkingChild(self.child_id, self.qty, self.leaves, self.price, self.tif,
                            self.sent, self.cancel_pending)


class _InputCount:
    """Inputs handled by every runner of the process (see :meth:`AlgoRunner.next_wakeup`).
    An instance attribute, not a class one: writing a class attribute would make Python
    drop what it cached about the class's attribute lookups, on every input."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_INPUTS = _InputCount()

#: how long after a child is rejected, or ended by the venue unasked, the strategy is asked
#: again if no market snapshot asks it first (it is not asked at once: it would meet the
#: same refusal or the same end in the same instant)
RETRY = timedelta(seconds=1)


def countable_fill(qty: int, price: Decimal | None) -> bool:
    """Whether a venue's fill of ``qty`` at ``price`` (None: it gave none) can be counted: a
    fill of no quantity or no price is a venue's garbage, which no order of ours made (the
    runner audits it as ``bad_fill``; the algo gateway's lost parents leave it out too)."""
    return qty > 0 and price is not None and price > 0


def _exponent(d: Decimal) -> int:
    """The exponent of a finite Decimal (100.25: -2); 0 for any other."""
    exponent = d.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _px(price: Decimal | None) -> str | None:
    return None if price is None else f"{price:f}"


class AlgoRunner:
    """Works one parent order; it is also the strategy's :class:`AlgoContext`.

    ``factory(parent, ctx)`` builds the strategy (its ValueError about bad parameters
    propagates, for the FIX layer to reject the order with it). ``on_event`` receives every
    :data:`ParentEvent`; ``audit`` every decision; ``risk`` is the session's gate (None: no
    risk checks). Child ids are ``<first parent id>.<n>``, n counting from 1 over the runner's
life (a replace that changes the parent's id does not change the prefix).
    Raises ValueError for a parent that cannot be worked (quantity not positive or not whole
    lots, end not after start, limit not positive).
    """

    def __init__(
        self,
        parent: ParentOrder,
        factory: StrategyFactory,
        router: ChildRouter,
        *,
        now: datetime,
        on_event: Callable[[ParentEvent], None],
        audit: AuditSink = null_audit,
        risk: RiskGate | None = None,
        max_child_rejects: int = 5,
    ) -> None:
        _validate(parent)
        self._parent = parent
        self._id_prefix = parent.id  # the first id: child ids stay stable across replaces
        self._factory = factory
        self._router = router
        self._on_event = on_event
        self._audit_sink = audit
        self._risk = risk
        self._max_rejects = max_child_rejects
        self._now = now
        self._status: _Status = "active"
        self._working: dict[str, _Child] = {}
        self._finished: set[str] = set()
        self._fill_ids: set[tuple[str, str]] = set()  # (child id, the venue's ExecID) counted
        # child id -> (quantity, notional) of its fills counted: what the venue's CumQty and
        # AvgPx for it are checked against (see on_child_fill)
        self._child_fills: dict[str, tuple[int, Decimal]] = {}
        self._seq = 0
        self._filled = 0
        self._notional = Decimal(0)
        self._rejects_in_row = 0
        # times in a row, with no fill between, that the venue ended unfilled without being
        # asked (cancelled, expired, Done for day) resting children (limit, not IOC) sent
        # since it last did: as many as max_child_rejects stop the parent, which would
        # otherwise send a child for each the venue kills, for good. One sweep of several
        # children resting together (a halt, a mass cancel) counts once.
        self._ended_in_row = 0
        self._sent_since_end = False
        # when the strategy is asked again after a child was rejected or ended unasked, if
        # no snapshot asks it first (RETRY after the end; None: nothing pending)
        self._retry_at: datetime | None = None
        self._rejected = 0  # children rejected in all (OrderState.rejected)
        # why the latest child the strategy asked for did not reach the market, as the
        # parent's end Text says it (risk refused it, the router held it back until it was
        # cancelled, it was rejected; None once one goes out): a parent that ends unfilled
        # says so rather than only blame the market
        self._unsent: str | None = None
        self._mid: Decimal | None = None
        self._last_snapshot: MarketSnapshot | None = None
        self._pending_replace: ParentOrder | None = None
        self._stop_text = ""
        self._state: OrderState | None = None
        self._queue: deque[Callable[[], None]] = deque()
        self._busy = False
        self._wakeup: tuple[int, datetime | None] | None = None  # see next_wakeup
        self._watch: tuple[int, MarketWatch | None] | None = None  # see market_watch
        # changes to the order state, and their count when the strategy last decided: its
        # market_watch holds only while nothing changed without it (a reject re-sends at
        # the next snapshot)
        self._changes = 0
        self._changes_asked = 0
        self._mid_of: tuple[Decimal | None, Decimal | None, Decimal | None] = (None, None, None)
        self._strategy: Strategy = factory(parent, self)
        self._audit("algo_started", qty=parent.qty, limit=_px(parent.limit),
                    side=parent.side.name, symbol=parent.symbol, start=parent.start.isoformat(),
                    end=parent.end.isoformat(), strategy=type(self._strategy).__name__)

    # -- AlgoContext --------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._now

    @property
    def state(self) -> OrderState:
        if self._state is None:
            self._state = OrderState(
                parent=self._parent,
                filled=self._filled,
                avg_price=self._avg(),
                working={k: c.view() for k, c in self._working.items()},
                done=self._status == "done",
                sent=self._seq,
                rejected=self._rejected,
            )
        return self._state

    # -- views --------------------------------------------------------------------------------

    @property
    def parent(self) -> ParentOrder:
        return self._parent

    @property
    def strategy(self) -> Strategy:
        return self._strategy

    @property
    def done(self) -> bool:
        return self._status == "done"

    @property
    def status(self) -> str:
        """active, canceling, replacing, expiring, stopping or done."""
        return self._status

    def may_send(self) -> bool:
        """Whether a child it handed the router and the router held back since (self-trade
        prevention) may still go out: the parent works on, neither ending nor being
        replaced, and its risk gate is not killed. One that may not is cancelled with the
        parent's end (never sent), or goes out once a replace is through."""
        return self._status == "active" and (self._risk is None or self._risk.killed is None)

    def next_wakeup(self) -> datetime | None:
        """When :meth:`on_timer` should be called next: the strategy's wish, the start and
        the end (to expire); None once the parent is done or only the venue can move it.

        The answer is kept until some runner handles an input: a desk asks every runner on
        every market update (twice), and what a strategy wishes can only change when it is
        called (it reads no clock; the time it sees moves only with an input). Any runner's
        input, not only this one's, as strategies may share state (the overlay model). A
        wish that raised is not kept: it is asked (and audited) again, as it always was."""
        kept = self._wakeup
        if kept is not None and kept[0] == _INPUTS.count:
            return kept[1]
        if self._status in ("done", "expiring", "stopping"):
            return None
        now, p = self._now, self._parent
        wake = p.end if now < p.end else None
        if self._status == "active":
            if now < p.start:
                wake = p.start  # before the end
            try:
                wish = self._strategy.next_wakeup()
            except Exception as exc:
                self._audit("strategy_error", error=f"{type(exc).__name__}: {exc}")
                return wake
            if self._retry_at is not None and (wish is None or self._retry_at < wish):
                wish = self._retry_at
            if wish is not None:
                if wish < now:  # never a past time (max(), without the call)
                    wish = now
                if wake is None or wish < wake:
                    wake = wish
        self._wakeup = (_INPUTS.count, wake)
        return wake

    def planned(self) -> tuple[tuple[datetime, int], ...]:
        """The strategy's optional schedule (``planned``, see :class:`~algos.strategy.
        Strategy`); empty when it has none or raised (audited as a strategy error)."""
        ask = getattr(self._strategy, "planned", None)
        if ask is None:
            return ()
        try:
            return tuple((t, int(q)) for t, q in ask())
        except Exception as exc:
            self._audit("strategy_error", error=f"{type(exc).__name__}: {exc}")
            return ()

    def market_watch(self) -> MarketWatch | None:
        """The strategy's optional ``market_watch`` (see :class:`~algos.strategy.Strategy`)
        while the parent is active: the market changes it waits for in the parent's symbol;
        None when any snapshot may matter (no such method, a strategy that raised, or a
        parent being cancelled, replaced, expired or stopped, or whose order state changed
        since the strategy last decided, as after a rejected child). Kept like
        :meth:`next_wakeup`'s answer."""
        kept = self._watch
        if kept is not None and kept[0] == _INPUTS.count:
            return kept[1]
        watch: MarketWatch | None = None
        ask = getattr(self._strategy, "market_watch", None)
        if self._status == "active" and ask is not None and \
                self._changes == self._changes_asked:
            try:
                watch = ask()
            except Exception as exc:
                self._audit("strategy_error", error=f"{type(exc).__name__}: {exc}")
                return None
            if not isinstance(watch, MarketWatch):
                watch = None
        self._watch = (_INPUTS.count, watch)
        return watch

    # -- inputs -------------------------------------------------------------------------------

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> None:
        self._run(snapshot.time, lambda: self._snapshot(snapshot))

    def on_timer(self, now: datetime) -> None:
        self._run(now, lambda: self._ask(lambda: self._strategy.on_timer(self._now)))

    def on_child_ack(self, child_id: str, now: datetime) -> None:
        self._run(now, lambda: self._ack(child_id))

    def on_child_fill(self, child_id: str, qty: int, price: Decimal | None, now: datetime,
                      *, exec_id: str, cum: int | None = None,
                      avg_px: Decimal | None = None) -> None:
        """A fill of ``qty`` at ``price`` (None: the venue gave no price); ``exec_id``: the
        venue's ExecID of it. ``cum`` and ``avg_px``, when the report has them, are the
        venue's CumQty and AvgPx for the child after it: the venue's word on how much of the
        child traded, which the fill is checked against (see :meth:`on_child_status`).
        LastQty more than the CumQty it adds counts as what CumQty added (audited
        ``fill_mismatch``): a parent must not count shares its venue says did not trade."""
        self._run(now, lambda: self._fill(child_id, qty, price, exec_id, cum, avg_px))

    def on_child_status(self, child_id: str, cum: int, avg_px: Decimal | None, now: datetime,
                        *, exec_id: str) -> None:
        """A report about the child that is not a fill (an ack, a cancel, a status report)
        with the venue's CumQty ``cum`` and AvgPx ``avg_px``. CumQty past the fills counted
        means fills the runner never heard of (an outage whose reports the venue did not
        send again): they are counted now, at the price AvgPx implies (audited
        ``child_fill_inferred``), so the parent neither misses them nor places their
        quantity again."""
        self._run(now, lambda: self._missed_fills(child_id, cum, avg_px, None, exec_id))

    def on_child_done(self, child_id: str, reason: str, now: datetime, *,
                      unsent: str | None = None) -> None:
        """The child left the venue with quantity unfilled (cancelled, expired, IOC rest).
        ``unsent``: it never reached the venue (the router held it back until it was
        cancelled), in words for the parent's end Text while it is the latest child."""
        self._run(now, lambda: self._child_done(child_id, reason, rejected=False,
                                                unsent=unsent))

    def on_child_over(self, child_id: str, reason: str, now: datetime) -> None:
        """The venue reports the child over (LeavesQty 0 with a final OrdStatus) by a report
        that was not a cancel: if the runner still counts quantity working on it (a last
        fill short of the quantity, Done for day, a restatement), the child is done and the
        rest is the strategy's to place again; if not (its fills closed it), nothing.
        Queued like every input, so it is judged after the fills reported before it."""
        self._run(now, lambda: self._child_over(child_id, reason))

    def on_child_restated(self, child_id: str, leaves: int, reason: str, now: datetime) -> None:
        """The venue restated the child (ExecType D) with ``leaves`` still working, which the
        runner counts from then on. Less than before: the difference is the strategy's to
        place again. More (the venue holds the order for more than was sent): the child is
        cancelled, as the parent must not fill beyond what the strategy asked for."""
        self._run(now, lambda: self._restated(child_id, leaves, reason))

    def on_child_reject(self, child_id: str, reason: str, now: datetime, *,
                        counted: bool = True) -> None:
        """The child was refused; ``counted`` False: by the router itself, for a reason that
        says nothing of the order (its venue link down), so not among the rejects in a row
        that stop the parent (an outage would otherwise end every parent it outlasts)."""
        self._run(now, lambda: self._child_done(child_id, reason, rejected=True,
                                                counted=counted))

    def cancel(self, now: datetime, reason: str = "client request") -> None:
        """Cancel the parent (OrderCancelRequest)."""
        self._run(now, lambda: self._cancel(reason))

    def replace(self, new_parent: ParentOrder, now: datetime) -> None:
        """Replace the parent (OrderCancelReplaceRequest): new quantity, limit, times or
        parameters; the symbol and side must stay."""
        self._run(now, lambda: self._replace(new_parent))

    def stop(self, reason: str, now: datetime) -> None:
        """Stop working the parent for a gateway reason (reported as ``stopped``)."""
        self._run(now, lambda: self._begin_stop(reason))

    # -- the event loop -----------------------------------------------------------------------

    def _run(self, now: datetime, work: Callable[[], None]) -> None:
        queued = self._busy or bool(self._queue)  # the usual case, neither: no closure queued
        if queued:
            self._queue.append(lambda: self._step(now, work))
            if self._busy:
                return  # re-entrant: handled once the current call is done
        self._busy = True
        try:
            if not queued:
                self._step(now, work)
            while self._queue:
                self._queue.popleft()()
        finally:
            self._busy = False

    def _step(self, now: datetime, work: Callable[[], None]) -> None:
        # no reset of the cached state here: every change to what it shows resets it
        _INPUTS.count += 1  # next_wakeup answers from before are stale
        try:
            if now > self._now:  # max(), without the call
                self._now = now
            if self._status == "done":
                # Late venue answers still count (a fill is real money); the handlers do not
                # call the strategy once the parent is done.
                work()
                return
            self._check_time_and_risk()
            work()
            self._settle()
        finally:
            _INPUTS.count += 1  # and so are any asked for during the step

    def _check_time_and_risk(self) -> None:
        if self._status in ("active", "replacing") and self._now >= self._parent.end:
            if self._status == "replacing":
                self._reject_replace("the order expired")
            self._status = "expiring"
            self._audit("parent_expiring", working=len(self._working))
            self._cancel_all("end time reached")
        if (self._risk is not None and self._risk.killed is not None
                and self._status in ("active", "replacing")):
            self._begin_stop(f"kill switch: {self._risk.killed}")

    def _settle(self) -> None:
        """Apply a pending replace once nothing is working; finish the parent when it is
        filled, or winding down with nothing working."""
        if self._status == "done":
            return
        if self._working:
            if self._filled >= self._parent.qty:
                # Only an overfill gets here (filled + working never exceeds the quantity).
                self._cancel_all("parent filled")
            return
        if self._status == "replacing":
            self._apply_replace()  # the strategy may send new children at once
        if self._filled >= self._parent.qty:
            self._finish("filled")
            return
        if self._working:
            return
        status = self.status  # re-read: handlers above may have moved it
        if status == "canceling":
            self._finish("canceled")
        elif status == "expiring":
            self._finish("expired", self._unfilled_reason())
        elif status == "stopping":
            words = (self._stop_text, self._unsent or "")
            self._finish("stopped", "; ".join(t for t in words if t))

    def _unfilled_reason(self) -> str:
        """Why the parent ended unfilled: why the last child the strategy asked for did not
        reach the market, if it did not (risk refused it, the router held it back), and
        the strategy's word (its optional ``unfilled_reason``), or nothing; a strategy that
        fails to say is audited, not fatal."""
        unsent = self._unsent or ""
        ask = getattr(self._strategy, "unfilled_reason", None)
        if ask is None:
            return unsent
        try:
            why = ask()
        except Exception as exc:
            self._audit("strategy_error", error=f"{type(exc).__name__}: {exc}")
            return unsent
        why = why if isinstance(why, str) else ""
        return "; ".join(t for t in (unsent, why) if t)

    def _finish(self, reason: DoneReason, text: str = "") -> None:
        self._status = "done"
        self._changed()
        unfilled = self._parent.qty - self._filled
        self._audit("parent_done", reason=reason, cum_qty=self._filled, unfilled=unfilled,
                    avg_px=_px(self._avg()), text=text)
        self._emit(ParentDone(self._parent.id, self._now, reason, self._filled, self._avg(),
                              max(0, unfilled), text))

    # -- handlers -----------------------------------------------------------------------------

    def _snapshot(self, snapshot: MarketSnapshot) -> None:
        if snapshot.symbol != self._parent.symbol:
            return
        self._last_snapshot = snapshot
        bid, ask = snapshot.bid, snapshot.ask
        # snapshot.mid, kept while the touch is the same Decimals (snapshots of an unmoved
        # touch share them): a Decimal sum and division per market update otherwise
        if bid is self._mid_of[0] and ask is self._mid_of[1]:
            mid = self._mid_of[2]
        else:
            mid = snapshot.mid
            self._mid_of = (bid, ask, mid)
        if mid is not None:
            self._mid = mid
            if self._risk is not None:
                self._risk.on_mid(snapshot.symbol, mid)
        self._ask(lambda: self._strategy.on_market_snapshot(snapshot))

    def _ack(self, child_id: str) -> None:
        if child_id in self._working:
            self._rejects_in_row = 0
            self._audit("child_ack", child=child_id)
        else:
            self._audit("unknown_child", child=child_id, what="ack")

    def _fill(self, child_id: str, qty: int, price: Decimal | None, exec_id: str,
              cum: int | None = None, avg_px: Decimal | None = None) -> None:
        child = self._working.get(child_id)
        if child is None and child_id not in self._finished:
            self._audit("unknown_child", child=child_id, what="fill", qty=qty, price=_px(price))
            return
        if not countable_fill(qty, price):
            self._audit("bad_fill", child=child_id, qty=qty, price=_px(price))
            return
        assert price is not None
        if exec_id:  # (a fill without one cannot be told from another: counted)
            if (child_id, exec_id) in self._fill_ids:
                self._audit("duplicate_fill", child=child_id, exec_id=exec_id, qty=qty,
                            price=_px(price))
                return
            self._fill_ids.add((child_id, exec_id))
        if cum is not None:
            had = self._child_fills.get(child_id, (0, Decimal(0)))[0]
            if cum < had + qty:
                counted = max(0, cum - had)
                self._audit("fill_mismatch", child=child_id, last_qty=qty, cum_qty=cum,
                            counted=counted)
                if counted == 0:
                    return
                qty = counted
            else:
                self._missed_fills(child_id, cum, avg_px, (qty, price), exec_id)
        self._count_fill(child_id, qty, price, exec_id)

    def _missed_fills(self, child_id: str, cum: int, avg_px: Decimal | None,
                      then: tuple[int, Decimal] | None, exec_id: str) -> None:
        """Count the fills the venue's CumQty ``cum`` (after ``then``, the fill reported with
        it, if any) says the child had beyond those counted, at the price its AvgPx leaves
        for them (else the fill's, else the child's)."""
        if child_id not in self._working and child_id not in self._finished:
            return
        had, notional = self._child_fills.get(child_id, (0, Decimal(0)))
        qty, value = then if then is not None else (0, Decimal(0))
        missed = cum - had - qty
        if missed <= 0:
            return
        child = self._working.get(child_id)
        price: Decimal | None = None
        if avg_px is not None and avg_px > 0:
            left = avg_px * cum - notional - qty * value
            if left > 0:
                # to the finest decimals of the prices in sight (AvgPx, the fills', the
                # child's limit): a venue writes 99.90 as 99.9, and 99.85 is no 99.8
                places = min(_exponent(avg_px), _exponent(notional), _exponent(value),
                             _exponent(child.price) if child and child.price else 0, 0)
                price = (left / missed).quantize(Decimal(1).scaleb(places))
        if price is None or price <= 0:
            price = then[1] if then is not None else child.price if child else None
        if price is None or price <= 0:
            self._audit("bad_fill", child=child_id, qty=missed, price=None,
                        reason=f"CumQty {cum} past the fills counted, with no price for them")
            return
        self._audit("child_fill_inferred", child=child_id, qty=missed, price=_px(price),
                    cum_qty=cum, avg_px=_px(avg_px))
        self._count_fill(child_id, missed, price, f"{exec_id}~inferred" if exec_id else "")

    def _count_fill(self, child_id: str, qty: int, price: Decimal, exec_id: str) -> None:
        child = self._working.get(child_id)
        had, notional = self._child_fills.get(child_id, (0, Decimal(0)))
        self._child_fills[child_id] = (had + qty, notional + qty * price)
        if child is None:
            self._audit("late_fill", child=child_id, qty=qty, price=_px(price))
        elif qty > child.leaves:
            self._audit("overfill", child=child_id, qty=qty, leaves=child.leaves)
        if child is not None:
            child.leaves = max(0, child.leaves - qty)
            if child.leaves == 0:
                self._close_child(child_id)
        self._rejects_in_row = self._ended_in_row = 0
        self._filled += qty
        self._notional += qty * price
        self._changed()
        if self._risk is not None:
            self._risk.on_fill(self._parent.symbol, self._parent.side, qty, price)
        avg = self._avg()
        assert avg is not None
        leaves = max(0, self._parent.qty - self._filled)
        self._audit("child_fill", child=child_id, qty=qty, price=_px(price),
                    cum_qty=self._filled, leaves=leaves)
        self._emit(ParentFill(self._parent.id, self._now, qty, price, self._filled, avg, leaves,
                              child_id, exec_id))
        if self._status == "active" and self._filled < self._parent.qty:
            execution = Execution(self._now, child_id, qty, price)
            self._ask(lambda: self._strategy.on_execution(execution))

    def _child_done(self, child_id: str, reason: str, *, rejected: bool,
                    counted: bool = True, unsent: str | None = None) -> None:
        event = "child_reject" if rejected else "child_done"
        child = self._working.get(child_id)
        if child is None:
            self._audit("unknown_child", child=child_id, what=event, reason=reason)
            return
        self._rejected += rejected  # before the close, whose change renews the state
        # only the latest child's fate is the parent's to tell, and only while risk has not
        # refused one since (which set _unsent): a held child's cancel may be answered late
        latest = self._unsent is None and child_id == f"{self._id_prefix}.{self._seq}"
        if latest and unsent is not None:
            self._unsent = unsent
        self._close_child(child_id)
        self._audit(event, child=child_id, leaves=child.leaves, reason=reason)
        if rejected:
            self._rejects_in_row += counted
            if self._rejects_in_row >= self._max_rejects and self._status == "active":
                self._begin_stop(f"{self._rejects_in_row} child orders rejected in a row, "
                                 f"last: {reason}")
                return
            if latest:  # the parent's end Text tells it, if no child goes out after it
                self._unsent = f"its last child was rejected: {reason}"
            # not asked again now: a strategy that re-sent at once would meet the same
            # refusal (a venue link down, a price out of band) and use up the rejects in a
            # row in one instant; its next snapshot tries again, or RETRY later
            self._retry_at = self._now + RETRY
            return
        if not child.cancel_pending and child.tif != "ioc" and child.price is not None:
            # a resting child ended by the venue unasked (the rest of an IOC or a market order
            # ending is their nature): paced as a reject is, as a child sent at once may meet
            # the same end in the same instant
            if child.leaves == child.qty and self._sent_since_end:
                self._ended_in_row += 1
                self._sent_since_end = False
                if self._ended_in_row >= self._max_rejects and self._status == "active":
                    self._begin_stop(f"{self._ended_in_row} child orders ended unfilled by "
                                     f"the venue in a row, last: {reason}")
                    return
            self._retry_at = self._now + RETRY
            return
        if self._status == "active":
            self._ask(lambda: self._strategy.on_timer(self._now))

    def _child_over(self, child_id: str, reason: str) -> None:
        if child_id in self._working:
            self._child_done(child_id, reason, rejected=False)

    def _restated(self, child_id: str, leaves: int, reason: str) -> None:
        child = self._working.get(child_id)
        if child is None:
            self._audit("unknown_child", child=child_id, what="child_restated", reason=reason)
            return
        self._audit("child_restated", child=child_id, leaves=child.leaves, restated=leaves,
                    reason=reason)
        if leaves == child.leaves:
            return
        grew = leaves > child.leaves
        child.leaves = leaves  # what may still fill, whichever way it moved
        self._changed()
        if leaves == 0:
            self._close_child(child_id)
        elif grew:
            if not child.cancel_pending:
                self._send_cancel(child, f"restated to {leaves:,} working, more than was sent")
            return
        if self._status == "active":
            self._ask(lambda: self._strategy.on_timer(self._now))

    def _close_child(self, child_id: str) -> None:
        del self._working[child_id]
        self._finished.add(child_id)
        self._changed()
        if self._risk is not None:
            self._risk.on_order_done(child_id)

    def _cancel(self, reason: str) -> None:
        if self._status == "done":
            self._emit(ParentCancelRejected(self._parent.id, self._now, "the order is done"))
            return
        if self._status == "canceling":
            self._emit(ParentCancelRejected(self._parent.id, self._now,
                                            "a cancel is already pending"))
            return
        if self._status in ("expiring", "stopping"):
            # it ends anyway, as Expired (its end time passed, before or as the cancel came)
            # or stopped: a cancel now would only change how it is reported
            self._emit(ParentCancelRejected(self._parent.id, self._now,
                                            f"too late to cancel: {self._ending()}",
                                            too_late=True))
            return
        if self._status == "replacing":
            self._reject_replace("cancelled by the client")
        self._audit("parent_cancel", reason=reason, working=len(self._working))
        self._status = "canceling"
        if self._working:
            self._emit(ParentPendingCancel(self._parent.id, self._now))
            self._cancel_all(reason)

    def _amended(self, new: ParentOrder) -> ParentOrder:
        """``new``, its quantity raised to what has filled if below it: the rest is cancelled
        and the parent ends Filled (FIX 4.4 Appendix D, "order qty amended to cum qty"; the
        venue does the same). Asked when the replace comes and again when it is applied,
        as fills may arrive while the children are cancelled."""
        return replace(new, qty=self._filled) if new.qty < self._filled else new

    def _ending(self) -> str:
        """Why a parent expiring or stopping takes no cancel or replace, in words."""
        return ("its end time has passed: it is expiring" if self._status == "expiring"
                else "it is being stopped")

    def _replace(self, new: ParentOrder) -> None:
        new = self._amended(new)
        why = self._replace_problem(new)
        if why is not None:
            self._audit("replace_rejected", reason=why, new_id=new.id)
            self._emit(ParentReplaceRejected(self._parent.id, self._now, why,
                                             too_late=self._status in ("expiring", "stopping")))
            return
        self._audit("parent_replace", new_id=new.id, qty=new.qty, limit=_px(new.limit),
                    working=len(self._working))
        self._status = "replacing"
        self._pending_replace = new
        if self._working:
            self._emit(ParentPendingReplace(self._parent.id, self._now))
            self._cancel_all("parent replace")

    def _replace_problem(self, new: ParentOrder) -> str | None:
        if self._status != "active":
            return {"done": "the order is done", "canceling": "a cancel is pending",
                    "replacing": "a replace is already pending"}.get(
                        self._status, f"too late to replace: {self._ending()}")
        if (new.symbol, new.side) != (self._parent.symbol, self._parent.side):
            return "a replace cannot change the symbol or side"
        try:
            _validate(new)
        except ValueError as exc:
            return str(exc)
        return self._build_problem(new)

    def _build_problem(self, new: ParentOrder) -> str | None:
        """Why no strategy can be built for ``new`` (a bad parameter), asked before the
        replace touches a child: a strategy built for the new parent as the replace will
        build it, then dropped (the replace builds its own once the children are out)."""
        old = self._parent
        self._parent, self._state = new, None  # as _apply_replace: ctx.state is the new one
        try:
            self._factory(new, self)
        except Exception as exc:
            return str(exc)
        finally:
            self._parent, self._state = old, None
        return None

    def _apply_replace(self) -> None:
        assert self._pending_replace is not None
        new = self._amended(self._pending_replace)
        self._pending_replace = None
        self._status = "active"
        old, previous = self._parent, self._strategy
        self._parent = new  # the new strategy's constructor sees the new parent in ctx.state
        self._changed()
        try:
            strategy = self._factory(new, self)
            carry = getattr(strategy, "carry_over", None)
            if callable(carry):
                carry(previous)
        except Exception as exc:  # a bad parameter in the replace: keep the old order
            self._parent = old
            self._changed()
            self._reject_replace(str(exc))
            self._ask(lambda: self._strategy.on_timer(self._now))
            return
        self._strategy = strategy
        self._audit("parent_replaced", previous_id=old.id, qty=new.qty, limit=_px(new.limit))
        self._emit(ParentReplaced(new.id, self._now, new, old.id))
        if self._filled >= new.qty:
            return
        last = self._last_snapshot
        if callable(getattr(strategy, "carry_over", None)) or last is None:
            self._ask(lambda: strategy.on_timer(self._now))
        else:
            # A strategy without carry_over starts from nothing: show it the market now.
            self._ask(lambda: strategy.on_market_snapshot(last))

    def _reject_replace(self, reason: str) -> None:
        self._pending_replace = None
        self._audit("replace_rejected", reason=reason)
        self._emit(ParentReplaceRejected(self._parent.id, self._now, reason))

    def _begin_stop(self, reason: str) -> None:
        # a parent being cancelled is already ending as a stop would end it: it stays a
        # cancel, which answers the client's request (a stop would leave it pending for ever)
        if self._status in ("done", "stopping", "canceling"):
            return
        if self._status == "replacing":
            self._reject_replace(f"stopped: {reason}")
        self._status = "stopping"
        self._stop_text = reason
        self._audit("parent_stopping", reason=reason, working=len(self._working))
        self._cancel_all(reason)

    def _cancel_all(self, reason: str) -> None:
        for child in list(self._working.values()):
            if not child.cancel_pending:
                self._send_cancel(child, reason)

    # -- strategy calls and their actions -----------------------------------------------------

    def _ask(self, call: Callable[[], list[Action]]) -> None:
        """Call the strategy and apply what it decides; a strategy error stops the parent."""
        if self._status != "active":
            return
        self._retry_at = None  # asked: what it decides now is its answer
        try:
            actions = call()
        except Exception as exc:
            self._audit("strategy_error", error=f"{type(exc).__name__}: {exc}")
            self._begin_stop(f"strategy error: {type(exc).__name__}: {exc}")
            return
        for action in actions:
            if self._status != "active":
                self._audit("child_refused", reason=f"parent is {self._status}")
                break
            if isinstance(action, CancelChild):
                child = self._working.get(action.child_id)
                if child is None:
                    self._audit("cancel_ignored", child=action.child_id,
                                reason="not a working child")
                elif not child.cancel_pending:
                    self._send_cancel(child, action.reason)
            elif isinstance(action, StopParent):
                self._begin_stop(action.reason)
            else:
                self._send_child(action)
        self._changes_asked = self._changes  # its answer counts its own actions

    def _changed(self) -> None:
        """The order state changed: the cached view goes (see :attr:`state`)."""
        self._state = None
        self._changes += 1

    def _send_cancel(self, child: _Child, reason: str) -> None:
        child.cancel_pending = True
        self._changed()
        self._audit("child_cancel", child=child.child_id, leaves=child.leaves, reason=reason)
        self._router.cancel(child.child_id)

    def _send_child(self, order: ChildOrder) -> None:
        p = self._parent
        asked: dict[str, AuditValue] = {"qty": order.qty, "price": _px(order.price),
                                        "tif": order.tif, "reason": order.reason}
        refusal = self._refusal(order)
        if refusal is not None:
            self._audit("child_refused", **asked, why=refusal)
            return
        qty, price, clips = self._clip(order)
        if qty <= 0:
            self._audit("child_refused", **asked, why="nothing left to send "
                        f"(filled {self._filled}, working {self.state.working_qty}, "
                        f"quantity {p.qty})")
            return
        if clips:
            self._audit("child_clipped", **asked, new_qty=qty, new_price=_px(price),
                        why="; ".join(clips))
        if self._risk is not None:
            why = self._risk.check(p.symbol, p.side, qty, price, self._mid)
            if why is not None:
                self._audit("child_refused", **asked, why=f"risk: {why}")
                self._unsent = f"risk refused its last child: {why}"
                return
        self._unsent = None
        self._sent_since_end = True
        self._seq += 1
        child_id = f"{self._id_prefix}.{self._seq}"
        self._working[child_id] = _Child(child_id, qty, qty, price, order.tif, self._now)
        self._changed()
        if self._risk is not None:
            self._risk.on_order_sent(child_id)
        self._audit("child_sent", child=child_id, qty=qty, price=_px(price), tif=order.tif,
                    reason=order.reason)
        self._router.submit(child_id, p.symbol, p.side, qty, price, order.tif, order.reason)

    def _refusal(self, order: ChildOrder) -> str | None:
        p = self._parent
        if self._now < p.start:
            return "before the start time"
        if self._now >= p.end:
            return "at or after the end time"
        if order.qty <= 0:
            return "quantity is not positive"
        if order.tif not in ("day", "ioc"):
            return f"unknown time in force {order.tif!r}"
        if order.price is not None and order.price <= 0:
            return "price is not positive"
        return None

    def _clip(self, order: ChildOrder) -> tuple[int, Decimal | None, list[str]]:
        """The child made legal: quantity within what is left in lots, price within the
        limit and on the tick. Returns (qty, price, what was changed)."""
        p = self._parent
        clips: list[str] = []
        remaining = self.state.remaining
        qty = order.qty
        if qty > remaining:
            qty = remaining
            clips.append(f"quantity clipped to the {remaining} left")
        if qty < remaining and qty % p.lot_size:
            qty = qty // p.lot_size * p.lot_size
            clips.append(f"quantity rounded down to lots of {p.lot_size}")
        price = order.price
        if price is None and p.limit is not None:
            price = p.limit
            clips.append(f"market child priced at the limit {_px(p.limit)}")
        elif price is not None:
            capped = cap_to_limit(price, p.side, p.limit)
            if capped != price:
                clips.append(f"price capped at the limit {_px(p.limit)}")
            ticked = round_to_tick(capped, p.side, p.tick_size)
            if ticked != capped:
                clips.append(f"price rounded to the tick {_px(p.tick_size)}")
            price = ticked
            if price <= 0:
                return 0, price, clips
        return qty, price, clips

    # -- helpers ------------------------------------------------------------------------------

    def _avg(self) -> Decimal | None:
        return self._notional / self._filled if self._filled else None

    def _emit(self, event: ParentEvent) -> None:
        self._on_event(event)

    def _audit(self, event: str, **fields: AuditValue) -> None:
        self._audit_sink(event, parent=self._parent.id, time=self._now.isoformat(), **fields)


def _validate(parent: ParentOrder) -> None:
    if parent.qty <= 0:
        raise ValueError(f"order quantity {parent.qty} is not positive")
    if parent.lot_size <= 0 or parent.qty % parent.lot_size:
        raise ValueError(f"order quantity {parent.qty} is not a multiple of the lot size "
                         f"{parent.lot_size}")
    if parent.end <= parent.start:
        raise ValueError("the end time must be after the start time")
    if parent.limit is not None and parent.limit <= 0:
        raise ValueError(f"limit price {parent.limit} is not positive")
    if parent.tick_size <= 0:
        raise ValueError(f"tick size {parent.tick_size} is not positive")
    if parent.participation is not None and not 0 < parent.participation <= 1:
        raise ValueError(f"participation rate {parent.participation} is not in (0, 1]")
