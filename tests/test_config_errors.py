"""Config errors an operator reads: one ``FILE:LINE: key: reason``, pointing at the culprit.

Covers a bad ``schedule:`` (whose messages once carried the prefix twice) and two sessions
given one store file (once accepted, so both wrote one record log)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from tests.test_cmd_run import run_gateway

ROOT = Path(__file__).resolve().parents[1]

SESSIONS = """\
acceptor: {port: 0}
sessions:
  - begin_string: FIX.4.4
    sender_comp_id: ISLD
    target_comp_id: TW
    {extra}
  - begin_string: FIX.4.4
    sender_comp_id: ISLD
    target_comp_id: TW2
"""


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gw.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def assert_one_prefix(message: str, path: Path, line: int, key: str) -> None:
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert len(re.findall(r"\.yaml:\d+:", message)) == 1, message  # not repeated inside


@pytest.mark.parametrize(("schedule", "key", "reason"), [
    ('{start: "25:00", end: "17:00"}', "sessions[0].schedule.start", "expected a time"),
    ('{start: "08:00", end: "7pm"}', "sessions[0].schedule.end", "expected a time"),
    ('{start: "08:00", end: "17:00", timezone: Nowhere/Land}', "sessions[0].schedule.timezone",
     "unknown time zone 'Nowhere/Land'"),
    ('{start: "08:00", end: "17:00", timezone: ../etc/passwd}', "sessions[0].schedule.timezone",
     "unknown time zone"),
    ('{start: "08:00", end: "17:00", start_day: someday, end_day: fri}',
     "sessions[0].schedule.start_day", "unknown day 'someday'"),
    ('{start: "08:00", end: "17:00", start_day: mon}', "sessions[0].schedule",
     "needs both start_day and end_day"),
])
def test_a_bad_schedule_is_named_once(tmp_path: Path, schedule: str, key: str,
                                      reason: str) -> None:
    message = error_of(tmp_path, SESSIONS.replace("{extra}", f"schedule: {schedule}"))
    assert_one_prefix(message, tmp_path / "gw.yaml", 6, key)
    assert reason in message


def test_a_good_schedule_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(SESSIONS.replace(
        "{extra}", 'schedule: {start: "08:00", end: "17:00", timezone: Europe/London,'
                   " start_day: mon, end_day: fri}"))
    schedule = load_config(path).sessions[0].schedule
    assert schedule is not None
    assert (schedule.timezone, schedule.start_day, schedule.end_day) == ("Europe/London", 0, 4)


def test_a_store_path_in_defaults_shared_by_every_session_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, """\
        acceptor: {port: 0}
        defaults:
          begin_string: FIX.4.4
          sender_comp_id: ISLD
          store:
            path: shared.store
        sessions:
          - {target_comp_id: TW}
          - {target_comp_id: TW2}
        """)
    assert_one_prefix(message, tmp_path / "gw.yaml", 6, "defaults.store.path")
    assert "sessions 0 (FIX.4.4:ISLD->TW) and 1 (FIX.4.4:ISLD->TW2)" in message
    assert f"store file {tmp_path / 'shared.store'}" in message


def test_two_sessions_naming_one_store_file_two_ways_are_refused(tmp_path: Path) -> None:
    # the same file written differently: relative to the config, and through a ".."
    (tmp_path / "sub").mkdir()
    message = error_of(tmp_path, SESSIONS.replace(
        "{extra}", "store: {path: a.store}").replace(
        "    target_comp_id: TW2\n",
        "    target_comp_id: TW2\n    store: {fsync: never,\n            path: sub/../a.store}\n"))
    assert_one_prefix(message, tmp_path / "gw.yaml", 11, "sessions[1].store.path")
    assert "would share the store file" in message


def test_a_session_with_its_own_store_section_does_not_inherit_the_shared_path(
        tmp_path: Path) -> None:
    # A session's store replaces the defaults' store whole: TW2 keeps the default path.
    path = tmp_path / "gw.yaml"
    path.write_text(textwrap.dedent("""\
        acceptor: {port: 0}
        defaults:
          begin_string: FIX.4.4
          sender_comp_id: ISLD
          store: {path: shared.store}
        sessions:
          - {target_comp_id: TW}
          - {target_comp_id: TW2, store: {fsync: never}}
          - {target_comp_id: TW3, store: {kind: memory, path: shared.store}}
        """))
    stores = [s.store for s in load_config(path).sessions]
    assert [s.path for s in stores] == [tmp_path / "shared.store", None,
                                        tmp_path / "shared.store"]
    assert [s.kind for s in stores] == ["file", "file", "memory"]


@pytest.mark.parametrize(("text", "line", "what"), [
    ("acceptor: {port: 1}\ndefaults:\n  begin_string: FIX.4.4\n  sender_comp_id: A\n"
     "  store: {path: one.store}\nsessions:\n  - {target_comp_id: B}\n  - {target_comp_id: C}\n",
     5, "defaults.store.path: sessions 0 (FIX.4.4:A->B) and 1 (FIX.4.4:A->C) would share"),
    ("acceptor: {port: 1}\nsessions:\n  - begin_string: FIX.4.4\n    sender_comp_id: A\n"
     "    target_comp_id: B\n    schedule: {start: '08:00', end: '17:00', timezone: Mars/Base}\n",
     6, "sessions[0].schedule.timezone: unknown time zone 'Mars/Base'"),
])
def test_gateway_run_reports_them_in_one_line(tmp_path: Path, text: str, line: int,
                                               what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = run_gateway(tmp_path, path, "--port", "0")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"gateway: error: {path}:{line}: {what}"), proc.stderr
    assert proc.stderr.count(f"{path}:") == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "run").exists()  # refused before any store was opened


def test_a_password_variable_that_is_not_set_stops_start_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Else the gateway starts and refuses every Logon of the session with no hint why."""
    monkeypatch.delenv("GW_TEST_PASSWORD_UNSET", raising=False)
    text = SESSIONS.replace("{extra}", "username: tw\n    password_env: GW_TEST_PASSWORD_UNSET")
    message = error_of(tmp_path, text)
    assert "password_env: the environment variable GW_TEST_PASSWORD_UNSET is not set" in message
    monkeypatch.setenv("GW_TEST_PASSWORD_UNSET", "secret")
    path = tmp_path / "gw.yaml"
    assert load_config(path).sessions[0].password() == "secret"


def test_tls_on_an_acceptor_session_is_an_error_not_plain_text(tmp_path: Path) -> None:
    """A session's tls secures an initiator's connection; on an acceptor session it used to be
    ignored, and the port served plain text to whoever thought it was encrypted."""
    cert, key = tmp_path / "gw.crt", tmp_path / "gw.key"
    message = error_of(tmp_path, SESSIONS.replace("{extra}", f"tls: {{cert: {cert}, key: {key}}}"))
    assert_one_prefix(message, tmp_path / "gw.yaml", 6, "sessions[0].tls")
    assert "session FIX.4.4:ISLD->TW is an acceptor: its connections use acceptor.tls" in message
    in_defaults = (f"defaults:\n  tls: {{cert: {cert}, key: {key}}}\n"
                   + SESSIONS.replace("    {extra}\n", ""))
    message = error_of(tmp_path, in_defaults)
    assert_one_prefix(message, tmp_path / "gw.yaml", 2, "defaults.tls")


# Values that were accepted and left the gateway running but never working: each now stops
# start-up at its key (line 6 is the first session's key, where {extra} goes).
@pytest.mark.parametrize(("extra", "key", "reason"), [
    ("schedule: {start: '13:30:00Z', end: '17:00', timezone: America/New_York}",
     "sessions[0].schedule.start", "without a UTC offset"),  # the offset was dropped
    ("schedule: {start: 17:00:00, end: '18:00'}", "sessions[0].schedule.start",
     "17:00:00 is read as the number 61200 (base 60): quote it ('17:00:00')"),
    # the fraction was dropped: a window within one second became a whole day
    ("schedule: {start: '08:00:00.5', end: '08:00:00.9'}", "sessions[0].schedule.start",
     "expected a time to the second HH:MM:SS, got '08:00:00.5'"),
    # an integer past a float's range: OverflowError, a traceback
    (f"sending_time_tolerance: 1{'0' * 400}", "sessions[0].sending_time_tolerance",
     "got an integer of 401 digits"),
    ("schedule: {start: '08:00', end: '17:00', start_day: Monkey, end_day: fri}",
     "sessions[0].schedule.start_day", "unknown day 'Monkey'"),  # was read as Monday
    ("host: 0.0.0.0", "sessions[0].host", "is an acceptor: it is reached on the acceptor's"),
    ("port: 9999", "sessions[0].port", "a forgotten role: initiator?"),
    ("reconnect: {initial_delay: 1}", "sessions[0].reconnect",
     "an acceptor does not connect out"),
])
def test_a_value_that_would_be_ignored_or_misread_stops_start_up(
        tmp_path: Path, extra: str, key: str, reason: str) -> None:
    message = error_of(tmp_path, SESSIONS.replace("{extra}", extra))
    assert_one_prefix(message, tmp_path / "gw.yaml", 6, key)
    assert reason in message


def test_day_names_are_a_days_name_or_its_start() -> None:
    from gateway.schedule import parse_day
    assert [parse_day(d) for d in ("mon", "Tues", "WED", "thursday", "Fri", "sat", "Sunday")] \
        == list(range(7))
    for bad in ("Monkey", "Satan", "mo", "weds", "sundays"):
        with pytest.raises(ValueError, match="unknown day"):
            parse_day(bad)


INITIATOR = """\
sessions:
  - begin_string: FIX.4.4
    sender_comp_id: TW
    target_comp_id: ISLD
    role: initiator
    host: 127.0.0.1
    port: 9880
    {extra}
"""


@pytest.mark.parametrize(("delay", "value"), [("initial_delay", 0), ("max_delay", 0)])
def test_a_zero_reconnect_delay_is_refused(tmp_path: Path, delay: str, value: float) -> None:
    """It retried in a tight loop (a thousand attempts and 100 KB of event log a second)."""
    message = error_of(tmp_path, INITIATOR.replace("{extra}", f"reconnect: {{{delay}: {value}}}"))
    assert_one_prefix(message, tmp_path / "gw.yaml", 8, f"sessions[0].reconnect.{delay}")
    assert "expected a number in [0.001" in message


def test_a_reconnect_backoff_starting_above_its_cap_is_refused(tmp_path: Path) -> None:
    """initial_delay 60 with max_delay 5 was taken silently: one of the two is a typo."""
    message = error_of(tmp_path, INITIATOR.replace(
        "{extra}", "reconnect: {initial_delay: 60, max_delay: 5}"))
    assert_one_prefix(message, tmp_path / "gw.yaml", 8, "sessions[0].reconnect.initial_delay")
    assert "initial_delay 60 s is above max_delay 5 s" in message
    # one of them alone, set beside the other's default, is the backoff's to cap
    path = tmp_path / "alone.yaml"
    path.write_text(INITIATOR.replace("{extra}", "reconnect: {max_delay: 0.2}"))
    assert load_config(path).sessions[0].reconnect.max_delay == 0.2


@pytest.mark.parametrize(("tls", "key", "reason"), [
    ("{ca: ca.pem}", "acceptor.tls", "an acceptor's TLS needs cert"),  # refused every client
    ("{key: k.pem}", "acceptor.tls.key", "a key needs the cert it belongs to"),
    ("{cert: c.pem, ca: ca.pem, key: k.pem, verify_peer: true, x: 1}", "acceptor.tls.x",
     "unknown key"),
    ("{cert: c.pem, key: k.pem, verify_peer: true}", "acceptor.tls.verify_peer",
     "true needs ca"),  # client certificates were silently not asked for
    ("{key_password_env: K}", "acceptor.tls.key_password_env",
     "a key's passphrase needs the cert"),
])
def test_an_acceptor_tls_that_cannot_do_what_it_says_is_refused(
        tmp_path: Path, tls: str, key: str, reason: str) -> None:
    message = error_of(tmp_path, SESSIONS.replace("acceptor: {port: 0}",
                                                  f"acceptor: {{port: 0, tls: {tls}}}")
                       .replace("    {extra}\n", ""))
    assert_one_prefix(message, tmp_path / "gw.yaml", 1, key)
    assert reason in message


def test_an_acceptor_tls_asks_for_client_certificates_exactly_when_it_has_a_ca(
        tmp_path: Path) -> None:
    def acceptor_tls(tls: str) -> object:
        path = tmp_path / "gw.yaml"
        path.write_text(SESSIONS.replace("acceptor: {port: 0}",
                                         f"acceptor: {{port: 0, tls: {tls}}}")
                        .replace("    {extra}\n", ""))
        acceptor = load_config(path).acceptor
        assert acceptor is not None and acceptor.tls is not None
        return acceptor.tls.verify_peer

    assert acceptor_tls("{cert: c.pem, key: k.pem}") is False
    assert acceptor_tls("{cert: c.pem, key: k.pem, ca: ca.pem}") is True
    assert acceptor_tls("{cert: c.pem, key: k.pem, ca: ca.pem, verify_peer: false}") is False


def test_a_tls_key_passphrase_is_named_by_its_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(SESSIONS.replace("acceptor: {port: 0}", "acceptor: {port: 0, tls: "
                                     "{cert: c.pem, key: k.pem, key_password_env: GW_KEY}}")
                    .replace("    {extra}\n", ""))
    acceptor = load_config(path).acceptor
    assert acceptor is not None and acceptor.tls is not None
    assert acceptor.tls.key_password_env == "GW_KEY"


@pytest.mark.parametrize(("text", "env", "reason"), [
    # an acceptor checks both: with no password, every Logon was refused
    (SESSIONS.replace("{extra}", "username: tw"), None,
     "username on an acceptor session needs password_env"),
    # FIX 4.2 has no 553/554: our own acceptor (and QuickFIX's) rejects such a Logon
    (INITIATOR.replace("FIX.4.4", "FIX.4.2").replace(
        "{extra}", "username: tw\n    password_env: GW_TEST_PW"), "secret",
     "FIX.4.2 defines no Username (553) or Password (554)"),
    # the Logon went out with an empty 554=, which is not FIX
    (INITIATOR.replace("{extra}", "username: tw\n    password_env: GW_TEST_PW"), "",
     "GW_TEST_PW is set but empty"),
])
def test_credentials_that_could_never_log_on_stop_start_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: str | None,
        reason: str) -> None:
    if env is not None:
        monkeypatch.setenv("GW_TEST_PW", env)
    assert reason in error_of(tmp_path, text)


def test_an_initiator_may_send_a_username_alone(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(INITIATOR.replace("{extra}", "username: tw"))
    assert load_config(path).sessions[0].username == "tw"


FIXT = """\
acceptor: {port: 0}
sessions:
  - begin_string: FIXT.1.1
    sender_comp_id: ISLD
    target_comp_id: TW
    default_appl_ver_id: FIX.5.0SP1
    {extra}
"""


def test_a_fixt_application_version_without_a_built_in_dictionary_needs_its_file(
        tmp_path: Path) -> None:
    """FIX.5.0 and 5.0SP1 passed the check, then start-up died with a KeyError traceback,
    even with app_dictionary naming the file."""
    message = error_of(tmp_path, FIXT.replace("    {extra}\n", ""))
    assert_one_prefix(message, tmp_path / "gw.yaml", 3, "sessions[0]")
    assert "default_appl_ver_id FIX.5.0SP1 has no built-in dictionary: name its file with " \
           "app_dictionary" in message
    from gateway.session_runner import dictionaries_for
    path = tmp_path / "gw.yaml"
    path.write_text(FIXT.replace("{extra}", f"app_dictionary: "
                                            f"{ROOT / 'fixspec/data/FIX50SP2.xml'}"))
    dictionaries = dictionaries_for(load_config(path).sessions[0])
    assert dictionaries.app.version == "FIX.5.0SP2"  # the file's, whatever the label


def test_names_of_symbols_and_sessions_are_keys_as_written(tmp_path: Path) -> None:
    """YAML reads the key ON as true and 0700 as 448 (octal): a symbol ON was refused as
    "unknown key; expected one of AAPL, True", and a ticker 0700 became 448."""
    from algos.risk import parse_risk
    from gateway.venue_config import parse_venue
    from gateway.yamlcheck import load_yaml

    path = tmp_path / "venue.yaml"
    path.write_text("venue:\n  symbols: {ON: {}, 0700: {tick_size: 0.01}, AAPL: {}}\n"
                    "risk:\n  sessions: {0700: {max_order_qty: 5}}\n")
    top = load_yaml(path).mapping({"venue", "risk"})
    assert set(parse_venue(top["venue"], tmp_path).symbols) == {"ON", "0700", "AAPL"}
    assert set(parse_risk(top["risk"]).sessions) == {"0700"}


def test_names_given_as_values_are_taken_as_written_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unquoted CompID ON was refused at start-up ("expected a non-empty string, got
    True") and 0700 as 448; so were symbols named in lists and orders. A quoted one is the
    string it quotes; a name left empty is still an error."""
    from gateway.algo_config import parse_algos
    from gateway.client_order import parse_client
    from gateway.venue_config import parse_venue
    from gateway.yamlcheck import load_yaml

    monkeypatch.setenv("GW_TEST_PASSWORD", "secret")
    path = tmp_path / "gw.yaml"
    path.write_text(textwrap.dedent("""\
        acceptor: {host: 127.0.0.1, port: 0}
        defaults: {begin_string: FIX.4.4, sender_comp_id: 0700, application: venue}
        sessions:
          - {target_comp_id: ON, username: NO, password_env: GW_TEST_PASSWORD}
          - target_comp_id: "0700"
        """))
    config = load_config(path)
    assert [(s.sender_comp_id, s.target_comp_id, s.username) for s in config.sessions] == [
        ("0700", "ON", "NO"), ("0700", "0700", None)]
    venue = tmp_path / "venue.yaml"
    venue.write_text("venue:\n  symbols: {ON: {}}\n"
                     "  market_data: {log: md.log, symbols: [ON]}\n"
                     "client:\n  orders: [{symbol: ON, side: buy, qty: 100, strategy: 0700}]\n"
                     "algos: {router: ON}\n")
    (tmp_path / "md.log").write_bytes(b"")
    top = load_yaml(venue).mapping({"venue", "client", "algos"})
    feed = parse_venue(top["venue"], tmp_path).market_data
    assert feed is not None and feed.symbols == frozenset({"ON"})
    assert [(o.symbol, o.strategy) for o in parse_client(top["client"])] == [("ON", "0700")]
    assert parse_algos(top["algos"], tmp_path).router == "ON"
    path.write_text(path.read_text().replace("target_comp_id: ON", "target_comp_id: ~"))
    with pytest.raises(ConfigError, match="target_comp_id: expected a non-empty string"):
        load_config(path)


def venue_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    """The ConfigError ``venue:`` section ``text`` (YAML under ``venue:``) gives, and the file."""
    from gateway.venue_config import parse_venue
    from gateway.yamlcheck import load_yaml

    path = tmp_path / "venue.yaml"
    path.write_text(f"venue:\n{text}")
    with pytest.raises(ConfigError) as info:
        parse_venue(load_yaml(path).mapping({"venue"})["venue"], tmp_path)
    return path, str(info.value)


@pytest.mark.parametrize(("symbol", "key", "reason"), [
    ("{min_price: 200, max_price: 100}", "min_price",
     "min_price 200 is above max_price 100: no price passes both"),
    ("{lot_size: 100, max_qty: 50}", "max_qty",
     "max_qty 50 is less than one lot (100): no quantity passes both"),
    ("{lot_size: 20000000}", "lot_size",
     "max_qty 10000000 is less than one lot (20000000): no quantity passes both"),
])
def test_a_symbol_no_order_could_pass_is_refused(tmp_path: Path, symbol: str, key: str,
                                                 reason: str) -> None:
    path, message = venue_error(tmp_path, f"  symbols:\n    AAPL: {symbol}\n")
    assert message == f"{path}:3: venue.symbols.AAPL.{key}: {reason}"


def test_an_empty_list_of_market_data_logs_is_refused(tmp_path: Path) -> None:
    path, message = venue_error(tmp_path, "  symbols: {AAPL: {}}\n  market_data: {log: []}\n")
    assert message == f"{path}:3: venue.market_data.log: expected a log file or a list of them"


@pytest.mark.parametrize(("order", "reason"), [
    ("{symbol: AMZN, side: buy, qty: 1000, limit: 1.0e+300}",
     "1E+300 has more than 30 digits before the decimal point: no gateway takes it"),
    (f"{{symbol: AMZN, side: buy, qty: 1{'0' * 35}}}",
     f"1{'0' * 35} has more than 30 digits before the decimal point: no gateway takes it"),
])
def test_a_client_order_no_gateway_takes_is_refused(tmp_path: Path, order: str,
                                                    reason: str) -> None:
    from gateway.client_order import parse_client
    from gateway.yamlcheck import load_yaml

    path = tmp_path / "client.yaml"
    path.write_text(f"client:\n  orders:\n    - {order}\n")
    with pytest.raises(ConfigError) as info:
        parse_client(load_yaml(path).mapping({"client"})["client"])
    assert reason in str(info.value) and str(info.value).startswith(f"{path}:3: "), info.value


def test_yaml_merge_keys_are_merged_in_every_mapping(tmp_path: Path) -> None:
    """<< was an unknown key in the checked mappings, and read as a strategy code or a
    CompID in the free-form ones (it had worked there before they were read as written)."""
    from algos.risk import parse_risk
    from gateway.algo_config import parse_algos
    from gateway.yamlcheck import load_yaml

    path = tmp_path / "gw.yaml"
    path.write_text(textwrap.dedent("""\
        acceptor: {port: 0}
        sessions:
          - &base {begin_string: FIX.4.4, sender_comp_id: ISLD, target_comp_id: TW}
          - {<<: *base, target_comp_id: TW2, sender_comp_id: OTHER}
        algos:
          strategies: {<<: {"7": twap, "1001": vwap}, "1001": twap}
        risk:
          sessions: {<<: {TW: &limits {max_order_qty: 5}}, TW2: {<<: *limits}}
        """))
    config = load_config(path)
    assert [(s.sender_comp_id, s.target_comp_id) for s in config.sessions] == [
        ("ISLD", "TW"), ("OTHER", "TW2")]  # the mapping's own key wins over the merged one
    assert parse_algos(config.extra["algos"], tmp_path).strategies == {"7": "twap",
                                                                        "1001": "twap"}
    risk = parse_risk(load_yaml(path).mapping({"acceptor", "sessions", "algos", "risk"})["risk"])
    assert {k: v.max_order_qty for k, v in risk.sessions.items()} == {"TW": 5, "TW2": 5}


def test_a_name_key_yaml_reads_as_null_is_refused(tmp_path: Path) -> None:
    path, message = venue_error(tmp_path, "  symbols: {AAPL: {}, ~: {}}\n")
    assert message == (f"{path}:2: venue.symbols: expected a name for a key of symbol: "
                       "{tick_size, lot_size, ...}, got '~'")


def test_a_huge_number_where_no_bound_is_set_is_said_too_large(tmp_path: Path) -> None:
    """An integer past a float's range was an OverflowError traceback; then "expected a
    number <= None" (no bound), or "> 0" for a value that is above 0."""
    from gateway.yamlcheck import load_yaml

    path = tmp_path / "x.yaml"
    path.write_text(f"x: 1{'0' * 400}\n")
    x = load_yaml(path).mapping({"x"})["x"]
    for low in (None, 0.0):
        with pytest.raises(ConfigError) as info:
            x.number(low, above=low is not None)
        assert str(info.value) == f"{path}:1: x: an integer of 401 digits is too large a number"


ONE = "sessions: [{begin_string: FIX.4.4, sender_comp_id: A, target_comp_id: B}]\n"


@pytest.mark.parametrize(("text", "line", "reason"), [
    # a key that is no plain value: a TypeError (unhashable) once merges were expanded
    ("? [a]\n: 1\nacceptor: {port: 0}\n", 1, "a key is a name, not a list or mapping"),
    # a mapping merged into itself: a RecursionError
    ("acceptor: &a {port: 0, <<: *a}\nsessions: [{begin_string: FIX.4.4, sender_comp_id: A,"
     " target_comp_id: B}]\n", None, None),
    # a key given twice inside a merged mapping: the first value was taken silently
    ("defaults: {<<: {begin_string: FIX.4.4, begin_string: FIX.4.2}}\nsessions: []\n", 1,
     "defaults.begin_string: key given twice"),
    # two merges: the first was taken, where YAML takes the last
    ("defaults: {<<: {begin_string: FIX.4.4}, <<: {begin_string: FIX.4.2}}\nsessions: []\n",
     1, "defaults.<<: key given twice"),
    # values YAML cannot make: the library's ValueError, KeyError, ConstructorError
    (f"acceptor: {{port: !!int abc}}\n{ONE}", 1,
     "acceptor.port: YAML cannot read this value: invalid literal for int()"),
    (f"acceptor: {{port: 0}}\ndefaults: {{reset_on_logon: !!bool maybe}}\n{ONE}", 2,
     "defaults.reset_on_logon: YAML cannot read this value:"),
    (f"acceptor: {{port: {'9' * 5000}}}\n{ONE}", 1,
     "acceptor.port: YAML cannot read this value: Exceeds the limit (4300 digits)"),
    (f"acceptor: {{port: 0x{'f' * 4000}}}\n{ONE}", 1,
     "acceptor.port: expected an integer in [0, 65535], got an integer of about 4817 digits"),
], ids=["list-key", "self-merge", "twice-in-merge", "two-merges", "bad-int-tag",
        "bad-bool-tag", "5000-digits", "huge-hex"])
def test_merges_and_odd_keys_are_config_errors_not_crashes(
        tmp_path: Path, text: str, line: int | None, reason: str | None) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    if reason is None:  # loads: the self-merge adds nothing (as YAML reads it)
        load_config(path)
        return
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:{line}: {reason}"), info.value


@pytest.mark.parametrize(("symbols", "reason"), [
    ("{[AMZN]: {}}", "a key is a name, not a list or mapping, in a mapping of symbol"),
    ("{'': {}}", "expected a name for a key of symbol: {tick_size, lot_size, ...}, got "
                 "'nothing'"),
])
def test_a_symbol_key_that_is_no_name_is_refused(tmp_path: Path, symbols: str,
                                                  reason: str) -> None:
    path, message = venue_error(tmp_path, f"  symbols: {symbols}\n")
    assert message.startswith(f"{path}:2: venue.symbols: {reason}"), message
