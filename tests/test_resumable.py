"""Resumable streams under a real uvicorn, with the in-memory store and with Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import shutdown
from django_streaming.resumable import parse_event_id
from django_streaming.stores import get_store
from tests.support.chat import chat_body, parts
from tests.support.probes import probe
from tests.support.reader import StreamReader, data_of
from tests.support.redis_servers import shared_redis, unique_prefix
from tests.support.servers import RunningServer, uvicorn_server, wait_until
from tests.support.sse_parser import ParseResult
from tests.testapp.chat import Prompt, results


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with uvicorn_server() as running:
        yield running


@pytest.fixture(autouse=True)
def generations_end() -> Iterator[None]:
    """Each test waits for the generations it started to store their end."""
    yield
    wait_until(lambda: not shutdown.generations, what="the generations to end")


@pytest.fixture(
    params=[
        "memory",
        "redis",
        pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.topology]),
    ]
)
def store(
    request: pytest.FixtureRequest, settings: SettingsWrapper, server: RunningServer
) -> Iterator[str]:
    if request.param == "memory":
        yield "memory"
        return
    url = shared_redis()
    if request.param == "cluster":  # 3 masters with a replica each
        url = request.getfixturevalue("cluster").url.replace("redis:", "redis+cluster:")
    settings.DJANGO_STREAMING = {
        **settings.DJANGO_STREAMING,
        "STORE": {
            "BACKEND": "django_streaming.stores.redis.RedisStore",
            "OPTIONS": {"url": url, "prefix": unique_prefix()},
        },
    }
    store = get_store()
    yield request.param
    wait_until(lambda: not shutdown.generations, what="the generations to end")
    assert server.loop is not None
    asyncio.run_coroutine_threadsafe(store.aclose(server.loop), server.loop).result(5)


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def ids(result: ParseResult) -> list[str]:
    return [event.last_event_id for event in result.events if event.type == "message"]


def ending(result: ParseResult) -> Any:
    [end] = [event for event in result.events if event.type == "end"]
    return json.loads(end.data)


# SSEView


def test_a_reconnect_with_last_event_id_gets_the_rest_exactly_once(
    store: str, client: httpx.Client, token: str
) -> None:
    with client.stream("GET", f"/resumable/?n=6&gate=1&token={token}") as response:
        reader = StreamReader(response)
        first = reader.until(lambda result: len(result.events) >= 2)
    # The client went away; the generation did not: it is waiting at the gate.
    assert not probe(token).finished.wait(0.2)
    probe(token).gate.set()
    assert probe(token).finished.wait(5)
    assert probe(token).cancelled is False
    last_seen = first.events[1].last_event_id
    with client.stream("GET", "/resumable/", headers={"Last-Event-ID": last_seen}) as response:
        rest = StreamReader(response).to_end()
    assert data_of(first)[:2] + data_of(rest)[:-1] == ["0", "1", "2", "3", "4", "5"]
    assert ending(rest) == {"status": "completed"}
    every_id = ids(first)[:2] + ids(rest)
    assert len(set(every_id)) == 6
    assert [parse_event_id(event_id)[1] for event_id in every_id] == [1, 2, 3, 4, 5, 6]  # type: ignore[index]
    # Nothing after the last event: 204 tells EventSource to stop reconnecting.
    final = client.get("/resumable/", headers={"Last-Event-ID": every_id[-1]})
    assert final.status_code == 204


def test_a_reconnect_joins_the_live_tail(store: str, client: httpx.Client, token: str) -> None:
    with client.stream("GET", f"/resumable/?n=3&gate=1&token={token}") as response:
        first = StreamReader(response).until(lambda result: len(result.events) >= 1)
    last_seen = first.events[0].last_event_id
    with client.stream("GET", f"/resumable/?lastEventId={last_seen}") as response:
        reader = StreamReader(response)
        assert data_of(reader.until_data("1")) == ["1"]  # stored, then live:
        probe(token).gate.set()
        rest = reader.to_end()
    assert data_of(rest) == ["1", "2", '{"status":"completed"}']


def test_stop_cancels_the_generation(store: str, client: httpx.Client, token: str) -> None:
    with client.stream("GET", f"/resumable-exempt/?n=3&gate=1&token={token}") as response:
        reader = StreamReader(response)
        first = reader.until(lambda result: len(result.events) >= 1)
        stream_id = parse_event_id(first.events[0].last_event_id)[0]  # type: ignore[index]
        asked_at = time.monotonic()
        assert client.post(f"/resumable-exempt/{stream_id}/stop").status_code == 204
        assert probe(token).finished.wait(5)
        rest = reader.to_end()
    probe(token).gate.set()  # frees the thread waiting on it
    assert probe(token).cancelled is True
    finished_at = probe(token).finished_at
    assert finished_at is not None
    assert finished_at - asked_at < 0.2
    assert ending(rest) == {"status": "cancelled"}


def test_another_visitor_gets_404(store: str, client: httpx.Client, token: str) -> None:
    with client.stream("GET", f"/resumable-exempt/?n=2&gate=1&token={token}") as response:
        first = StreamReader(response).until(lambda result: len(result.events) >= 1)
    event_id = first.events[0].last_event_id
    stream_id = parse_event_id(event_id)[0]  # type: ignore[index]
    with httpx.Client(base_url=str(client.base_url)) as stranger:
        resume = stranger.get("/resumable-exempt/", headers={"Last-Event-ID": event_id})
        stop = stranger.post(f"/resumable-exempt/{stream_id}/stop")
    assert (resume.status_code, stop.status_code) == (404, 404)
    assert resume.json()["error"]["code"] == "not_found"
    assert not probe(token).finished.is_set()  # the stranger's stop did nothing
    probe(token).gate.set()
    assert probe(token).finished.wait(5)


@pytest.mark.parametrize(
    "last_event_id", ["nonsense", "abc:", ":1", "x" * 200 + ":1", "unknown-stream:3"]
)
def test_unknown_ids_get_404(client: httpx.Client, last_event_id: str) -> None:
    response = client.get("/resumable/", headers={"Last-Event-ID": last_event_id})
    assert response.status_code == 404
    assert client.post("/resumable-exempt/unknown-stream/stop").status_code == 404
    assert client.post(f"/resumable-exempt/{'x' * 300}/stop").status_code == 404


# Ids built from the client's own stream id: on Redis they named other keys of the stream
# (WRONGTYPE) or a number past a stream id's (Invalid stream ID), each a 500; in memory, a 404
# or a stream that waited for ever. Both stores now refuse them before a store sees them.
CRAFTED_STOPS = ["{id}:events", "{id}:lease", "{id}:stop", "{id}x", "{id}" + "A" * 200]
CRAFTED_LAST_EVENT_IDS = [
    "{id}:lease:0",
    "{id}:events:1",
    "{id}:18446744073709551616",
    f"{{id}}:{2**63}",
    "{id}:" + "9" * 200,
    "{id}:+1",
    "{id}:1_0",
    "{id}: 1",
]


def test_crafted_ids_from_an_own_stream_are_a_404_not_a_store_error(
    store: str,
    client: httpx.Client,
    server: RunningServer,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with client.stream("GET", f"/resumable-exempt/?n=2&gate=1&token={token}") as response:
        first = StreamReader(response).until(lambda result: len(result.events) >= 1)
    stream_id = parse_event_id(first.events[0].last_event_id)[0]  # type: ignore[index]
    refused: list[httpx.Response] = []
    with caplog.at_level(logging.ERROR):
        for crafted in CRAFTED_STOPS:
            refused.append(client.post(f"/resumable-exempt/{crafted.format(id=stream_id)}/stop"))
        for crafted in CRAFTED_LAST_EVENT_IDS:
            last_event_id = crafted.format(id=stream_id)
            refused.append(
                client.get("/resumable-exempt/", headers={"Last-Event-ID": last_event_id})
            )
    assert [(response.status_code, response.json()) for response in refused] == [
        (404, {"error": {"code": "not_found", "message": "There is no such stream."}})
    ] * len(refused)
    assert [record.getMessage() for record in caplog.records] == []
    assert server.loop_errors == []
    # The stream itself is untouched: neither stopped nor confused.
    assert not probe(token).finished.is_set()
    probe(token).gate.set()
    assert probe(token).finished.wait(5)
    assert probe(token).cancelled is False
    last_seen = first.events[0].last_event_id
    with client.stream(
        "GET", "/resumable-exempt/", headers={"Last-Event-ID": last_seen}
    ) as response:
        assert data_of(StreamReader(response).to_end()) == ["1", '{"status":"completed"}']


def test_stop_needs_post_and_csrf(client: httpx.Client, token: str) -> None:
    with client.stream("GET", f"/resumable/?n=2&gate=1&token={token}") as response:
        first = StreamReader(response).until(lambda result: len(result.events) >= 1)
    stream_id = parse_event_id(first.events[0].last_event_id)[0]  # type: ignore[index]
    assert client.get(f"/resumable/{stream_id}/stop").status_code == 405
    assert client.post(f"/resumable/{stream_id}/stop").status_code == 403  # no CSRF token
    probe(token).gate.set()
    assert probe(token).finished.wait(5)
    assert probe(token).cancelled is False


def test_an_error_ends_with_an_error_event_without_details(
    store: str, client: httpx.Client, token: str
) -> None:
    with client.stream("GET", f"/resumable/?n=1&fail=1&token={token}") as response:
        result = StreamReader(response).to_end()
    assert [event.type for event in result.events] == ["message", "error", "end"]
    assert "secret" not in result.events[1].data
    assert ending(result) == {"status": "error"}


def test_a_generation_past_its_maximum_duration_is_cancelled(
    settings: SettingsWrapper, client: httpx.Client, token: str
) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "MAX_DURATION": 0.3}
    with client.stream("GET", f"/resumable/?n=2&gate=1&token={token}") as response:
        result = StreamReader(response).to_end()
    assert data_of(result) == ["0", '{"status":"cancelled"}']
    probe(token).gate.set()


def test_a_store_that_is_down_answers_503(settings: SettingsWrapper, client: httpx.Client) -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens once it is closed
    settings.DJANGO_STREAMING = {
        **settings.DJANGO_STREAMING,
        "STORE": {
            "BACKEND": "django_streaming.stores.redis.RedisStore",
            # Down for longer than the failover window.
            "OPTIONS": {"url": f"redis://127.0.0.1:{closed_port}/0", "failover_timeout": 0.2},
        },
    }
    for response in (
        client.get("/resumable/"),
        client.post("/resumable-chat/", json=chat_body("down", "hello")),
        client.get("/resumable-chat/down/stream"),
        client.post("/resumable-chat/down/stop"),
    ):
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "store_unavailable"


def test_resumable_views_need_asgi() -> None:
    with pytest.raises(Exception, match="needs an ASGI server"):
        Client().get("/resumable/")


# ChatStreamView


def test_chat_resume_replays_the_answer_then_tails_it(
    store: str, client: httpx.Client, token: str
) -> None:
    with client.stream(
        "POST", "/resumable-chat/", json=chat_body(token, Prompt.UNCLOSED)
    ) as response:
        assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        StreamReader(response).until(lambda result: len(result.events) >= 4)
    with client.stream("GET", f"/resumable-chat/{token}/stream") as response:
        reader = StreamReader(response)
        replay = reader.until(lambda result: len(result.events) >= 4)
        assert [part["type"] for part in parts(replay)] == [
            "start", "start-step", "text-start", "text-delta"
        ]  # fmt: skip
        probe(token).gate.set()
        answer = parts(reader.to_end())
    text = "".join(
        part["delta"] for part in answer if part != "[DONE]" and part["type"] == "text-delta"
    )
    assert text == "```python\nprint('still streaming')\n```\n"
    assert answer[-2:] == [{"type": "finish", "finishReason": "stop"}, "[DONE]"]
    assert results[token][-1].status == "completed"
    # Over: nothing to resume.
    assert client.get(f"/resumable-chat/{token}/stream").status_code == 204


def test_chat_stop_cancels_the_generation(store: str, client: httpx.Client, token: str) -> None:
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, Prompt.WAIT)) as response:
        reader = StreamReader(response)
        reader.until(lambda result: len(result.events) >= 4)
        asked_at = time.monotonic()
        assert client.post(f"/resumable-chat/{token}/stop").status_code == 204
        assert probe(token).finished.wait(5)
        rest = parts(reader.to_end())
    assert probe(token).finished_at - asked_at < 0.2  # type: ignore[operator]
    assert results[token][-1].status == "cancelled"
    assert results[token][-1].text == "partial answer"
    assert rest[-2:] == [{"type": "abort", "reason": "stopped"}, "[DONE]"]
    assert client.post(f"/resumable-chat/{token}/stop").status_code == 204  # nothing to stop


def test_chat_without_an_active_answer_is_204(client: httpx.Client, token: str) -> None:
    assert client.get(f"/resumable-chat/{token}/stream").status_code == 204


def test_issue_20_another_visitor_cannot_squat_block_stop_or_detect_a_chat(
    store: str, client: httpx.Client, token: str
) -> None:
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, Prompt.WAIT)) as response:
        StreamReader(response).until(lambda result: len(result.events) >= 4)
        owners_stream = response.headers["X-Stream-Id"]
    with httpx.Client(base_url=str(client.base_url)) as stranger:
        # The same chat id is another chat for them: nothing in progress, nothing to stop, and
        # a question of their own gets an answer of their own (before: 404, which also told
        # them the id was answering).
        assert stranger.get(f"/resumable-chat/{token}/stream").status_code == 204
        assert stranger.post(f"/resumable-chat/{token}/stop").status_code == 204
        theirs = stranger.post("/resumable-chat/", json=chat_body(token, "hi"))
        assert theirs.status_code == 200
        assert theirs.headers["X-Stream-Id"] != owners_stream
        assert parts(theirs.content)[-1] == "[DONE]"
    # The owner's resume still finds their answer (the test chat's probe is the chat id's, so
    # the stranger's answer finished it), and their stop still stops it.
    with client.stream("GET", f"/resumable-chat/{token}/stream") as resumed:
        assert resumed.status_code == 200
        assert resumed.headers["X-Stream-Id"] == owners_stream
    assert client.post(f"/resumable-chat/{token}/stop").status_code == 204
    wait_until(
        lambda: (
            sorted(result.status for result in results.get(token, [])) == ["cancelled", "completed"]
        ),
        what="the owner's answer stopped, the stranger's completed",
    )


def test_a_stop_that_names_an_older_answer_stops_nothing(
    store: str, client: httpx.Client, token: str
) -> None:
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, Prompt.WAIT)) as response:
        StreamReader(response).until(lambda result: len(result.events) >= 4)
        current = response.headers["X-Stream-Id"]
    older = ("y" if current.startswith("x") else "x") + current[1:]  # never the current one
    stale = client.post(f"/resumable-chat/{token}/stop", params={"stream": older})
    assert stale.status_code == 204
    assert not probe(token).finished.is_set()
    meant = client.post(f"/resumable-chat/{token}/stop", params={"stream": current})
    assert meant.status_code == 204
    assert probe(token).finished.wait(5)


def test_a_new_question_supersedes_the_answer_in_progress(
    store: str, client: httpx.Client, token: str
) -> None:
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, Prompt.WAIT)) as response:
        StreamReader(response).until(lambda result: len(result.events) >= 4)
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, "hello")) as response:
        answer = parts(StreamReader(response).to_end())
    assert probe(token).finished.wait(5)
    wait_until(lambda: len(results.get(token, [])) == 2, what="both answers to finish")
    assert sorted(result.status for result in results[token]) == ["cancelled", "completed"]
    assert answer[-1] == "[DONE]"


@pytest.mark.parametrize("chat_id", [None, "", "x" * 257])
def test_a_resumable_chat_needs_an_id(client: httpx.Client, chat_id: str | None) -> None:
    response = client.post("/resumable-chat/", json=chat_body(chat_id, "hi"))  # type: ignore[arg-type]
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_chat_id"


def test_chat_urls_check_methods(client: httpx.Client) -> None:
    assert client.post("/resumable-chat/x/stream").status_code == 405
    assert client.get("/resumable-chat/x/stop").status_code == 405
    assert client.get("/resumable-chat/" + "x" * 300 + "/stream").status_code == 404
    assert client.post("/resumable-chat/" + "x" * 300 + "/stop").status_code == 404


def test_an_owner_past_max_active_per_owner_gets_429(
    store: str, settings: SettingsWrapper, client: httpx.Client, token: str
) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "MAX_ACTIVE_PER_OWNER": 2}
    assert client.get("/resumable/?n=1").status_code == 200  # the visitor's session begins
    with (
        client.stream("GET", f"/resumable/?n=2&gate=1&token={token}-1") as first,
        client.stream("GET", f"/resumable/?n=2&gate=1&token={token}-2") as second,
    ):
        for response in (first, second):
            StreamReader(response).until(lambda result: len(result.events) >= 1)
        refused = client.get(f"/resumable/?n=2&gate=1&token={token}-3")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert int(refused.headers["Retry-After"]) > 0
        assert not probe(f"{token}-3").started.is_set()  # no generation was started
        # Another visitor has room of their own.
        with httpx.Client(base_url=str(client.base_url)) as stranger:
            assert stranger.get("/resumable/?n=1").status_code == 200
        probe(f"{token}-1").gate.set()
        assert probe(f"{token}-1").finished.wait(5)
        wait_until(
            lambda: client.get("/resumable/?n=1").status_code == 200, what="room for one more"
        )
    probe(f"{token}-2").gate.set()


def test_issue_20_clients_without_cookies_count_against_their_address(
    store: str, settings: SettingsWrapper, client: httpx.Client, token: str
) -> None:
    # Each request without a cookie gets a new session, so a new owner: before, 30 such
    # clients got 30 generations under a limit of 3.
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "MAX_ACTIVE_PER_OWNER": 3}
    statuses = []
    for number in range(30):
        with (
            httpx.Client(base_url=str(client.base_url)) as cookieless,
            cookieless.stream("GET", f"/resumable/?n=2&gate=1&token={token}-{number}") as response,
        ):
            statuses.append(response.status_code)  # and it leaves: the generation goes on
    assert statuses.count(200) == 3
    assert statuses.count(429) == 27
    for number in range(3):
        probe(f"{token}-{number}").gate.set()
    # Once they end, the address has room again.
    wait_until(
        lambda: httpx.get(f"{client.base_url}/resumable/?n=1").status_code == 200,
        what="room again",
    )


def test_a_new_question_in_the_same_chat_does_not_count_twice(
    store: str, settings: SettingsWrapper, client: httpx.Client, token: str
) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "MAX_ACTIVE_PER_OWNER": 1}
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, Prompt.WAIT)) as response:
        StreamReader(response).until(lambda result: len(result.events) >= 4)
    # At the limit, but a new question supersedes the answer in progress.
    with client.stream("POST", "/resumable-chat/", json=chat_body(token, Prompt.WAIT)) as response:
        assert response.status_code == 200
        StreamReader(response).until(lambda result: len(result.events) >= 4)
    refused = client.post("/resumable-chat/", json=chat_body(f"{token}-other", "hi"))
    assert refused.status_code == 429
    assert client.post(f"/resumable-chat/{token}/stop").status_code == 204
    wait_until(lambda: len(results.get(token, [])) == 2, what="both answers to end")


async def test_a_straggler_whose_cancellation_was_dropped_is_cancelled_again() -> None:
    """As redis-py's sends drop one before Python 3.12, which 3.10 cannot tell
    (``backends/redis/errors.py``): the generation's end cancels again what goes on."""
    from django_streaming.resumable.generation import _ended

    async def drops_one() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await asyncio.Event().wait()

    straggler = asyncio.create_task(drops_one())
    await asyncio.sleep(0)
    straggler.cancel()
    await _ended([straggler], timeout=5.0)
    assert straggler.cancelled()


async def test_a_straggler_that_will_not_end_is_left_after_the_timeout() -> None:
    from django_streaming.resumable.generation import _ended

    released = asyncio.Event()

    async def refuses() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await released.wait()

    straggler = asyncio.create_task(refuses())
    await asyncio.sleep(0)
    await _ended([straggler], timeout=0.25)
    assert not straggler.done()
    released.set()
    await straggler
