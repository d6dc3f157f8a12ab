"""The algo gateway's lost parents (gateway.algo_restart) against its sessions' stores, in
process: the application over memory stores, a crash being a new application bound to the
same stores, sequence resets being the stores' (with what the application has them carry
over). What the client hears across resets and second crashes; the same over real
processes killed with SIGKILL is in tests/test_algo_gateway_restart.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixspec.dictionary import SessionDictionaries, builtin_session, load_builtin
from fixspec.fieldtypes import format_utc_timestamp
from gateway.codec import decode_bytes, encode, scan_fields
from gateway.config import SessionConfig, load_config
from gateway.fixmessage import Field, Message
from gateway.store import MemoryStore
from gateway.upstream import AlgoGatewayApplication
from gateway.venue_restart import DAY_FILLS
from tests.fixpeer import fields, frame

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "sessions/algo.yaml"
NOW = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
_VENUE_IDS = itertools.count(1)


@dataclass
class StoreSession:
    """What the application reads of a session: its store and dictionaries; ``carry`` is
    what the application sets for resets."""

    store: MemoryStore
    dd: SessionDictionaries
    carry: Callable[[], Sequence[bytes]] | None = None


@dataclass
class Handle:
    """A session handle over a memory store: every message the application sends is
    numbered and stored, and reaches the peer (``heard``) only while ``logged_on``."""

    config: SessionConfig
    session: StoreSession
    logged_on: bool = False
    heard: list[dict[int, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name

    def send_fields(self, msg_type: str, fields: Sequence[Field]) -> None:
        self.send(Message.flat(msg_type, fields))

    def send(self, message: Message) -> None:
        store = self.session.store
        for tag, value in ((8, self.config.begin_string), (49, self.config.sender_comp_id),
                           (56, self.config.target_comp_id), (34, str(store.next_sender_seq)),
                           (52, format_utc_timestamp(NOW))):
            message.header.set(tag, value)
        raw = encode(message, self.session.dd)
        store.save_sent(store.next_sender_seq, raw)
        if self.logged_on:
            self.heard.append(fields(raw))

    def reset(self) -> None:
        """A sequence reset: the store keeps only what the application carries over."""
        carry = self.session.carry
        self.session.store.reset(NOW, carry() if carry is not None else ())

    def resend(self) -> list[dict[int, str]]:
        """What the peer's ResendRequest from 1 would get: the stored messages."""
        store = self.session.store
        return [fields(m.raw) for m in store.sent(1, store.next_sender_seq - 1)]


@dataclass
class Gateway:
    """The algo gateway's sessions (their stores outlive a crash) and the application."""

    handles: dict[str, Handle]
    app: AlgoGatewayApplication = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        """A (re)start: a new application bound to the stores; every session logged out."""
        for h in self.handles.values():
            h.logged_on = False
            h.heard = []  # (a new process: new connections)
            h.session.carry = None
        self.app = AlgoGatewayApplication(load_config(CONFIG))
        self.app.bind(self)

    @property
    def runners(self) -> dict[str, Handle]:  # (what bind reads of an engine)
        return self.handles

    @property
    def venue(self) -> Handle:
        return self.handles[self.app.upstream_name]

    @property
    def client(self) -> Handle:
        return next(h for h in self.handles.values() if h.config.target_comp_id == "CLIENT1")

    def logon(self, h: Handle, *, reset: bool = False) -> None:
        if reset:
            h.reset()
        h.logged_on = True
        self.app.on_logon(h, NOW)

    def from_venue(self, text: str) -> None:
        self.app.on_message(self.venue, message(text), NOW)

    def from_client(self, text: str) -> None:
        self.app.on_message(self.client, message(text), NOW)


def message(text: str) -> Message:
    return decode_bytes(frame("FIX.4.4", text), load_builtin("FIX.4.4"))


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%d-%H:%M:%S")


def gateway() -> Gateway:
    cfg = load_config(CONFIG)
    return Gateway({s.name: Handle(s, StoreSession(MemoryStore(NOW),
                                                   builtin_session(s.begin_string)))
                    for s in cfg.sessions})


def working_parent(gw: Gateway) -> tuple[str, str]:
    """A TWAP parent P1 of CLIENT1 (buy 1,000 AAPL) with one child at the venue: the
    parent's OrderID and the child's ClOrdID."""
    end = twap_parent(gw, "P1", "1")
    order_id = gw.client.heard[-1][37]
    run_until(gw, lambda: child_orders(gw), end)
    return order_id, child_orders(gw)[0]


def twap_parent(gw: Gateway, cl_ord_id: str, side: str) -> datetime:
    """Both sessions logged on, the venue's AAPL book, and a TWAP parent of 1,000 AAPL from
    CLIENT1 over 600 s from NOW (ClOrdID and Side (54) as given); returns its end."""
    gw.logon(gw.venue)
    gw.logon(gw.client)
    gw.from_venue("35=W|55=AAPL|268=2|269=0|270=99.99|271=5000|269=1|270=100.01|271=5000")
    end = NOW + timedelta(seconds=600)
    gw.from_client(f"35=D|11={cl_ord_id}|54={side}|38=1000|40=1|55=AAPL|59=0|"
                   f"60={stamp(NOW)}|847=1001|848=Slices=2|168={stamp(NOW)}|126={stamp(end)}")
    return end


def child_orders(gw: Gateway) -> list[str]:
    """The ClOrdIDs of the NewOrderSingles the gateway sent the venue."""
    return [m[11] for m in gw.venue.resend() if m[35] == "D"]


def run_until(gw: Gateway, done: Callable[[], object], end: datetime) -> None:
    """The gateway's timer a second at a time from NOW until ``done()`` (before ``end``)."""
    t = NOW
    while not done():
        t += timedelta(seconds=1)
        assert t < end, "not done by the end"
        gw.app.on_timer(t)


def venue_report(child: str, body: str, cl: str | None = None) -> str:
    ids = f"11={cl}|41={child}" if cl else f"11={child}"
    return f"35=8|37=V{child}|17=E{next(_VENUE_IDS)}|{ids}|55=AAPL|54=1|38=500|{body}"


def crashed_with_a_filled_orphan(gw: Gateway) -> None:
    """A working parent, a crash, a restart: the venue resends the child's fill of 400 (made
    while the gateway was down) and answers its restart-cancel, before the client logs on."""
    _, child = working_parent(gw)
    gw.start()
    gw.logon(gw.venue)
    gw.from_venue(venue_report(child, "150=F|39=1|151=100|14=400|6=100|32=400|31=100"))
    gw.from_venue(venue_report(child, "150=4|39=4|151=0|14=400|6=100", cl=child + "~r"))


def ends(messages: list[dict[int, str]]) -> list[tuple[str | None, ...]]:
    """The parent's reports among ``messages``: (ExecType, OrdStatus, CumQty, ClOrdID)."""
    return [(m.get(150), m.get(39), m.get(14), m.get(11)) for m in messages
            if m[35] == "8" and m.get(11) in ("P1", "C1")]


def test_reports_heard_again_after_a_reset_count_their_fills_once() -> None:
    """The reports a reset discarded come again at the client's reset Logon; their fills
    were counted among the day's a second time, so a later reset carried 800 bought for a
    fill of 400, and a restart after it held the client to twice its loss."""
    gw = gateway()
    crashed_with_a_filled_orphan(gw)
    gw.logon(gw.client, reset=True)  # the discarded reports come again
    gw.client.reset()  # a later reset carries the day's fills
    sums = [scan_fields(raw) for raw in gw.client.session.store.carried()
            if raw.startswith(DAY_FILLS)]
    assert [(f[55], f[54], f[32], f[381]) for f in sums] == [("AAPL", "1", "400", "40000")]
    gw.start()  # a crash
    assert [(f.symbol, f.qty) for f in gw.app.gates.restored[gw.client.name]] == [("AAPL", 400)]


def test_a_reset_logon_hears_once_what_the_reset_discarded() -> None:
    """Reports made while the client was away are in its store, for its ResendRequest (a
    logon without a reset adds nothing). A logon with ResetSeqNumFlag discards them: they
    come again after it, once."""
    want = [("6", "6", "0", "P1"), ("F", "6", "400", "P1"), ("4", "4", "400", "P1")]
    gw = gateway()
    crashed_with_a_filled_orphan(gw)
    assert ends(gw.client.resend())[-3:] == want
    gw.logon(gw.client)
    assert ends(gw.client.heard) == []  # its resend delivers them

    gw = gateway()
    crashed_with_a_filled_orphan(gw)
    gw.logon(gw.client, reset=True)
    assert ends(gw.client.heard) == want
    gw.client.logged_on = False
    gw.client.heard = []
    gw.logon(gw.client, reset=True)
    assert ends(gw.client.heard) == []  # once


def test_a_reset_before_the_reports_does_not_send_them_twice() -> None:
    """The client's store was reset (a new schedule period, say) before the venue's answers
    came: the reports are stored after it, and its resend delivers them; the logon adds
    nothing."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.start()
    gw.client.reset()
    gw.logon(gw.venue)
    gw.from_venue(venue_report(child, "150=4|39=4|151=0|14=0|6=0", cl=child + "~r"))
    gw.logon(gw.client)
    assert ends(gw.client.heard) == []
    assert ends(gw.client.resend()) == [("4", "4", "0", "P1")]


def test_a_reset_before_the_clients_logon_carries_the_parent_as_reported() -> None:
    """After the restart's reports (the fill, the end), a reset before the client's logon
    carries over nothing stale: a second crash finds the parent done, not open with the
    CumQty from before the first."""
    gw = gateway()
    crashed_with_a_filled_orphan(gw)
    gw.client.reset()
    cancels = len([m for m in gw.venue.resend() if m[35] == "F"])
    gw.start()
    gw.logon(gw.venue)
    gw.logon(gw.client)
    assert ends(gw.client.heard) == []  # nothing lost this time: no Canceled at CumQty 0
    assert len([m for m in gw.venue.resend() if m[35] == "F"]) == cancels  # nor cancels


def test_a_status_request_does_not_hide_the_pending_cancel_from_a_later_restart() -> None:
    """The client cancels (C1) while the parent's child works, the gateway crashes, the
    client asks for status after the restart's Pending Cancel, its session resets and the
    gateway crashes again: the end still answers C1."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.from_client(f"35=F|11=C1|41=P1|54=1|55=AAPL|60={stamp(NOW)}")
    assert ends(gw.client.heard)[-1] == ("6", "6", "0", "C1")
    gw.start()
    gw.logon(gw.client)
    gw.from_client("35=H|11=P1|54=1|55=AAPL")
    assert ends(gw.client.heard)[-1][:2] == ("I", "6")
    gw.client.logged_on = False
    gw.client.reset()
    gw.start()
    gw.logon(gw.client)
    gw.logon(gw.venue)
    gw.from_venue(venue_report(child, "150=4|39=4|151=0|14=0|6=0", cl=child + "~r2"))
    last = [m for m in gw.client.heard if m[35] == "8"][-1]
    assert (last[150], last[39], last[11], last[41]) == ("4", "4", "C1", "P1")


def restart_cancels(gw: Gateway) -> list[str]:
    return [m[11] for m in gw.venue.resend() if m[35] == "F" and "~r" in m[11]]


def test_children_outlive_a_sequence_reset_of_the_venue_session() -> None:
    """The venue resets the upstream session's numbers (a Logon with ResetSeqNumFlag) while
    a child works, then the gateway crashes: the restart still finds the child, carried over
    by the reset, and cancels it; across another reset and crash, its next restart-cancel
    gets a ClOrdID of its own (the venue refuses one used before)."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.venue.reset()
    gw.start()
    gw.logon(gw.venue)
    assert restart_cancels(gw) == [child + "~r"]
    gw.venue.reset()  # before the venue answered it
    gw.start()
    gw.logon(gw.venue)
    assert restart_cancels(gw) == [child + "~r2"]


def test_a_restart_cancel_the_venue_refuses_is_sent_again_until_the_child_is_done() -> None:
    """The venue refuses a lost child's restart-cancel without saying the child is done (a
    throttle): the cancel goes again a second later under a new ClOrdID (``~r2``), two
    seconds after a second refusal, and, if the link is down when one is due, at its next
    logon; once the venue cancels the child the parent ends Canceled and no retry is left."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.start()
    gw.logon(gw.venue)

    def cancels() -> list[str]:
        return [m[11] for m in gw.venue.resend() if m[35] == "F"]

    def refuse(cl: str) -> None:
        gw.from_venue(f"35=9|37=V{child}|11={cl}|41={child}|39=0|434=1|102=99|"
                      "58=throttled")

    assert cancels()[-1] == child + "~r"
    refuse(child + "~r")
    assert gw.app.next_deadline() == NOW + timedelta(seconds=1)
    gw.app.on_timer(NOW + timedelta(milliseconds=999))
    assert cancels()[-1] == child + "~r"
    gw.app.on_timer(NOW + timedelta(seconds=1))
    assert cancels()[-1] == child + "~r2"
    refuse(child + "~r2")
    assert gw.app.next_deadline() == NOW + timedelta(seconds=2)
    gw.venue.logged_on = False  # the link drops: nothing due while it is down
    assert gw.app.next_deadline() is None
    gw.logon(gw.venue)  # (at NOW: not due yet)
    assert cancels()[-1] == child + "~r2"
    gw.venue.logged_on = False
    gw.app.on_timer(NOW + timedelta(seconds=5))
    gw.venue.logged_on = True
    gw.app.on_logon(gw.venue, NOW + timedelta(seconds=5))  # back after the retry fell due
    assert cancels()[-1] == child + "~r3"
    refuse(child + "~r3")  # (the harness's venue answers at NOW)
    due = gw.app.next_deadline()
    assert due == NOW + timedelta(seconds=4)
    # the venue ends the child on its own (expired) before the retry: none goes
    gw.from_venue(venue_report(child, "150=C|39=C|151=0|14=0|6=0"))
    assert ends(gw.client.resend())[-1] == ("4", "4", "0", "P1")
    gw.app.on_timer(due)
    assert cancels()[-1] == child + "~r3"
    assert gw.app.next_deadline() is None


def test_a_restart_cancel_the_venue_rejects_at_session_or_business_level_goes_again() -> None:
    """A BusinessMessageReject of a restart-cancel was audited only: the lost child was never
    asked again and its parent stayed open for ever. It goes again as a refused cancel does."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.start()
    gw.logon(gw.venue)
    assert restart_cancels(gw) == [child + "~r"]
    gw.from_venue(f"35=j|372=F|379={child}~r|380=0|58=not now")
    assert gw.app.next_deadline() == NOW + timedelta(seconds=1)
    gw.app.on_timer(NOW + timedelta(seconds=1))
    assert restart_cancels(gw) == [child + "~r", child + "~r2"]


def child_fill(child: str, exec_id: str, cum: int) -> str:
    """The venue's report of a fill of 100 of ``child`` (500), ExecID ``exec_id``."""
    return (f"35=8|37=V{child}|17={exec_id}|11={child}|55=AAPL|54=1|38=500|150=F|39=1|"
            f"151={500 - cum}|14={cum}|6=100|32=100|31=100")


def test_a_fill_the_client_had_is_not_counted_again_after_its_resets_and_a_second_restart(
        ) -> None:
    """The venue's fill report was handled (the parent's fill reported) but its inbound
    number not committed when the gateway crashed. The venue link stays down through the
    restart; the client logs on with ResetSeqNumFlag (once, or twice), which discards the
    fill's report; the gateway restarts again; the venue resends the fill (PossDup). The
    resets carried the fill's ExecID over (LostParent.fill_stubs): no second fill, CumQty
    stays 100."""
    for resets in (1, 2):
        gw = gateway()
        order_id, child = working_parent(gw)
        fill = child_fill(child, "VX1", 100)
        gw.from_venue(fill)
        assert ends(gw.client.heard)[-1] == ("F", "1", "100", "P1")
        gw.start()  # (the fill's inbound number was not committed: the venue resends it)
        for _ in range(resets):
            gw.client.logged_on = False
            gw.logon(gw.client, reset=True)
        gw.start()
        gw.logon(gw.venue)
        gw.from_venue(fill)
        after = [m for m in gw.client.resend()
                 if m[35] == "8" and m.get(37) == order_id and m.get(150) != "I"]
        assert [m[150] for m in after if m[150] == "F"] == [], resets
        assert {m[14] for m in after} <= {"100"}, resets


def test_a_resent_fill_of_a_parent_done_since_is_no_unaccounted_fill(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The last batch before the crash filled a child and ended its parent (the client's
    cancel); the venue resends it after the restart. The fill is no parent's now, but the
    client had it (its stored report names it): no warning of an unaccounted fill. A fill of
    a child no report names still gets one."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.from_client(f"35=F|11=C1|41=P1|54=1|55=AAPL|60={stamp(NOW)}")
    fill = child_fill(child, "VX1", 100)
    done = (f"35=8|37=V{child}|17=VX2|11={child}~c|41={child}|55=AAPL|54=1|38=500|150=4|"
            "39=4|151=0|14=100|6=100")
    gw.from_venue(fill)
    gw.from_venue(done)
    assert ends(gw.client.heard)[-1] == ("4", "4", "100", "C1")
    gw.start()
    gw.logon(gw.venue)
    capsys.readouterr()
    gw.from_venue(fill)
    gw.from_venue(done)
    assert "warning" not in capsys.readouterr().err
    gw.from_venue(child_fill(child, "VX3", 200))
    assert "a child no parent of ours has" in capsys.readouterr().err


def test_fills_without_an_execid_each_count_under_an_execid_of_the_desks() -> None:
    """A venue's fill reports without ExecID (17), which only a session with validation off
    lets through, cannot be told apart: each is the parent's fill, reported under an ExecID
    of the desk's (not one made of the child and an empty venue ExecID, the same for all)."""
    gw = gateway()
    _, child = working_parent(gw)
    for cum in (100, 200):
        gw.from_venue(child_fill(child, "VX", cum).replace("|17=VX|", "|"))
    fills = [m for m in gw.client.heard if m[35] == "8" and m.get(150) == "F"]
    assert [m[14] for m in fills] == ["100", "200"]
    assert len({m[17] for m in fills}) == 2 and not any(m[17].endswith(":") for m in fills)


def test_a_parent_a_restart_ended_is_still_known_after_a_reset_and_another_crash() -> None:
    """A restart ends the lost parent (its child filled 400, then canceled) while the client
    is away; the gateway crashes again; the client logs on with ResetSeqNumFlag, which
    discards those reports (it never hears the end: the documented limit); the gateway
    crashes once more. The reset carried the done parent's last report over: a status
    request answers Canceled with CumQty 400, and its ClOrdID is still the day's."""
    gw = gateway()
    crashed_with_a_filled_orphan(gw)
    gw.start()
    gw.logon(gw.client, reset=True)
    assert ends(gw.client.heard) == []
    gw.start()
    gw.logon(gw.client)
    gw.from_client("35=H|11=P1|54=1|55=AAPL")
    assert ends(gw.client.heard)[-1] == ("I", "4", "400", "P1")
    end = NOW + timedelta(seconds=600)
    gw.from_client(f"35=D|11=P1|54=1|38=100|40=1|55=AAPL|59=0|60={stamp(NOW)}|847=1001|"
                   f"168={stamp(NOW)}|126={stamp(end)}")
    assert (gw.client.heard[-1][150], gw.client.heard[-1][103]) == ("8", "6")


def test_a_done_parent_is_carried_over_its_own_trading_day_only() -> None:
    """A parent canceled today is carried by today's resets; at the next day's first logon
    it is forgotten, so a reset then carries nothing of it and, after a restart, its
    ClOrdID is free again (ClOrdIDs are unique within a trading day)."""
    gw = gateway()
    working_parent(gw)
    gw.from_client(f"35=F|11=C1|41=P1|54=1|55=AAPL|60={stamp(NOW)}")
    venue_cancel = next(m for m in gw.venue.resend() if m[35] == "F")
    gw.from_venue(venue_report(venue_cancel[41], "150=4|39=4|151=0|14=0|6=0",
                               cl=venue_cancel[11]))
    assert ends(gw.client.heard)[-1] == ("4", "4", "0", "C1")
    gw.client.reset()  # today: the done parent is carried over
    assert any(fields(raw).get(11) == "C1" for raw in gw.client.session.store.carried()
               if raw.startswith(b"8="))  # (a report, not a record of sums or ids)
    gw.client.logged_on = False
    tomorrow = NOW + timedelta(days=1)
    gw.app.on_logon(gw.client, tomorrow)
    gw.client.reset()
    assert gw.client.session.store.carried() == []
    gw.start()
    gw.logon(gw.venue)
    gw.logon(gw.client)
    end = NOW + timedelta(seconds=600)
    gw.from_client(f"35=D|11=C1|54=1|38=100|40=1|55=AAPL|59=0|60={stamp(NOW)}|847=1001|"
                   f"168={stamp(NOW)}|126={stamp(end)}")
    assert gw.client.heard[-1][150] == "0"


def test_a_lost_parents_child_holds_back_an_opposite_child_until_accounted_for() -> None:
    """After a crash, the lost buy parent's child may still work at the venue (its price
    unknown here): a new sell parent's child is held, not sent to trade with it, until the
    venue answers the restart-cancel; then it goes."""
    gw = gateway()
    _, child = working_parent(gw)
    gw.start()
    end = twap_parent(gw, "S1", "2")
    [sell] = [p for p in gw.app.desk.parents.values() if p.order.cl_ord_id == "S1"]
    run_until(gw, lambda: sell.runner.state.working, end)
    [sell_child] = sell.runner.state.working
    assert child_orders(gw) == [child]  # held: only the lost parent's child ever went
    gw.from_venue(venue_report(child, "150=4|39=4|151=0|14=0|6=0", cl=child + "~r"))
    assert child_orders(gw) == [child, sell_child]


def test_a_replace_chains_first_clordids_stay_the_days_through_resets_and_crashes() -> None:
    """P1 replaced to P2 then P3; the client resets, the gateway crashes, the client logs on
    with a reset, resets again, the gateway crashes again: a new parent P1 was accepted the
    same day (the second reset carried only what the parent's last report names)."""
    gw = gateway()
    gw.logon(gw.venue)
    gw.logon(gw.client)
    start, end = NOW + timedelta(seconds=300), NOW + timedelta(seconds=900)
    order = (f"|54=1|40=2|44=100|55=AAPL|59=0|60={stamp(NOW)}|847=1001|168={stamp(start)}"
             f"|126={stamp(end)}")
    gw.from_client(f"35=D|11=P1|38=1000{order}")
    for old, new in (("P1", "P2"), ("P2", "P3")):
        gw.from_client(f"35=G|11={new}|41={old}|38=900{order}")
    gw.client.reset()
    gw.start()  # a crash
    gw.logon(gw.venue)
    gw.logon(gw.client, reset=True)  # hears the parent Canceled
    gw.client.reset()
    gw.start()  # another
    gw.logon(gw.venue)
    gw.logon(gw.client)
    for cl in ("P1", "P2", "P3"):
        gw.from_client(f"35=D|11={cl}|38=100{order}")
        heard = gw.client.heard[-1]
        assert (heard[150], heard.get(103)) == ("8", "6"), (cl, heard)


def test_a_cancel_of_a_parent_the_restart_ended_says_the_restart_ended_it() -> None:
    """The cancel is too late either way; its Text said the parent "was done before the
    algo gateway restarted" when this restart had ended it (its child filled 400 while
    the gateway was down)."""
    gw = gateway()
    crashed_with_a_filled_orphan(gw)
    gw.logon(gw.client)
    gw.from_client(f"35=F|11=C9|41=P1|54=1|55=AAPL|60={stamp(NOW)}")
    reject = gw.client.heard[-1]
    assert (reject[35], reject[102], reject[39]) == ("9", "0", "4")
    assert reject[58] == "order P1 is done: the algo gateway's restart ended it"
    gw.start()  # and once more: now it was done before this restart
    gw.logon(gw.client)
    gw.from_client(f"35=F|11=C10|41=P1|54=1|55=AAPL|60={stamp(NOW)}")
    assert gw.client.heard[-1][58] == "order P1 was done before the algo gateway restarted"
