"""The floor of any asyncio server: bytes echoed as they arrive, no FIX work at all.

    python bench/asyncio_echo.py

Listens on a free loopback port, prints ``listening on 127.0.0.1:PORT`` (as ``gateway run``
does) and writes every chunk it reads back to its sender from the protocol's callback: no
framing, session, store or log, not even a stream or a task per connection. A FIX client's
Logon, orders and Logout come back as they went, which is all bench/fixload.py's client needs
of a server. What the gateway does per message costs on top of this; what this costs, a
server that keeps asyncio's transport cannot save. Ends on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
