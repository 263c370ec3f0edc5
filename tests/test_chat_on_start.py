"""``ChatStreamView.on_start()``: run once a request is accepted and before its answer starts,
so that a view saving the question never has the answer saved first; not run for a request
that is refused; a failure in it starts no answer. A question that supersedes an answer in
progress waits for that answer to end, its ``on_finish()`` included, before its own
``on_start()`` (up to ``supersede_timeout`` seconds)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import ChatMessage, ChatPart, ChatResult, ChatStreamView
from django_streaming.asgi import get_asgi_application
from django_streaming.backends.redis import RedisStore
from django_streaming.chat.views import _ended
from django_streaming.stores import get_store
from tests.support.asgi import http_scope, staying
from tests.support.chat import chat_body, response_parts
from tests.support.redis_servers import shared_redis, unique_prefix

#: What happened, in order: the hooks and the generator.
happened: list[str] = []
#: A generation of the chat "held" waits for this.
release = asyncio.Event()
#: An answer to "hold" waits for ``release`` once it has set ``generating``; a stopped
#: answer's on_finish() sets ``finishing``, then waits for ``saving``.
generating = asyncio.Event()
finishing = asyncio.Event()
saving = asyncio.Event()


class Recording(ChatStreamView):
    async def on_start(self) -> None:
        happened.append("on_start")
        if "save fails" in self.chat.messages[-1].text:
            raise RuntimeError("the database is gone")
        for _ in range(20):  # a save that takes several turns of the loop
            await asyncio.sleep(0)
        happened.append("question saved")

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        happened.append("generate")
        if self.chat.chat_id == "held" or self.chat.messages[-1].text == "hold":
            generating.set()
            await release.wait()
        yield "hi"

    async def on_finish(self, result: ChatResult) -> None:
        happened.append("on_finish")
        if result.status == "cancelled":  # a save that waits for the database
            finishing.set()
            await saving.wait()
            happened.append("answer saved")


class ResumableRecording(Recording):
    resumable = True


class Impatient(ResumableRecording):
    supersede_timeout = 0.2


class SavingInThePool(ResumableRecording):
    supersede_timeout = 60.0

    async def on_finish(self, result: ChatResult) -> None:
        await sync_to_async(happened.append)("answer saved in the pool")


urlpatterns = [
    path("plain/", csrf_exempt(Recording.as_view())),
    path("resumable/", include(ResumableRecording.urls(decorators=[csrf_exempt]))),
    path("impatient/", include(Impatient.urls(decorators=[csrf_exempt]))),
    path("pool/", include(SavingInThePool.urls(decorators=[csrf_exempt]))),
]


@pytest.fixture(autouse=True)
def urls(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = __name__
    global release, generating, finishing, saving  # each test runs on a loop of its own
    happened.clear()
    release, generating, finishing, saving = (asyncio.Event() for _ in range(4))


async def post(url: str, body: dict[str, Any], client: AsyncClient | None = None) -> Any:
    return await (client or AsyncClient()).post(url, body, content_type="application/json")


async def answer(url: str, body: dict[str, Any], client: AsyncClient | None = None) -> list[Any]:
    response = await post(url, body, client)
    assert response.status_code == 200
    return await response_parts(response)


@pytest.mark.parametrize("url", ["/plain/", "/resumable/"])
async def test_the_answer_starts_once_on_start_is_done(url: str) -> None:
    answered = await answer(url, chat_body("chat-1", "hello"))
    assert answered[-1] == "[DONE]"
    assert happened == ["on_start", "question saved", "generate", "on_finish"]


async def test_a_refused_request_does_not_call_it(settings: SettingsWrapper) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "MAX_ACTIVE_PER_OWNER": 1}
    no_id = await post("/resumable/", chat_body("", "hello"))
    assert no_id.status_code == 400
    unreadable = await AsyncClient().post(
        "/resumable/", b"{not json", content_type="application/json"
    )
    assert unreadable.status_code == 400
    assert happened == []
    held = await post("/resumable/", chat_body("held", "hello"))
    assert held.status_code == 200
    over_the_limit = await post("/resumable/", chat_body("another", "hello"))
    assert over_the_limit.status_code == 429
    assert happened.count("on_start") == 1  # the held answer's only
    release.set()
    assert (await response_parts(held))[-1] == "[DONE]"


@pytest.mark.parametrize("url", ["/plain/", "/resumable/"])
async def test_a_failing_on_start_starts_no_answer(url: str) -> None:
    with pytest.raises(RuntimeError, match="the database is gone"):
        await post(url, chat_body("chat-2", "save fails"))
    assert happened == ["on_start"]
    # Resumable: the chat has no answer in progress, and the stream made for it is ended.
    resumed = await AsyncClient().get("/resumable/chat-2/stream")
    assert resumed.status_code == 204
    running = await get_store().running(10)
    assert running == []


async def test_a_question_that_supersedes_an_answer_waits_for_that_answer_to_be_saved() -> None:
    client = AsyncClient()  # one visitor, two tabs
    first = await post("/resumable/", chat_body("chat-3", "hold"), client)
    try:
        await generating.wait()
        # A second question to the same chat: the first answer is stopped, and its
        # on_finish() takes a while to save it.
        second = asyncio.ensure_future(post("/resumable/", chat_body("chat-3", "hello"), client))
        await finishing.wait()
        # While it saves, the second question is not saved, nor its answer started. (Without
        # the wait, its on_start() and generate() run at once.)
        done, _ = await asyncio.wait((second,), timeout=0.5)
        assert not done
        assert happened == ["on_start", "question saved", "generate", "on_finish"]
    finally:
        saving.set()  # (a stopped answer's save must not wait for ever at the loop's close)
    answered = await response_parts(await second)
    assert answered[-1] == "[DONE]"
    assert happened[4:] == ["answer saved", "on_start", "question saved", "generate", "on_finish"]
    assert (await response_parts(first))[-1] == "[DONE]"


async def test_an_answer_that_does_not_end_in_time_is_left_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = AsyncClient()
    first = await post("/impatient/", chat_body("chat-4", "hold"), client)
    try:
        await generating.wait()
        with caplog.at_level(logging.WARNING, logger="django_streaming"):
            answered = await answer("/impatient/", chat_body("chat-4", "hello"), client)
        # The first answer's save never got its database: the second went on without it.
        assert answered[-1] == "[DONE]"
        assert happened[4:] == ["on_start", "question saved", "generate", "on_finish"]
        assert "did not end within 0.2 s of its stop (supersede_timeout)" in caplog.text
    finally:
        saving.set()
    assert (await response_parts(first))[-1] == "[DONE]"
    assert happened[-1] == "answer saved"


async def test_the_wait_for_an_answer_whose_worker_died_ends_with_its_lease() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix(), lease=0.2)
    try:
        await store.create("orphan", owner="me")  # and no worker renews it, or ends it
        await store.append("orphan", [(1, b"data: a\n\n"), (2, b"data: b\n\n")])
        assert await asyncio.wait_for(_ended(store, "orphan", timeout=30), 20)
        # One that ends in time, and one that does not.
        await store.create("ending", owner="me")
        waiting = asyncio.ensure_future(_ended(store, "ending", timeout=30))
        await store.finish("ending", "cancelled")
        assert await asyncio.wait_for(waiting, 20)
        await store.create("going on", owner="me")
        await store.keep_alive("going on")
        assert not await _ended(store, "going on", timeout=0.05)
    finally:
        await store.aclose()


class Posted:
    """A POST served in process by ``django_streaming.asgi``, as a server would: its headers
    (``started``, once sent) and its body, the client staying to the end."""

    def __init__(self, handler: Any, path: str, body: dict[str, Any], cookie: bytes = b"") -> None:
        self.started = asyncio.Event()
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        scope = http_scope(path, method="POST", headers=[(b"cookie", cookie)] if cookie else [])
        request = {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.headers = message["headers"]
                self.started.set()
            else:
                self.body += message.get("body", b"")

        self.task = asyncio.ensure_future(handler(scope, staying([request]), send))

    def cookie(self) -> bytes:
        """The session cookie it set, as the browser sends it back."""
        return b"; ".join(
            value.split(b";")[0] for name, value in self.headers if name.lower() == b"set-cookie"
        )


async def test_questions_that_supersede_answers_leave_the_pool_threads_to_end_them(
    settings: SettingsWrapper,
) -> None:
    """Served by ``django_streaming.asgi``, a request waiting for the answer it supersedes
    holds a thread of the pool, and that answer's on_finish() needs one: with one thread, a
    question that waited would hold it until its ``supersede_timeout`` (60 s here)."""
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "THREADS": 1}
    handler = get_asgi_application()
    first = Posted(handler, "/pool/", chat_body("chat-5", "hold"))
    await first.started.wait()
    await generating.wait()
    second = Posted(handler, "/pool/", chat_body("chat-5", "hello"), first.cookie())
    await asyncio.wait_for(second.task, 10)  # a liveness bound, well short of the 60 s
    assert b"[DONE]" in second.body
    await asyncio.wait_for(first.task, 10)
    assert b"[DONE]" in first.body
    assert happened.count("answer saved in the pool") == 2
