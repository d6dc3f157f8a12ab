"""``gateway run FILE.yaml [--port P]``: start the sessions a configuration describes.

Prints one line ``listening on HOST:PORT`` (with the real port when ``--port 0`` asks for a
free one) once the acceptor is up, then runs until SIGINT or SIGTERM, when it logs every
session out and closes its stores. Logs and stores go under ``--run-dir`` (``logs/run``),
the JSON audit log to ``audit: {path}`` (default ``RUN_DIR/audit.jsonl``). With a
``metrics: {host, port}`` section, Prometheus metrics are served over HTTP and a line
``metrics on http://HOST:PORT/metrics`` is printed after the ``listening on`` line.
SIGUSR1 throws the kill switch of an application that has one (the venue: refuse new
orders, cancel resting ones, stop algos).

``--mode backtest`` runs the config's ``backtest:`` section instead, exactly as
``gateway backtest FILE.yaml`` does; ``--mode live`` (the default) serves it live, where a
``backtest:`` section is ignored and clients send their own orders.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.apps import Dispatcher
from gateway.audit import AuditLog, parse_audit_config
from gateway.config import GatewayConfig, load_config
from gateway.metrics import GatewayMetrics, parse_metrics_config
from gateway.transport import Engine


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run the FIX sessions of a YAML configuration",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="sessions YAML (see sessions/)")
    p.add_argument("--port", type=int, help="override the acceptor's listening port")
    p.add_argument("--run-dir", type=Path, default=Path("logs/run"),
                   help="where logs and stores go (default: %(default)s)")
    p.add_argument("--mode", choices=("live", "backtest"), default="live",
                   help="serve live (default), or run the config's backtest: section")
    p.set_defaults(run=run)


async def freeze_survivors(every: float = 1.0) -> None:
    """Move objects that have lived ``every`` seconds out of the cycle collector's reach.

    What lives that long here (sessions, books, orders of the day, stored messages) is never
    cyclic garbage, yet every full collection would scan all of it: with many orders in memory
    that is tens of milliseconds with the event loop stopped. Young objects are still
    collected as usual."""
    while True:
        await asyncio.sleep(every)
        gc.freeze()


def edges(config: GatewayConfig, run_dir: Path
          ) -> tuple[AuditLog, GatewayMetrics | None, str | None]:
    """The audit log and (if configured) the metrics of a configuration and their URL."""
    base = config.path.resolve().parent
    node = config.extra.get("audit")
    audit = (AuditLog.from_config(parse_audit_config(node, base)) if node is not None
             else AuditLog(run_dir / "audit.jsonl"))
    node = config.extra.get("metrics")
    metrics = url = None
    if node is not None:
        mc = parse_metrics_config(node)
        metrics = GatewayMetrics()
        url = f"http://{mc.host}:{metrics.serve(mc.host, mc.port)}/metrics"
    return audit, metrics, url


async def serve(config_path: Path, port: int | None, run_dir: Path) -> None:
    config = load_config(config_path)
    if port is not None:
        config = config.with_port(port)
    app = Dispatcher(config)
    audit, metrics, url = edges(config, run_dir)
    engine = Engine(config, app, run_dir=run_dir, audit=audit, metrics=metrics)
    await engine.start()
    freezer = asyncio.create_task(freeze_survivors())
    if config.acceptor is not None:
        print(f"listening on {config.acceptor.host}:{engine.port}", flush=True)
    if url is not None:
        print(f"metrics on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1,
                            lambda: app.kill_all("SIGUSR1", engine.clock.now()))
    await stop.wait()
    freezer.cancel()
    await engine.stop()
    await asyncio.sleep(0.1)  # let Logouts reach the wire
    audit.close()
    if metrics is not None:
        metrics.close()


def run(args: argparse.Namespace) -> int:
    if args.mode == "backtest":
        from gateway.cmd_backtest import run_config  # the backtest's imports only when asked

        return run_config(argparse.Namespace(config=args.config, on_error=None, output=None,
                                             quiet=False))
    asyncio.run(serve(args.config, args.port, args.run_dir))
    print("stopped", file=sys.stderr)
    return 0
