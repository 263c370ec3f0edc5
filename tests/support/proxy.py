"""A TCP proxy on a loopback port in front of a real server, which a test can tell to hold
back what the server says and to cut every connection: the timing of a network, on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Proxy:
    def __init__(self, port: int) -> None:
        self.upstream_port = port
        self.port = 0
        self.sent = bytearray()  # everything clients sent, in order
        self.holding = False  # the server's replies wait in `held` while this is set
        self.refusing = False  # new connections are closed at once while this is set
        self.held: list[tuple[asyncio.StreamWriter, bytes]] = []
        self.writers: set[asyncio.StreamWriter] = set()
        self.pumps: set[asyncio.Task[None]] = set()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_w.close()
            return
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers |= {client_w, server_w}
        for source, target, record in ((client_r, server_w, True), (server_r, client_w, False)):
            pump = asyncio.create_task(self._pump(source, target, record=record))
            self.pumps.add(pump)
            pump.add_done_callback(self.pumps.discard)

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, record: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if record:
                    self.sent += data
                if self.holding and not record:
                    self.held.append((target, data))
                else:
                    target.write(data)
        target.close()

    def release(self) -> None:
        """Stop holding back, and write what was held (it reaches the client at once)."""
        self.holding = False
        for target, data in self.held:
            target.write(data)
        self.held.clear()

    def cut(self) -> None:
        """Close every connection; what was held back is lost."""
        self.held.clear()
        for writer in self.writers:
            writer.close()
        self.writers.clear()


@asynccontextmanager
async def proxy_to(port: int, kind: type[Proxy] = Proxy) -> AsyncIterator[Proxy]:
    proxy = kind(port)
    server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        proxy.cut()
        for pump in list(proxy.pumps):
            pump.cancel()
        await asyncio.gather(*proxy.pumps, return_exceptions=True)
        await server.wait_closed()
