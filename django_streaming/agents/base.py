"""What every agent adapter shares: the run it is given, and the bookkeeping on failure."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django_streaming.chat.parts import ToolCall, ToolDenied, ToolError, ToolInputDelta, ToolResult

if TYPE_CHECKING:
    from django_streaming.chat.messages import ChatFile, ChatMessage
    from django_streaming.chat.parts import ChatPart

__all__ = ["AgentRun", "settle_on_failure"]

#: What a call left unsettled by a failed run shows (the run's error follows it).
UNSETTLED_TEXT = "The tool call did not finish: the answer failed."


@dataclass
class AgentRun:
    """One request's run of an agent, as an adapter gets it.

    ``messages`` is the conversation: the history (the server's, with ``load_messages()``),
    then the new message; for a ``continuation`` the last is the server's own message, with the
    user's verified approvals and the browser tools' outputs applied (``ChatToolCall.state`` is
    ``approval-responded``, ``output-available`` or ``output-error``). ``state`` is what the
    adapter kept (``keep()``) when the answer before ended waiting for them, or None. ``key``
    names the chat and its owner (a LangGraph thread, say). ``kwargs`` go to the framework's run.
    """

    messages: list[ChatMessage]
    continuation: bool
    key: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    #: Keeps JSON-able ``state`` with the answer when it ends waiting for the browser; the
    #: continuation's run gets it back as ``state``.
    keep: Callable[[Any], None] = field(default=lambda state: None, repr=False)
    #: Whether the server may fetch a remote file a client sent (``ChatFile.url``): no host
    #: is allowed unless the view's ``allow_remote_file()`` says so.
    allow_remote_file: Callable[[ChatFile], bool] = field(default=lambda file: False, repr=False)


async def settle_on_failure(parts: AsyncIterator[ChatPart]) -> AsyncGenerator[ChatPart, None]:
    """``parts``, and if the run fails, a ``ToolError`` for each call it left without an
    outcome before the error goes on: no client shows a call stuck running."""
    unsettled: dict[str, str] = {}  # call id -> tool name
    try:
        async for part in parts:
            if isinstance(part, ToolInputDelta):
                unsettled.setdefault(part.id, part.name)
            elif isinstance(part, ToolCall):
                unsettled[part.id] = part.name
            elif isinstance(part, (ToolResult, ToolError, ToolDenied)) and not getattr(
                part, "preliminary", False
            ):
                unsettled.pop(part.id, None)
            yield part
    except Exception:
        for call_id in unsettled:
            yield ToolError(call_id, UNSETTLED_TEXT)
        raise
