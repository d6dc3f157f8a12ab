"""Outside testers' view of the venue: QuickFIX clients against ``gateway run sessions/venue.yaml``.

Two PyPI ``quickfix`` initiators, each in its own process (``tests/interop/qf_venue_client.py``)
with data-dictionary validation on and QuickFIX's strict defaults, trade through a real venue
process on loopback: CLIENT1 rests limit orders in AAPL; CLIENT2 subscribes to AAPL's market
data by order and by level, then works a TWAP parent (847=1001) whose limit crosses CLIENT1's
offers, until it is filled; CLIENT1 then cancels what it has left.

The test proves what a client depends on: every order is acknowledged; the parent's fills
carry LastQty/LastPx with a running CumQty and AvgPx that agree with them and end Filled with
CumQty = OrderQty; CLIENT1's fills add up to the same quantity, each at its own order's price;
market data (snapshot W, increments X) reflects the book and the trades; cancels answer
Canceled; neither side ever sends or receives a Reject (35=3) or BusinessMessageReject (35=j)
or a Logout with a reason; neither client ever sees the other's ClOrdIDs.

It runs with the FIX44.xml the PyPI ``quickfix`` package installs (the stock dictionary, whose
TargetStrategy (847) enumerates only 1-3: QuickFIX validates what it receives, so this is what
a tester with an off-the-shelf client experiences; it passes because the venue's reports
never echo 847) and with the dictionary the project ships (which adds 847=1001).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.interop.harness import ENV, INTEROP, ROOT, Child, Gateway, LineReader, message_log

pytest.importorskip("quickfix", reason="QuickFIX not installed (pip install -e '.[interop]')")

pytestmark = pytest.mark.slow

CLIENT = INTEROP / "qf_venue_client.py"
VENUE = ROOT / "sessions" / "venue.yaml"
SHIPPED = ROOT / "fixspec" / "data" / "FIX44.xml"
TIMEOUT = 20.0  # seconds for any one awaited event; the whole test takes a few seconds
SYMBOL = "AAPL"  # venue.yaml: tick 0.01, 20% band, no market-data feed (an empty book)
# Every id CLIENT1 uses starts with "C1-", every one of CLIENT2 with "C2-": neither may ever
# appear in what the other receives.
SELLS = {"C1-S1": ("100.00", 200), "C1-S2": ("100.01", 200), "C1-S3": ("100.02", 300)}
BUY = ("C1-B1", "99.50", 100)
PARENT = "C2-TWAP-1"
PARENT_QTY = 600  # C1-S1 and C1-S2 fill, C1-S3 fills 200 of 300
PARENT_LIMIT = "100.05"
BY_ORDER, BY_LEVEL = "C2-MD-ORDERS", "C2-MD-LEVELS"  # MDReqIDs
WINDOW = 6.0  # seconds between EffectiveTime and ExpireTime: 3 slices of 2 s
SLICES = 3

Fields = list[tuple[int, str]]


def stock_dictionary() -> Path | None:
    """QuickFIX's own FIX44.xml: installed with the PyPI package, or in ``../shared/data``."""
    for path in (Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml",
                 ROOT.parent / "shared" / "data" / "fixspec" / "FIX44.xml"):
        if path.is_file():
            return path
    return None


def pairs(raw: str) -> Fields:
    """Every field of one FIX message, in wire order (repeating groups repeat tags)."""
    out: Fields = []
    for part in raw.split("\x01"):
        tag, eq, value = part.partition("=")
        if eq and tag.isdigit():
            out.append((int(tag), value))
    return out


@dataclass
class Msg:
    """A message one client sent or received, as QuickFIX saw it."""

    direction: str  # "in" or "out"
    type: str
    raw: str
    fields: Fields

    def text(self) -> str:
        return self.raw.replace("\x01", "|")

    def get(self, tag: int) -> str | None:
        return next((v for t, v in self.fields if t == tag), None)

    def __getitem__(self, tag: int) -> str:
        value = self.get(tag)
        assert value is not None, f"tag {tag} missing in {self.text()}"
        return value

    def entries(self, count_tag: int) -> list[dict[int, str]]:
        """The entries of the repeating group ``count_tag``, which ends the body (as
        MDFullGrp and MDIncGrp do in W and X); each entry starts at the group's first tag,
        and there are as many as the count says."""
        start = next(i for i, (t, _) in enumerate(self.fields) if t == count_tag)
        delim = self.fields[start + 1][0]
        out: list[dict[int, str]] = []
        for tag, value in self.fields[start + 1:]:
            if tag == 10:
                break
            if tag == delim:
                out.append({})
            out[-1].setdefault(tag, value)
        assert len(out) == int(self.fields[start][1]), self.text()
        return out


@dataclass
class Client(Child):
    """A ``qf_venue_client.py`` process: one QuickFIX session with the venue."""

    name: str
    port: int
    workdir: Path
    dictionary: Path
    proc: subprocess.Popen[str] = field(init=False)
    out: LineReader = field(init=False)
    handles: str = ""  # MsgTypes its application handles (``--handles``); "": all
    strict: bool = True  # a Reject or BusinessMessageReject fails the test at once
    log: list[Msg] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def start(self) -> Client:
        handles = ["--handles", self.handles] if self.handles else []
        self.proc = subprocess.Popen(
            [sys.executable, str(CLIENT), "--workdir", str(self.workdir), "--port",
             str(self.port), "--sender", self.name, "--dictionary", str(self.dictionary),
             *handles],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, env=ENV)
        assert self.proc.stdout is not None
        self.out = LineReader(self.proc.stdout)
        self.wait_event("logon")
        return self

    def _read(self, deadline: float, what: str) -> None:
        """Take the next event into :attr:`log` / :attr:`events`."""
        line = self.out.next(max(0.01, deadline - time.monotonic()))
        if line is None:
            raise AssertionError(f"{self.name} ended while waiting for {what}: "
                                 f"{self.out.seen[-3:]} {self._stderr()}")
        data: dict[str, Any] = json.loads(line)
        event = data["event"]
        if event == "error":
            raise AssertionError(f"{self.name} failed: {data}")
        if event in ("in", "out"):
            msg = Msg(event, data["type"], data["raw"], pairs(data["raw"]))
            self.log.append(msg)
            if self.strict and bad(msg):  # fail at once, with the message, not time out
                raise AssertionError(f"{self.name} {'received' if event == 'in' else 'sent'}: "
                                     f"{msg.text()}")
        else:
            self.events.append(event)

    def wait_event(self, name: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while name not in self.events:
            self._read(deadline, name)

    def wait(self, predicate: Callable[[Msg], bool], what: str, count: int = 1) -> list[Msg]:
        """The first ``count`` received messages matching ``predicate`` (waiting for them)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = [m for m in self.log if m.direction == "in" and predicate(m)]
            if len(found) >= count:
                return found[:count]
            try:
                self._read(deadline, what)
            except TimeoutError:
                raise AssertionError(f"{self.name}: timed out waiting for {what}; "
                                     f"got {[m.raw for m in self.log[-5:]]}") from None

    def until(self, condition: Callable[[], bool], what: str) -> None:
        """Read events until ``condition()`` holds."""
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            try:
                self._read(deadline, what)
            except TimeoutError:
                raise AssertionError(f"{self.name}: timed out waiting for {what}") from None

    def send(self, msg_type: str, fields: Fields,
             groups: Sequence[tuple[int, int, list[Fields]]] = ()) -> None:
        assert self.proc.stdin is not None
        command = {"cmd": "send", "type": msg_type, "fields": fields, "groups": groups}
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def logout(self) -> None:
        """Log out (waiting for the venue's Logout) and read what is left of the output."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": "logout"}) + "\n")
        self.proc.stdin.flush()
        self.wait_event("stopped")

    def received(self, msg_type: str) -> list[Msg]:
        return [m for m in self.log if m.direction == "in" and m.type == msg_type]



def utc(t: datetime) -> str:
    return t.strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def order_fields(cl_ord_id: str, side: str, qty: int, price: str) -> Fields:
    return [(11, cl_ord_id), (21, "1"), (55, SYMBOL), (54, side), (60, utc(datetime.now(UTC))),
            (38, str(qty)), (40, "2"), (44, price), (59, "0")]


def answer_to(cl_ord_id: str) -> Callable[[Msg], bool]:
    """Matches an ExecutionReport or OrderCancelReject with ClOrdID ``cl_ord_id``."""
    return lambda m: m.type in ("8", "9") and m.get(11) == cl_ord_id


def bad(msg: Msg) -> bool:
    """A Reject (35=3), a BusinessMessageReject (35=j) or a Logout that gives a reason."""
    return msg.type in ("3", "j") or (msg.type == "5" and msg.get(58) is not None)


def trouble(client: Client) -> list[str]:
    """What :func:`bad` finds in QuickFIX's own message log of ``client``."""
    found = []
    for log in (client.workdir / "log").glob("*.messages.current.log"):
        found += [f"{log.name}: {f}" for f in message_log(log)
                  if f.get(35) in ("3", "j") or (f.get(35) == "5" and 58 in f)]
    return found


def rest_orders(c1: Client) -> None:
    """CLIENT1's three offers and one bid, each acknowledged New with nothing filled."""
    for cl, (price, qty) in SELLS.items():
        c1.send("D", order_fields(cl, "2", qty, price))
    c1.send("D", order_fields(BUY[0], "1", BUY[2], BUY[1]))
    for cl, qty in [*((cl, qty) for cl, (_, qty) in SELLS.items()), (BUY[0], BUY[2])]:
        (ack,) = c1.wait(answer_to(cl), f"{cl}'s ack")
        assert (ack.type, ack[150], ack[39], ack[55], ack[14], ack[151]) == (
            "8", "0", "0", SYMBOL, "0", str(qty)), ack.raw


def subscribe(c2: Client) -> tuple[Msg, Msg]:
    """Subscriptions to AAPL's bids, offers and trades by order (``C2-MD-ORDERS``) and by
    level (``C2-MD-LEVELS``); returns their snapshots."""
    types = [[(269, t)] for t in "012"]
    for req, aggregated in ((BY_ORDER, "N"), (BY_LEVEL, "Y")):
        c2.send("V", [(262, req), (263, "1"), (264, "0"), (266, aggregated)],
                [(267, 269, types), (146, 55, [[(55, SYMBOL)]])])
    (by_order,) = c2.wait(lambda m: m.type == "W" and m.get(262) == BY_ORDER, "a snapshot")
    (by_level,) = c2.wait(lambda m: m.type == "W" and m.get(262) == BY_LEVEL, "a snapshot")
    return by_order, by_level


def check_snapshots(by_order: Msg, by_level: Msg) -> None:
    """Both snapshots show CLIENT1's book, best first; by order each entry carries a public
    OrderID of its own, by level none."""
    offers = sorted((Decimal(p), q) for p, q in SELLS.values())
    bids = [(Decimal(BUY[1]), BUY[2])]
    for snapshot in (by_order, by_level):
        assert snapshot[55] == SYMBOL
        entries = snapshot.entries(268)
        assert [(Decimal(e[270]), int(e[271])) for e in entries if e[269] == "1"] == offers
        assert [(Decimal(e[270]), int(e[271])) for e in entries if e[269] == "0"] == bids
    assert len({e.get(37) for e in by_order.entries(268)} - {None}) == 4
    assert all(37 not in e and 278 not in e for e in by_level.entries(268))


def send_parent(c2: Client) -> None:
    """A TWAP (847=1001) buy of PARENT_QTY, limit above every offer, over the next WINDOW."""
    now = datetime.now(UTC)
    c2.send("D", [(11, PARENT), (21, "1"), (55, SYMBOL), (54, "1"), (60, utc(now)),
                  (38, str(PARENT_QTY)), (40, "2"), (44, PARENT_LIMIT),
                  (126, utc(now + timedelta(seconds=WINDOW))), (168, utc(now)),
                  (847, "1001"), (848, f"Slices={SLICES};MaxChildQty=300")])


def check_parent(c2: Client) -> list[tuple[int, Decimal]]:
    """The parent's reports: New, then fills whose running CumQty, LeavesQty and AvgPx agree
    with their LastQty/LastPx, the last one Filled. Returns the fills (LastQty, LastPx)."""
    (ack,) = c2.wait(lambda m: m.type == "8" and m.get(11) == PARENT, "the parent's ack")
    assert (ack[150], ack[39], ack[38], ack[14], ack[151]) == (
        "0", "0", str(PARENT_QTY), "0", str(PARENT_QTY)), ack.raw
    (done,) = c2.wait(lambda m: m.type == "8" and m.get(11) == PARENT
                      and m.get(39) in ("2", "4", "8", "C"), "the parent's end")
    assert done[39] == "2", f"the parent ended {done[39]}, not Filled: {done.raw}"
    reports = [m for m in c2.received("8") if m.get(11) == PARENT]
    assert reports[0] is ack and reports[-1] is done
    fills: list[tuple[int, Decimal]] = []
    cum, notional = 0, Decimal(0)
    for r in reports[1:]:
        assert r[150] == "F", f"a parent report that is not a fill: {r.raw}"
        qty, px = int(r[32]), Decimal(r[31])
        assert qty > 0 and px <= Decimal(PARENT_LIMIT), r.raw
        fills.append((qty, px))
        cum += qty
        notional += qty * px
        assert (int(r[14]), int(r[151])) == (cum, PARENT_QTY - cum), r.raw
        assert abs(Decimal(r[6]) - notional / cum) < Decimal("0.000001"), r.raw
        assert r[39] == ("2" if cum == PARENT_QTY else "1"), r.raw
    assert cum == PARENT_QTY
    return fills


def check_counterparty_fills(c1: Client) -> list[tuple[int, Decimal]]:
    """CLIENT1's fills: only for its offers, each at its order's own price, with a running
    CumQty/LeavesQty per order; they add up to the parent's quantity. Returns them
    (LastQty, LastPx)."""
    def fill_reports() -> list[Msg]:
        return [m for m in c1.received("8") if m.get(150) == "F"]

    c1.until(lambda: sum(int(m[32]) for m in fill_reports()) >= PARENT_QTY, "CLIENT1's fills")
    cum: dict[str, int] = {}
    for m in fill_reports():
        cl = m[11]
        assert cl in SELLS, f"a fill for {cl}: {m.raw}"
        assert Decimal(m[31]) == Decimal(SELLS[cl][0]), m.raw
        cum[cl] = cum.get(cl, 0) + int(m[32])
        assert (int(m[14]), int(m[151])) == (cum[cl], SELLS[cl][1] - cum[cl]), m.raw
        assert m[39] == ("2" if cum[cl] == SELLS[cl][1] else "1"), m.raw
    assert sum(cum.values()) == PARENT_QTY
    return [(int(m[32]), Decimal(m[31])) for m in fill_reports()]


def cancel_the_rest(c1: Client) -> None:
    """CLIENT1 cancels every order that still rests; each is answered Canceled, nothing
    leaving, with the quantity it had filled."""
    filled = {m[11]: int(m[14]) for m in c1.received("8") if m.get(150) == "F"}
    orders = {**{cl: ("2", qty) for cl, (_, qty) in SELLS.items()}, BUY[0]: ("1", BUY[2])}
    resting = [cl for cl, (_, qty) in orders.items() if filled.get(cl, 0) < qty]
    assert BUY[0] in resting and len(resting) >= 2, f"nothing of the offers rests: {filled}"
    for n, cl in enumerate(resting):
        side, qty = orders[cl]
        cancel = f"C1-X{n}"
        c1.send("F", [(41, cl), (11, cancel), (55, SYMBOL), (54, side),
                      (60, utc(datetime.now(UTC))), (38, str(qty))])
        (done,) = c1.wait(answer_to(cancel), f"{cl} canceled")
        assert (done.type, done.get(150), done[41], done[39], done[151], done[14]) == (
            "8", "4", cl, "4", "0", str(filled.get(cl, 0))), done.raw


def check_market_data(c2: Client) -> None:
    """Both subscriptions' increments report every trade of the parent (their sizes add up
    to PARENT_QTY); by order, entries name orders by MDEntryID = OrderID, by level not."""
    def increments(req: str) -> list[dict[int, str]]:
        return [e for m in c2.received("X") if m.get(262) == req for e in m.entries(268)]

    def traded(req: str) -> int:
        return sum(int(e[271]) for e in increments(req) if e[269] == "2")

    def all_traded(req: str) -> Callable[[], bool]:
        return lambda: traded(req) >= PARENT_QTY

    for req in (BY_ORDER, BY_LEVEL):
        c2.until(all_traded(req), f"the trades in {req}'s increments")
        assert traded(req) == PARENT_QTY
        entries = increments(req)
        for e in entries:
            assert e[55] == SYMBOL and e[279] in ("0", "1", "2"), e
            if req == BY_ORDER and e[269] != "2":
                assert e[278] == e[37], e
            else:
                assert 278 not in e and 37 not in e, e


def run_scenario(tmp_path: Path, dictionary: Path) -> None:
    gateway = Gateway(VENUE, tmp_path / "venue").start()
    clients: list[Client] = []
    try:
        c1 = Client("CLIENT1", gateway.port, tmp_path / "qf1", dictionary)
        clients.append(c1.start())
        c2 = Client("CLIENT2", gateway.port, tmp_path / "qf2", dictionary)
        clients.append(c2.start())

        rest_orders(c1)
        check_snapshots(*subscribe(c2))
        send_parent(c2)
        parent_fills = check_parent(c2)
        # the parent bought what CLIENT1 sold, fill for fill, at CLIENT1's prices
        assert sorted(parent_fills) == sorted(check_counterparty_fills(c1))
        check_market_data(c2)
        cancel_the_rest(c1)
        for c in clients:
            c.logout()
    finally:
        for c in clients:
            c.close()
        gateway.stop()

    for c in clients:
        assert trouble(c) == [], f"{c.name}: {trouble(c)}"
    for c, other in ((c1, "C2-"), (c2, "C1-")):
        seen = [m.raw for m in c.log if m.direction == "in" and other in m.raw]
        assert not seen, f"{c.name} saw the other client's ids: {seen}"


@pytest.mark.parametrize("which", ["stock", "shipped"])
def test_quickfix_clients_rest_orders_and_work_a_twap_against_the_venue(
        tmp_path: Path, which: str) -> None:
    """CLIENT1 rests offers and a bid, CLIENT2 watches the book and buys through a TWAP
    parent; see the module docstring for what is asserted. ``stock``: QuickFIX's own
    FIX44.xml, as a tester would have it; ``shipped``: ours, which knows 847=1001."""
    dictionary = stock_dictionary() if which == "stock" else SHIPPED
    if dictionary is None:
        pytest.skip("QuickFIX's stock FIX44.xml not found (PyPI quickfix's share/quickfix)")
    run_scenario(tmp_path, dictionary)


def test_a_quickfix_client_refusing_our_reject_is_not_refused_again(tmp_path: Path) -> None:
    """A client whose application handles ExecutionReports only (a MessageCracker's usual
    shape) sends a QuoteRequest, which the venue does not take: the venue's
    BusinessMessageReject is refused by QuickFIX with one of its own, and the venue answered
    that with another, and so on: 11,000 rejects in 3 s. Now the exchange stops there, and
    the session trades on."""
    gateway = Gateway(VENUE, tmp_path / "venue").start()
    client = Client("CLIENT1", gateway.port, tmp_path / "qf", SHIPPED, handles="8",
                    strict=False)
    try:
        client.start()
        client.send("R", [(131, "C1-QR1")], [(146, 55, [[(55, SYMBOL)]])])
        client.send("D", order_fields("C1-B1", "1", 100, "99.50"))
        client.wait(answer_to("C1-B1"), "the order's acknowledgement")
        client.logout()
    finally:
        client.close()
        gateway.stop()
    rejects = [(m.direction, m.get(372), m.get(380)) for m in client.log if m.type == "j"]
    assert rejects == [("in", "R", "3"), ("out", "j", "3")]
