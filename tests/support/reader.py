"""Read a live event stream from a real server, chunk by chunk, as a browser would."""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections.abc import Callable, Iterator

import httpx

from tests.support.sse_parser import ParseResult, parse


class StreamReader:
    """Accumulates the bytes of a streaming ``httpx`` response and parses what has arrived."""

    def __init__(self, response: httpx.Response, *, gzip: bool = False) -> None:
        self.response = response
        self._chunks: Iterator[bytes] = response.iter_raw()
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self.raw = b""
        self.body = b""

    def read_chunk(self) -> bool:
        """Read one more chunk; False at the end of the response."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self.raw += chunk
        self.body += self._decompressor.decompress(chunk) if self._decompressor else chunk
        return True

    def until(self, condition: Callable[[ParseResult], bool]) -> ParseResult:
        """Read until what arrived satisfies ``condition``; fail if the response ends first."""
        while not condition(result := parse(self.body)):
            if not self.read_chunk():
                raise AssertionError(f"the stream ended without that; it sent {self.body!r}")
        return result

    def until_data(self, data: str) -> ParseResult:
        return self.until(lambda result: data in [event.data for event in result.events])

    def to_end(self) -> ParseResult:
        while self.read_chunk():
            pass
        return parse(self.body)


def data_of(result: ParseResult) -> list[str]:
    return [event.data for event in result.events]


async def read_finite_stream(host: str, port: int, path: str) -> bytes:
    """The raw HTTP/1.1 response to ``GET path``, read until its chunked body ends (or the
    connection does), over a connection of its own: for many streams at once."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    body = b""
    while not body.endswith(b"0\r\n\r\n"):
        chunk = await reader.read(65536)
        if not chunk:
            break
        body += chunk
    writer.close()
    return body


def read_until(sock: socket.socket, marker: bytes, timeout: float = 10.0) -> bytes:
    """What a raw socket receives until ``marker`` has come, or the connection ended."""
    sock.settimeout(timeout)
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received
