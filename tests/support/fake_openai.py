"""A fake OpenAI-compatible API: a real ASGI app (serve it with uvicorn on loopback) that
streams chat-completions chunks in the API's SSE format, calls tools as an agent model does,
and fails in the ways real APIs do. The model name chooses the behaviour."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

received: list[dict[str, Any]] = []


async def read_json(receive: Any) -> Any:
    """The request's body, read whole, as JSON (the fakes' requests are small)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return json.loads(body)


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
    if scope["path"] == "/v1/responses":
        await responses_api(receive, send)
        return
    assert scope["path"] == "/v1/chat/completions"
    request = await read_json(receive)
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


# The Responses API (POST /v1/responses), as the OpenAI Agents SDK calls it by default: a stream
# of typed events (``event: <type>`` and its JSON), the behaviour chosen by the model name.
responses_received: list[dict[str, Any]] = []
#: One entry per streamed response whose client went away before its end (model ``wait``).
responses_disconnected: list[str] = []

# The function calls of a question, by its text: (tool name, its arguments in pieces) each.
RESPONSES_CALLS: dict[str, list[tuple[str, list[str]]]] = {
    "search": [("search", ['{"query": ', '"django"}'])],
    "fail": [("explode", ["{}"])],
    "garbled": [("search", ["{not json"])],
    "garbled rename": [("rename_chat", ['{"title": '])],
    "invalid": [("search", ['{"query": 3}'])],
    "rename": [("rename_chat", ['{"title": ', '"Lisbon"}'])],
    "rename and archive": [("rename_chat", ['{"title": "Lisbon"}']), ("archive_chat", ["{}"])],
    "handoff": [("transfer_to_helper", ["{}"])],
    "empty": [("count_chats", [])],
}  # and "shell": a call of the local shell
_ids = itertools.count(1)


async def responses_api(receive: Any, send: Any) -> None:
    """``text``: reasoning then text; ``agent``: the calls of ``RESPONSES_CALLS`` for the
    question, then (once their outputs are in) a text naming them; ``incomplete``,
    ``failed``, ``error``: the three ways a stream ends badly; ``wait``: a delta, then nothing
    until the client leaves; ``broken``: a 500."""
    request = await read_json(receive)
    responses_received.append(request)
    model = request["model"]
    if model == "broken":
        error = json.dumps({"error": {"message": "nope", "type": "x", "code": None}}).encode()
        await send({"type": "http.response.start", "status": 500,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": error})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
    stream = ResponseEvents(model)
    for event in stream.reply(request):
        await send({"type": "http.response.body", "body": event, "more_body": True})
    if model == "wait":
        while (await receive())["type"] != "http.disconnect":
            pass
        responses_disconnected.append(stream.id)
        return
    await send({"type": "http.response.body", "body": b""})


class ResponseEvents:
    """The events of one response, numbered as the API numbers them."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"resp_{next(_ids)}"
        self.sequence = itertools.count()
        self.output: list[dict[str, Any]] = []

    def event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": next(self.sequence), **fields}
        return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()

    def response(self, status: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": self.id, "object": "response", "created_at": 0, "model": self.model,
            "status": status, "output": self.output if status != "in_progress" else [],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": None,
            "error": None, "incomplete_details": None, **fields,
        }  # fmt: skip

    def reply(self, request: dict[str, Any]) -> list[bytes]:
        events = [self.event("response.created", response=self.response("in_progress"))]
        if self.model == "error":
            return [*events, self.event("error", code="server_error", message="It broke.")]
        if self.model == "failed":
            error = {"code": "server_error", "message": "The model failed."}
            failed = self.response("failed", error=error)
            return [*events, self.event("response.failed", response=failed)]
        if self.model == "agent":
            asked, outputs = _question(request["input"])
            calls = RESPONSES_CALLS.get(asked) if not outputs else None
            if asked == "shell" and not outputs:
                events += self.shell_call()
            elif calls:
                for name, pieces in calls:
                    events += self.function_call(name, pieces)
            else:
                events += self.message(["After tools: ", " | ".join(outputs)])
        elif self.model.startswith("tokens-"):  # benchmarks/agents.py: N short deltas
            events += self.message([f"tok{n} " for n in range(int(self.model[len("tokens-") :]))])
        else:
            if self.model == "text":
                events += self.reasoning([["Thinking", " hard."], ["Done."]])
            events += self.message(["Hel", "lo ", "wörld 😀"])
            if self.model == "wait":
                return events
        usage = {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19,
                 "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 0},
                 "output_tokens_details": {"reasoning_tokens": 3}}  # fmt: skip
        if self.model == "incomplete":
            details = {"reason": "max_output_tokens"}
            # As some compatible servers count: no details.
            counts = {key: usage[key] for key in ("input_tokens", "output_tokens", "total_tokens")}
            ending = self.response("incomplete", incomplete_details=details, usage=counts)
            return [*events, self.event("response.incomplete", response=ending)]
        ending = self.response("completed", usage=usage)
        return [*events, self.event("response.completed", response=ending)]

    def item(self, added: dict[str, Any], done: dict[str, Any], events: list[bytes]) -> list[bytes]:
        index = len(self.output)
        self.output.append(done)
        return [
            self.event("response.output_item.added", output_index=index, item=added),
            *events,
            self.event("response.output_item.done", output_index=index, item=done),
        ]

    def message(self, pieces: list[str]) -> list[bytes]:
        item_id, index = f"msg_{next(_ids)}", len(self.output)
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        deltas = [
            self.event("response.output_text.delta", delta=piece, logprobs=[], **where)
            for piece in pieces
        ]
        text = {"type": "output_text", "text": "".join(pieces), "annotations": []}
        item = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress",
                "content": []}  # fmt: skip
        return self.item(item, {**item, "status": "completed", "content": [text]}, deltas)

    def reasoning(self, parts: list[list[str]]) -> list[bytes]:
        item_id, index = f"rs_{next(_ids)}", len(self.output)
        events = []
        for summary_index, pieces in enumerate(parts):
            where = {"item_id": item_id, "output_index": index, "summary_index": summary_index}
            part = {"type": "summary_text", "text": ""}
            events.append(self.event("response.reasoning_summary_part.added", part=part, **where))
            events += [
                self.event("response.reasoning_summary_text.delta", delta=piece, **where)
                for piece in pieces
            ]
        summary = [{"type": "summary_text", "text": "".join(pieces)} for pieces in parts]
        item = {"type": "reasoning", "id": item_id, "summary": []}
        return self.item(item, {**item, "summary": summary}, events)

    def function_call(self, name: str, pieces: list[str]) -> list[bytes]:
        number = next(_ids)
        item_id, index = f"fc_{number}", len(self.output)
        item = {"type": "function_call", "id": item_id, "call_id": f"call_{number}",
                "name": name, "arguments": "", "status": "in_progress"}  # fmt: skip
        where = {"item_id": item_id, "output_index": index}
        events = [
            self.event("response.function_call_arguments.delta", delta=piece, **where)
            for piece in pieces
        ]
        arguments = "".join(pieces)
        events.append(
            self.event("response.function_call_arguments.done", arguments=arguments, **where)
        )
        return self.item(item, {**item, "arguments": arguments, "status": "completed"}, events)

    def shell_call(self) -> list[bytes]:
        """A call of the local shell tool (no function: the SDK runs its executor)."""
        number = next(_ids)
        action = {"type": "exec", "command": ["date"], "env": {}}
        item = {"type": "local_shell_call", "id": f"lsh_{number}", "call_id": f"call_{number}",
                "action": action, "status": "completed"}  # fmt: skip
        return self.item(item, item, [])


def _question(items: Any) -> tuple[str, list[str]]:
    """The text of the last user message, and the outputs of the calls made since."""
    if isinstance(items, str):
        return items, []
    asked = max(n for n, item in enumerate(items) if item.get("role") == "user")
    content = items[asked]["content"]
    if not isinstance(content, str):
        content = "".join(part.get("text", "") for part in content)
    outputs = [
        item["output"] for item in items[asked:] if item.get("type", "").endswith("call_output")
    ]
    return content, [
        output if isinstance(output, str) else json.dumps(output) for output in outputs
    ]


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
