"""``ChatStreamView.on_start()``: run once a request is accepted and before its answer starts,
so that a view saving the question never has the answer saved first; not run for a request
that is refused; a failure in it starts no answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import AsyncClient
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import ChatMessage, ChatPart, ChatResult, ChatStreamView
from django_streaming.stores import get_store
from tests.support.chat import chat_body, response_parts

#: What happened, in order: the hooks and the generator.
happened: list[str] = []
#: A generation of the chat "held" waits for this.
release = asyncio.Event()


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
        if self.chat.chat_id == "held":
            await release.wait()
        yield "hi"

    async def on_finish(self, result: ChatResult) -> None:
        happened.append("on_finish")


class ResumableRecording(Recording):
    resumable = True


urlpatterns = [
    path("plain/", csrf_exempt(Recording.as_view())),
    path("resumable/", include(ResumableRecording.urls(decorators=[csrf_exempt]))),
]


@pytest.fixture(autouse=True)
def urls(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = __name__
    happened.clear()
    release.clear()


async def post(url: str, body: dict[str, Any]) -> Any:
    return await AsyncClient().post(url, body, content_type="application/json")


async def answer(url: str, body: dict[str, Any]) -> list[Any]:
    response = await post(url, body)
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
