"""What a restarted algo gateway knows of the parents it had, and of their children.

The algo desk keeps its parents and their runners in memory: a process that ends (a crash,
``kill -9``) loses them, while the sessions' stores are durable. From them a restarted algo
gateway learns:

* per client session, its parents as the client last heard of them
  (:func:`gateway.venue_restart.recover` of the reports stored for that session, the same
  reading a restarted venue does of its own orders): which were still open, and every
  ClOrdID the parents had, refused for new parents that trading day;
* from the upstream session's store, every NewOrderSingle the gateway sent the venue: the
  children (ClOrdID ``<parent OrderID>.<n>``, see :func:`gateway.routers.parent_of`) of
  each parent (:func:`stored_children`).

A parent lost open cannot be resumed, and its children may still work at the venue, filling
while nobody watches. So it ends the way a broker's desk ends an order it can no longer
manage (:class:`LostParent`): every child is cancelled at the venue once the upstream link
is up (ClOrdID ``<child>~r``; ``~r2``, ``~r3`` at later restarts, see
:func:`restart_cancel_id`, as the venue refuses a ClOrdID used before), and the parent stays
open until each child is accounted for: the venue's answer to its cancel (Canceled, or a
reject: too late, unknown order) or a report that ends it (filled). Meanwhile every fill the
venue reports of a child, live or resent for the time the gateway was down, is reported to
the client as a fill of the parent, so its CumQty is what was bought or sold for it; then
the parent is reported Canceled (:data:`RESTART_TEXT`), or Filled if the fills completed
it. Each venue fill is reported once: a parent's fill report has an ExecID made of the child
and the venue's ExecID (:func:`gateway.routers.fill_exec_id`), so the fills reported before
the restart are known from the client's stored reports (:func:`reported_fills`; a sequence
reset of the client's carries them over while the parent is open, :meth:`LostParent.fill_stubs`),
and the venue's resend of a report whose inbound sequence number a crash kept from being
committed (the report was handled, its number not yet saved) is not counted again.

A lost parent's first report, at the client's logon or the venue's first answer, is Pending
Cancel if children are still unaccounted for, so the client's order system shows it
stopping, not working; the reports go out whether or not the client is logged on
(:class:`LostParent`).

A cancel or replace the client had pending at the crash is answered: the replace refused
with the first report, the cancel by the final Canceled (or refused if fills complete the
parent).

A sequence reset of the upstream session (a venue that resets at logon) keeps in its store
the children of the parents being worked and of lost parents not yet done, with their
restart-cancels (AlgoGatewayApplication._carry_children). A parent none of whose children
is found (none was sent) is reported Canceled at once.

A restart-cancel the venue refuses for another reason than the child's being done (a
throttle, a cancel already pending) is sent again, under the next ClOrdID, a second later,
then at doubling intervals up to a minute, while the child is unaccounted for
(AlgoGatewayApplication in gateway.upstream).

Limits: which reports the client missed while logged out is known in memory only: after
another crash, a logon with ResetSeqNumFlag (which discards them) does not bring them again;
its status requests get each parent's state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from algos.runner import countable_fill
from gateway.codec import scan_fields
from gateway.routers import (
    fill_exec_id,
    is_fill_exec_id,
    numbered_id,
    parent_of,
    unnumbered_id,
)
from gateway.store import StoredMessage
from gateway.venue_orders import (
    CANCELED,
    CXL_TOO_LATE,
    CXL_UNKNOWN,
    FILLED,
    FINAL_STATUSES,
    NEW,
    ORDER_STATUS,
    PARTIAL,
    PENDING_CANCEL,
    PENDING_REPLACE,
    TRADE,
    CancelReject,
    ExecReport,
    Report,
    avg_price,
)
from gateway.venue_restart import acknowledged_request, last_state, stored_decimal, stored_int

__all__ = ["PENDING_TEXT", "RESTART_CANCEL", "RESTART_TEXT", "Fill", "LostParent", "StoredChild",
           "reported_fills", "restart_cancel_id", "stored_children"]

RESTART_TEXT = ("algo gateway restarted: the parent was lost and is canceled; its children "
                "still working were canceled at the venue")
PENDING_TEXT = ("algo gateway restarted: the parent was lost; its children at the venue are "
                "being canceled")
RESTART_CANCEL = "~r"  # a restart-cancel's ClOrdID: <child>~r[n] (a runner's end in ~c)

_NOS = b"\x0135=D\x01"
_ER = b"\x0135=8\x01"
_CANCEL = b"\x0135=F\x01"


@dataclass(frozen=True, slots=True)
class StoredChild:
    """A child order as the NewOrderSingle the upstream store kept: enough to cancel it."""

    child_id: str  # its ClOrdID (11)
    parent_id: str  # its parent's OrderID (the desk's runner id)
    symbol: str
    side: str  # Side (54) as sent
    restarts: int = 0  # restart-cancels sent for it already (by earlier restarts)


def restart_cancel_id(child_id: str, n: int = 1) -> str:
    """The ClOrdID of the ``n``-th restart's cancel of ``child_id``: ``<child>~r``, then
    ``<child>~r2``... (each restart's cancel needs a ClOrdID of its own)."""
    return numbered_id(child_id, RESTART_CANCEL, n)


def child_of_cancel(cl_ord_id: str) -> str | None:
    """The child a restart-cancel ClOrdID names (None: not one)."""
    return unnumbered_id(cl_ord_id, RESTART_CANCEL)


def stored_children(stored: Iterable[StoredMessage]) -> list[StoredChild]:
    """The children sent in the upstream session's stored messages (oldest first), each with
    the number of restart-cancels sent for it."""
    children: dict[str, StoredChild] = {}
    restarts: dict[str, int] = {}
    for message in stored:
        raw = message.raw
        if _NOS in raw:
            f = scan_fields(raw)
            cl = f.get(11, "")
            if cl and "." in cl:
                children[cl] = StoredChild(cl, parent_of(cl), f.get(55, ""), f.get(54, ""))
        elif _CANCEL in raw:
            child = child_of_cancel(scan_fields(raw).get(11, ""))
            if child is not None:
                restarts[child] = restarts.get(child, 0) + 1
    return [dataclasses.replace(c, restarts=restarts.get(c.child_id, 0))
            for c in children.values()]


#: a fill as a stored report tells it: LastQty, LastPx
Fill = tuple[int, Decimal]


def reported_fills(stored: Iterable[StoredMessage], into: dict[str, dict[str, Fill]]) -> None:
    """Add to ``into``, per parent OrderID, its fill reports in a client session's stored
    messages by ExecID (:func:`gateway.routers.fill_exec_id`: they name the venue fills the
    client has heard of), each with its LastQty and LastPx; and the status reports a
    sequence reset carried over under them (:meth:`LostParent.fill_stubs`), which have none
    (LastQty 0)."""
    for message in stored:
        if _ER in message.raw:
            f = scan_fields(message.raw)
            order_id, exec_id = f.get(37, ""), f.get(17, "")
            if is_fill_exec_id(exec_id, order_id):
                into.setdefault(order_id, {})[exec_id] = (
                    stored_int(f.get(32)), stored_decimal(f.get(31)) or Decimal(0))


@dataclass
class LostParent:
    """A parent a restart found open, from its last stored report until it is done: its
    children still unaccounted for at the venue, and the fills the venue reported of them
    (module docstring). Its first reports (:meth:`start`) come at the client's first logon
    after the restart or at the venue's first report about a child, whichever is first;
    then each venue report about a child (:meth:`on_child`) gives the parent's reports at
    once. They are sent whether or not the client is logged on: the client session's store
    keeps them (a later restart reads them there) and its resend delivers them; a logon that
    resets sequence numbers discards them, so they are sent again then (:meth:`announce`)."""

    #: the parent as the client last heard of it (its last report; ExecType, ExecID, time and
    #: the fill fields are the next report's own)
    state: ExecReport
    #: ClOrdIDs of its children not yet accounted for
    children: set[str]
    #: the ClOrdID of a cancel request of the client's still pending at the crash: the final
    #: Canceled answers it (an OrderCancelReject, if fills complete the parent)
    cancel_request: str | None = None
    #: the ClOrdID of a replace request of the client's pending at the crash: refused at the
    #: client's logon (the parent will not work again to be replaced)
    replace_request: str | None = None
    #: whether its first reports were made (:meth:`start`)
    started: bool = False
    #: its reports sent while its client was logged out (kept by the caller), until a logon
    unheard: list[Report] = field(default_factory=list)
    #: of those, the ones a sequence reset discarded before the client had them (:meth:`reset`)
    missed: list[Report] = field(default_factory=list)
    #: the parent as the restart found it (for the audit): ``state`` at the start
    found: ExecReport = field(init=False)
    #: fills of children not yet reported: (the report's ExecID, LastQty, LastPx)
    fills: list[tuple[str | None, int, Decimal]] = field(default_factory=list)
    #: the ExecIDs of the parent's fill reports, made or to make (one per venue fill:
    #: :func:`gateway.routers.fill_exec_id`), those stored before the restart included; a
    #: venue report resent after a crash repeats a fill already reported
    seen: set[str] = field(default_factory=set)
    #: what its fills came to (the sum of LastPx x LastQty), kept exact from fill to fill
    #: (its AvgPx is this over CumQty, rounded for each report)
    value: Decimal = field(init=False)

    @classmethod
    def from_stored(cls, raw: bytes, owner: str, children: Iterable[str],
                    request: tuple[str, str] | None = None,
                    reported: Mapping[str, Fill] | None = None) -> LostParent:
        """The parent whose last stored report is ``raw``, for client session ``owner``;
        ``request``: the client's cancel or replace pending at the crash (ExecType of its
        acknowledgement, its ClOrdID: :attr:`Recovered.requests`, which knows it from an
        earlier report too), else what ``raw`` itself acknowledges; ``reported``: its
        stored fill reports (:func:`reported_fills`). When those hold every share of its
        CumQty, the value of its fills is their sum, exact; else (a sequence reset carried
        them over as status reports) CumQty x the stored AvgPx, rounded as reported."""
        reported = reported or {}
        f = scan_fields(raw)
        state = last_state(raw, owner, "", "", datetime.min)
        status = f.get(39, "")
        # (a Pending Cancel of PENDING_TEXT is the gateway's own, unsolicited: in stores
        # written before it went without OrigClOrdID, it has one)
        acknowledged = acknowledged_request(f) if f.get(58) != PENDING_TEXT else None
        if request is None:
            request = acknowledged
        if acknowledged is not None:
            # the last report is the acknowledgement: under the request's ClOrdID; the
            # order's own is its OrigClOrdID (a fill or status report while a request is
            # pending is under the order's own)
            state = dataclasses.replace(state, cl_ord_id=f.get(41) or state.cl_ord_id,
                                        orig_cl_ord_id=None)
        kind, cl = request if request is not None else ("", "")
        if cl == state.cl_ord_id:
            kind = ""  # (the order's own ClOrdID: no request of the client's)
        if status == PENDING_REPLACE:  # refused at the logon: the order's status before it
            status = PARTIAL if state.cum else NEW
        state = dataclasses.replace(state, ord_status=status, leaves=state.qty - state.cum)
        parent = cls(state, set(children), cl if kind == PENDING_CANCEL else None,
                     cl if kind == PENDING_REPLACE else None, seen=set(reported))
        if sum(qty for qty, _ in reported.values()) == state.cum:
            parent.value = sum((px * qty for qty, px in reported.values()), Decimal(0))
        return parent

    def __post_init__(self) -> None:
        self.found = self.state
        self.value = self.state.avg_px * self.state.cum

    def carried(self, exec_id: Callable[[], str], now: datetime) -> ExecReport:
        """The parent as a report for a sequence reset to carry over (the client heard
        nothing new of it since its last report): the acknowledgement of the client's cancel
        if one is pending, so that a later restart still answers it; else its status."""
        r = self._status(exec_id(), now)
        if self.cancel_request is not None:
            r = dataclasses.replace(r, exec_type=PENDING_CANCEL, cl_ord_id=self.cancel_request,
                                    orig_cl_ord_id=r.cl_ord_id)
        return r

    def fill_stubs(self, now: datetime) -> list[ExecReport]:
        """The fills the client has heard of, for a sequence reset to carry over (it
        discards their reports; a later restart reads their ExecIDs, :func:`reported_fills`):
        a status report of the parent under each fill's ExecID, none once it is done."""
        return [] if self.done else [self._status(fill_id, now) for fill_id in sorted(self.seen)]

    def _status(self, exec_id: str, now: datetime) -> ExecReport:
        """The parent as it stands, as a status report (ExecType I) with ``exec_id``."""
        return dataclasses.replace(self.state, exec_id=exec_id, exec_type=ORDER_STATUS,
                                   time=now, last_qty=0, last_px=None, text=None)

    @property
    def done(self) -> bool:
        """Whether the parent's last report ended it."""
        return self.state.ord_status in FINAL_STATUSES

    def start(self, exec_id: Callable[[], str], now: datetime) -> list[Report]:
        """The first reports (once; none after): the refusal of a replace the client had
        pending, and Pending Cancel unless the parent is ending now or the client heard that
        already; then what is known (:meth:`_reports`)."""
        if self.started:
            return []
        self.started = True
        out: list[Report] = []
        if self.replace_request is not None:
            out.append(self._reject(self.replace_request, "2", now))
            self.replace_request = None
        if self.children and self.state.ord_status != PENDING_CANCEL:
            # unsolicited: no OrigClOrdID, which would make it read as the acknowledgement
            # of a request of the client's (venue_restart.recover)
            out.append(dataclasses.replace(
                self._report(PENDING_CANCEL, PENDING_CANCEL, exec_id(), now, text=PENDING_TEXT),
                orig_cl_ord_id=None))
        return out + self._reports(exec_id, now)

    def reset(self) -> None:
        """The client session's store was reset: the reports sent while the client was
        logged out are gone with it, never delivered (:attr:`missed`)."""
        self.missed += self.unheard
        self.unheard = []

    def announce(self, exec_id: Callable[[], str], now: datetime) -> list[Report]:
        """A logon of the client's: the reports a reset discarded before it had them, again
        as they were (their ExecIDs too: it never had them), then the first reports if not
        made yet. Those sent while it was away and still stored come by its resend."""
        out = self.missed + self.start(exec_id, now)
        self.missed, self.unheard = [], []
        return out

    def on_child(self, child: str, r: Report, exec_id: Callable[[], str],
                 now: datetime) -> list[Report]:
        """The venue's report ``r`` about child ``child``: a fill is the parent's; a report
        that ends the child, or a cancel reject saying it is done (too late, unknown order,
        or a final OrdStatus), accounts for it. The parent's reports."""
        if isinstance(r, CancelReject):
            # any other refusal (a throttle, a cancel already pending) leaves the child
            # working: its cancel is asked again (gateway.upstream) until its end
            if r.reason in (CXL_TOO_LATE, CXL_UNKNOWN) or r.ord_status in FINAL_STATUSES:
                self.children.discard(child)
        else:
            # a fill of no quantity or price is a venue's garbage: counted nowhere (the
            # caller audits every report), as the desk's runners do; one without an ExecID
            # (no fill_id) cannot be told from another: counted, reported under one of ours
            fill_id = fill_exec_id(child, r.exec_id)
            if r.exec_type == TRADE and countable_fill(r.last_qty, r.last_px) \
                    and fill_id not in self.seen:
                assert r.last_px is not None
                if fill_id is not None:
                    self.seen.add(fill_id)
                self.fills.append((fill_id, r.last_qty, r.last_px))
            if r.ord_status in FINAL_STATUSES or r.leaves <= 0:
                self.children.discard(child)
        return self.start(exec_id, now) if not self.started else self._reports(exec_id, now)

    def _reports(self, exec_id: Callable[[], str], now: datetime) -> list[Report]:
        """The fills not yet reported, then the end if every child is accounted for."""
        out: list[Report] = []
        fills, self.fills = self.fills, []
        for fill_id, qty, px in fills:
            if self.done:
                break  # (a fill beyond the parent's quantity: none by construction)
            s = self.state
            cum = s.cum + qty
            self.value += px * qty
            filled = cum >= s.qty
            status = FILLED if filled else (PENDING_CANCEL if s.ord_status == PENDING_CANCEL
                                            else PARTIAL)
            self.state = dataclasses.replace(s, cum=cum, avg_px=avg_price(self.value, cum))
            out.append(self._report(TRADE, status, fill_id or exec_id(), now, last_qty=qty,
                                    last_px=px))
            if filled and self.cancel_request is not None:  # too late for the client's cancel
                out.append(self._reject(self.cancel_request, "1", now))
                self.cancel_request = None
        if not self.children and not self.done:
            out.append(self._report(CANCELED, CANCELED, exec_id(), now, text=RESTART_TEXT,
                                    request=self.cancel_request))
        return out

    def _report(self, exec_type: str, status: str, exec_id: str, now: datetime,
                *, last_qty: int = 0, last_px: Decimal | None = None, text: str | None = None,
                request: str | None = None) -> ExecReport:
        s = self.state
        live = status not in FINAL_STATUSES
        self.state = dataclasses.replace(s, ord_status=status,
                                         leaves=s.qty - s.cum if live else 0)
        if request is not None:  # the answer to the client's cancel: the order takes its id
            self.state = dataclasses.replace(self.state, cl_ord_id=request,
                                             orig_cl_ord_id=s.cl_ord_id)
        return dataclasses.replace(self.state, exec_id=exec_id, exec_type=exec_type, time=now,
                                   last_qty=last_qty, last_px=last_px, text=text)

    def _reject(self, request: str, response_to: str, now: datetime) -> CancelReject:
        """The OrderCancelReject of the client's pending request ``request`` (434
        ``response_to``: 1 cancel, 2 replace): too late, the parent is ending."""
        s = self.state
        return CancelReject(owner=s.owner, order_id=s.order_id, cl_ord_id=request,
                            orig_cl_ord_id=s.cl_ord_id, ord_status=s.ord_status,
                            response_to=response_to, reason=CXL_TOO_LATE,
                            text="the order is filled" if s.ord_status == FILLED else PENDING_TEXT,
                            time=now)
