"""Through a real nginx (Debian's package), configured with the deployment page's snippet
(``docs/snippets/nginx.conf``) verbatim on top of nginx's defaults, in front of a real uvicorn."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.test import override_settings

from tests.support.docs import snippet
from tests.support.nginx import run_nginx
from tests.support.probes import probe
from tests.support.reader import StreamReader, data_of
from tests.support.servers import (
    RunningServer,
    uvicorn_server,
)

pytestmark = pytest.mark.nginx

#: The deployment page's snippet inside a server block of the test's.
SERVER = """
    server {{
        listen 127.0.0.1:{port};
        proxy_read_timeout 2s;  # short, so that the test can outlive it
        {extra}
{snippet}
    }}
"""


@contextmanager
def nginx(upstream: RunningServer, folder: Path, extra: str = "") -> Iterator[str]:
    with run_nginx(
        upstream,
        folder,
        lambda port: SERVER.format(port=port, extra=extra, snippet=snippet("nginx.conf")),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningServer]:
    with uvicorn_server() as server:
        yield server


@pytest.fixture
def proxy(upstream: RunningServer, tmp_path: Path) -> Iterator[str]:
    with nginx(upstream, tmp_path) as url:
        yield url


def test_events_arrive_one_by_one(proxy: str) -> None:
    with httpx.stream("GET", f"{proxy}/count/?n=2&delay=1.5", timeout=10) as response:
        reader = StreamReader(response)
        assert data_of(reader.until(lambda r: r.events != [])) == ["0"]
        assert data_of(reader.to_end()) == ["0", "1"]


def test_heartbeats_outlive_the_read_timeout(proxy: str) -> None:
    with httpx.stream("GET", f"{proxy}/silent/?silence=3", timeout=10) as response:
        assert data_of(StreamReader(response).to_end()) == ["done"]


def test_without_heartbeats_the_read_timeout_cuts_the_stream(proxy: str) -> None:
    # The control: the same silence without heartbeats, and nginx gives up at 2 s.
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", f"{proxy}/silent-no-heartbeat/?silence=3", timeout=10) as response,
    ):
        StreamReader(response).to_end()


def test_a_client_abort_at_nginx_reaches_the_generator(proxy: str, token: str) -> None:
    with httpx.stream("GET", f"{proxy}/wait/?token={token}", timeout=10) as response:
        StreamReader(response).until_data("ready")
    assert probe(token).finished.wait(5)
    assert probe(token).cancelled


def test_nginx_gzip_still_streams(upstream: RunningServer, tmp_path: Path) -> None:
    extra = "gzip on; gzip_types text/event-stream; gzip_min_length 0;"
    with nginx(upstream, tmp_path, extra) as url:
        headers = {"Accept-Encoding": "gzip"}
        with httpx.stream("GET", f"{url}/count/?n=2&delay=1.5", headers=headers) as response:
            assert response.headers["content-encoding"] == "gzip"
            reader = StreamReader(response, gzip=True)
            assert data_of(reader.until(lambda r: r.events != [])) == ["0"]
            assert data_of(reader.to_end()) == ["0", "1"]


def test_http_1_0_client_through_nginx(proxy: str) -> None:
    host, port = proxy.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET /count/?n=2&delay=1.5 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"data: 0" not in received:
            received += client.recv(65536)
        assert b"data: 1" not in received  # the first event came alone
        while chunk := client.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert b"data: 1" in received


def test_django_gzip_middleware_behind_nginx(tmp_path: Path) -> None:
    middleware = ["django.middleware.gzip.GZipMiddleware"]
    headers = {"Accept-Encoding": "gzip"}
    with (
        override_settings(MIDDLEWARE=middleware),
        uvicorn_server() as upstream,
        nginx(upstream, tmp_path) as url,
        httpx.stream("GET", f"{url}/count/?n=2&delay=1.5", headers=headers) as response,
    ):
        assert response.headers["content-encoding"] == "gzip"
        reader = StreamReader(response, gzip=True)
        assert data_of(reader.until(lambda result: result.events != [])) == ["0"]
        assert data_of(reader.to_end()) == ["0", "1"]
