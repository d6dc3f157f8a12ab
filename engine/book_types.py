"""The order book's value types, shared by the C book's wrapper and its pure-Python twin.

Both :class:`engine.book.OrderBook` (C) and :class:`engine.refbook.ReferenceBook` (Python)
take the same :class:`Op` tuples and produce the same :class:`Event` tuples, so tests can
drive both from one stream and compare with ``==``. The numbers are the C enums of
``csrc/book.h``, whose top comment is the contract of every operation and event.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

#: Largest price (ticks) and quantity an op may carry: 2**53, so values survive a float.
MAX_PRICE = 1 << 53
MAX_QTY = 1 << 53
#: Order ids, prices and quantities are C int64; the wrappers reject ids outside this range.
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class Side(IntEnum):
    BUY = 0
    SELL = 1


class TimeInForce(IntEnum):
    DAY = 0  #: the remainder rests
    IOC = 1  #: the remainder is cancelled
    FOK = 2  #: all or nothing


class OpType(IntEnum):
    LIMIT = 1
    MARKET = 2
    CANCEL = 3
    REPLACE = 4
    EXECUTE = 5  #: feed: a resting order traded at the venue
    ADD = 6  #: feed: rest without matching (id 0: anonymous quantity)
    REDUCE = 7  #: feed: partial cancel
    DELETE = 8  #: feed: full cancel


class EventType(IntEnum):
    TRADE = 1
    REST = 2
    CANCEL = 3
    REPLACE = 4
    REJECT = 5


class CancelReason(IntEnum):
    REQUESTED = 0  #: CANCEL, REDUCE or DELETE of a known order
    IOC = 1  #: IOC remainder
    FOK = 2  #: FOK could not fill completely
    MARKET = 3  #: market order remainder: no more liquidity
    LEVEL = 4  #: unknown id: quantity taken from the level named by side/price


class Op(NamedTuple):
    """One operation, with the fields of C ``lob_op``; fields an op type ignores may be 0."""

    type: int
    id: int
    side: int = Side.BUY
    price: int = 0
    qty: int = 0
    tif: int = TimeInForce.DAY


class Event(NamedTuple):
    """One event, with the fields of C ``lob_event`` (meaning per type in csrc/book.h).

    ``side`` is a :class:`Side` except in the REJECT of an op whose side was invalid, where
    it is the raw value; ``code`` is a :class:`CancelReason` for CANCEL, 1/0 (kept queue
    position or not) for REPLACE, a negative ``core_status`` for REJECT, else 0.
    """

    type: EventType
    id: int
    side: int
    price: int
    qty: int
    leaves: int
    other: int = 0
    other_leaves: int = 0
    code: int = 0

    @property
    def reason(self) -> CancelReason | None:
        """Why a CANCEL happened; None for other event types."""
        return CancelReason(self.code) if self.type == EventType.CANCEL else None


class Level(NamedTuple):
    """A price level: total quantity (anonymous included) and resting orders (anonymous
    quantity counts as one; C ``lob_level.count``)."""

    price: int
    qty: int
    orders: int


class OrderInfo(NamedTuple):
    id: int
    side: Side
    price: int
    qty: int  #: leaves


class Bbo(NamedTuple):
    """Best bid and offer; an empty side has price 0 and qty 0."""

    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


class QueuePosition(NamedTuple):
    """What is ahead of an order at its level: quantity, and orders (anonymous counts as one)."""

    qty_ahead: int
    orders_ahead: int
