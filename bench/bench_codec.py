"""One message through the codec, the validator and the audit line: a known shape against
the first of its shape, and the caches' memory when a peer fills them.

Timed per message, median of ``--runs`` rounds of ``--messages`` calls each, on the FIX 4.4
NewOrderSingle of the round-trip benchmark (bench/fixload.py):

* decoding, validating and encoding a message of a shape seen before (the path every later
  message of a session takes) against the full decode, check and encode, which a message of
  a new shape gets (learning its shape then costs a little more);
* the audit log's msg line (its ids and escaped text made in C, csrc/auditline.c) against
  structlog's rendering of the same record from :func:`gateway.audit.scan_ids`, the text the
  C line must equal.

Then the memory the three shape caches hold at worst, as a peer sending ever new shapes of
MAX_SHAPE_FIELDS fields (distinct user-defined tags) leaves them: measured over the shapes
they hold (half their bound), scaled to MAX_PLANS in each.

usage: python bench/bench_codec.py [--messages 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import machine  # bench/ is on sys.path when a script runs
from fixload import FixClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.framing import Framer
from fixspec.dictionary import SessionDictionaries, load_builtin
from fixspec.shape_plans import MAX_PLANS, MAX_SHAPE_FIELDS
from fixspec.validate import _PLANS, ValidationOptions, _check_fully, validate
from gateway.audit import message_line, message_record
from gateway.codec import (
    _LAYOUTS,
    _SECTIONS,
    _Decoder,
    _encode_fully,
    _frame,
    decode,
    encode,
)
from tests.test_audit import _rendered  # the msg record as structlog renders it


class _Order(FixClient):
    """The load client's NewOrderSingle, framed without a socket."""

    def __init__(self) -> None:  # (no connection: only frame() and order() are used)
        self.buf, self.seq, self._second, self._stamp = b"", 1, 0, b""
        self._ids = b"49=TW\x0152=", b"\x0156=ISLD\x01"


def per_call_us(call: Callable[[], Any], n: int, runs: int) -> float:
    """Median over ``runs`` of the time a call takes, in microseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            call()
        times.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(times)


def cache_memory_mb() -> tuple[int, float]:
    """Shapes the three caches hold after a peer's longest ones, and the MB they would hold
    filled to their bound."""
    dd = load_builtin("FIX.4.4")
    sd = SessionDictionaries.single(dd)
    options = ValidationOptions(check_user_defined_fields=False)
    order = decode(Framer().scan(_Order().order(b"X"))[0].fields(), None, sd)
    head = [*order.header, *order.body]  # the order's fields but CheckSum, no group among them
    extra = MAX_SHAPE_FIELDS - len(head) - 1
    shapes = [[*head, *((5000 + (k * 7 + i) % 3000, b"x") for i in range(extra)), (10, b"000")]
              for k in range(MAX_PLANS // 2)]  # (half: the caches are not cleared meanwhile)
    gc.collect()
    tracemalloc.start()
    for fields in shapes:
        encode(validate_decoded(fields, sd, options), sd)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    shapes_held = sum(cache.held_for(sd) for cache in (_SECTIONS, _PLANS, _LAYOUTS))
    return shapes_held, held / shapes_held * 3 * MAX_PLANS / 1e6


def validate_decoded(fields: list[tuple[int, bytes]], sd: SessionDictionaries,
                     options: ValidationOptions) -> Any:
    message = decode(fields, None, sd, options=options)
    validate(message, sd, options)
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n, runs = args.messages, args.runs
    dd = load_builtin("FIX.4.4")
    raw = _Order().order(b"P123456")
    fields = Framer().scan(raw)[0].fields()
    known = SessionDictionaries.single(dd)
    message = decode(fields, raw, known)
    validate(message, known)
    encode(message, known)  # the shape is known from here on

    options = ValidationOptions()
    msg_type = message.header[35]
    rows = [
        ("decode", per_call_us(lambda: decode(fields, raw, known), n, runs),
         per_call_us(lambda: _Decoder(fields, known, options).decode(), n, runs)),
        ("validate", per_call_us(lambda: validate(message, known), n, runs),
         per_call_us(lambda: _check_fully(message, known, options, False), n, runs)),
        ("encode", per_call_us(lambda: encode(message, known), n, runs),
         per_call_us(lambda: _frame(b"FIX.4.4", _encode_fully(msg_type, (
             list(message.header), list(message.body), list(message.trailer)), known)[0]),
             n, runs)),
    ]
    now = datetime.now(UTC)
    assert message_line(now, "S", "in", raw) == _rendered(now, "S", "in", raw)
    # what the log writes: the record's bytes, against structlog's line encoded for the file
    audit = (per_call_us(lambda: message_record(now, "S", "in", raw), n, runs),
             per_call_us(lambda: _rendered(now, "S", "in", raw).encode("utf-8"), n, runs))
    print(f"machine: {machine()}")
    print(f"NewOrderSingle of {len(raw)} bytes, {len(fields)} fields; median of {runs} rounds "
          f"of {n} calls")
    print(f"{'step':10s} {'known shape us':>15s} {'full path us':>13s} {'ratio':>7s}")
    for name, fast, slow in rows:
        print(f"{name:10s} {fast:15.2f} {slow:13.2f} {fast / slow:7.2f}")
    print(f"audit line: C {audit[0]:.2f} us vs structlog rendering {audit[1]:.2f} us "
          f"({audit[0] / audit[1]:.2f}x)")
    shapes_held, mb = cache_memory_mb()
    print(f"shape caches at their bound ({MAX_PLANS} shapes of {MAX_SHAPE_FIELDS} fields in "
          f"each of three; from {shapes_held} held): {mb:.1f} MB")


if __name__ == "__main__":
    main()
