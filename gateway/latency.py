"""The backtest's latency model for order entry and acknowledgements, and its YAML section.

::

    latency: {entry: 0.0002, ack: 0.0003}   # constant seconds (each >= 0, default 0)
    latency: {measured: ../logs/fix.log, split: 0.5, seed: 7}

``entry`` is the delay from an order decision to the order reaching the venue, ``ack`` from
the venue accepting it to its acknowledgement reaching the algo. ``measured`` names a captured
FIX log (relative to the YAML's folder; any layout :mod:`gateway.fixlog` reads): its
NewOrderSingle -> first ExecutionReport round trips (:func:`measure_round_trips`) form an
empirical distribution; each ``entry()`` draws one round trip and takes ``split`` of it
(default 0.5), each ``ack()`` draws another and takes ``1 - split``. Draws come from a
``random.Random(seed)`` (default seed 0), so a backtest repeats exactly.

Entry and ack are drawn independently: their sum has the measured round trip's mean but a
narrower spread, and the split between the two legs is an assumption (one log on one side
cannot tell how a round trip divides between the wire out, the venue and the wire back).

The log is read and measured while the config is parsed, so a missing or unreadable log, a
log without pairs or with negative round trips stops loading with ``FILE:LINE: latency.key:
reason`` like every other config error (:class:`gateway.yamlcheck.ConfigError`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path

from fixspec.fieldtypes import parse_utc_timestamp
from gateway.fixlog import LogRecord, read_log
from gateway.yamlcheck import Node

__all__ = [
    "ConstantLatency",
    "LatencyConfig",
    "LatencyModel",
    "MeasuredLatency",
    "measure_round_trips",
    "parse_latency",
]

CL_ORD_ID, POSS_DUP, SENDER, TARGET, SENDING_TIME, MSG_TYPE = 11, 43, 49, 56, 52, 35


@dataclass(frozen=True, slots=True)
class ConstantLatency:
    """Fixed delays in seconds."""

    entry: float = 0.0
    ack: float = 0.0


@dataclass(frozen=True, slots=True)
class MeasuredLatency:
    """Round trips measured from ``log`` (seconds, in the order their answers appear)."""

    log: Path
    round_trips: tuple[float, ...]
    split: float = 0.5
    seed: int = 0


LatencyConfig = ConstantLatency | MeasuredLatency


# -- measuring --------------------------------------------------------------------------------


def _values(record: LogRecord) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for tag, value in record.fields:
        out.setdefault(tag, value)  # header tags come first; a group's repeats do not count
    return out


def _line_time(record: LogRecord) -> datetime | None:
    stamp = record.timestamp
    if stamp is None or stamp.tzinfo is None:
        return stamp
    return stamp.astimezone(UTC).replace(tzinfo=None)


def _sending_time(values: Mapping[int, bytes]) -> datetime | None:
    raw = values.get(SENDING_TIME)
    if raw is None:
        return None
    try:
        return parse_utc_timestamp(raw)
    except ValueError:
        return None


def _seconds(order: tuple[LogRecord, Mapping[int, bytes]],
             answer: tuple[LogRecord, Mapping[int, bytes]]) -> float | None:
    sent, got = _line_time(order[0]), _line_time(answer[0])
    if sent is None or got is None:
        sent, got = _sending_time(order[1]), _sending_time(answer[1])
    if sent is None or got is None:
        return None
    return (got - sent).total_seconds()


def measure_round_trips(path: str | PathLike[str]) -> list[float]:
    """Seconds from each NewOrderSingle (35=D) in the log at ``path`` to the first
    ExecutionReport (35=8) that answers it, in the order the answers appear.

    An answer has the order's ClOrdID (11) and comes from the other side: its SenderCompID
    (49) is the order's TargetCompID (56) and its TargetCompID the order's SenderCompID, so
    a log holding several sessions pairs each order within its own session.

    Time is the log line's own timestamp when both messages have one (QuickFIX's
    ``20120621-13:30:00.017 : 8=FIX...``), else SendingTime (52) of both. The line time wins
    because one host's clock wrote both lines, at the moments that host sent and received,
    often to the microsecond; SendingTime is stamped by each sender on its own clock, so
    a round trip made from two SendingTimes carries the clock offset between the two
    counterparties (and is usually only to the millisecond). Line and SendingTime are never
    mixed within one pair.

    Skipped, because their timing is not the order's: PossDupFlag=Y (43) copies of either
    message (a resend repeats an order or answer already sent, at resend time), and a
    NewOrderSingle whose ClOrdID that sender already used towards that target (a duplicate
    the counterparty rejects, or a resend without PossDup: its answers could not be told
    from later reports on the first order). A pair with no usable time on either scale is
    left out too. The log is read strictly: a bad record raises
    :class:`gateway.fixlog.LogFormatError` naming its file and line; a log with no pair
    raises ``ValueError`` naming the file; ``OSError`` if it cannot be read.
    """
    pending: dict[tuple[bytes, bytes, bytes], tuple[LogRecord, dict[int, bytes]]] = {}
    used: set[tuple[bytes, bytes, bytes]] = set()
    out: list[float] = []
    for record in read_log(path, strict=True):
        values = _values(record)
        msg_type = values.get(MSG_TYPE)
        if msg_type not in (b"D", b"8") or values.get(POSS_DUP) == b"Y":
            continue
        cl_ord_id, sender, target = (values.get(t, b"") for t in (CL_ORD_ID, SENDER, TARGET))
        if not cl_ord_id:
            continue
        if msg_type == b"D":
            key = (cl_ord_id, sender, target)
            if key not in used:
                used.add(key)
                pending[key] = (record, values)
            continue
        order = pending.pop((cl_ord_id, target, sender), None)
        if order is not None:
            seconds = _seconds(order, (record, values))
            if seconds is not None:
                out.append(seconds)
    if not out:
        raise ValueError(f"{path}: no NewOrderSingle answered by an ExecutionReport")
    return out


# -- the model --------------------------------------------------------------------------------


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) of sorted values."""
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class LatencyModel:
    """Delays for a backtest's order entry and acknowledgements, per call.

    ``entry()`` and ``ack()`` return the configured constants, or for a measured config a
    round trip drawn uniformly from the measured ones (seeded, so a run repeats exactly:
    the same config and the same sequence of calls give the same delays) times ``split``
    and ``1 - split``. Delays are never negative.
    """

    def __init__(self, config: LatencyConfig) -> None:
        self.config = config
        if isinstance(config, MeasuredLatency):
            if not config.round_trips:
                raise ValueError(f"{config.log}: no round trips to draw from")
            self._samples: tuple[float, ...] = config.round_trips
            self._rng = random.Random(config.seed)

    def _draw(self, share: float) -> timedelta:
        return timedelta(seconds=self._rng.choice(self._samples) * share)

    def entry(self) -> timedelta:
        """Order decision to the order reaching the venue."""
        c = self.config
        if isinstance(c, ConstantLatency):
            return timedelta(seconds=c.entry)
        return self._draw(c.split)

    def ack(self) -> timedelta:
        """The venue's acknowledgement to it reaching the algo."""
        c = self.config
        if isinstance(c, ConstantLatency):
            return timedelta(seconds=c.ack)
        return self._draw(1.0 - c.split)

    def describe(self) -> dict[str, object]:
        """For the report: kind, source log (None for constant), sample count and the round
        trip's p50 and p99 in microseconds (entry + ack for a constant model)."""
        c = self.config
        if isinstance(c, ConstantLatency):
            rt = (c.entry + c.ack) * 1e6
            return {"kind": "constant", "source": None, "samples": 0,
                    "entry_us": c.entry * 1e6, "ack_us": c.ack * 1e6,
                    "round_trip_p50_us": rt, "round_trip_p99_us": rt}
        ordered = sorted(c.round_trips)
        return {"kind": "measured", "source": str(c.log), "samples": len(ordered),
                "split": c.split, "seed": c.seed,
                "round_trip_p50_us": _quantile(ordered, 0.5) * 1e6,
                "round_trip_p99_us": _quantile(ordered, 0.99) * 1e6}


# -- the YAML section -------------------------------------------------------------------------

_CONSTANT_KEYS = frozenset({"entry", "ack"})
_MEASURED_KEYS = frozenset({"measured", "split", "seed"})


def _seconds_value(node: Node) -> float:
    value = node.number()
    if not math.isfinite(value) or value < 0:
        raise node.error(f"expected a finite number of seconds >= 0, got {value}")
    return value


def _only(m: Mapping[str, Node], keys: Iterable[str], reason: str) -> None:
    for key in sorted(keys):
        if key in m:
            raise m[key].error(reason)


def parse_latency(node: Node | None, base: Path) -> LatencyConfig:
    """Validate a ``latency:`` section (None: zero delays) and, for ``measured``, read and
    measure its log now; relative paths are relative to ``base`` (the YAML's folder)."""
    if node is None:
        return ConstantLatency()
    m = node.mapping(_CONSTANT_KEYS | _MEASURED_KEYS)
    if "measured" not in m:
        _only(m, _MEASURED_KEYS, "applies only with measured: LOG (a constant model takes "
              "entry and ack seconds)")
        return ConstantLatency(
            entry=_seconds_value(m["entry"]) if "entry" in m else 0.0,
            ack=_seconds_value(m["ack"]) if "ack" in m else 0.0)
    _only(m, _CONSTANT_KEYS, "not allowed with measured: LOG (the log gives entry and ack; "
          "split divides them)")
    log = m["measured"].existing_file(base)
    try:
        round_trips = measure_round_trips(log)
    except OSError as exc:
        raise m["measured"].error(f"cannot measure round trips: {log}: cannot read: "
                                  f"{exc.strerror or exc}") from None
    except ValueError as exc:  # names the log itself (LogFormatError: its file:line too)
        raise m["measured"].error(f"cannot measure round trips: {exc}") from None
    negative = [rt for rt in round_trips if rt < 0]
    if negative:
        raise m["measured"].error(
            f"{log}: {len(negative)} of {len(round_trips)} round trips are negative (down to "
            f"{min(negative) * 1e6:.0f} us): the log's timestamps go backwards or its "
            "SendingTimes come from clocks that disagree")
    return MeasuredLatency(
        log=log,
        round_trips=tuple(round_trips),
        split=m["split"].number(0.0, 1.0) if "split" in m else 0.5,
        seed=m["seed"].integer() if "seed" in m else 0,
    )

