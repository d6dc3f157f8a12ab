"""What the first pass of :func:`gateway.audit_two_passes.read_related` keeps of every record,
and the family search on it.

:class:`IdTable` holds each record's ids as 32-bit keys (21 bytes a record); while one order's
family is searched (:func:`family_records`), an index of 8 bytes a filed id, at most 4 ids a
record, finds the records filed under a key. Ids that share a key link more records, never
fewer, so the records found are all the family's and maybe a few more.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from gateway.audit_family import RecordIds, find_family, real_order_id

__all__ = ["IdTable", "family_records"]


def _key(value: str) -> int:
    """An id's key in the compact index: 32 bits of its hash, never 0 (0 is "no id").
    Different ids may share a key; see the module's docstring for why that is harmless."""
    return (hash(value) & _KEY_MASK) or 1


_KEY_MASK = 0xFFFFFFFF


class IdTable:
    """What the first pass keeps of each record with an order id, numbered in reading order
    (its ``seq``): the keys of its ClOrdID, OrigClOrdID, OrderID (0 for none or a placeholder)
    and parent, whether it is an algo decision, and the line it starts on. 21 bytes a
    record, in flat arrays."""

    def __init__(self) -> None:
        self.cl = array("I")
        self.orig = array("I")
        self.order = array("I")
        self.parent = array("I")
        self.line = array("I")
        self.algo = bytearray()

    def __len__(self) -> int:
        return len(self.algo)

    def add(self, line: int, algo: bool, ids: Mapping[str, str]) -> None:
        """Number the next record: it starts on ``line``, is an algo decision if ``algo``, and
        has ``ids`` (``cl_ord_id``, ``orig_cl_ord_id``, ``order_id``, ``parent``, each maybe
        absent)."""
        cl, orig = ids.get("cl_ord_id"), ids.get("orig_cl_ord_id")
        order, parent = real_order_id(ids.get("order_id")), ids.get("parent")
        self.cl.append(0 if cl is None else _key(cl))
        self.orig.append(0 if orig is None else _key(orig))
        self.order.append(0 if order is None else _key(order))
        self.parent.append(0 if parent is None else _key(parent))
        self.line.append(line)
        self.algo.append(algo)


def _column(a: array[int]) -> npt.NDArray[np.uintc]:
    return np.frombuffer(a, dtype=np.uintc)  # a view: no copy


class _KeyIndex:
    """The records filed under each key of one column, as a sorted array of
    ``key << 32 | record``: 8 bytes a filed record, found by binary search."""

    _CHUNK = 1 << 20  # records turned into pairs at a time: bounds the temporaries

    def __init__(self, keys: npt.NDArray[np.uintc], where: npt.NDArray[np.bool_] | None) -> None:
        filed = keys != 0 if where is None else (keys != 0) & where
        self.pairs = np.empty(int(np.count_nonzero(filed)), dtype=np.uint64)
        at = 0
        for start in range(0, len(keys), self._CHUNK):
            part = filed[start:start + self._CHUNK]
            records = np.flatnonzero(part).astype(np.uint64) + np.uint64(start)
            chunk = keys[start:start + self._CHUNK][part].astype(np.uint64) << np.uint64(32)
            self.pairs[at:at + len(records)] = chunk | records
            at += len(records)
        self.pairs.sort()

    def __call__(self, key: int) -> list[int]:
        lo = int(np.searchsorted(self.pairs, np.uint64(key << 32)))
        hi = int(np.searchsorted(self.pairs, np.uint64(key << 32 | _KEY_MASK), side="right"))
        records: list[int] = (self.pairs[lo:hi] & np.uint64(_KEY_MASK)).tolist()
        return records


class _KeyLinks:
    """The links between the records of an :class:`IdTable`, by key: the filing of
    :mod:`gateway.audit_family`'s entry links, with keys for ids, on every session (the
    table keeps no session: links within one session are among these)."""

    def __init__(self, table: IdTable) -> None:
        self.table = table
        cl, orig, order, parent = (_column(c) for c in (table.cl, table.orig, table.order,
                                                       table.parent))
        algo = np.frombuffer(table.algo, dtype=np.uint8).astype(np.bool_)
        # an algo decision with a parent is filed under its parent and its child only
        plain = ~(algo & (parent != 0))
        del algo
        self._cl = _KeyIndex(cl, None)
        self._orig = _KeyIndex(orig, plain)
        self._order = _KeyIndex(order, plain)
        self._parent = _KeyIndex(parent, None)

    def by_cl(self, value: int, session: str | None) -> Iterable[int]:
        return self._cl(value) + self._orig(value)

    def by_order(self, value: int, session: str | None) -> Iterable[int]:
        return self._order(value)

    def by_parent(self, value: int, session: str | None) -> Iterable[int]:
        return self._parent(value)

    def session(self, record: int) -> str | None:
        return None  # every session: see the class docstring

    def ids(self, record: int) -> RecordIds[int]:
        t = self.table
        return (bool(t.algo[record]), t.cl[record] or None, t.orig[record] or None,
                t.order[record] or None, t.parent[record] or None)



def family_records(table: IdTable, cl_ord_id: str) -> list[int]:
    """The records (numbers in ``table``, ascending) of the families of the orders
    ``cl_ord_id`` names as :func:`gateway.audit_family.related` finds them, searched by keys
    and on every session: every record of each family, and maybe a few more (of other
    sessions, or whose ids share a key with one of the families'). Raises
    ValueError if ``table`` holds more records than 32 bits number."""
    if len(table) > _KEY_MASK:
        raise ValueError(f"more than {_KEY_MASK:,} records with order ids: read fewer files")
    return sorted(find_family(_KeyLinks(table), _key(cl_ord_id), shared_keys=True)[0])
