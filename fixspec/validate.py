"""Validate a decoded FIX message against a data dictionary.

Every failure raises :class:`~fixspec.reject.RemoteProtocolError` (a message we received) or,
with ``outbound=True``, :class:`~fixspec.reject.LocalProtocolError` (a message we are about to
send), carrying a :class:`~fixspec.reject.Reject` with the SessionRejectReason, RefTagID,
RefMsgType and RefSeqNum. The first problem found is reported, in the order QuickFIX and
QuickFIX/J check (so a message with several faults gets the same answer from us as from them):

1. MsgType: absent 1, not in the dictionary 11;
2. required fields (1): header, trailer, body, then each group entry of the body (and of the
   header), each level in ascending tag order;
3. each field of the header, the trailer, then the body, in ascending tag order (BeginString,
   BodyLength and MsgType first in the header, CheckSum last in the trailer), then each group
   entry the same way (its fields in dictionary order): repeated at one level (13), empty value
   (4), data format (6), enumerated value (5), then tag number (0: not positive or not in the
   dictionary; 2: not defined for this message or group), and each group entry for opening
   with its delimiter (15). Format and value are checked for every tag the dictionary defines,
   even one the switches let through where it is not defined.

Structure problems found while decoding (first tags not 8, 9, 35; header fields after body
fields; NumInGroup count; a tag repeated at one level) are raised by the decoder, before any
of these, with the same mechanism.

The checks other than empty, format and enumerated value depend only on the message's shape
(its MsgType and the tags at each level): a message of a shape that has passed once is checked
by its values alone, and checked in full only when one of them fails
(:mod:`fixspec.shape_plans`), so the answer is the same, at a third of the cost.

The validator reads messages through small protocols (:class:`MessageView`) so that this
package does not depend on the gateway's message class; :class:`gateway.fixmessage.Message`
satisfies them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from fixspec.dictionary import (
    DataDictionary,
    FieldDef,
    FieldSet,
    GroupDef,
    SessionDictionaries,
    as_session,
)
from fixspec.fieldtypes import (
    EMPTY_TEXT_TYPES,
    enum_tokens,
    is_valid_format,
    parse_utc_timestamp,
)
from fixspec.reject import (
    FixProtocolError,
    LocalProtocolError,
    Reject,
    RemoteProtocolError,
)
from fixspec.reject import SessionRejectReason as R
from fixspec.shape_plans import MAX_SHAPE_FIELDS, PerDictionary, ShapePlan, plan_of, shape_of

__all__ = [
    "DEFAULT_OPTIONS",
    "USER_DEFINED_TAG_MIN",
    "FieldsView",
    "GroupView",
    "MessageView",
    "ValidationOptions",
    "check_comp_ids",
    "check_sending_time",
    "validate",
]

#: Tags from here up are user-defined (FIX reserves 5000-9999 and 20000+; QuickFIX treats
#: everything >= 5000 as user-defined, and so do we).
USER_DEFINED_TAG_MIN = 5000

MSG_SEQ_NUM, MSG_TYPE, SENDER_COMP_ID, SENDING_TIME, TARGET_COMP_ID = 34, 35, 49, 52, 56
BODY_LENGTH, CHECKSUM = 9, 10


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """Per-session validation switches, named after QuickFIX's settings.

    ``check_fields_out_of_order``: header fields after body fields (or body after trailer)
    are rejected with 14 (QuickFIX ValidateFieldsOutOfOrder).
    ``check_fields_have_values``: empty values are rejected with 4 (ValidateFieldsHaveValues);
    when off, an empty value is still checked as any value is, as QuickFIX does: it passes
    as text without enums, and fails a number, time, char or boolean (6) or an enum (5).
    ``check_user_defined_fields``: tags >= 5000 must be defined for the message like any other
    (ValidateUserDefinedFields); when off they pass unchecked.
    ``allow_unknown_message_fields``: tags below 5000 that the dictionary does not define, or
    does not define for this message, are let through (AllowUnknownMsgFields).
    """

    check_fields_out_of_order: bool = True
    check_fields_have_values: bool = True
    check_user_defined_fields: bool = True
    allow_unknown_message_fields: bool = False


DEFAULT_OPTIONS = ValidationOptions()


class GroupView(Protocol):
    """A repeating group as the validator reads it."""

    @property
    def tag(self) -> int: ...

    @property
    def entries(self) -> Sequence[FieldsView]: ...


class FieldsView(Protocol):
    """An ordered field map: items are ``(tag, value)`` tuples or groups."""

    def __iter__(self) -> Iterator[tuple[int, bytes] | GroupView]: ...


class MessageView(Protocol):
    """A message as the validator reads it."""

    @property
    def header(self) -> FieldsView: ...

    @property
    def body(self) -> FieldsView: ...

    @property
    def trailer(self) -> FieldsView: ...


def _first(fields: FieldsView, tag: int) -> bytes | None:
    for item in fields:
        if isinstance(item, tuple) and item[0] == tag:
            return item[1]
    return None


def _ref_seq_num(message: MessageView) -> int | None:
    raw = _first(message.header, MSG_SEQ_NUM)
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 19 else None


def _ref_msg_type(message: MessageView) -> str | None:
    raw = _first(message.header, MSG_TYPE)
    return None if raw is None else raw.decode("latin-1")


class _Refs:
    """Builds the errors for one message: its MsgType and MsgSeqNum go into every Reject."""

    def __init__(self, message: MessageView, error: type[FixProtocolError]) -> None:
        self.error = error
        self.msg_type = _ref_msg_type(message)
        self.seq_num = _ref_seq_num(message)

    def fail(self, reason: R, tag: int | None, detail: str = "") -> FixProtocolError:
        return self.error(Reject(reason, tag, self.msg_type, self.seq_num, detail))


def _fail(message: MessageView, reason: R, tag: int | None,
          detail: str = "") -> FixProtocolError:
    """The RemoteProtocolError for ``message`` (its references read only when it fails)."""
    return _Refs(message, RemoteProtocolError).fail(reason, tag, detail)


class _Checker(_Refs):
    def __init__(
        self,
        message: MessageView,
        sd: SessionDictionaries,
        options: ValidationOptions,
        error: type[FixProtocolError],
    ) -> None:
        super().__init__(message, error)
        self.sd = sd
        self.options = options
        #: where a tag counts as defined at all (Invalid tag number otherwise): set to the
        #: transport dictionary alone for an admin message of a FIXT session, whose fields
        #: the application dictionary does not define (QuickFIX validates those with the
        #: transport dictionary only)
        self.defines: Callable[[int], FieldDef | None] = sd.field

    def fields(self, fields: FieldsView, layout: FieldSet, where: str,
               order: Callable[[list[int]], list[int]] | None) -> None:
        """Per-field checks at one level, then each group entry: in the ``order`` of the
        level's tags (one sort key a tag), or as they come if ``order`` is None."""
        opts = self.options
        items: Iterable[tuple[int, bytes] | GroupView] = fields
        if order is not None:
            listed = list(fields)
            keys = order([_tag(item) for item in listed])
            # sorted() is stable: a repeated tag is met right after its first occurrence,
            # which has been checked in full by then (QuickFIX's order)
            items = [listed[i] for i in sorted(range(len(listed)), key=keys.__getitem__)]
        seen: set[int] = set()
        groups: list[tuple[GroupDef, GroupView]] = []
        layout_fields = layout.fields
        for item in items:
            tag = item[0] if isinstance(item, tuple) else item.tag
            if tag <= 0:
                raise self.fail(R.INVALID_TAG_NUMBER, tag, f"tag {tag} in {where}")
            if tag in seen:
                raise self.fail(R.TAG_APPEARS_MORE_THAN_ONCE, tag, f"tag {tag} in {where}")
            seen.add(tag)
            here = layout_fields.get(tag)
            fd = here if here is not None else self.defines(tag)
            if isinstance(item, tuple):
                value = item[1]
                if not value and opts.check_fields_have_values:
                    raise self.fail(R.TAG_SPECIFIED_WITHOUT_A_VALUE, tag,
                                    f"tag {tag} in {where}")
                if fd is not None:
                    if not (is_valid_format(fd.type, value) if value
                            else fd.type in EMPTY_TEXT_TYPES):
                        raise self.fail(R.INCORRECT_DATA_FORMAT_FOR_VALUE, tag,
                                        f"{fd.name} ({fd.type}) {value!r}")
                    if fd.values:
                        for token in enum_tokens(fd.type, value):
                            if token.decode("latin-1") not in fd.values:
                                raise self.fail(R.VALUE_IS_INCORRECT, tag, f"{fd.name}={value!r}")
            if here is None:
                if tag >= USER_DEFINED_TAG_MIN:
                    if not opts.check_user_defined_fields:
                        continue
                elif opts.allow_unknown_message_fields:
                    continue
                if fd is None:
                    raise self.fail(R.INVALID_TAG_NUMBER, tag, f"tag {tag} not in the dictionary")
                raise self.fail(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag, f"tag {tag} in {where}")
            if not isinstance(item, tuple):
                gdef = layout.groups.get(tag)
                if gdef is None:  # a NumInGroup field used as a group where none is defined
                    raise self.fail(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag, f"group {tag}")
                groups.append((gdef, item))
        for gdef, group in groups:
            entry_order = _dictionary_order(gdef) if order is not None else None
            for n, entry in enumerate(group.entries, 1):
                first = next(iter(entry), None)
                first_tag = None if first is None else _tag(first)
                if first_tag != gdef.delimiter:
                    raise self.fail(
                        R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER,
                        gdef.delimiter if first_tag is None else first_tag,
                        f"{gdef.name} entry {n} must start with tag {gdef.delimiter}",
                    )
                self.fields(entry, gdef, f"{gdef.name} entry {n}", entry_order)

    def required(
        self, fields: FieldsView, layout: FieldSet, where: str, skip: frozenset[int]
    ) -> list[tuple[GroupDef, GroupView]]:
        """Required-field check at one level (the lowest missing tag is reported, as QuickFIX
        does); returns the groups present, for :meth:`required_in_groups`."""
        present: set[int] = set()
        groups: list[tuple[GroupDef, GroupView]] = []
        for item in fields:
            if isinstance(item, tuple):
                present.add(item[0])
            else:
                present.add(item.tag)
                gdef = layout.groups.get(item.tag)
                if gdef is not None:
                    groups.append((gdef, item))
        missing = layout.required_tags - present - skip
        if missing:
            tag = min(missing)
            raise self.fail(R.REQUIRED_TAG_MISSING, tag, f"{layout.fields[tag].name} in {where}")
        groups.sort(key=lambda g: g[0].tag)
        return groups

    def required_in_groups(self, groups: list[tuple[GroupDef, GroupView]]) -> None:
        """Required-field checks in each entry of ``groups``, nested groups after each entry."""
        for gdef, group in groups:
            for n, entry in enumerate(group.entries, 1):
                inner = self.required(entry, gdef, f"{gdef.name} entry {n}", frozenset())
                self.required_in_groups(inner)


def _tag(item: tuple[int, bytes] | GroupView) -> int:
    return item[0] if isinstance(item, tuple) else item.tag


# Sort keys, one per tag of a level, for the order in which its fields are checked.


def _ascending(tags: list[int]) -> list[int]:
    return tags


#: the header is checked with BeginString, BodyLength and MsgType first, as QuickFIX orders it
_HEADER_FIRST = {8: -3, BODY_LENGTH: -2, MSG_TYPE: -1}


def _header_order(tags: list[int]) -> list[int]:
    first = _HEADER_FIRST.get
    return [first(tag, tag) for tag in tags]


def _trailer_order(tags: list[int]) -> list[int]:
    return [tag if tag != CHECKSUM else 1 << 62 for tag in tags]


@functools.lru_cache(maxsize=1024)
def _dictionary_order(layout: FieldSet) -> Callable[[list[int]], list[int]]:
    """A group entry's fields in the dictionary's order; tags it does not define after them,
    in ascending order."""
    undefined = len(layout.members)
    position = {tag: layout.position(tag) or 0 for tag in layout.tags}.get

    def keys(tags: list[int]) -> list[int]:
        return [position(tag, undefined + tag) for tag in tags]

    return keys


def validate(
    message: MessageView,
    dictionary: DataDictionary | SessionDictionaries,
    options: ValidationOptions = DEFAULT_OPTIONS,
    *,
    outbound: bool = False,
) -> None:
    """Check ``message`` against ``dictionary``; return None if valid, else raise.

    Raises :class:`RemoteProtocolError` for an inbound message, :class:`LocalProtocolError`
    with ``outbound=True`` (then BodyLength and CheckSum may be absent: the encoder computes
    them). Session-level checks that need the session's state or the time (CompIDs,
    SendingTime) are separate: :func:`check_comp_ids`, :func:`check_sending_time`.
    """
    sd = as_session(dictionary)
    msg_type_raw = _first(message.header, MSG_TYPE)
    sections = (message.header, message.trailer, message.body)
    key: tuple[object, ...] | None = None  # no plan without MsgType, or past MAX_SHAPE_FIELDS
    if msg_type_raw is not None:
        shape, values = shape_of(msg_type_raw.decode("latin-1"), sections)
        if len(values) <= MAX_SHAPE_FIELDS:
            key = (options, outbound, shape)
            plan = _PLANS.get(sd, key)
            if plan is not None and plan.passes(values):
                return
    defines, mdef = _check_fully(message, sd, options, outbound)
    if key is not None and plan is None:
        _PLANS.put(sd, key, plan_of(
            tuple(zip(sections, (sd.header, sd.trailer, mdef), strict=True)), defines))


#: the plan of each shape seen valid (fixspec.shape_plans)
_PLANS: PerDictionary[ShapePlan] = PerDictionary()


def _check_fully(
    message: MessageView, sd: SessionDictionaries, options: ValidationOptions, outbound: bool,
) -> tuple[Callable[[int], FieldDef | None], FieldSet]:
    """:func:`validate` without plans; returns, for a valid message, the lookup of tags its
    layouts do not hold and its body's layout."""
    error: type[FixProtocolError] = LocalProtocolError if outbound else RemoteProtocolError
    checker = _Checker(message, sd, options, error)
    msg_type = checker.msg_type
    if msg_type is None:
        raise checker.fail(R.REQUIRED_TAG_MISSING, MSG_TYPE, "no MsgType")
    found = sd.message(msg_type)
    if found is None:
        # no RefTagID (371) here, nor for CompID and SendingTime problems: QuickFIX sends
        # none, and conformance suites written against it expect exactly its fields
        raise checker.fail(R.INVALID_MSGTYPE, None, f"MsgType {msg_type!r} not in dictionary")
    mdef, owner = found
    if owner is sd.transport and sd.app is not sd.transport:
        checker.defines = sd.transport.fields_by_tag.get
    header_groups = checker.required(
        message.header, sd.header, "header", frozenset({BODY_LENGTH}) if outbound else frozenset()
    )
    checker.required(
        message.trailer, sd.trailer, "trailer", frozenset({CHECKSUM}) if outbound else frozenset()
    )
    body_groups = checker.required(message.body, mdef, f"{mdef.name} body", frozenset())
    checker.required_in_groups(body_groups)
    checker.required_in_groups(header_groups)
    try:
        checker.fields(message.header, sd.header, "header", None)
        checker.fields(message.trailer, sd.trailer, "trailer", None)
        checker.fields(message.body, mdef, f"{mdef.name} body", None)
    except FixProtocolError:
        # Faulty after all: check again in QuickFIX's order to report the fault it would
        # (a valid message, the common case, is checked once, without sorting its fields).
        checker.fields(message.header, sd.header, "header", _header_order)
        checker.fields(message.trailer, sd.trailer, "trailer", _trailer_order)
        checker.fields(message.body, mdef, f"{mdef.name} body", _ascending)
        raise
    return checker.defines, mdef


def check_sending_time(
    message: MessageView, now: datetime, max_latency: timedelta = timedelta(seconds=120)
) -> None:
    """Reject (10, SendingTime accuracy problem) if SendingTime (52) is more than
    ``max_latency`` away from ``now`` in either direction (QuickFIX's MaxLatency, default
    120 s). ``now`` must be an aware datetime. Missing: 1; malformed: 6."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime: pass now as an aware datetime (UTC)")
    raw = _first(message.header, SENDING_TIME)
    if raw is None:
        raise _fail(message, R.REQUIRED_TAG_MISSING, SENDING_TIME, "no SendingTime")
    try:
        sent = parse_utc_timestamp(raw)
    except ValueError:
        raise _fail(message, R.INCORRECT_DATA_FORMAT_FOR_VALUE, SENDING_TIME,
                    repr(raw)) from None
    if abs(now - sent) > max_latency:
        raise _fail(
            message,
            R.SENDINGTIME_ACCURACY_PROBLEM,
            None,
            f"SendingTime {raw.decode('latin-1')} is {(now - sent).total_seconds():.3f}s from now",
        )


def check_comp_ids(message: MessageView, *, sender_comp_id: str, target_comp_id: str) -> None:
    """Reject (9, CompID problem) unless SenderCompID (49) and TargetCompID (56) are the ones
    expected *in this message*: for an inbound message, ``sender_comp_id`` is the
    counterparty's id and ``target_comp_id`` ours. Missing: 1."""
    for tag, expected in ((SENDER_COMP_ID, sender_comp_id), (TARGET_COMP_ID, target_comp_id)):
        raw = _first(message.header, tag)
        if raw is None:
            raise _fail(message, R.REQUIRED_TAG_MISSING, tag)
        if raw != expected.encode("utf-8"):
            raise _fail(message, R.COMPID_PROBLEM, None,
                        f"tag {tag}: got {raw.decode('utf-8', 'replace')!r}, "
                        f"expected {expected!r}")
