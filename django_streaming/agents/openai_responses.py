"""The OpenAI Responses API: its stream's events as chat parts, and a conversation as its input.

For a ``generate()`` that calls the model itself::

    async def generate(self, messages):
        stream = await client.responses.create(
            model="gpt-5", input=response_input(messages), stream=True
        )
        async for part in stream_response(stream):
            yield part

``ResponseStream`` maps event by event, across the several responses of one answer (a model
call, your tools, the next call), and keeps what a tool loop needs: the calls, the usage, the
last response. Nothing here imports ``openai``: events are read by their ``type`` and fields.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from django_streaming.chat.messages import ChatFile, ChatMessage, ChatToolCall
from django_streaming.chat.parts import (
    ChatPart,
    Finish,
    Metadata,
    ReasoningDelta,
    Step,
    ToolCall,
    ToolInputDelta,
    ToolInputError,
)

__all__ = [
    "FunctionCall",
    "ResponseError",
    "ResponseStream",
    "parse_arguments",
    "response_input",
    "stream_response",
]

#: What the model is told of a call the user denied, when the history is sent again.
DENIED_TEXT = "The user denied this tool call."
INVALID_ARGUMENTS_TEXT = "The arguments are not a JSON object."
#: The finish reasons of an incomplete response, by its ``incomplete_details.reason``.
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content-filter"}
#: The protocol's usage fields, from the Responses API's ``usage`` (and its details).
USAGE_FIELDS = {
    "inputTokens": ("input_tokens",),
    "outputTokens": ("output_tokens",),
    "totalTokens": ("total_tokens",),
    "reasoningTokens": ("output_tokens_details", "reasoning_tokens"),
    "cachedInputTokens": ("input_tokens_details", "cached_tokens"),
}


class ResponseError(RuntimeError):
    """The API ended a response with an error (``response.failed``, or an ``error`` event)."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(f"{code or 'error'}: {message}")
        self.code = code


@dataclass(frozen=True)
class FunctionCall:
    """A function call the model made, its ``arguments`` as the model wrote them (JSON)."""

    call_id: str
    name: str
    arguments: str


def parse_arguments(arguments: str) -> dict[str, Any] | None:
    """A call's arguments as an object, or None when they are not one (``""`` is ``{}``)."""
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ResponseStream:
    """Chat parts for the events of Responses API streams, one event at a time.

    Each response after the first starts a ``Step``; the model's name is ``Metadata`` when it
    first shows (or changes). A function call's arguments stream as ``ToolInputDelta``s and,
    with ``complete_calls``, the call ends as a ``ToolCall`` (or a ``ToolInputError`` when its
    arguments are not a JSON object): without, whoever runs the calls completes them (an
    agent framework). ``finish()`` is the last part: the reason and the usage of them all.
    """

    def __init__(self, *, complete_calls: bool = True) -> None:
        self.complete_calls = complete_calls
        self.model: str | None = None
        self.responses = 0
        self.usage: dict[str, int] = {}
        self.reason = "stop"
        #: The last response that ended (``openai.types.responses.Response``): its ``output``
        #: goes into the next request's input, with the calls' outputs.
        self.response: Any = None
        #: The function calls of the current response, as they completed.
        self.calls: list[FunctionCall] = []
        self._streaming: dict[str, tuple[str, str]] = {}  # item id -> call id, tool name

    async def stream(self, events: AsyncIterable[Any]) -> AsyncIterator[ChatPart]:
        """The parts of one stream of events (``client.responses.create(..., stream=True)``)."""
        async for event in events:
            for part in self.parts(event):
                yield part

    def parts(self, event: Any) -> list[ChatPart]:
        """The parts for one event (``openai.types.responses.ResponseStreamEvent``)."""
        kind = event.type
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return [event.delta] if event.delta else []
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return [ReasoningDelta(event.delta)] if event.delta else []
        if kind == "response.reasoning_summary_part.added" and event.summary_index > 0:
            return [ReasoningDelta("\n\n")]  # the summary's paragraphs
        if kind == "response.function_call_arguments.delta":
            call_id, name = self._streaming[event.item_id]
            return [ToolInputDelta(call_id, name, event.delta)] if event.delta else []
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._item(event.item, done=kind == "response.output_item.done")
        if kind == "response.created":
            return self._created(event.response)
        if kind in ("response.completed", "response.incomplete"):
            self._ended(event.response)
            return []
        if kind == "response.failed":
            error = event.response.error
            raise ResponseError(getattr(error, "code", None), getattr(error, "message", "failed"))
        if kind == "error":
            raise ResponseError(event.code, event.message)
        return []

    def finish(self) -> Finish:
        """The last part of the answer: why it ended, and the tokens of all its responses."""
        return Finish(self.reason, {"usage": dict(self.usage)} if self.usage else None)

    def _created(self, response: Any) -> list[ChatPart]:
        parts: list[ChatPart] = [Step()] if self.responses else []
        self.responses += 1
        self.calls = []
        if response.model and response.model != self.model:
            self.model = response.model
            parts.append(Metadata({"model": response.model}, provider="openai"))
        return parts

    def _item(self, item: Any, *, done: bool) -> list[ChatPart]:
        if item.type != "function_call":
            return []
        if not done:
            self._streaming[item.id] = (item.call_id, item.name)
            return []
        call = FunctionCall(item.call_id, item.name, item.arguments)
        self.calls.append(call)
        if not self.complete_calls:
            return []
        arguments = parse_arguments(call.arguments)
        if arguments is None:
            return [ToolInputError(call.call_id, call.name, call.arguments, INVALID_ARGUMENTS_TEXT)]
        return [ToolCall(call.name, arguments, call.call_id)]

    def _ended(self, response: Any) -> None:
        self.response = response
        if response.status == "incomplete":
            why = getattr(response.incomplete_details, "reason", None)
            self.reason = INCOMPLETE_REASONS.get(why or "", "other")
        else:
            self.reason = "tool-calls" if self.calls else "stop"
        usage = response.usage
        for name, path in USAGE_FIELDS.items():
            value: Any = usage
            for attribute in path:
                value = getattr(value, attribute, None)
            if isinstance(value, int):
                self.usage[name] = self.usage.get(name, 0) + value


async def stream_response(events: AsyncIterable[Any]) -> AsyncIterator[ChatPart]:
    """The parts of one Responses API stream, then its ``Finish`` (the reason, the usage)."""
    mapper = ResponseStream()
    async for part in mapper.stream(events):
        yield part
    yield mapper.finish()


def response_input(
    messages: list[ChatMessage],
    allow_remote_file: Callable[[ChatFile], bool] = lambda file: False,
) -> list[dict[str, Any]]:
    """``messages`` as the Responses API's input items: user and system messages with their
    files (bytes as ``data:`` URLs; a file sent by URL only if ``allow_remote_file`` says so),
    assistant messages as their text and their settled tool calls, each call followed by its
    output (calls that never got one are left out: the API refuses a call without output)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role != "assistant":
            items.append(_user_item(message, allow_remote_file))
        elif not message.parts:
            items.append({"role": "assistant", "content": message.text})
        else:
            calls = {call.id: call for call in message.tool_calls}
            for part in message.parts:
                if part.get("type") == "text" and part.get("text"):
                    items.append({"role": "assistant", "content": part["text"]})
                elif part.get("toolCallId") in calls and not part.get("providerExecuted"):
                    items += _call_items(calls[part["toolCallId"]])
    return items


def _user_item(message: ChatMessage, allow: Callable[[ChatFile], bool]) -> dict[str, Any]:
    files = [item for file in message.files if (item := _file_item(file, allow)) is not None]
    if not files:
        return {"role": message.role, "content": message.text}
    text = [{"type": "input_text", "text": message.text}] if message.text else []
    return {"role": message.role, "content": [*text, *files]}


def _file_item(file: ChatFile, allow: Callable[[ChatFile], bool]) -> dict[str, Any] | None:
    image = file.media_type.startswith("image/")
    if file.data is not None:
        url = f"data:{file.media_type};base64,{base64.b64encode(file.data).decode()}"
        if image:
            return {"type": "input_image", "image_url": url, "detail": "auto"}
        return {"type": "input_file", "file_data": url, "filename": file.filename or "file"}
    if not allow(file):
        return None
    if image:
        return {"type": "input_image", "image_url": file.url, "detail": "auto"}
    return {"type": "input_file", "file_url": file.url}


def _call_items(call: ChatToolCall) -> list[dict[str, Any]]:
    if call.state == "output-available":
        output = call.output if isinstance(call.output, str) else json.dumps(call.output)
    elif call.state == "output-error":
        output = call.error_text or ""
    elif call.state == "output-denied":
        output = DENIED_TEXT
    else:
        return []  # waiting, or cut short: nothing the model can be told
    arguments = call.input if isinstance(call.input, str) else json.dumps(call.input or {})
    return [
        {"type": "function_call", "call_id": call.id, "name": call.name, "arguments": arguments},
        {"type": "function_call_output", "call_id": call.id, "output": output},
    ]
