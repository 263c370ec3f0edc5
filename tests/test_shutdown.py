"""Graceful shutdown: the chained signal handler, and open streams ending with a retry hint."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import shutdown
from django_streaming.stores import get_store
from tests.support.probes import probe
from tests.support.reader import StreamReader, read_until
from tests.support.servers import uvicorn_server, wait_until
from tests.support.sse_parser import parse

RETRY_HINT = re.compile(rb": server shutting down\nretry: (\d+)\n\n")


def shutdown_hints(streams: int) -> list[int]:
    """The retry hints that ``streams`` open streams of a real server get when it stops."""
    with uvicorn_server() as server:
        host, port = server.url.removeprefix("http://").split(":")
        sockets = [socket.create_connection((host, int(port))) for _ in range(streams)]
        try:
            for sock in sockets:
                sock.sendall(b"GET /wait-heartbeat/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            for sock in sockets:
                assert b"stream open" in read_until(sock, b"stream open")
            shutdown.shut_down()
            hints = []
            for sock in sockets:
                body = read_until(sock, b"0\r\n\r\n")
                hints += [int(hint) for hint in RETRY_HINT.findall(body)]
            return hints
        finally:
            for sock in sockets:
                sock.close()


def test_shutdown_spreads_the_retry_hints_over_the_range() -> None:
    """Regression: every stream got ``retry: 1000``, so all clients came back in one second."""
    hints = shutdown_hints(40)
    assert len(hints) == 40
    assert all(1000 <= hint <= 5000 for hint in hints)
    assert len(set(hints)) > 20  # 40 draws from 4001 values
    assert max(hints) - min(hints) > 2000


def test_shutdown_retry_can_be_one_value(settings: SettingsWrapper) -> None:
    settings.DJANGO_STREAMING = {"SHUTDOWN_RETRY": 2500}
    assert shutdown_hints(5) == [2500] * 5


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
        for body in (plain_reader.body, resumable_reader.body):
            hints = RETRY_HINT.findall(body)
            assert len(hints) == 1
            assert 1000 <= int(hints[0]) <= 5000
        assert plain_reader.body.endswith(b"\n\n")
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
