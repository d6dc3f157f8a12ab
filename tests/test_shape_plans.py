"""The validator's per-shape plans (fixspec/shape_plans.py): a message whose shape has passed
once is checked by its values alone, and must get the same answer as the full check."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixspec.dictionary import SessionDictionaries, builtin_session, load_builtin
from fixspec.reject import FixProtocolError, Reject
from fixspec.shape_plans import MAX_PLANS, MAX_SHAPE_FIELDS, PerDictionary, shape_of
from fixspec.validate import _PLANS, ValidationOptions, _check_fully, validate
from gateway.codec import _LAYOUTS, _SECTIONS, decode, encode
from gateway.fixmessage import Message
from tests.test_validate import BASE

FIX44 = builtin_session("FIX.4.4")
Fields = list[tuple[int, bytes]]

# BASE (enumerations, formats, a group) with the other kinds of check a plan makes: a
# multiple-value enumeration (ExecInst, 18) and free text (58)
SHAPED: Fields = [*BASE[:-1], (18, b"1 2 G"), (58, b"some text"), BASE[-1]]

#: values that fail some check of some field (format, enumeration, emptiness), and a few
#: that pass many
ODD_VALUES = [
    b"", b"Z", b"?", b"1e5", b"-1", b"0", b"1", b"2", b"D", b"Y", b"101.25", b".5",
    b"20241302-13:45:01", b"20240230-13:45:01.123", b"20240102-24:00:00",
    b"20240102-13:60:00", b"20240102-13:45:61", b"20240102-13:45:60", b"20240102-13:45:01",
    b"1 2", b"1  2", b"1 !", b" ", b"a\x01b", b"999999999999999999999", b"FIX.4.4",
]

OPTIONS = [
    ValidationOptions(),
    ValidationOptions(check_fields_have_values=False),
    ValidationOptions(allow_unknown_message_fields=True, check_user_defined_fields=False),
]


def outcome(check: object, message: Message, options: ValidationOptions) -> Reject | None:
    try:
        if check is validate:
            validate(message, FIX44, options)
        else:
            _check_fully(message, FIX44, options, False)
    except FixProtocolError as exc:
        return exc.reject
    return None


def mutated(fields: Fields, changes: list[tuple[int, bytes]]) -> Fields:
    out = list(fields)
    for index, value in changes:
        i = 2 + index % (len(out) - 3)  # never 8, 9 or 10: the framer's business
        out[i] = (out[i][0], value)
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(OPTIONS),
       st.lists(st.tuples(st.integers(0, 100), st.sampled_from(ODD_VALUES)), max_size=3))
def test_a_planned_shape_gets_the_full_checks_answer(
        options: ValidationOptions, changes: list[tuple[int, bytes]]) -> None:
    assert outcome(validate, decode(SHAPED, None, FIX44, options=options), options) is None
    try:
        message = decode(mutated(SHAPED, changes), None, FIX44, options=options)
    except FixProtocolError:
        return  # the decoder's to answer (a group count, say), before any validation
    assert outcome(validate, message, options) == outcome(_check_fully, message, options)


def test_a_valid_message_is_planned_once_and_its_values_still_checked() -> None:
    message = decode(SHAPED, None, FIX44)
    validate(message, FIX44)
    shape, _values = shape_of("D", (message.header, message.trailer, message.body))
    key = (ValidationOptions(), False, shape)
    plan = _PLANS.get(FIX44, key)
    assert plan is not None
    validate(message, FIX44)
    assert _PLANS.get(FIX44, key) is plan
    for tag, value in [(54, b"Z"), (38, b"1e5"), (60, b"20240230-13:45:01"), (18, b"1 !"),
                       (55, b"")]:
        bad = decode([(t, value if t == tag else v) for t, v in SHAPED], None, FIX44)
        try:
            validate(bad, FIX44)
        except FixProtocolError as exc:
            assert exc.reject.ref_tag == tag
        else:
            raise AssertionError(f"tag {tag}={value!r} passed")


def test_plans_are_bounded() -> None:
    options = ValidationOptions(check_user_defined_fields=False)
    for n in range(MAX_PLANS + 10):  # each a new shape: a user-defined tag let through
        fields = [*BASE[:-1], (5000 + n, b"x"), BASE[-1]]
        validate(decode(fields, None, FIX44, options=options), FIX44, options)
        assert 0 < len(_PLANS) <= MAX_PLANS


def test_a_cache_of_what_shapes_teach_is_bounded_and_per_dictionary() -> None:
    cache: PerDictionary[int] = PerDictionary(limit=3)
    other = builtin_session("FIX.4.2")
    cache.put(FIX44, "a", 1)
    cache.put(other, "a", 2)
    cache.put(FIX44, "a", 3)  # replaced, not counted twice
    assert (cache.get(FIX44, "a"), cache.get(other, "a"), len(cache)) == (3, 2, 2)
    cache.put(FIX44, "b", 4)
    cache.put(FIX44, "c", 5)  # full: cleared first
    assert (cache.get(FIX44, "a"), cache.get(FIX44, "c"), len(cache)) == (None, 5, 1)


def test_a_message_of_more_fields_than_a_shape_may_have_is_never_learnt() -> None:
    # a peer's long messages must not fill the caches: checked, decoded and encoded in full
    sd = SessionDictionaries.single(load_builtin("FIX.4.4"))  # a pairing nothing has learnt
    options = ValidationOptions(check_user_defined_fields=False)
    head = [f for f in BASE[:-1] if f[0] not in (453, 448, 447, 452)]  # no group: all learn
    tail = BASE[-1:]

    def learnt(fields: Fields) -> list[int]:
        message = decode(fields, None, sd, options=options)
        validate(message, sd, options)
        assert encode(message, sd).count(b"\x01") == len(fields)
        return [cache.held_for(sd) for cache in (_SECTIONS, _PLANS, _LAYOUTS)]

    user_defined = [(5000 + i, b"x") for i in range(MAX_SHAPE_FIELDS)]
    assert learnt([*head, *user_defined, *tail]) == [0, 0, 0]
    # the longest learnt: as many fields as the bound
    fit = MAX_SHAPE_FIELDS - len(head) - len(tail)
    assert learnt([*head, *user_defined[:fit], *tail]) == [1, 1, 1]
