"""A client's cancel and replace of a parent while its child works at an upstream venue,
with the venue's reports arriving when the test says (the algo gateway in process, as in
tests/test_upstream_router.py): the ids, OrdStatus and ends the client sees in the races
FIX 4.4 describes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algos.strategy import Side
from gateway.config import load_config
from gateway.fixmessage import Message
from gateway.upstream import AlgoGatewayApplication
from tests.test_upstream_router import (
    ROOT,
    Link,
    _app,
    _working_child,
    child_report,
    message,
)

ACK = "150=0|39=0|151=300|14=0|6=0"


def fill(qty: int, cum: int) -> str:
    """The venue's fill of ``qty`` at 100 on the 300-share child, ``cum`` filled in all."""
    status = "2" if cum == 300 else "1"
    return f"150=F|39={status}|151={300 - cum}|14={cum}|6=100|32={qty}|31=100"


CANCELED = "150=4|39=4|151=0|14={cum}|6=100"


def request(app: AlgoGatewayApplication, client: Link, fields: str, now: datetime) -> None:
    app.on_message(client, message(f"{fields}|54=1|55=AAPL|60={now:%Y%m%d-%H:%M:%S}"), now)


def last(client: Link, msg_type: str = "8") -> Message:
    return [m for m in client.sent if m.msg_type == msg_type][-1]


def ids(m: Message) -> tuple[str | None, str | None, str | None]:
    """(ClOrdID, OrigClOrdID, OrdStatus) of a report or cancel reject."""
    return m.body.get_str(11), m.body.get_str(41), m.body.get_str(39)


def test_a_replace_with_a_bad_parameter_is_refused_before_a_child_is_touched() -> None:
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    request(app, client, "35=G|11=P1r|41=P1|38=300|40=1|848=Slices=abc", now)
    assert ids(last(client, "9")) == ("P1r", "P1", "0")
    assert "Slices" in (last(client, "9").body.get_str(58) or "")
    assert [m.body.get_str(150) for m in client.sent if m.msg_type == "8"] == ["0"], \
        "no Pending Replace"
    assert not [m for m in venue.sent if m.msg_type == "F"], "the child keeps its place"
    app.on_message(venue, child_report(child, fill(100, 100)), now)
    assert ids(last(client)) == ("P1", None, "1"), "the order keeps its ClOrdID"


def test_fills_while_a_replace_is_pending_past_its_quantity_amend_it_to_them() -> None:
    """Fills while the children are cancelled take the parent past the new quantity: the
    order quantity is amended to the cum quantity (FIX 4.4 Appendix D), the replace is
    accepted under its ClOrdID and the order is done, Filled."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    app.on_message(venue, child_report(child, fill(100, 100)), now)
    request(app, client, "35=G|11=P1r|41=P1|38=150|40=1", now)
    assert (ids(last(client)), last(client).body.get_str(150)) == (("P1r", "P1", "E"), "E")
    app.on_message(venue, child_report(child, fill(100, 200)), now)
    during = last(client)
    assert (during.body.get_str(150), ids(during)) == ("F", ("P1", None, "E")), \
        "the order's own fill (the replace is not accepted), Pending Replace outranking"
    app.on_message(venue, child_report(child, CANCELED.format(cum=200)), now)
    done = last(client)
    assert (done.body.get_str(150), ids(done)) == ("5", ("P1r", "P1", "2"))
    assert (done.body.get_str(38), done.body.get_str(14), done.body.get_str(151)) == (
        "200", "200", "0")
    assert not [m for m in client.sent if m.msg_type == "9"]


def test_a_fill_while_a_cancel_is_pending_reports_pending_cancel() -> None:
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    request(app, client, "35=F|11=P1c|41=P1", now)
    assert ids(last(client)) == ("P1c", "P1", "6")
    assert last(client).body.get_str(151) == "300"  # still working while the cancel is pending
    app.on_message(venue, child_report(child, fill(100, 100)), now)
    assert (last(client).body.get_str(150), ids(last(client))) == ("F", ("P1", None, "6"))
    assert last(client).body.get_str(151) == "200"
    app.on_message(venue, child_report(child, CANCELED.format(cum=100)), now)
    done = last(client)
    assert (ids(done), done.body.get_str(14)) == (("P1c", "P1", "4"), "100")


def test_a_replace_down_to_the_filled_quantity_reports_filled() -> None:
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    app.on_message(venue, child_report(child, fill(100, 100)), now)
    request(app, client, "35=G|11=P1r|41=P1|38=100|40=1", now)
    app.on_message(venue, child_report(child, CANCELED.format(cum=100)), now)
    done = last(client)
    assert done.body.get_str(150) == "5"
    assert (ids(done), done.body.get_str(151), done.body.get_str(14)) == (
        ("P1r", "P1", "2"), "0", "100")


def test_a_replace_cannot_change_the_strategy() -> None:
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    request(app, client, "35=G|11=P1r|41=P1|38=300|40=1|847=1", now)
    reject = last(client, "9")
    assert ids(reject) == ("P1r", "P1", "0")
    assert "TargetStrategy (847) 1001 to 1" in (reject.body.get_str(58) or "")
    assert not [m for m in venue.sent if m.msg_type == "F"]


@pytest.mark.parametrize(("field", "asked", "has"), [("40", "2|44=99", "1"), ("59", "1", "0")])
def test_a_replace_cannot_change_ordtype_or_timeinforce(field: str, asked: str,
                                                        has: str) -> None:
    """As the venue refuses it for a plain order: the parent's reports would go on naming
    the old value while the runner worked the new one."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    body = "35=G|11=P1r|41=P1|38=300|40=1" if field == "59" else "35=G|11=P1r|41=P1|38=300"
    request(app, client, f"{body}|{field}={asked}", now)
    reject = last(client, "9")
    assert ids(reject) == ("P1r", "P1", "0")
    assert f"({field}) {has} to {asked.split('|')[0]}" in (reject.body.get_str(58) or "")
    assert not [m for m in venue.sent if m.msg_type == "F"]


def test_a_refused_requests_clordid_never_names_the_parent() -> None:
    """A cancel naming a refused replace's ClOrdID names an unknown order (as the venue
    answers for a plain order), and the id is free for a later request."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    request(app, client, "35=G|11=P1r|41=P1|38=300|40=1|848=Slices=abc", now)
    assert ids(last(client, "9")) == ("P1r", "P1", "0")
    request(app, client, "35=F|11=P1c|41=P1r", now)
    unknown = last(client, "9")
    assert (ids(unknown)[:2], unknown.body.get_str(102)) == (("P1c", "P1r"), "1")
    assert not [m for m in venue.sent if m.msg_type == "F"], "the parent works on"
    request(app, client, "35=G|11=P1r|41=P1|38=600|40=1", now)  # the refused id, reused
    assert ids(last(client))[:2] == ("P1r", "P1")


def test_the_next_days_logon_frees_the_clordid_of_a_done_parent() -> None:
    """ClOrdIDs are unique within a trading day: at the client's first logon of the next
    day, its parent done (filled) is forgotten and its ClOrdID free, as the venue does for
    plain orders."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, fill(300, 300)), now)
    assert last(client).body.get_str(39) == "2"
    again = "35=D|11=P1|38=300|40=1|59=0|847=1001|848=Slices=1"
    request(app, client, again, now)
    assert last(client).body.get_str(58) == "duplicate ClOrdID (11) P1"
    gate = app.gates.existing(client.name)
    assert gate is not None
    gate.on_fill("AAPL", Side.SELL, 300, Decimal(90))  # sold back at 90: 3,000 lost today
    assert gate.daily_pnl() == -3000
    day2 = now + timedelta(days=1)
    app.on_logon(client, day2)
    request(app, client, again, day2)
    assert (last(client).body.get_str(11), last(client).body.get_str(150)) == ("P1", "0")
    assert gate.daily_pnl() == 0  # max_daily_loss counts the new day from zero


def test_a_parent_filled_while_its_cancel_is_pending_rejects_the_cancel_too_late() -> None:
    """FIX 4.4 Appendix D (cancel request for an order that fills meanwhile): the fill under
    the order's ClOrdID with OrdStatus Pending Cancel, then the cancel rejected, too late,
    OrdStatus Filled."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    request(app, client, "35=F|11=P1c|41=P1", now)
    app.on_message(venue, child_report(child, fill(300, 300)), now)
    filled = last(client)
    assert (filled.body.get_str(150), ids(filled), filled.body.get_str(14)) == (
        "F", ("P1", None, "6"), "300")
    reject = last(client, "9")
    assert (ids(reject), reject.body.get_str(102), reject.body.get_str(434)) == (
        ("P1c", "P1", "2"), "0", "1")
    app.on_message(venue, child_report(child, "150=4|39=2|151=0|14=300|6=100"), now)
    assert client.sent[-1] is reject, "nothing after the end"


def test_status_requests_by_orderid_alone_and_of_unknown_orders_echo_ordstatusreqid() -> None:
    """As the venue answers them: a status request naming the parent by OrderID alone (FIX
    5.0SP2 allows it) gets the parent's state, and every status report, an unknown order's
    too, echoes OrdStatusReqID (790)."""
    app, venue = _app()
    _, now, client = _working_child(app, venue)
    order_id = client.sent[0].body.get_str(37)
    request(app, client, f"35=H|37={order_id}|790=Q1", now)
    known = last(client)
    assert (known.body.get_str(150), known.body.get_str(11), known.body.get_str(790)) == (
        "I", "P1", "Q1")
    request(app, client, "35=H|11=NOPE|790=Q2", now)
    unknown = last(client)
    assert (unknown.body.get_str(39), unknown.body.get_str(790)) == ("8", "Q2")


def _filled_then_down_ten(tmp_path: Path) -> tuple[AlgoGatewayApplication, Link, datetime]:
    """The algo gateway with max_daily_loss 2,000: CLIENT1's parent P1 bought 300 AAPL at
    100 (filled), then the venue's market went to 89.99/90.01 (3,000 lost, marked to the
    mid). The app, the client's link and the time."""
    config = tmp_path / "algo.yaml"
    config.write_text((ROOT / "sessions/algo.yaml").read_text()
                      + "\nrisk: {default: {max_daily_loss: 2000}}\n")
    loaded = load_config(config)
    app = AlgoGatewayApplication(loaded)
    venue = Link(app.upstream_name, next(s for s in loaded.sessions
                                         if s.name == app.upstream_name), logged_on=True)
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, fill(300, 300)), now)  # bought 300 at 100
    assert last(client).body.get_str(39) == "2"
    app.on_message(venue, message("35=W|55=AAPL|268=2|269=0|270=89.99|271=500|"
                                  "269=1|270=90.01|271=500"), now)
    return app, client, now


def test_the_days_loss_marks_a_done_parents_shares_to_the_venues_market_data(
        tmp_path: Path) -> None:
    """Runners feed the gate mids only while a parent of the symbol works: 300 shares bought
    by a filled parent stayed marked at 100 however far the venue's market fell, and
    max_daily_loss let the client's next parent through."""
    app, client, now = _filled_then_down_ten(tmp_path)
    gate = app.gates.existing(client.name)
    assert gate is not None and gate.daily_pnl() == -3000  # marked to the mid, 90
    request(app, client, "35=D|11=P2|38=100|40=1|59=0|847=1001|848=Slices=1", now)
    refused = last(client)
    assert (refused.body.get_str(11), refused.body.get_str(39)) == ("P2", "8")
    assert "daily loss" in (refused.body.get_str(58) or "")


def test_a_client_logged_on_over_midnight_starts_the_next_day(tmp_path: Path) -> None:
    """The venue's roll at the day's end, on the algo gateway: a client that stayed logged
    on over midnight had its done parent's ClOrdID taken the next day, and yesterday's loss
    held its new parents to max_daily_loss, until it logged on again."""
    app, client, now = _filled_then_down_ten(tmp_path)  # P1 bought 300 at 100: 3,000 lost
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(),
                                tzinfo=now.tzinfo)
    assert app.next_deadline() is not None and app.next_deadline() <= midnight
    app.on_timer(midnight)
    day2 = midnight + timedelta(hours=9)
    request(app, client, "35=D|11=P1|38=100|40=1|59=0|847=1001|848=Slices=1", day2)
    assert (last(client).body.get_str(11), last(client).body.get_str(39)) == ("P1", "0")
    request(app, client, "35=D|11=P2|38=100|40=1|59=0|847=1001|848=Slices=1", day2)
    assert (last(client).body.get_str(11), last(client).body.get_str(39)) == ("P2", "0")
    app.on_logon(client, day2 + timedelta(hours=1))  # the same day: nothing more is freed
    request(app, client, "35=D|11=P1|38=100|40=1|59=0|847=1001|848=Slices=1", day2)
    assert last(client).body.get_str(58) == "duplicate ClOrdID (11) P1"


def test_a_parent_that_ended_while_its_client_was_away_is_known_the_next_day() -> None:
    """As on the venue: the parent filled while its client was logged out; at the next
    day's Logon (whose sequence reset discards the stored fill reports) it was forgotten,
    and its status request answered "unknown order"."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    client.logged_on = False
    client.send = client.sent.append  # type: ignore[method-assign]  # a session stores it
    app.on_logout(client, now)
    app.on_message(venue, child_report(child, fill(300, 300)), now)  # filled, client away
    day2 = now + timedelta(days=1)
    client.logged_on = True
    app.on_logon(client, day2)
    request(app, client, "35=H|11=P1", day2)
    assert (last(client).body.get_str(39), last(client).body.get_str(14)) == ("2", "300")
    day3 = day2 + timedelta(days=1)
    app.on_logon(client, day3)
    request(app, client, "35=H|11=P1", day3)
    assert last(client).body.get_str(39) == "8"  # forgotten a day after it was heard of


def test_a_parent_or_replace_with_an_instruction_the_desk_does_not_carry_out_is_refused(
        ) -> None:
    """MinQty (110) or ExecInst (18) on a parent: the algos would work it without them, so
    it is refused (OrdRejReason 11), as the venue refuses such an order; so is a replace of a
    working parent asking for one, which keeps the parent as it was."""
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    request(app, client, "35=D|11=P2|38=300|40=1|59=0|847=1001|110=300", now)
    rej = last(client)
    assert (rej.body.get_str(11), rej.body.get_str(39), rej.body.get_str(103)) == (
        "P2", "8", "11")
    assert (rej.body.get_str(58) or "").startswith("MinQty (110) 300 is not supported")
    request(app, client, "35=G|11=P1r|41=P1|38=300|40=1|18=G", now)
    assert ids(last(client, "9")) == ("P1r", "P1", "0")
    assert (last(client, "9").body.get_str(58) or "").startswith("ExecInst (18) G")
    assert not [m for m in venue.sent if m.msg_type in ("D", "F", "G")]
