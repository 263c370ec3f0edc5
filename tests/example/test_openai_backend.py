"""The example's `openai` back-end, driven by the real `openai` client against a fake
OpenAI-compatible server: a real HTTP server on loopback that streams chat-completions chunks
in the API's SSE format, and fails in the ways real APIs do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from chat.backends import OpenAIBackend, SimulatedBackend, get_backend
from django_streaming import ChatError, ChatMessage
from tests.support.servers import RunningServer, uvicorn_server

received: list[dict[str, Any]] = []


def chunk(content: str) -> bytes:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


async def fake_openai(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    assert scope["path"] == "/v1/chat/completions"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body)
    received.append(request)
    model = request["model"]
    if model in ("unauthorized", "ratelimited", "broken"):
        status = {"unauthorized": 401, "ratelimited": 429, "broken": 500}[model]
        error = json.dumps({"error": {"message": "nope", "type": "x", "code": None}}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": error})
        return
    if model == "slow":
        await asyncio.sleep(5)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
    for piece in ["Hel", "lo ", "wörld 😀"]:
        await send({"type": "http.response.body", "body": chunk(piece), "more_body": True})
        if model == "drop":
            raise ConnectionResetError("dropped mid-stream")  # uvicorn cuts the connection
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_openai) as server:
        yield server


async def answer(api: RunningServer, model: str, timeout: float = 10.0) -> str:
    backend = OpenAIBackend(base_url=f"{api.url}/v1", api_key="k", model=model, timeout=timeout)
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]
    return "".join([token async for token in backend.stream(messages)])


async def test_streams_the_completion(api: RunningServer) -> None:
    assert await answer(api, "good") == "Hello wörld 😀"
    assert received[-1]["stream"] is True
    assert received[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("unauthorized", "The model API refused our key (401): check OPENAI_API_KEY."),
        ("ratelimited", "The model API is rate-limited (429); try again in a minute."),
        ("broken", "The model API failed (500)."),
        ("drop", "The connection to the model API was lost."),
    ],
)
async def test_api_failures_become_clear_chat_errors(
    api: RunningServer, model: str, message: str
) -> None:
    with pytest.raises(ChatError) as raised:
        await answer(api, model)
    assert raised.value.message == message


async def test_timeout(api: RunningServer) -> None:
    with pytest.raises(ChatError, match="did not answer in time"):
        await answer(api, "slow", timeout=0.3)


async def test_refused_connection() -> None:
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1", api_key="k", model="m")
    with pytest.raises(ChatError, match="connection to the model API was lost"):
        [token async for token in backend.stream([ChatMessage("user", "Hi")])]


def test_backend_choice() -> None:
    assert isinstance(get_backend({}), SimulatedBackend)
    assert isinstance(get_backend({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}), OpenAIBackend)
    explicit = get_backend({"CHAT_BACKEND": "simulated", "OPENAI_API_KEY": "k"})
    assert isinstance(explicit, SimulatedBackend)
    with pytest.raises(ValueError, match="CHAT_BACKEND must be 'simulated' or 'openai'"):
        get_backend({"CHAT_BACKEND": "llama"})


async def test_simulated_answers_depend_on_the_question() -> None:
    backend = SimulatedBackend(tokens_per_second=0)
    first = "".join([t async for t in backend.stream([ChatMessage("user", "What is SSE?")])])
    again = "".join([t async for t in backend.stream([ChatMessage("user", "What is SSE?")])])
    other = "".join([t async for t in backend.stream([ChatMessage("user", "Tell me a joke")])])
    assert first == again
    assert first != other
    for feature in ["## About", "```", "| 你好 |", "1. Step 1", "🚀"]:
        assert feature in first
