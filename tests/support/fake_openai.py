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
    if model in SCRIPTS or model.startswith("finish-"):
        await scripted_reply(model, receive, send)
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


# Models whose answers show what real servers stream: by the model's name, the payloads of its
# chunks' `data:` lines (the id, object and model are added).
usage_chunk: dict[str, Any] = {
    "choices": [],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "completion_tokens_details": {"reasoning_tokens": 20},
        "prompt_tokens_details": {"cached_tokens": 8},
    },
}


def call_piece(index: int, arguments: str, **first: str) -> dict[str, Any]:
    """A `tool_calls` delta; ``first`` (id, name) for the first piece of a call."""
    piece: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if "id" in first:
        piece |= {"id": first["id"], "type": "function"}
    if "name" in first:
        piece["function"]["name"] = first["name"]
    return {"choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]}


def delta(finish: str | None = None, index: int = 0, **fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": index, "delta": fields, "finish_reason": finish}]}


SCRIPTS: dict[str, list[Any]] = {
    # DeepSeek (and vLLM before 0.11): the reasoning in `reasoning_content`; usage last.
    "reasoning": [
        delta(role="assistant", content=""),
        delta(reasoning_content="Two and "),
        delta(reasoning_content="two..."),
        delta(content="Four."),
        delta("stop"),
        usage_chunk,
    ],
    # vLLM 0.11+, Ollama, OpenRouter: `reasoning`; a server's own finish reason.
    "vllm": [delta(reasoning="Hm."), delta(content="Done"), delta("eos")],
    # Two calls at once, their arguments in pieces; the second's arguments are not JSON.
    "calls": [
        delta(content="Let me look."),
        call_piece(0, "", id="call_a", name="weather"),
        call_piece(0, '{"city": '),
        call_piece(0, '"Paris"}'),
        call_piece(1, "{not json", id="call_b", name="weather"),
        delta("tool_calls"),
        usage_chunk,
    ],
    # LiteLLM, Groq: a whole call in one chunk, the legacy finish reason, usage with it.
    "litellm": [
        call_piece(0, '{"city": "Oslo"}', id="call_c", name="weather"),
        {
            **delta("function_call"),
            "usage": {
                **usage_chunk["usage"],
                "completion_tokens_details": None,
                "prompt_tokens_details": None,
            },
        },
    ],
    # No call id, no arguments, arguments that are JSON but not an object; no finish reason.
    "sloppy": [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"name": "now"}}]},
                    "finish_reason": None,
                }
            ]
        },
        call_piece(1, "[1, 2]", id="call_d", name="weather"),
    ],
    # Azure: a first chunk with no model and no choices (its prompt filter results).
    "azure": [
        {"model": "", "choices": [], "prompt_filter_results": []},
        delta(content="Hi"),
        delta("stop"),
    ],
    "refusal": [delta(refusal="I can't help with that."), delta("stop")],
    # n=2: the second answer's chunks come between the first's.
    "two-choices": [
        delta(content="One"),
        delta(index=1, content="Two"),
        delta("stop"),
        delta("stop", index=1),
    ],
    # An error in the middle of the stream, as the API sends it.
    "midstream-error": [
        delta(content="Hel"),
        {"error": {"message": "The server had an error", "type": "server_error"}},
    ],
    # One piece, then nothing until the client leaves.
    "hang": [delta(content="Hel")],
}
#: The models whose request the client closed, in order.
disconnected: list[str] = []


async def scripted_reply(model: str, receive: Any, send: Any) -> None:
    """One of SCRIPTS, or for `finish-<reason>` a word then that finish reason."""
    script = SCRIPTS.get(model) or [delta(content="Ok"), delta(model.removeprefix("finish-"))]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
    for payload in script:
        full = {"id": "chatcmpl-3", "object": "chat.completion.chunk", "created": 0, "model": model}
        body = f"data: {json.dumps(full | payload)}\n\n".encode()
        await send({"type": "http.response.body", "body": body, "more_body": True})
    if model == "hang":
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnected.append(model)
        return
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
