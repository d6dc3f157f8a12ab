"""``gateway audit --clordid ID``: time and memory on a large run folder, against keeping every
record (the reading before two passes) measured in the same run.

    python bench/bench_audit.py [--orders 11000] [--runs 3] [--gzip]

Writes (once, to bench/out/audit_logs/, reused while ``--orders`` and ``--gzip`` stay the
same) what a day of a gateway's run folder holds: the JSON audit log
(gateway.audit.AuditLog) and both sides' QuickFIX-format message logs
(gateway.msglog.SessionLog) of a client session and a venue session. ``--orders`` client
orders, 50 in flight at a time: four in five are plain orders (NewOrderSingle, ack, a
replace and its ack, a partial fill, a fill), one in five algo parents worked with three
child orders at the venue (each sent, acked and filled, with the algo's decisions and the
order records). Heartbeats between them. Every message is in three files.

Each approach runs in a fresh subprocess, for two orders: a plain order of the first
minutes and an algo parent near the end of the day (whose second pass reads every file to
its end):

* ``gateway audit`` as shipped (gateway.cli.main, output to /dev/null);
* baseline: the reading before it, which ``gateway.audit_entries.read_entries`` still does
  (an Entry with the raw message and the whole JSON record for every record with an order
  id in every file), then the same ``related`` and output.

Per approach, the median of ``--runs`` subprocesses of wall time and ru_maxrss (peak RSS,
which includes the interpreter and its imports: the floor is measured too), and, in one
more subprocess each, tracemalloc's peak (Python allocations only, numpy's included; the
run is slower under tracing, its time is not used). Both approaches' outputs are checked
equal.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from common import machine  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripted_peer import ScriptedPeer  # noqa: E402  # it imports fixspec, found via ROOT

from gateway.audit import AuditLog  # noqa: E402
from gateway.audit_entries import find_files, read_entries  # noqa: E402
from gateway.audit_family import related  # noqa: E402
from gateway.audit_render import iter_lines  # noqa: E402
from gateway.msglog import SessionLog  # noqa: E402

if TYPE_CHECKING:
    from gateway.session_runner import SessionRunner

OUT = ROOT / "bench" / "out" / "audit_logs"
T0 = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
IN_FLIGHT = 50


# -- the logs ---------------------------------------------------------------------------------


@dataclass
class _Session:
    """What :meth:`AuditLog.message` reads of the session runner a message went through: the
    name its records carry."""

    name: str


def _runner(name: str) -> SessionRunner:
    return cast("SessionRunner", _Session(name))


class _Day:
    """The writers of one run folder and a clock that moves 1 ms a message."""

    def __init__(self, folder: Path) -> None:
        self.now = T0
        self.audit = AuditLog(folder / "audit" / "gateway.jsonl", flush_every=10_000)
        self.client_runner, self.venue_runner = _runner("FIX.4.4:GW->CLIENT"), _runner(
            "FIX.4.4:GW->VENUE")
        self.logs = {
            "client": (SessionLog(folder / "gw", "FIX.4.4", "GW", "CLIENT"),
                       SessionLog(folder / "client", "FIX.4.4", "CLIENT", "GW")),
            "venue": (SessionLog(folder / "gw", "FIX.4.4", "GW", "VENUE"),
                      SessionLog(folder / "venue", "FIX.4.4", "VENUE", "GW")),
        }
        self.peers = {("client", "in"): ScriptedPeer(sender="CLIENT", target="GW"),
                      ("client", "out"): ScriptedPeer(sender="GW", target="CLIENT"),
                      ("venue", "out"): ScriptedPeer(sender="GW", target="VENUE"),
                      ("venue", "in"): ScriptedPeer(sender="VENUE", target="GW")}

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def msg(self, session: str, direction: str, body: str) -> None:
        now = self.tick()
        raw = self.peers[session, direction].msg(body, now)
        r = self.client_runner if session == "client" else self.venue_runner
        self.audit.message(r, "in" if direction == "in" else "out", raw, now)
        for log in self.logs[session]:
            log.message(now, raw)

    def close(self) -> None:
        self.audit.close()
        for pair in self.logs.values():
            for log in pair:
                log.close()


def _plain(day: _Day, i: int) -> Iterator[None]:
    cl, oid, px = f"O{i}", f"G-{i}", Decimal("10.00") + Decimal(i % 50) / 100
    day.msg("client", "in", f"35=D|11={cl}|21=1|38=300|40=2|44={px}|54=1|55=AAPL|59=0"
            f"|60=20260302-13:30:00")
    yield
    day.audit.order(day.tick(), "new", day.client_runner.name, cl_ord_id=cl, order_id=oid,
                    symbol="AAPL", side="BUY", qty=300, price=px, status="NEW")
    day.msg("client", "out", f"35=8|6=0|11={cl}|14=0|17=E{i}a|37={oid}|39=0|54=1|55=AAPL"
            f"|150=0|151=300")
    yield
    day.msg("client", "in", f"35=G|11={cl}R|21=1|37={oid}|38=400|40=2|41={cl}|44={px}|54=1"
            f"|55=AAPL|60=20260302-13:30:01")
    yield
    day.msg("client", "out", f"35=8|6=0|11={cl}R|14=0|17=E{i}b|37={oid}|39=0|41={cl}|54=1"
            f"|55=AAPL|150=5|151=400")
    yield
    day.msg("client", "out", f"35=8|6={px}|11={cl}R|14=100|17=E{i}c|31={px}|32=100|37={oid}"
            f"|39=1|54=1|55=AAPL|150=F|151=300")
    yield
    day.msg("client", "out", f"35=8|6={px}|11={cl}R|14=400|17=E{i}d|31={px}|32=300|37={oid}"
            f"|39=2|54=1|55=AAPL|150=F|151=0")
    day.audit.order(day.tick(), "filled", day.client_runner.name, cl_ord_id=f"{cl}R",
                    order_id=oid, status="FILLED", cum=400, avg_px=px)


def _algo(day: _Day, i: int) -> Iterator[None]:
    parent, oid = f"P{i}", f"G-{i}"
    day.msg("client", "in", f"35=D|11={parent}|21=1|38=900|40=2|44=10.50|54=1|55=AAPL"
            f"|60=20260302-13:30:00|847=1")
    yield
    day.audit.order(day.tick(), "new", day.client_runner.name, cl_ord_id=parent, order_id=oid,
                    symbol="AAPL", side="BUY", qty=900, price=Decimal("10.50"), status="NEW")
    day.msg("client", "out", f"35=8|6=0|11={parent}|14=0|17=E{i}a|37={oid}|39=0|54=1|55=AAPL"
            f"|150=0|151=900")
    for k in range(3):
        yield
        child = f"C{i}.{k}"
        day.audit.algo(day.tick(), "slice", parent, slice=f"{k + 1}/3", size=300,
                       price=Decimal("10.40"), reason="schedule", cl_ord_id=child)
        day.audit.order(day.tick(), "new", day.venue_runner.name, cl_ord_id=child,
                        parent=parent, symbol="AAPL", side="BUY", qty=300,
                        price=Decimal("10.40"))
        day.msg("venue", "out", f"35=D|11={child}|21=1|38=300|40=2|44=10.40|54=1|55=AAPL"
                f"|60=20260302-13:30:00")
        yield
        day.msg("venue", "in", f"35=8|6=0|11={child}|14=0|17=V{i}.{k}a|37=V-{i}.{k}|39=0|54=1"
                f"|55=AAPL|150=0|151=300")
        yield
        day.msg("venue", "in", f"35=8|6=10.40|11={child}|14=300|17=V{i}.{k}b|31=10.40|32=300"
                f"|37=V-{i}.{k}|39=2|54=1|55=AAPL|150=F|151=0")
        day.audit.order(day.tick(), "filled", day.venue_runner.name, cl_ord_id=child,
                        order_id=f"V-{i}.{k}", parent=parent, status="FILLED", cum=300)
        day.msg("client", "out", f"35=8|6=10.40|11={parent}|14={300 * (k + 1)}|17=E{i}.{k}"
                f"|31=10.40|32=300|37={oid}|39={2 if k == 2 else 1}|54=1|55=AAPL"
                f"|150=F|151={600 - 300 * k}")
    day.audit.algo(day.tick(), "done", parent, reason="filled")


def generate(folder: Path, orders: int) -> tuple[str, str]:
    """Write the run folder; the ClOrdIDs of an early plain order and a late algo parent."""
    day = _Day(folder)
    pending = iter(range(orders))
    active: list[Iterator[None]] = []
    started = 0
    while True:
        while len(active) < IN_FLIGHT and (i := next(pending, None)) is not None:
            active.append(_algo(day, i) if i % 5 == 4 else _plain(day, i))
            started += 1
        if not active:
            break
        for gen in list(active):
            if next(gen, StopIteration) is StopIteration:
                active.remove(gen)
        if started % 10 == 0:
            day.msg("client", "in", "35=0")
            day.msg("venue", "in", "35=0")
    day.close()
    late = max(i for i in range(orders) if i % 5 == 4)
    return "O1", f"P{late}"


def _gzip_all(folder: Path) -> None:
    for path in folder.rglob("*.log"):
        with path.open("rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()
    for path in folder.rglob("*.jsonl"):
        with path.open("rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()


def logs(orders: int, gz: bool) -> tuple[Path, tuple[str, str]]:
    folder = OUT / f"{orders}{'-gz' if gz else ''}"
    stamp = folder / ".ids"
    if not stamp.exists():
        shutil.rmtree(folder, ignore_errors=True)
        ids = generate(folder, orders)
        for path in folder.rglob("*.event.current.log"):
            path.unlink()  # session events: no order in them
        if gz:
            _gzip_all(folder)
        stamp.write_text(json.dumps(ids))
    early, late = json.loads(stamp.read_text())
    return folder, (early, late)


# -- the baseline: the reading before two passes ----------------------------------------------

def _old_audit(folder: Path, cl_ord_id: str) -> str:
    """The baseline's text output: the same header and lines as ``gateway audit``."""
    (relation,) = related(read_entries(find_files(folder)).entries, cl_ord_id)
    out = io.StringIO()
    out.write(f"ClOrdID {cl_ord_id}: {len(relation.entries)} records; ClOrdIDs "
              f"{', '.join(sorted(relation.cl_ord_ids))}; OrderIDs "
              f"{', '.join(sorted(relation.order_ids)) or 'none'}"
              + (f"; session {relation.session}" if relation.session else "") + "\n")
    for line in iter_lines(relation.entries):
        out.write(line + "\n")
    return out.getvalue()


# -- one measured run (in its own process) ----------------------------------------------------


def child(approach: str, folder: Path, cl_ord_id: str, trace: bool) -> None:
    """Run one approach, print its wall time, peak RSS, traced peak and output digest. The
    imports of every subcommand come first, for both: ``gateway`` makes them at start-up."""
    from gateway.cli import build_parser, main

    build_parser()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    if approach == "floor":
        text = ""
    elif approach == "old":
        text = _old_audit(folder, cl_ord_id)
    else:
        out = io.StringIO()
        saved, sys.stdout = sys.stdout, out
        try:
            code = main(["audit", str(folder), "--clordid", cl_ord_id])
        finally:
            sys.stdout = saved
        assert code == 0, code
        text = out.getvalue()
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    print(json.dumps({"wall": wall, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "traced": peak, "lines": text.count("\n"),
                      "digest": hashlib.sha256(text.encode()).hexdigest()}))


def measure(approach: str, folder: Path, cl_ord_id: str, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", approach, "--folder", str(folder),
           "--clordid", cl_ord_id] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=11_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="gzip every log file")
    parser.add_argument("--child", choices=("new", "old", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--clordid", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.clordid, args.trace)
        return

    print(machine())
    t0 = time.perf_counter()
    folder, (early, late) = logs(args.orders, args.gzip)
    made = time.perf_counter() - t0
    files = find_files(folder)
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB{' gzipped' if args.gzip else ''}, "
          f"{args.orders:,} client orders ({folder}, {made:.1f} s to get)")
    floor = statistics.median(measure("floor", folder, late, False)["rss_kb"]
                              for _ in range(args.runs))
    print(f"floor (interpreter and imports): ru_maxrss {floor / 1024:.0f} MB")
    print(f"median of {args.runs} fresh processes each; traced = tracemalloc peak (one more "
          "process)")
    names = {"old": "baseline: keep every record", "new": "gateway audit (two passes)"}
    for what, cl in (("early plain order", early), ("late algo parent", late)):
        runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
        for _ in range(args.runs):  # interleaved, so a change in the machine's load hits both
            for approach in runs:
                runs[approach].append(measure(approach, folder, cl, False))
        row = {}
        for approach, results in runs.items():
            traced = measure(approach, folder, cl, True)
            assert len({r["digest"] for r in [*results, traced]}) == 1, "output differs by run"
            row[approach] = (statistics.median(r["wall"] for r in results),
                             statistics.median(r["rss_kb"] for r in results) / 1024,
                             traced["traced"] / 2**20, traced["digest"], traced["lines"])
        assert row["old"][3] == row["new"][3], f"{cl}: the outputs differ"
        print(f"{what} {cl} ({row['new'][4] - 1} records, same output both ways):")
        for approach in ("old", "new"):
            wall, rss, traced_mb = row[approach][:3]
            print(f"  {names[approach]:<28} {wall:7.2f} s  ru_maxrss {rss:7.1f} MB  "
                  f"traced {traced_mb:7.1f} MB")
        (ow, orss, otr), (nw, nrss, ntr) = row["old"][:3], row["new"][:3]
        above = (nrss - floor / 1024) / max(orss - floor / 1024, 1e-9)
        print(f"  two passes / baseline: time {nw / ow:.2f}x, ru_maxrss {nrss / orss:.2f}x "
              f"({above:.3f}x above the floor), traced {ntr / otr:.3f}x")


if __name__ == "__main__":
    main()
