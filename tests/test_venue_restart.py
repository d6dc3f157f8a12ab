"""A venue killed with SIGKILL and restarted: its books are gone, so every order it had
acknowledged and not finished is reported Canceled to its owner, a request the client
resends with PossDupFlag after the crash is not executed a second time, and the orders of
the day from before the restart keep their ClOrdIDs and answer status requests."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.book_types import Side
from fixspec.dictionary import SessionDictionaries, builtin_session
from fixspec.fieldtypes import format_utc_timestamp
from gateway.codec import decode_bytes, encode
from gateway.config import SessionConfig, load_config
from gateway.fixmessage import Field, Message
from gateway.risk_gates import RiskGates
from gateway.store import MemoryStore, StoredMessage
from gateway.venue_app import VenueApplication
from gateway.venue_restart import RESTART_TEXT, DayFills, StoredFill, last_state, recover
from tests.conformance.harness import Client
from tests.engine_apps import RecordingHandle
from tests.fixpeer import Peer, fields
from tests.gateway_proc import start_gateway, stop_gateway

ROOT = Path(__file__).resolve().parents[1]


def er(seq: int, body: str) -> StoredMessage:
    raw = Peer(begin="FIX.4.4", sender="VENUE", target="CLIENT1").msg(
        "35=8|" + body, seq=seq, now=datetime(2026, 11, 26, tzinfo=UTC))
    return StoredMessage(seq, raw)


def test_the_stored_reports_tell_which_orders_were_open() -> None:
    got = recover([
        er(1, "11=A|37=O1|39=0|150=0|151=100|14=0|38=100|54=1|55=AAPL|40=2|44=10|6=0"),
        er(2, "11=B|37=O2|39=0|150=0|151=50|14=0|38=50|54=2|55=AAPL|40=2|44=11|6=0"),
        er(3, "11=B|37=O2|39=2|150=F|151=0|14=50|38=50|54=2|55=AAPL|6=11"),  # filled
        er(4, "11=A2|41=A|37=O1|39=0|150=5|151=80|14=20|38=100|54=1|55=AAPL|40=2|44=9|6=10"),
        er(5, "11=X|37=NONE|39=8|150=8|151=0|14=0|38=0|54=1|55=AAPL"),  # a reject
        er(6, "11=C|37=O3|39=4|150=4|151=0|14=0|38=10|54=1|55=AAPL"),  # canceled
        er(7, "11=B|37=NONE|39=8|150=8|151=0|14=0|38=5|54=1|55=AAPL"),  # B reused: rejected
    ])
    # every ClOrdID of an order, with its OrderID; a reject naming no order leaves B's
    # order alone; X was refused before it was an order: used, but by no order
    assert got.ids == {"A": "O1", "A2": "O1", "B": "O2", "C": "O3"}
    assert list(got.refused) == ["X"] and got.used("X") and not got.used("Y")
    assert list(got.open) == ["O1"] and list(got.orders) == ["O1", "O2", "O3"]
    # each order's last state; the open one is Canceled (the restarted venue reports it so)
    states = {cl: got.order(cl) for cl in ("A", "A2", "B", "C")}
    assert {cl: (o.order_id, o.ord_status, o.cum) for cl, o in states.items() if o} == {
        "A": ("O1", "4", 20), "A2": ("O1", "4", 20), "B": ("O2", "2", 50), "C": ("O3", "4", 0)}
    cancel = last_state(got.open["O1"], "FIX.4.4:VENUE->CLIENT1", "E1", "4",
                        datetime(2026, 11, 26, tzinfo=UTC), text=RESTART_TEXT)
    assert (cancel.cl_ord_id, cancel.orig_cl_ord_id, cancel.cum, cancel.leaves) == (
        "A2", "A", 20, 0)
    assert (cancel.exec_type, cancel.ord_status, cancel.text) == ("4", "4", RESTART_TEXT)


def test_a_reset_carries_the_days_fills_as_sums_and_its_carried_reports_are_not_fills(
        ) -> None:
    """A reset discarded the reports of the day's fills: a restart after it rebuilt the
    day's P&L without them. The sums by symbol and side it now carries read back as one fill
    each, exact in value; an open order's last report, carried as well, is not a fill
    again."""
    def t(day: int, hour: int) -> datetime:
        return datetime(2026, 11, day, hour, tzinfo=UTC)

    sums = DayFills(None)
    for fill in (StoredFill("AAPL", Side.BUY, 100, Decimal("10.01"), t(24, 15)),  # a day gone
                 StoredFill("AAPL", Side.BUY, 3, Decimal("10.01"), t(25, 14)),
                 StoredFill("AAPL", Side.BUY, 7, Decimal("10.02"), t(25, 15)),
                 StoredFill("AAPL", Side.SELL, 5, Decimal("9.5"), t(25, 16)),
                 StoredFill("MSFT", Side.BUY, 1, Decimal("300"), t(24, 16))):  # late, old
        sums.add(fill)
    partial = er(0, "11=A|37=O1|39=1|150=F|151=6|14=4|32=4|31=10.02|38=10|54=1|55=AAPL")
    carried = [partial, *(StoredMessage(0, raw) for raw in sums.records())]
    got = recover([*carried, er(1, "11=B|37=O2|39=2|150=F|151=0|14=2|32=2|31=9|38=2|54=2|"
                                   "55=AAPL|60=20261125-17:00:00")])
    assert [(f.symbol, f.side, f.qty, f.qty * f.price, f.time, f.mark) for f in got.fills] == [
        ("AAPL", Side.BUY, 10, Decimal("100.17"), t(25, 15), Decimal("10.02")),
        ("AAPL", Side.SELL, 5, Decimal("47.5"), t(25, 16), Decimal("9.5")),
        ("AAPL", Side.SELL, 2, Decimal(18), t(25, 17), None)]
    assert list(got.orders) == ["O1", "O2"]  # the sums are no order


@pytest.mark.parametrize("symbol", ["CAFÉ", "株式"])
def test_a_days_sum_of_a_symbol_of_other_than_ascii_reads_back_as_that_symbol(
        symbol: str) -> None:
    """The sums were written latin-1 and are read as every stored value is (UTF-8):
    CAFÉ came back another symbol, and 株式 could not be written."""
    sums = DayFills(None)
    sums.add(StoredFill(symbol, Side.BUY, 3, Decimal("10.01"),
                        datetime(2026, 11, 25, 14, tzinfo=UTC)))
    got = recover([StoredMessage(0, raw) for raw in sums.records()])
    assert [(f.symbol, f.qty) for f in got.fills] == [(symbol, 3)]


def test_a_restored_sum_marks_the_position_at_its_last_fill_not_its_average() -> None:
    """Bought 100 at 100, then 100 at 80: the position is worth 200 x 80, 2,000 down. Read
    back from a reset's sum at its average (90), it was marked at 90: no loss at all, and
    the client went past max_daily_loss after a reset and a crash."""
    sums = DayFills(None)
    for price, hour in ((Decimal(100), 14), (Decimal(80), 15)):
        sums.add(StoredFill("AAPL", Side.BUY, 100, price, datetime(2026, 11, 25, hour,
                                                                   tzinfo=UTC)))
    config = load_config(ROOT / "sessions/venue.yaml")
    client = next(c for c in config.sessions if c.target_comp_id == "CLIENT1")
    gates = RiskGates(config, {client.name: RecordingHandle(client)})
    gates.restored[client.name] = recover(StoredMessage(0, raw) for raw in sums.records()).fills
    gates.restore_day(client.name, None, datetime(2026, 11, 25, 16, tzinfo=UTC))
    gate = gates.existing(client.name)
    assert gate is not None and gate.daily_pnl() == -2000


def test_a_store_of_several_days_keeps_the_last_days_orders_and_the_open_ones() -> None:
    """ClOrdIDs are unique within a trading day: at the first Logon after a restart, orders
    whose last report was sent on an earlier day are forgotten (their ClOrdIDs free again),
    but not orders still open, which the venue reports Canceled that day."""
    got = recover([
        er(1, "11=OLD|37=O1|39=2|150=F|151=0|14=10|38=10|54=1|55=AAPL|60=20261124-15:00:00"),
        er(2, "11=GTC|37=O2|39=0|150=0|151=10|14=0|38=10|54=1|55=AAPL|60=20261124-15:00:01"),
        er(3, "11=R1|37=NONE|39=8|150=8|151=0|14=0|38=10|54=1|55=NOPE|60=20261124-15:00:02"),
        er(4, "11=NEW|37=O3|39=4|150=4|151=0|14=0|38=10|54=1|55=AAPL|60=20261125-00:00:01"),
        er(5, "11=R2|37=NONE|39=8|150=8|151=0|14=0|38=10|54=1|55=NOPE|60=20261125-00:00:02"),
    ])
    got.forget_before(date(2026, 11, 25), lambda t: t.date())
    assert got.ids == {"GTC": "O2", "NEW": "O3"} and list(got.refused) == ["R2"]
    assert list(got.orders) == ["O2", "O3"] and list(got.open) == ["O2"]
    got.open = {}  # reported Canceled at that Logon: forgotten at the next day's
    got.forget_before(date(2026, 11, 26), lambda t: t.date())
    assert not got


@dataclass
class _Session:
    store: MemoryStore
    dd: SessionDictionaries
    carry: object = None


@dataclass
class _Runner:
    """What VenueApplication.bind reads of an engine's session runner."""

    config: SessionConfig
    store: MemoryStore
    session: _Session = field(init=False)
    logged_on: bool = True
    sent: list[Message] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = _Session(self.store, builtin_session(self.config.begin_string))

    @property
    def name(self) -> str:
        return self.config.name

    def send_fields(self, msg_type: str, fields: Sequence[Field]) -> None:
        self.send(Message.flat(msg_type, fields))

    def send(self, message: Message) -> None:
        """What the session layer does: number, store, then (here) keep it to read."""
        m = message.copy()
        for tag, value in ((8, self.config.begin_string), (49, "VENUE"), (56, "CLIENT1"),
                           (34, str(self.store.next_sender_seq)),
                           (52, format_utc_timestamp(datetime.now(UTC)))):
            m.header.set(tag, value)
        raw = encode(m, self.session.dd)
        self.store.save_sent(self.store.next_sender_seq, raw)
        self.sent.append(decode_bytes(raw, self.session.dd))


class _Engine:
    def __init__(self, runner: _Runner) -> None:
        self.runners = {runner.name: runner}


def _venue_on(store: MemoryStore) -> tuple[VenueApplication, _Runner]:
    gw = load_config(ROOT / "sessions/venue.yaml")
    runner = _Runner(next(s for s in gw.sessions if s.target_comp_id == "CLIENT1"), store)
    app = VenueApplication(gw)
    app.bind(_Engine(runner))
    return app, runner


def _ask(app: VenueApplication, runner: _Runner, body: str, now: datetime
         ) -> list[dict[int, str]]:
    raw = Peer(begin="FIX.4.4", sender="CLIENT1", target="VENUE").msg(
        f"{body}|60={now:%Y%m%d-%H:%M:%S}" if body[3] in "DFG" else body, now=now)
    before = len(runner.sent)
    app.on_message(runner, decode_bytes(raw, runner.session.dd), now)  # type: ignore[arg-type]
    return [fields(encode(m)) for m in runner.sent[before:]]


def test_after_a_restart_the_days_orders_keep_their_clordids_and_answer_status() -> None:
    """A store holding two days (a client that does not reset sequence numbers), then a
    restart on the second day: the second day's ClOrdIDs, and those of orders still open,
    are refused again; the first day's done ones are free; a status request for an order
    known only from the store answers its last state; a cancel of one names its OrderID."""
    day1 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    store = MemoryStore()
    app, c = _venue_on(store)
    app.on_logon(c, day1)  # type: ignore[arg-type]
    _ask(app, c, "35=D|11=OLD|54=1|38=10|40=2|44=20.00|55=AAPL|59=0", day1)
    _ask(app, c, "35=F|11=OLDc|41=OLD|54=1|55=AAPL", day1)
    [gtc] = _ask(app, c, "35=D|11=GTC|54=1|38=10|40=2|44=19.00|55=AAPL|59=1", day1)
    app.on_logon(c, day2)  # type: ignore[arg-type]
    _ask(app, c, "35=D|11=DONE|54=1|38=10|40=2|44=20.00|55=AAPL|59=0", day2)
    _ask(app, c, "35=F|11=DONEc|41=DONE|54=1|55=AAPL", day2)
    _ask(app, c, "35=D|11=FB|54=1|38=100|40=2|44=21.00|55=AAPL|59=0", day2)
    fb = _ask(app, c, "35=D|11=FS|54=2|38=100|40=2|44=21.00|55=AAPL|59=0", day2)
    fill = next(m for m in fb if m[11] == "FB" and m[150] == "F")
    _ask(app, c, "35=D|11=REJ|54=1|38=10|40=2|44=20.00|55=NOPE|59=0", day2)  # refused

    later = day2 + timedelta(hours=1)
    app, c = _venue_on(store)  # the restart: the books are gone, the store is not
    app.on_logon(c, later)  # type: ignore[arg-type]
    assert [(m[11], m[150], m[37]) for m in map(fields, map(encode, c.sent))] == [
        ("GTC", "4", gtc[37])]
    for cl in ("DONE", "DONEc", "FB", "GTC"):  # used that day (GTC: open until now)
        [rej] = _ask(app, c, f"35=D|11={cl}|54=1|38=10|40=2|44=20.00|55=AAPL|59=0", later)
        assert (rej[150], rej[103], rej[58]) == ("8", "6", f"duplicate ClOrdID (11) {cl}")
    for cl in ("OLD", "REJ"):  # done the day before; refused before it was an order
        [ack] = _ask(app, c, f"35=D|11={cl}|54=1|38=10|40=2|44=20.00|55=AAPL|59=0", later)
        assert ack[150] == "0"
    [status] = _ask(app, c, "35=H|11=FB|54=1|55=AAPL|790=S1", later)
    assert {t: status.get(t) for t in (150, 39, 37, 14, 6, 151, 11, 55, 54, 38, 44, 790)} == {
        150: "I", 39: "2", 37: fill[37], 14: "100", 6: "21", 151: "0", 11: "FB",
        55: "AAPL", 54: "1", 38: "100", 44: "21.00", 790: "S1"}
    [status] = _ask(app, c, "35=H|11=GTC|54=1|55=AAPL", later)  # lost open: Canceled
    assert (status[150], status[39], status[37], status[151], status[59]) == (
        "I", "4", gtc[37], "0", "1")
    [rej] = _ask(app, c, "35=F|11=X1|41=FB|54=1|55=AAPL", later)
    assert (rej[35], rej[102], rej[39], rej[37]) == ("9", "0", "2", fill[37])
    [rej] = _ask(app, c, f"35=F|11=X2|41=FB|37={gtc[37]}|54=1|55=AAPL", later)
    assert (rej[35], rej[102], rej[39], rej[37]) == ("9", "1", "8", "NONE")
    assert "does not match" in rej[58]


@pytest.mark.parametrize("cl", ["é1", "caf\udce9"])  # UTF-8, and a latin-1 byte (0xE9)
def test_an_id_of_other_than_ascii_is_the_same_id_after_a_restart(cl: str) -> None:
    """The store was read back as latin-1 and the live messages as UTF-8: after a restart
    é1 was Ã©1, so it was free again, and its status was of an unknown order."""
    day = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    store = MemoryStore()
    app, c = _venue_on(store)
    app.on_logon(c, day)  # type: ignore[arg-type]
    [ack] = _ask(app, c, f"35=D|11={cl}|54=1|38=10|40=2|44=20.00|55=AAPL|59=0", day)
    assert (ack[11], ack[150]) == (cl, "0")
    later = day + timedelta(minutes=5)
    app, c = _venue_on(store)
    app.on_logon(c, later)  # type: ignore[arg-type]
    lost = [m for m in map(fields, map(encode, c.sent)) if m[35] == "8"]
    assert [(m[11], m[150], m[37]) for m in lost] == [(cl, "4", ack[37])]  # lost with the book
    [rej] = _ask(app, c, f"35=D|11={cl}|54=1|38=10|40=2|44=20.00|55=AAPL|59=0", later)
    assert (rej[11], rej[150], rej[103]) == (cl, "8", "6")
    [status] = _ask(app, c, f"35=H|11={cl}|54=1|55=AAPL", later)
    assert (status[11], status[150], status[39], status[37]) == (cl, "I", "4", ack[37])


def test_a_killed_venue_cancels_what_it_lost_and_ignores_possdup_copies(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        for cl, side, px in (("R1", "1", "10.00"), ("R2", "2", "10.10"), ("X1", "1", "10.20")):
            c.msg(f"35=D|11={cl}|54={side}|38=100|40=2|44={px}|55=AAPL|59=0|60={c.ts()}")
            c.expect("8", **{"11": cl, "150": "0"})
        # X1 bought R2's 100: a fill report for each (the resting side's first)
        fills = {m[11]: m for m in (c.expect("8", **{"150": "F"}) for _ in range(2))}
        assert set(fills) == {"R2", "X1"}
    finally:  # the crash; also what ends the venue if a step above failed
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    c.close()

    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c2 = Client(port, "CLIENT1", our_comp_id="VENUE")
        c2.logon(extra="|141=Y")  # a new start on both sides, as many clients log on
        # R1 was open; R2 and X1 were filled before the crash
        assert [(m[11], m[150], m[39], m[151], m[58]) for m in until_heartbeat(c2, "A")] == [
            ("R1", "4", "4", "0", RESTART_TEXT)]
        # a copy of R1's NewOrderSingle resent as PossDup is not an order again
        c2.msg(f"35=D|11=R1|54=1|38=100|40=2|44=10.00|55=AAPL|59=0|60={c2.ts()}",
               header="43=Y|122=" + c2.ts())
        assert until_heartbeat(c2, "B") == []
        # cancels of orders done before the restart: too late, with their last status
        for orig, status in (("X1", "2"), ("R1", "4")):
            c2.msg(f"35=F|11=C{orig}|41={orig}|54=1|55=AAPL|60={c2.ts()}")
            reject = c2.expect("9", **{"11": f"C{orig}"})
            assert (reject[102], reject[39], reject[434]) == ("0", status, "1")
            assert reject[37] not in ("NONE", "")
        assert reject[37] != fills["X1"][37]  # (R1's, then X1's below)
        c2.msg(f"35=F|11=CX|41=X1|54=1|55=AAPL|60={c2.ts()}")
        c2.expect("9", **{"11": "CX", "37": fills["X1"][37], "39": "2"})
        # X1 was used today: a new order reusing it is a duplicate, as before the crash
        c2.msg(f"35=D|11=X1|54=1|38=100|40=2|44=10.20|55=AAPL|59=0|60={c2.ts()}")
        c2.expect("8", **{"11": "X1", "150": "8", "103": "6"})
        # its status is its last known state, not "unknown order"
        c2.msg("35=H|11=X1|54=1|55=AAPL|790=Q1")
        c2.expect("8", **{"11": "X1", "150": "I", "39": "2", "37": fills["X1"][37],
                          "14": "100", "151": "0", "6": "10.1", "790": "Q1"})
        c2.msg("35=H|11=R1|54=1|55=AAPL")  # lost open: Canceled
        c2.expect("8", **{"11": "R1", "150": "I", "39": "4", "14": "0", "151": "0"})
        c2.close()
    finally:
        assert stop_gateway(proc) == 0


# The venue, killed (SIGKILL) in the batch that stores a trade's two fill reports, after
# the first store has written its records and before the second: the window a trade had
# of being on one side only, which the batch journal closes (gateway.store_batch).
TRADE_KILLED = r"""
import os, runpy, signal, sys
from gateway.store import FileStore
from gateway.store_batch import StoreBatch
write, write_held = StoreBatch.write, FileStore.write_held
def killed_second(store, written=[]):
    if written:
        os.kill(os.getpid(), signal.SIGKILL)
    written.append(store)
    write_held(store)
def trade_batch(self):
    held = [s for s in self._held if s.holds]
    if len(held) > 1 and all(b"\x01150=F\x01" in s.held_records()[1] for s in held):
        FileStore.write_held = killed_second
    return write(self)
StoreBatch.write = trade_batch
sys.argv = ["gateway", *sys.argv[1:]]
runpy.run_module("gateway.cli", run_name="__main__")
"""


def test_a_trade_killed_between_its_two_stores_is_on_both_sides_after_a_restart(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    venue = ROOT / "sessions/venue.yaml"
    proc, port = start_gateway(venue, run, command=[sys.executable, "-c", TRADE_KILLED])
    try:
        seller = Client(port, "CLIENT1", our_comp_id="VENUE")
        seller.logon(extra="|141=Y")
        seller.msg(f"35=D|11=S1|54=2|38=100|40=2|44=10.00|55=AAPL|59=0|60={seller.ts()}")
        seller.expect("8", **{"11": "S1", "150": "0"})
        buyer = Client(port, "CLIENT2", our_comp_id="VENUE")
        buyer.logon(extra="|141=Y")
        buyer.msg(f"35=D|11=B1|54=1|38=100|40=2|44=10.00|55=AAPL|59=0|60={buyer.ts()}")
        assert proc.wait(10) == -signal.SIGKILL  # in the trade's batch
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seller.close()
    buyer.close()

    proc, port = start_gateway(venue, run)
    try:
        for name, cl, side in (("CLIENT1", "S1", "2"), ("CLIENT2", "B1", "1")):
            c = Client(port, name, our_comp_id="VENUE")
            c.logon(extra="|141=Y")
            # neither order was lost open (a Canceled report at the logon): both traded
            assert until_heartbeat(c, "A") == []
            c.msg(f"35=H|11={cl}|54={side}|55=AAPL")
            c.expect("8", **{"11": cl, "150": "I", "39": "2", "14": "100", "151": "0",
                             "6": "10"})
            c.close()
    finally:
        assert stop_gateway(proc) == 0


def until_heartbeat(c: Client, test_req_id: str) -> list[dict[int, str]]:
    """Send a TestRequest; every message before its Heartbeat."""
    c.msg(f"35=1|112={test_req_id}")
    seen = []
    while True:
        kind = c._peek_type()
        got = c.expect(kind)
        if kind == "0" and got.get(112) == test_req_id:
            return seen
        if kind != "4":  # resent admin messages come as gap fills
            seen.append(got)


def test_orders_open_through_sequence_resets_are_still_canceled_after_a_crash(
        tmp_path: Path) -> None:
    """A client that logs on with ResetSeqNumFlag every time resets the venue's store each
    time; its orders still resting from before a reset (a direct order and a TWAP parent) are
    carried over by each reset, so a venue killed later still reports them Canceled. Every
    ClOrdID of the day stays used: the reset carried the order's last report, which names
    two of them, and R0 (replaced twice) was free for a new order after the crash."""
    run = tmp_path / "run"
    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        c.msg(f"35=D|11=R0|54=1|38=100|40=2|44=10.00|55=AAPL|59=0|60={c.ts()}")
        c.expect("8", **{"11": "R0", "150": "0"})
        for old, new in (("R0", "R0b"), ("R0b", "R1")):
            c.msg(f"35=G|11={new}|41={old}|54=1|38=100|40=2|44=10.00|55=AAPL|60={c.ts()}")
            c.expect("8", **{"11": new, "150": "5"})
        # a parent with an hour to go: INTC's book is empty, so it waits with no child out
        c.msg(f"35=D|11=P1|54=1|38=300|40=2|44=50.00|55=INTC|59=0|60={c.ts()}|847=1001|"
              f"848=Slices=3|168={c.ts()}|126={c.ts(3600)}")
        c.expect("8", **{"11": "P1", "150": "0"})
        c.close()
        for cl in ("R2", "R3"):  # two more connections, each a sequence reset
            c = Client(port, "CLIENT1", our_comp_id="VENUE")
            c.logon(extra="|141=Y")
            c.msg(f"35=D|11={cl}|54=2|38=100|40=2|44=10.50|55=AAPL|59=0|60={c.ts()}")
            c.expect("8", **{"11": cl, "150": "0"})
            if cl == "R3":  # done within the last period: not lost
                c.msg(f"35=F|11=C{cl}|41={cl}|54=2|55=AAPL|60={c.ts()}")
                c.expect("8", **{"11": f"C{cl}", "150": "4"})
            c.close()
    finally:  # the crash; also what ends the venue if a step above failed
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    proc, port = start_gateway(ROOT / "sessions/venue.yaml", run)
    try:
        c = Client(port, "CLIENT1", our_comp_id="VENUE")
        c.logon(extra="|141=Y")
        canceled = {m[11]: (m[150], m[39], m[151], m[58]) for m in until_heartbeat(c, "A")}
        assert canceled == {cl: ("4", "4", "0", RESTART_TEXT) for cl in ("R1", "P1", "R2")}
        c.msg(f"35=D|11=R0|54=1|38=100|40=2|44=10.00|55=AAPL|59=0|60={c.ts()}")
        c.expect("8", **{"11": "R0", "150": "8", "103": "6"})  # duplicate ClOrdID
        c.close()
    finally:
        assert stop_gateway(proc) == 0
