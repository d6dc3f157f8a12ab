"""FIX codec: framed field lists in, :class:`~gateway.fixmessage.Message` out, and back to bytes.

Decoding takes what the framer produced for one message, the list of ``(tag, raw value)``
pairs (BodyLength and CheckSum already checked by the framer), and builds the message's
structure with the dictionary: header, body and trailer, and repeating groups (NumInGroup
count, delimiter first in each entry, nested groups). It raises only
:class:`~fixspec.reject.RemoteProtocolError`, whatever the input, for these structure errors:

* 1 / 14: the first three tags must be 8, 9, 35 (1 if one is absent, 14 if misplaced);
* 14: a header field after a body field, a body field after a trailer field, anything after
  CheckSum (only with ``check_fields_out_of_order``, the default);
* 13: a tag twice at one level (top level of a section, or within one group entry);
* 15: a group's first entry does not start with its delimiter;
* 16: the NumInGroup value differs from the number of entries found;
* 4 / 6: a NumInGroup value that is empty or not an integer (a negative one is 16).

A message without groups is split into its sections by the tags alone: once one of a shape
(its tags in order and its MsgType) has been decoded in full, the next of that shape is split
the same way without the checks (``_SECTIONS``).

Everything else (unknown tags, formats, enumerations, required fields, unknown MsgType) is
left to :func:`fixspec.validate.validate`, so a caller can decode without validating (log
reading, replay) and validate with the session's own options. :func:`decode_bytes` frames one
message's bytes with the C framer (engine.framing) first, for tests and tools; sessions and
log readers use the framer's batches and call :func:`decode`.

Encoding writes 8, 9, 35, then the other header fields in ascending tag order, the body in
ascending tag order (a group at the position of its NumInGroup tag, fields inside each entry in
dictionary order, delimiter first), the trailer, and CheckSum last; BodyLength and CheckSum
are computed. A data field goes right after its length field (Signature 89 after
SignatureLength 93). Time is never read here: SendingTime is formatted from a time the caller
passes (:func:`format_utc_timestamp`, milliseconds by default). Where each field goes depends
on the tags alone: once a message of a shape without groups (its MsgType and the tags of each
section) has been encoded in full, the next of that shape is laid out the same way
(``_LAYOUTS``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from engine.framing import Framer, FrameStatus, extra_data_fields
from fixspec.dictionary import (
    DataDictionary,
    FieldSet,
    GroupDef,
    SessionDictionaries,
    as_session,
)
from fixspec.fieldtypes import SOH, TimePrecision, format_utc_timestamp
from fixspec.reject import LocalProtocolError, Reject, RemoteProtocolError
from fixspec.reject import SessionRejectReason as R
from fixspec.shape_plans import MAX_SHAPE_FIELDS, PerDictionary
from fixspec.validate import DEFAULT_OPTIONS, ValidationOptions
from gateway.fixmessage import (
    BEGIN_STRING,
    BODY_LENGTH,
    CHECKSUM,
    MSG_SEQ_NUM,
    MSG_TYPE,
    Field,
    FieldMap,
    Group,
    Item,
    Message,
    item_tag,
    value_text,
)

__all__ = [
    "FramingError",
    "TimePrecision",
    "checksum",
    "decode",
    "decode_bytes",
    "encode",
    "encode_flat",
    "format_utc_timestamp",
    "peek_field",
    "scan_fields",
]

_NO_LAYOUT = FieldSet(members=())
_HEAD = (BEGIN_STRING, BODY_LENGTH, MSG_TYPE)
_HEADER, _BODY, _TRAILER = 0, 1, 2
# A NumInGroup longer than this cannot match the entries of any message we can hold.
_MAX_COUNT_DIGITS = 9


def peek_field(raw: bytes, needle: bytes) -> str | None:
    """The first value of the tag in ``needle`` (``b"\\x0135="``) in SOH-delimited ``raw``;
    None if absent. A scan, not a decode: it works on invalid messages too."""
    i = raw.find(needle)
    if i < 0:
        return None
    start = i + len(needle)
    end = raw.find(b"\x01", start)
    return raw[start:end if end >= 0 else len(raw)].decode("latin-1")


def scan_fields(raw: bytes, text: Callable[[bytes], str] = value_text) -> dict[int, str]:
    """The first value of each tag of SOH-delimited ``raw``, as ``text`` reads it (as
    :meth:`FieldMap.get_str` does, so what a restart reads from the store names what the
    live path named). A scan, not a decode: it works on invalid messages too, and a tag
    repeated (in a group) keeps its first value."""
    out: dict[int, str] = {}
    for part in raw.split(b"\x01"):
        tag, eq, value = part.partition(b"=")
        if eq and tag.isdigit():
            out.setdefault(int(tag), text(value))
    return out


def checksum(data: bytes) -> int:
    """FIX CheckSum of ``data``: the byte sum modulo 256."""
    return sum(data) % 256


# ---------------------------------------------------------------------------------------------
# Decoding


@functools.lru_cache(maxsize=1024)
def _outer_tags(sd: SessionDictionaries, body: FieldSet) -> frozenset[int]:
    """Tags that the top level of a message can take: where a top-level group must end when
    one of them repeats inside an entry."""
    return body.tags | sd.header.tags | sd.trailer.tags


class _Decoder:
    def __init__(
        self,
        fields: Sequence[tuple[int, bytes]],
        sd: SessionDictionaries,
        options: ValidationOptions,
    ) -> None:
        self.fields = fields
        self.n = len(fields)
        self.sd = sd
        self.options = options
        self.msg_type: str | None = None
        self.seq_num: int | None = None
        #: the section each field went to, once decoded; None if the message has a group
        self.placed: list[int] | None = None
        for tag, value in fields:
            if tag == MSG_TYPE and self.msg_type is None:
                self.msg_type = value.decode("latin-1")
            elif tag == MSG_SEQ_NUM and self.seq_num is None and value.isdigit():
                self.seq_num = int(value) if len(value) < 19 else None

    def fail(self, reason: R, tag: int | None, detail: str = "") -> RemoteProtocolError:
        return RemoteProtocolError(Reject(reason, tag, self.msg_type, self.seq_num, detail))

    def decode(self) -> Message:
        fields = self.fields
        for pos, tag in enumerate(_HEAD):
            if pos >= self.n or fields[pos][0] != tag:
                if any(t == tag for t, _ in fields):
                    raise self.fail(
                        R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag, f"tag {tag} not field {pos + 1}"
                    )
                raise self.fail(R.REQUIRED_TAG_MISSING, tag, f"no tag {tag}")
        sd = self.sd
        found = sd.message(self.msg_type or "")
        body_layout: FieldSet = found[0] if found is not None else _NO_LAYOUT
        # Items are collected in plain lists (values are bytes already) and wrapped at the end.
        header: list[Item] = []
        body: list[Item] = []
        trailer: list[Item] = []
        sections = (
            (header, sd.header.groups, set[int]()),
            (body, body_layout.groups, set[int]()),
            (trailer, sd.trailer.groups, set[int]()),
        )
        header_tags = sd.header.tags
        trailer_tags = sd.trailer.tags
        outer = _outer_tags(sd, body_layout)
        check_order = self.options.check_fields_out_of_order
        placed: list[int] | None = []
        phase = _HEADER
        i = 0
        while i < self.n:
            tag = fields[i][0]
            if phase == _TRAILER and fields[i - 1][0] == CHECKSUM and check_order:
                raise self.fail(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag, "field after CheckSum")
            if tag in header_tags:
                if phase != _HEADER and check_order:
                    raise self.fail(
                        R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag, f"header tag {tag} after body"
                    )
                where = _HEADER
            elif tag in trailer_tags:
                phase = where = _TRAILER
            else:
                if phase == _TRAILER and check_order:
                    raise self.fail(
                        R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag, f"body tag {tag} in trailer"
                    )
                if phase == _HEADER:
                    phase = _BODY
                where = _BODY
            target, groups, seen = sections[where]
            # Without a layout (MsgType unknown: validation says 11) repeats in the body may be
            # groups we cannot see, so they are kept as they are.
            if tag in seen and (where != _BODY or found is not None):
                raise self.fail(R.TAG_APPEARS_MORE_THAN_ONCE, tag, f"tag {tag}")
            seen.add(tag)
            gdef = groups.get(tag)
            if gdef is None:
                target.append(fields[i])
                if placed is not None:
                    placed.append(where)
                i += 1
            else:
                group, i = self.group(gdef, i, outer)
                target.append(group)
                placed = None
        self.placed = placed
        return Message.of(FieldMap.wrap(header), FieldMap.wrap(body), FieldMap.wrap(trailer))

    def group(self, gdef: GroupDef, i: int, outer: frozenset[int]) -> tuple[Group, int]:
        """Read the group whose NumInGroup field is at ``i``; return it and the next index.

        An entry ends at a tag the group does not define, or at a tag repeated within the entry
        when the enclosing level can take it (``outer``); a repeat nothing else can take is 13.
        """
        fields = self.fields
        raw_count = fields[i][1]
        if not raw_count:
            raise self.fail(R.TAG_SPECIFIED_WITHOUT_A_VALUE, gdef.tag, gdef.name)
        # a negative count is a number, only never the number of entries: 16 below, as
        # QuickFIX and QuickFIX/J answer it
        digits = raw_count[1:] if raw_count[:1] == b"-" else raw_count
        if not digits.isdigit() or not digits.isascii():
            raise self.fail(
                R.INCORRECT_DATA_FORMAT_FOR_VALUE, gdef.tag, f"{gdef.name}={raw_count!r}"
            )
        count = int(raw_count) if len(digits) <= _MAX_COUNT_DIGITS else -1
        group = Group(gdef.tag, gdef.delimiter)
        entry: FieldMap | None = None
        seen: set[int] = set()
        i += 1
        while i < self.n:
            tag = fields[i][0]
            if tag == gdef.delimiter:
                entry = FieldMap()
                group.entries.append(entry)
                seen = set()
            elif tag not in gdef.tags:
                break
            elif entry is None:
                raise self.fail(
                    R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER,
                    tag,
                    f"{gdef.name} entry must start with tag {gdef.delimiter}",
                )
            elif tag in seen:
                if tag in outer:
                    break
                raise self.fail(R.TAG_APPEARS_MORE_THAN_ONCE, tag, f"tag {tag} in {gdef.name}")
            seen.add(tag)
            nested = gdef.groups.get(tag)
            if nested is None:
                entry.append(tag, fields[i][1])
                i += 1
            else:
                inner, i = self.group(nested, i, gdef.tags)
                entry.add_group(inner)
        if len(group.entries) != count:
            raise self.fail(
                R.INCORRECT_NUMINGROUP_COUNT,
                gdef.tag,
                f"{gdef.name}={raw_count.decode('latin-1')} but {len(group.entries)} entries",
            )
        return group, i


def decode(
    fields: Sequence[tuple[int, bytes]],
    raw: bytes | None,
    dictionary: DataDictionary | SessionDictionaries,
    *,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Message:
    """Build a :class:`Message` from one framed message's ``(tag, value)`` pairs.

    ``raw`` (the message's bytes, or None) is kept as :attr:`Message.raw`. Only
    ``check_fields_out_of_order`` of ``options`` matters here; pass the session's options so
    decoding and validation agree. Raises :class:`RemoteProtocolError` for structure errors
    (see the module docstring) and nothing else.
    """
    sd = as_session(dictionary)
    if len(fields) > MAX_SHAPE_FIELDS:  # not learnt: see MAX_SHAPE_FIELDS
        msg = _Decoder(fields, sd, options).decode()
    else:
        msg = _decode_by_shape(fields, sd, options)
    msg.raw = raw
    return msg


def _decode_by_shape(fields: Sequence[tuple[int, bytes]], sd: SessionDictionaries,
                     options: ValidationOptions) -> Message:
    """:func:`decode`, split as the first message of the shape was (``_SECTIONS``)."""
    check_order = options.check_fields_out_of_order
    key = (check_order, tuple([tag for tag, _ in fields]),
           fields[2][1] if len(fields) > 2 else None)
    sections = _SECTIONS.get(sd, key)
    if sections is None:
        decoder = _Decoder(fields, sd, options)
        msg = decoder.decode()
        placed = decoder.placed
        if placed is not None:
            _SECTIONS.put(sd, key, tuple(
                tuple(i for i, w in enumerate(placed) if w == section)
                for section in (_HEADER, _BODY, _TRAILER)))
        return msg
    header, body, trailer = (FieldMap.wrap([fields[i] for i in indexes])
                             for indexes in sections)
    return Message.of(header, body, trailer)


#: where a known shape's fields go (the header's, the body's and the trailer's indexes), by
#: order check and shape: the decoder's outcome for a message without groups depends on the
#: tags in order, the MsgType, the dictionary and the order check alone, so one decoded in
#: full teaches the split of every later one (a shape with a group is decoded in full each
#: time: its entries are checked against NumInGroup values)
_SECTIONS: PerDictionary[tuple[tuple[int, ...], ...]] = PerDictionary()


class FramingError(ValueError):
    """The bytes are not exactly one sound FIX message; ``status`` is the framer's verdict.

    This is not a protocol reject: FIX says a garbled message is dropped without an answer
    and without consuming a sequence number. (A session answers an ``INVALID_TAG`` frame
    with a Reject; it reads streams with a Framer, never through this function.)
    """

    def __init__(self, status: FrameStatus, detail: str) -> None:
        super().__init__(f"{status.name}: {detail}")
        self.status = status


_local_framer = threading.local()


@functools.lru_cache(maxsize=64)
def own_data_fields(dictionaries: SessionDictionaries) -> tuple[tuple[int, int], ...]:
    """The dictionaries' length/data pairs the framer does not know by itself (none for
    the standard dictionaries), for a :class:`engine.framing.Framer`'s ``data_fields``."""
    return extra_data_fields(dictionaries.data_fields())


def _framer() -> Framer:
    # A Framer owns C arrays sized for batches; one small one per thread is plenty here.
    framer: Framer | None = getattr(_local_framer, "framer", None)
    if framer is None:
        framer = Framer(message_capacity=2, field_capacity=1024)
        _local_framer.framer = framer
    return framer


def decode_bytes(
    raw: bytes,
    dictionary: DataDictionary | SessionDictionaries,
    *,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Message:
    """Frame ``raw`` (exactly one message, ``8=`` through ``10=ddd<SOH>``) with the C framer,
    then :func:`decode` it. :class:`FramingError` if BodyLength, CheckSum or the framing is
    wrong or there are bytes around the message; :class:`RemoteProtocolError` as
    :func:`decode`. For streams and logs use :class:`engine.framing.Framer` in batches.
    The dictionary's own DATA fields are read by length, as the session reads them."""
    own = own_data_fields(as_session(dictionary))
    framer = (Framer(message_capacity=2, field_capacity=1024, data_fields=own) if own
              else _framer())
    batch = framer.scan(raw, final=True)
    if batch.count != 1:
        raise FramingError(FrameStatus.GARBLED, f"{batch.count} messages in {len(raw)} bytes")
    status = batch.status(0)
    if status != FrameStatus.OK:
        raise FramingError(status, repr(raw[:80]))
    if batch.starts[0] != 0 or batch.ends[0] != len(raw):
        raise FramingError(FrameStatus.GARBLED, "bytes before or after the message")
    return decode(batch.fields(0), raw, dictionary, options=options)


# ---------------------------------------------------------------------------------------------
# Encoding


def _local(reason: R, tag: int | None, msg_type: str | None, detail: str) -> LocalProtocolError:
    return LocalProtocolError(Reject(reason, tag, msg_type, None, detail))


class _Encoder:
    """Collects one ``tag=value<SOH>`` chunk per field in ``out``. Values are not checked
    for SOH as they are written: :meth:`check_delimiters` counts them once over the whole
    body (one C-level count instead of a test per field)."""

    def __init__(self, sd: SessionDictionaries | None, msg_type: str) -> None:
        self.sd = sd
        self.msg_type = msg_type
        self.out: list[bytes] = []
        #: per section written (:meth:`ascending`), the indexes of its fields in the order
        #: written; None once a group was written (a layout is learnt of fields alone)
        self.orders: list[tuple[int, ...]] | None = []

    def field_is_data(self, tag: int) -> bool:
        if self.sd is None:
            return False
        fd = self.sd.field(tag)
        return fd is not None and fd.is_data

    def put(self, tag: int, value: bytes) -> None:
        self.out.append(b"%d=%s\x01" % (tag, value))

    def check_delimiters(self, body: bytes) -> None:
        """Raise if a value in ``body`` (the joined :attr:`out`) holds SOH outside a data
        field. Each chunk ends in exactly one SOH unless its value holds more."""
        if body.count(SOH) == len(self.out):
            return
        for chunk in self.out:
            if chunk.count(SOH) > 1:
                tag = int(chunk.split(b"=", 1)[0])
                if not self.field_is_data(tag):
                    raise _local(R.NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER, tag, self.msg_type,
                                 "SOH in value")

    def ascending(
        self, items: Iterable[Item], layout: FieldSet | None, skip: frozenset[int]
    ) -> None:
        """Write a section's top level in ascending tag order (data after its length)."""
        lengths = layout.data_lengths if layout is not None else _DEFAULT_LENGTHS
        listed = list(items)
        tags = [item.tag if isinstance(item, Group) else item[0] for item in listed]
        if lengths.keys().isdisjoint(tags):
            keys: list[int] | list[tuple[int, int]] = tags
        else:
            keys = [(tag, 0) if (length := lengths.get(tag)) is None else (length, 1)
                    for tag in tags]
        # sorted() is stable (duplicates, only in deliberately broken messages, keep their
        # order) and linear on a section built in order, as most outbound ones are
        out = self.out
        order: list[int] = []
        for i in sorted(range(len(listed)), key=keys.__getitem__):
            item = listed[i]
            if isinstance(item, Group):
                self.item(item, layout, skip)
                self.orders = None
            elif item[0] not in skip:  # a field: the common case, inlined
                out.append(b"%d=%s\x01" % item)
                order.append(i)
        if self.orders is not None:
            self.orders.append(tuple(order))

    def item(self, item: Item, layout: FieldSet | None, skip: frozenset[int]) -> None:
        if isinstance(item, Group):
            gdef = layout.groups.get(item.tag) if layout is not None else None
            self.group(item, gdef)
        elif item[0] not in skip:
            self.put(*item)

    def group(self, group: Group, gdef: GroupDef | None) -> None:
        self.put(group.tag, str(len(group.entries)).encode("ascii"))
        delimiter = gdef.delimiter if gdef is not None else group.delimiter
        undefined = len(gdef.members) if gdef is not None else 0

        def key(item: Item) -> int:
            tag = item_tag(item)
            if tag == delimiter:
                return -1
            pos = gdef.position(tag) if gdef is not None else None
            # Without a dictionary, or for undefined tags, keep the stored order (sort is stable).
            return undefined if pos is None else pos

        for entry in group.entries:
            items = list(entry)
            if not any(item_tag(item) == delimiter for item in items):
                raise _local(
                    R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER,
                    delimiter,
                    self.msg_type,
                    f"group {group.tag} entry has no delimiter {delimiter}",
                )
            for item in sorted(items, key=key):
                self.item(item, gdef, frozenset())


# Used when encoding without a dictionary: the one data field whose tag is below its length's.
_DEFAULT_LENGTHS = {89: 93}


def encode(
    message: Message, dictionary: DataDictionary | SessionDictionaries | None = None
) -> bytes:
    """The wire bytes of ``message``, with BodyLength (9) and CheckSum (10) computed.

    With a dictionary, group entries follow its field order and SOH is allowed only in data
    fields; without one, entries keep their stored order (delimiter first) and no value may
    contain SOH. BeginString comes from the message, else from the dictionary. Raises
    :class:`LocalProtocolError` if the message cannot be encoded (no MsgType or BeginString,
    SOH in a non-data value, a group entry without its delimiter). It does not validate
    against the dictionary: call :func:`fixspec.validate.validate` with ``outbound=True``.
    """
    sd = as_session(dictionary) if dictionary is not None else None
    msg_type = message.header.get(MSG_TYPE)
    if not msg_type:
        raise _local(R.REQUIRED_TAG_MISSING, MSG_TYPE, None, "no MsgType")
    begin = message.header.get(BEGIN_STRING)
    if not begin:
        if sd is None:
            raise _local(R.REQUIRED_TAG_MISSING, BEGIN_STRING, msg_type.decode("latin-1"),
                         "no BeginString")
        begin = sd.begin_string.encode("ascii")
    if SOH in begin:
        raise _local(R.NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER, BEGIN_STRING,
                     msg_type.decode("latin-1"), "SOH in value")
    sections = (list(message.header), list(message.body), list(message.trailer))
    # where the layout is learnt: with a dictionary, up to MAX_SHAPE_FIELDS fields
    learnt_in = sd if sd is not None and sum(map(len, sections)) <= MAX_SHAPE_FIELDS else None
    if learnt_in is not None:
        shape = tuple(tuple([item[0] if type(item) is tuple else -1 for item in items])
                      for items in sections)
        key = (msg_type, shape)
        layout = _LAYOUTS.get(learnt_in, key)
        if layout is not None:
            parts = [b"35=", msg_type]
            for items, order in zip(sections, layout, strict=True):
                fields = cast("list[Field]", items)  # a shape with a group has no layout
                parts += [prefix + fields[i][1] for i, prefix in order]
            parts.append(SOH)
            body = b"".join(parts)
            if body.count(SOH) == len(parts) - 2:  # else a value holds SOH: the full path says
                return _frame(begin, body)
    body, orders = _encode_fully(msg_type, sections, sd)
    if learnt_in is not None and orders is not None:
        _LAYOUTS.put(learnt_in, key, tuple(
            tuple((i, b"\x01%d=" % shape_tags[i]) for i in order)
            for shape_tags, order in zip(shape, orders, strict=True)))
    return _frame(begin, body)


def _encode_fully(msg_type: bytes, sections: tuple[list[Item], ...],
                  sd: SessionDictionaries | None) -> tuple[bytes, list[tuple[int, ...]] | None]:
    """:func:`encode` without a known layout: the message from MsgType on, every section
    sorted and checked for SOH; and the order each section's fields were written in (None
    if a group was)."""
    msg_type_text = msg_type.decode("latin-1")
    body_layout: FieldSet | None = None
    if sd is not None:
        found = sd.message(msg_type_text)
        body_layout = found[0] if found is not None else _NO_LAYOUT
    enc = _Encoder(sd, msg_type_text)
    enc.put(MSG_TYPE, msg_type)
    enc.ascending(sections[0], sd.header if sd else None, _OWN)
    enc.ascending(sections[1], body_layout, _OWN)
    enc.ascending(sections[2], sd.trailer if sd else None, _OWN)
    body = b"".join(enc.out)
    enc.check_delimiters(body)
    return body, enc.orders


def encode_flat(begin: bytes, head: bytes, fields: Sequence[Field], msg_type: str) -> bytes:
    """The wire bytes of a message with BeginString ``begin``, the header ``head`` (its wire
    bytes from MsgType on, each field ending in SOH) and the body ``fields``, written in the
    order given: what :func:`encode` writes for the same message when ``fields`` are flat,
    hold no data field and come in its order (ascending tags). A path for a message sent
    often (the venue's ExecutionReports) that skips building a :class:`Message`. Raises
    :class:`LocalProtocolError` if a value holds SOH."""
    body = b"".join([b"%d=%s\x01" % field for field in fields])
    if body.count(SOH) != len(fields):
        tag = next(tag for tag, value in fields if SOH in value)
        raise _local(R.NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER, tag, msg_type, "SOH in value")
    return _frame(begin, head + body)


def _frame(begin: bytes, body: bytes) -> bytes:
    """The message: BeginString, BodyLength, ``body`` (from MsgType on), CheckSum."""
    frame = b"8=%s\x019=%d\x01%s" % (begin, len(body), body)
    return frame + b"10=%03d\x01" % checksum(frame)


# The encoder writes 8, 9, 35 and 10 itself; copies anywhere at the top level are dropped.
_OWN = frozenset((*_HEAD, CHECKSUM))
#: the order of a known shape's fields on the wire (per section, the index of each field
#: written and the bytes before its value, ``<SOH>tag=``), by MsgType and the tags of each
#: section: where each field goes depends on the tags and the dictionary alone, so a message
#: encoded in full teaches the layout of every later one of its shape (one with a group is
#: encoded in full each time)
_LAYOUTS: PerDictionary[tuple[tuple[tuple[int, bytes], ...], ...]] = PerDictionary()
