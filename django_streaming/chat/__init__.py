"""Chat over the AI SDK UI message stream protocol."""

from __future__ import annotations

from .messages import ChatMessage, ChatRequest, ChatRequestError
from .parts import ChatPart, DataPart, ReasoningDelta, SourceURL
from .views import ChatError, ChatResult, ChatStreamView

__all__ = [
    "ChatError",
    "ChatMessage",
    "ChatPart",
    "ChatRequest",
    "ChatRequestError",
    "ChatResult",
    "ChatStreamView",
    "DataPart",
    "ReasoningDelta",
    "SourceURL",
]
