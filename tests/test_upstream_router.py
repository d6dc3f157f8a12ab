"""The algo gateway's router to the upstream venue, in process: what it sends while the
venue link is down and once it is back. The link itself is a stand-in session handle that
records what the router sends (the same router over real sockets is in
tests/test_algo_upstream.py)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algos.strategy import MarketSnapshot
from engine.book_types import Side
from fixspec.dictionary import load_builtin
from gateway.audit import AuditLog
from gateway.codec import decode_bytes
from gateway.config import SessionConfig, load_config
from gateway.echo_app import EchoApplication
from gateway.fixmessage import Field, Message
from gateway.metrics import GatewayMetrics
from gateway.routers import parent_of
from gateway.store import MemoryStore
from gateway.upstream import AlgoGatewayApplication
from tests.fixpeer import frame
from tests.observer_harness import Harness

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)


@dataclass
class Link:
    """A session handle: ``logged_on`` as the test sets it, and every message sent."""

    name: str
    config: SessionConfig
    logged_on: bool = False
    sent: list[Message] = field(default_factory=list)
    read_at: float = 0.0  # SessionRunner.read_at: when the last read came (0: none)

    def send_fields(self, msg_type: str, fields: Sequence[Field]) -> None:
        self.send(Message.flat(msg_type, fields))

    def send(self, message: Message) -> None:
        assert self.logged_on, "nothing may be sent on a link that is down"
        self.sent.append(message)


def test_a_cancel_while_the_venue_link_is_down_is_sent_once_it_is_back() -> None:
    config = load_config(ROOT / "sessions/algo.yaml")
    app = AlgoGatewayApplication(config)
    session = next(s for s in config.sessions if s.name == app.upstream_name)
    link = Link(app.upstream_name, session)
    app.upstream = link
    app.desk.touch(NOW)  # as the desk's own calls into the router are
    app.cancel("P1-A1.1")
    app.cancel("P1-A1.1")  # asked twice while down: one cancel when back
    app.cancel("P1-A1.2")
    assert link.sent == []
    link.logged_on = True
    app.on_logon(link, NOW)
    cancels = [m for m in link.sent if m.msg_type == "F"]
    assert [(m.body.get_str(41), m.body.get_str(11)) for m in cancels] == [
        ("P1-A1.1", "P1-A1.1~c"), ("P1-A1.2", "P1-A1.2~c")]
    link.sent.clear()
    app.on_logon(link, NOW)  # a later logon sends them no more
    assert [m for m in link.sent if m.msg_type == "F"] == []


def test_a_child_refused_while_the_link_was_down_is_never_cancelled_at_the_venue() -> None:
    """The venue never heard of a child refused here (the link down): a cancel of it, asked
    before its reject reached the runner, must not reach the venue as an unknown order."""
    app, venue = _app()
    child, now, _ = _working_child(app, venue)
    venue.logged_on = False  # the link drops
    never_sent = f"{parent_of(child)}.9"
    app.desk.touch(now)
    app.submit(never_sent, "AAPL", Side.BUY, 100, Decimal("100.00"), "day")
    app.cancel(never_sent)
    app.cancel(child)  # a child the venue has: held for the link's return
    venue.logged_on = True
    app.on_logon(venue, now)
    cancels = [m.body.get_str(41) for m in venue.sent if m.msg_type == "F"]
    assert cancels == [child]


def test_an_outage_neither_stops_working_parents_nor_takes_new_ones() -> None:
    """Children refused while the venue link was down counted among the 5 rejects in a row
    that stop a parent: a 12 s outage ended parents that would have caught up. And a parent
    sent during the outage was acknowledged, then Canceled 9 s later. Now the outage's
    refusals do not count, and a new parent is rejected at once, saying why."""
    app, venue = _app()
    client = _parent(app, venue, qty=2000, slices=20, seconds=600)
    venue.logged_on = False  # the link drops: every child the TWAP decides is refused here
    now = NOW
    for _ in range(300):
        now += timedelta(seconds=1)
        app.on_timer(now)
    [parent] = app.desk.parents.values()
    assert parent.runner.status == "active"
    # the refused children were never orders: none is among those a reset carries
    sent = [m.body.get_str(11) for m in venue.sent if m.msg_type == "D"]
    assert [child for child, _ in app.desk.working_children()] == sent
    assert not [m for m in client.sent if m.body.get_str(150) in ("4", "C")]
    stamp = now.strftime("%Y%m%d-%H:%M:%S")
    app.on_message(client, message(
        f"35=D|11=P2|54=1|38=100|40=1|55=AAPL|59=0|60={stamp}|847=1001|168={stamp}"), now)
    refused = client.sent[-1]
    assert (refused.body.get_str(11), refused.body.get_str(150)) == ("P2", "8")
    assert refused.body.get_str(58) == ("parent orders are not taken now: upstream venue "
                                        "session is not logged on")
    venue.logged_on = True
    app.on_logon(venue, now)
    venue.sent.clear()
    for _ in range(40):
        now += timedelta(seconds=1)
        app.on_timer(now)
    assert [m for m in venue.sent if m.msg_type == "D"], "children go out again"


def message(text: str) -> Message:
    """An application message from ``|``-separated fields (no header: the desk reads none)."""
    return decode_bytes(frame("FIX.4.4", text), load_builtin("FIX.4.4"))


_EXEC_IDS = itertools.count(1)


def child_report(child: str, fields: str, qty: int = 300) -> Message:
    """The venue's ExecutionReport on ``child`` (buy ``qty`` AAPL) with ``fields`` (ExecType,
    OrdStatus, quantities), under an ExecID of its own."""
    return message(f"35=8|37=V1|17=E{next(_EXEC_IDS)}|11={child}|55=AAPL|54=1|38={qty}|"
                   f"{fields}")


def _parent(app: AlgoGatewayApplication, venue: Link, qty: int = 300, slices: int = 1,
            seconds: int = 60) -> Link:
    """The venue and CLIENT1 logged on at NOW, AAPL quoted 99.99 / 100.01, and a TWAP
    parent P1 from CLIENT1 (buy ``qty`` in ``slices`` over ``seconds``); the client's link."""
    config = load_config(ROOT / "sessions/algo.yaml")
    client_config = next(s for s in config.sessions if s.target_comp_id == "CLIENT1")
    client = Link(client_config.name, client_config, logged_on=True)
    app.on_logon(venue, NOW)
    app.on_logon(client, NOW)
    app.on_message(venue, message("35=W|55=AAPL|268=2|269=0|270=99.99|271=500|"
                                  "269=1|270=100.01|271=500"), NOW)
    stamp = NOW.strftime("%Y%m%d-%H:%M:%S")
    end = (NOW + timedelta(seconds=seconds)).strftime("%Y%m%d-%H:%M:%S")
    app.on_message(client, message(
        f"35=D|11=P1|54=1|38={qty}|40=1|55=AAPL|59=0|60={stamp}|847=1001|"
        f"848=Slices={slices}|168={stamp}|126={end}"), NOW)
    return client


def _working_child(app: AlgoGatewayApplication, venue: Link) -> tuple[str, datetime, Link]:
    """A TWAP parent (300 AAPL, one slice) from CLIENT1 (:func:`_parent`): its child's
    ClOrdID once it is sent, the time then, and the client's link."""
    client = _parent(app, venue)
    return _next_child(app, venue, NOW), NOW + timedelta(seconds=1), client


def _next_child(app: AlgoGatewayApplication, venue: Link, now: datetime,
                qty: str = "300") -> str:
    """Run the timers until a child goes out (within the parent's minute); its ClOrdID."""
    while not [m for m in venue.sent if m.msg_type == "D"]:
        now += timedelta(seconds=1)
        assert now < NOW + timedelta(seconds=60), "no child order sent"
        app.on_timer(now)
    [child] = [m for m in venue.sent if m.msg_type == "D"]
    assert child.body.get_str(38) == qty
    venue.sent.clear()
    return child.body.get_str(11) or ""


def _app() -> tuple[AlgoGatewayApplication, Link]:
    config = load_config(ROOT / "sessions/algo.yaml")
    app = AlgoGatewayApplication(config)
    session = next(s for s in config.sessions if s.name == app.upstream_name)
    return app, Link(app.upstream_name, session, logged_on=True)


def _no_child_within_the_window(app: AlgoGatewayApplication, venue: Link, now: datetime) -> None:
    for _ in range(70):
        now += timedelta(seconds=1)
        app.on_timer(now)
    assert not [m for m in venue.sent if m.msg_type == "D"]


def test_a_child_the_venue_ends_short_of_its_quantity_is_placed_again() -> None:
    """The venue's word is the truth: a child it reports over with quantity unfilled (Done
    for day, here; a restatement or a short last fill alike) is no longer working, and the
    algo places what was left in a new child instead of waiting on it for ever."""
    app, venue = _app()
    child, now, _ = _working_child(app, venue)
    for fields in ("150=0|39=0|151=300|14=0|6=0",
                   "150=F|39=1|151=200|14=100|6=100|32=100|31=100",
                   "150=3|39=3|151=0|14=100|6=100|58=session closing"):
        app.on_message(venue, child_report(child, fields), now)
    again = _next_child(app, venue, now, qty="200")
    assert again != child
    assert not [m for m in venue.sent if m.msg_type == "F"], "no cancel of the ended child"


def test_a_child_the_venue_refuses_at_session_level_is_rejected_and_placed_again() -> None:
    """A FIX 4.2 venue refused children without HandlInst (21) with a session Reject, which
    never reached the algo: the child stayed working for ever, and a cancel of the parent
    pending with it. A Reject (by RefSeqNum) or BusinessMessageReject (by RefSeqNum, else
    BusinessRejectRefID) of a child order now rejects the child; children carry HandlInst."""
    app, venue = _app()
    store = app._upstream_store = MemoryStore()
    _parent(app, venue)
    now = NOW
    refusals = ("35=3|45={seq}|371=21|372=D|373=1|58=Required tag missing",
                "35=j|45={seq}|372=D|380=0|58=no",
                "35=j|372=D|379={child}|380=4|58=not now")
    for refusal in refusals:  # each waits for the child placed again after the last refusal
        while not [m for m in venue.sent if m.msg_type == "D"]:
            now += timedelta(seconds=1)
            assert now < NOW + timedelta(seconds=60), f"not placed again after {refusal}"
            app.on_timer(now)
        [sent] = [m for m in venue.sent if m.msg_type == "D"]
        venue.sent.clear()
        assert sent.body.get_str(21) == "1"
        child = sent.body.get_str(11) or ""
        seq = store.next_sender_seq
        store.save_sent(seq, frame("FIX.4.4", f"35=D|11={child}|21=1|55=AAPL|54=1|38=300|40=1"))
        store.set_next_sender_seq(seq + 1)
        parent = app.desk.parent_of_child(child)
        assert parent is not None and parent.runner.state.working
        reject = message(refusal.format(seq=seq, child=child))
        if reject.msg_type == "3":
            app.on_reject(venue, reject, now)
        else:
            app.on_message(venue, reject, now)
        assert not parent.runner.state.working, refusal
    # (each refusal's child was placed again: the next round waited for it)


def test_the_session_runner_hands_a_received_reject_to_the_application(
        tmp_path: Path) -> None:
    """Session Rejects stopped in the session layer: no application could learn that the
    peer refused one of its messages. An application with ``on_reject`` hears each one."""
    class Listening(EchoApplication):
        def __init__(self) -> None:
            super().__init__()
            self.rejects: list[str | None] = []

        def on_reject(self, session: object, message: Message, now: datetime) -> None:
            self.rejects.append(message.body.get_str(45))

    h = Harness(tmp_path, [])
    h.runner.app = app = Listening()
    h.logon()
    h.send("35=3|45=1|373=1|58=no")
    assert app.rejects == ["1"]
    h.close()


def test_an_empty_snapshot_empties_the_book_the_gauges_and_the_runners_view() -> None:
    """A venue restarted (its books lost) sends snapshots with no entries: the level book
    was emptied but nothing was told, so book_depth_levels showed the old depth for as long
    as the book stayed empty, and a working parent's runner was not given the empty book."""
    app, venue = _app()
    app.desk.metrics = metrics = GatewayMetrics()
    _parent(app, venue)  # a TWAP parent in AAPL

    def depth(side: str) -> float | None:
        return metrics.registry.get_sample_value("book_depth_levels",
                                                 {"symbol": "AAPL", "side": side})

    app.on_message(venue, message("35=W|55=AAPL|268=2|269=0|270=99.99|271=500|"
                                  "269=1|270=100.01|271=500"), NOW)
    assert (depth("bid"), depth("ask")) == (1, 1)
    [parent] = app.desk.parents.values()
    seen: list[MarketSnapshot] = []
    told = parent.runner.on_market_snapshot
    parent.runner.on_market_snapshot = lambda snap: (  # type: ignore[method-assign]
        seen.append(snap), told(snap))
    app.on_message(venue, message("35=W|55=AAPL|268=0"), NOW)
    assert (depth("bid"), depth("ask")) == (0, 0)
    assert [(snap.bid, snap.ask) for snap in seen] == [(None, None)], "the runner is told"


def test_market_data_latency_counts_from_the_read_that_brought_it(tmp_path: Path) -> None:
    """ingestion_latency_seconds started when the application got the message: framing,
    checks, logging, the store and the messages ahead of it in the same read were left
    out. It starts at the read now (SessionRunner.read_at)."""
    h = Harness(tmp_path, [])
    before = time.perf_counter()
    h.logon()
    assert before <= h.runner.read_at <= time.perf_counter()
    h.close()
    app, venue = _app()
    app.desk.metrics = metrics = GatewayMetrics()
    app.on_logon(venue, NOW)
    venue.read_at = time.perf_counter() - 0.5  # read half a second before it is handled
    app.on_message(venue, message("35=W|55=AAPL|268=1|269=0|270=99.99|271=500"), NOW)
    got = metrics.registry.get_sample_value("ingestion_latency_seconds_sum",
                                            {"feed": app.upstream_name})
    assert got is not None and got >= 0.5


def test_a_child_cancel_the_venue_answers_unknown_order_ends_the_child() -> None:
    """An OrderCancelReject 102=1 (unknown order) was ignored: the child counted as working
    for ever and the parent's cancel stayed pending. The venue has no such order: the child
    is over and the parent is Canceled."""
    app, venue = _app()
    _, _, client, cancel = _cancel_answered_unknown(app, venue)
    assert cancel.body.get_str(38) == "300"  # OrderQtyData: required in FIX 4.4
    done = [m for m in client.sent if m.msg_type == "8" and m.body.get_str(150) == "4"]
    assert [(m.body.get_str(11), m.body.get_str(39)) for m in done] == [("P1c", "4")]


def _cancel_answered_unknown(app: AlgoGatewayApplication, venue: Link
                             ) -> tuple[str, datetime, Link, Message]:
    """The parent's child acknowledged, the client's cancel P1c of the parent, and the
    venue's answer to the child's cancel: unknown order. The child's ClOrdID, the time, the
    client's link and the child's cancel as sent."""
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    app.on_message(client, message(f"35=F|11=P1c|41=P1|54=1|55=AAPL|"
                                   f"60={now.strftime('%Y%m%d-%H:%M:%S')}"), now)
    [cancel] = [m for m in venue.sent if m.msg_type == "F"]
    app.on_message(venue, message(f"35=9|37=NONE|11={cancel.body.get_str(11)}|41={child}|"
                                  "39=8|434=1|102=1|58=unknown order"), now)
    return child, now, client, cancel


@pytest.mark.parametrize(("qty", "status"), [(100, "4"), (300, "2")])
def test_a_fill_after_the_parent_is_canceled_leaves_it_done(qty: int, status: str) -> None:
    """The venue answered the child's cancel "unknown order", then filled the child: the
    parent, reported Canceled, came back Partially filled with 200 leaves nobody worked (and
    its cancel refused as done). The fill is reported, the order stays done: Canceled with
    nothing left, or Filled when the fill completes it (Filled outranks Canceled)."""
    app, venue = _app()
    child, now, client, _ = _cancel_answered_unknown(app, venue)
    app.on_message(venue, child_report(child, f"150=F|39={'2' if qty == 300 else '1'}|"
                                              f"151={300 - qty}|14={qty}|6=100|32={qty}|31=100"),
                   now)
    app.on_message(client, message("35=H|11=P1c|54=1|55=AAPL|790=Q1"), now)
    fields = (150, 39, 14, 151, 32)
    assert [tuple(m.body.get_str(t) for t in fields) for m in client.sent[-3:]] == [
        ("4", "4", "0", "0", None), ("F", status, str(qty), "0", str(qty)),
        ("I", status, str(qty), "0", None)]


@pytest.mark.parametrize("refusal", [
    "35=9|37=V1|11={cancel}|41={child}|39=0|434=1|102=99|58=cancel throttled",
    "35=9|37=V1|11={cancel}|41={child}|39=0|434=1|102=0|58=too late to cancel",
    "35=3|45={seq}|371=38|372=F|373=1|58=Required tag missing",
    "35=j|372=F|379={cancel}|380=0|58=not now",
])
def test_a_child_cancel_the_venue_refuses_goes_again_until_the_child_ends(
        refusal: str, tmp_path: Path) -> None:
    """A venue that refused a child's cancel (OrderCancelReject for an order it still
    works, or a Reject or BusinessMessageReject of the request) left the child working and
    the parent's cancel pending for ever: nothing asked again. The cancel now goes again,
    under a ClOrdID of its own, 1 s then 2 s... after each refusal, until the child ends;
    then the parent is Canceled."""
    app, venue = _app()
    app.desk.audit = audit = AuditLog(tmp_path / "audit.jsonl")
    store = app._upstream_store = MemoryStore()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    app.on_message(client, message(f"35=F|11=P1c|41=P1|54=1|55=AAPL|"
                                   f"60={now.strftime('%Y%m%d-%H:%M:%S')}"), now)
    sent_at = [now]
    for attempt in range(1, 4):
        [cancel] = [m for m in venue.sent if m.msg_type == "F"]
        venue.sent.clear()
        cancel_id = cancel.body.get_str(11) or ""
        assert (cancel_id, cancel.body.get_str(41)) == (
            child + ("~c" if attempt == 1 else f"~c{attempt}"), child)
        seq = store.next_sender_seq
        store.save_sent(seq, frame("FIX.4.4", f"35=F|11={cancel_id}|41={child}|55=AAPL|54=1"))
        store.set_next_sender_seq(seq + 1)
        refused = message(refusal.format(cancel=cancel_id, child=child, seq=seq))
        if refused.msg_type == "3":
            app.on_reject(venue, refused, now)
        else:
            app.on_message(venue, refused, now)
        while not [m for m in venue.sent if m.msg_type == "F"]:
            now += timedelta(milliseconds=100)
            assert now < sent_at[-1] + timedelta(seconds=10), "the cancel never went again"
            due = app.next_deadline()
            assert due is not None and due <= sent_at[-1] + timedelta(seconds=2 ** attempt)
            app.on_timer(now)
        sent_at.append(now)
    # 1 s after the first refusal, 2 s after the second, 4 s after the third
    waits = [round((b - a).total_seconds()) for a, b in itertools.pairwise(sent_at)]
    assert waits == [1, 2, 4]
    audit.close()  # each cancel sent again is audited with its own ClOrdID, at its time
    retries = [r for r in map(json.loads, (tmp_path / "audit.jsonl").read_text().splitlines())
               if r["event"] == "child_cancel_retry"]
    assert [(r["cl_ord_id"], r["orig_cl_ord_id"], r["session"]) for r in retries] == [
        (f"{child}~c{n}", child, app.upstream_name) for n in (2, 3, 4)]
    assert [r["ts"] for r in retries] == [t.isoformat(timespec="microseconds")
                                          for t in sent_at[1:]]
    [cancel] = [m for m in venue.sent if m.msg_type == "F"]
    app.on_message(venue, child_report(child, "150=4|39=4|151=0|14=0|6=0"), now)
    assert [(m.body.get_str(11), m.body.get_str(39)) for m in client.sent
            if m.body.get_str(150) == "4"] == [("P1c", "4")]
    # the refusal of an earlier cancel, late, asks nothing more of a child that has ended
    app.on_message(venue, message(f"35=9|37=V1|11={child}~c2|41={child}|39=4|434=1|102=0"),
                   now)
    assert app.next_deadline() is None or app.next_deadline() > now + timedelta(hours=1)


def test_a_late_refusal_of_an_earlier_cancel_asks_nothing_more() -> None:
    """The cancel went again after a refusal; a copy of that first refusal (the venue's
    resend) must not send a third while the second is unanswered."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    app.on_message(client, message(f"35=F|11=P1c|41=P1|54=1|55=AAPL|"
                                   f"60={now.strftime('%Y%m%d-%H:%M:%S')}"), now)
    first = message(f"35=9|37=V1|11={child}~c|41={child}|39=0|434=1|102=99|58=busy")
    app.on_message(venue, first, now)
    now += timedelta(seconds=1)
    app.on_timer(now)
    assert [m.body.get_str(11) for m in venue.sent if m.msg_type == "F"] == [
        f"{child}~c", f"{child}~c2"]
    app.on_message(venue, first, now)
    for _ in range(70):
        now += timedelta(seconds=1)
        app.on_timer(now)
    assert len([m for m in venue.sent if m.msg_type == "F"]) == 2


def test_a_child_cancel_refused_as_the_child_fills_is_not_sent_again() -> None:
    """The usual "too late": the venue filled the child as the cancel came. Its fill ends
    the child, so nothing is asked again and the parent ends filled."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    app.on_message(client, message(f"35=F|11=P1c|41=P1|54=1|55=AAPL|"
                                   f"60={now.strftime('%Y%m%d-%H:%M:%S')}"), now)
    venue.sent.clear()
    app.on_message(venue, child_report(child, "150=F|39=2|151=0|14=300|6=100|32=300|31=100"),
                   now)
    app.on_message(venue, message(f"35=9|37=V1|11={child}~c|41={child}|39=2|434=1|102=0|"
                                  "58=too late to cancel"), now)
    for _ in range(70):
        now += timedelta(seconds=1)
        app.on_timer(now)
    assert [m for m in venue.sent if m.msg_type == "F"] == []
    assert client.sent[-1].body.get_str(39) == "2"


def test_a_restated_child_works_what_the_venue_says() -> None:
    """A restatement (ExecType D) that cuts a working child to 100 shares leaves 200 that
    no longer work: the algo places them in a second child instead of waiting on them."""
    app, venue = _app()
    child, now, _ = _working_child(app, venue)
    app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    app.on_message(venue, child_report(child, "150=D|39=0|151=100|14=0|6=0|58=cut", qty=100),
                   now)
    assert _next_child(app, venue, now, qty="200") != child


def test_a_child_restated_above_what_was_sent_is_cancelled() -> None:
    """A restatement that leaves more working than the algo sent could fill the parent
    beyond its quantity: the child is cancelled, and no second child goes out meanwhile."""
    app, venue = _app()
    child, now, _ = _working_child(app, venue)
    for fields in ("150=0|39=0|151=300|14=0|6=0", "150=D|39=0|151=500|14=0|6=0"):
        app.on_message(venue, child_report(child, fields), now)
    [cancel] = [m for m in venue.sent if m.msg_type == "F"]
    assert cancel.body.get_str(41) == child
    _no_child_within_the_window(app, venue, now)


def test_fix42_fills_count_and_an_ack_without_leaves_closes_nothing() -> None:
    """A FIX 4.2 venue reports fills as ExecType 1 and 2: they count as fills (the last
    one, LeavesQty 0, must not read as a child ended unfilled), and an acknowledgement that
    leaves LeavesQty out does not end the child: no second child either way."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    for fields in ("150=0|39=0|14=0|6=0",  # no LeavesQty
                   "150=1|39=1|151=200|14=100|6=100|32=100|31=100",
                   "150=2|39=2|151=0|14=300|6=100|32=200|31=100"):
        app.on_message(venue, child_report(child, fields), now)
    _no_child_within_the_window(app, venue, now)
    last = [m for m in client.sent if m.msg_type == "8"][-1]
    assert (last.body.get_str(39), last.body.get_str(14)) == ("2", "300"), "parent filled"


@pytest.mark.parametrize("last", [
    "20=3|150=1|39=1|151=200|14=100|6=99.99|32=100|31=99.99",  # a status report
    "20=1|150=1|39=0|151=300|14=0|6=0|32=100|31=100|19=E2",  # a bust of the fill
    "20=2|150=1|39=1|151=200|14=100|6=101|32=100|31=101|19=E2",  # a correction of it
])
def test_a_fix42_report_that_is_no_new_execution_is_no_fill(
        last: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ExecTransType (20) Status, Cancel or Correct with ExecType 1: each was counted as a
    new fill of the child, the parent's CumQty 200 where the venue said 100 (or 0). A bust
    or a correction is not reversed in the parent: it is audited and said, never silent."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    base = f"35=8|37=V1|11={child}|55=AAPL|54=1|38=300|"
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        app.desk.audit = audit
        # (filled at the child's limit, 99.99: a fill past it is said on stderr too)
        for i, text in enumerate(("20=0|150=0|39=0|151=300|14=0|6=0",
                                  "20=0|150=1|39=1|151=200|14=100|6=99.99|32=100|31=99.99",
                                  last)):
            app.on_message(venue, decode_bytes(frame("FIX.4.2", f"{base}17=E{i + 1}|{text}"),
                                               load_builtin("FIX.4.2")), now)
    fills = [m.body.get_str(14) for m in client.sent if m.body.get_str(150) == "F"]
    assert fills == ["100"]
    what = {"1": "busted", "2": "corrected"}.get(last[3])
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    said = [(r["event"], r["child"], r["exec_id"], r["exec_ref_id"]) for r in records
            if r["event"].startswith("child_trade")]
    assert said == ([(f"child_trade_{what}", child, "E3", "E2")] if what else [])
    err = capsys.readouterr().err
    assert (f"the venue {what} a fill of child {child} (ExecRefID E2; parent P1 of "
            in err) if what else (err == "")


def test_on_fix42_the_fill_completing_a_parent_with_a_cancel_pending_is_a_fill() -> None:
    """ExecType 2 (Fill), not 1 (Partial fill) with nothing left: FIX 4.2 reads the ExecType
    from the execution, while the OrdStatus is Pending Cancel (6) until the cancel is
    answered."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    client.config = replace(client.config, begin_string="FIX.4.2")
    base = f"35=8|37=V1|11={child}|55=AAPL|54=1|38=300|"
    app.on_message(venue, message(base + "17=E1|150=0|39=0|151=300|14=0|6=0"), now)
    app.on_message(client, message(f"35=F|11=P1X|41=P1|54=1|55=AAPL|38=300|"
                                   f"60={now:%Y%m%d-%H:%M:%S}"), now)
    app.on_message(venue, message(base + "17=E2|150=F|39=2|151=0|14=300|6=100|32=300|31=100"),
                   now)
    fill = next(m.body for m in client.sent if m.body.get_str(32) == "300")
    assert [fill.get_str(t) for t in (20, 150, 39, 14, 151)] == ["0", "2", "6", "300", "0"]


def test_a_report_about_a_child_the_desk_does_not_know_is_audited(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Never dropped silently: a fill of a child no parent has (a restart lost its parent,
    say) is audited as unknown_child and said on stderr (it is money no parent accounts
    for); a cancel reject about one is audited only. A known child's reports are the desk's."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        app.desk.audit = audit
        app.on_message(venue, child_report("OLD-A7.2", "150=F|39=1|151=200|14=100|6=100|"
                                                       "32=100|31=100.5"), now)
        app.on_message(venue, message("35=9|37=NONE|11=OLD-A7.3~c|41=OLD-A7.3|39=8|102=1|"
                                      "434=1|58=unknown order"), now)
        app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    unknown = [r for r in records if r["event"] == "unknown_child"]
    assert [(r["cl_ord_id"], r.get("exec_type"), r.get("last_qty"), r.get("last_px"),
             r.get("reason")) for r in unknown] == [
        ("OLD-A7.2", "F", 100, "100.5", None), ("OLD-A7.3~c", None, None, None, 1)]
    err = capsys.readouterr().err
    assert "filled 100 AAPL @ 100.5 on order OLD-A7.2" in err and "OLD-A7.3" not in err
    assert [m.body.get_str(11) for m in client.sent] == ["P1"], "nothing to the client"


def test_the_kill_switch_stops_every_parent_and_refuses_new_ones() -> None:
    """kill_all (SIGUSR1): the parent's working child is cancelled at the venue, the parent
    reported Canceled with the reason once the venue confirms, and a new parent refused."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, "150=0|39=0|151=300|14=0|6=0"), now)
    app.kill_all("SIGUSR1", now)
    [cancel] = [m for m in venue.sent if m.msg_type == "F"]
    assert cancel.body.get_str(41) == child
    app.on_message(venue, message(f"35=8|37=V1|17=EK|11={child}~c|41={child}|55=AAPL|54=1|"
                                  "38=300|150=4|39=4|151=0|14=0|6=0"), now)
    done = client.sent[-1]
    assert (done.body.get_str(11), done.body.get_str(150)) == ("P1", "4")
    assert done.body.get_str(58) == "kill switch: SIGUSR1"
    stamp = now.strftime("%Y%m%d-%H:%M:%S")
    app.on_message(client, message(f"35=D|11=P2|54=1|38=300|40=1|55=AAPL|59=0|60={stamp}|"
                                   f"847=1001|168={stamp}"), now)
    refused = client.sent[-1]
    assert (refused.body.get_str(11), refused.body.get_str(150)) == ("P2", "8")
    assert "kill switch" in (refused.body.get_str(58) or "")


def test_the_kill_switch_is_audited_at_the_time_it_is_thrown(tmp_path: Path) -> None:
    """The gates stamp what they audit with the time they were last given: the kill was
    recorded at the last message's time, seconds before the signal."""
    app, venue = _app()
    _, now, _ = _working_child(app, venue)
    later = now + timedelta(seconds=90)
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        app.gates.audit = audit
        app.kill_all("SIGUSR1", later)
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    kills = [r for r in records if r["kind"] == "risk" and r["event_"] == "kill_switch"]
    assert kills and {r["ts"] for r in kills} == {later.isoformat(timespec="microseconds")}


def test_a_report_with_a_quantity_no_order_could_have_is_refused_not_half_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fill of 1.5 shares (not 1: truncating would miscount it) or a million-digit CumQty
    (seconds to make an int of): audited as bad_report, said on stderr, refused to the venue
    (BusinessMessageReject naming the tag), and nothing reaches the parent."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    with AuditLog(tmp_path / "audit.jsonl") as audit:
        app.desk.audit = audit
        app.on_message(venue, child_report(child, "150=F|39=1|151=298|14=1.5|6=100|32=1.5|"
                                                  "31=100"), now)
        app.on_message(venue, child_report(child, "150=F|39=1|151=0|14=1" + "0" * 100_000
                                                  + "|6=100|32=1|31=100"), now)
        app.on_message(venue, message("35=W|55=AAPL|268=1|269=0|270=99|271=2.5"), now)
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    bad = [r["text"] for r in records if r["event"] == "bad_report"]
    assert len(bad) == 2 and "tag 14 (CumQty) 1.5 is not a whole number" in bad[0]
    assert "tag 14 (CumQty) 1000" in bad[1] and "out of range" in bad[1]
    rejects = [m for m in venue.sent if m.msg_type == "j"]
    assert [m.body.get_str(58) for m in rejects] == bad
    assert "cannot be read" in capsys.readouterr().err
    assert [m.body.get_str(11) for m in client.sent] == ["P1"], "no fill reached the parent"
    assert app.books["AAPL"].levels["0"] == {}  # the level of 2.5 shares was left out


@pytest.mark.parametrize("effective", ["absent", "repeated", "future"])
def test_a_parent_replace_keeps_its_window_start_unless_it_moves_it_forward(
        effective: str) -> None:
    """A replace at 9:48 of a 10-minute TWAP (catch-up from 9:45): without EffectiveTime
    (168), or with the parent's own repeated (order systems stamp it with the order's
    creation), the window keeps its start and the catch-up stays at 9:45; taking the
    repeated, past EffectiveTime as "now" had started the window at 9:48 and moved the
    catch-up to its last instants. One in the future starts the window there."""
    app, venue = _app()
    client = _parent(app, venue, qty=1000, slices=10, seconds=600)
    venue.logged_on = False  # no children go out: the replace applies at once
    now = NOW
    while now < NOW + timedelta(minutes=9, seconds=48):
        now += timedelta(seconds=1)
        app.on_timer(now)
    [p] = app.desk.parents.values()
    assert p.runner.strategy.catch_up_at == NOW + timedelta(minutes=9, seconds=45)

    def stamp(t: datetime) -> str:
        return t.strftime("%Y%m%d-%H:%M:%S")

    starts = {"absent": None, "repeated": NOW, "future": NOW + timedelta(minutes=9, seconds=50)}
    given = starts[effective]
    extra = f"|168={stamp(given)}" if given is not None else ""
    app.on_message(client, message(
        f"35=G|11=P1r|41=P1|54=1|38=1000|40=1|55=AAPL|59=0|60={stamp(now)}|847=1001|"
        f"848=Slices=10|126={stamp(NOW + timedelta(minutes=10))}{extra}"), now)
    for m in [m for m in venue.sent if m.msg_type == "D"]:  # the children's cancels done
        app.on_message(venue, child_report(m.body.get_str(11) or "",
                                           "150=4|39=4|151=0|14=0|6=0",
                                           int(m.body.get_str(38) or 0)), now)
    assert client.sent[-1].body.get_str(150) == "5"  # Replaced
    start = given if effective == "future" else NOW
    assert p.runner.parent.start == start
    # a quarter of a slice of the parent's window before its end (at most 60 s): 10 slices
    # of 10 minutes give 15 s; of the 10 s left from a future start, 0.25 s
    catch_up = (timedelta(seconds=0.25) if effective == "future" else timedelta(seconds=15))
    assert p.runner.strategy.catch_up_at == NOW + timedelta(minutes=10) - catch_up
