"""A fake Anthropic Messages API: a real ASGI app (serve it with uvicorn on loopback) whose
``POST /v1/messages`` streams the API's SSE events (``message_start``, ``content_block_start``
/ ``_delta`` / ``_stop`` for text, thinking, tool use and a server tool, ``message_delta``
with the stop reason and usage, ``message_stop``), and fails in the ways the API does. The
model name chooses the behaviour."""

from __future__ import annotations

import json
from typing import Any

from tests.support.fake_openai import read_json

received: list[dict[str, Any]] = []
#: The models whose request the client closed, in order.
disconnected: list[str] = []

Event = tuple[str, dict[str, Any]]


def start(usage: dict[str, int] | None = None) -> Event:
    usage = usage or {"input_tokens": 10, "output_tokens": 1}
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-fake-1",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return "message_start", {"type": "message_start", "message": message}


def block(index: int, content_block: dict[str, Any]) -> Event:
    payload = {"type": "content_block_start", "index": index, "content_block": content_block}
    return "content_block_start", payload


def piece(index: int, **delta: Any) -> Event:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def stop(index: int) -> Event:
    return "content_block_stop", {"type": "content_block_stop", "index": index}


def end(reason: str | None, output_tokens: int = 7, **usage: int) -> list[Event]:
    delta = {"stop_reason": reason, "stop_sequence": None}
    return [
        ("message_delta", {"type": "message_delta", "delta": delta,
                           "usage": {"output_tokens": output_tokens, **usage}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip


def text(index: int, *pieces: str) -> list[Event]:
    return [
        block(index, {"type": "text", "text": ""}),
        *[piece(index, type="text_delta", text=p) for p in pieces],
        stop(index),
    ]


def tool_use(
    index: int, call_id: str, name: str, *pieces: str, kind: str = "tool_use"
) -> list[Event]:
    return [
        block(index, {"type": kind, "id": call_id, "name": name, "input": {}}),
        *[piece(index, type="input_json_delta", partial_json=p) for p in pieces],
        stop(index),
    ]


PING: Event = ("ping", {"type": "ping"})

SCRIPTS: dict[str, list[Event]] = {
    "claude-text": [start(), PING, *text(0, "Hel", "lo"), *end("end_turn")],
    "claude-thinking": [
        start(
            {
                "input_tokens": 10,
                "cache_read_input_tokens": 90,
                "cache_creation_input_tokens": 5,
                "output_tokens": 1,
            }
        ),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        piece(0, type="thinking_delta", thinking="Two and "),
        piece(0, type="thinking_delta", thinking="two."),
        piece(0, type="signature_delta", signature="c2lnbmVk"),
        stop(0),
        block(1, {"type": "redacted_thinking", "data": "c2VjcmV0"}),
        stop(1),
        *text(2, "Four."),
        *end("end_turn", 30),
    ],
    # Text, then three calls: input in pieces (after an empty one, as the API sends), no
    # input at all, and input that is not JSON.
    "claude-tools": [
        start(),
        *text(0, "Let me look."),
        *tool_use(1, "toolu_1", "weather", "", '{"city": ', '"Paris"}'),
        *tool_use(2, "toolu_2", "now"),
        *tool_use(3, "toolu_3", "weather", "{not json"),
        *end("tool_use", 40),
    ],
    # A server tool (web search): its call and its result come in the stream.
    "claude-search": [
        start(),
        *tool_use(0, "srvtoolu_1", "web_search", '{"query": "django"}', kind="server_tool_use"),
        block(
            1,
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [
                    {
                        "type": "web_search_result",
                        "title": "Django",
                        "url": "https://www.djangoproject.com/",
                        "encrypted_content": "abc",
                        "page_age": None,
                    },
                ],
            },
        ),
        stop(1),
        *text(2, "Found it."),
        *end("end_turn", 12, input_tokens=2000),
    ],
    # An MCP server's tool (the beta MCP connector), and a block of a kind yet to come whose
    # input streams too.
    "claude-mcp": [
        start(),
        *tool_use(0, "mcptoolu_1", "list_repos", '{"owner": "x"}', kind="mcp_tool_use"),
        block(
            1,
            {
                "type": "mcp_tool_result",
                "tool_use_id": "mcptoolu_1",
                "is_error": False,
                "content": [{"type": "text", "text": "3 repos"}],
            },
        ),
        stop(1),
        block(2, {"type": "future_block"}),
        piece(2, type="input_json_delta", partial_json='{"a": 1}'),
        piece(2, type="future_delta", value=1),
        stop(2),
        *text(3, "You have 3."),
        *end("end_turn"),
    ],
    # The API's error event in the middle of the stream.
    "claude-overloaded": [
        start(),
        *text(0, "Hel")[:2],
        (
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
    ],
    # One piece, then nothing until the client leaves.
    "claude-hang": [start(), *text(0, "Hel")[:2]],
}


async def fake_anthropic(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    assert scope["path"] == "/v1/messages", scope["path"]
    request = await read_json(receive)
    received.append(request)
    model = request["model"]
    if model == "claude-unauthorized":
        error = {"type": "error", "error": {"type": "authentication_error", "message": "x"}}
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": json.dumps(error).encode()})
        return
    # `claude-stop-<reason>`: a word, then that stop reason.
    reason = model.removeprefix("claude-stop-")
    script = SCRIPTS.get(model) or [start(), *text(0, "Ok"), *end(reason)]
    if model == "claude-agent":
        script = agent_reply(request)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
    for name, data in script:
        chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    if model == "claude-hang":
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnected.append(model)
        return
    await send({"type": "http.response.body", "body": b""})


def agent_reply(request: dict[str, Any]) -> list[Event]:
    """A model that calls a tool first, then answers with what its tools returned."""
    last = request["messages"][-1]["content"]
    results = [
        block["content"]
        for block in (last if isinstance(last, list) else [])
        if block["type"] == "tool_result"
    ]
    if results:
        return [start(), *text(0, f"After tools: {' | '.join(results)}"), *end("end_turn")]
    return [
        start(),
        *text(0, "Let me look."),
        *tool_use(1, "toolu_9", "weather", '{"city": ', '"Paris"}'),
        *end("tool_use"),
    ]
