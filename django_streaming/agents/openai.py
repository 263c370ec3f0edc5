"""The OpenAI Chat Completions API (and every server that speaks it: vLLM, Ollama, LiteLLM,
DeepSeek, OpenRouter...) for a ``generate()`` that calls the model itself:
``chat_messages()`` puts the conversation into the API's messages, and
``chat_completions_parts()`` maps the streamed answer to the chat's parts::

    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=chat_messages(messages, system="Be brief."),
        stream=True,
        stream_options={"include_usage": True},
    )
    async for part in chat_completions_parts(stream):
        yield part

The Responses API's stream and input are in ``openai_responses.py``, re-exported here
(``stream_response()``, ``ResponseStream``, ``response_input()``).

Neither imports ``openai`` (``django-streaming[openai]`` installs it for you to call): the
chunks are read by their fields, so another client's chunks of the same shape serve too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django_streaming.chat.parts import Finish, Metadata, ReasoningDelta, ToolInputDelta, new_id

from .openai_responses import ResponseStream, response_input, stream_response
from .sdk import PendingCall, close, file_bytes, never, outcome, turns

if TYPE_CHECKING:
    from openai.types import CompletionUsage
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

    from django_streaming.chat.messages import ChatFile, ChatMessage
    from django_streaming.chat.parts import ChatPart

__all__ = [
    "FINISH_REASONS",
    "ResponseStream",
    "chat_completions_parts",
    "chat_messages",
    "response_input",
    "stream_response",
]

#: The API's finish reasons (and those of compatible servers) as the AI SDK's; any other is
#: ``other``.
FINISH_REASONS = {
    "stop": "stop",
    "eos": "stop",
    "length": "length",
    "content_filter": "content-filter",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "error": "error",
}


async def chat_completions_parts(
    stream: AsyncIterable[ChatCompletionChunk],
) -> AsyncIterator[ChatPart]:
    """The parts of one streamed chat completion (``stream=True``): the model's name
    (``Metadata({"model": ...})``) first, text, reasoning (the ``reasoning_content`` or
    ``reasoning`` deltas of vLLM, DeepSeek, Ollama, OpenRouter), each tool call's arguments as
    they arrive (``ToolInputDelta``) then the call (``ToolCall``, or ``ToolInputError`` when
    its arguments are not a JSON object), and last ``Finish`` with the finish reason and,
    with ``stream_options={"include_usage": True}``, ``{"usage": ...}`` in the AI SDK's
    names. Only the first choice is read. A tool loop runs the calls, yields ``Step()`` and
    streams the next completion; it keeps only the last ``Finish``. The stream is closed when
    this generator is (a Stop closes the model's request)."""
    calls: dict[int, PendingCall] = {}  # by the call's index in the message
    named = False
    reason: str | None = None
    usage: CompletionUsage | None = None
    try:
        async for chunk in stream:
            if chunk.model and not named:
                named = True
                yield Metadata({"model": chunk.model}, provider="openai")
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if choice.index != 0:
                    continue  # n > 1: the other answers are not this one
                delta = choice.delta
                # Fields of compatible servers, outside the API's types.
                reasoning = getattr(delta, "reasoning_content", None) or getattr(
                    delta, "reasoning", None
                )
                if isinstance(reasoning, str) and reasoning:
                    yield ReasoningDelta(reasoning)
                if delta.content:
                    yield delta.content
                if delta.refusal:
                    yield delta.refusal
                for piece in delta.tool_calls or ():
                    function = piece.function
                    call = calls.get(piece.index)
                    if call is None:
                        name = (function.name if function else None) or ""
                        call = calls[piece.index] = PendingCall(piece.id or new_id("call"), name)
                    if function is not None and function.arguments:
                        call.arguments += function.arguments
                        yield ToolInputDelta(call.id, call.name, function.arguments)
                reason = choice.finish_reason or reason
    finally:
        await close(stream)
    for index in sorted(calls):  # complete once the stream is
        yield calls[index].done()
    metadata = None if usage is None else {"usage": _usage(usage)}
    yield Finish(FINISH_REASONS.get(reason or "", "other"), metadata)


def _usage(usage: CompletionUsage) -> dict[str, int]:
    """Token usage in the AI SDK's names (``LanguageModelUsage``)."""
    counts = {
        "inputTokens": usage.prompt_tokens,
        "outputTokens": usage.completion_tokens,
        "totalTokens": usage.total_tokens,
        "reasoningTokens": getattr(usage.completion_tokens_details, "reasoning_tokens", None),
        "cachedInputTokens": getattr(usage.prompt_tokens_details, "cached_tokens", None),
    }
    return {name: count for name, count in counts.items() if count is not None}


def chat_messages(
    messages: list[ChatMessage],
    *,
    system: str | None = None,
    outputs: Mapping[str, Any] | None = None,
    allow_remote_file: Callable[[ChatFile], bool] = never,
) -> list[ChatCompletionMessageParam]:
    """The conversation as Chat Completions ``messages``: ``system`` first, then each
    message. An assistant message becomes one assistant message per model call, with its
    ``tool_calls`` each followed by its ``tool`` result (an output, an error, a denial);
    ``outputs`` are results the caller got since, by call id (the calls a continuation ran
    once approved). A call without an outcome is left out, never left dangling. Images
    attached to a user message go as ``image_url`` parts (a ``data:`` URL made from the bytes;
    a remote URL only if ``allow_remote_file(file)``, the view's method), PDFs as ``file``
    parts; other files are left out."""
    result: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        if message.role == "assistant":
            result += _assistant(message, outputs or {})
        elif message.files:
            content = [{"type": "text", "text": message.text}] if message.text else []
            for file in message.files:
                part = _file_part(file, allow_remote_file)
                if part is not None:
                    content.append(part)
            result.append({"role": message.role, "content": content})
        else:
            result.append({"role": message.role, "content": message.text})
    return cast("list[ChatCompletionMessageParam]", result)


def _assistant(message: ChatMessage, outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for turn in turns(message):
        told = [(call, said) for call in turn.calls if (said := outcome(call, outputs))]
        if not (turn.text or told):
            continue
        entry: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
        if told:
            entry["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": json.dumps(call.input if isinstance(call.input, dict) else {}),
                    },
                }
                for call, _ in told
            ]
        result.append(entry)
        result += [
            {"role": "tool", "tool_call_id": call.id, "content": text} for call, (text, _) in told
        ]
    return result


def _file_part(
    file: ChatFile, allow_remote_file: Callable[[ChatFile], bool]
) -> dict[str, Any] | None:
    data = file_bytes(file)
    if file.media_type.startswith("image/"):
        if data is not None:
            url = f"data:{file.media_type};base64,{data}"
        elif allow_remote_file(file):
            url = file.url
        else:
            return None
        return {"type": "image_url", "image_url": {"url": url}}
    if file.media_type == "application/pdf" and data is not None:
        pdf = {
            "filename": file.filename or "document.pdf",
            "file_data": f"data:application/pdf;base64,{data}",
        }
        return {"type": "file", "file": pdf}
    return None
