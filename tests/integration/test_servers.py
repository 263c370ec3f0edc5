"""SSEView and SSEResponse against real servers: uvicorn (ASGI) and wsgiref (WSGI)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from django.test import override_settings

from tests.support.probes import probe
from tests.support.reader import StreamReader, data_of
from tests.support.servers import RunningServer, uvicorn_server, wait_until, wsgiref_server

SERVERS = {"uvicorn": uvicorn_server, "wsgiref": wsgiref_server}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    with SERVERS[request.param]() as running:
        yield running


@pytest.fixture
def asgi() -> Iterator[RunningServer]:
    with uvicorn_server() as running:
        yield running


def open_stream(
    server: RunningServer, path: str, **kwargs: object
) -> AbstractContextManager[httpx.Response]:
    return httpx.stream("GET", server.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_framing_and_headers(server: RunningServer) -> None:
    with open_stream(server, "/multiline/") as response:
        result = StreamReader(response).to_end()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert result.retry == 2500
    assert data_of(result) == [
        "line one\nline two\nline three",
        '{"emoji":"😀","cjk":"漢字"}',
        "x",
        "raw",
    ]
    assert result.events[2].type == "custom"
    assert result.events[2].last_event_id == "7"


def test_asgi_response_has_no_connection_header(asgi: RunningServer) -> None:
    # uvicorn adds none of its own to a chunked HTTP/1.1 response, so any would be ours.
    with open_stream(asgi, "/count/") as response:
        StreamReader(response).to_end()
    assert "connection" not in response.headers


@pytest.mark.parametrize("path", ["/gate/", "/sync-gate/"])
def test_events_arrive_one_by_one(server: RunningServer, path: str, token: str) -> None:
    with open_stream(server, f"{path}?token={token}") as response:
        reader = StreamReader(response)
        reader.until_data("before")
        # "before" arrived while the generator is still waiting for the gate.
        assert not probe(token).finished.is_set()
        probe(token).gate.set()
        assert data_of(reader.to_end()) == ["before", "after"]
    assert probe(token).finished.wait(5)
    assert not probe(token).cancelled


def test_stream_opens_before_the_first_event(server: RunningServer, token: str) -> None:
    with open_stream(server, f"/count/?token={token}&n=1&delay=30") as response:
        reader = StreamReader(response)
        reader.until(lambda result: result.comments != [])
        assert reader.body == b": stream open\n\n"


@pytest.mark.parametrize("path", ["/count/", "/sync-count/", "/function/"])
def test_sync_and_async_generators(server: RunningServer, path: str) -> None:
    with open_stream(server, path) as response:
        assert data_of(StreamReader(response).to_end()) == ["0", "1", "2"]


def test_heartbeat_while_the_generator_is_silent(server: RunningServer) -> None:
    with open_stream(server, "/silent/?silence=1") as response:
        result = StreamReader(response).to_end()
    assert data_of(result) == ["done"]
    # 0.2 s heartbeats over 1 s of silence; only comments, no events of our own.
    assert result.comments.count(" heartbeat") >= 2


def test_error_event_ends_the_stream_cleanly(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "django_streaming"), open_stream(server, "/fail/") as r:
        result = StreamReader(r).to_end()  # a torn connection would raise here
    assert data_of(result) == ["before", '{"message":"The stream failed on the server."}']
    assert result.events[1].type == "error"
    assert b"secret detail" not in StreamReader(r).raw
    record = next(r for r in caplog.records if r.name == "django_streaming")
    assert record.exc_info is not None
    assert "secret detail" in str(record.exc_info[1])


@override_settings(DEBUG=True)
def test_error_event_names_the_exception_in_debug(server: RunningServer) -> None:
    with open_stream(server, "/fail/") as response:
        result = StreamReader(response).to_end()
    assert result.events[-1].data == '{"message":"RuntimeError: secret detail"}'


def test_disconnect_cancels_the_generator_at_its_await(asgi: RunningServer, token: str) -> None:
    with open_stream(asgi, f"/wait/?token={token}") as response:
        StreamReader(response).until_data("ready")
    assert probe(token).finished.wait(5)
    assert probe(token).cancelled


def test_disconnect_under_wsgi_is_noticed_at_the_next_heartbeat(token: str) -> None:
    with wsgiref_server() as server:
        with open_stream(server, f"/wait-heartbeat/?token={token}") as response:
            StreamReader(response).until_data("ready")
        assert probe(token).finished.wait(5)
    assert probe(token).cancelled


@pytest.mark.parametrize("path", ["/gate/", "/sync-gate/"])
def test_disconnect_under_asgi_closes_a_waiting_generator(
    asgi: RunningServer, path: str, token: str
) -> None:
    baseline = asgi.task_count()
    with open_stream(asgi, f"{path}?token={token}") as response:
        StreamReader(response).until_data("before")
    # Open the gate only once the server has dropped the response, or the generator could win.
    wait_until(lambda: asgi.task_count() <= baseline, what="the response to end")
    probe(token).gate.set()
    assert probe(token).finished.wait(5)
    assert probe(token).cancelled


def test_100_aborted_streams_leave_no_task_behind(asgi: RunningServer) -> None:
    tokens = [f"abort-{number}" for number in range(100)]
    baseline = asgi.task_count()
    with httpx.Client(timeout=10) as client:
        for token in tokens:
            with client.stream("GET", f"{asgi.url}/wait/?token={token}") as response:
                StreamReader(response).until_data("ready")
            # The pool would reuse an unfinished connection; close it to abort the stream.
            client.close()
            client = httpx.Client(timeout=10)
    wait_until(lambda: all(probe(t).finished.is_set() for t in tokens), what="every finally")
    wait_until(lambda: asgi.task_count() <= baseline, what="tasks to drain")
    assert asgi.loop_errors == []


def test_gzip_middleware_does_not_delay_events(token: str) -> None:
    middleware = ["django.middleware.gzip.GZipMiddleware"]
    with override_settings(MIDDLEWARE=middleware), uvicorn_server() as server:
        headers = {"Accept-Encoding": "gzip"}
        with open_stream(server, f"/gate/?token={token}", headers=headers) as response:
            assert response.headers["content-encoding"] == "gzip"
            reader = StreamReader(response, gzip=True)
            reader.until_data("before")
            probe(token).gate.set()
            assert data_of(reader.to_end()) == ["before", "after"]


def test_disconnect_reaches_the_generator_through_a_wrapping_middleware(token: str) -> None:
    middleware = ["tests.testapp.middleware.WrapStreamMiddleware"]
    with override_settings(MIDDLEWARE=middleware), uvicorn_server() as server:
        baseline = server.task_count()
        with open_stream(server, f"/wait/?token={token}") as response:
            StreamReader(response).until_data("ready")
        assert probe(token).finished.wait(5)
        wait_until(lambda: server.task_count() <= baseline, what="tasks to drain")
    assert probe(token).cancelled
