"""Replay plans for captured FIX logs: which messages to play, how to rewrite them, and how
to compare the acceptor's answers with the answers the log recorded.

Pure functions and values, no sockets or clocks (the wire lives in ``gateway.replay_wire``,
the wiring in ``gateway.cmd_replay``):

- :func:`plan` reads a log and splits it into the played side's application messages
  (:class:`Step`, with the log's time offset) and the other side's application messages
  (:class:`Expected`). Session-level messages of both sides are left out: the replayer runs
  its own session.
- :func:`rewrite_fields` turns a step into the fields to send: header fields are the new
  session's, TransactTime (60) is ``now``, ClOrdIDs may get a prefix, the rest is kept. When
  the acceptor's FIX version (its BeginString, or on FIXT.1.1 its application version)
  differs from the log's, body fields that version's dictionary does not define for that
  message type are dropped (and counted), nothing else is converted.
- :func:`compare` pairs answers with expected answers by ClOrdID (11) and order of arrival
  and lists the differences in MsgType, ExecType (150), OrdStatus (39) and quantities.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from os import PathLike

from fixspec.dictionary import FieldSet, builtin_session
from fixspec.fieldtypes import parse_utc_timestamp
from gateway.config import APPL_VER_IDS
from gateway.fixlog import LogRecord, read_log

# Logon, Heartbeat, TestRequest, ResendRequest, Reject, SequenceReset, Logout. A session Reject
# (3) from the played side is about the log's own session, so it is not played; from the other
# side it answers a played message and is compared like any answer.
SESSION_TYPES = frozenset({"A", "0", "1", "2", "3", "4", "5"})
ANSWER_SESSION_TYPES = frozenset({"3"})

# Header and trailer fields the new session writes itself (or that name the log's session).
SESSION_TAGS = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 89, 90, 91, 93, 97, 122, 369})
CLORDID_TAGS = (11, 41)
KEY_TAGS = (11, 571, 262)
ORDER_ID, SYMBOL, TRANSACT_TIME, REF_SEQ_NUM = 37, 55, 60, 45

# What compare() looks at, with names for the report.
COMPARED: tuple[tuple[int, str], ...] = (
    (35, "MsgType"), (150, "ExecType"), (39, "OrdStatus"), (38, "OrderQty"),
    (14, "CumQty"), (151, "LeavesQty"), (32, "LastQty"),
)
QTY_TAGS = frozenset({38, 14, 151, 32})
OLD_BEGIN_STRINGS = frozenset({"FIX.4.0", "FIX.4.1", "FIX.4.2"})


class ReplayError(ValueError):
    """The log cannot be replayed (no application messages, unknown side...)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One message to play: ``at`` is seconds after the first played message, by the log's
    clock (line timestamps, else SendingTime; never decreasing)."""

    record: LogRecord
    at: float
    msg_type: str
    fields: tuple[tuple[int, bytes], ...]  # body and non-session header fields, log order
    key: str | None  # see message_key()
    seq: int | None  # the log's MsgSeqNum, to resolve the other side's RefSeqNum (45)


@dataclass(frozen=True, slots=True)
class Expected:
    """An answer the log recorded from the other side; ``key`` pairs it with live answers;
    ``step`` is the index of the latest played step with that key before it in the log (the
    message it answers: a replay that stops before sending that step expects nothing of it);
    ``crossed_by``, for a fill, the index of the latest played order (new or replace) of its
    symbol and the other side before it in the log, -1 if none or not a fill: the fill may
    answer that order instead (o1's fill the log recorded after o2, which crossed it)."""

    record: LogRecord
    values: Mapping[int, str]
    key: str
    begin_string: str
    step: int
    crossed_by: int = -1


@dataclass(frozen=True, slots=True)
class Plan:
    side: str
    other: str | None
    begin_string: str
    #: the FIX version of the log's application messages: its BeginString, or on FIXT.1.1
    #: the DefaultApplVerID (1137) a Logon in it declared (FIX.5.0SP2 if none did)
    version: str
    steps: tuple[Step, ...]
    expected: tuple[Expected, ...]
    skipped_session: int  # session-level messages of the played side, not played
    ignored_other: int  # the other side's application messages about nothing played
    duplicates: int  # PossDup resends (43=Y) of messages already in the log, left out

    def expected_of(self, sent: int) -> tuple[Expected, ...]:
        """The answers the log has to the first ``sent`` steps (all of them once every step
        was sent)."""
        return tuple(e for e in self.expected if e.step < sent)


@dataclass(frozen=True, slots=True)
class Answer:
    """An application answer (or session Reject) from the acceptor; ``key`` as for Expected,
    ``step`` the index of the played step it refers to, if known."""

    values: Mapping[int, str]
    key: str
    begin_string: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    """``kind`` is ``differs`` (paired, fields differ), ``missing`` (the log has an answer the
    acceptor did not send) or ``unexpected`` (an answer the log does not have); ``where`` is
    the log's file:line (the expected answer, or for ``unexpected`` the played message)."""

    kind: str
    where: str
    key: str
    details: tuple[str, ...]
    # missing and unexpected: the answer's type and state (35, 150, 39, 103, 102), which
    # tally() counts; the Text that details also shows may hold anything, ': ' included
    answer: str = ""

    def __str__(self) -> str:
        what = "; ".join(self.details)
        return f"{self.where}: {self.key or '-'}: {self.kind}: {what}"


@dataclass(slots=True)
class Comparison:
    matched: int = 0
    equal: int = 0
    missing: int = 0
    unexpected: int = 0
    # expected fills not received that an order the replay did not send (cut short) may
    # have caused (Expected.crossed_by): not counted missing
    not_sent: int = 0
    differences: list[Difference] = field(default_factory=list)


def _values(fields: Iterable[tuple[int, bytes]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for tag, value in fields:
        out.setdefault(tag, value.decode("latin-1"))
    return out


def _time(record: LogRecord, values: Mapping[int, str]) -> datetime | None:
    if record.timestamp is not None:
        stamp = record.timestamp
        return stamp if stamp.tzinfo is None else stamp.astimezone(UTC).replace(tzinfo=None)
    sending = values.get(52)
    if sending is None:
        return None
    try:
        return parse_utc_timestamp(sending).replace(tzinfo=None)
    except ValueError:
        return None


def _is_fill(values: Mapping[int, str]) -> bool:
    """An ExecutionReport of a fill: ExecType (150) Trade (:func:`_exec_type`'s, FIX 4.2's
    Partial fill and Fill too); before FIX 4.1, which has no ExecType, LastShares (32)
    above 0."""
    if values.get(35) != "8":
        return False
    if 150 in values:
        return _exec_type(values[150], values.get(8, "")) == "F"
    qty = _qty(values.get(32))
    return qty is not None and qty.is_finite() and qty > 0


def _buying(side: str | None) -> bool:
    """Side (54) Buy or Buy minus (the rest sell: Sell, Sell plus, Sell short...)."""
    return side in ("1", "3")


def message_key(values: Mapping[int, str]) -> str | None:
    """What pairs a request with its answers: ClOrdID (11), else TradeReportID (571), else
    MDReqID (262); None if the message has none of them."""
    for tag in KEY_TAGS:
        if tag in values:
            return values[tag]
    return None


def strip_prefix(cl_ord_id: str, prefix: str) -> str:
    return cl_ord_id[len(prefix):] if prefix and cl_ord_id.startswith(prefix) else cl_ord_id


def plan(path: str | PathLike[str], side: str | None = None) -> Plan:
    """Read the log at ``path`` (strictly: a bad record raises ``LogFormatError`` naming its
    file:line) and plan the replay of ``side``'s messages (SenderCompID; default: the sender
    of the first NewOrderSingle, else of the first application message)."""
    records = [(r, _values(r.fields)) for r in read_log(path, strict=True)]
    if side is None:
        app = [v for _, v in records if v.get(35, "") not in SESSION_TYPES]
        first = next((v for v in app if v.get(35) == "D"), app[0] if app else None)
        if first is None:
            raise ReplayError(f"{path}: no application messages to replay")
        side = first.get(49, "")
    senders = {v.get(49) for _, v in records}
    if side not in senders:
        known = ", ".join(sorted(s for s in senders if s))
        raise ReplayError(f"{path}: no messages from SenderCompID {side!r} (senders: {known})")
    steps: list[Step] = []
    expected: list[Expected] = []
    skipped = ignored = duplicates = 0
    t0: datetime | None = None
    last = 0.0
    other: str | None = None
    by_seq: dict[int, str | None] = {}  # the log's MsgSeqNum -> key of the played message
    played: set[tuple[str, str | None]] = set()
    played_keys: dict[str | None, int] = {}  # key -> index of its latest played step
    # (symbol, buying) -> index of the latest played order (new or replace) of that side
    orders: dict[tuple[str | None, bool], int] = {}
    exec_ids: set[str] = set()
    for record, values in records:
        msg_type = values.get(35, "")
        resent = values.get(43) == "Y"
        if values.get(49) != side:
            other = other or values.get(49)
            if msg_type in SESSION_TYPES and msg_type not in ANSWER_SESSION_TYPES:
                continue
            key = message_key(values)
            if key is None and values.get(REF_SEQ_NUM, "").isdigit():
                key = by_seq.get(int(values[REF_SEQ_NUM]))
            if key is None or key not in played_keys:
                ignored += 1
                continue
            exec_id = values.get(17)
            if exec_id is not None and exec_id in exec_ids and resent:
                duplicates += 1  # a resent report the log already holds
                continue
            if exec_id is not None:
                exec_ids.add(exec_id)
            crossed_by = -1
            if _is_fill(values):
                crossed_by = orders.get((values.get(SYMBOL), not _buying(values.get(54))), -1)
            expected.append(Expected(record, values, key, values.get(8, ""),
                                     played_keys[key], crossed_by))
            continue
        if msg_type in SESSION_TYPES:
            skipped += 1
            continue
        key = message_key(values)
        if resent and (msg_type, key) in played:
            duplicates += 1  # resent by the log's session: playing it twice would double it
            continue
        played.add((msg_type, key))
        played_keys[key] = len(steps)
        if msg_type in ("D", "G"):
            orders[(values.get(SYMBOL), _buying(values.get(54)))] = len(steps)
        t = _time(record, values)
        if t is not None:
            t0 = t0 or t
            last = max(last, (t - t0).total_seconds())
        kept = tuple((tag, v) for tag, v in record.fields if tag not in SESSION_TAGS)
        seq = values.get(34)
        if seq is not None and seq.isdigit():
            by_seq[int(seq)] = key  # later logons reuse numbers: the latest one counts
        steps.append(Step(record, last, msg_type, kept, key,
                          int(seq) if seq and seq.isdigit() else None))
    if not steps:
        raise ReplayError(f"{path}: {side} sent no application messages")
    begin = records[0][1].get(8, "") if records else ""
    version = begin
    if begin == "FIXT.1.1":
        declared = next((v[1137] for _, v in records if v.get(35) == "A" and 1137 in v), "9")
        version = next((name for name, code in APPL_VER_IDS.items() if code == declared),
                       "FIX.5.0SP2")
    return Plan(side, other, begin, version, tuple(steps), tuple(expected), skipped, ignored,
                duplicates)


@cache
def _allowed_tags(begin_string: str, app_version: str, msg_type: str) -> frozenset[int] | None:
    """Every tag the built-in dictionaries of a ``begin_string`` session (on FIXT.1.1, with
    the application version ``app_version``) allow in ``msg_type`` (header, body, groups at
    any depth); None if there is no such dictionary or message."""
    try:
        sd = builtin_session(begin_string, app_version)
    except KeyError:
        return None
    found = sd.message(msg_type)
    if found is None:
        return None

    def tags(layout: FieldSet) -> set[int]:
        out = set(layout.tags)
        for group in layout.groups.values():
            out |= tags(group)
        return out

    return frozenset(tags(sd.header) | tags(found[0]) | tags(sd.trailer))


def rewrite_fields(
    step: Step,
    *,
    now: str,
    log_version: str,
    begin_string: str,
    app_version: str = "FIX.5.0SP2",
    clordid_prefix: str = "",
    order_ids: Mapping[str, str] | None = None,
    symbols: Mapping[str, str] | None = None,
    dropped: dict[int, int] | None = None,
) -> list[tuple[int, bytes]]:
    """The fields of ``step`` to send after the new session's header (no 8/9/34/35/49/52/56).

    Values are held as latin-1 text of the bytes, as :func:`plan` reads them (the prefix and
    ``symbols`` too). TransactTime (60) becomes ``now``; ClOrdID/OrigClOrdID get
    ``clordid_prefix``; OrderID (37) of a cancel or replace becomes the acceptor's OrderID
    for the original order when ``order_ids`` (log ClOrdID -> acceptor OrderID) knows it,
    and is left out when it does not (yet): the log's names an order of the venue that wrote
    the log, and an acceptor that checks OrderID against OrigClOrdID refuses the request for
    it; Symbol (55) is renamed by ``symbols`` (log symbol -> acceptor symbol). With
    messages of another FIX version than ``log_version`` (:attr:`Plan.version`): ``begin_string``,
    or on FIXT.1.1 ``app_version``, fields that version's dictionary does not allow in this
    message type are left out and counted in ``dropped`` (tag -> count).
    """
    version = app_version if begin_string == "FIXT.1.1" else begin_string
    allowed = (_allowed_tags(begin_string, app_version, step.msg_type)
               if version != log_version else None)
    orig = _values(step.fields).get(41)
    out: list[tuple[int, bytes]] = []
    for tag, value in step.fields:
        if allowed is not None and tag not in allowed:
            if dropped is not None:
                dropped[tag] = dropped.get(tag, 0) + 1
            continue
        if tag == TRANSACT_TIME:
            value = now.encode()
        elif tag in CLORDID_TAGS and clordid_prefix:
            value = clordid_prefix.encode("latin-1") + value
        elif tag == SYMBOL and symbols and value.decode("latin-1") in symbols:
            value = symbols[value.decode("latin-1")].encode("latin-1")
        elif tag == ORDER_ID and orig is not None and order_ids is not None:
            if orig not in order_ids:
                continue
            value = order_ids[orig].encode("latin-1")
        out.append((tag, value))
    return out


def _exec_type(value: str | None, begin_string: str) -> str | None:
    # FIX 4.2's ExecType Partial fill (1) and Fill (2) became Trade (F) in FIX 4.4.
    if value in ("1", "2") and begin_string in OLD_BEGIN_STRINGS:
        return "F"
    return value


def _qty(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def field_differences(expected: Expected, answer: Answer) -> list[str]:
    """What differs between an expected answer and a live one, as ``Name(tag): expected X,
    got Y``. Quantities compare as numbers; a LastQty absent on one side equals 0."""
    out: list[str] = []
    for tag, name in COMPARED:
        want, got = expected.values.get(tag), answer.values.get(tag)
        if tag == 150:
            want = _exec_type(want, expected.begin_string)
            got = _exec_type(got, answer.begin_string)
        if tag in QTY_TAGS:
            if tag == 32:
                want, got = want or "0", got or "0"
            a, b = _qty(want), _qty(got)
            if a is not None and a == b:
                continue
        if want == got or want is None:
            continue  # a field the log's answer lacks is not checked
        out.append(f"{name}({tag}): expected {want}, got {got if got is not None else 'none'}")
        if tag == 35:
            break  # different messages: their other fields mean different things
    return out


def tally(differences: Iterable[Difference]) -> Counter[str]:
    """How often each kind of difference occurs: ``ExecType(150): expected 0, got 8`` for
    field differences (Text left out), ``missing 35=8 150=4`` and ``unexpected 35=9``."""
    out: Counter[str] = Counter()
    for d in differences:
        if d.kind == "differs":
            out.update(x for x in d.details if not x.startswith("Text("))
        else:
            out[f"{d.kind} {d.answer or '?'}"] += 1
    return out


def _state(values: Mapping[int, str]) -> str:
    """An answer's type and state: ``35=8 150=4 39=4`` (with 103/102 when present)."""
    parts = [f"35={values.get(35, '?')}"]
    parts += [f"{tag}={values[tag]}" for tag in (150, 39, 103, 102) if tag in values]
    return " ".join(parts)


def _describe(values: Mapping[int, str]) -> str:
    return f"{_state(values)} 58={values[58]}" if 58 in values else _state(values)


def compare(steps: Sequence[Step], expected: Iterable[Expected],
            answers: Iterable[Answer]) -> Comparison:
    """Pair answers with expected answers per key (:func:`message_key`) in order of arrival,
    and list what differs (in the order of the log's expected answers; unexpected last).
    ``steps`` are the steps sent: an expected fill with no live one that an order not sent
    may have caused (:attr:`Expected.crossed_by`) is counted in ``not_sent``, not
    ``missing``."""
    want: dict[str, deque[Expected]] = defaultdict(deque)
    for e in expected:
        want[e.key].append(e)
    got: dict[str, deque[Answer]] = defaultdict(deque)
    for a in answers:
        got[a.key].append(a)
    last_step: dict[str, Step] = {}
    for s in steps:
        if s.key:
            last_step[s.key] = s
    result = Comparison()
    pending: list[tuple[int, Difference]] = []
    for key, queue in want.items():
        live = got.get(key, deque())
        for e in queue:
            if not live and e.crossed_by >= len(steps):
                result.not_sent += 1
                continue
            if not live:
                result.missing += 1
                pending.append((e.record.line, Difference(
                    "missing", e.record.where, key, (f"no answer; the log has "
                                                     f"{_describe(e.values)}",),
                    _state(e.values))))
                continue
            a = live.popleft()
            result.matched += 1
            details = field_differences(e, a)
            if not details:
                result.equal += 1
                continue
            if a.values.get(58):
                details.append(f"Text(58): {a.values[58]}")
            pending.append((e.record.line, Difference("differs", e.record.where, key,
                                                      tuple(details))))
    extra: list[tuple[int, Difference]] = []
    for key, live in got.items():
        for a in live:
            result.unexpected += 1
            step = steps[a.step] if a.step is not None else last_step.get(key)
            where = step.record.where if step is not None else "-"
            extra.append((step.record.line if step else 0, Difference(
                "unexpected", where, key, (f"the log has no such answer: {_describe(a.values)}",),
                _state(a.values))))
    pending.sort(key=lambda item: item[0])
    extra.sort(key=lambda item: item[0])
    result.differences = [d for _, d in pending + extra]
    return result
