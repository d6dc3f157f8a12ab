"""Prometheus metrics: scraped over real HTTP after traffic through a real session runner;
labels stay bounded whatever the peer sends."""

from __future__ import annotations

import math
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from fixspec.dictionary import load_builtin
from gateway import metrics as metrics_module
from gateway.codec import decode_bytes
from gateway.config import load_config
from gateway.fixmessage import Message
from gateway.metrics import (
    MAX_LABEL_VALUES,
    REASON_CODES,
    REFUSED_REASONS,
    GatewayMetrics,
    parse_metrics_config,
)
from gateway.session import AppMessage
from gateway.venue_app import VenueApplication
from gateway.yamlcheck import ConfigError, load_yaml
from tests.audit_samples import runner
from tests.engine_apps import Collector, RecordingHandle
from tests.fixpeer import frame
from tests.gateway_proc import start_gateway, stop_gateway
from tests.observer_harness import T0, Harness, nos

NAME = "FIX.4.4:ISLD->TW"
ALLOWED_LABELS = {"session", "msg_type", "feed", "symbol", "side", "strategy", "direction",
                  "type", "reason", "kind", "session_state", "le"}


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the endpoint: (name, labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Harness, GatewayMetrics, int]]:
    metrics = GatewayMetrics()
    port = metrics.serve("127.0.0.1", 0)
    h = Harness(tmp_path, [metrics])
    yield h, metrics, port
    h.close()
    metrics.close()


def test_session_traffic_is_scraped_over_http(
        served: tuple[Harness, GatewayMetrics, int]) -> None:
    h, _, port = served
    assert port > 0
    h.logon()
    for i in range(3):
        h.send(nos(f"ORD-{i}"))
    s = scrape(port)
    assert value(s, "messages_received_total", session=NAME, msg_type="A") == 1
    assert value(s, "messages_received_total", session=NAME, msg_type="D") == 3
    assert value(s, "messages_sent_total", session=NAME, msg_type="A") == 1
    assert value(s, "messages_sent_total", session=NAME, msg_type="D") == 3  # echoed
    assert value(s, "session_connected", session=NAME) == 1
    assert value(s, "session_state", session=NAME, session_state="active") == 1
    assert value(s, "session_state", session=NAME, session_state="disconnected") == 0
    assert value(s, "session_next_sender_seq_num", session=NAME) == 5
    assert value(s, "session_next_target_seq_num", session=NAME) == 5
    assert value(s, "session_logons_total", session=NAME) == 1


def test_heartbeat_lag_follows_the_sessions_clock(
        served: tuple[Harness, GatewayMetrics, int]) -> None:
    h, _, port = served
    h.connect()
    assert math.isnan(value(scrape(port), "session_heartbeat_lag_seconds", session=NAME))
    h.send("35=A|98=0|108=30")  # Logon
    assert value(scrape(port), "session_heartbeat_lag_seconds", session=NAME) == 0
    h.advance(7.5)  # the virtual clock: nothing received for 7.5 s
    assert value(scrape(port), "session_heartbeat_lag_seconds", session=NAME) == 7.5
    h.send("35=0")
    assert value(scrape(port), "session_heartbeat_lag_seconds", session=NAME) == 0
    h.send("35=5")  # Logout: the session ends, and with it the lag (it used to keep growing)
    h.advance(60)
    assert math.isnan(value(scrape(port), "session_heartbeat_lag_seconds", session=NAME))


def test_rejects_resends_gaps_and_disconnects(
        served: tuple[Harness, GatewayMetrics, int]) -> None:
    h, _, port = served
    h.logon()
    h.send("35=D|21=1|38=5|40=1|54=1|55=IBM|60=20240506-09:30:00")  # no ClOrdID: Reject 1
    h.send("35=3|45=1|373=5|58=bad value")  # the peer rejects one of ours
    h.send("35=H|11=S1|54=1|55=IBM")  # not an echo type: BusinessMessageReject 380=3
    h.send(nos("GAP"), seq=h.peer.seq + 3)  # a gap: we ask for a resend
    h.send("35=2|7=1|16=0", seq=h.peer.seq + 3)  # the peer asks us for one too (also a gap)
    h.drop()
    s = scrape(port)
    rejects = {k: v for k, v in s.items() if k[0] == "rejects_total"}
    assert value(s, "rejects_total", session=NAME, direction="out", type="session",
                 reason="1") == 1
    assert value(s, "rejects_total", session=NAME, direction="in", type="session",
                 reason="5") == 1
    assert value(s, "rejects_total", session=NAME, direction="out", type="business",
                 reason="3") == 1
    assert sum(rejects.values()) == 3
    assert value(s, "resends_total", session=NAME, direction="out") >= 1
    assert value(s, "sequence_gaps_total", session=NAME) == 1  # one gap, two messages past it
    assert value(s, "session_connected", session=NAME) == 0
    assert value(s, "session_disconnects_total", session=NAME) == 1
    assert value(s, "session_state", session=NAME, session_state="disconnected") == 1


def test_resend_served_counts_resent_and_gap_filled(
        served: tuple[Harness, GatewayMetrics, int]) -> None:
    h, _, port = served
    h.logon()
    h.send("35=1|112=a")  # answered: our seq 2 and 3 are Heartbeats
    h.send("35=1|112=b")
    h.send(nos("ORD-1"))  # echoed: our seq 4 is an application message
    h.send("35=2|7=1|16=0")  # resend everything: 1-3 one gap fill, the echo resent
    s = scrape(port)
    assert value(s, "resends_total", session=NAME, direction="in") == 1
    assert value(s, "resent_messages_total", session=NAME, kind="resent") == 1
    # the messages the gap fill stands for (it counted the one SequenceReset)
    assert value(s, "resent_messages_total", session=NAME, kind="gap_fill") == 3


def test_venue_feed_and_algo_metrics(served: tuple[Harness, GatewayMetrics, int]) -> None:
    _, m, port = served
    m.ingestion_latency(0.00003, feed="lobster")
    for _ in range(4):
        m.order_added("AAPL")
    m.trade("AAPL", 150)
    m.trade("AAPL", 50)
    m.book_depth("AAPL", "bid", 12)
    m.book_depth("AAPL", "ask", 9)
    m.order_submitted("twap", "AAPL")
    m.strategy_latency("twap", 0.0002)
    s = scrape(port)
    assert value(s, "ingestion_latency_seconds_count", feed="lobster") == 1
    assert value(s, "ingestion_latency_seconds_bucket", feed="lobster", le="5e-05") == 1
    assert value(s, "ingestion_latency_seconds_bucket", feed="lobster", le="1e-05") == 0
    assert value(s, "orders_added_total", symbol="AAPL") == 4
    assert value(s, "trades_executed_total", symbol="AAPL") == 2
    assert value(s, "traded_quantity_total", symbol="AAPL") == 200
    assert value(s, "book_depth_levels", symbol="AAPL", side="bid") == 12
    assert value(s, "book_depth_levels", symbol="AAPL", side="ask") == 9
    assert value(s, "orders_submitted_total", strategy="twap", symbol="AAPL") == 1
    assert value(s, "strategy_latency_seconds_sum", strategy="twap") == pytest.approx(0.0002)


def test_labels_stay_bounded_whatever_the_peer_sends(
        served: tuple[Harness, GatewayMetrics, int]) -> None:
    h, m, port = served
    h.logon()
    ids = [f"CL-{i}" for i in range(50)]
    for cl in ids:
        h.send(nos(cl))
    # Raw garbage straight to the observer: made-up MsgTypes and reject reasons.
    for i in range(300):
        m.message(h.runner, "in", f"8=FIX.4.4\x019=9\x0135=Z{i}\x0111=X{i}\x01".encode(), T0)
        made_up = Message("j")
        made_up.body.set(380, f"R{i}")
        m.event(h.runner, AppMessage(made_up), T0)
    s = scrape(port)
    known = set(load_builtin("FIX.4.4").messages) | {"unknown"}
    for (name, labels), _ in s.items():
        keys = {k for k, _ in labels}
        assert keys <= ALLOWED_LABELS, (name, keys)
        for k, v in labels:
            assert not v.startswith(("CL-", "X")), (name, labels)  # no ids as labels
            if k == "msg_type" and dict(labels).get("session") == NAME:
                assert v in known, v
            if k == "reason" and name.startswith("connections_refused"):  # _total, _created
                assert v in REFUSED_REASONS, v  # words from a fixed set, never from the wire
            elif k == "reason":
                assert re.fullmatch(r"\d{1,4}|other|none", v), v
    assert value(s, "messages_received_total", session=NAME, msg_type="unknown") == 300
    assert value(s, "rejects_total", session=NAME, direction="in", type="business",
                 reason="other") == 300


def test_caller_labels_are_capped(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    m = GatewayMetrics(registry)
    for i in range(MAX_LABEL_VALUES + 25):
        m.order_added(f"SYM{i}")
    values = {s.labels["symbol"]: s.value for metric in registry.collect()
              if metric.name == "orders_added" for s in metric.samples
              if s.name == "orders_added_total"}
    assert len(values) == MAX_LABEL_VALUES + 1 and values["other"] == 25


def test_observer_never_raises() -> None:
    m = GatewayMetrics()
    m.message(runner("S"), "in", b"8=FIX.4.4\x0135=D\x01", T0)  # no real session behind it
    m.event(object(), object(), T0)  # type: ignore[arg-type]
    errors = [s.value for metric in m.registry.collect() if metric.name ==
              "metrics_observer_errors" for s in metric.samples if s.name.endswith("_total")]
    assert errors == [2]


def test_two_instances_do_not_share_counters() -> None:
    a, b = GatewayMetrics(), GatewayMetrics()
    a.order_added("AAPL")
    assert b.registry.get_sample_value("orders_added_total", {"symbol": "AAPL"}) is None
    assert a.registry.get_sample_value("orders_added_total", {"symbol": "AAPL"}) == 1


def test_close_stops_the_endpoint() -> None:
    m = GatewayMetrics()
    port = m.serve("127.0.0.1", 0)
    assert m.port == port and scrape(port)
    m.close()
    assert m.port is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_parse_metrics_config(tmp_path: Path) -> None:
    good = tmp_path / "g.yaml"
    good.write_text("host: 0.0.0.0\nport: 0\n")
    cfg = parse_metrics_config(load_yaml(good))
    assert (cfg.host, cfg.port) == ("0.0.0.0", 0)
    empty = tmp_path / "e.yaml"
    empty.write_text("{}\n")
    assert parse_metrics_config(load_yaml(empty)) == type(cfg)()
    bad = tmp_path / "b.yaml"
    bad.write_text("host: 127.0.0.1\nport: 70000\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:2: port: expected an integer in"):
        parse_metrics_config(load_yaml(bad))


def test_refused_connections_have_a_fixed_set_of_reasons_scraped_from_the_start(
        served: tuple[Harness, GatewayMetrics, int]) -> None:
    """Every reason has its series at 0 before any refusal (a rate alert sees it); a reason
    outside the set counts as ``other``, so the label never takes a new value per call."""
    _, metrics, port = served
    samples = scrape(port)
    for reason in REFUSED_REASONS:
        assert value(samples, "connections_refused_total", reason=reason) == 0
    metrics.connection_refused("timeout")
    for i in range(MAX_LABEL_VALUES + 10):
        metrics.connection_refused(f"made-up {i}")
    samples = scrape(port)
    assert value(samples, "connections_refused_total", reason="timeout") == 1
    assert value(samples, "connections_refused_total", reason="other") == MAX_LABEL_VALUES + 10
    reasons = {dict(labels)["reason"] for name, labels in samples
               if name == "connections_refused_total"}
    assert reasons == {*REFUSED_REASONS, "other"}


def test_a_peer_cannot_create_reason_series_nor_hide_another_sessions(tmp_path: Path) -> None:
    """CLIENT1 sends 520 BusinessMessageRejects with made-up reasons 380=1000..1519 (each
    refused as an invalid value); CLIENT2's real reasons still show as themselves. The reason
    label took any 1-4 digit number, up to 500 values shared by every session, so CLIENT1
    filled the label and CLIENT2's reasons were counted as ``other``."""
    metrics = GatewayMetrics()
    hostile = Harness(tmp_path / "1", [metrics], peer="CLIENT1", app=Collector())
    honest = Harness(tmp_path / "2", [metrics], peer="CLIENT2", app=Collector())
    try:
        hostile.logon()
        for i in range(520):
            hostile.send(f"35=j|45=1|372=D|380={1000 + i}|58=made up")
        honest.logon()
        honest.send("35=8|11=A|37=O1|17=E1|150=8|39=8|55=AAPL|54=1|151=0|14=0|6=0|103=1")
        honest.send("35=8|11=B|37=O2|17=E2|150=8|39=8|55=AAPL|54=1|151=0|14=0|6=0|103=13")
        honest.send("35=9|11=C|41=A|37=O1|39=8|434=1|102=1")
    finally:
        hostile.close()
        honest.close()
    r = metrics.registry

    def count(session: str, direction: str, kind: str, reason: str) -> float | None:
        return r.get_sample_value("rejects_total", {
            "session": f"FIX.4.4:ISLD->{session}", "direction": direction, "type": kind,
            "reason": reason})

    assert count("CLIENT2", "in", "order", "1") == 1
    assert count("CLIENT2", "in", "order", "13") == 1
    assert count("CLIENT2", "in", "cancel", "1") == 1
    # refused by the session (an invalid 380), so not the application's: each counted as
    # our session Reject instead
    assert count("CLIENT1", "in", "business", "other") is None
    assert count("CLIENT1", "out", "session", "5") == 520  # we refused each: bad 380 value
    hostile_reasons = {s.labels["reason"] for m in r.collect() if m.name == "rejects"
                       for s in m.samples if s.name == "rejects_total"
                       and s.labels["session"] == "FIX.4.4:ISLD->CLIENT1"}
    assert hostile_reasons == {"5"}  # one series for 520 made-up codes


def test_reason_labels_are_the_codes_the_standard_defines(tmp_path: Path) -> None:
    """The fixed table is every value the shipped dictionaries define for each reason tag,
    and a value outside it is ``other`` whatever its length."""
    for tag, codes in REASON_CODES.items():
        defined: set[str] = set()
        for version in ("FIX.4.2", "FIX.4.4", "FIXT.1.1", "FIX.5.0SP2"):
            field = load_builtin(version).fields_by_tag.get(tag)
            if field is not None:
                defined |= set(field.values)
        assert codes == defined, tag
    m = GatewayMetrics()
    h = Harness(tmp_path, [m])
    for raw in (b"8=FIX.4.4\x0135=j\x01380=7\x01", b"8=FIX.4.4\x0135=j\x01380=19\x01",
                b"8=FIX.4.4\x0135=j\x01380=99999\x01", b"8=FIX.4.4\x0135=j\x01"):
        m.message(h.runner, "out", raw, T0)
    h.close()
    reasons = {s.labels["reason"]: s.value for metric in m.registry.collect()
               if metric.name == "rejects" for s in metric.samples
               if s.name == "rejects_total"}
    assert reasons == {"7": 1, "other": 2, "none": 1}


def test_strategy_label_is_one_name_for_both_metrics() -> None:
    """The desk reports submissions under the config's name (``twap``, ``pkg.mod:Class``)
    and latency under the strategy's class name (``Twap``): they were two series."""
    m = GatewayMetrics()
    m.order_submitted("twap", "AAPL")
    m.strategy_latency("Twap", 0.001)
    m.order_submitted("algos.example_strategy:PassivePov", "AAPL")
    m.strategy_latency("PassivePov", 0.001)
    labels = {(s.name, s.labels["strategy"]) for metric in m.registry.collect()
              for s in metric.samples if s.name in ("orders_submitted_total",
                                                    "strategy_latency_seconds_count")}
    assert labels == {("orders_submitted_total", "twap"),
                      ("strategy_latency_seconds_count", "twap"),
                      ("orders_submitted_total", "passivepov"),
                      ("strategy_latency_seconds_count", "passivepov")}


def test_a_replace_is_not_an_order_added(tmp_path: Path) -> None:
    """A replace that moves an order's price or raises its quantity rests it again in the
    book (a REST event after its REPLACE): orders_added_total counted it as a new order."""
    root = Path(__file__).resolve().parents[1]
    gw = load_config(root / "sessions/venue.yaml")
    app = VenueApplication(gw)
    app.metrics = GatewayMetrics()
    client = RecordingHandle(gw.sessions[0])
    app.on_logon(client, T0)
    dd = load_builtin("FIX.4.4")
    for text in ("35=D|11=A|54=1|38=10|40=2|44=20|55=AAPL|60=20240506-09:30:00",
                 "35=D|11=B|54=1|38=10|40=2|44=19|55=AAPL|60=20240506-09:30:00",
                 "35=G|11=A2|41=A|54=1|38=10|40=2|44=21|55=AAPL|60=20240506-09:30:00",
                 "35=G|11=B2|41=B|54=1|38=50|40=2|44=19|55=AAPL|60=20240506-09:30:00"):
        app.on_message(client, decode_bytes(frame("FIX.4.4", text), dd), T0)
    assert [m.body.get_str(150) for m in client.sent] == ["0", "0", "5", "5"]
    assert app.metrics.registry.get_sample_value("orders_added_total",
                                                 {"symbol": "AAPL"}) == 2


def test_the_metrics_url_of_an_ipv6_host_is_a_url(tmp_path: Path) -> None:
    """``metrics on http://::1:P/metrics`` was printed: not a URL anyone could open."""
    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "sessions/venue.yaml").read_text())
    config["metrics"] = {"host": "::1", "port": 0}
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    proc, _ = start_gateway(path, tmp_path / "run")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("http://[::1]:"), url
        assert b"messages_received_total" in urllib.request.urlopen(url, timeout=5).read()
    finally:
        assert stop_gateway(proc) == 0


def test_a_metrics_connection_that_sends_nothing_is_closed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Each connection holds a thread, and one that never sent its request held it for
    ever: enough idle connections and the process ran out of threads. Closing it is quiet
    (a traceback on stderr for each, at first)."""
    monkeypatch.setattr(metrics_module._Handler, "timeout", 0.3)
    m = GatewayMetrics()
    port = m.serve("127.0.0.1", 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
            assert idle.recv(1) == b""  # closed by the server, well before our 5 s
        assert b"# HELP" in urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        m.close()
    assert capsys.readouterr().err == ""


def test_a_reject_resent_to_fill_a_gap_is_counted_once(tmp_path: Path) -> None:
    """A reject sent while the link was down reaches us only as a resent copy (PossDup):
    every PossDup copy was passed over as "counted the first time", so an outage's rejects
    never showed. The copy filling the gap counts; a duplicate copy after it does not."""
    metrics = GatewayMetrics()
    h = Harness(tmp_path, [metrics], app=Collector())  # (an application taking reports)
    reject = "35=8|11=A|37=O1|17=E1|150=8|39=8|55=AAPL|54=1|151=0|14=0|6=0|103={}"
    resent = f"43=Y|122={T0:%Y%m%d-%H:%M:%S}"
    try:
        h.logon()
        h.peer.seq += 1  # MsgSeqNum 2, the reject of reason 1, is lost with the link
        h.send(reject.format(13))  # 3: a gap, we ask for 2
        h.send(reject.format(1), seq=2, header=resent)
        h.send(reject.format(1), seq=2, header=resent)  # a duplicate copy: passed over
    finally:
        h.close()

    def count(reason: str) -> float | None:
        return metrics.registry.get_sample_value("rejects_total", {
            "session": NAME, "direction": "in", "type": "order", "reason": reason})

    assert (count("1"), count("13")) == (1, 1)
    assert metrics.registry.get_sample_value("sequence_gaps_total", {"session": NAME}) == 1
