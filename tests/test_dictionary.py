"""Data dictionaries: the shipped QuickFIX files load into the layouts sessions rely on, and a
broken customised file fails at load time naming the file, the line and the fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixspec.dictionary import (
    BUILTIN_FILES,
    MAX_NESTING,
    DictionaryError,
    FieldRef,
    GroupDef,
    SessionDictionaries,
    builtin_session,
    load,
    load_builtin,
    load_bytes,
)

SHARED_SPEC = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixspec"


@pytest.mark.parametrize(
    ("version", "n_fields", "n_messages"),
    [("FIX.4.2", 405, 46), ("FIX.4.4", 912, 93), ("FIXT.1.1", 71, 8), ("FIX.5.0SP2", 6028, 156)],
)
def test_builtin_dictionaries_load_with_all_fields_and_messages(
    version: str, n_fields: int, n_messages: int
) -> None:
    d = load_builtin(version)
    assert d.version == version
    assert len(d.fields_by_tag) == len(d.fields_by_name) == n_fields
    assert len(d.messages) == len(d.messages_by_name) == n_messages


def test_load_builtin_is_cached_and_rejects_unknown_versions() -> None:
    assert load_builtin("FIX.4.4") is load_builtin("FIX.4.4")
    with pytest.raises(KeyError, match=r"FIX\.4\.2"):
        load_builtin("FIX.4.3")


def test_lookups_by_tag_and_by_name() -> None:
    d = load_builtin("FIX.4.4")
    side = d.field(54)
    assert side is d.field("Side") is d.fields_by_name["Side"]
    assert (side.tag, side.name, side.type) == (54, "Side", "CHAR")
    assert side.values["1"] == "BUY"
    assert d.messages["D"] is d.messages_by_name["NewOrderSingle"]
    assert d.message("D").name == "NewOrderSingle"
    assert d.message("A").is_admin and not d.message("D").is_admin
    with pytest.raises(KeyError, match="no field 99999"):
        d.field(99999)
    with pytest.raises(KeyError, match="no MsgType 'ZZ'"):
        d.message("ZZ")


def test_header_and_trailer_of_fix44() -> None:
    d = load_builtin("FIX.4.4")
    assert d.header.required_tags == {8, 9, 35, 49, 56, 34, 52}
    assert d.trailer.required_tags == {10}
    hops = d.header.groups[627]
    assert hops.name == "NoHops" and hops.delimiter == 628
    # Signature (89) is the data field of SignatureLength (93): the encoder needs this pair.
    assert d.trailer.data_lengths[89] == 93


def test_new_order_single_layout_flattens_components() -> None:
    nos = load_builtin("FIX.4.4").message("D")
    # Required: ClOrdID, Side, TransactTime, OrdType; Instrument is required but its fields
    # are optional in QuickFIX's FIX44, so component flattening adds none.
    assert nos.required_tags == {11, 54, 60, 40}
    parties = nos.groups[453]
    assert isinstance(parties, GroupDef)
    assert (parties.name, parties.delimiter, parties.required) == ("NoPartyIDs", 448, False)
    sub = parties.groups[802]  # nested: PtysSubGrp inside each party
    assert sub.delimiter == 523 and sub.tags == {523, 803}
    assert [m.tag for m in parties.members] == [448, 447, 452, 802]
    assert 55 in nos.tags  # Symbol, from the Instrument component


def test_fix44_target_strategy_twap_and_algo_fields() -> None:
    d = load_builtin("FIX.4.4")
    assert d.field(847).values["1001"] == "TWAP"
    assert {847, 848, 849} <= d.message("D").tags
    # StrategyParametersGrp (957) is FIX 5.0 only.
    assert 957 not in d.fields_by_tag
    assert 957 in load_builtin("FIX.5.0SP2").fields_by_tag


@pytest.mark.skipif(not SHARED_SPEC.is_dir(), reason="../shared/data/fixspec not present")
@pytest.mark.parametrize("version", list(BUILTIN_FILES))
def test_shipped_dictionaries_equal_quickfix_except_twap(version: str) -> None:
    ours = load_builtin(version)
    theirs = load(SHARED_SPEC / BUILTIN_FILES[version])
    for tag, fd in theirs.fields_by_tag.items():
        mine = ours.fields_by_tag[tag]
        if version in ("FIX.4.4", "FIX.5.0SP2") and tag == 847:
            # user-defined strategies: TWAP, the example strategy, the naive baseline
            assert dict(mine.values) == {**fd.values, "1001": "TWAP", "1002": "PASSIVE_POV",
                                         "1003": "MARKET_AT_START"}
        else:
            assert mine == fd
    assert set(ours.messages) == set(theirs.messages)
    for msg_type, md in theirs.messages.items():
        assert _shape(ours.messages[msg_type].members) == _shape(md.members)


def _shape(members: tuple[FieldRef | GroupDef, ...]) -> list[object]:
    return [
        (m.tag, m.required, _shape(m.members)) if isinstance(m, GroupDef) else (m.tag, m.required)
        for m in members
    ]


def test_fixt_pairs_transport_and_application_dictionaries() -> None:
    sd = builtin_session("FIXT.1.1")
    assert sd.begin_string == "FIXT.1.1"
    assert sd.header is sd.transport.header and 1128 in sd.header.tags  # ApplVerID
    logon = sd.message("A")
    order = sd.message("D")
    assert logon is not None and logon[1] is sd.transport and logon[0].is_admin
    assert order is not None and order[1] is sd.app and order[0].name == "NewOrderSingle"
    assert sd.message("ZZ") is None
    # The 5.0SP2 application dictionary has no session header and cannot be a transport.
    with pytest.raises(ValueError, match="no session header"):
        SessionDictionaries.single(load_builtin("FIX.5.0SP2"))
    # FIX 4.x has one dictionary for both roles.
    with pytest.raises(ValueError, match="one dictionary"):
        SessionDictionaries(load_builtin("FIX.4.4"), load_builtin("FIX.5.0SP2"))
    assert builtin_session("FIX.4.2").app is load_builtin("FIX.4.2")


MINI = """<fix type='FIX' major='4' minor='4' servicepack='0'>
 <header>
  <field name='BeginString' required='Y' />
  <field name='BodyLength' required='Y' />
  <field name='MsgType' required='Y' />
 </header>
 <messages>
  <message name='Order' msgtype='D' msgcat='app'>
   <field name='ClOrdID' required='Y' />
   <component name='Outer' required='{outer}' />
  </message>
 </messages>
 <trailer>
  <field name='CheckSum' required='Y' />
 </trailer>
 <components>
  <component name='Outer'>
   <field name='Symbol' required='Y' />
   <group name='NoLegs' required='Y'>
    <field name='LegSymbol' required='N' />
    <field name='LegSide' required='Y' />
   </group>
  </component>
 </components>
 <fields>
  <field number='8' name='BeginString' type='STRING' />
  <field number='9' name='BodyLength' type='LENGTH' />
  <field number='10' name='CheckSum' type='STRING' />
  <field number='11' name='ClOrdID' type='STRING' />
  <field number='35' name='MsgType' type='STRING' />
  <field number='55' name='Symbol' type='STRING' />
  <field number='555' name='NoLegs' type='NUMINGROUP' />
  <field number='600' name='LegSymbol' type='STRING' />
  <field number='624' name='LegSide' type='CHAR' />
 </fields>
</fix>
"""


@pytest.mark.parametrize(("outer", "required"), [("Y", {11, 55, 555}), ("N", {11})])
def test_required_flags_count_only_inside_required_components(
    outer: str, required: set[int]
) -> None:
    d = load_bytes(MINI.format(outer=outer).encode(), "mini.xml")
    order = d.message("D")
    assert order.required_tags == required
    # Inside an entry, the group's own flags apply whatever the enclosing component says.
    assert order.groups[555].required_tags == {624}


def _broken(old: str, new: str) -> bytes:
    text = MINI.format(outer="Y")
    assert old in text, old
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "<field name='ClOrdID' required='Y' />",
            "<field name='ClOrdId' required='Y' />",
            9,
            "message 'Order' (35=D) refers to unknown field 'ClOrdId'",
        ),
        (
            "<component name='Outer' required",
            "<component name='Other' required",
            10,
            "unknown component 'Other'",
        ),
        (
            "<field name='Symbol' required='Y' />",
            "<field name='Symbol' required='Y' /><component name='Outer' required='N' />",
            18,
            "component 'Outer' includes itself (Outer -> Outer)",
        ),
        ("number='55' name='Symbol' type='STRING'", "number='11' name='Symbol' type='STRING'",
         31, "field 'Symbol': number 11 already used by 'ClOrdID'"),
        ("name='Symbol' type='STRING'", "name='Symbol' type='STRNG'", 31, "unknown type 'STRNG'"),
        ("<field name='ClOrdID' required='Y' />", "<field name='ClOrdID' required='yes' />",
         9, "required='YES', expected Y or N"),
        ("<group name='NoLegs' required='Y'>", "<group name='NoLeg' required='Y'>",
         19, "group 'NoLeg' has no field of that name"),
        ("number='555' name='NoLegs' type='NUMINGROUP'", "number='555' name='NoLegs' type='STRING'",
         19, "counter has type STRING"),
        ("<field name='LegSide' required='Y' />", "<field name='LegSide' required='Y' /><foo/>",
         21, "unexpected <foo>"),
        ("msgcat='app'", "msgcat='application'", 8, "msgcat='application'"),
        ("<field name='ClOrdID' required='Y' />",
         "<field name='ClOrdID' required='Y' /><field name='ClOrdID' required='N' />",
         9, "tag 11 appears twice at the same level"),
        ("<field name='MsgType' required='Y' />", "", 2, "must contain tag 35"),
        ("<field number='600' name='LegSymbol' type='STRING' />", "<field number='600' />",
         33, "<field> in <fields> has no 'name' attribute"),
        ("number='600'", "number='six'", 33, "number='six' is not an integer"),
        (" </fields>", " </fields>\n <extras/>", 36, "unexpected element <extras> in <fix>"),
        ("<field name='Symbol' required='Y' />", "<field name='Symbol' required='Y'>",
         23, "not well-formed XML"),
    ],
)
def test_broken_xml_names_file_line_and_fault(old: str, new: str, line: int, message: str) -> None:
    with pytest.raises(DictionaryError) as info:
        load_bytes(_broken(old, new), "counterparty.xml")
    err = info.value
    assert message in str(err)
    assert str(err).startswith(f"counterparty.xml:{line}: ")
    assert (err.source, err.line) == ("counterparty.xml", line)


def test_empty_group_and_missing_fields_section_are_errors() -> None:
    with pytest.raises(DictionaryError, match="group 'NoLegs' has no fields"):
        load_bytes(
            _broken(
                "    <field name='LegSymbol' required='N' />\n"
                "    <field name='LegSide' required='Y' />\n",
                "",
            )
        )
    with pytest.raises(DictionaryError, match="no <fields> section"):
        load_bytes(b"<fix type='FIX' major='4' minor='4'><header/></fix>")


def test_load_from_path_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "CUSTOM44.xml"
    path.write_bytes(_broken("<field name='ClOrdID'", "<field name='Nope'"))
    with pytest.raises(DictionaryError, match=rf"^{path}:9: message 'Order'"):
        load(path)
    path.write_bytes(MINI.format(outer="Y").encode())
    d = load(path)
    assert d.source == str(path) and d.version == "FIX.4.4"


@pytest.mark.parametrize("kind", ["components", "groups"])
def test_nesting_past_the_limit_is_a_dictionary_error(kind: str) -> None:
    """Components or groups nested some hundreds deep exhausted Python's stack: a
    RecursionError traceback where every other problem is a DictionaryError naming the file
    and line."""
    depth = MAX_NESTING + 5
    if kind == "components":
        chain = "".join(f"<component name='C{i}'><component name='C{i + 1}' required='N' />"
                        "</component>" for i in range(depth))
        chain += f"<component name='C{depth}'><field name='Symbol' required='N' /></component>"
    else:
        inner = "<field name='LegSide' required='N' />"
        for _ in range(depth):
            inner = f"<group name='NoLegs' required='N'>{inner}</group>"
        chain = f"<component name='Deep'>{inner}</component>"
    with pytest.raises(DictionaryError, match=f"nested more than {MAX_NESTING} deep"):
        load_bytes(_broken(" <components>\n", f" <components>\n{chain}\n"), "deep.xml")
