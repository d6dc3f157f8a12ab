"""The algo gateway in front of a venue, as three processes would run it: ``gateway run``
of ``sessions/venue.yaml`` and of ``sessions/algo.yaml`` (children over FIX to the venue,
algos fed by the venue's market data), and a client working a TWAP parent through it."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gateway.cli import main
from tests.conformance.harness import Client
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ports(tmp_path: Path) -> Iterator[tuple[int, int, str]]:
    """The venue's port, the algo gateway's port and its metrics URL."""
    venue, venue_port = start_gateway(ROOT / "sessions/venue.yaml", tmp_path / "venue")
    algo_cfg = yaml.safe_load((ROOT / "sessions/algo.yaml").read_text())
    for s in algo_cfg["sessions"]:
        if s["role"] == "initiator":
            s["port"] = venue_port
            s["reconnect"] = {"initial_delay": 0.1}
    algo_cfg["risk"] = {"sessions": {"CLIENT2": {"max_order_qty": 1000}}}
    path = tmp_path / "algo.yaml"
    path.write_text(yaml.safe_dump(algo_cfg))
    algo, algo_port = start_gateway(path, tmp_path / "algo")
    assert algo.stdout is not None
    yield venue_port, algo_port, algo.stdout.readline().split()[-1]
    for proc in (algo, venue):
        assert stop_gateway(proc) == 0


def test_twap_through_the_algo_gateway_fills_on_the_venue(ports: tuple[int, int, str],
                                                          tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    venue_port, algo_port, metrics_url = ports
    seller = Client(venue_port, "CLIENT2", our_comp_id="VENUE")
    seller.logon(extra="|141=Y")
    for i, px in enumerate(("100.00", "100.01")):
        seller.msg(f"35=D|11=S{i}|54=2|38=300|40=2|44={px}|55=AMZN|59=0|60={seller.ts()}")
        seller.expect("8", **{"150": "0"})
    seller.msg(f"35=D|11=B|54=1|38=100|40=2|44=99.90|55=AMZN|59=0|60={seller.ts()}")
    seller.expect("8", **{"150": "0"})
    client = Client(algo_port, "CLIENT2", our_comp_id="ALGO")
    client.logon(extra="|141=Y")
    client.msg(f"35=D|11=P|54=1|38=400|40=2|44=100.05|55=AMZN|59=0|60={client.ts()}|"
               f"847=1001|848=Slices=2|168={client.ts()}|126={client.ts(2)}")
    client.expect("8", timeout=10, **{"11": "P", "150": "0"})
    cum = 0
    while cum < 400:
        fill = client.expect("8", timeout=10, **{"11": "P", "150": "F"})
        cum = int(fill[14])
    assert fill[39] == "2" and fill[151] == "0"
    # the venue's market data reached the algos' books: ingestion and depth are measured
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    assert re.search(r'ingestion_latency_seconds_count\{feed="FIX.4.4:CLIENT1->VENUE"\} '
                     r'[1-9]', text), text
    assert re.search(r'book_depth_levels\{side="ask",symbol="AMZN"\} [1-9]', text), text
    # the venue's seller saw the children's fills on its orders
    got = sum(int(seller.expect("8", **{"150": "F"})[32]) for _ in range(2))
    assert got >= 300
    # a direct order to the algo gateway is refused: it takes parents only
    client.msg(f"35=D|11=X|54=1|38=1|40=2|44=1|55=AMZN|59=0|60={client.ts()}")
    assert "847" in client.expect("8", **{"150": "8"})[58]
    # requests about orders it does not have are answered as FIX clients expect: an
    # OrderCancelReject (unknown order) for a cancel or replace, a status report for a status
    client.msg(f"35=F|11=C1|41=NOPE|54=1|55=AMZN|60={client.ts()}")
    reject = client.expect("9", **{"11": "C1"})
    assert (reject[41], reject[102], reject[434], reject[39]) == ("NOPE", "1", "1", "8")
    client.msg(f"35=G|11=C2|41=NOPE|54=1|38=5|40=2|44=1|55=AMZN|60={client.ts()}")
    assert client.expect("9", **{"11": "C2"})[434] == "2"
    client.msg("35=H|11=NOPE|54=1|55=AMZN")
    status = client.expect("8", **{"11": "NOPE"})
    assert (status[150], status[39]) == ("I", "8")
    # the algo gateway applies its own risk limits to parents
    client.msg(f"35=D|11=BIG|54=1|38=5000|40=2|44=100.05|55=AMZN|59=0|60={client.ts()}|"
               f"847=1001|168={client.ts()}|126={client.ts(2)}")
    assert "max_order_qty 1000" in client.expect("8", **{"11": "BIG", "150": "8"})[58]
    seller.close()
    client.close()
    # the parent's audit timeline shows its children's own messages to and from the venue
    # (the runners name a child "child" in their decisions; its ClOrdID on the wire)
    capsys.readouterr()
    assert main(["audit", str(tmp_path / "algo"), "--clordid", "P"]) == 0
    timeline = capsys.readouterr().out
    to_venue = [line for line in timeline.splitlines() if "CLIENT1->VENUE out" in line]
    assert any("NewOrderSingle BUY" in line for line in to_venue), timeline
    # each message once: as the audit log names it (the upstream session, in), with its
    # line in the session's message log after it
    assert any("CLIENT1->VENUE in" in line and "ExecutionReport Fill" in line
               and "FIX.4.4-CLIENT1-VENUE.messages.current.log:" in line
               for line in timeline.splitlines()), timeline
