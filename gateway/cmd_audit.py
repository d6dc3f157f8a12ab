"""``gateway audit PATH... --clordid ID [--session NAME]``: an order's life as a timeline.

PATH is a log file or a folder of them (read recursively: *.log, *.jsonl, *.json, *.txt,
*.fix, *.messages, rotated *.log.N, each optionally gzipped). Files may be our JSON audit
logs or FIX message logs of any engine or broker in the layouts ``gateway.fixlog`` reads.

The timeline holds every record of the order: its ClOrdID, the OrigClOrdID chain of its
replaces and cancels in both directions, the OrderIDs they map to, and for an algo parent
its child orders with their own chains (for a child, the parent's own records too). One line
a record, sorted by time (UTC):

    TIME  FILE:LINE  SESSION DIRECTION  WHAT  [11=... 41=... 37=... parent=...]  (also FILE:LINE)

A message that several files hold (a run's audit log and both sides' message logs) is one
line, at the first file read, with the other places after it.

A ClOrdID is unique within one FIX session only: the chain is followed within the session
(told by the audit log's session names, and in message logs by the messages' BeginString
and CompIDs, both directions and both sides' logs being one session). When several sessions
used ID, each session's order is its own timeline, headed by the session's name
(``Session FIX.4.4:VENUE->CLIENT1: ClOrdID ID: ...``); ``--session NAME`` shows one: NAME is
the session's name as the audit log writes it (``FIX.4.4:VENUE->CLIENT1``) or either of its
CompIDs (``CLIENT1``). An algo parent's children, on their own session, are in its timeline.

A ClOrdID is unique within a trading day only: a session that used ID again on a later day
(two OrderIDs of ID on different dates) has both orders in one timeline, and a note on
stderr says so; ``--date YYYY-MM-DD`` keeps the records of that UTC date (and those without
a time).

Files are read twice: first every record's ids only (21 bytes a record kept, plus an index
while the order's family is searched), then the files holding the family's records, up to
the last of them. Memory so grows with the order, not with the logs. A log appended to
meanwhile is read as it was at the first read; one rotated or rewritten between the two reads
is not supported.

``--json`` prints one JSON object a record instead, with ``order_session``, the session of
the order whose timeline holds it. Exit status 0 when records were found, 1 when none
mention the ClOrdID (or none of NAME's session does), 2 when a file cannot be read. Lines
skipped as unreadable are reported on stderr with their file and line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from gateway.audit_entries import find_files
from gateway.audit_family import Relation, real_order_id
from gateway.audit_render import as_json, iter_lines
from gateway.audit_two_passes import read_related
from gateway.fixlog import as_read, as_written
from gateway.input_paths import path_arg

MAX_WARNINGS = 20


def add_parser(sub: Any) -> None:
    p = sub.add_parser("audit", help="print an order's life from audit and FIX logs",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", type=path_arg, nargs="+", metavar="PATH",
                   help="a log file or a folder of logs")
    p.add_argument("--clordid", required=True, metavar="ID", help="the order's ClOrdID (11)")
    p.add_argument("--session", metavar="NAME",
                   help="only the order of this session (its name, FIX.4.4:VENUE->CLIENT1, "
                        "or a CompID) when several sessions used the ClOrdID")
    p.add_argument("--date", type=_date, metavar="YYYY-MM-DD",
                   help="only the records of this UTC date (a ClOrdID used again on a later "
                        "trading day)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folders_unread: list[str] = []
    files = _once([path for root in args.paths for path in find_files(root, folders_unread)])
    for problem in folders_unread:  # (its files are missing from the timeline)
        print(f"gateway audit: {problem}", file=sys.stderr)
    if not files:
        print(f"gateway audit: no log files under {', '.join(map(str, args.paths))}",
              file=sys.stderr)
        return 2 if folders_unread else 1
    # Two passes over the files, memory bounded by the order's records (see read_related):
    # a desk's day of logs is gigabytes. Ids are read from the logs' bytes as latin-1: an
    # id typed with other than ASCII is sought as its UTF-8 bytes read so, then as typed
    # (a JSON audit log of another system may hold it as text).
    for wanted in dict.fromkeys((as_read(args.clordid), args.clordid)):
        reading, relations = read_related(files, wanted, max_warnings=MAX_WARNINGS)
        if relations:
            break
    incomplete = bool(reading.unreadable or folders_unread)
    for warning in reading.warnings:
        print(f"gateway audit: {warning}", file=sys.stderr)
    if reading.more_warnings:
        print(f"gateway audit: ... and {reading.more_warnings} more problems", file=sys.stderr)
    for problem in reading.unreadable:
        print(f"gateway audit: {problem}; what it held before that was read, the rest is "
              "missing from the timeline", file=sys.stderr)
    if not relations:
        # (a record the problems above name, a message cut short by a crash, may be it)
        hidden = reading.warnings or reading.more_warnings
        print(f"gateway audit: no {'readable ' if hidden else ''}record mentions ClOrdID "
              f"{args.clordid!r} ({reading.records} records in {reading.files} files read"
              f"{'; the unreadable ones named above may' if hidden else ''})",
              file=sys.stderr)
        return 2 if incomplete or hidden else 1
    if args.session is not None:
        chosen = [r for r in relations if args.session in r.names]
        if not chosen:
            used = ", ".join(r.session or "(no session)" for r in relations)
            print(f"gateway audit: no order of session {args.session!r} has ClOrdID "
                  f"{args.clordid!r} (sessions that used it: {used})", file=sys.stderr)
            return 1
        relations = chosen
    if args.date is not None:
        relations = [r for r in (_on(r, args.date) for r in relations) if r.entries]
        if not relations:
            print(f"gateway audit: no record of {args.date} mentions ClOrdID "
                  f"{args.clordid!r}", file=sys.stderr)
            return 1
    for relation in relations:
        _note_reuse(relation)
    _print(relations, args)  # (a reader gone, ``| head``, is gateway.cli's to handle)
    return 2 if incomplete else 0  # (a timeline that may lack records)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _on(relation: Relation, day: date) -> Relation:
    """``relation`` with only the records of UTC date ``day`` (and those without a time),
    and the ids they hold."""
    entries = [e for e in relation.entries if e.time is None or e.time.date() == day]
    cl_ids = {i for e in entries for i in (e.cl_ord_id, e.orig_cl_ord_id) if i is not None}
    order_ids = {i for e in entries if (i := real_order_id(e.order_id)) is not None}
    return dataclasses.replace(relation, entries=entries,
                               cl_ord_ids=relation.cl_ord_ids & cl_ids,
                               order_ids=relation.order_ids & order_ids)


def _note_reuse(relation: Relation) -> None:
    """Say on stderr, for each ClOrdID of the relation (the one asked for, and those its
    chain holds), when it named orders with different OrderIDs on different UTC dates in the
    relation's session: a ClOrdID used again on another trading day, whose orders the
    timeline shows together."""
    days: dict[str, dict[date, set[str]]] = {}
    for e in relation.entries:
        order_id = real_order_id(e.order_id)
        if e.cl_ord_id is not None and order_id is not None and e.time is not None \
                and e.parent is None:
            days.setdefault(e.cl_ord_id, {}).setdefault(e.time.date(), set()).add(order_id)
    for cl_ord_id, on in sorted(days.items()):
        if len(on) > 1 and len(set().union(*on.values())) > 1:
            where = f" in session {relation.session}" if relation.session else ""
            each = "; ".join(f"{d}: OrderID {', '.join(sorted(ids))}"
                             for d, ids in sorted(on.items()))
            print(f"gateway audit: ClOrdID {as_written(cl_ord_id)!r} named orders "
                  f"on {len(on)} days{where} ({each}); the timeline shows them together, "
                  "--date YYYY-MM-DD shows one day's", file=sys.stderr)


def _once(files: list[Path]) -> list[Path]:
    """``files`` without a file reached a second time (a link to one, overlapping PATHs):
    read twice, its records were listed twice."""
    seen: set[tuple[int, int]] = set()
    out = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            out.append(path)  # (reading it says what is wrong)
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            out.append(path)
    return out



def _print(relations: list[Relation], args: argparse.Namespace) -> None:
    out = sys.stdout
    if args.json:
        for relation in relations:
            for entry in relation.entries:
                record = {**as_json(entry), "order_session": relation.session or None}
                out.write(json.dumps(record, default=str) + "\n")
        return
    several = len(relations) > 1
    if several:
        out.write(f"ClOrdID {args.clordid} was used by {len(relations)} sessions, each its "
                  f"own order (--session NAME shows one): "
                  f"{', '.join(r.session for r in relations)}\n")
    for relation in relations:
        cl_ids = ", ".join(sorted(map(as_written, relation.cl_ord_ids)))
        order_ids = ", ".join(sorted(map(as_written, relation.order_ids))) or "none"
        head = (f"ClOrdID {args.clordid}: {len(relation.entries)} records; ClOrdIDs "
                f"{cl_ids}; OrderIDs {order_ids}")
        if several:
            out.write(f"\nSession {relation.session}: {head}\n")
        else:
            out.write(head + (f"; session {relation.session}" if relation.session else "")
                      + "\n")
        for line in iter_lines(relation.entries):
            out.write(line + "\n")
    out.flush()
