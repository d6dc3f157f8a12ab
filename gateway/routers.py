"""Where an algo's child orders go: the in-process venue, or an upstream FIX session.

Both implement :class:`algos.runner.ChildRouter` and hand every answer about a child back to
the desk (:meth:`gateway.algo_desk.AlgoDesk.on_child_report`), so the desk and the runners
do not know which one they use. A child's ClOrdID is the runner's child id; its cancel
requests' ClOrdIDs are the child id with ``~c`` appended, then ``~c2``, ``~c3``... for the
cancels an upstream venue refused and the router asked again (each needs a ClOrdID of its
own): :func:`child_cancel_id`, :func:`cancelled_child`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Literal

from algos.strategy import Side
from gateway.venue import NewOrder, Venue
from gateway.venue_orders import DAY, IOC, LIMIT, MARKET, Report

__all__ = ["DESK_OWNER", "VenueRouter", "cancelled_child", "child_cancel_id", "fill_exec_id",
           "is_fill_exec_id", "numbered_id", "parent_of", "unnumbered_id"]

DESK_OWNER = "algo-desk"  # the venue owner of every child order the desk sends
_CANCEL_MARK = "~c"


def numbered_id(child_id: str, mark: str, n: int = 1) -> str:
    """The ClOrdID of the ``n``-th request of its kind (``mark``) about ``child_id``:
    ``<child><mark>``, then ``<child><mark>2``... (each needs a ClOrdID of its own)."""
    return child_id + mark + (str(n) if n > 1 else "")


def unnumbered_id(cl_ord_id: str, mark: str) -> str | None:
    """The child a :func:`numbered_id` with ``mark`` names; None: not one."""
    child, found, n = cl_ord_id.rpartition(mark)
    return child if found and (not n or n.isdigit()) else None


def child_cancel_id(child_id: str, n: int = 1) -> str:
    """The ClOrdID of the ``n``-th cancel request of ``child_id``: ``<child>~c``, then
    ``<child>~c2``..."""
    return numbered_id(child_id, _CANCEL_MARK, n)


def cancelled_child(cl_ord_id: str) -> str | None:
    """The child a cancel request's ClOrdID (:func:`child_cancel_id`) names; None: not one."""
    return unnumbered_id(cl_ord_id, _CANCEL_MARK)


def parent_of(child_id: str) -> str:
    """The runner's parent id in a child id (``<parent id>.<n>``)."""
    return child_id.rsplit(".", 1)[0]


def fill_exec_id(child_id: str, venue_exec_id: str) -> str | None:
    """The ExecID of the parent's report of a child's fill: the child id and the venue's
    ExecID of the fill (``<child id>:<venue ExecID>``). One venue fill, one parent fill,
    one ExecID, whoever reports it: a restart reads in the client's stored reports which
    fills were reported (gateway.algo_restart), and none is reported twice. Unlike the
    desk's other ExecIDs (``<hex>-AE<n>``) it starts with the parent's OrderID and a ``.``
    (:func:`is_fill_exec_id`). None for a fill without a venue ExecID (only a session with
    validation off lets one through): it cannot be told from another, and its report takes
    an ExecID of the reporter's."""
    return f"{child_id}:{venue_exec_id}" if venue_exec_id else None


def is_fill_exec_id(exec_id: str, order_id: str) -> bool:
    """Whether ``exec_id`` is a :func:`fill_exec_id` of a child of parent ``order_id``."""
    return exec_id.startswith(order_id + ".") and ":" in exec_id


class VenueRouter:
    """Children straight into the in-process :class:`Venue` (no FIX hop)."""

    def __init__(self, venue: Venue, deliver: Callable[[list[Report], datetime], None],
                 now: Callable[[], datetime],
                 sent: Callable[[str, str], None],
                 cancel_sent: Callable[[str, str], None]) -> None:
        self.venue = venue
        self.deliver = deliver
        self.now = now
        self.sent = sent
        self.cancel_sent = cancel_sent

    def submit(self, child_id: str, symbol: str, side: Side, qty: int,
               price: Decimal | None, tif: Literal["day", "ioc"], reason: str = "") -> None:
        parent = parent_of(child_id)
        self.sent(child_id, parent)
        now = self.now()
        req = NewOrder(DESK_OWNER, child_id, symbol, side, LIMIT if price is not None else MARKET,
                       qty, price, IOC if tif == "ioc" else DAY, parent=parent)
        self.deliver(self.venue.new_order(req, now), now)

    def cancel(self, child_id: str) -> None:
        cancel_id = child_cancel_id(child_id)
        self.cancel_sent(child_id, cancel_id)
        now = self.now()
        self.deliver(self.venue.cancel(DESK_OWNER, cancel_id, child_id, now), now)

    def unavailable(self) -> str | None:
        """None: the in-process venue takes children whenever the desk has them."""
        return None

    def status(self, child_id: str) -> bool:
        now = self.now()
        report = self.venue.status(DESK_OWNER, child_id, now)
        if report is not None:
            self.deliver([report], now)
        return True
