"""The Anthropic Messages API for a ``generate()`` that calls Claude itself:
``anthropic_messages()`` puts the conversation into the API's messages, and
``message_parts()`` maps the streamed answer to the chat's parts::

    history, system = anthropic_messages(messages, system="Be brief.")
    async with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=1024, system=system, messages=history
    ) as stream:
        async for part in message_parts(stream):
            yield part

Neither imports ``anthropic`` (``django-streaming[anthropic]`` installs it for you to call):
the events are read by their fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django_streaming.chat.parts import Finish, Metadata, ReasoningDelta, ToolInputDelta, ToolResult

from .sdk import PendingCall, close, file_bytes, never, outcome, turns

if TYPE_CHECKING:
    from anthropic.types import MessageParam

    from django_streaming.chat.messages import ChatFile, ChatMessage
    from django_streaming.chat.parts import ChatPart

__all__ = ["STOP_REASONS", "anthropic_messages", "message_parts"]

#: The API's stop reasons as the AI SDK's finish reasons; any other is ``other`` (as is
#: ``pause_turn``: a server tool's long turn, which the caller continues).
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
}
#: The image types the API reads.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
USAGE_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


async def message_parts(stream: AsyncIterable[Any]) -> AsyncIterator[ChatPart]:
    """The parts of one streamed message: the raw events of ``client.messages.create(...,
    stream=True)``, or ``client.messages.stream()``'s (its own ``text``, ``thinking`` and
    ``input_json`` events repeat the raw ones and are skipped). The model's name
    (``Metadata({"model": ...})``) first, text, thinking (``ReasoningDelta``), each
    ``tool_use`` block's ``input_json_delta``\\ s (``ToolInputDelta``) then the call
    (``ToolCall``, or ``ToolInputError`` when its input is not a JSON object), the calls of
    server tools (web search...) with ``provider_executed`` and their results, and last
    ``Finish`` with the stop reason and ``{"usage": ...}`` in the AI SDK's names. A tool loop
    runs the calls, yields ``Step()`` and streams the next message; it keeps only the last
    ``Finish``. The stream is closed when this generator is (a Stop closes the request)."""
    calls: dict[int, PendingCall] = {}  # by the block's index in the message
    counts: dict[str, int] = {}
    reason: str | None = None
    try:
        async for event in stream:
            kind = event.type
            if kind == "message_start":
                yield Metadata({"model": event.message.model}, provider="anthropic")
                _count(event.message.usage, counts)
            elif kind == "content_block_start":
                block = event.content_block
                if block.type.endswith("tool_use"):  # server_tool_use, mcp_tool_use: run there
                    server = block.type != "tool_use"
                    calls[event.index] = PendingCall(block.id, block.name, provider_executed=server)
                elif block.type.endswith("tool_result"):  # a server tool's, complete
                    yield ToolResult(block.tool_use_id, block.model_dump(mode="json")["content"])
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta":
                    yield delta.text
                elif delta.type == "thinking_delta":
                    yield ReasoningDelta(delta.thinking)
                elif (
                    delta.type == "input_json_delta"
                    and delta.partial_json
                    and event.index in calls  # not a block of a kind this does not know
                ):
                    call = calls[event.index]
                    call.arguments += delta.partial_json
                    yield ToolInputDelta(call.id, call.name, delta.partial_json)
            elif kind == "content_block_stop" and event.index in calls:
                yield calls.pop(event.index).done()
            elif kind == "message_delta":
                reason = event.delta.stop_reason or reason
                _count(event.usage, counts)
    finally:
        await close(stream)
    yield Finish(STOP_REASONS.get(reason or "", "other"), {"usage": _usage(counts)})


def _count(usage: Any, counts: dict[str, int]) -> None:
    """Keep the counts ``usage`` has: ``message_delta``'s are cumulative."""
    for name in USAGE_FIELDS:
        count = getattr(usage, name, None)
        if count is not None:
            counts[name] = count


def _usage(counts: dict[str, int]) -> dict[str, int]:
    """Token usage in the AI SDK's names: input tokens count those read from and written to
    the cache too, as the API's own total does."""
    cached = counts.get("cache_read_input_tokens", 0)
    given = counts.get("input_tokens", 0) + counts.get("cache_creation_input_tokens", 0) + cached
    taken = counts.get("output_tokens", 0)
    return {
        "inputTokens": given,
        "outputTokens": taken,
        "totalTokens": given + taken,
        "cachedInputTokens": cached,
    }


def anthropic_messages(
    messages: list[ChatMessage],
    *,
    system: str | None = None,
    outputs: Mapping[str, Any] | None = None,
    allow_remote_file: Callable[[ChatFile], bool] = never,
) -> tuple[list[MessageParam], str | None]:
    """The conversation as the Messages API's ``messages``, and its ``system`` prompt
    (``system``, then the text of any ``system`` message, which only a view that trusts the
    client's passes on), or None. An assistant message becomes one assistant message per
    model call, its ``tool_use`` blocks answered by ``tool_result`` blocks in the user message
    that follows (an output, an error, a denial; ``outputs`` are results the caller got since,
    by call id: the calls a continuation ran once approved). A call without an outcome is
    left out, never left dangling; so is thinking (the API would want its signature back).
    Images (JPEG, PNG, GIF, WebP) and PDFs attached to a user message go as base64 blocks
    made from the bytes, plain text files as text documents; a remote URL only if
    ``allow_remote_file(file)`` (the view's method)."""
    prompts = [system] if system else []
    result: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            prompts.append(message.text)
        elif message.role == "assistant":
            for turn in turns(message):
                told = [
                    (call, said) for call in turn.calls if (said := outcome(call, outputs or {}))
                ]
                content: list[dict[str, Any]] = (
                    [{"type": "text", "text": turn.text}] if turn.text else []
                )
                content += [
                    {
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": call.input if isinstance(call.input, dict) else {},
                    }
                    for call, _ in told
                ]
                results = [
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": text,
                        "is_error": failed,
                    }
                    for call, (text, failed) in told
                ]
                _add(result, "assistant", content)
                _add(result, "user", results)
        else:
            content = [{"type": "text", "text": message.text}] if message.text else []
            for file in message.files:
                block = _file_block(file, allow_remote_file)
                if block is not None:
                    content.append(block)
            _add(result, "user", content)
    return cast("list[MessageParam]", result), "\n\n".join(prompts) or None


def _add(messages: list[dict[str, Any]], role: str, content: list[dict[str, Any]]) -> None:
    """Add ``content`` to the conversation: to its last message when it has the same role
    (tool results, then the user's next question, are one user message)."""
    if not content:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"] += content
    else:
        messages.append({"role": role, "content": content})


def _file_block(
    file: ChatFile, allow_remote_file: Callable[[ChatFile], bool]
) -> dict[str, Any] | None:
    data = file_bytes(file)
    if file.media_type in IMAGE_TYPES:
        kind = "image"
    elif file.media_type == "application/pdf":
        kind = "document"
    elif file.media_type == "text/plain" and file.data is not None:
        text = file.data.decode(errors="replace")
        return {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": text},
        }
    else:
        return None
    if data is not None:
        source = {"type": "base64", "media_type": file.media_type, "data": data}
    elif allow_remote_file(file):
        source = {"type": "url", "url": file.url}
    else:
        return None
    return {"type": kind, "source": source}
