"""One conformance suite, run against every common server started for real on loopback:
framing, incremental arrival, heartbeats, disconnect clean-up, the error event, the chat
protocol, and no Connection header of our own."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from django_streaming import asgi as streaming_asgi
from tests.support.reader import StreamReader, data_of
from tests.support.servers import (
    RunningServer,
    subprocess_server,
    uvicorn_server,
    wait_until,
    wsgiref_server,
)

PYTHON = sys.executable
GUNICORN = [
    PYTHON,
    "-m",
    "gunicorn",
    "--bind",
    "fd://{fd}",
    "--workers",
    "1",
    "--log-level",
    "warning",
]


def _subprocess(argv: list[str]) -> Callable[[], AbstractContextManager[RunningServer]]:
    return lambda: subprocess_server(argv)


SERVERS: dict[str, tuple[str, Callable[[], AbstractContextManager[RunningServer]]]] = {
    "uvicorn": ("asgi", uvicorn_server),
    # Our handler in place of Django's (see django_streaming.asgi).
    "uvicorn+django_streaming.asgi": (
        "asgi",
        lambda: uvicorn_server(streaming_asgi.get_asgi_application()),
    ),
    "daphne": (
        "asgi",
        _subprocess([PYTHON, "-m", "daphne", "--fd", "{fd}", "-v", "0", "tests.asgi:application"]),
    ),
    "hypercorn": (
        "asgi",
        _subprocess([PYTHON, "-m", "hypercorn", "--bind", "fd://{fd}", "tests.asgi:application"]),
    ),
    "granian": (
        "asgi",
        _subprocess(
            [
                PYTHON,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--log-level",
                "warning",
                "tests.asgi:application",
            ]
        ),
    ),
    "gunicorn+uvicorn": (
        "asgi",
        _subprocess([*GUNICORN, "-k", "uvicorn.workers.UvicornWorker", "tests.asgi:application"]),
    ),
    "gunicorn-sync": ("wsgi", _subprocess([*GUNICORN, "-k", "sync", "tests.wsgi:application"])),
    "gunicorn-gthread": (
        "wsgi",
        _subprocess([*GUNICORN, "-k", "gthread", "--threads", "8", "tests.wsgi:application"]),
    ),
    "runserver": (
        "wsgi",
        _subprocess(
            [
                PYTHON,
                "-m",
                "django",
                "runserver",
                "--noreload",
                "--nothreading",
                "127.0.0.1:{port}",
                "--settings",
                "tests.settings",
            ]
        ),
    ),
    "wsgiref": ("wsgi", wsgiref_server),
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    _kind, start = SERVERS[request.param]
    with start() as running:
        yield running


def stream(
    server: RunningServer, path: str, **kwargs: Any
) -> AbstractContextManager[httpx.Response]:
    return httpx.stream("GET", server.url + path, timeout=15, **kwargs)


def probe(server: RunningServer, token: str) -> dict[str, bool]:
    return httpx.get(f"{server.url}/probe/{token}/", timeout=5).json()  # type: ignore[no-any-return]


def test_framing(server: RunningServer) -> None:
    with stream(server, "/multiline/") as response:
        result = StreamReader(response).to_end()
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-accel-buffering"] == "no"
    assert data_of(result) == [
        "line one\nline two\nline three",
        '{"emoji":"😀","cjk":"漢字"}',
        "x",
        "raw",
    ]


def test_events_arrive_one_by_one(server: RunningServer) -> None:
    # The second event is made 1.5 s after the first: a buffering server sends both at once.
    with stream(server, "/count/?n=2&delay=1.5") as response:
        reader = StreamReader(response)
        result = reader.until(lambda r: r.events != [])
        assert data_of(result) == ["0"]
        assert data_of(reader.to_end()) == ["0", "1"]


def test_heartbeat_while_silent(server: RunningServer) -> None:
    with stream(server, "/silent/?silence=1") as response:
        result = StreamReader(response).to_end()
    assert data_of(result) == ["done"]
    assert result.comments.count(" heartbeat") >= 2


def test_disconnect_reaches_the_generator(server: RunningServer, token: str) -> None:
    with stream(server, f"/wait-heartbeat/?token={token}") as response:
        StreamReader(response).until_data("ready")
    # ASGI servers report the disconnect at once; WSGI ones at the next heartbeat write.
    wait_until(lambda: probe(server, token)["finished"], timeout=10, what="the finally")
    assert probe(server, token)["cancelled"]


def test_error_event(server: RunningServer) -> None:
    with stream(server, "/fail/") as response:
        result = StreamReader(response).to_end()
    assert result.events[-1].type == "error"
    assert result.events[-1].data == '{"message":"The stream failed on the server."}'


def test_chat_protocol(server: RunningServer) -> None:
    payload = {"messages": [{"role": "user", "content": "hello"}]}
    with httpx.stream("POST", f"{server.url}/chat-exempt/", json=payload, timeout=15) as r:
        result = StreamReader(r).to_end()
    assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
    parts = [e.data if e.data == "[DONE]" else json.loads(e.data)["type"] for e in result.events]
    assert parts == [
        "start", "start-step", "text-start", "text-delta", "text-delta", "text-end",
        "finish-step", "finish", "[DONE]",
    ]  # fmt: skip


def test_no_connection_header_of_our_own(server: RunningServer) -> None:
    # Some servers add their own; a plain Django response on the same server shows which.
    plain = httpx.get(f"{server.url}/probe/plain/", timeout=5)
    with stream(server, "/count/?n=1") as response:
        StreamReader(response).to_end()
    assert response.headers.get("connection") == plain.headers.get("connection")


def test_http_1_0_client(server: RunningServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /count/?n=2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        deadline = time.monotonic() + 10
        while b"data: 1" not in received and time.monotonic() < deadline:
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
    assert received.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    assert b"data: 0" in received
    assert b"data: 1" in received
