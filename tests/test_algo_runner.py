"""The AlgoRunner's own rules: parent cancel/replace/expiry, clipping and refusing children,
audit, re-entrant routers, strategy errors, rejects in a row, the kill switch."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import pytest

from algos.risk import RiskGate, RiskLimits
from algos.runner import (
    RETRY,
    ParentCancelRejected,
    ParentDone,
    ParentPendingCancel,
    ParentPendingReplace,
    ParentReplaced,
    ParentReplaceRejected,
)
from algos.strategy import (
    Action,
    AlgoContext,
    CancelChild,
    ChildOrder,
    Execution,
    MarketSnapshot,
    MarketWatch,
    ParentOrder,
    StopParent,
)
from algos.twap import Twap
from tests.test_algo_harness import T0, Harness, Venue, make_parent

MIN = timedelta(minutes=1)
MS = timedelta(milliseconds=1)
SEC = timedelta(seconds=1)


class Scripted:
    """A strategy that returns, on each snapshot, the next list of actions of a script."""

    script: ClassVar[list[list[Action]]] = []

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        self.ctx = ctx
        self.steps = list(self.script)
        self.executions: list[Execution] = []
        self.timers: list[datetime] = []

    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        return self.steps.pop(0) if self.steps else []

    def on_execution(self, execution: Execution) -> list[Action]:
        self.executions.append(execution)
        return []

    def on_timer(self, now: datetime) -> list[Action]:
        self.timers.append(now)
        return []

    def next_wakeup(self) -> datetime | None:
        return None


def scripted(*steps: list[Action]) -> type[Scripted]:
    return type("Script", (Scripted,), {"script": list(steps)})


def passive_venue() -> Venue:
    return Venue(ask_qty=0)  # nothing ever trades unless the test says so


# -- parent cancel ----------------------------------------------------------------------------


def test_cancel_waits_for_every_child_then_reports_canceled() -> None:
    venue = passive_venue()
    h = Harness(make_parent(1000, Slices="10", MaxChildQty="50", lot=10), venue=venue)
    h.step(T0)
    assert len(venue.submits) == 2  # 100 in two children of 50
    venue.hold_cancels = True
    h.runner.cancel(T0 + SEC)
    assert isinstance(h.events[-1], ParentPendingCancel)
    assert h.done() is None and len(venue.cancels) == 2
    # The first child fills before its cancel lands: the fill is reported, then canceled.
    venue.trade(Decimal("10.00"), 50)
    venue.release_cancels()
    venue.deliver()
    done = h.done()
    assert done is not None and (done.reason, done.cum_qty, done.unfilled) == ("canceled", 50, 950)
    assert not h.runner.state.working
    h.runner.cancel(T0 + 2 * SEC)
    assert isinstance(h.events[-1], ParentCancelRejected)


def test_a_stop_while_a_client_cancel_is_pending_ends_the_parent_canceled() -> None:
    """The kill switch (or a clean stop) turned a pending cancel into a stop: the parent
    ended "stopped", and the client's cancel was never answered, Canceled or rejected."""
    venue = passive_venue()
    h = Harness(make_parent(1000, Slices="10", MaxChildQty="50", lot=10), venue=venue)
    h.step(T0)
    venue.hold_cancels = True
    h.runner.cancel(T0 + SEC)
    h.runner.stop("kill switch: SIGUSR1", T0 + 2 * SEC)
    venue.release_cancels()
    venue.deliver()
    done = h.done()
    assert done is not None and done.reason == "canceled"


@pytest.mark.parametrize("asked", ["cancel", "replace"])
def test_a_cancel_after_the_end_time_is_too_late_and_the_parent_expires(asked: str) -> None:
    """The expiry cancels the children; a client cancel while that goes on turned the
    Expired end (with why it was unfilled) into Canceled by the client. A replace then is
    too late as well (it was refused as "the order is ending", CxlRejReason 99)."""
    parent = make_parent(1000, Slices="2", minutes=2, limit="9.95")
    h = Harness(parent)
    h.run(T0 + timedelta(minutes=1, seconds=59))
    h.venue.hold_cancels = True
    h.step(T0 + timedelta(minutes=2))  # the end: expiring, its children's cancels out
    if asked == "cancel":
        h.runner.cancel(h.now)
    else:
        h.runner.replace(replace(parent, id="P2", qty=800), h.now)
    rejected = h.events[-1]
    assert isinstance(rejected, ParentCancelRejected | ParentReplaceRejected)
    assert rejected.too_late
    assert rejected.reason == (f"too late to {asked}: its end time has passed: it is "
                               "expiring")
    h.venue.release_cancels()
    h.venue.deliver()
    done = h.done()
    assert done is not None and done.reason == "expired"


def test_cancel_with_nothing_working_is_done_at_once() -> None:
    h = Harness(make_parent(1000, Slices="10"), created=T0 - MIN)
    h.runner.cancel(T0 - SEC)
    done = h.done()
    assert done is not None and done.reason == "canceled"
    assert not any(isinstance(e, ParentPendingCancel) for e in h.events)
    h.run(T0 + MIN)
    assert not h.venue.submits  # nothing after the parent is done


# -- parent replace ---------------------------------------------------------------------------


def test_replace_cancels_children_and_rebuilds_the_strategy_keeping_fills() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 2 * MIN + 10 * SEC)
    assert h.filled == 200 and h.runner.state.working_qty == 100
    new = replace(h.runner.parent, id="P1b", qty=2000, limit=Decimal("10.50"))
    h.runner.replace(new, h.now)
    assert isinstance(h.events[-1], ParentPendingReplace)
    h.venue.deliver()  # the cancel confirms: the replace takes effect
    replaced = [e for e in h.events if isinstance(e, ParentReplaced)]
    assert len(replaced) == 1 and replaced[0].parent_id == "P1b"
    assert replaced[0].previous_id == "P1"
    assert h.runner.parent.qty == 2000 and h.filled == 200
    # The new strategy plans the 1,800 left over the 7m50s left, in ten slices: 200 (180
    # in lots of 100) in its first, not the 400 the old curve had due by now at once.
    assert h.runner.state.working_qty == 200
    assert h.venue.submits[-1].child_id == "P1.6"  # the first id's prefix, counting on
    h.run(T0 + 10 * MIN)
    assert h.filled == 2000


def test_a_replace_plans_what_is_left_over_the_time_left() -> None:
    """Planned again from the original start, a replace that moved the window or lowered
    the quantity sent nothing until the old curve caught up with the fills, then rushed."""
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 5 * MIN + 10 * SEC)
    filled = h.filled
    assert filled == 500
    # the window moved: now to five minutes from now, ten slices of 30 s
    new = replace(h.runner.parent, id="P1b", start=h.now, end=h.now + 5 * MIN)
    h.runner.replace(new, h.now)
    h.venue.deliver()
    sent = len(h.venue.submits)
    h.run(h.now + 30 * SEC)
    assert sum(o.qty for o in h.venue.submits[sent:]) >= 100  # 50 due each 30 s slice
    h.run(T0 + 10 * MIN + 10 * SEC)
    assert h.filled == 1000
    # the quantity lowered to 600: its one lot left lands mid-way through the time left
    # (fewer lots than slices spread evenly), not in the old curve's last slice
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 5 * MIN + 10 * SEC)
    h.runner.replace(replace(h.runner.parent, id="P1b", qty=600), h.now)
    h.venue.deliver()
    h.run(T0 + 8 * MIN)
    assert h.filled == 600


def test_a_replace_below_the_filled_quantity_is_amended_to_it_and_completes_the_parent(
) -> None:
    """FIX 4.4 Appendix D: order qty amended to cum qty (the venue does the same)."""
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 3 * MIN)
    assert h.filled == 300
    h.runner.replace(replace(h.runner.parent, qty=200), h.now)
    h.venue.deliver()
    [replaced] = [e for e in h.events if isinstance(e, ParentReplaced)]
    assert replaced.parent.qty == 300 and h.runner.parent.qty == 300
    done = h.done()
    assert done is not None and done.reason == "filled" and done.unfilled == 0
    assert not [e for e in h.events if isinstance(e, ParentReplaceRejected)]


def test_fills_during_the_cancel_pass_past_the_new_quantity_amend_it_to_them() -> None:
    """The replace asked for 400 while 500 worked; the child filled before its cancel
    landed: the order is amended to the 500 filled and done (Appendix D's race)."""
    venue = passive_venue()
    h = Harness(make_parent(1000, minutes=2, Slices="2"), venue=venue)
    h.step(T0)  # 500 resting at the bid
    venue.hold_cancels = True
    h.runner.replace(replace(h.runner.parent, qty=400), T0 + SEC)
    venue.trade(Decimal("10.00"), 500)  # the child fills before its cancel lands
    venue.release_cancels()
    venue.deliver()
    assert not [e for e in h.events if isinstance(e, ParentReplaceRejected)]
    [replaced] = [e for e in h.events if isinstance(e, ParentReplaced)]
    assert replaced.parent.qty == 500 and h.filled == 500
    done = h.done()
    assert done is not None and done.reason == "filled"


def test_replace_cannot_change_side_or_symbol() -> None:
    h = Harness(make_parent(1000))
    h.runner.replace(replace(h.runner.parent, symbol="MSFT"), T0)
    assert isinstance(h.events[-1], ParentReplaceRejected)
    assert h.events[-1].reason == "a replace cannot change the symbol or side"


def test_replace_to_the_filled_quantity_completes_the_parent() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 3 * MIN + 10 * SEC)
    assert h.filled == 300
    h.runner.replace(replace(h.runner.parent, qty=300), h.now)
    h.venue.deliver()
    done = h.done()
    assert done is not None and done.reason == "filled" and done.unfilled == 0


# -- expiry -----------------------------------------------------------------------------------


def test_expiry_cancels_working_children_and_reports_the_unfilled_quantity() -> None:
    venue = passive_venue()
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.run(T0 + 10 * MIN - SEC)
    assert h.runner.state.working_qty == 1000 and h.done() is None
    assert h.runner.next_wakeup() == T0 + 10 * MIN
    h.step(T0 + 10 * MIN)
    done = h.done()
    assert done is not None and (done.reason, done.unfilled) == ("expired", 1000)
    assert not venue.resting and h.runner.next_wakeup() is None


# -- clipping and refusing children -----------------------------------------------------------


def test_children_are_clipped_to_the_limit_the_quantity_left_and_lots() -> None:
    strategy = scripted([
        ChildOrder(250, Decimal("10.10"), reason="too high, not in lots"),
        ChildOrder(900, None, reason="market, more than is left"),
        ChildOrder(100, Decimal("10.00"), reason="nothing left"),
    ])
    venue = passive_venue()
    h = Harness(make_parent(1000, limit="10.05"), strategy, venue=venue)
    h.step(T0)
    sent = [(o.qty, o.price) for o in venue.submits]
    assert sent == [(200, Decimal("10.05")), (800, Decimal("10.05"))]
    clipped = h.audited("child_clipped")
    assert "quantity rounded down to lots of 100" in clipped[0]["why"]
    assert "price capped at the limit 10.05" in clipped[0]["why"]
    assert "market child priced at the limit 10.05" in clipped[1]["why"]
    assert "quantity clipped to the 800 left" in clipped[1]["why"]
    refused = h.audited("child_refused")
    assert len(refused) == 1 and refused[0]["why"].startswith("nothing left to send")
    assert refused[0]["reason"] == "nothing left"


def test_prices_are_put_on_the_tick_the_passive_way() -> None:
    strategy = scripted([ChildOrder(100, Decimal("10.017"))])
    venue = passive_venue()
    h = Harness(make_parent(1000), strategy, venue=venue)
    h.step(T0)
    assert venue.submits[0].price == Decimal("10.01")


def test_unknown_cancel_and_children_before_the_start_are_refused() -> None:
    strategy = scripted([CancelChild("nope"), ChildOrder(100, Decimal("10.00"))])
    h = Harness(make_parent(1000), strategy, created=T0 - MIN)
    h.step(T0 - SEC)
    assert h.audited("cancel_ignored")[0]["child"] == "nope"
    assert h.audited("child_refused")[0]["why"] == "before the start time"
    assert not h.venue.submits


@pytest.mark.parametrize("asked", [True, False])
def test_strategy_sees_its_executions_and_a_timer_when_its_cancel_ends_a_child(
        asked: bool) -> None:
    """A child its own cancel ended is the strategy's to place again at once (a reprice);
    one the venue ended unasked waits for its next snapshot or timer (see below)."""
    venue = passive_venue()
    strategy = scripted([ChildOrder(300, Decimal("10.00"))], [], [CancelChild("P1.1")])
    h = Harness(make_parent(1000), strategy, venue=venue)
    h.step(T0)
    venue.trade(Decimal("10.00"), 100)
    h.step(T0 + SEC)
    s = h.runner.strategy
    assert isinstance(s, Scripted)
    assert [(e.qty, e.price) for e in s.executions] == [(100, Decimal("10.00"))]
    if asked:
        h.step(T0 + 2 * SEC)  # the cancel, confirmed
        venue.deliver()
        assert venue.cancels == [(T0 + 2 * SEC, "P1.1")]
    else:
        del venue.resting["P1.1"]
        h.runner.on_child_done("P1.1", "expired at venue", T0 + 2 * SEC)
    assert s.timers == ([T0 + 2 * SEC] if asked else [])
    assert h.runner.state.working_qty == 0 and h.runner.state.remaining == 900


def end_resting_children(h: Harness, t: datetime, reason: str = "self-trade prevention",
                         fill: int = 0) -> int:
    """Step to ``t``, fill ``fill`` of the resting children, then end every one as a venue
    does unasked; how many."""
    h.step(t)
    h.venue.deliver()
    if fill:
        h.venue.trade(h.venue.submits[-1].price or Decimal(0), fill)
        h.venue.deliver()
    ended = list(h.venue.resting)
    for child_id in ended:
        del h.venue.resting[child_id]
        h.runner.on_child_done(child_id, reason, t)
    return len(ended)


def test_a_child_the_venue_ends_unasked_is_not_replaced_in_the_same_instant() -> None:
    """A venue that acked each child and then cancelled it (self-trade prevention, a halt
    sweep; the same for Expired or Done for day) met a new child at once: one parent sent
    thousands in an instant. Now the next snapshot or timer sends the next, and five such
    ends in a row with no fill stop the parent."""
    venue = passive_venue()
    h = Harness(make_parent(1000, minutes=10, Slices="10", lot=10), venue=venue)
    for k in range(4):
        assert end_resting_children(h, T0 + k * SEC) == 1
        assert len(venue.submits) == k + 1 and h.done() is None
    assert end_resting_children(h, T0 + 4 * SEC, fill=10) == 1  # a fill starts the count over
    assert h.filled == 10
    for k in range(5, 10):
        assert end_resting_children(h, T0 + k * SEC) == 1
    done = h.done()
    assert done is not None and done.reason == "stopped", h.events
    assert done.text == ("5 child orders ended unfilled by the venue in a row, last: "
                         "self-trade prevention")
    assert len(venue.submits) == 10 and not venue.resting


def test_every_decision_is_audited_with_parent_and_time() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + MIN)
    events = [e for e, _ in h.audits]
    assert events[0] == "algo_started"
    assert {"child_sent", "child_cancel", "child_done", "child_fill"} <= set(events)
    for _, fields in h.audits:
        assert fields["parent"] == "P1" and fields["time"].startswith("2024-06-03T")
    sent = h.audited("child_sent")[0]
    assert sent["reason"] == "TWAP slice 1/10 passive: target 100, filled 0"


# -- robustness -------------------------------------------------------------------------------


def test_a_router_that_answers_inside_submit_is_handled_in_order() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"), sync=True)
    h.run(T0 + 10 * MIN)
    assert h.filled == 1000
    done = h.done()
    assert done is not None and done.reason == "filled"


class Exploding(Scripted):
    def on_market_snapshot(self, snapshot: MarketSnapshot) -> list[Action]:
        if self.ctx.state.working:
            raise RuntimeError("boom")
        return [ChildOrder(100, Decimal("10.00"))]


def test_a_strategy_error_stops_the_parent() -> None:
    venue = passive_venue()
    h = Harness(make_parent(1000), Exploding, venue=venue)
    h.step(T0)
    h.step(T0 + SEC)
    assert h.audited("strategy_error")[0]["error"] == "RuntimeError: boom"
    done = h.done()
    assert done is not None and done.reason == "stopped"
    assert done.text == "strategy error: RuntimeError: boom"
    assert not venue.resting


def test_a_strategy_that_stops_the_parent_ends_it_once_its_children_are_canceled() -> None:
    """StopParent: the working child is canceled, the parent ends "stopped" with the
    strategy's words when the venue confirms, and the strategy is asked nothing more."""
    venue = passive_venue()
    venue.hold_cancels = True
    strategy = scripted([ChildOrder(300, Decimal("10.00"))], [StopParent("work is over")],
                        [ChildOrder(100, Decimal("10.00"))])
    h = Harness(make_parent(1000, minutes=10), strategy, venue=venue)
    h.step(T0)
    h.step(T0 + SEC)
    assert [c for _, c in venue.cancels] == [venue.submits[0].child_id]
    assert h.done() is None  # the child is still working
    venue.release_cancels()
    venue.deliver()
    done = h.done()
    assert done is not None and (done.reason, done.text, done.unfilled) == (
        "stopped", "work is over", 1000)
    assert done.time == T0 + SEC
    h.step(T0 + 2 * SEC)
    assert len(venue.submits) == 1


def test_rejects_in_a_row_stop_the_parent() -> None:
    venue = Venue(reject="venue closed")
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.run(T0 + 10 * SEC)
    done = h.done()
    assert done is not None and done.reason == "stopped"
    assert done.text == "5 child orders rejected in a row, last: venue closed"
    assert len(venue.submits) == 5


def test_one_sweep_of_children_resting_together_counts_once_and_they_go_again_later() -> None:
    """A halt or a mass cancel ends the five children of a slice at once: that stopped the
    parent as five ends in a row. It is one; with no snapshot after it (a quiet book), the
    strategy is asked again RETRY later, not at its next slice."""
    venue = passive_venue()
    h = Harness(make_parent(1000, minutes=10, Slices="2", MaxChildQty="100"), venue=venue)
    h.step(T0)
    venue.deliver()
    assert len(venue.resting) == 5
    for child_id in list(venue.resting):
        del venue.resting[child_id]
        h.runner.on_child_done(child_id, "trading halt", T0 + MS)
    assert h.done() is None and len(venue.submits) == 5  # not in the same instant
    assert h.runner.next_wakeup() == T0 + MS + RETRY
    venue.now = T0 + MS + RETRY
    h.runner.on_timer(venue.now)
    venue.deliver()
    assert len(venue.submits) == 10 and len(venue.resting) == 5 and h.done() is None


def test_a_parent_that_expires_after_a_rejected_child_says_why() -> None:
    """Its children rejected (a price out of the venue's band) until the end: the parent
    expired saying only what was unfilled; the end Text now gives the venue's reason."""
    venue = Venue(reject="price outside band")
    h = Harness(make_parent(1000, minutes=1, Slices="1"), venue=venue)
    for t in (T0, T0 + 20 * SEC):
        h.step(t)
        venue.deliver()
    assert len(venue.submits) == 2
    h.step(T0 + MIN)
    done = h.done()
    assert done is not None and (done.reason, done.unfilled) == ("expired", 1000)
    assert done.text == "its last child was rejected: price outside band"


def test_a_rejected_child_is_not_sent_again_in_the_same_instant() -> None:
    """A refusal (an upstream link down) answered by sending again at once met the same
    refusal five times in one instant and stopped the parent though the link came back a
    second later: the strategy tries again at its next snapshot or timer."""
    venue = Venue(reject="upstream venue session is not logged on")
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue)
    h.step(T0)
    venue.deliver()
    assert len(venue.submits) == 1 and h.done() is None
    for t in (T0 + SEC, T0 + 2 * SEC):  # one more try at each snapshot
        h.step(t)
    assert len(venue.submits) == 3 and h.done() is None
    venue.reject = None
    h.step(T0 + 3 * SEC)
    venue.deliver()
    assert h.done() is None and h.runner.state.working_qty == 100  # working at last


def test_kill_switch_stops_the_parent_and_refuses_new_children() -> None:
    venue = passive_venue()
    gate = RiskGate(RiskLimits())
    h = Harness(make_parent(1000, minutes=10, Slices="10"), venue=venue, risk=gate)
    h.step(T0)
    assert gate.open_orders == 1
    gate.kill("desk halt")
    h.runner.on_timer(T0 + SEC)
    venue.deliver()
    done = h.done()
    assert done is not None and (done.reason, done.text) == ("stopped", "kill switch: desk halt")
    assert gate.open_orders == 0 and not venue.resting


def test_risk_refusals_are_audited_and_nothing_is_sent() -> None:
    gate = RiskGate(RiskLimits(max_order_qty=50))
    h = Harness(make_parent(1000, minutes=10, Slices="10"), risk=gate)
    h.step(T0)
    assert not h.venue.submits
    refused = h.audited("child_refused")
    assert refused[0]["why"] == "risk: order quantity 100 exceeds max_order_qty 50"


def test_a_parent_whose_children_risk_refused_says_so_when_it_expires() -> None:
    """The client learns why its parent ended unfilled: risk refused its last child, not
    only what the strategy saw of the market."""
    gate = RiskGate(RiskLimits(max_order_qty=50))
    h = Harness(make_parent(1000, minutes=10, Slices="10"), risk=gate)
    h.run(T0 + 11 * MIN)
    done = h.done()
    assert done is not None and done.reason == "expired" and done.cum_qty == 0
    assert done.text.startswith(
        "risk refused its last child: order quantity 1000 exceeds max_order_qty 50")


def test_runner_feeds_the_gate_fills_and_open_orders() -> None:
    gate = RiskGate(RiskLimits())
    h = Harness(make_parent(1000, minutes=10, Slices="10"), risk=gate)
    h.run(T0 + MIN - SEC)
    assert gate.position("AAPL") == 100 and gate.open_orders == 0
    # Bought 100 at 10.02, marked at the mid 10.01.
    assert gate.daily_pnl() == Decimal("-1.00")


def test_fills_for_unknown_children_are_audited_and_ignored() -> None:
    h = Harness(make_parent(1000))
    h.runner.on_child_fill("X.9", 100, Decimal("10"), T0, exec_id="E1")
    assert h.filled == 0 and h.audited("unknown_child")[0]["child"] == "X.9"


def test_a_fill_resent_under_its_execid_counts_once() -> None:
    """A venue's PossResend copy of a fill (same ExecID, new sequence number) is not a new
    fill: audited as a duplicate, the parent's CumQty unchanged. The same quantity under
    another ExecID is another fill; each ParentFill names the venue's fill."""
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0)
    (child,) = h.venue.resting
    h.runner.on_child_fill(child, 10, Decimal("10.00"), T0, exec_id="V1")
    h.runner.on_child_fill(child, 10, Decimal("10.00"), T0, exec_id="V1")
    assert h.filled == 10 and h.audited("duplicate_fill")[0]["exec_id"] == "V1"
    h.runner.on_child_fill(child, 10, Decimal("10.00"), T0, exec_id="V2")
    assert h.filled == 20
    assert [(f.child_id, f.exec_id, f.cum_qty) for f in h.fills()] == [
        (child, "V1", 10), (child, "V2", 20)]
    # fills without an ExecID (a venue's, validation off) cannot be told apart: each counts
    h.runner.on_child_fill(child, 10, Decimal("10.00"), T0, exec_id="")
    h.runner.on_child_fill(child, 10, Decimal("10.00"), T0, exec_id="")
    assert h.filled == 40


def test_parent_done_is_reported_once() -> None:
    h = Harness(make_parent(1000, minutes=10, Slices="10"))
    h.run(T0 + 11 * MIN)
    assert len([e for e in h.events if isinstance(e, ParentDone)]) == 1


def test_twap_factory_is_the_class() -> None:
    h = Harness(make_parent(100), Twap)
    assert isinstance(h.runner.strategy, Twap)


class Watching(Scripted):
    """Watches the bid rising to 10.05, or fails to say (``broken``)."""

    broken = False

    def market_watch(self) -> MarketWatch | None:
        if self.broken:
            raise ValueError("no idea")
        return MarketWatch(bid_rises_to=Decimal("10.05"))


def test_the_runner_passes_on_the_market_watch_of_an_active_parent_only() -> None:
    h = Harness(make_parent(1000), Watching)
    h.step(T0)
    assert h.runner.market_watch() == MarketWatch(bid_rises_to=Decimal("10.05"))
    assert Harness(make_parent(1000), Scripted).runner.market_watch() is None  # no method
    Watching.broken = True
    try:
        h.step(T0 + SEC)  # a new input: asked again
        assert h.runner.market_watch() is None  # any snapshot may matter
        assert h.audited("strategy_error")[-1]["error"] == "ValueError: no idea"
    finally:
        Watching.broken = False
    h.runner.cancel(T0 + 2 * SEC)
    assert h.runner.market_watch() is None  # being cancelled, or done


class Planning(Scripted):
    """Plans half by the middle of the window, or fails to say (``broken``)."""

    broken = False

    def __init__(self, parent: ParentOrder, ctx: AlgoContext) -> None:
        super().__init__(parent, ctx)
        self.parent = parent

    def planned(self) -> list[tuple[datetime, int]]:
        if self.broken:
            raise ValueError("no plan")
        p = self.parent
        return [(p.start, 0), (p.start + (p.end - p.start) / 2, p.qty // 2), (p.end, p.qty)]


def test_the_runner_passes_on_the_strategys_schedule_or_none() -> None:
    parent = make_parent(1000)
    h = Harness(parent, Planning)
    mid = parent.start + (parent.end - parent.start) / 2
    assert h.runner.planned() == ((parent.start, 0), (mid, 500), (parent.end, 1000))
    assert Harness(make_parent(1000), Scripted).runner.planned() == ()  # no method
    Planning.broken = True
    try:
        assert h.runner.planned() == ()
        assert h.audited("strategy_error")[-1]["error"] == "ValueError: no plan"
    finally:
        Planning.broken = False
