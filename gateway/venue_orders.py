"""What the venue tells order owners, as plain values (the FIX layer turns them into messages).

An :class:`ExecReport` is one ExecutionReport (35=8) to one owner; a :class:`CancelReject`
one OrderCancelReject (35=9). Owners are session names (FIX clients) or the in-process algo
router; the venue never reports an order to anyone but its owner. Status and type codes are
FIX 4.4's characters so the FIX layer passes them through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from engine.book_types import Side
from gateway.venue_config import plain

# OrdStatus (39)
NEW = "0"
PARTIAL = "1"
FILLED = "2"
CANCELED = "4"
REPLACED = "5"
PENDING_CANCEL = "6"
REJECTED = "8"
EXPIRED = "C"
PENDING_REPLACE = "E"
DONE_FOR_DAY = "3"  # (this venue never sends it; upstream venues and clients read it)
#: the OrdStatus values after which an order works no more
FINAL_STATUSES = frozenset({FILLED, DONE_FOR_DAY, CANCELED, REJECTED, EXPIRED})

# ExecType (150) values besides the OrdStatus ones above
TRADE = "F"
RESTATED = "D"  # (this venue never restates; upstream venues may)
ORDER_STATUS = "I"
TRADE_CANCEL = "H"  # a fill busted (upstream venues may; this venue never does)
TRADE_CORRECT = "G"  # a fill corrected (the same)

# OrdRejReason (103)
REJ_UNKNOWN_SYMBOL = 1
REJ_EXCEEDS_LIMIT = 3  # Order exceeds limit: a risk limit (what a desk's handling keys on)
REJ_DUPLICATE = 6
REJ_UNSUPPORTED = 11  # Unsupported order characteristic (a side, TimeInForce or OrdType)
REJ_INCORRECT_QTY = 13
REJ_OTHER = 99

# CxlRejReason (102)
CXL_TOO_LATE = 0
CXL_UNKNOWN = 1
CXL_PENDING = 3
CXL_DUPLICATE = 6
CXL_OTHER = 99

MARKET = "1"
LIMIT = "2"
DAY, GTC, IOC, FOK = "0", "1", "3", "4"

_MICRO = Decimal("0.000001")  # AvgPx's precision


@dataclass(slots=True)
class Order:
    """A client order the venue holds (live or done). ``qty`` is the current total quantity
    (after replaces); ``value`` the sum of price x quantity filled, for the average price."""

    order_id: str
    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: str
    price: Decimal | None
    qty: int
    tif: str
    book_id: int
    status: str = NEW
    cum: int = 0
    value: Decimal = Decimal(0)
    orig_cl_ord_id: str | None = None
    parent: str | None = None  # the parent order's id when an algo sent this child

    @property
    def live(self) -> bool:
        return self.status in (NEW, PARTIAL, PENDING_CANCEL, PENDING_REPLACE)

    @property
    def leaves(self) -> int:
        # never below 0: an upstream venue that overfills a parent's child (reports a fill
        # beyond what was sent) leaves a live parent with more filled than its quantity
        left = self.qty - self.cum
        return left if left > 0 and self.live else 0

    @property
    def avg_px(self) -> Decimal:
        return avg_price(self.value, self.cum)


def avg_price(value: Decimal, qty: int) -> Decimal:
    """AvgPx (6) of ``qty`` filled for ``value`` (the sum of price x quantity): to 6
    decimals, 0 before any fill."""
    if not qty:
        return Decimal(0)
    avg = value / qty
    try:
        return plain(avg.quantize(_MICRO))
    except InvalidOperation:
        # more than the context's 28 digits with 6 decimals: an upstream venue's fill at
        # 1E+25, say (garbage, but a report of it must not fail): as it is
        return avg


@dataclass(frozen=True, slots=True)
class ExecReport:
    """One ExecutionReport for ``owner``. ``order_id`` is "NONE" for an order never
    accepted."""

    owner: str
    exec_id: str
    exec_type: str
    ord_status: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: Side
    ord_type: str
    price: Decimal | None
    qty: int
    tif: str
    leaves: int
    cum: int
    avg_px: Decimal
    time: datetime
    last_qty: int = 0
    last_px: Decimal | None = None
    text: str | None = None
    rej_reason: int | None = None
    parent: str | None = None
    aggressor: bool | None = None  # on trades: True if this order took liquidity
    #: Side (54) as the client sent it, for the reject of a side the venue does not trade
    #: (``side`` cannot name it); None means ``side``
    fix_side: str | None = None
    #: OrderQty (38) as the client sent it, for the reject of a quantity ``qty`` cannot hold
    #: (a fraction of a share): None means ``qty``; "" leaves 38 out (it did not parse)
    fix_qty: str | None = None
    #: OrdStatusReqID (790) of the OrderStatusRequest this report answers, echoed (FIX 4.4
    #: and later)
    ord_status_req_id: str | None = None
    #: ExecRefID (19) of an upstream venue's bust or correction: the fill it is about (read,
    #: never sent: this venue busts nothing)
    exec_ref_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelReject:
    owner: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str
    ord_status: str
    response_to: str  # CxlRejResponseTo 434: "1" cancel, "2" cancel/replace
    reason: int
    text: str
    time: datetime


Report = ExecReport | CancelReject


def report(order: Order, exec_id: str, exec_type: str, now: datetime, *,
           last_qty: int = 0, last_px: Decimal | None = None, text: str | None = None,
           aggressor: bool | None = None) -> ExecReport:
    """An ExecutionReport of ``order`` as it is now."""
    return ExecReport(
        owner=order.owner, exec_id=exec_id, exec_type=exec_type, ord_status=order.status,
        order_id=order.order_id, cl_ord_id=order.cl_ord_id, orig_cl_ord_id=order.orig_cl_ord_id,
        symbol=order.symbol, side=order.side, ord_type=order.ord_type, price=order.price,
        qty=order.qty, tif=order.tif, leaves=order.leaves, cum=order.cum, avg_px=order.avg_px,
        time=now, last_qty=last_qty, last_px=last_px, text=text, parent=order.parent,
        aggressor=aggressor)
