"""Venue reports as FIX messages, and client requests from FIX messages.

ExecutionReports follow FIX 4.4 (ExecType F for trades, I for status); on a FIX 4.2 session
ExecTransType (20) is added and a trade's ExecType is 1 (partial) or 2 (filled), as 4.2
counterparties expect.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from engine.book_types import Side
from fixspec.fieldtypes import format_utc_timestamp, parse_decimal
from gateway.application import SessionHandle
from gateway.config import SessionConfig
from gateway.fixmessage import Field, Message, decimal_bytes, value_bytes
from gateway.session import PRECISIONS
from gateway.venue_orders import (
    CXL_OTHER,
    FILLED,
    ORDER_STATUS,
    REJ_INCORRECT_QTY,
    REJ_OTHER,
    REJ_UNSUPPORTED,
    REJECTED,
    TRADE,
    CancelReject,
    ExecReport,
    Report,
)

__all__ = ["MAX_CL_ORD_ID", "RequestError", "cancel_reject_message", "exec_report_fields",
           "exec_report_message",
           "name_by_order_id", "overlong_cl_ord_id", "parse_price", "parse_qty", "parse_side",
           "request_cancel_reject", "request_fault", "request_refusal", "request_report",
           "send_report", "too_long"]

_SIDE_FIX = {Side.BUY: "1", Side.SELL: "2"}
_FIX_SIDE = {"1": Side.BUY, "2": Side.SELL}


class RequestError(ValueError):
    """A client request the venue cannot act on; the text names the field and the problem,
    ``reason`` is the OrdRejReason (103) its reject carries."""

    def __init__(self, text: str, reason: int = REJ_OTHER) -> None:
        super().__init__(text)
        self.reason = reason


#: The longest ClOrdID (11) a request may carry. FIX sets no limit; venues do (20 to 64
#: characters is usual). A day's orders keep theirs in memory (duplicates are refused
#: within the day), so without one a client could make the process hold a megabyte an order.
MAX_CL_ORD_ID = 64


def overlong_cl_ord_id(cl_ord_id: str) -> RequestError | None:
    """The refusal of a request whose ClOrdID is longer than :data:`MAX_CL_ORD_ID`
    characters, or None."""
    if len(cl_ord_id) <= MAX_CL_ORD_ID:
        return None
    return RequestError(f"ClOrdID (11) is {len(cl_ord_id):,} characters long; at most "
                        f"{MAX_CL_ORD_ID} are taken")


#: Order instructions neither the venue nor the algo desk carries out. An order (or replace)
#: carrying one is refused, OrdRejReason 11, rather than worked as if it had not been sent:
#: a client that set a minimum quantity or "do not take liquidity" must not get fills that
#: break it. Values that ask for nothing are taken: MinQty 0, a display quantity of at least
#: the OrderQty (the whole order shown).
_NOT_CARRIED_OUT = ((18, "ExecInst"), (110, "MinQty"), (111, "MaxFloor"), (210, "MaxShow"),
                    (1138, "DisplayQty"))


def request_fault(message: Message) -> RequestError | None:
    """The refusal of an order request that nothing past the message need see, or None: a
    NewOrderSingle, cancel or replace whose ClOrdID is too long (:func:`overlong_cl_ord_id`),
    a NewOrderSingle or replace carrying an instruction not carried out
    (:func:`_unsupported_instruction`). The venue and the algo gateway ask it first."""
    kind = message.msg_type
    if kind in ("D", "F", "G") and (
            too_long := overlong_cl_ord_id(message.body.get_str(11) or "")):
        return too_long
    return _unsupported_instruction(message) if kind in ("D", "G") else None


def _unsupported_instruction(message: Message) -> RequestError | None:
    """The refusal of a NewOrderSingle or OrderCancelReplaceRequest carrying an instruction
    of :data:`_NOT_CARRIED_OUT` that asks for something, or None."""
    body = message.body
    for tag, name in _NOT_CARRIED_OUT:
        value = body.get_str(tag)
        if value is None:
            continue
        if tag != 18:
            try:
                n = Decimal(value)
                asks = n != 0 if tag == 110 else not n >= Decimal(body.get_str(38) or "") > 0
            except ArithmeticError:  # (InvalidOperation: NaN, no OrderQty): refused
                asks = True
            if not asks:
                continue
        return RequestError(f"{name} ({tag}) {value} is not supported: the order would not "
                            "be worked as it asks", REJ_UNSUPPORTED)
    return None


def parse_side(msg: Message) -> Side:
    side = msg.body.get_str(54)
    if side not in _FIX_SIDE:
        raise RequestError(f"Side (54) {side!r} is not supported: 1 (buy) or 2 (sell)",
                           REJ_UNSUPPORTED)
    return _FIX_SIDE[side]


#: The most digits a quantity or price may have before the decimal point, and a price
#: after it (trailing zeros aside). FIX's float syntax has no limit: a million-digit
#: OrderQty (a 1 MB message) took the process 20 s to make an int of, and one of 5,000
#: digits cannot be printed back (Python's int-to-text limit). Within these, what is too
#: large for a symbol is the venue's to say (its maximum quantity, its price range).
MAX_DIGITS = 30
MAX_DECIMALS = 18
_SHOWN = 40  # characters of a bad value that a reject's Text echoes


def _shown(raw: bytes) -> str:
    text = raw.decode("latin-1")
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


def too_long(value: Decimal | int) -> str | None:
    """What is wrong with ``value`` if it has more than :data:`MAX_DIGITS` digits before the
    point, past what a request may carry (a config that would send one is refused at its key,
    in these words); None when it fits."""
    if Decimal(value).adjusted() < MAX_DIGITS:
        return None
    return f"more than {MAX_DIGITS} digits before the decimal point"


def _decimal(raw: bytes, tag: int, name: str, reason: int) -> Decimal:
    """``raw`` in FIX's decimal syntax (never an exponent, NaN or Infinity, which would pass
    Python's Decimal), within MAX_DIGITS before the point; else RequestError."""
    try:
        value = parse_decimal(raw)
    except ValueError:
        raise RequestError(f"tag {tag} ({name}) {_shown(raw)!r} is not a number",
                           reason) from None
    if fault := too_long(value):
        raise RequestError(f"tag {tag} ({name}) {_shown(raw)} is out of range: {fault}", reason)
    return value


def parse_qty(msg: Message, tag: int = 38) -> int:
    raw = msg.body.get(tag)
    if raw is None:
        raise RequestError(f"tag {tag} (OrderQty) is missing", REJ_INCORRECT_QTY)
    return whole_shares(raw, tag, "OrderQty")


def whole_shares(raw: bytes, tag: int, name: str) -> int:
    """Quantity ``raw`` of field ``tag`` (``name``) as whole shares: FIX's decimal syntax,
    within MAX_DIGITS, no fraction; else RequestError (OrdRejReason 13) naming the tag."""
    value = _decimal(raw, tag, name, REJ_INCORRECT_QTY)
    if value != value.to_integral_value():
        raise RequestError(f"tag {tag} ({name}) {_shown(raw)} is not a whole number of "
                           "shares", REJ_INCORRECT_QTY)
    return int(value)


def parse_price(msg: Message, tag: int = 44) -> Decimal | None:
    raw = msg.body.get(tag)
    if raw is None:
        return None
    value = _decimal(raw, tag, "Price", REJ_OTHER)
    _, point, decimals = raw.partition(b".")
    if point and len(decimals.rstrip(b"0")) > MAX_DECIMALS:
        raise RequestError(f"tag {tag} (Price) {_shown(raw)} has more than {MAX_DECIMALS} "
                           "decimal places")
    return value


#: OrdRejReason (103) and CxlRejReason (102) values FIX 4.2 defines; QuickFIX rejects a
#: report with any other as "Value is incorrect (out of range) for this tag"
_FIX42_ORD_REJ_REASONS = frozenset(range(9))
_FIX42_CXL_REJ_REASONS = frozenset(range(4))


def name_by_order_id(message: Message, cl_ord_id_of: Callable[[str], str | None]) -> None:
    """A FIX 5.0SP2 request may name its order by OrderID (37) alone: a cancel or replace
    without OrigClOrdID (41), a status request without ClOrdID (11). Such a request is given
    the ClOrdID ``cl_ord_id_of`` finds for its OrderID (among the session's orders), and is
    then handled as one naming it; an OrderID it does not know leaves the request as it is."""
    body = message.body
    tag = 11 if message.msg_type == "H" else 41
    order_id = body.get_str(37)
    if order_id and not body.get_str(tag) and (cl := cl_ord_id_of(order_id)) is not None:
        body.set(tag, cl)


def request_report(owner: str, exec_id: str, message: Message, text: str, now: datetime, *,
                   exec_type: str = REJECTED, reason: int | None = REJ_OTHER) -> ExecReport:
    """The ExecutionReport answering a request that names no order of ours: a rejected
    NewOrderSingle, or the status of an unknown order (``exec_type`` ORDER_STATUS, ``reason``
    None). It states the order as the client sent it: ClOrdID, Symbol, Side (even one the
    venue does not trade), OrderQty and Price where they parse, OrdType and TimeInForce only
    if sent; what did not parse is left out, never made up."""
    body = message.body
    side = body.get_str(54) or ""
    qty, fix_qty = 0, None
    try:
        qty = parse_qty(message)
    except RequestError:
        fix_qty = _number_as_sent(body.get(38))
    try:
        price = parse_price(message)
    except RequestError:
        price = None
    return ExecReport(owner=owner, exec_id=exec_id, exec_type=exec_type, ord_status=REJECTED,
                      order_id="NONE", cl_ord_id=body.get_str(11) or "", orig_cl_ord_id=None,
                      symbol=body.get_str(55) or "", side=_FIX_SIDE.get(side, Side.BUY),
                      ord_type=body.get_str(40) or "", price=price, qty=qty,
                      tif=body.get_str(59) or "", leaves=0, cum=0, avg_px=Decimal(0), time=now,
                      text=text, rej_reason=reason,
                      fix_side=None if side in _FIX_SIDE else side, fix_qty=fix_qty)


def _number_as_sent(raw: bytes | None) -> str:
    """``raw`` as sent when it is a number (in range), else "" (the field is left out)."""
    if raw is None:
        return ""
    try:
        _decimal(raw, 38, "OrderQty", REJ_INCORRECT_QTY)
    except RequestError:
        return ""
    return raw.decode("ascii")  # (FIX's decimal syntax is ASCII)


def request_cancel_reject(owner: str, message: Message, reason: int, text: str,
                          now: datetime, *, ord_status: str = REJECTED,
                          order_id: str = "NONE") -> CancelReject:
    """The OrderCancelReject answering the cancel (F) or replace (G) ``message`` when it
    cannot be acted on: its ClOrdID and OrigClOrdID as sent, CxlRejResponseTo from its
    MsgType, the order's ``order_id`` and ``ord_status`` (its status after the reject)
    where known, else NONE and Rejected (an unknown order, as FIX 4.4 has it)."""
    body = message.body
    return CancelReject(owner=owner, order_id=order_id, cl_ord_id=body.get_str(11) or "",
                        orig_cl_ord_id=body.get_str(41) or "", ord_status=ord_status,
                        response_to="1" if message.msg_type == "F" else "2", reason=reason,
                        text=text, time=now)


def request_refusal(owner: str, message: Message, error: RequestError, now: datetime, *,
                    exec_id: Callable[[], str],
                    order_state: Callable[[str], tuple[str, str] | None]) -> Report:
    """The answer to a request refused before the book or the desk saw it (a field that did
    not parse, the throttle, a ClOrdID too long or used before): for a cancel or replace,
    an OrderCancelReject naming the order it was about with the OrderID and OrdStatus that
    ``order_state(OrigClOrdID)`` gives (its status after the reject: the request changed
    nothing), else NONE and Rejected; for anything else, a rejecting ExecutionReport with
    ExecID ``exec_id()`` and the error's reason."""
    if message.msg_type in ("F", "G"):
        order_id, status = order_state(message.body.get_str(41) or "") or ("NONE", REJECTED)
        return request_cancel_reject(owner, message, CXL_OTHER, str(error), now,
                                     ord_status=status, order_id=order_id)
    return request_report(owner, exec_id(), message, str(error), now, reason=error.reason)


def exec_report_message(r: ExecReport, session: SessionConfig) -> Message:
    """The ExecutionReport (35=8) for ``r`` on ``session``: :func:`exec_report_fields` as
    its body."""
    return Message.flat("8", exec_report_fields(r, session))


def exec_report_fields(r: ExecReport, session: SessionConfig) -> list[Field]:
    """The body of the ExecutionReport for ``r`` on ``session``, values as bytes, in
    ascending tag order (as :meth:`gateway.session.Session.send_fields` takes them: this is
    the venue's most frequent message). TransactTime has the session's
    ``timestamp_precision``, as SendingTime does: milliseconds unless configured, since
    FIX 4.2 and 4.4 define no finer UTCTimestamp. OrdStatusReqID (790) is echoed from
    FIX 4.4 on (FIX 4.2's ExecutionReport has no such field). The session's application
    version decides (a FIXT session's DefaultApplVerID, not FIXT.1.1)."""
    begin_string = session.app_version
    exec_type = r.exec_type
    fields: list[Field] = [(6, decimal_bytes(r.avg_px))]
    if r.cl_ord_id:  # none for a FIX 5.0SP2 status request by OrderID alone
        fields.append((11, value_bytes(r.cl_ord_id)))
    fields += [(14, b"%d" % r.cum), (17, value_bytes(r.exec_id))]
    rej_reason = r.rej_reason
    if begin_string == "FIX.4.2":
        # ExecTransType: a status report is Status (3), as FIX 4.2 has no ExecType I
        fields.append((20, b"3" if exec_type == ORDER_STATUS else b"0"))
        if exec_type == TRADE:  # Fill (2) for the one that completes the order, whatever its
            # OrdStatus says meanwhile (Pending Cancel or Replace outranks Filled)
            exec_type = "2" if r.ord_status == FILLED or r.cum >= r.qty else "1"
        elif exec_type == ORDER_STATUS:
            exec_type = r.ord_status
        if rej_reason is not None and rej_reason not in _FIX42_ORD_REJ_REASONS:
            rej_reason = 0  # Broker option: FIX 4.2 has none of the later codes
    if r.exec_type == TRADE:
        fields.append((31, decimal_bytes(r.last_px if r.last_px is not None else Decimal(0))))
        fields.append((32, b"%d" % r.last_qty))
    fields.append((37, value_bytes(r.order_id)))
    if r.fix_qty is None:
        fields.append((38, b"%d" % r.qty))
    elif r.fix_qty:
        fields.append((38, value_bytes(r.fix_qty)))
    fields.append((39, value_bytes(r.ord_status)))
    if r.ord_type:  # empty only on the report of a request that did not say
        fields.append((40, value_bytes(r.ord_type)))
    if r.orig_cl_ord_id is not None:
        fields.append((41, value_bytes(r.orig_cl_ord_id)))
    if r.price is not None:
        fields.append((44, decimal_bytes(r.price)))
    fields.append((54, value_bytes(r.fix_side or _SIDE_FIX[r.side])))
    if r.symbol:
        fields.append((55, value_bytes(r.symbol)))
    if r.text:
        fields.append((58, value_bytes(r.text)))
    if r.tif:
        fields.append((59, value_bytes(r.tif)))
    fields.append((60, format_utc_timestamp(
        r.time, PRECISIONS[session.timestamp_precision]).encode("ascii")))
    if rej_reason is not None:
        fields.append((103, b"%d" % rej_reason))
    fields += [(150, value_bytes(exec_type)), (151, b"%d" % r.leaves)]
    if r.ord_status_req_id is not None and begin_string != "FIX.4.2":
        fields.append((790, value_bytes(r.ord_status_req_id)))
    return fields


def send_report(session: SessionHandle, r: Report) -> None:
    """Send ``r`` on ``session``: an ExecutionReport as its body's bytes
    (:meth:`SessionHandle.send_fields`), an OrderCancelReject as a message."""
    if isinstance(r, ExecReport):
        session.send_fields("8", exec_report_fields(r, session.config))
    else:
        session.send(cancel_reject_message(r, session.config))


def cancel_reject_message(r: CancelReject, session: SessionConfig) -> Message:
    """The OrderCancelReject (35=9) for ``r`` on ``session``: CxlRejReason as the session's
    FIX version defines it (FIX 4.2 knows 0-3 only: a later code is 2, Broker option), and
    no OrigClOrdID when the request named none (a FIX 5.0SP2 request by OrderID alone)."""
    msg = Message("9")
    b = msg.body
    b.set(37, r.order_id)
    b.set(11, r.cl_ord_id)
    if r.orig_cl_ord_id:
        b.set(41, r.orig_cl_ord_id)
    b.set(39, r.ord_status)
    b.set(434, r.response_to)
    reason = r.reason
    if session.app_version == "FIX.4.2" and reason not in _FIX42_CXL_REJ_REASONS:
        reason = 2
    b.set(102, reason)
    b.set(58, r.text)
    return msg
