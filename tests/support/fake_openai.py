"""A fake OpenAI-compatible API: a real ASGI app (serve it with uvicorn on loopback) that
streams chat-completions chunks in the API's SSE format, calls tools as an agent model does,
and fails in the ways real APIs do. The model name chooses the behaviour."""

from __future__ import annotations

import asyncio
import json
from typing import Any

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
    if model == "agent":
        await agent_reply(request, send)
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


def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "agent",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


# The tool the fake model calls, by a word of the question, and its arguments in pieces.
CALLS = {
    "count": ("count_chats", ["{", "}"]),
    "rename": ("rename_chat", ['{"title": ', '"Lisbon"}']),
    "time": ("local_time", ["{}"]),
    "garbled": ("count_chats", ["{not json"]),
}


async def agent_reply(request: dict[str, Any], send: Any) -> None:
    """A model that calls a tool first, then answers with what its tools returned."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
    messages = request["messages"]
    asked = max(n for n, m in enumerate(messages) if m["role"] == "user")
    question = messages[asked]
    # The results of this question's calls: earlier turns of the chat have had their answer.
    results = [m["content"] for m in messages[asked:] if m["role"] == "tool"]
    text = question["content"] if isinstance(question["content"], str) else "image"
    if results or text not in CALLS:
        chunks = [event({"content": f"After tools: {' | '.join(results)}"}), event({}, "stop")]
    else:
        name, pieces = CALLS[text]
        first = {"index": 0, "id": "call_1", "type": "function",
                 "function": {"name": name, "arguments": ""}}  # fmt: skip
        chunks = [event({"tool_calls": [first]})]
        chunks += [
            event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in pieces
        ]
        chunks.append(event({}, "tool_calls"))
    for body in [*chunks, b"data: [DONE]\n\n"]:
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
