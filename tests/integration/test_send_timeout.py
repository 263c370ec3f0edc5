"""``SEND_TIMEOUT``: a client that stops reading (its TCP window full) does not hold its
generator for ever, under a real uvicorn, with Django's handler and with ours."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.asgi import get_asgi_application as get_django_application
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming.asgi import get_asgi_application
from tests.support.probes import probe
from tests.support.servers import uvicorn_server, wait_until

APPLICATIONS = [
    pytest.param(get_django_application, id="django-handler"),
    pytest.param(get_asgi_application, id="django_streaming.asgi"),
]


@contextmanager
def client_that_never_reads(url: str, path: str) -> Iterator[socket.socket]:
    """A connection that asks for ``path``, reads the first bytes, then reads no more."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a window that fills at once
    sock.connect((host, int(port)))
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sock.settimeout(10)
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        yield sock
    finally:
        sock.close()


@pytest.mark.parametrize("application", APPLICATIONS)
def test_a_client_that_stops_reading_has_its_generator_cancelled(
    application: Any, settings: SettingsWrapper, token: str
) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "SEND_TIMEOUT": 0.5}
    with uvicorn_server(application()) as server:
        baseline = server.task_count()
        with client_that_never_reads(server.url, f"/firehose/?token={token}"):
            assert probe(token).started.wait(5)
            # The generator's finally ran while the client is still connected, reading nothing,
            # and the response let go of it.
            assert probe(token).finished.wait(10)
            wait_until(lambda: server.task_count() <= baseline, what="the response to end")
    assert server.loop_errors == []


def test_send_timeout_none_waits_for_the_client(settings: SettingsWrapper, token: str) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "SEND_TIMEOUT": None}
    with (
        uvicorn_server() as server,
        client_that_never_reads(server.url, f"/firehose/?token={token}"),
    ):
        assert probe(token).started.wait(5)
        assert not probe(token).finished.wait(1.5)
    assert probe(token).finished.wait(10)  # the client left: now it ends


def test_a_channel_subscriber_that_stops_reading_delays_no_other(
    settings: SettingsWrapper, token: str
) -> None:
    """It is dropped after SEND_TIMEOUT; meanwhile another subscriber of the same channel gets
    every event as it is published."""
    import httpx

    from django_streaming import publish
    from django_streaming.backends.memory import MemoryChannelLog
    from django_streaming.stores import get_store

    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "SEND_TIMEOUT": 0.5}
    payload = "x" * 65536  # a few of these fill the slow client's window
    with uvicorn_server(get_asgi_application()) as server:
        url = f"{server.url}/channels/?channel={token}"
        with (
            client_that_never_reads(server.url, f"/channels/?channel={token}") as slow,
            httpx.stream("GET", url, timeout=10) as response,
        ):
            chunks = response.iter_raw()
            received = next(chunks)
            while b"id: " not in received:  # the cursor comes once it is subscribed
                received += next(chunks)
            for number in range(200):  # more than the kernel buffers for the slow one
                publish(token, f"{number} {payload}")
                # Each event reaches the reading subscriber before the next is published.
                while f"data: {number} ".encode() not in received:
                    received = received[-100:] + next(chunks)
            # The one that reads nothing was dropped, while still connected: one listener left.
            log = get_store().channel_log
            assert isinstance(log, MemoryChannelLog)
            wait_until(lambda: len(log._listeners.get(token, ())) == 1, what="it to be dropped")
            assert slow.fileno() != -1
    assert server.loop_errors == []
