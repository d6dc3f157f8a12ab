"""What is left to validate of a message whose shape has passed validation once.

Every check of :func:`fixspec.validate.validate` but three depends only on the message's
*shape*: its MsgType and the tags at each level, groups and their entries included (required
fields, a tag repeated at one level, a tag not defined for the message, a group entry not
opening with its delimiter). The other three read each value: empty (4), data format (6) and
enumerated value (5). A session's messages come in few shapes, so once a shape has passed the
full check, a :class:`ShapePlan` holds, for each value of that shape, the value checks the
validator makes of it, and a later message of the same shape needs only those.

The contract: :meth:`ShapePlan.passes` returns True only when the full check would pass too.
It does not say which fault a message has: on False the caller runs the full check, which
reports the fault QuickFIX would. The validator keeps plans by dictionary object, options,
direction and shape in a :class:`PerDictionary`, the bounded cache the codec uses for what it
learns of shapes too.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from fixspec.dictionary import FieldDef, FieldSet, SessionDictionaries
from fixspec.fieldtypes import MULTI_VALUE_TYPES, SOH, STRING_TYPES, format_check

__all__ = ["MAX_PLANS", "MAX_SHAPE_FIELDS", "PerDictionary", "ShapePlan", "plan_of", "shape_of"]

MAX_PLANS = 1024  # a cache's default bound (PerDictionary)
#: Shapes are learnt of messages of at most this many fields; a longer one is handled in full
#: each time. No real message has that many outside its groups, and a peer's long ones (a
#: message may be a megabyte of fields) must not fill the caches' memory: with this bound
#: the three caches hold at most about 50 MB whatever comes in (bench/bench_codec.py).
MAX_SHAPE_FIELDS = 256

V = TypeVar("V")


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


Shape = tuple[Any, ...]


def _walk(fields: Iterable[Any], shape: list[Any], values: list[bytes]) -> None:
    """Append the tags of one level to ``shape`` (a group as ``(tag, entries)`` then each
    entry after a ``None``) and its values, in the same pre-order, to ``values``."""
    for item in fields:
        if isinstance(item, tuple):
            shape.append(item[0])
            values.append(item[1])
        else:
            shape.append((item.tag, len(item.entries)))
            for entry in item.entries:
                shape.append(None)
                _walk(entry, shape, values)


def shape_of(msg_type: str, sections: tuple[Iterable[Any], ...]) -> tuple[Shape, list[bytes]]:
    """The shape key of a message (MsgType, then each section's tags, a ``-1`` between
    sections) and its values in the order of :class:`ShapePlan`'s checks."""
    shape: list[Any] = [msg_type]
    values: list[bytes] = []
    for fields in sections:
        shape.append(-1)
        _walk(fields, shape, values)
    return tuple(shape), values


class ShapePlan:
    """The value checks of one shape, by kind, each with the index of its value in
    :func:`shape_of`'s order: ``enums`` membership of an enumeration, ``multis`` a
    multiple-value field's format and each of its tokens' membership, ``formats`` a type's
    format, ``texts`` no SOH in a text field. Values the validator does not look at (a tag it
    does not define, or inside a group let through undefined) are in none of them."""

    __slots__ = ("enums", "formats", "multis", "texts")

    def __init__(self) -> None:
        self.enums: list[tuple[int, frozenset[bytes]]] = []
        self.multis: list[tuple[int, Callable[[bytes], bool], frozenset[bytes]]] = []
        self.formats: list[tuple[int, Callable[[bytes], bool]]] = []
        self.texts: list[int] = []

    def add(self, index: int, fd: FieldDef) -> None:
        """Check the value at ``index`` as the validator checks a value of ``fd``."""
        well_formed = format_check(fd.type)
        if fd.values:
            multi = fd.type in MULTI_VALUE_TYPES
            # a value not latin-1 encodable matches no token decoded from the wire as latin-1
            tokens = (v.encode("latin-1") for v in fd.values if _latin1(v))
            if multi:
                self.multis.append((index, well_formed, frozenset(tokens)))
            else:  # less the values its format refuses: a value in the set passes both
                self.enums.append((index, frozenset(t for t in tokens if t and well_formed(t))))
        elif fd.type in STRING_TYPES:
            self.texts.append(index)
        else:
            self.formats.append((index, well_formed))

    def passes(self, values: list[bytes]) -> bool:
        """True if every value passes the checks the validator makes of it; False means
        "run the full check", not necessarily that it fails. Any empty value is False: what
        the validator makes of one depends on the options, and the full check knows them."""
        if not all(values):
            return False
        for i, allowed in self.enums:
            if values[i] not in allowed:
                return False
        for i, well_formed in self.formats:
            if not well_formed(values[i]):
                return False
        for i, well_formed, tokens in self.multis:
            if not (well_formed(values[i]) and tokens.issuperset(values[i].split(b" "))):
                return False
        # framed values hold no SOH: one search over all of them settles the usual case
        return SOH not in b"".join(values) or not any(SOH in values[i] for i in self.texts)


def plan_of(sections: tuple[tuple[Iterable[Any], FieldSet], ...],
            defines: Callable[[int], FieldDef | None]) -> ShapePlan:
    """The plan of a message that has just passed the full check: ``sections`` pairs each
    section (in :func:`shape_of`'s order) with its layout, ``defines`` is the validator's
    lookup of a tag the layout does not hold."""
    plan = ShapePlan()
    index = 0
    for fields, layout in sections:
        index = _plan_level(fields, layout, defines, plan, index)
    return plan


def _plan_level(fields: Iterable[Any], layout: FieldSet | None,
                defines: Callable[[int], FieldDef | None], plan: ShapePlan, index: int) -> int:
    """Plan one level from ``index`` on and return the next index. The validator's view:
    each field's definition at this level, else anywhere in the dictionary; a group's
    entries by its definition here, not looked into when it has none here (a group let
    through undefined)."""
    for item in fields:
        if isinstance(item, tuple):
            fd = None if layout is None else layout.fields.get(item[0]) or defines(item[0])
            if fd is not None:
                plan.add(index, fd)
            index += 1
        else:
            inner = None
            if layout is not None and item.tag in layout.fields:
                inner = layout.groups.get(item.tag)
            for entry in item.entries:
                index = _plan_level(entry, inner, defines, plan, index)
    return index


class PerDictionary(Generic[V]):
    """What was learnt of messages of a shape, by dictionary pairing and key (the
    validator's plans, the codec's splits and layouts): at most ``limit`` values in all,
    cleared when full (a peer sending ever new shapes costs time, not memory); a pairing's
    are dropped with it."""

    def __init__(self, limit: int = MAX_PLANS) -> None:
        self.limit = limit
        self._by_dictionary: weakref.WeakKeyDictionary[SessionDictionaries, dict[
            Hashable, V]] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return sum(map(len, self._by_dictionary.values()))

    def held_for(self, sd: SessionDictionaries) -> int:
        """How many values it holds for ``sd``."""
        return len(self._by_dictionary.get(sd, ()))

    def get(self, sd: SessionDictionaries, key: Hashable) -> V | None:
        known = self._by_dictionary.get(sd)
        return None if known is None else known.get(key)

    def put(self, sd: SessionDictionaries, key: Hashable, value: V) -> None:
        """(Only after a :meth:`get` missed: a message handled in full, rare by design.)"""
        if len(self) >= self.limit:
            self._by_dictionary.clear()
        self._by_dictionary.setdefault(sd, {})[key] = value
