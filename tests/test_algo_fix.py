"""TWAP/VWAP parent orders over FIX against ``gateway run`` of a venue config: the client sees
its parent's acknowledgement, fills with running totals and the end; cancel and replace
work; bad parents and risk breaches are rejected with reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conformance.harness import Client, clients_of
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """The shipped venue.yaml plus a risk section: CLIENT2 may not send more than 5000."""
    work = tmp_path_factory.mktemp("algo")
    config = yaml.safe_load((ROOT / "sessions/venue.yaml").read_text())
    config["risk"] = {"sessions": {"CLIENT2": {"max_order_qty": 5000}}}
    path = work / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    proc, port = start_gateway(path, work / "run")
    yield port, work / "run" / "audit.jsonl"
    assert stop_gateway(proc) == 0


@pytest.fixture
def clients(venue: tuple[int, Path]) -> Iterator[Callable[[str], Client]]:
    with clients_of(venue[0], "VENUE") as make:
        yield make


def rest(c: Client, cl: str, side: str, qty: int, px: str, symbol: str) -> None:
    c.msg(f"35=D|11={cl}|54={side}|38={qty}|40=2|44={px}|55={symbol}|59=0|60={c.ts()}")
    c.expect("8", **{"11": cl, "150": "0"})


def parent(c: Client, cl: str, qty: int, symbol: str, window: float, extra: str = "",
           strategy: str = "1001", params: str = "Slices=3") -> None:
    c.msg(f"35=D|11={cl}|54=1|38={qty}|40=2|44=50.00|55={symbol}|59=0|60={c.ts()}|"
          f"847={strategy}|848={params}|168={c.ts()}|126={c.ts(window)}{extra}")


def until_done(c: Client, timeout: float = 10) -> list[dict[int, str]]:
    out = []
    while True:
        m = c.expect("8", timeout=timeout)
        out.append(m)
        if m[39] in ("2", "4", "8", "C"):
            return out


def test_twap_parent_fills_over_its_window_with_running_totals(
        clients: Callable[[str], Client], venue: tuple[int, Path]) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    for i, px in enumerate(("40.00", "40.01", "40.02")):
        rest(c1, f"A{i}", "2", 400, px, "AAPL")
    rest(c1, "BID", "1", 100, "39.95", "AAPL")
    parent(c2, "T1", 900, "AAPL", 2.0)
    reports = until_done(c2)
    assert reports[0][150] == "0" and reports[0][151] == "900"
    fills = [m for m in reports if m[150] == "F"]
    assert sum(int(m[32]) for m in fills) == 900
    cum = 0
    for m in fills:
        cum += int(m[32])
        assert int(m[14]) == cum and int(m[151]) == 900 - cum
        assert float(m[31]) <= 50.0
    assert reports[-1][39] == "2" and {m[37] for m in reports} == {reports[0][37]}
    # CLIENT1, the counterparty, saw fills on its own orders only
    seen = c1.expect("8", **{"150": "F"})
    assert seen[11].startswith("A")
    # the audit log has the decisions, each child with its parent
    records = [json.loads(line) for line in venue[1].read_text().splitlines()]
    sent = [r for r in records if r.get("kind") == "algo" and r["event"] == "child_sent"]
    assert sent and all(r["parent"] == reports[0][37] for r in sent)
    assert all("TWAP slice" in r["reason"] for r in sent)
    # gateway audit shows the parent's life with its children and the algo's decisions
    timeline = subprocess.run([sys.executable, "-m", "gateway.cli", "audit", str(venue[1]),
                               "--clordid", "T1"], capture_output=True, text=True, cwd=ROOT,
                              timeout=60)
    assert timeline.returncode == 0, timeline.stderr
    assert "child_sent" in timeline.stdout and "algo-desk" in timeline.stdout
    assert f"{reports[0][37]}.1" in timeline.stdout  # the first child by its id


def test_cancel_parent_cancels_children_first(clients: Callable[[str], Client]) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    rest(c1, "Q1", "2", 100, "60.00", "GOOG")  # above the parent's limit: nothing fills
    rest(c1, "Q2", "1", 100, "49.00", "GOOG")
    parent(c2, "T2", 600, "GOOG", 30.0)
    c2.expect("8", **{"11": "T2", "150": "0"})
    c2.msg(f"35=F|11=T2c|41=T2|54=1|55=GOOG|60={c2.ts()}")
    c2.expect("8", **{"11": "T2c", "41": "T2", "150": "6", "39": "6"})
    done = c2.expect("8", **{"11": "T2c", "150": "4", "39": "4", "151": "0"})
    assert done[14] == "0"
    c2.msg(f"35=F|11=T2d|41=T2c|54=1|55=GOOG|60={c2.ts()}")
    c2.expect("9", **{"434": "1", "102": "0"})


def test_replace_parent_quantity(clients: Callable[[str], Client]) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    rest(c1, "M1", "2", 100, "70.00", "MSFT")
    parent(c2, "T3", 600, "MSFT", 30.0)
    c2.expect("8", **{"11": "T3", "150": "0"})
    c2.msg(f"35=G|11=T3r|41=T3|54=1|38=300|40=2|44=50.00|55=MSFT|60={c2.ts()}")
    first = c2.expect("8", **{"11": "T3r", "41": "T3"})
    if first[150] == "E":  # children were working: Pending Replace until they are out
        first = c2.expect("8", **{"11": "T3r", "41": "T3"})
    assert (first[150], first[38], first[151]) == ("5", "300", "300")
    # OrigClOrdID must be the latest ClOrdID: a cancel from a stale view is refused
    c2.msg(f"35=F|11=T3s|41=T3|54=1|55=MSFT|60={c2.ts()}")
    rej = c2.expect("9", **{"11": "T3s", "434": "1", "102": "99"})
    assert rej[58] == "OrigClOrdID (41) T3 was replaced: the order's ClOrdID is now T3r"
    c2.msg(f"35=F|11=T3c|41=T3r|54=1|55=MSFT|60={c2.ts()}")
    done = c2.expect("8", **{"11": "T3c", "41": "T3r"})
    if done[150] == "6":  # Pending Cancel while children are out
        done = c2.expect("8", **{"11": "T3c"})
    assert (done[150], done[39]) == ("4", "4")


@pytest.mark.parametrize(("body", "text"), [
    ("847=2", "TargetStrategy (847) 2 is not offered"),
    ("847=1001|848=Slices", "is not key=value"),
    ("847=1001|848=Slices=0", "Slices"),
    ("847=1001|849=1.5", "ParticipationRate"),
])
def test_bad_parents_are_rejected(clients: Callable[[str], Client], body: str,
                                  text: str) -> None:
    c = clients("CLIENT2")
    c.msg(f"35=D|11=BADP|54=1|38=100|40=2|44=10|55=INTC|59=0|60={c.ts()}|{body}")
    rej = c.expect("8", **{"150": "8", "39": "8"})
    assert text in rej[58]


def test_risk_limit_rejects_with_reason(clients: Callable[[str], Client]) -> None:
    c = clients("CLIENT2")
    parent(c, "BIG", 6000, "INTC", 10.0)
    rej = c.expect("8", **{"11": "BIG", "150": "8"})
    assert "risk" in rej[58] and "5000" in rej[58]
    c.msg(f"35=D|11=BIG2|54=1|38=6000|40=2|44=10|55=INTC|59=0|60={c.ts()}")
    rej = c.expect("8", **{"11": "BIG2", "150": "8"})
    assert "5000" in rej[58]


def test_a_parent_replace_past_a_risk_limit_is_refused_and_the_parent_works_on(
        clients: Callable[[str], Client]) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    rest(c1, "RQ1", "2", 100, "70.00", "INTC")  # above the parent's limit: nothing fills
    parent(c2, "T5", 600, "INTC", 30.0)
    c2.expect("8", **{"11": "T5", "150": "0"})
    c2.msg(f"35=G|11=T5r|41=T5|54=1|38=6000|40=2|44=50.00|55=INTC|60={c2.ts()}")
    rej = c2.expect("9", **{"11": "T5r", "41": "T5", "434": "2"})
    assert rej[58] == "risk: order quantity 6000 exceeds max_order_qty 5000"
    c2.msg(f"35=F|11=T5c|41=T5|54=1|55=INTC|60={c2.ts()}")  # still T5, still 600
    done = c2.expect("8", **{"11": "T5c", "41": "T5"})
    if done[150] == "6":  # Pending Cancel while children are out
        done = c2.expect("8", **{"11": "T5c"})
    assert (done[150], done[38]) == ("4", "600")


def test_a_parent_cancel_naming_another_symbol_or_side_is_refused(
        clients: Callable[[str], Client]) -> None:
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    rest(c1, "SQ1", "2", 100, "70.00", "AMZN")  # above the parent's limit: nothing fills
    parent(c2, "T6", 600, "AMZN", 30.0)
    c2.expect("8", **{"11": "T6", "150": "0"})
    c2.msg(f"35=F|11=T6x|41=T6|54=1|55=GOOG|60={c2.ts()}")
    rej = c2.expect("9", **{"11": "T6x", "41": "T6", "434": "1"})
    assert rej[58] == "Symbol (55) GOOG is not order T6's (AMZN)"
    c2.msg(f"35=F|11=T6y|41=T6|54=2|55=AMZN|60={c2.ts()}")
    rej = c2.expect("9", **{"11": "T6y", "41": "T6", "434": "1"})
    assert rej[58] == "Side (54) 2 (sell) is not order T6's (1 (buy))"
    c2.msg(f"35=F|11=T6c|41=T6|54=1|55=AMZN|60={c2.ts()}")  # the right one still works
    done = c2.expect("8", **{"11": "T6c", "41": "T6"})
    if done[150] == "6":  # Pending Cancel while children are out
        done = c2.expect("8", **{"11": "T6c"})
    assert done[150] == "4"


def test_user_strategy_by_dotted_path(clients: Callable[[str], Client]) -> None:
    """847=1002 is algos.example_strategy:PassivePov in sessions/venue.yaml."""
    c = clients("CLIENT2")
    parent(c, "U1", 100, "INTC", 30.0, strategy="1002", params="Rate=0.1")
    c.expect("8", **{"11": "U1", "150": "0"})
    c.msg(f"35=F|11=U1c|41=U1|54=1|55=INTC|60={c.ts()}")
    done = c.expect("8", **{"11": "U1c"})
    if done[150] == "6":
        done = c.expect("8", **{"11": "U1c"})
    assert done[150] == "4"


def test_vwap_parent_is_accepted_and_ends(clients: Callable[[str], Client]) -> None:
    """847=1 with a participation cap; outside the profile's trading hours it has nothing
    to do, and still ends cleanly at ExpireTime with its unfilled quantity."""
    c1, c2 = clients("CLIENT1"), clients("CLIENT2")
    rest(c1, "V1", "2", 500, "45.00", "INTC")
    parent(c2, "VW", 300, "INTC", 1.5, strategy="1", params="MaxChildQty=100",
           extra="|849=0.5")
    reports = until_done(c2)
    assert reports[0][150] == "0"
    last = reports[-1]
    cum = int(last[14])
    # the cap: never more than half the market volume, and the market here is only us
    assert cum <= 300
    if last[39] == "C":
        # the market here is only us: the cap allows nothing, and the end says so
        assert last[58] == ("window ended with 300 unfilled: participation cap 0.5: no market "
                            "volume but ours seen"), last[58]
    else:
        assert last[39] == "2" and cum == 300


def test_parents_and_direct_orders_share_clordids(clients: Callable[[str], Client]) -> None:
    c2 = clients("CLIENT2")
    # GOOG: the parent's limit (50) is below every GOOG sell of these tests: no fills race
    rest(c2, "SAME", "1", 10, "45.00", "GOOG")
    parent(c2, "SAME", 100, "GOOG", 5.0)
    assert "duplicate ClOrdID (11) SAME" in c2.expect("8", **{"11": "SAME", "150": "8"})[58]
    parent(c2, "PAR", 100, "GOOG", 5.0)
    c2.expect("8", **{"11": "PAR", "150": "0"})
    c2.msg(f"35=D|11=PAR|54=1|38=10|40=2|44=45.00|55=GOOG|59=0|60={c2.ts()}")
    assert "duplicate ClOrdID (11) PAR" in c2.expect("8", **{"11": "PAR", "150": "8"})[58]
