"""What a restarted venue knows of the orders it had: its sessions' stored reports.

The venue keeps its books in memory: a process that ends (a crash, a restart) loses every
resting order, while each session's store keeps every ExecutionReport sent, persisted before
it was sent. From those reports a restarted venue learns, per session:

* every ClOrdID the session used (11, and 41 of replaces and cancels), so a request resent
  with PossDupFlag after the crash (the peer resends what arrived after our last committed
  inbound sequence number) is recognised as one already handled and not executed again,
  and the last OrdStatus of each, so a cancel or replace of an order that was done before
  the restart is answered "too late" with that status rather than "unknown order";
* the orders still open at the end (the last report's OrdStatus not final, LeavesQty > 0).
  They are gone from the books, so the venue tells their owners: an unsolicited Canceled
  report each ("venue restarted") when the session next logs on, with or without a
  sequence reset. A client's order system never shows as live an order the venue lost.

A store holds the reports since the session's last sequence reset, and what that reset
carried over (:meth:`MessageStore.carried`): at every reset the venue has the store keep the
last report of each of the session's orders still open (:func:`still_open`), so an order that
rested through any number of resets (a client that logs on with ResetSeqNumFlag every time)
is still known. The ClOrdIDs of orders already done before the last reset are not kept: after
a restart they could be used again that day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from engine.book_types import Side
from gateway.codec import scan_fields
from gateway.store import MessageStore, StoredMessage
from gateway.venue_orders import CANCELED, FINAL_STATUSES, ExecReport

__all__ = ["RESTART_TEXT", "Recovered", "recover", "still_open", "stored_reports"]

RESTART_TEXT = "venue restarted: the order was lost with the book and is canceled"
_ER = b"\x0135=8\x01"


@dataclass
class Recovered:
    """One session's orders as its stored reports tell them."""

    #: every ClOrdID used, with the last OrdStatus reported for its order (Canceled for an
    #: order still open: the restarted venue reports it so)
    cl_ord_ids: dict[str, str] = field(default_factory=dict)
    #: the last report of each order still open, by OrderID (37), as sent
    open: dict[str, bytes] = field(default_factory=dict)

    def cancels(self, owner: str, exec_id: Callable[[], str], now: datetime
                ) -> list[ExecReport]:
        """A Canceled report for each open order, as the client knows it; ``exec_id`` makes
        each report's ExecID."""
        out = []
        for order_id, raw in self.open.items():
            f = scan_fields(raw)
            out.append(ExecReport(
                owner=owner, exec_id=exec_id(), exec_type=CANCELED, ord_status=CANCELED,
                order_id=order_id, cl_ord_id=f.get(11, ""), orig_cl_ord_id=f.get(41),
                symbol=f.get(55, ""), side=Side.SELL if f.get(54) == "2" else Side.BUY,
                ord_type=f.get(40, ""), price=_decimal(f.get(44)), qty=_int(f.get(38)),
                tif=f.get(59, ""), leaves=0, cum=_int(f.get(14)),
                avg_px=_decimal(f.get(6)) or Decimal(0), time=now, text=RESTART_TEXT))
        return out


def recover(stored: Iterable[StoredMessage]) -> Recovered:
    """Read a session's stored messages in sequence order (see the module docstring)."""
    got = Recovered()
    for message in stored:
        if _ER not in message.raw:
            continue
        f = scan_fields(message.raw)
        order_id = f.get(37, "")
        named = order_id not in ("", "NONE")  # else a reject of a request naming no order
        for tag in (11, 41):
            if f.get(tag):
                if named:
                    got.cl_ord_ids[f[tag]] = f.get(39, "")
                else:  # used, but no order's status (a duplicate's reject keeps the order's)
                    got.cl_ord_ids.setdefault(f[tag], f.get(39, ""))
        if not named:
            continue
        if still_open(f.get(39, ""), _int(f.get(151))):
            got.open[order_id] = message.raw
        else:
            got.open.pop(order_id, None)
    for raw in got.open.values():  # lost with the book: the venue reports them Canceled
        f = scan_fields(raw)
        for tag in (11, 41):
            if f.get(tag):
                got.cl_ord_ids[f[tag]] = CANCELED
    return got


def stored_reports(store: MessageStore) -> Iterator[StoredMessage]:
    """What a session's store holds, oldest first: what its last reset carried over (as
    number 0), then the messages sent since."""
    for raw in store.carried():
        yield StoredMessage(0, raw)
    yield from store.sent(1, store.next_sender_seq - 1)


def still_open(ord_status: str, leaves: int) -> bool:
    """Whether an order whose last report says ``ord_status`` (39) and LeavesQty ``leaves``
    (151) is still working: what a restart finds lost and a sequence reset carries over."""
    return ord_status not in FINAL_STATUSES and leaves > 0


def _int(value: str | None) -> int:
    try:
        return int(Decimal(value)) if value else 0
    except (InvalidOperation, ValueError):
        return 0


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None
