"""The load client: many concurrent SSE streams over raw sockets, cheap enough not to be the
bottleneck. It counts events and measures time to first byte; it parses nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    events: int = 0
    failures: int = 0
    seconds: float = 0.0
    first_byte_seconds: list[float] = field(default_factory=list)


async def _one_stream(
    port: int, path: str, expected: int, result: LoadResult, on_first_byte: Callable[[], None]
) -> None:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        body = bytearray(await reader.read(65536))
        result.first_byte_seconds.append(time.perf_counter() - started)
        on_first_byte()
        # A chunked response ends with an empty chunk; the connection itself stays open.
        while not body.endswith(b"0\r\n\r\n"):
            chunk = await reader.read(65536)
            if not chunk:
                break
            body += chunk
        received = body.count(b"data: token")  # not the resumable rows' end event
        result.events += received
        if received != expected:
            result.failures += 1
    finally:
        writer.close()


async def run_load(
    port: int, path: str, *, streams: int, events: int, on_all_open: Callable[[], None]
) -> LoadResult:
    """Open ``streams`` streams at once and read each to its end."""
    result = LoadResult()
    opened = 0

    def count_open() -> None:
        nonlocal opened
        opened += 1
        if opened == streams:
            on_all_open()

    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_one_stream(port, path, events, result, count_open) for _ in range(streams)),
        return_exceptions=True,
    )
    result.seconds = time.perf_counter() - started
    result.failures += sum(isinstance(outcome, BaseException) for outcome in outcomes)
    return result
