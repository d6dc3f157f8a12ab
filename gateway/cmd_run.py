"""``gateway run FILE.yaml [--port P]``: start the sessions a configuration describes.

Prints one line ``listening on HOST:PORT`` (with the real port when ``--port 0`` asks for a
free one) once the acceptor is up, then runs until SIGINT or SIGTERM, when it logs every
session out and closes its stores. Logs and stores go under ``--run-dir`` (``logs/run``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.apps import Dispatcher
from gateway.config import load_config
from gateway.transport import Engine


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run the FIX sessions of a YAML configuration",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="sessions YAML (see sessions/)")
    p.add_argument("--port", type=int, help="override the acceptor's listening port")
    p.add_argument("--run-dir", type=Path, default=Path("logs/run"),
                   help="where logs and stores go (default: %(default)s)")
    p.set_defaults(run=run)


async def serve(config_path: Path, port: int | None, run_dir: Path) -> None:
    config = load_config(config_path)
    if port is not None:
        config = config.with_port(port)
    engine = Engine(config, Dispatcher(config), run_dir=run_dir)
    await engine.start()
    if config.acceptor is not None:
        print(f"listening on {config.acceptor.host}:{engine.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await engine.stop()
    await asyncio.sleep(0.1)  # let Logouts reach the wire


def run(args: argparse.Namespace) -> int:
    asyncio.run(serve(args.config, args.port, args.run_dir))
    print("stopped", file=sys.stderr)
    return 0
