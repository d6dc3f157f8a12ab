"""``gateway demo``: the whole gateway in one command, with embedded defaults.

Starts the venue (``application: venue``, trading AMZN) on a free loopback port with its
book driven by the bundled AMZN market-data log (``engine/samples/AMZN-2012-06-21.md.log``:
package data, so an installed wheel runs the demo too; replayed ``--speed`` times faster
than it was recorded), connects a FIX client that hands it a TWAP parent order (buy
``--qty`` AMZN over ``--window`` seconds in ``--slices`` slices), prints each fill as it
comes, and ends with a summary: filled quantity, average price, arrival mid, slippage
against it in basis points, child orders, and where the audit log and the metrics are. Each
run writes to a directory of its own under ``--run-dir``, named for its start time (``-2``,
``-3``... added when runs start in the same second). Everything goes over real FIX sessions
on TCP; runs take about the window plus a few seconds.

Progress lines and the summary name the parent's state in words (new, partially filled,
filled, expired, canceled, rejected); when the venue ends the parent early its reason (the
report's Text) is printed with it, and again on stderr.

Exit status:
  0    the parent ended filled or expired (the window closed with quantity left)
  1    the parent had not ended 15 s after its window (or the client never logged on)
  2    a bad argument, or the demo could not start (one ``gateway: error:`` line; no run
       directory is left behind)
  3    the venue rejected the parent (its reason is printed)
  4    the venue canceled the parent (its reason is printed)
  128 + the signal's number when a signal stopped it (130 for Ctrl-C)
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from gateway.apps import Dispatcher
from gateway.audit import AuditLog
from gateway.cli import UserError
from gateway.client_app import STATUS_NAMES, TEXT_SHOWN, ClientApplication, OrderProgress
from gateway.config import load_config
from gateway.input_paths import path_arg
from gateway.metrics import GatewayMetrics
from gateway.transport import Engine
from gateway.venue_app import VenueApplication

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "engine" / "samples" / "AMZN-2012-06-21.md.log"

#: Exit statuses (see the module docstring).
EXIT_ENDED, EXIT_NOT_ENDED, EXIT_REJECTED, EXIT_CANCELED = 0, 1, 3, 4
_ENDED_WELL = frozenset({"2", "C"})  # filled, expired: the parent was worked to its end
# The bounds the generated configs accept (client.orders[].window, venue.market_data.speed):
# checked here so that a bad value is the argument's error, not a generated file's.
WINDOW_RANGE = (0.1, 86400.0)
SPEED_RANGE = (1e-3, 1e6)


def at_least_one(text: str) -> int:
    """argparse ``type=``: an integer >= 1 (quantities, slice counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def slice_count(text: str) -> int:
    """argparse ``type=``: a TWAP slice count the algo accepts (1 to MAX_SLICES), refused
    here rather than as a rejected parent after the venue has started."""
    from algos.slicing import MAX_SLICES  # the algo's own bound (imported only when asked)

    value = at_least_one(text)
    if value > MAX_SLICES:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SLICES}, got {text}")
    return value


def _plain(x: float) -> str:
    """``x`` without an exponent (``1000000``, ``0.001``), as a user types it."""
    return f"{x:f}".rstrip("0").rstrip(".")


def number_in(low: float, high: float) -> Callable[[str], float]:
    """argparse ``type=``: a finite number in [low, high] (NaN and infinities refused)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= value <= high:  # also False for NaN
            raise argparse.ArgumentTypeError(
                f"must be between {_plain(low)} and {_plain(high)}, got {text}")
        return value
    return parse


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run a venue and a client working a TWAP order (< 1 min)",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qty", type=at_least_one, default=3000,
                   help="parent quantity, at least 1 (%(default)s)")
    p.add_argument("--window", type=number_in(*WINDOW_RANGE), default=20.0,
                   help="TWAP window in seconds, 0.1 to 86400 (%(default)s)")
    p.add_argument("--slices", type=slice_count, default=10,
                   help="TWAP slices, 1 to 10000 (%(default)s)")
    p.add_argument("--speed", type=number_in(*SPEED_RANGE), default=30.0,
                   help="market-data replay speed, 0.001 to 1000000 (%(default)sx)")
    p.add_argument("--run-dir", type=path_arg, default=Path("logs/demo"),
                   help="audit log, FIX logs and stores (default: %(default)s)")
    p.set_defaults(run=run, keyboard_interrupt=True)  # (see gateway.cli)


def venue_yaml(run_dir: Path, speed: float) -> dict[str, Any]:
    # The replayed AMZN day has hidden executions at half cents: its book counts in 0.0001.
    symbols = {"AMZN": {"tick_size": 0.0001, "band_pct": 20}}
    return {
        "acceptor": {"host": "127.0.0.1", "port": 0},
        "defaults": {"role": "acceptor", "begin_string": "FIX.4.4", "sender_comp_id": "VENUE",
                     "application": "venue", "store": {"kind": "memory"}},
        "sessions": [{"target_comp_id": "CLIENT1"}, {"target_comp_id": "CLIENT2"}],
        "venue": {"symbols": symbols,
                  "market_data": {"log": str(SAMPLE), "speed": speed, "symbols": ["AMZN"]}},
        "audit": {"path": str(run_dir / "audit.jsonl")},
    }


def client_yaml(port: int, qty: int, window: float, slices: int) -> dict[str, Any]:
    return {
        "defaults": {"begin_string": "FIX.4.4", "application": "client",
                     "store": {"kind": "memory"}},
        "sessions": [{"role": "initiator", "sender_comp_id": "CLIENT1",
                      "target_comp_id": "VENUE", "host": "127.0.0.1", "port": port,
                      "reset_on_logon": True}],
        "client": {"orders": [{"symbol": "AMZN", "side": "buy", "qty": qty, "strategy": "1001",
                               "window": window,
                               "params": f"Slices={slices};MaxChildQty={max(1, qty // 4)}"}]},
    }


def new_run_dir(base: Path, now: datetime) -> Path:
    """A directory under ``base`` that this call created and no other run uses: named for
    ``now`` to the second (``20260521-143005``), with ``-2``, ``-3``... after it when runs
    start in the same second. ``mkdir`` without ``exist_ok`` is the claim: it fails for all
    but one of the processes that try the same name, even at the same instant."""
    base.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        path = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        return path


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def claim_run_dir(base: Path, now: datetime) -> Path:
    """:func:`new_run_dir` for ``--run-dir base``: a failure is a :class:`UserError` naming
    the option and the path (``--run-dir /proc/nope: cannot create: No such file or
    directory``), not a bare ``[Errno 2]``."""
    try:
        return new_run_dir(base, now)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if base.exists() and not base.is_dir():
            raise UserError(f"--run-dir {base}: not a directory") from exc
        if base.is_dir():
            raise UserError(f"--run-dir {base}: cannot create a run directory in it: "
                            f"{reason}") from exc
        raise UserError(f"--run-dir {base}: cannot create: {reason}") from exc


def shown(text: str) -> str:
    """A report's Text (58) fit for the terminal: printable ASCII as it is, anything else
    (controls, escapes, newlines, non-ASCII) and the backslash as ``\\xNN``, at most
    :data:`TEXT_SHOWN` characters then ``...``: the venue's words must not drive the
    operator's terminal."""
    out: list[str] = []
    used = 0
    for ch in text:
        code = ord(ch)
        part = (ch if " " <= ch <= "~" and ch != "\\" else f"\\x{code:02x}" if code < 0x100
                else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        if used + len(part) > TEXT_SHOWN:  # never half an escape
            return "".join(out) + "..."
        out.append(part)
        used += len(part)
    return "".join(out)


def state(p: OrderProgress) -> str:
    """The parent's state in words, with the report's Text when it has one (``rejected: TWAP
    Slices must be a positive integer, got '0'``); an OrdStatus without a name shows as
    nothing, never as its code."""
    word = STATUS_NAMES.get(p.status, "")
    if p.text:
        return f"{word}: {shown(p.text)}" if word else shown(p.text)
    return word


def outcome(orders: list[OrderProgress]) -> int:
    """The exit status for the parents' ends: :data:`EXIT_NOT_ENDED` if any has not ended,
    else :data:`EXIT_REJECTED` if any was rejected, else :data:`EXIT_CANCELED` if any ended
    otherwise than filled or expired, else :data:`EXIT_ENDED`."""
    if not orders or not all(p.done for p in orders):
        return EXIT_NOT_ENDED
    if any(p.status == "8" for p in orders):
        return EXIT_REJECTED
    if any(p.status not in _ENDED_WELL for p in orders):
        return EXIT_CANCELED
    return EXIT_ENDED


async def demo(args: argparse.Namespace) -> int:
    """Run the demo (see the module docstring); the exit status. Nothing is left under
    ``args.run_dir`` when it fails to start."""
    if not SAMPLE.is_file():
        raise FileNotFoundError(f"the bundled market data {SAMPLE} is missing")
    run_dir = args.claimed = claim_run_dir(args.run_dir, datetime.now())  # (see run)
    async with AsyncExitStack() as undo:
        # Until both engines are up, a failure undoes what was started, in reverse order,
        # and removes the run directory: a failed start leaves nothing behind.
        undo.callback(shutil.rmtree, run_dir, ignore_errors=True)
        venue_cfg = load_config(_write(run_dir / "venue.yaml", venue_yaml(run_dir, args.speed)))
        venue_app = Dispatcher(venue_cfg)
        audit = AuditLog(run_dir / "audit.jsonl", flush_every=256)
        undo.callback(audit.close)
        metrics = GatewayMetrics()
        metrics_port = metrics.serve("127.0.0.1", 0)
        undo.callback(metrics.close)
        venue = Engine(venue_cfg, venue_app, run_dir=run_dir / "venue", audit=audit,
                       metrics=metrics)
        await venue.start()
        undo.push_async_callback(venue.stop)
        client_cfg = load_config(_write(run_dir / "client.yaml",
                                        client_yaml(venue.port, args.qty, args.window,
                                                    args.slices)))
        client_app = Dispatcher(client_cfg)
        client = client_app.apps["client"]
        assert isinstance(client, ClientApplication)
        started = time.monotonic()
        print(f"venue on 127.0.0.1:{venue.port}, market data {SAMPLE.name} at {args.speed:g}x; "
              f"CLIENT1 works a TWAP: buy {args.qty} AMZN over {args.window:g} s, "
              f"{args.slices} slices")
        fills_shown: dict[str, int] = {}

        def progress(p: OrderProgress) -> None:
            pct = 100 * p.cum / p.order.qty
            bar = "#" * int(pct / 5)
            # the fill this report brought, if any (an Expired report repeats no fill), then
            # the state unless a partial fill already says it
            new_fill = len(p.fills) > fills_shown.get(p.cl_ord_id, 0)
            fills_shown[p.cl_ord_id] = len(p.fills)
            said = [f"last {p.fills[-1][1]} @ {p.fills[-1][2]}"] if new_fill else []
            if not new_fill or p.status != "1" or p.text:
                said.append(state(p))
            print(f"  {time.monotonic() - started:5.1f}s [{bar:<20}] {p.cum:>6}/{p.order.qty} "
                  f"avg {p.avg_px:<10} {', '.join(x for x in said if x)}", flush=True)

        client.on_update = progress
        client_engine = Engine(client_cfg, client_app, run_dir=run_dir / "client")
        await client_engine.start()
        undo.pop_all()  # started: from here on the run directory holds the run's records
    deadline = started + args.window + 15
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if client.orders and all(p.done for p in client.orders.values()):
                break
    finally:  # Ctrl-C too: the sessions log out and the audit log is whole (see run)
        await client_engine.stop()
        await venue.stop()
        audit.close()
    venue_side = venue_app.apps["venue"]
    assert isinstance(venue_side, VenueApplication)
    summary(client, venue_side, run_dir, metrics_port)
    metrics.close()
    orders = list(client.orders.values())
    status = outcome(orders)
    for p in orders:
        if not p.done:
            last = "no answer from the venue" if p.status == "sent" else state(p)
            print(f"gateway: demo: parent {p.cl_ord_id} had not ended {args.window + 15:g} s "
                  f"after the start ({last})", file=sys.stderr)
        elif p.status not in _ENDED_WELL:
            verb = {"8": "rejected", "4": "canceled"}.get(p.status, "ended")
            print(f"gateway: demo: the venue {verb} parent {p.cl_ord_id}: "
                  f"{shown(p.text) or 'no reason given'}", file=sys.stderr)
    if not orders:
        print("gateway: demo: the client sent no parent (it never logged on)", file=sys.stderr)
    return status


def audit_command(run_dir: Path) -> str:
    """The command that shows an order of the run in ``run_dir``, as it can be pasted."""
    return f"gateway audit {shlex.quote(str(run_dir))}"


def summary(client: ClientApplication, venue: VenueApplication, run_dir: Path,
            metrics_port: int) -> None:
    rows = []
    for cl, p in client.orders.items():
        parent = next((x for x in venue.desk.parents.values()
                       if x.order.cl_ord_id in (cl,) or x.order.orig_cl_ord_id == cl), None)
        arrival = parent.arrival_mid if parent is not None else None
        children = venue.desk.children_of(parent.order.order_id) if parent else 0
        slip = "n/a"
        if arrival and p.cum:
            sign = 1 if p.order.side == "buy" else -1
            slip = f"{sign * (p.avg_px - arrival) / arrival * Decimal(10000):+.2f}"
        rows.append((cl, f"{p.order.side} {p.order.symbol}", f"{p.cum}/{p.order.qty}",
                     f"{p.avg_px:.4f}" if p.cum else "-",
                     f"{arrival:.4f}" if arrival else "-", slip, str(children),
                     STATUS_NAMES.get(p.status, "")))
    head = ("parent", "order", "filled", "avg price", "arrival mid", "slippage bps",
            "child orders", "status")
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print()
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print()
    print(f"audit log: {run_dir / 'audit.jsonl'}  ({audit_command(run_dir)} --clordid "
          f"{shlex.quote(next(iter(client.orders), 'ID'))})")
    print(f"metrics:   http://127.0.0.1:{metrics_port}/metrics (served while the demo ran)")
    print(f"FIX logs:  {run_dir / 'venue' / 'log'}")


def run(args: argparse.Namespace) -> int:
    args.claimed = None
    try:
        return asyncio.run(demo(args))
    except KeyboardInterrupt:
        run_dir = args.claimed
        where = (f"; the run so far: {run_dir} ({audit_command(run_dir)} --clordid ID)"
                 if run_dir is not None and run_dir.is_dir() else "")
        print(f"interrupted{where}", file=sys.stderr)
        return 130
