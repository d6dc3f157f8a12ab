"""ClOrdIDs are unique within a trading day: the venue frees those of done orders at a
session's first Logon of a later day (its schedule's period, else the UTC date)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from gateway.config import load_config
from gateway.fixmessage import Message
from gateway.schedule import Schedule
from gateway.venue_app import VenueApplication
from tests.engine_apps import RecordingHandle

VENUE = Path(__file__).resolve().parents[1] / "sessions" / "venue.yaml"
DAY1 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def order(cl: str, now: datetime, tif: str | None = None, side: str = "1") -> Message:
    """Buy (``side`` 1) or sell 100 AAPL at 10; TimeInForce ``tif`` if given (else Day)."""
    m = Message("D")
    for tag, value in ((11, cl), (21, "1"), (38, 100), (40, "2"), (44, "10"), (54, side),
                       (55, "AAPL"), (60, now.strftime("%Y%m%d-%H:%M:%S"))):
        m.body.set(tag, value)
    if tif is not None:
        m.body.set(59, tif)
    return m


def cancel(cl: str, orig: str, now: datetime) -> Message:
    m = Message("F")
    for tag, value in ((11, cl), (41, orig), (54, "1"), (55, "AAPL"),
                       (60, now.strftime("%Y%m%d-%H:%M:%S"))):
        m.body.set(tag, value)
    return m


def answers(app: VenueApplication, h: RecordingHandle, m: Message, now: datetime) -> list[str]:
    """ExecType (or 9 for a cancel reject) and Text of what ``m`` was answered."""
    before = len(h.sent)
    app.on_message(h, m, now)  # type: ignore[arg-type]
    return [f"{a.body.get_str(150) or a.msg_type}:{a.body.get_str(58) or ''}"
            for a in h.sent[before:]]


def session(schedule: Schedule | None = None) -> tuple[VenueApplication, RecordingHandle]:
    gw = load_config(VENUE)
    cfg = next(s for s in gw.sessions if s.target_comp_id == "CLIENT1")
    return VenueApplication(gw), RecordingHandle(replace(cfg, schedule=schedule))


def test_the_next_days_logon_frees_the_clordids_of_done_orders() -> None:
    app, h = session()
    app.on_logon(h, DAY1)  # type: ignore[arg-type]
    assert answers(app, h, order("A", DAY1), DAY1) == ["0:"]
    assert answers(app, h, order("B", DAY1, tif="1"), DAY1) == ["0:"]  # GTC
    assert answers(app, h, cancel("A2", "A", DAY1), DAY1) == ["4:"]
    later = DAY1 + timedelta(hours=2)  # a reconnect the same day (a reset Logon or not)
    app.on_logon(h, later)  # type: ignore[arg-type]
    assert answers(app, h, order("A", later), later) == ["8:duplicate ClOrdID (11) A"]
    day2 = DAY1 + timedelta(days=1)
    app.on_logon(h, day2)  # type: ignore[arg-type]
    assert answers(app, h, order("A", day2), day2) == ["0:"]  # A was done: free again
    assert answers(app, h, order("B", day2), day2) == ["8:duplicate ClOrdID (11) B"]  # B is live


def reports(h: RecordingHandle, since: int) -> list[tuple[str | None, ...]]:
    """(ClOrdID, ExecType, OrdStatus, LeavesQty) of the ExecutionReports sent after the
    first ``since`` messages."""
    return [(m.body.get_str(11), m.body.get_str(150), m.body.get_str(39), m.body.get_str(151))
            for m in h.sent[since:] if m.msg_type == "8"]


def test_day_orders_expire_at_the_end_of_the_trading_day_and_gtc_orders_work_on() -> None:
    app, h = session()
    app.on_logon(h, DAY1)  # type: ignore[arg-type]
    for cl, tif in (("D1", None), ("D2", "0"), ("G1", "1")):
        assert answers(app, h, order(cl, DAY1, tif), DAY1) == ["0:"]
    midnight = datetime(2026, 11, 26, tzinfo=UTC)
    assert app.next_deadline() == midnight
    sent = len(h.sent)
    app.on_timer(midnight - timedelta(microseconds=1))  # (not due yet: nothing happens)
    assert app.venue.order(h.name, "D1").live  # type: ignore[union-attr]
    app.on_timer(midnight)
    assert reports(h, sent) == [("D1", "C", "C", "0"), ("D2", "C", "C", "0")]
    assert h.sent[-1].body.get_str(58) == "day order expired at the end of the trading day"
    assert app.next_deadline() == midnight + timedelta(days=1)  # the next day's end
    # a seller the next day meets the GTC order only
    sent = len(h.sent)
    assert answers(app, h, order("S1", midnight, side="2"), midnight)[-1] == "F:"
    assert sorted(r[0] or "" for r in reports(h, sent) if r[1] == "F") == ["G1", "S1"]


def test_a_message_after_the_days_end_comes_after_the_expiry_even_before_the_timer() -> None:
    """The timer may run late: a request handled after the day's end first expires the
    Day orders, so nothing trades against them."""
    app, h = session()
    app.on_logon(h, DAY1)  # type: ignore[arg-type]
    assert answers(app, h, order("D1", DAY1), DAY1) == ["0:"]
    after = datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC)
    assert answers(app, h, order("S1", after, side="2"), after) == ["C:day order expired at "
                                                                    "the end of the trading "
                                                                    "day", "0:"]


def parent(cl: str, now: datetime, hours: float) -> Message:
    """A TWAP parent (buy 100 AAPL at 9.00, nothing to fill it) over the next ``hours``."""
    m = order(cl, now)
    m.body.set(44, "9")
    for tag, value in ((847, "1001"), (168, now), (126, now + timedelta(hours=hours))):
        m.body.set(tag, value if isinstance(value, str) else value.strftime("%Y%m%d-%H:%M:%S"))
    return m


def test_the_next_days_logon_frees_the_clordids_of_done_parents() -> None:
    """As for plain orders: a parent done frees its ClOrdID (and is forgotten) at the next
    day's first Logon; one still working keeps it."""
    app, h = session()
    app.on_logon(h, DAY1)  # type: ignore[arg-type]
    assert answers(app, h, parent("P", DAY1, 1), DAY1) == ["0:"]
    assert answers(app, h, parent("Q", DAY1, 12), DAY1) == ["0:"]  # works past midnight
    assert answers(app, h, cancel("P2", "P", DAY1), DAY1) == ["4:canceled by client"]
    later = DAY1 + timedelta(hours=2)
    app.on_logon(h, later)  # type: ignore[arg-type]
    assert answers(app, h, parent("P", later, 1), later)[-1] == "8:duplicate ClOrdID (11) P"
    held = len(app.desk.parents)
    day2 = DAY1 + timedelta(hours=10)
    app.on_logon(h, day2)  # type: ignore[arg-type]
    assert len(app.desk.parents) == held - 1  # P, done, is forgotten
    assert answers(app, h, parent("P", day2, 1), day2) == ["0:"]  # free again
    assert answers(app, h, parent("Q", day2, 1), day2)[-1] == "8:duplicate ClOrdID (11) Q"


def test_with_a_schedule_day_orders_expire_at_its_end() -> None:
    app, h = session(Schedule(time(22), time(21)))
    t1 = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    app.on_logon(h, t1)  # type: ignore[arg-type]
    assert answers(app, h, order("D1", t1), t1) == ["0:"]
    end = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    assert app.next_deadline() == end
    app.on_timer(end)
    assert reports(h, len(h.sent) - 1) == [("D1", "C", "C", "0")]
    # the next day ends at the next period's end, not at the end just passed (inclusive)
    # nor at midnight (between periods)
    assert app.next_deadline() == end + timedelta(days=1)
    t2 = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
    app.on_logon(h, t2)  # type: ignore[arg-type]
    assert answers(app, h, order("D2", t2), t2) == ["0:"]
    app.on_timer(datetime(2026, 11, 27, 0, 0, 1, tzinfo=UTC))  # past midnight: still works
    assert app.venue.order(h.name, "D2").live  # type: ignore[union-attr]


def test_a_schedule_sets_the_day() -> None:
    """With a 22:00-21:00 schedule the day turns at 22:00 UTC, not at midnight."""
    app, h = session(Schedule(time(22), time(21)))
    t1 = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    app.on_logon(h, t1)  # type: ignore[arg-type]
    assert answers(app, h, order("A", t1), t1) == ["0:"]
    assert answers(app, h, cancel("A2", "A", t1), t1) == ["4:"]
    after_midnight = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # the same session period
    app.on_logon(h, after_midnight)  # type: ignore[arg-type]
    assert answers(app, h, order("A", after_midnight), after_midnight) == [
        "8:duplicate ClOrdID (11) A"]
    next_period = datetime(2026, 11, 26, 22, 5, tzinfo=UTC)
    app.on_logon(h, next_period)  # type: ignore[arg-type]
    assert answers(app, h, order("A", next_period), next_period) == ["0:"]


def test_a_session_logged_on_over_midnight_starts_the_next_day_with_its_ids_free() -> None:
    """Done orders' ClOrdIDs were freed only at a Logon of a later day: a session that
    stayed logged on over midnight had A refused as a duplicate the next day (and kept
    every done order of every day for as long as it stayed up). Once the next day has
    begun, a reconnect the same day frees nothing more: the day's ids stay the day's."""
    app, h = session()
    app.on_logon(h, DAY1)  # type: ignore[arg-type]
    assert answers(app, h, order("A", DAY1), DAY1) == ["0:"]
    assert answers(app, h, cancel("A2", "A", DAY1), DAY1) == ["4:"]
    assert answers(app, h, parent("P", DAY1, 1), DAY1) == ["0:"]
    assert answers(app, h, cancel("P2", "P", DAY1), DAY1) == ["4:canceled by client"]
    midnight = datetime.combine(DAY1.date() + timedelta(days=1), time(0), tzinfo=UTC)
    app.on_timer(midnight)
    day2 = midnight + timedelta(hours=9)
    assert answers(app, h, order("A", day2), day2) == ["0:"]
    assert answers(app, h, parent("P", day2, 1), day2) == ["0:"]
    assert answers(app, h, cancel("A3", "A", day2), day2) == ["4:"]
    app.on_logon(h, day2 + timedelta(hours=1))  # type: ignore[arg-type]
    assert answers(app, h, order("A", day2), day2) == ["8:duplicate ClOrdID (11) A"]


def status_of(app: VenueApplication, h: RecordingHandle, cl: str,
              now: datetime) -> tuple[str | None, ...]:
    """(OrdStatus, CumQty, Text) of the answer to an OrderStatusRequest for ``cl``."""
    request = Message("H")
    for tag, value in ((11, cl), (54, "1"), (55, "AAPL")):
        request.body.set(tag, value)
    app.on_message(h, request, now)  # type: ignore[arg-type]
    answer = h.sent[-1].body
    return answer.get_str(39), answer.get_str(14), answer.get_str(58)


def test_an_order_that_ended_while_its_owner_was_away_is_known_the_next_day() -> None:
    """CLIENT1's GTC buy filled at 20:00, after its 08:00-17:00 session: the report was
    stored for it, the next period's sequence reset discarded it, and the day's first Logon
    forgot the order (done): its status request answered "unknown order" and the client
    never learned it had bought. It is kept through the day it next logs on, then forgotten
    (the ClOrdID is the day's until then)."""
    gw = load_config(VENUE)
    c1 = next(s for s in gw.sessions if s.target_comp_id == "CLIENT1")
    c2 = next(s for s in gw.sessions if s.target_comp_id == "CLIENT2")
    app = VenueApplication(gw)
    h1 = RecordingHandle(replace(c1, schedule=Schedule(time(8), time(17))))
    h2 = RecordingHandle(c2)
    d1 = datetime(2026, 11, 25, 10, tzinfo=UTC)
    app.on_logon(h1, d1)  # type: ignore[arg-type]
    app.on_logon(h2, d1)  # type: ignore[arg-type]
    assert answers(app, h1, order("G1", d1, tif="1"), d1) == ["0:"]
    assert answers(app, h1, order("D1", d1), d1) == ["0:"]  # a Day order: expires at 17:00
    end = datetime(2026, 11, 25, 17, tzinfo=UTC)
    app.on_timer(end)
    h1.logged_on = False
    app.on_logout(h1, end)  # type: ignore[arg-type]
    evening = datetime(2026, 11, 25, 20, tzinfo=UTC)
    app.on_timer(evening)
    assert answers(app, h2, order("S1", evening, tif="3", side="2"), evening) == ["0:", "F:"]
    d2 = datetime(2026, 11, 26, 8, 0, 5, tzinfo=UTC)
    h1.logged_on = True
    app.on_logon(h1, d2)  # type: ignore[arg-type]
    assert status_of(app, h1, "G1", d2) == ("2", "100", None)
    assert answers(app, h1, order("G1", d2), d2) == ["8:duplicate ClOrdID (11) G1"]
    assert status_of(app, h1, "D1", d2)[0] == "8", "expired while it was logged on: forgotten"
    d3 = datetime(2026, 11, 27, 8, 0, 5, tzinfo=UTC)
    app.on_logon(h1, d3)  # type: ignore[arg-type]
    assert status_of(app, h1, "G1", d3)[0] == "8"  # unknown order: forgotten now
