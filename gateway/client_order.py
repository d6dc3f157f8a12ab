"""A client's parent order as its config's ``client: orders`` give it (see gateway.client_app)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from gateway.fix_reports import too_long
from gateway.yamlcheck import ConfigError, Node

__all__ = ["ClientOrder", "parse_client"]

_N = TypeVar("_N", int, Decimal)


@dataclass(frozen=True, slots=True)
class ClientOrder:
    symbol: str
    side: str  # "buy" or "sell"
    qty: int
    strategy: str = "1001"
    window: float = 20.0
    params: str = ""
    limit: Decimal | None = None
    participation: Decimal | None = None


def parse_client(node: Node) -> tuple[ClientOrder, ...]:
    """The ``client:`` section's orders; a value the FIX message could not carry or the
    gateway would refuse for every run is a :class:`ConfigError` naming file, line and key."""
    m = node.mapping({"orders"}, {"orders"})
    out = []
    for o in m["orders"].sequence():
        f = o.mapping({"symbol", "side", "qty", "strategy", "window", "params", "limit",
                       "participation"}, {"symbol", "side", "qty"})
        out.append(ClientOrder(
            symbol=f["symbol"].name(), side=f["side"].string(("buy", "sell")),
            qty=_fits_fix(f["qty"], f["qty"].integer(1)),
            strategy=_strategy(f["strategy"]) if "strategy" in f else "1001",
            window=f["window"].number(0.1, 86400) if "window" in f else 20.0,
            params=f["params"].string() if "params" in f else "",
            limit=_fits_fix(f["limit"], Decimal(str(f["limit"].number(0, above=True))))
            if "limit" in f else None,
            participation=Decimal(str(f["participation"].number(0, 1, above=True)))
            if "participation" in f else None))
    if not out:
        raise m["orders"].error("expected at least one order")
    return tuple(out)


def _fits_fix(node: Node, value: _N) -> _N:
    """``value`` if a gateway takes it: at most MAX_DIGITS digits before the point (a
    quantity or price past that is refused by every gateway here, on every run)."""
    if fault := too_long(value):
        raise node.error(f"{value} has {fault}: no gateway takes it")
    return value


def _strategy(node: Node) -> str:
    """TargetStrategy (847), an integer field: ``1001`` or ``"1001"``."""
    try:
        text = node.name()  # as written: YAML would read 0700 as 448
    except ConfigError:  # (a list, a mapping, nothing)
        text = None
    if text is None or not text.isascii() or not text.isdigit() or int(text) < 1:
        raise node.error(f"expected a TargetStrategy (847) number such as 1001 (TWAP) or 1 "
                         f"(VWAP), got {node.raw() if text is None else text}")
    return text
