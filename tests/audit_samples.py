"""Small logs for the audit timeline, generated with the project's own writers.

``python -m tests.audit_samples`` rewrites tests/data/audit/; a test checks the committed
files equal a fresh generation, so samples and generator cannot drift apart.

* ``gateway.audit.jsonl`` (:class:`gateway.audit.AuditLog`): a client's algo parent order
  PARENT1 (BUY 1000 AAPL), replaced (PARENT1R, 41=PARENT1) then cancelled (PARENT1C,
  41=PARENT1R); the algo works it with two child orders, C1 (filled) and C2 (cancelled with
  C2X, 41=C2); an unrelated order OTHER1 from the same client.
* ``FIX.4.4-BROKER-DESK.messages.current.log`` (:class:`gateway.msglog.SessionLog`, the
  QuickFIX layout): a plain order A1 replaced by A2 and cancelled by A3, with heartbeats,
  an unrelated order B1 and two rejected orders R1 and R2 whose acks both carry
  OrderID ``NONE``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, cast

from gateway.audit import AuditLog
from gateway.msglog import SessionLog
from tests.fixpeer import Peer

if TYPE_CHECKING:
    from gateway.session_runner import SessionRunner

SAMPLES = Path(__file__).resolve().parent / "data" / "audit"
T0 = datetime(2024, 3, 4, 14, 30, 0, tzinfo=UTC)
JSON_NAME = "gateway.audit.jsonl"
FIX_NAME = "FIX.4.4-BROKER-DESK.messages.current.log"


@dataclass
class _Store:
    next_sender_seq: int = 1
    next_target_seq: int = 1


@dataclass
class _Session:
    store: _Store = field(default_factory=_Store)


@dataclass
class FakeRunner:
    """What :class:`AuditLog` reads of a session runner: its name and its store."""

    name: str
    session: _Session = field(default_factory=_Session)


def runner(name: str) -> SessionRunner:
    return cast("SessionRunner", FakeRunner(name))


class _Clock:
    def __init__(self) -> None:
        self.t = T0

    def tick(self, ms: int = 10) -> datetime:
        self.t += timedelta(milliseconds=ms)
        return self.t


def write_json(path: Path) -> None:
    clock = _Clock()
    client, venue = runner("FIX.4.4:GW->CLIENT"), runner("FIX.4.4:GW->VENUE")
    from_client = Peer(sender="CLIENT", target="GW")
    to_client = Peer(sender="GW", target="CLIENT")
    to_venue = Peer(sender="GW", target="VENUE")
    from_venue = Peer(sender="VENUE", target="GW")

    with AuditLog(path) as log:
        def msg(r: SessionRunner, d: str, peer: Peer, body: str) -> None:
            now = clock.tick()
            log.message(r, "in" if d == "in" else "out", peer.msg(body, now=now), now)

        msg(client, "in", from_client,
            "35=D|11=PARENT1|21=1|38=1000|40=2|44=10.05|54=1|55=AAPL|60=20240304-14:30:00"
            "|847=1")
        log.order(clock.tick(), "new", client.name, cl_ord_id="PARENT1", order_id="P-1",
                  symbol="AAPL", side="BUY", qty=1000, price=Decimal("10.05"), status="NEW")
        msg(client, "out", to_client,
            "35=8|6=0|11=PARENT1|14=0|17=E1|37=P-1|39=0|54=1|55=AAPL|150=0|151=1000")
        msg(client, "in", from_client,
            "35=D|11=OTHER1|21=1|38=5|40=1|54=2|55=MSFT|60=20240304-14:30:00")
        log.algo(clock.tick(), "slice", "PARENT1", slice="1/2", size=500,
                 price=Decimal("10.00"), reason="schedule", cl_ord_id="C1")
        log.order(clock.tick(), "new", venue.name, cl_ord_id="C1", parent="PARENT1",
                  symbol="AAPL", side="BUY", qty=500, price=Decimal("10.00"))
        msg(venue, "out", to_venue,
            "35=D|11=C1|21=1|38=500|40=2|44=10.00|54=1|55=AAPL|60=20240304-14:30:00")
        msg(venue, "in", from_venue,
            "35=8|6=0|11=C1|14=0|17=V1|37=V-1|39=0|54=1|55=AAPL|150=0|151=500")
        msg(venue, "in", from_venue,
            "35=8|6=10.00|11=C1|14=500|17=V2|31=10.00|32=500|37=V-1|39=2|54=1|55=AAPL"
            "|150=F|151=0")
        log.order(clock.tick(), "filled", venue.name, cl_ord_id="C1", order_id="V-1",
                  parent="PARENT1", exec_id="V2", status="FILLED", leaves=0, cum=500,
                  avg_px=Decimal("10.00"))
        msg(client, "out", to_client,
            "35=8|6=10.00|11=PARENT1|14=500|17=E2|31=10.00|32=500|37=P-1|39=1|54=1|55=AAPL"
            "|150=F|151=500")
        msg(client, "in", from_client,
            "35=G|11=PARENT1R|21=1|37=P-1|38=800|40=2|41=PARENT1|44=10.05|54=1|55=AAPL"
            "|60=20240304-14:30:01")
        log.order(clock.tick(), "replaced", client.name, cl_ord_id="PARENT1R",
                  orig_cl_ord_id="PARENT1", order_id="P-1", qty=800, status="REPLACED")
        msg(client, "out", to_client,
            "35=8|6=10.00|11=PARENT1R|14=500|17=E3|37=P-1|39=1|41=PARENT1|54=1|55=AAPL"
            "|150=5|151=300")
        log.algo(clock.tick(), "slice", "PARENT1", slice="2/2", size=300,
                 price=Decimal("10.01"), reason="catch-up", cl_ord_id="C2")
        msg(venue, "out", to_venue,
            "35=D|11=C2|21=1|38=300|40=2|44=10.01|54=1|55=AAPL|60=20240304-14:30:01")
        log.order(clock.tick(), "new", venue.name, cl_ord_id="C2", parent="PARENT1",
                  symbol="AAPL", side="BUY", qty=300, price=Decimal("10.01"))
        msg(venue, "in", from_venue,
            "35=8|6=0|11=C2|14=0|17=V3|37=V-2|39=0|54=1|55=AAPL|150=0|151=300")
        msg(client, "in", from_client,
            "35=F|11=PARENT1C|37=P-1|38=800|41=PARENT1R|54=1|55=AAPL|60=20240304-14:30:02")
        log.algo(clock.tick(), "cancel", "PARENT1", reason="client cancel", cl_ord_id="C2")
        msg(venue, "out", to_venue,
            "35=F|11=C2X|37=V-2|38=300|41=C2|54=1|55=AAPL|60=20240304-14:30:02")
        msg(venue, "in", from_venue,
            "35=8|6=0|11=C2X|14=0|17=V4|37=V-2|39=4|41=C2|54=1|55=AAPL|150=4|151=0")
        log.order(clock.tick(), "canceled", venue.name, cl_ord_id="C2X", orig_cl_ord_id="C2",
                  order_id="V-2", parent="PARENT1", status="CANCELED", leaves=0, cum=0)
        log.algo(clock.tick(), "done", "PARENT1", reason="cancelled by client")
        msg(client, "out", to_client,
            "35=8|6=10.00|11=PARENT1C|14=500|17=E4|37=P-1|39=4|41=PARENT1R|54=1|55=AAPL"
            "|150=4|151=0")
        log.order(clock.tick(), "canceled", client.name, cl_ord_id="PARENT1C",
                  orig_cl_ord_id="PARENT1R", order_id="P-1", status="CANCELED", cum=500)


def write_fix(folder: Path) -> Path:
    clock = _Clock()
    desk = Peer(sender="DESK", target="BROKER")
    broker = Peer(sender="BROKER", target="DESK")
    log = SessionLog(folder, "FIX.4.4", "BROKER", "DESK")
    script = [
        (desk, "35=A|98=0|108=30"),
        (broker, "35=A|98=0|108=30"),
        (desk, "35=D|11=A1|21=1|38=100|40=2|44=10.00|54=1|55=AAPL|59=0|60=20240304-14:30:00"),
        (broker, "35=8|6=0|11=A1|14=0|17=X1|37=O-1|39=0|54=1|55=AAPL|150=0|151=100"),
        (desk, "35=D|11=B1|21=1|38=7|40=1|54=2|55=IBM|60=20240304-14:30:00"),
        (broker, "35=8|6=0|11=B1|14=0|17=X2|37=O-2|39=0|54=2|55=IBM|150=0|151=7"),
        (desk, "35=D|11=R1|21=1|38=1|40=1|54=1|55=ZZZZ|60=20240304-14:30:00"),
        (broker, "35=8|6=0|11=R1|14=0|17=X3|37=NONE|39=8|54=1|55=ZZZZ|103=1|150=8|151=0"),
        (desk, "35=D|11=R2|21=1|38=1|40=1|54=2|55=YYYY|60=20240304-14:30:00"),
        (broker, "35=8|6=0|11=R2|14=0|17=X7|37=NONE|39=8|54=2|55=YYYY|103=1|150=8|151=0"),
        (desk, "35=0"),
        (desk, "35=G|11=A2|21=1|37=O-1|38=200|40=2|41=A1|44=10.01|54=1|55=AAPL"
               "|60=20240304-14:30:01"),
        (broker, "35=8|6=0|11=A2|14=0|17=X4|37=O-1|39=0|41=A1|54=1|55=AAPL|150=5|151=200"),
        (broker, "35=8|6=10.01|11=A2|14=50|17=X5|31=10.01|32=50|37=O-1|39=1|54=1|55=AAPL"
                 "|150=F|151=150"),
        (broker, "35=0"),
        (desk, "35=F|11=A3|37=O-1|38=200|41=A2|54=1|55=AAPL|60=20240304-14:30:02"),
        (broker, "35=8|6=10.01|11=A3|14=50|17=X6|37=O-1|39=4|41=A2|54=1|55=AAPL|150=4"
                 "|151=0"),
    ]
    for peer, body in script:
        now = clock.tick()
        log.message(now, peer.msg(body, now=now))
    log.close()
    log.events_path.unlink()  # only the message log is a sample
    return log.messages_path


def generate(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / JSON_NAME
    json_path.unlink(missing_ok=True)
    fix_path = folder / FIX_NAME
    fix_path.unlink(missing_ok=True)
    write_json(json_path)
    return [json_path, write_fix(folder)]


if __name__ == "__main__":
    for p in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES):
        print(p)
