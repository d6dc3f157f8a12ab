"""One order's records read in two passes, in memory bounded by the order, not by the logs.

:func:`read_related` answers as ``related(read_entries(...).entries, ...)`` for one order in
memory bounded by the order's own records plus a compact index of every record's ids (21
bytes a record, and 8 an id while the family is searched), where an :class:`Entry` with its
message and JSON record costs a kilobyte or more: a desk's day of logs is gigabytes. It reads
the files twice (see its docstring).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.audit_entries import (
    Entry,
    Reading,
    fix_entries_at,
    fix_hits,
    is_audit_log,
    json_entries_at,
    json_hits,
    label_of,
    open_lines,
    our_comp_id,
)
from gateway.audit_family import Relation, related
from gateway.audit_id_index import IdTable, family_records

__all__ = ["read_related"]


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    label: str
    is_json: bool
    start: int  # the seq of its first record with an order id


def read_related(paths: Sequence[Path], cl_ord_id: str, labels: Sequence[str] | None = None,
                 *, max_warnings: int | None = None) -> tuple[Reading, list[Relation]]:
    """``related(read_entries(paths, labels).entries, cl_ord_id)`` (one Relation for each
    session's order with that ClOrdID), and the reading's counts
    and warnings (the first ``max_warnings``, if given; see :class:`Reading`), in memory
    bounded by the order's own records plus 21 bytes a record with an order id (and, while
    the family is searched, an index of 8 bytes an id, at most 4 ids a record), not by the
    logs' size. ``Reading.entries`` holds the records read in the second pass: the
    relations', and maybe a few others.

    Two passes. The first reads every file and keeps only each record's ids, as 32-bit keys,
    and its line (:class:`gateway.audit_id_index.IdTable`); the family search of
    :func:`related` runs on those keys, on every session (the table keeps no session). Ids
    that share a key, and links across sessions, link more records, never fewer, so the
    records found are all the families' and maybe a few more. The second pass reads
    again the files holding them, up to the last one, builds an :class:`Entry` for each, and
    :func:`related` runs on those: the same ids as text, the same numbering (``seq``) and
    sources, hence exactly :func:`related`'s answer over every record.

    Files are read twice. A log appended to between the passes is read as it was at the
    first (the second stops at the last record the first found); one rotated or rewritten
    between them is not supported: the records read again may not be the ones found. Raises
    OSError as :func:`read_entries`, and ValueError when more records have order ids than 32
    bits number."""
    reading = Reading(max_warnings=max_warnings)
    table = IdTable()
    files: list[_File] = []
    for i, path in enumerate(paths):
        label = label_of(paths, labels, i)
        reading.files += 1
        try:
            is_json = is_audit_log(path, label)
            files.append(_File(path, label, is_json, len(table)))
            with open_lines(path, label) as lines:
                if is_json:
                    for lineno, obj, ids, _ in json_hits(lines, label, reading):
                        table.add(lineno, str(obj["kind"]) == "algo", ids)
                else:
                    for rec, ids in fix_hits(lines, label, reading):
                        table.add(rec.line, False, ids)
        except OSError as exc:  # what it gave before stays found; the other files are read
            reading.unreadable.append(str(exc))
    found = family_records(table, cl_ord_id)
    lines_of = [table.line[r] for r in found]
    del table  # before the second pass: its entries are what memory is left for
    reading.entries = _read_again(files, found, lines_of, reading)
    return reading, related(reading.entries, cl_ord_id)


def _read_again(files: Sequence[_File], records: Sequence[int],
                lines_of: Sequence[int], reading: Reading) -> list[Entry]:
    """Entries for ``records`` (seqs, ascending; ``lines_of`` the line each starts on). It
    reads no further than the first pass found records, so a file cut short is read again
    without error; one that changed in between and fails now is told in ``reading``."""
    starts = [f.start for f in files]
    wanted: dict[int, list[int]] = defaultdict(list)  # file -> indexes into records
    for k, r in enumerate(records):
        wanted[bisect.bisect_right(starts, r) - 1].append(k)
    out: list[Entry] = []
    for i, ks in sorted(wanted.items()):
        f = files[i]
        try:
            with open_lines(f.path, f.label) as lines:
                if f.is_json:
                    out += json_entries_at(lines, f.label,
                                           {lines_of[k]: records[k] for k in ks})
                else:
                    out += fix_entries_at(lines, f.label, our_comp_id(f.path),
                                          {records[k] - f.start: records[k] for k in ks})
        except OSError as exc:
            reading.unreadable.append(f"{exc} (on reading it again)")
    return out

