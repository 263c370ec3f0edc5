"""Production shape on a real PostgreSQL: uvicorn in a process of its own, sessions in the
database, ``startproject``'s middleware, views that read as they start and write as they end.
What a stream holds is counted where it is held: connections by PostgreSQL itself
(``pg_stat_activity``), threads by the server process."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from tests.support.chat import chat_body
from tests.support.postgres import SERVER_URL, SETTINGS, connections_to, fresh_database, rows
from tests.support.reader import StreamReader, read_finite_stream, read_until
from tests.support.servers import RunningServer, subprocess_server, wait_until

pytestmark = pytest.mark.postgres

POSTGRES_PORT = urlsplit(SERVER_URL).port or 5432
DJANGO_HANDLER = "tests.asgi:application"
OUR_HANDLER = "tests.asgi:streaming_application"
HANDLERS = [
    pytest.param(DJANGO_HANDLER, id="django-handler"),
    pytest.param(OUR_HANDLER, id="django_streaming.asgi"),
]


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@contextmanager
def site(database: str, handler: str, *, threads: int = 10) -> Iterator[RunningServer]:
    argv = [sys.executable, "-m", "uvicorn", handler, "--fd", "{fd}", "--lifespan", "off",
            "--log-level", "warning", "--no-access-log", "--backlog", "2048"]  # fmt: skip
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "TEST_DATABASE_URL": database,
        "TEST_THREADS": str(threads),
    }
    with subprocess_server(argv, env=env) as server:
        yield server


def state(server: RunningServer) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{server.url}/production/state/").json()
    return result


@pytest.mark.parametrize("handler", HANDLERS)
def test_issue_12_abandoned_resumable_answers_leave_no_connection(
    database: str, handler: str
) -> None:
    """Regression: each resumable answer whose client left kept a PostgreSQL connection open
    for ever (its generation inherited the request's thread, which nobody closed)."""
    answers = 30
    with site(database, handler) as server:
        for number in range(answers):
            with (
                httpx.Client(base_url=server.url) as visitor,  # a session of its own
                visitor.stream(
                    "POST", "/production/recording-chat/", json=chat_body(f"c{number}", "0.3")
                ) as response,
            ):
                assert response.status_code == 200
                StreamReader(response).until(
                    lambda result: any("text-delta" in event.data for event in result.events)
                )
        # Every answer ran on after its client left, and saved itself in on_finish().
        wait_until(
            lambda: rows(database, "SELECT count(*) FROM auth_group")[0][0] == answers,
            what="every on_finish() to save its answer",
        )
        saved = rows(database, "SELECT name FROM auth_group")
        assert sorted(str(name) for (name,) in saved) == sorted(
            f"c{number}:completed" for number in range(answers)
        )
        wait_until(lambda: connections_to(database) == 0, 5, "the connections to be closed")
        assert state(server)["threads"] < 20


@pytest.mark.parametrize("handler", HANDLERS)
def test_an_open_stream_holds_no_connection_while_it_waits(database: str, handler: str) -> None:
    """Regression: a stream that ran one query kept its connection until the stream ended."""
    streams = 40
    with site(database, handler) as server, open_streams(server, streams):
        wait_until(lambda: connections_to(database) == 0, 5, "the connections to be closed")
        threads = state(server)["threads"]
        if handler == OUR_HANDLER:
            assert threads < 25  # the pools' threads, however many streams are open
        else:
            assert threads > streams  # what Django's handler still does: a thread per request


@contextmanager
def open_streams(server: RunningServer, count: int) -> Iterator[None]:
    """``count`` streams of a view that queries, then waits; each past its first event."""
    host, port = server.url.removeprefix("http://").split(":")
    sockets = [socket.create_connection((host, int(port))) for _ in range(count)]
    try:
        for sock in sockets:  # all at once, as visitors come
            sock.sendall(b"GET /production/query-then-wait/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for sock in sockets:
            received = read_until(sock, b"groups")
            assert b"groups" in received, f"the stream ended: {received!r}"
        yield
    finally:
        for sock in sockets:
            sock.close()


def test_many_streams_use_at_most_the_pools_connections(database: str) -> None:
    """1 connection per thread of the pool at most, however many streams query and write."""
    threads, streams = 4, 300
    with site(database, OUR_HANDLER, threads=threads) as server:
        assert server.pid is not None
        peak = PeakConnections(server.pid)
        with peak:
            outcomes = asyncio.run(many_streams(server.url, streams))
        assert outcomes == [3] * streams  # every stream got its 3 events
        assert rows(database, "SELECT count(*) FROM auth_group")[0][0] == streams
        assert 0 < peak.value <= threads
        wait_until(lambda: connections_to(database) == 0, 5, "the connections to be closed")


def test_with_djangos_pool_every_connection_goes_back(database: str) -> None:
    threads, streams = 4, 200
    pooled = f"{database}?pool=true"
    with site(pooled, OUR_HANDLER, threads=threads) as server:
        outcomes = asyncio.run(many_streams(server.url, streams))
        assert outcomes == [3] * streams
        stats = state(server)["pool"]
        assert stats["requests_num"] >= 2 * streams  # a query and a write each
        assert stats["pool_available"] == stats["pool_size"]  # none kept out of the pool
        assert connections_to(database) <= max(threads, stats["pool_size"])


class PeakConnections:
    """The most connections to PostgreSQL that a process had open while the block ran, sampled
    every 5 ms from its sockets (PostgreSQL's own view lags: a closed connection's backend
    shows until it has exited)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.value = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            sockets = self.process.net_connections("tcp")
            open_now = sum(
                sock.status == psutil.CONN_ESTABLISHED
                and sock.raddr
                and sock.raddr.port == POSTGRES_PORT
                for sock in sockets
            )
            self.value = max(self.value, open_now)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


async def many_streams(url: str, count: int) -> list[int]:
    """``count`` streams at once that each query, send 3 events and write; the events each got."""
    host, port = url.removeprefix("http://").split(":")

    async def one(number: int) -> int:
        path = f"/production/query-stream-write/?name=s{number}&n=3&delay=0.2"
        return (await read_finite_stream(host, int(port), path)).count(b"\ndata: ")

    started = time.monotonic()
    outcomes = await asyncio.gather(*(one(number) for number in range(count)))
    assert time.monotonic() - started < 60
    return list(outcomes)
