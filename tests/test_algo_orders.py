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


def nos(begin: str, extra: str) -> bytes:
    peer = Peer(begin=begin, sender="C", target="V")
    return peer.msg(f"35=D|11=P|54=2|38=500|40=2|44=30.25|55=MSFT|59=0|"
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


def test_fix50sp2_strategy_parameters_group() -> None:
    p = parse("FIXT.1.1", "847=1001|957=2|958=Slices|959=1|960=6|"
                          "958=UseModel|959=13|960=Y")
    assert p.params == {"Slices": "6", "UseModel": "Y"}
    assert p.end == NOW + timedelta(seconds=300)


@pytest.mark.parametrize(("extra", "text"), [
    ("847=1|849=0", "ParticipationRate"),
    ("847=1|848=oops", "not key=value"),
    (f"847=1|126={format_utc_timestamp(NOW - timedelta(seconds=1))}", "ExpireTime"),
])
def test_bad_parents(extra: str, text: str) -> None:
    with pytest.raises(RequestError, match=text):
        parse("FIX.4.4", extra)
