"""Resumable streams across real uvicorn processes sharing a real Redis, with faults: Redis
down or restarted, a worker killed, a server told to stop."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.support.chat import chat_body
from tests.support.reader import StreamReader, data_of
from tests.support.redis_servers import PrivateRedis, private_redis, shared_redis, unique_prefix
from tests.support.servers import wait_until, worker
from tests.testapp.chat import Prompt


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


def stream_id_of(event_id: str) -> str:
    return event_id.rpartition(":")[0]


def test_start_on_one_worker_resume_and_stop_on_another(token: str) -> None:
    url, prefix = shared_redis(), unique_prefix()
    with worker(url, prefix) as first, worker(url, prefix) as second, httpx.Client() as client:
        with client.stream("GET", f"{first.url}/resumable/?n=200&delay=0.05&token={token}") as r:
            started = StreamReader(r).until(lambda result: len(result.events) >= 2)
        last_seen = started.events[-1].last_event_id
        headers = {"Last-Event-ID": last_seen}
        with client.stream("GET", f"{second.url}/resumable/", headers=headers) as response:
            reader = StreamReader(response)
            live = reader.until(lambda result: len(result.events) >= 2)
            assert data_of(started)[:2] + data_of(live)[:2] == ["0", "1", "2", "3"]
            stop = client.post(f"{second.url}/resumable-exempt/{stream_id_of(last_seen)}/stop")
            assert stop.status_code == 204
            # Liveness: the stop is pushed to the worker that runs the generation (nothing
            # polls for it), so it ends long before its 10 s of events would.
            wait_until(lambda: first.probe(token)["finished"], 10, "the generation to stop")
            rest = reader.to_end()
        assert first.probe(token)["cancelled"] is True
        assert json.loads(rest.events[-1].data) == {"status": "cancelled"}
        numbers = [int(data) for data in data_of(rest)[:-1]]
        assert numbers == list(range(2, 2 + len(numbers)))  # every event once, in order


def test_a_chat_resumes_and_stops_on_another_worker(token: str) -> None:
    url, prefix = shared_redis(), unique_prefix()
    with worker(url, prefix) as first, worker(url, prefix) as second, httpx.Client() as client:
        body = chat_body(token, Prompt.WAIT)
        with client.stream("POST", f"{first.url}/resumable-chat/", json=body) as response:
            StreamReader(response).until(lambda result: len(result.events) >= 4)
        with client.stream("GET", f"{second.url}/resumable-chat/{token}/stream") as response:
            reader = StreamReader(response)
            replay = reader.until(lambda result: len(result.events) >= 4)
            assert json.loads(replay.events[3].data)["delta"] == "partial answer"
            assert client.post(f"{second.url}/resumable-chat/{token}/stop").status_code == 204
            wait_until(lambda: first.probe(token)["finished"], 5, "on_finish on the first")
            rest = reader.to_end()
        assert first.probe(token)["cancelled"] is True
        assert [event.data for event in rest.events][-2:] == [
            '{"type":"abort","reason":"stopped"}', "[DONE]"
        ]  # fmt: skip
        assert client.get(f"{second.url}/resumable-chat/{token}/stream").status_code == 204


def test_redis_down_at_request_time_is_503(redis: PrivateRedis) -> None:
    with worker(redis.url, unique_prefix()) as server:
        redis.stop()
        response = httpx.get(f"{server.url}/resumable/", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "store_unavailable"
        redis.start()
        with httpx.stream("GET", f"{server.url}/resumable/?n=2") as response:
            assert data_of(StreamReader(response).to_end()) == ["0", "1", '{"status":"completed"}']


def test_redis_restarted_mid_stream_ends_the_stream_with_an_error(
    redis: PrivateRedis, token: str
) -> None:
    # A Redis gone for longer than the failover window (here 0.3 s: the retries' own tests
    # are in test_redis_failover.py) ends the stream with an error, promptly after it.
    window = 0.3
    with worker(redis.url, unique_prefix(), TEST_REDIS_FAILOVER_TIMEOUT=str(window)) as server:
        url = f"{server.url}/resumable/?n=1000&delay=0.05&token={token}"
        with httpx.stream("GET", url) as response:
            reader = StreamReader(response)
            reader.until(lambda result: len(result.events) >= 2)
            redis.stop()
            stopped_at = time.monotonic()
            result = reader.until(lambda result: result.events[-1].type == "error")
            noticed_after = time.monotonic() - stopped_at
            redis.start()
            reader.to_end()
        # Liveness, not speed: the window and the views' heartbeat (0.5 s) when the stream
        # notices first; a reader that was subscribing again gives up after the store's
        # connect timeout (2 s). Either way it ends, long before a lease or a client would.
        assert noticed_after < window + 2 + 3
        assert json.loads(result.events[-1].data) == {"message": "The stream failed on the server."}


def test_a_killed_worker_leaves_its_events_and_an_interrupted_end(
    redis: PrivateRedis, token: str
) -> None:
    prefix = unique_prefix()
    with (
        worker(redis.url, prefix, lease=1.0) as doomed,
        worker(redis.url, prefix, lease=1.0) as other,
    ):
        client = httpx.Client()
        with client.stream("GET", f"{doomed.url}/resumable/?n=1000&delay=0.05") as response:
            reader = StreamReader(response)
            seen = reader.until(lambda result: len(result.events) >= 3)
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait()
            killed_at = time.monotonic()
        first_id = seen.events[0].last_event_id
        with client.stream(
            "GET", f"{other.url}/resumable/", headers={"Last-Event-ID": first_id}
        ) as r:
            rest = StreamReader(r).to_end()
        ended_after = time.monotonic() - killed_at
        client.close()
    assert json.loads(rest.events[-1].data) == {"status": "interrupted"}
    numbers = [int(data) for data in data_of(rest)[:-1]]
    assert numbers[:2] == [1, 2]  # what the doomed worker stored, from after the id on
    assert numbers == list(range(1, 1 + len(numbers)))
    assert ended_after < 1.0 + 0.5 + 1.0  # lease + heartbeat + margin


def test_sigterm_with_100_open_streams_exits_within_2_seconds(token: str) -> None:
    with worker(None, TEST_NO_STREAM_LIMIT="1") as server, ExitStack() as open_sockets:
        port = int(server.url.rpartition(":")[2])
        sockets = []
        for number in range(100):
            path = "/wait/" if number % 2 else f"/resumable/?n=2&gate=1&token={token}-{number}"
            sock = open_sockets.enter_context(socket.create_connection(("127.0.0.1", port)))
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            sockets.append(sock)
            received = b""
            while b"stream open" not in received:
                chunk = sock.recv(4096)
                assert chunk, received  # a refusal (a 429, say) must fail, not spin
                received += chunk
        server.process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        server.process.wait(timeout=10)
        exited_after = time.monotonic() - signalled_at
        endings = []
        for sock in sockets:
            sock.settimeout(5)
            tail = b""
            while chunk := sock.recv(4096):
                tail += chunk
            endings.append(tail)
            sock.close()
    assert exited_after < 2.0
    hints = [re.search(rb"retry: (\d+)\n\n", ending) for ending in endings]
    assert all(hints), (exited_after, endings[:2])
    assert all(1000 <= int(hint[1]) <= 5000 for hint in hints if hint)
