"""Parent orders over FIX: which NewOrderSingle is an algo order, and its parameters.

A NewOrderSingle with TargetStrategy (847) is a parent order for the algo desk:

* 847 ``1001`` TWAP (user-defined value, in the shipped FIX 4.4 dictionary), ``1`` VWAP, or
  any code the YAML maps to a strategy (``algos: strategies: {"9001": pkg.mod:Class}``);
* EffectiveTime (168) and ExpireTime (126) bound the schedule (default: now, and now plus
  ``default_window`` seconds);
* TargetStrategyParameters (848) ``key=value;key=value`` (``Slices``, ``MaxChildQty``,
  ``UseModel=Y|N``, ...); in FIX 5.0SP2 the StrategyParametersGrp (957: 958 name, 960 value)
  is read as well, and wins for a key given both ways;
* ParticipationRate (849) caps our share of market volume (0 < rate <= 1);
* OrdType 2 with Price (44) is the limit; OrdType 1 has none;
* TimeInForce (59), if sent, is Day, GTC or GTD: the window is the order's life, so IOC, FOK,
  at-the-open and at-the-close parents are refused rather than worked all window, and GTD
  needs an ExpireTime (126) (an ExpireDate (432) alone is refused, not read as the default
  window).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from algos.strategy import ParentOrder
from gateway.fix_reports import RequestError, parse_price, parse_qty, parse_side
from gateway.fixmessage import Message
from gateway.venue_config import SymbolSpec
from gateway.venue_orders import REJ_INCORRECT_QTY, REJ_UNSUPPORTED

__all__ = ["parse_parameter_text", "parse_parent", "parse_strategy_parameters"]

#: TimeInForce (59) values a parent may carry (None: not sent)
_PARENT_TIFS: frozenset[str | None] = frozenset({None, "0", "1", "6"})


def parse_parameter_text(raw: str) -> dict[str, str]:
    """TargetStrategyParameters (848) text, ``k=v;k=v``, as a mapping (keys as sent, values
    stripped); RequestError names an entry that is not ``key=value`` or a key given twice
    (which of two values was meant is not ours to guess)."""
    params: dict[str, str] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RequestError(f"TargetStrategyParameters (848) entry {part!r} is not "
                               "key=value")
        if key in params:
            raise RequestError(f"TargetStrategyParameters (848) gives {key} twice")
        params[key] = value.strip()
    return params


def parse_strategy_parameters(message: Message) -> dict[str, str]:
    """848 ``k=v;k=v`` and the StrategyParametersGrp (957), as one mapping; RequestError
    for a parameter given twice, in either or across the two."""
    params = parse_parameter_text(message.body.get_str(848) or "")
    for entry in message.body.group(957) or ():
        name = entry.get_str(958)
        if name:
            if name in params:
                raise RequestError(f"strategy parameter {name} given twice (848 and "
                                   "StrategyParametersGrp 957 together)")
            params[name] = entry.get_str(960) or ""
    return params


def parse_parent(message: Message, spec: SymbolSpec, now: datetime,
                 default_window: float) -> ParentOrder:
    """The parent order a NewOrderSingle with 847 asks for; RequestError says what is wrong."""
    body = message.body
    qty = parse_qty(message)
    if qty <= 0 or qty % spec.lot_size:
        raise RequestError(f"OrderQty (38) {qty} must be a positive multiple of the lot size "
                           f"{spec.lot_size}", REJ_INCORRECT_QTY)
    if qty > spec.max_qty:  # the venue's per-order maximum holds for a parent too
        raise RequestError(f"OrderQty (38) {qty} exceeds the maximum {spec.max_qty} for "
                           f"{spec.symbol}", REJ_INCORRECT_QTY)
    ord_type = body.get_str(40) or "2"
    limit: Decimal | None = None
    if ord_type == "2":
        limit = parse_price(message)
        if limit is None or limit <= 0 or spec.to_ticks(limit) is None:
            raise RequestError(f"a limit parent needs a positive Price (44) on the "
                               f"{spec.tick_size} tick, got {limit}")
    elif ord_type != "1":
        raise RequestError(f"OrdType (40) {ord_type} is not supported for algo orders (1 or 2)")
    tif = body.get_str(59)
    if tif not in _PARENT_TIFS:
        raise RequestError(f"TimeInForce (59) {tif} is not supported for algo orders: the "
                           "window is EffectiveTime to ExpireTime (0 Day, 1 GTC or 6 GTD)",
                           REJ_UNSUPPORTED)
    if tif == "6" and 126 not in body:
        # FIX: ExpireTime is required with GTD unless ExpireDate is sent; the window ends at
        # an ExpireTime, so a date alone would be read as the default window (minutes, not
        # days) if it were not refused
        raise RequestError("TimeInForce (59) 6 (GTD) needs an ExpireTime (126)"
                           + (": ExpireDate (432) is not supported" if 432 in body else ""),
                           REJ_UNSUPPORTED)
    given = body.get_utc_timestamp(168)
    start = given or now
    end = body.get_utc_timestamp(126)
    if end is None:
        try:
            end = max(start, now) + timedelta(seconds=default_window)
        except OverflowError:  # an EffectiveTime in the year 9999: no window fits after it
            raise RequestError(f"EffectiveTime (168) {start:%Y%m%d-%H:%M:%S} leaves no room "
                               f"for the default window of {default_window:g} s: send an "
                               "ExpireTime (126)") from None
    if end <= start:
        since = f"EffectiveTime (168) {start:%H:%M:%S}" if given else f"now ({start:%H:%M:%S})"
        raise RequestError(f"ExpireTime (126) {end:%H:%M:%S} is not after {since}")
    if end <= now:
        raise RequestError("ExpireTime (126) is already past")
    # An EffectiveTime already past (order systems stamp it with the order's creation)
    # starts the schedule now: the whole quantity over the time left, not the share of the
    # slices already gone sent at once.
    start = max(start, now)
    participation = None
    if 849 in body:
        rate = body.get_decimal(849)
        if rate is None or not 0 < rate <= 1:
            raise RequestError(f"ParticipationRate (849) {rate} must be in (0, 1]")
        participation = float(rate)
    return ParentOrder(id=body.get_str(11) or "", symbol=spec.symbol, side=parse_side(message),
                       qty=qty, limit=limit, start=start, end=end, participation=participation,
                       params=parse_strategy_parameters(message), lot_size=spec.lot_size,
                       tick_size=spec.tick_size)
