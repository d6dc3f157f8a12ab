"""The upstream venue's word on a child is its CumQty, AvgPx and status, not the LastQty of
one report: the algo gateway counts the fills a report's CumQty says it missed, never more
than CumQty, keeps working a child the venue took even when a reject of it comes later, and
asks the venue for the state of a child it says is over without saying how. What the
parent's client sees stays consistent, and no child works at the venue unwatched (the
algo gateway in process, the venue's answers scripted, as in tests/test_upstream_router.py)."""

from __future__ import annotations

import pytest

from gateway.fixmessage import Message
from gateway.upstream import AlgoGatewayApplication
from tests.test_algo_parent_requests import ACK, last, request
from tests.test_upstream_router import Link, _app, _working_child, child_report, message


def client_fills(client: Link) -> list[tuple[str | None, ...]]:
    """(LastQty, LastPx, CumQty, LeavesQty, OrdStatus) of the parent's fill reports."""
    return [tuple(m.body.get_str(t) for t in (32, 31, 14, 151, 39))
            for m in client.sent if m.msg_type == "8" and m.body.get_str(150) == "F"]


def sent(venue: Link, msg_type: str) -> list[Message]:
    return [m for m in venue.sent if m.msg_type == msg_type]


def tell(app: AlgoGatewayApplication, venue: Link, child: str, fields: str) -> None:
    """The venue's ExecutionReport on ``child`` with ``fields``, now."""
    app.on_message(venue, child_report(child, fields), app.desk.now)


def _acked() -> tuple[AlgoGatewayApplication, Link, str, Link]:
    app, venue = _app()
    child, now, client = _working_child(app, venue)
    app.on_message(venue, child_report(child, ACK), now)
    return app, venue, child, client


def test_fills_a_report_s_cumqty_says_were_missed_are_counted_first() -> None:
    """The venue's report: LastQty 100, yet CumQty 300 at AvgPx 100.50, Filled. 200 traded
    that no report told (at 100.75, what AvgPx leaves): counted, then the 100, and no child
    goes out for the 200 (which would have bought 500)."""
    app, venue, child, client = _acked()
    tell(app, venue, child, "150=F|39=2|151=0|14=300|6=100.50|32=100|31=100")
    assert client_fills(client) == [("200", "100.75", "200", "100", "1"),
                                    ("100", "100", "300", "0", "2")]
    assert last(client).body.get_str(6) == "100.5"
    assert not sent(venue, "D")


def test_a_fill_counts_no_more_than_the_cumqty_it_adds() -> None:
    """LastQty 300 on a report of CumQty 100, LeavesQty 200: 100 traded, and the child works
    on with 200 (it was taken as filled, and left at the venue unwatched). Its later fill of
    the 200 fills the parent."""
    app, venue, child, client = _acked()
    tell(app, venue, child, "150=F|39=1|151=200|14=100|6=100|32=300|31=100")
    assert client_fills(client) == [("100", "100", "100", "200", "1")]
    assert not sent(venue, "D") and not sent(venue, "F")
    tell(app, venue, child, "150=F|39=2|151=0|14=300|6=100|32=200|31=100")
    assert client_fills(client)[-1] == ("200", "100", "300", "0", "2")


def test_a_reject_of_a_child_the_venue_took_asks_its_state_and_sends_no_other() -> None:
    """Acknowledged and filled 100, then a reject naming the child (as a venue answers a
    copy of the order sent again): the child may work on at the venue, so no child goes out
    for its 200 (both would fill: 500 bought); the venue is asked for its state, which says
    it works, and its fill of the rest fills the parent."""
    app, venue, child, client = _acked()
    tell(app, venue, child, "150=F|39=1|151=200|14=100|6=100|32=100|31=100")
    tell(app, venue, child, "150=8|39=8|151=0|14=0|6=0|103=6|58=duplicate")
    [ask] = sent(venue, "H")
    assert (ask.body.get_str(11), ask.body.get_str(55), ask.body.get_str(54)) == (
        child, "AAPL", "1")
    tell(app, venue, child, "150=I|39=1|151=200|14=100|6=100")
    assert not sent(venue, "D")
    tell(app, venue, child, "150=F|39=2|151=0|14=300|6=100|32=200|31=100")
    assert client_fills(client)[-1] == ("200", "100", "300", "0", "2")
    assert not sent(venue, "D")


def test_a_business_reject_of_a_child_the_venue_took_leaves_it_working() -> None:
    app, venue, child, _client = _acked()
    now = app.desk.now
    app.on_message(venue, message(f"35=j|45=999|372=D|379={child}|380=0|58=later refused"),
                   now)
    assert not sent(venue, "D") and [m.body.get_str(11) for m in sent(venue, "H")] == [child]
    assert all(child in p.runner.state.working for p in app.desk.parents.values())


def test_a_cancel_refused_as_filled_learns_the_fills_from_the_status_report() -> None:
    """The child filled while the link was down, and the venue did not send the fill again:
    the client's cancel of the parent gets the child's cancel refused as too late, Filled.
    The gateway asks the child's state; its status report's CumQty and AvgPx are the fills
    (the parent is filled, its cancel refused), where it asked to cancel for ever before."""
    app, venue, child, client = _acked()
    now = app.desk.now
    request(app, client, "35=F|11=P1c|41=P1", now)
    [cancel] = sent(venue, "F")
    app.on_message(venue, message(f"35=9|37=V1|11={cancel.body.get_str(11)}|41={child}|39=2|"
                                  "434=1|102=0|58=too late to cancel"), now)
    [ask] = sent(venue, "H")
    assert ask.body.get_str(11) == child
    tell(app, venue, child, "150=I|39=2|151=0|14=300|6=100.25")
    # (a fill while the parent's cancel is pending says so: OrdStatus 6)
    assert client_fills(client) == [("300", "100.25", "300", "0", "6")]
    refused = last(client, "9")  # the parent's cancel: too late, it is filled
    assert (refused.body.get_str(11), refused.body.get_str(39)) == ("P1c", "2")
    assert app.desk.parents and all(p.runner.done for p in app.desk.parents.values())


def test_a_fill_past_the_child_s_limit_or_quantity_is_counted_and_said(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Real money either way, so counted as the venue reported it; never silently: the
    child's limit is 99.99 (the passive TWAP child bids the touch)."""
    app, venue, child, client = _acked()
    tell(app, venue, child, "150=F|39=1|151=200|14=100|6=105|32=100|31=105")
    tell(app, venue, child, "150=F|39=2|151=0|14=400|6=101|32=300|31=99")
    assert [f[2] for f in client_fills(client)] == ["100", "400"]
    err = capsys.readouterr().err
    assert f"filled child {child}" in err and "at 105, past its limit 99.99" in err
    assert "to CumQty 400, past its 300" in err


def test_a_missed_fill_s_price_keeps_the_decimals_of_the_fills_before_it() -> None:
    """100 filled at 99.955 (sub-penny, finer than the child's limit 99.99), 100 more at
    99.845 never reported; the status report says CumQty 200 at AvgPx 99.9 (as a venue writes
    99.900): the missed fill is 99.845, not 99.8 (the AvgPx's one decimal) nor 99.84, and the
    parent's AvgPx is the venue's."""
    app, venue, child, client = _acked()
    tell(app, venue, child, "150=F|39=1|151=200|14=100|6=99.955|32=100|"
                                              "31=99.955")
    tell(app, venue, child, "150=I|39=1|151=100|14=200|6=99.9")
    assert client_fills(client)[-1] == ("100", "99.845", "200", "100", "1")
    assert last(client).body.get_str(6) == "99.9"


def test_one_status_request_at_a_time_whatever_the_venue_rejects() -> None:
    """A venue that answers the status request with a reject (ExecType 8) rather than a
    status report: the child is asked about once, not once a reject (one each time, for
    ever), and it is not taken as ended either (the first reject already named an order the
    venue had taken)."""
    app, venue, child, _client = _acked()
    for _ in range(3):
        tell(app, venue, child, "150=8|39=8|151=0|14=0|6=0|58=unknown")
    assert len(sent(venue, "H")) == 1 and not sent(venue, "D")
    tell(app, venue, child, "150=I|39=0|151=300|14=0|6=0")
    tell(app, venue, child, "150=8|39=8|151=0|14=0|6=0|58=unknown")
    assert len(sent(venue, "H")) == 2  # answered: a later reject asks again


def test_a_refused_status_request_is_asked_again() -> None:
    """The venue refuses the status request itself (a BusinessMessageReject of it, a
    throttle): the next refusal of the child's cancel, or the next reject of the child, asks
    again; none is taken as still outstanding for ever (the parent then never ended)."""
    app, venue, child, client = _acked()
    now = app.desk.now
    request(app, client, "35=F|11=P1c|41=P1", now)
    [cancel] = sent(venue, "F")
    refused = (f"35=9|37=V1|11={cancel.body.get_str(11)}|41={child}|39=2|434=1|102=0|"
               "58=too late to cancel")
    app.on_message(venue, message(refused), now)
    app.on_message(venue, message(f"35=j|45=999|372=H|379={child}|380=0|58=throttled"), now)
    app.on_message(venue, message(refused), now)
    assert len(sent(venue, "H")) == 2
    tell(app, venue, child, "150=8|39=8|151=0|14=0|6=0|58=duplicate")
    assert len(sent(venue, "H")) == 2  # the second request is outstanding
    app.on_message(venue, message(f"35=j|45=999|372=H|379={child}|380=0|58=throttled"), now)
    tell(app, venue, child, "150=8|39=8|151=0|14=0|6=0|58=duplicate")
    assert len(sent(venue, "H")) == 3
    # a cancel refused again asks again, outstanding or not (an answer may have been lost;
    # the cancel's own retries pace it)
    app.on_message(venue, message(refused), now)
    assert len(sent(venue, "H")) == 4
