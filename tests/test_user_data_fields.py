"""A session dictionary's user-defined DATA field, read by its LENGTH field as the standard
ones are: its value may hold SOH (QuickFIX reads it so). The framer knew the standard pairs
only, so such a message was dropped as garbled and asked for again for ever."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.framing import Framer, FrameStatus, extra_data_fields
from fixspec.dictionary import SessionDictionaries, builtin_session, load
from gateway.codec import decode_bytes
from gateway.config import SessionConfig
from gateway.session import AppMessage, Session
from gateway.store import MemoryStore
from tests.fixpeer import Peer

SHIPPED = Path(__file__).resolve().parents[1] / "fixspec" / "data" / "FIX44.xml"
T0 = datetime(2026, 11, 29, 14, 30, tzinfo=UTC)


def broker_dictionary(tmp_path: Path) -> Path:
    """The shipped FIX 4.4 dictionary with MyDataLen (5005, LENGTH) and MyData (5006, DATA)
    on NewOrderSingle."""
    text = SHIPPED.read_text()
    text = text.replace(" <fields>\n", " <fields>\n"
                        "  <field number='5005' name='MyDataLen' type='LENGTH' />\n"
                        "  <field number='5006' name='MyData' type='DATA' />\n", 1)
    order = "<message name='NewOrderSingle' msgtype='D' msgcat='app'>\n"
    assert order in text
    text = text.replace(order, order + "   <field name='MyDataLen' required='N' />\n"
                                       "   <field name='MyData' required='N' />\n", 1)
    path = tmp_path / "BROKER44.xml"
    path.write_text(text)
    return path


def test_the_dictionary_names_its_data_fields(tmp_path: Path) -> None:
    """By QuickFIX's rule: a DATA field's length is the field numbered one below it; one
    data field to each length field, however the messages lay them out (a LENGTH field
    listed before DATA fields in two messages stopped the session from starting)."""
    path = broker_dictionary(tmp_path)
    text = path.read_text().replace(
        " <fields>\n", " <fields>\n  <field number='5008' name='OtherData' type='DATA' />\n", 1)
    report = "<message name='ExecutionReport' msgtype='8' msgcat='app'>\n"
    text = text.replace(report, report + "   <field name='MyDataLen' required='N' />\n"
                                         "   <field name='OtherData' required='N' />\n", 1)
    path.write_text(text)
    pairs = SessionDictionaries.single(load(path)).data_fields()
    assert {(5005, 5006), (95, 96), (93, 89)} <= pairs
    assert (5007, 5008) in pairs  # QuickFIX's rule: the tag one below, whatever it is
    Session(SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", dictionary=str(path)),
            MemoryStore(T0), load(path), app_types={"D"})  # starts


def test_decoding_by_the_dictionary_reads_its_data_fields_too(tmp_path: Path) -> None:
    dd = load(broker_dictionary(tmp_path))
    raw = Peer().msg("35=D|11=A|5005=3|5006=a\x01b|21=1|38=100|40=1|54=1|55=IBM"
                     "|60=20261129-14:30:00", now=T0)
    assert decode_bytes(raw, dd).body.get(5006) == b"a\x01b"


def test_a_user_defined_data_field_may_hold_soh(tmp_path: Path) -> None:
    path = broker_dictionary(tmp_path)
    cfg = SessionConfig("FIX.4.4", "ISLD", "TW", role="acceptor", dictionary=str(path))
    s = Session(cfg, MemoryStore(T0), load(path), app_types={"D"})
    s.connection_made(T0)
    peer = Peer()
    s.data_received(peer.logon(now=T0), T0)
    order = ("35=D|11=A|5005=3|5006=a\x01b|21=1|38=100|40=1|54=1|55=IBM"
             "|60=20261129-14:30:00")
    out = s.data_received(peer.msg(order, now=T0), T0)
    [got] = [e.message for e in out.events if isinstance(e, AppMessage)]
    assert got.body.get(5006) == b"a\x01b" and out.data == []
    out = s.data_received(peer.msg("35=0", now=T0), T0)
    assert out.data == [], "no ResendRequest: the order used its number"


def test_the_framer_reads_only_the_pairs_it_is_given() -> None:
    raw = Peer().msg("35=D|11=A|5005=3|5006=a\x01b", now=T0)
    assert Framer().scan(raw, final=True).status(0) is not FrameStatus.OK
    batch = Framer(data_fields=[(5005, 5006)]).scan(raw, final=True)
    assert batch.status(0) is FrameStatus.OK
    assert (5006, b"a\x01b") in batch.fields(0)


@pytest.mark.parametrize("versions", [("FIX.4.2",), ("FIX.4.4",), ("FIXT.1.1", "FIX.5.0SP2")])
def test_a_standard_dictionary_adds_nothing_to_the_framers_own_pairs(
        versions: tuple[str, ...]) -> None:
    """FIX 5.0SP2 gives some data fields a length that is not the tag one below (2371's is
    2372; 1697's is 1678): the tag-one-below rule paired PartyDetailSubIDType (1696, an INT)
    with 1697, and a standard message would have been cut at the wrong length."""
    assert extra_data_fields(builtin_session(*versions).data_fields()) == ()
    raw = Peer().msg("35=D|11=A|1696=5|1697=abc", now=T0)
    batch = Framer(data_fields=builtin_session("FIXT.1.1", "FIX.5.0SP2").data_fields()).scan(
        raw, final=True)
    assert (1697, b"abc") in batch.fields(0)
