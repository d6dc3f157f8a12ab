"""The parent orders a client sent, on disk until a clean stop has settled them.

A client killed (``kill -9``, a crash, power loss) leaves its parents working at the algo
gateway; restarted, it sent its config's orders again, bought the quantity twice and never
followed the first parents. So before a parent's NewOrderSingle goes out, the client appends
it to ``RUN_DIR/<SENDER>-<TARGET>.client-parents.jsonl`` (the client session's CompIDs; one
JSON object a line, fsynced), and a
restart finds there the parents to follow (an OrderStatusRequest at logon says where each
stands) instead of sending them anew. A clean stop that settles every parent (each done:
filled, canceled, rejected, expired) removes the file: the next run is a new one.

A line cut short is the last line of a write a crash interrupted: its order was not sent
(sending waits for the fsync), so it is passed over and cut off the file. Any other line
that does not read is an error naming the file and line: the file is the gateway's own, and
guessing could send an order twice. The config's orders at the places journaled are not
sent again, even if the config changed there since.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gateway.client_order import ClientOrder
from gateway.store import fsync_dir

__all__ = ["JOURNAL", "JournalError", "ParentJournal", "SentParent"]

#: In the run directory; ``{session}`` is the client session's ``SENDER-TARGET`` CompIDs (run
#: directories may be shared; two clients of one session cannot run at once).
JOURNAL = "{session}.client-parents.jsonl"


class JournalError(ValueError):
    """The journal cannot be read: file, line and why."""


@dataclass(frozen=True, slots=True)
class SentParent:
    """A parent sent: the config order at ``index`` (0-based, in ``client: orders``) as
    ClOrdID ``cl_ord_id``."""

    index: int
    cl_ord_id: str
    order: ClientOrder


class ParentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def load(self) -> list[SentParent]:
        """The parents recorded (none if there is no file)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        keep = data.rfind(b"\n") + 1
        if keep < len(data):  # a write cut short: its order never went (see the docstring)
            with self.path.open("r+b") as f:  # and the next record must start a line
                f.truncate(keep)
                os.fsync(f.fileno())
        out = []
        for number, line in enumerate(data[:keep].split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                out.append(_parent(json.loads(line)))
            except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
                raise JournalError(f"{self.path}:{number}: not a parent the client sent "
                                   f"({type(exc).__name__}: {exc})") from None
        return out

    def record(self, sent: SentParent) -> None:
        """Append ``sent`` and fsync it (and, the first time, the folder's entry for the
        file): once this returns, a restart knows the parent."""
        new = self._file is None
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        o = sent.order
        line = json.dumps({"index": sent.index, "cl_ord_id": sent.cl_ord_id,
                           "order": {"symbol": o.symbol, "side": o.side, "qty": o.qty,
                                     "strategy": o.strategy, "window": o.window,
                                     "params": o.params, "limit": _text(o.limit),
                                     "participation": _text(o.participation)}})
        self._file.write(line.encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if new:
            fsync_dir(self.path.parent)

    def clear(self) -> None:
        """Every parent is settled: remove the file (a restart then starts anew)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.path.parent)


def _parent(d: Any) -> SentParent:
    o = d["order"]
    order = ClientOrder(symbol=str(o["symbol"]), side=o["side"], qty=int(o["qty"]),
                        strategy=str(o["strategy"]), window=float(o["window"]),
                        params=str(o["params"]), limit=_decimal(o["limit"]),
                        participation=_decimal(o["participation"]))
    if order.side not in ("buy", "sell") or not isinstance(d["cl_ord_id"], str):
        raise ValueError("side or ClOrdID")
    return SentParent(int(d["index"]), d["cl_ord_id"], order)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
