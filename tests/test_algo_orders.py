"""Parent orders from FIX messages: 848 text, the 5.0SP2 StrategyParametersGrp (957), the
window, participation and the limit, and the errors a client gets for bad ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.book_types import Side
from fixspec.dictionary import builtin_session
from fixspec.fieldtypes import format_utc_timestamp
from gateway.algo_orders import parse_parent
from gateway.codec import decode_bytes
from gateway.fix_reports import RequestError
from gateway.venue_config import SymbolSpec
from tests.fixpeer import Peer

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SPEC = SymbolSpec("MSFT", lot_size=10)


def nos(begin: str, extra: str, tif: str = "0") -> bytes:
    peer = Peer(begin=begin, sender="C", target="V")
    return peer.msg(f"35=D|11=P|54=2|38=500|40=2|44=30.25|55=MSFT|59={tif}|"
                    f"60={format_utc_timestamp(NOW)}|{extra}", now=NOW,
                    header="1128=9" if begin == "FIXT.1.1" else "")


def parse(begin: str, extra: str) -> object:
    sd = builtin_session("FIXT.1.1" if begin == "FIXT.1.1" else begin)
    return parse_parent(decode_bytes(nos(begin, extra), sd), SPEC, NOW, 300)


def test_fix44_parent_with_848_window_and_participation() -> None:
    end = NOW + timedelta(minutes=10)
    p = parse("FIX.4.4", f"847=1|848=Slices=4; MaxChildQty=100|849=0.2|"
                         f"126={format_utc_timestamp(end)}")
    assert p.side == Side.SELL and p.qty == 500 and p.limit == Decimal("30.25")
    assert p.params == {"Slices": "4", "MaxChildQty": "100"}
    assert p.participation == 0.2 and p.start == NOW and p.end == end


@pytest.mark.parametrize("expire", [True, False])
def test_an_effective_time_already_past_starts_the_schedule_now(expire: bool) -> None:
    """Order systems stamp 168 with the order's creation: a TWAP sent five minutes into its
    window sent the slices already gone (60% of it here) in its first child. It starts now,
    the whole quantity over the time left (and without 126, over the default window)."""
    past = format_utc_timestamp(NOW - timedelta(minutes=5))
    end = NOW + timedelta(minutes=5)
    p = parse("FIX.4.4", f"847=1001|168={past}"
                         + (f"|126={format_utc_timestamp(end)}" if expire else ""))
    assert p.start == NOW
    assert p.end == (end if expire else NOW + timedelta(seconds=300))


def test_a_parameter_in_848_and_the_group_too_is_refused() -> None:
    with pytest.raises(RequestError, match="Slices given twice"):
        parse("FIXT.1.1", "847=1001|848=Slices=4|957=1|958=Slices|959=1|960=6")


def test_fix50sp2_strategy_parameters_group() -> None:
    p = parse("FIXT.1.1", "847=1001|957=2|958=Slices|959=1|960=6|"
                          "958=UseModel|959=13|960=Y")
    assert p.params == {"Slices": "6", "UseModel": "Y"}
    assert p.end == NOW + timedelta(seconds=300)


@pytest.mark.parametrize(("extra", "text"), [
    ("847=1|849=0", "ParticipationRate"),
    ("847=1|848=oops", "not key=value"),
    ("847=1|848=Slices=2;Slices=7", r"TargetStrategyParameters \(848\) gives Slices twice"),
    ("847=1|848= Slices=2; Slices =2", "gives Slices twice"),
    (f"847=1|126={format_utc_timestamp(NOW - timedelta(seconds=1))}",
     r"ExpireTime \(126\) 14:59:59 is not after now \(15:00:00\)"),
    (f"847=1|168={format_utc_timestamp(NOW + timedelta(seconds=5))}|"
     f"126={format_utc_timestamp(NOW + timedelta(seconds=1))}",
     r"not after EffectiveTime \(168\) 15:00:05"),
])
def test_bad_parents(extra: str, text: str) -> None:
    with pytest.raises(RequestError, match=text):
        parse("FIX.4.4", extra)


@pytest.mark.parametrize("tif", ["2", "3", "4", "7"])
def test_a_parent_that_would_not_live_its_window_is_refused(tif: str) -> None:
    """IOC, FOK, at the opening or the close: not what a window-long algo does."""
    msg = decode_bytes(nos("FIX.4.4", "847=1", tif), builtin_session("FIX.4.4"))
    with pytest.raises(RequestError, match=rf"TimeInForce \(59\) {tif} is not supported") as err:
        parse_parent(msg, SPEC, NOW, 300)
    assert err.value.reason == 11
