"""Risk limits on a client's direct orders over FIX against ``gateway run`` of a venue config:
a replace cannot step around a limit, and a flood past ``max_orders_per_second`` is answered
with rejects while another client trades on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conformance.harness import Client, clients_of
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]
RATE = 50


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The shipped venue.yaml: CLIENT1 may send 50 orders a second, of at most 5000 shares."""
    work = tmp_path_factory.mktemp("venue-risk")
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["risk"] = {"sessions": {"CLIENT1": {"max_order_qty": 5000,
                                               "max_orders_per_second": RATE}}}
    path = work / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    proc, port = start_gateway(path, work / "run")
    yield port
    assert stop_gateway(proc) == 0


@pytest.fixture
def clients(venue: int) -> Iterator[Callable[[str], Client]]:
    with clients_of(venue, "VENUE") as make:
        yield make


def test_a_replace_past_max_order_qty_is_refused_and_the_order_stays(
        clients: Callable[[str], Client]) -> None:
    c = clients("CLIENT1")
    c.msg(f"35=D|11=R1|54=1|38=100|40=2|44=10.00|55=INTC|59=0|60={c.ts()}")
    new = c.expect("8", **{"11": "R1", "150": "0"})
    c.msg(f"35=G|11=R2|41=R1|54=1|38=6000|40=2|44=10.00|55=INTC|60={c.ts()}")
    rej = c.expect("9", **{"11": "R2", "41": "R1", "434": "2", "39": "0", "37": new[37]})
    assert rej[58] == "risk: order quantity 6000 exceeds max_order_qty 5000"
    c.msg(f"35=G|11=R3|41=R1|54=1|38=50|40=2|44=10.00|55=INTC|60={c.ts()}")  # less: fine
    c.expect("8", **{"11": "R3", "41": "R1", "150": "5", "38": "50", "151": "50"})


def test_a_flood_past_max_orders_per_second_gets_rejects_and_others_trade_on(
        clients: Callable[[str], Client]) -> None:
    time.sleep(1.1)  # CLIENT1's orders of the test before are out of the window
    c, other = clients("CLIENT1"), clients("CLIENT2")
    n = 4 * RATE
    c.send(b"".join(c.peer.msg(f"35=D|11=F{i}|54=1|38=1|40=2|44=1.{i % 90 + 10}|55=INTC|"
                               f"60={c.ts()}", now=c.now) for i in range(n)))
    answers = [c.expect("8", **{"11": f"F{i}"}) for i in range(n)]
    accepted = [m for m in answers if m[150] == "0"]
    refused = [m for m in answers if m[150] == "8"]
    assert len(accepted) + len(refused) == n
    # the first RATE go through; past them, at most RATE more a second of handling
    assert all(m[150] == "0" for m in answers[:RATE])
    assert refused and RATE <= len(accepted) < n
    assert {m[58] for m in refused} == {
        f"risk: more than max_orders_per_second {RATE} orders in one second"}
    other.msg(f"35=D|11=O1|54=2|38=1|40=2|44=99.00|55=INTC|59=0|60={other.ts()}")
    other.expect("8", **{"11": "O1", "150": "0"})
