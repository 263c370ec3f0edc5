"""The SDK mappers in a `ChatStreamView` under uvicorn, against the fake APIs under uvicorn: the
answer's protocol parts (the model's name, the finish reason and usage on `finish`), and a
client that leaves closing the model's request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from django.test import override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_streaming import ChatMessage, ChatPart, ChatStreamView
from django_streaming.agents.anthropic import anthropic_messages, message_parts
from django_streaming.agents.openai import chat_completions_parts, chat_messages
from tests.support import fake_anthropic, fake_openai
from tests.support.servers import RunningServer, until, uvicorn_server

#: Where the fake APIs listen, set by the fixture.
APIS: dict[str, str] = {}


class OpenAIChat(ChatStreamView):
    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        async with openai.AsyncOpenAI(
            base_url=APIS["openai"], api_key="k", max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model=messages[-1].text,  # the fake's behaviour
                messages=chat_messages(messages),
                stream=True,
                stream_options={"include_usage": True},
            )
            async for part in chat_completions_parts(stream):
                yield part


class AnthropicChat(ChatStreamView):
    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        history, _ = anthropic_messages(messages)
        async with anthropic.AsyncAnthropic(
            base_url=APIS["anthropic"], api_key="k", max_retries=0
        ) as client:
            stream = await client.messages.create(
                model=messages[-1].text, max_tokens=100, messages=history, stream=True
            )
            async for part in message_parts(stream):
                yield part


urlpatterns = [
    path("openai/", csrf_exempt(OpenAIChat.as_view())),
    path("anthropic/", csrf_exempt(AnthropicChat.as_view())),
]


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with (
        uvicorn_server(app=fake_openai.fake_openai) as openai_api,
        uvicorn_server(app=fake_anthropic.fake_anthropic) as anthropic_api,
        override_settings(ROOT_URLCONF=__name__),
        uvicorn_server() as django,
    ):
        APIS.update(openai=f"{openai_api.url}/v1", anthropic=anthropic_api.url)
        yield django


def body(model: str) -> dict[str, Any]:
    return {"id": "c1", "messages": [{"role": "user", "parts": [{"type": "text", "text": model}]}]}


async def chat(server: RunningServer, url: str, model: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}{url}", json=body(model), timeout=10)
    assert response.status_code == 200
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    return [json.loads(item) for item in data if item != "[DONE]"]


async def test_an_openai_answer(server: RunningServer) -> None:
    parts = await chat(server, "/openai/", "reasoning")
    assert {"type": "message-metadata", "messageMetadata": {"model": "reasoning"}} in parts
    assert [p["delta"] for p in parts if p["type"] == "reasoning-delta"] == ["Two and ", "two..."]
    assert [p["delta"] for p in parts if p["type"] == "text-delta"] == ["Four."]
    usage = {"inputTokens": 12, "outputTokens": 30, "totalTokens": 42, "reasoningTokens": 20,
             "cachedInputTokens": 8}  # fmt: skip
    assert parts[-1] == {
        "type": "finish",
        "finishReason": "stop",
        "messageMetadata": {"usage": usage},
    }


async def test_an_anthropic_answer_with_tool_calls(server: RunningServer) -> None:
    parts = await chat(server, "/anthropic/", "claude-tools")
    kinds = [p["type"] for p in parts]
    assert kinds.count("tool-input-available") == 2
    assert kinds.count("tool-input-error") == 1
    assert parts[-1]["finishReason"] == "tool-calls"  # the model's, and no call waits
    assert parts[-1]["messageMetadata"]["usage"]["outputTokens"] == 40


@pytest.mark.parametrize(
    ("url", "model", "fake"),
    [
        ("/openai/", "hang", fake_openai.disconnected),
        ("/anthropic/", "claude-hang", fake_anthropic.disconnected),
    ],
)
async def test_a_client_that_leaves_closes_the_models_request(
    server: RunningServer, url: str, model: str, fake: list[str]
) -> None:
    fake.clear()
    async with (
        httpx.AsyncClient() as client,
        client.stream("POST", f"{server.url}{url}", json=body(model), timeout=10) as response,
    ):
        async for line in response.aiter_lines():
            if '"text-delta"' in line:
                break  # the model is streaming: leave
    await until(lambda: fake == [model], "the fake API to see its request closed")
