"""Graceful shutdown: the chained signal handler, and open streams ending with a retry hint."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from django_streaming import shutdown
from django_streaming.stores import get_store
from tests.reader import StreamReader
from tests.servers import uvicorn_server, wait_until
from tests.sse_parser import parse
from tests.testapp.probes import probe


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in shutdown.SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_the_handler_ends_streams_then_calls_the_servers(restore_signals: None) -> None:
    calls: list[int] = []

    def server_handler(signum: int, frame: Any) -> None:
        calls.append(signum)

    signal.signal(signal.SIGTERM, server_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own: left alone
    shutdown.watch_signals()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    chained = signal.getsignal(signal.SIGTERM)
    assert callable(chained)
    assert chained is not server_handler
    chained(signal.SIGTERM, None)
    assert calls == [signal.SIGTERM]


def test_shut_down_ends_open_streams_with_a_retry_hint(token: str) -> None:
    with uvicorn_server() as server, httpx.Client(base_url=server.url) as client:
        with (
            client.stream("GET", f"/wait/?token={token}") as plain,
            client.stream("GET", f"/resumable/?n=2&gate=1&token={token}-r") as resumable,
        ):
            plain_reader, resumable_reader = StreamReader(plain), StreamReader(resumable)
            plain_reader.until(lambda result: b"stream open" in plain_reader.body)
            resumable_reader.until(lambda result: len(result.events) >= 1)
            shutdown.shut_down()
            plain_reader.to_end()
            resumable_reader.to_end()
        assert plain_reader.body.endswith(b": server shutting down\nretry: 1000\n\n")
        assert b"retry: 1000\n\n" in resumable_reader.body
        assert probe(token).finished.wait(5)
        assert probe(token).cancelled
        # The resumable generation ended "interrupted" rather than running on unseen.
        wait_until(lambda: probe(f"{token}-r").finished.is_set(), what="the generation to end")
        assert probe(f"{token}-r").cancelled
        probe(f"{token}-r").gate.set()
        event_id = parse(resumable_reader.body).events[0].last_event_id
        assert server.loop is not None
        info = asyncio.run_coroutine_threadsafe(
            get_store().info(event_id.rpartition(":")[0]), server.loop
        ).result(5)
        assert info is not None
        assert info.status == "interrupted"
