"""The FIX message as a Python object: ordered fields, repeating groups, typed accessors.

A :class:`Message` has three :class:`FieldMap` sections, ``header``, ``body`` and ``trailer``.
A field map keeps its items in order; each item is a field ``(tag, value)`` with the value as
raw ``bytes``, or a :class:`Group`, whose entries are field maps again. A group's NumInGroup
value is not stored: it is the number of entries, so it can never disagree with them.

Messages decoded by :mod:`gateway.codec` keep the order they arrived in; the encoder decides
the order on the wire. Setting a value converts it to bytes (see :func:`to_bytes`); reading
it back in a type is done with the ``get_*`` accessors, which raise ``ValueError`` if the
stored value is not of that type (it can only be so if validation was skipped).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from fixspec.fieldtypes import (
    TimePrecision,
    format_utc_timestamp,
    parse_decimal,
    parse_utc_timestamp,
)

__all__ = ["Field", "FieldMap", "FieldValue", "Group", "Item", "Message", "decimal_bytes",
           "item_tag", "to_bytes", "value_bytes", "value_text"]

Field = tuple[int, bytes]
FieldValue = bytes | str | int | Decimal | float | bool

# Tags the typed properties of Message read and write.
BEGIN_STRING = 8
BODY_LENGTH = 9
CHECKSUM = 10
MSG_SEQ_NUM = 34
MSG_TYPE = 35
POSS_DUP_FLAG = 43
SENDER_COMP_ID = 49
SENDING_TIME = 52
TARGET_COMP_ID = 56
POSS_RESEND = 97
ORIG_SENDING_TIME = 122


def value_text(value: bytes) -> str:
    """A FIX value as text: UTF-8, a byte that is not UTF-8 kept as a lone surrogate
    (``surrogateescape``), so that :func:`value_bytes` gives the very bytes back. An ID a
    peer sent in latin-1 (``caf\\xe9``) is echoed as it came, and two such IDs stay two
    (decoded with replacement, ``caf\\xe9`` and ``caf\\xe8`` were one ID, echoed as
    neither)."""
    return value.decode("utf-8", "surrogateescape")


def value_bytes(text: str) -> bytes:
    """``text`` as FIX bytes: UTF-8, the bytes :func:`value_text` kept as they came."""
    return text.encode("utf-8", "surrogateescape")


def to_bytes(value: FieldValue) -> bytes:
    """The wire form of ``value``.

    ``bytes`` are kept as they are; ``str`` is :func:`value_bytes`; ``bool`` becomes ``Y``/``N``;
    ``int`` is written in decimal; ``Decimal`` and ``float`` are written in plain positional
    notation (never an exponent, which FIX does not allow; a float goes through its shortest
    repr, so ``0.1`` is ``0.1``). NaN and infinities raise ``ValueError``. Times need an explicit
    precision, so datetimes are refused with a ``TypeError`` pointing to
    :func:`fixspec.fieldtypes.format_utc_timestamp`.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")  # value_bytes, without the call
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot send {value!r} in FIX")
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return decimal_bytes(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    hint = "; format it with format_utc_timestamp()" if isinstance(value, (datetime, date)) else ""
    raise TypeError(f"cannot convert {type(value).__name__} to a FIX value{hint}")


def decimal_bytes(value: Decimal) -> bytes:
    """:func:`to_bytes` of a Decimal (plain positional notation; NaN and infinities raise
    ``ValueError``), for callers that know the type (the venue's ExecutionReports)."""
    if not value.is_finite():
        raise ValueError(f"cannot send {value!r} in FIX")
    return format(value, "f").encode("ascii")


class Group:
    """A repeating group: ``tag`` is its NumInGroup tag, ``delimiter`` the tag that opens each
    entry, ``entries`` the entries in order."""

    __slots__ = ("delimiter", "entries", "tag")

    def __init__(self, tag: int, delimiter: int, entries: Iterable[FieldMap] = ()) -> None:
        self.tag = tag
        self.delimiter = delimiter
        self.entries: list[FieldMap] = list(entries)

    def add(self, *fields: tuple[int, FieldValue] | Group) -> FieldMap:
        """Append an entry holding ``fields`` (fields or nested groups) and return it."""
        entry = FieldMap(fields)
        self.entries.append(entry)
        return entry

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[FieldMap]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> FieldMap:
        return self.entries[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Group):
            return NotImplemented
        return (self.tag, self.delimiter, self.entries) == (
            other.tag,
            other.delimiter,
            other.entries,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Group({self.tag}, delimiter={self.delimiter}, entries={self.entries!r})"

    def copy(self) -> Group:
        """A deep copy."""
        return Group(self.tag, self.delimiter, (e.copy() for e in self.entries))


Item = Field | Group


class FieldMap:
    """Fields and groups in order. Lookups by tag see this level only (not inside groups)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[int, FieldValue] | Group] = ()) -> None:
        self._items: list[Item] = [
            item if isinstance(item, Group) else (item[0], to_bytes(item[1])) for item in items]

    @classmethod
    def wrap(cls, items: list[Item]) -> FieldMap:
        """A field map that takes ``items`` as they are, values already ``bytes`` (the
        decoder's path: no copy, no conversion). The list now belongs to the field map."""
        out = cls.__new__(cls)  # (not __init__: nothing to convert)
        out._items = items
        return out

    # -- container protocol ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, tag: object) -> bool:
        return any(item_tag(item) == tag for item in self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldMap):
            return NotImplemented
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"FieldMap({self._items!r})"

    def tags(self) -> list[int]:
        """Tags at this level in order (a group as its NumInGroup tag)."""
        return [item_tag(item) for item in self._items]

    def copy(self) -> FieldMap:
        """A deep copy."""
        return FieldMap.wrap(
            [item.copy() if isinstance(item, Group) else item for item in self._items])

    # -- raw access -------------------------------------------------------------------------
    def get(self, tag: int) -> bytes | None:
        """The first value of ``tag`` at this level; for a group, its entry count."""
        for item in self._items:
            if isinstance(item, Group):
                if item.tag == tag:
                    return str(len(item.entries)).encode("ascii")
            elif item[0] == tag:
                return item[1]
        return None

    def __getitem__(self, tag: int) -> bytes:
        value = self.get(tag)
        if value is None:
            raise KeyError(tag)
        return value

    def set(self, tag: int, value: FieldValue) -> None:
        """Replace the first field ``tag`` at this level, or append it if absent."""
        self.update(((tag, to_bytes(value)),))

    def update(self, fields: Iterable[tuple[int, bytes]]) -> None:
        """For each of ``fields`` (values already ``bytes``), in order: replace the first
        field of its tag at this level, or append it if absent; one pass over this level."""
        first: dict[int, int] = {}
        items = self._items
        for i, item in enumerate(items):
            if not isinstance(item, Group):
                first.setdefault(item[0], i)
        for field in fields:
            at = first.get(field[0])
            if at is None:
                first[field[0]] = len(items)
                items.append(field)
            else:
                items[at] = field

    def append(self, tag: int, value: FieldValue) -> None:
        """Append a field even if ``tag`` is already present (the decoder's path, and a way to
        build deliberately broken messages in tests)."""
        self._items.append((tag, to_bytes(value)))

    def remove(self, tag: int) -> bool:
        """Remove every field or group ``tag`` at this level; True if anything was removed."""
        return self.remove_tags((tag,))

    def remove_tags(self, tags: Collection[int]) -> bool:
        """Remove every field or group whose tag is in ``tags`` at this level, in one pass;
        True if anything was removed."""
        kept = [item for item in self._items if item_tag(item) not in tags]
        removed = len(kept) != len(self._items)
        self._items = kept
        return removed

    def group(self, tag: int) -> Group | None:
        """The group whose NumInGroup tag is ``tag``, if present at this level."""
        for item in self._items:
            if isinstance(item, Group) and item.tag == tag:
                return item
        return None

    def set_group(self, group: Group) -> Group:
        """Put ``group`` in place of a group or field with the same tag, or append it."""
        for i, item in enumerate(self._items):
            if item_tag(item) == group.tag:
                self._items[i] = group
                return group
        self._items.append(group)
        return group

    def add_group(self, group: Group) -> Group:
        """Append ``group`` even if one with that tag exists (decoder path)."""
        self._items.append(group)
        return group

    def flatten(self) -> Iterator[Field]:
        """Every field in stored order, groups written as NumInGroup then their entries."""
        for item in self._items:
            if isinstance(item, Group):
                yield item.tag, str(len(item.entries)).encode("ascii")
                for entry in item.entries:
                    yield from entry.flatten()
            else:
                yield item

    # -- typed access -----------------------------------------------------------------------
    def get_str(self, tag: int) -> str | None:
        """The value as text (:func:`value_text`: UTF-8, any other byte kept, never raised)."""
        value = self.get(tag)
        return None if value is None else value.decode("utf-8", "surrogateescape")

    def get_int(self, tag: int) -> int | None:
        value = self.get(tag)
        if value is None:
            return None
        if not value.lstrip(b"-").isdigit():
            raise ValueError(f"tag {tag}: {value!r} is not an integer")
        return int(value)

    def get_decimal(self, tag: int) -> Decimal | None:
        value = self.get(tag)
        return None if value is None else parse_decimal(value)

    def get_bool(self, tag: int) -> bool | None:
        value = self.get(tag)
        if value is None:
            return None
        if value not in (b"Y", b"N"):
            raise ValueError(f"tag {tag}: {value!r} is not Y or N")
        return value == b"Y"

    def get_utc_timestamp(self, tag: int) -> datetime | None:
        value = self.get(tag)
        return None if value is None else parse_utc_timestamp(value)


def item_tag(item: Item) -> int:
    """The tag of an item of a field map: a field's, or a group's NumInGroup tag."""
    return item.tag if isinstance(item, Group) else item[0]


class Message:
    """A FIX message: ``header``, ``body`` and ``trailer`` field maps.

    ``raw`` holds the bytes the message was decoded from (None for a message built here); it
    is informational and not kept in step with later changes. BodyLength (9) and CheckSum (10)
    are computed by the encoder; values set for them here are ignored when encoding.
    """

    __slots__ = ("body", "header", "raw", "trailer")

    def __init__(self, msg_type: str | None = None, *, begin_string: str | None = None) -> None:
        self.header = FieldMap()
        self.body = FieldMap()
        self.trailer = FieldMap()
        self.raw: bytes | None = None
        if begin_string is not None:
            self.header.set(BEGIN_STRING, begin_string)
        if msg_type is not None:
            self.header.set(MSG_TYPE, msg_type)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.header, self.body, self.trailer) == (other.header, other.body, other.trailer)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        shown = "|".join(f"{t}={v.decode('latin-1')}" for t, v in self.fields())
        return f"Message({shown})"

    @classmethod
    def of(cls, header: FieldMap, body: FieldMap, trailer: FieldMap,
           raw: bytes | None = None) -> Message:
        """A message made of these field maps (taken, not copied)."""
        out = cls.__new__(cls)  # (not __init__: its empty field maps would be replaced)
        out.header, out.body, out.trailer, out.raw = header, body, trailer, raw
        return out

    @classmethod
    def flat(cls, msg_type: str, fields: Iterable[Field]) -> Message:
        """A message of type ``msg_type`` whose body is ``fields`` (values already bytes),
        as :meth:`gateway.session.Session.send_fields` sends it; nothing else in its
        header."""
        return cls.of(FieldMap.wrap([(MSG_TYPE, msg_type.encode("ascii"))]),
                      FieldMap.wrap([*fields]), FieldMap())

    def copy(self) -> Message:
        """A deep copy (``raw`` included)."""
        return Message.of(self.header.copy(), self.body.copy(), self.trailer.copy(), self.raw)

    def fields(self) -> Iterator[Field]:
        """All fields in stored order: header, body, trailer, groups flattened."""
        yield from self.header.flatten()
        yield from self.body.flatten()
        yield from self.trailer.flatten()

    def get(self, tag: int) -> bytes | None:
        """The first value of ``tag`` at the top level of the header, body or trailer."""
        for section in (self.header, self.body, self.trailer):
            value = section.get(tag)
            if value is not None:
                return value
        return None

    def __contains__(self, tag: object) -> bool:
        return tag in self.header or tag in self.body or tag in self.trailer

    # -- typed header fields ----------------------------------------------------------------
    @property
    def begin_string(self) -> str | None:
        return self.header.get_str(BEGIN_STRING)

    @begin_string.setter
    def begin_string(self, value: str) -> None:
        self.header.set(BEGIN_STRING, value)

    @property
    def msg_type(self) -> str | None:
        return self.header.get_str(MSG_TYPE)

    @msg_type.setter
    def msg_type(self, value: str) -> None:
        self.header.set(MSG_TYPE, value)

    @property
    def msg_seq_num(self) -> int | None:
        return self.header.get_int(MSG_SEQ_NUM)

    @msg_seq_num.setter
    def msg_seq_num(self, value: int) -> None:
        self.header.set(MSG_SEQ_NUM, value)

    @property
    def sender_comp_id(self) -> str | None:
        return self.header.get_str(SENDER_COMP_ID)

    @sender_comp_id.setter
    def sender_comp_id(self, value: str) -> None:
        self.header.set(SENDER_COMP_ID, value)

    @property
    def target_comp_id(self) -> str | None:
        return self.header.get_str(TARGET_COMP_ID)

    @target_comp_id.setter
    def target_comp_id(self, value: str) -> None:
        self.header.set(TARGET_COMP_ID, value)

    @property
    def poss_dup(self) -> bool:
        """PossDupFlag (43); absent reads as False."""
        return self.header.get_bool(POSS_DUP_FLAG) or False

    @poss_dup.setter
    def poss_dup(self, value: bool) -> None:
        self.header.set(POSS_DUP_FLAG, value)

    @property
    def poss_resend(self) -> bool:
        """PossResend (97); absent reads as False."""
        return self.header.get_bool(POSS_RESEND) or False

    @property
    def sending_time(self) -> datetime | None:
        """SendingTime (52) as an aware UTC datetime (sub-microsecond digits dropped)."""
        return self.header.get_utc_timestamp(SENDING_TIME)

    @property
    def orig_sending_time(self) -> datetime | None:
        return self.header.get_utc_timestamp(ORIG_SENDING_TIME)

    def set_sending_time(
        self, t: datetime | int, precision: TimePrecision = TimePrecision.MILLIS
    ) -> None:
        """Set SendingTime (52) from ``t`` (aware datetime or ns since the epoch); the caller
        passes the time, the message never reads a clock."""
        self.header.set(SENDING_TIME, format_utc_timestamp(t, precision))
