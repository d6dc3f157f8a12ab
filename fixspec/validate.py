"""Validate a decoded FIX message against a data dictionary.

Every failure raises :class:`~fixspec.reject.RemoteProtocolError` (a message we received) or,
with ``outbound=True``, :class:`~fixspec.reject.LocalProtocolError` (a message we are about to
send), carrying a :class:`~fixspec.reject.Reject` with the SessionRejectReason, RefTagID,
RefMsgType and RefSeqNum. The first problem found is reported. MsgType comes first (absent:
1, not in the dictionary: 11); then each field in message order (header, body, trailer, group
entries in place) is checked for: tag number (0: not positive, or not in the dictionary), tag
not defined for this message or group (2), repeated at one level (13), empty value (4), data
format (6), enumerated value (5), and each group entry for opening with its delimiter (15);
last, required fields (1) per section and per group entry, in dictionary order.

Structure problems found while decoding (first tags not 8, 9, 35; header fields after body
fields; NumInGroup count) are raised by the decoder with the same mechanism.

The validator reads messages through small protocols (:class:`MessageView`) so that this
package does not depend on the gateway's message class; :class:`gateway.fixmessage.Message`
satisfies them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from fixspec.dictionary import (
    DataDictionary,
    FieldSet,
    GroupDef,
    SessionDictionaries,
    as_session,
)
from fixspec.fieldtypes import enum_tokens, is_valid_format, parse_utc_timestamp
from fixspec.reject import (
    FixProtocolError,
    LocalProtocolError,
    Reject,
    RemoteProtocolError,
)
from fixspec.reject import SessionRejectReason as R

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
    ``check_fields_have_values``: empty values are rejected with 4 (ValidateFieldsHaveValues).
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
        self.defines: Callable[[int], object] = sd.field

    def fields(self, fields: FieldsView, layout: FieldSet, where: str) -> None:
        """Per-field checks at one level, recursing into group entries."""
        opts = self.options
        seen: set[int] = set()
        for item in fields:
            tag = item[0] if isinstance(item, tuple) else item.tag
            if tag <= 0:
                raise self.fail(R.INVALID_TAG_NUMBER, tag, f"tag {tag} in {where}")
            fd = layout.fields.get(tag)
            if fd is None:
                known = self.defines(tag) is not None
                if tag >= USER_DEFINED_TAG_MIN:
                    if not opts.check_user_defined_fields:
                        continue
                elif opts.allow_unknown_message_fields:
                    continue
                if not known:
                    raise self.fail(R.INVALID_TAG_NUMBER, tag, f"tag {tag} not in the dictionary")
                raise self.fail(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag, f"tag {tag} in {where}")
            if tag in seen:
                raise self.fail(R.TAG_APPEARS_MORE_THAN_ONCE, tag, f"{fd.name} in {where}")
            seen.add(tag)
            if isinstance(item, tuple):
                value = item[1]
                if not value:
                    if opts.check_fields_have_values:
                        raise self.fail(R.TAG_SPECIFIED_WITHOUT_A_VALUE, tag, fd.name)
                    continue
                if not is_valid_format(fd.type, value):
                    raise self.fail(
                        R.INCORRECT_DATA_FORMAT_FOR_VALUE, tag, f"{fd.name} ({fd.type}) {value!r}"
                    )
                if fd.values:
                    for token in enum_tokens(fd.type, value):
                        if token.decode("latin-1") not in fd.values:
                            raise self.fail(R.VALUE_IS_INCORRECT, tag, f"{fd.name}={value!r}")
            else:
                gdef = layout.groups.get(tag)
                if gdef is None:  # a NumInGroup field used as a group where none is defined
                    raise self.fail(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag, f"group {tag}")
                for n, entry in enumerate(item.entries, 1):
                    first = next(iter(entry), None)
                    first_tag = None if first is None else (
                        first[0] if isinstance(first, tuple) else first.tag
                    )
                    if first_tag != gdef.delimiter:
                        raise self.fail(
                            R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER,
                            gdef.delimiter if first_tag is None else first_tag,
                            f"{gdef.name} entry {n} must start with tag {gdef.delimiter}",
                        )
                    self.fields(entry, gdef, f"{gdef.name} entry {n}")

    def required(
        self, fields: FieldsView, layout: FieldSet, where: str, skip: frozenset[int]
    ) -> None:
        """Required-field checks at one level, recursing into group entries."""
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
            # Report in dictionary order so the answer is stable and matches the spec's layout.
            tag = min(missing, key=lambda t: layout.position(t) or 0)
            raise self.fail(R.REQUIRED_TAG_MISSING, tag, f"{layout.fields[tag].name} in {where}")
        for gdef, group in groups:
            for n, entry in enumerate(group.entries, 1):
                self.required(entry, gdef, f"{gdef.name} entry {n}", frozenset())


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
    checker.fields(message.header, sd.header, "header")
    checker.fields(message.body, mdef, f"{mdef.name} body")
    checker.fields(message.trailer, sd.trailer, "trailer")
    checker.required(
        message.header, sd.header, "header", frozenset({BODY_LENGTH}) if outbound else frozenset()
    )
    checker.required(message.body, mdef, f"{mdef.name} body", frozenset())
    checker.required(
        message.trailer, sd.trailer, "trailer", frozenset({CHECKSUM}) if outbound else frozenset()
    )


def check_sending_time(
    message: MessageView, now: datetime, max_latency: timedelta = timedelta(seconds=120)
) -> None:
    """Reject (10, SendingTime accuracy problem) if SendingTime (52) is more than
    ``max_latency`` away from ``now`` in either direction (QuickFIX's MaxLatency, default
    120 s). ``now`` must be an aware datetime. Missing: 1; malformed: 6."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime: pass now as an aware datetime (UTC)")
    checker = _Refs(message, RemoteProtocolError)
    raw = _first(message.header, SENDING_TIME)
    if raw is None:
        raise checker.fail(R.REQUIRED_TAG_MISSING, SENDING_TIME, "no SendingTime")
    try:
        sent = parse_utc_timestamp(raw)
    except ValueError:
        raise checker.fail(R.INCORRECT_DATA_FORMAT_FOR_VALUE, SENDING_TIME, repr(raw)) from None
    if abs(now - sent) > max_latency:
        raise checker.fail(
            R.SENDINGTIME_ACCURACY_PROBLEM,
            None,
            f"SendingTime {raw.decode('latin-1')} is {(now - sent).total_seconds():.3f}s from now",
        )


def check_comp_ids(message: MessageView, *, sender_comp_id: str, target_comp_id: str) -> None:
    """Reject (9, CompID problem) unless SenderCompID (49) and TargetCompID (56) are the ones
    expected *in this message*: for an inbound message, ``sender_comp_id`` is the
    counterparty's id and ``target_comp_id`` ours. Missing: 1."""
    checker = _Refs(message, RemoteProtocolError)
    for tag, expected in ((SENDER_COMP_ID, sender_comp_id), (TARGET_COMP_ID, target_comp_id)):
        raw = _first(message.header, tag)
        if raw is None:
            raise checker.fail(R.REQUIRED_TAG_MISSING, tag)
        if raw != expected.encode("utf-8"):
            raise checker.fail(
                R.COMPID_PROBLEM, None, f"tag {tag}: got {raw.decode('utf-8', 'replace')!r}, "
                f"expected {expected!r}"
            )
