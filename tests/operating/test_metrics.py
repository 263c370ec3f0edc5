"""Every metric, read back from the ``/metrics/`` endpoint of a real server (uvicorn) after a
real stream, answer, generation or subscription moved it: by how much, with which labels."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import publish, shutdown
from tests.support.chat import chat_body
from tests.support.probes import probe
from tests.support.servers import RunningServer, wait_until

from .conftest import Scrape

EVENTS = {"view": "op-events"}


def test_a_completed_stream_counts_its_events_bytes_and_times(server: RunningServer) -> None:
    before = Scrape(server.url)
    body = httpx.get(server.url + "/events/?n=5", timeout=10).content
    assert body.count(b"data: ") == 5
    after = Scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert moved("django_streaming_streams_ended_total", reason="completed", **EVENTS) == 1
    assert moved("django_streaming_events_sent_total", **EVENTS) == 5
    assert moved("django_streaming_sent_bytes_total", **EVENTS) == 5 * len(b"data: 0\n\n")
    assert moved("django_streaming_time_to_first_event_seconds_count", **EVENTS) == 1
    assert moved("django_streaming_stream_duration_seconds_count", **EVENTS) == 1
    assert after("django_streaming_streams_open", **EVENTS) == 0


def test_a_failed_stream_ends_with_error(server: RunningServer) -> None:
    before = Scrape(server.url)("django_streaming_streams_ended_total", reason="error", **EVENTS)
    assert b"event: error" in httpx.get(server.url + "/events/?n=1&fail=1", timeout=10).content
    after = Scrape(server.url)("django_streaming_streams_ended_total", reason="error", **EVENTS)
    assert after == before + 1


def test_an_open_stream_is_counted_until_its_client_leaves(server: RunningServer) -> None:
    ended = ("django_streaming_streams_ended_total",)
    before = Scrape(server.url)(*ended, reason="client_left", **EVENTS)
    with httpx.stream("GET", server.url + "/events/?n=2&wait=1", timeout=10) as response:
        chunks = response.iter_bytes()  # kept: a generator dropped closes the response
        next(chunks)
        wait_until(lambda: Scrape(server.url)("django_streaming_streams_open", **EVENTS) == 1)
    wait_until(
        lambda: Scrape(server.url)(*ended, reason="client_left", **EVENTS) == before + 1,
        what="the stream to end as client_left",
    )
    assert Scrape(server.url)("django_streaming_streams_open", **EVENTS) == 0


def test_a_long_stream_counts_its_events_at_each_heartbeat(
    server: RunningServer, settings: SettingsWrapper
) -> None:
    """Events are counted while a stream is open, not only when it ends (a channel may stay
    open for hours)."""
    settings.DJANGO_STREAMING = {"HEARTBEAT_INTERVAL": 0.1}
    name = "django_streaming_events_sent_total"
    before = Scrape(server.url)(name, **EVENTS)
    with httpx.stream("GET", server.url + "/events/?n=3&wait=1", timeout=10) as response:
        chunks = response.iter_bytes()  # kept: a generator dropped closes the response
        next(chunks)
        wait_until(lambda: Scrape(server.url)(name, **EVENTS) == before + 3, what="the count")


def test_a_stream_ended_by_the_servers_shutdown(server: RunningServer) -> None:
    name = "django_streaming_streams_ended_total"
    before = Scrape(server.url)(name, reason="shutdown", **EVENTS)
    with httpx.stream("GET", server.url + "/events/?n=1&wait=1", timeout=10) as response:
        chunks = response.iter_bytes()  # kept: a generator dropped closes the response
        next(chunks)
        shutdown.shut_down()
        assert b"retry: " in b"".join(chunks)
    wait_until(lambda: Scrape(server.url)(name, reason="shutdown", **EVENTS) == before + 1)


def test_a_client_that_reads_nothing_ends_as_send_timeout(
    server: RunningServer, settings: SettingsWrapper
) -> None:
    settings.DJANGO_STREAMING = {"SEND_TIMEOUT": 0.3}
    name = "django_streaming_streams_ended_total"
    before = Scrape(server.url)(name, reason="send_timeout", **EVENTS)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = b"GET /events/?n=100000&size=60000&wait=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock.sendall(request)  # and never reads
        wait_until(
            lambda: Scrape(server.url)(name, reason="send_timeout", **EVENTS) == before + 1,
            what="the stream to end as send_timeout",
        )


def test_the_view_label_is_the_url_name_else_the_dotted_path(server: RunningServer) -> None:
    httpx.get(server.url + "/unnamed/?n=1", timeout=10)
    httpx.get(server.url + "/bare/", timeout=10)
    scrape = Scrape(server.url)
    ended = "django_streaming_streams_ended_total"
    assert scrape(ended, view="tests.operating.app.Events", reason="completed") >= 1
    assert scrape(ended, view="unknown", reason="completed") >= 1  # no request given


def answer(server: RunningServer, text: str, path: str = "/chat/") -> bytes:
    response = httpx.post(server.url + path, json=chat_body("chat-1", text), timeout=10)
    assert response.status_code == 200, response.text
    return response.content


def test_an_answer_counts_its_status_times_pace_and_usage(server: RunningServer) -> None:
    chat = {"view": "op-chat"}
    before = Scrape(server.url)
    assert b'"finishReason":"stop"' in answer(server, "hello")
    after = Scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    completed = {"status": "completed", "finish_reason": "stop"}
    assert moved("django_streaming_answers_total", **completed, **chat) == 1
    assert moved("django_streaming_answer_time_to_first_text_seconds_count", **chat) == 1
    assert moved("django_streaming_answer_duration_seconds_count", **chat) == 1
    assert moved("django_streaming_answer_tokens_per_second_count", **chat) == 1
    assert moved("django_streaming_answer_tokens_total", type="input", **chat) == 11
    assert moved("django_streaming_answer_tokens_total", type="output", **chat) == 3
    assert after("django_streaming_answers_in_progress", **chat) == 0
    # The answer's stream, too.
    assert moved("django_streaming_streams_ended_total", reason="completed", **chat) == 1


def test_a_failed_answer(server: RunningServer) -> None:
    labels = {"view": "op-chat", "status": "error", "finish_reason": "none"}
    before = Scrape(server.url)("django_streaming_answers_total", **labels)
    assert b"The model is busy." in answer(server, "fail")
    assert Scrape(server.url)("django_streaming_answers_total", **labels) == before + 1


def test_generations_resumes_stops_and_refusals(
    server: RunningServer, settings: SettingsWrapper, token: str
) -> None:
    settings.DJANGO_STREAMING = {"MAX_ACTIVE_PER_OWNER": 1}
    view = {"view": "op-resumable"}
    before = Scrape(server.url)
    state = probe(token)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # A first answer gives the client its session (a client without one is counted
        # by its address instead).
        assert client.post("/resumable-chat/", json=chat_body("a-" + token, "hi")).content
        with client.stream(
            "POST", "/resumable-chat/", json=chat_body("c-" + token, f"wait {token}")
        ) as response:
            assert response.status_code == 200
            assert state.started.wait(10)
            during = Scrape(server.url)
            assert during("django_streaming_generations_running", **view) == 1
            # A second answer of the same owner, another chat: over MAX_ACTIVE_PER_OWNER.
            refused = client.post("/resumable-chat/", json=chat_body("other-" + token, "hi"))
            assert refused.status_code == 429
            with client.stream("GET", f"/resumable-chat/c-{token}/stream") as resumed:
                assert resumed.status_code == 200
            assert client.post(f"/resumable-chat/c-{token}/stop").status_code == 204
            state.gate.set()
            b"".join(response.iter_bytes())
    after_labels = {"status": "cancelled", **view}
    wait_until(
        lambda: (
            Scrape(server.url)("django_streaming_generations_ended_total", **after_labels)
            == before("django_streaming_generations_ended_total", **after_labels) + 1
        ),
        what="the generation to end as cancelled",
    )
    after = Scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert moved("django_streaming_generations_started_total", **view) == 2
    assert after("django_streaming_generations_running", **view) == 0
    assert moved("django_streaming_too_many_streams_total", **view) == 1
    unnamed = {"view": "tests.operating.app.ResumableAgent"}  # the stop and resume URLs
    assert moved("django_streaming_stops_total", **unnamed) == 1
    assert moved("django_streaming_resumes_total", **unnamed) == 1
    assert (
        moved("django_streaming_answers_total", status="cancelled", finish_reason="none", **view)
        == 1
    )


def test_channel_subscribers_and_delivery_lag(server: RunningServer, token: str) -> None:
    view = {"view": "op-news"}
    before = Scrape(server.url)
    with httpx.stream("GET", f"{server.url}/news/{token}/", timeout=10) as response:
        chunks = response.iter_bytes()
        assert next(chunks) == b": stream open\n\n"
        assert b"id: " in next(chunks)  # subscribed
        assert Scrape(server.url)("django_streaming_channel_subscribers", **view) == 1
        publish(f"op-{token}", "news")
        assert b"data: news" in next(chunks)
    wait_until(lambda: Scrape(server.url)("django_streaming_channel_subscribers", **view) == 0)
    after = Scrape(server.url)
    lag = "django_streaming_channel_delivery_lag_seconds_count"
    assert after(lag) == before(lag) + 1
    lag_sum = "django_streaming_channel_delivery_lag_seconds_sum"  # this test's event only
    assert after(lag_sum) - before(lag_sum) < 5


def ours(scrape: Scrape) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {key: value for key, value in scrape.samples.items() if key[0].startswith("django_")}


def test_the_delivery_lag_is_measured_once_per_event_and_process(
    server: RunningServer, token: str
) -> None:
    """By the first subscriber that writes it: a fan-out measures each event once."""
    lag = "django_streaming_channel_delivery_lag_seconds_count"
    before = Scrape(server.url)(lag)
    url = f"{server.url}/news/{token}/"
    with httpx.stream("GET", url) as first, httpx.stream("GET", url) as second:
        readers = [first.iter_bytes(), second.iter_bytes()]
        for reader in readers:
            next(reader)
            assert b"id: " in next(reader)
        publish(f"op-{token}", "news")
        for reader in readers:
            assert b"data: news" in next(reader)
    assert Scrape(server.url)(lag) == before + 1


def test_the_endpoint_sums_the_workers_files_in_multiprocess_mode(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR``, the endpoint reads the workers' files there, not this
    process's registry (two workers: ``test_multiprocess.py``)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert ours(Scrape(server.url)) == {}  # no worker wrote any


def test_metrics_off(server: RunningServer, settings: SettingsWrapper, token: str) -> None:
    """Off, nothing moves, whatever runs: streams, answers, generations and their stops,
    refusals and resumes, subscriptions."""
    before = ours(Scrape(server.url))
    settings.DJANGO_STREAMING = {"METRICS": False, "MAX_ACTIVE_PER_OWNER": 1}
    off = httpx.get(server.url + "/metrics/", timeout=10)
    assert off.status_code == 404
    assert off.json()["error"]["code"] == "metrics_off"
    httpx.get(server.url + "/events/?n=1", timeout=10)
    answer(server, "tools")
    state = probe(token)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/resumable-chat/", json=chat_body("a-" + token, "hi")).content
        with client.stream(
            "POST", "/resumable-chat/", json=chat_body("c-" + token, f"wait {token}")
        ) as response:
            assert state.started.wait(10)
            assert client.post("/resumable-chat/", json=chat_body("b", "hi")).status_code == 429
            with client.stream("GET", f"/resumable-chat/c-{token}/stream") as resumed:
                assert resumed.status_code == 200
            assert client.post(f"/resumable-chat/c-{token}/stop").status_code == 204
            state.gate.set()
            b"".join(response.iter_bytes())
    with httpx.stream("GET", f"{server.url}/news/{token}/", timeout=10) as response:
        chunks = response.iter_bytes()
        next(chunks)
        next(chunks)
        publish(f"op-{token}", "news")
        assert b"data: news" in next(chunks)
    settings.DJANGO_STREAMING = {}
    assert ours(Scrape(server.url)) == before
