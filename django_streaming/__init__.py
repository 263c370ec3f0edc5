"""Server-sent events and streaming chat for Django.

The public API is what ``__all__`` names; everything else may change between releases. Names
are imported on first use, so that ``django_streaming.sse`` can be used without Django.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channels import (
        ChannelView,
        Presence,
        achannel_cursor,
        adisconnect,
        apresence,
        apublish,
        channel_cursor,
        disconnect,
        presence,
        publish,
        render_event,
    )
    from .chat import (
        Approval,
        ApprovalRequest,
        ChatError,
        ChatFile,
        ChatMessage,
        ChatPart,
        ChatResult,
        ChatStreamView,
        ChatToolCall,
        Chunk,
        DataPart,
        FilePart,
        Finish,
        Metadata,
        ReasoningDelta,
        SourceDocument,
        SourceURL,
        Step,
        ToolCall,
        ToolDenied,
        ToolError,
        ToolInputDelta,
        ToolInputError,
        ToolResult,
    )
    from .responses import SSEResponse, StreamItem
    from .sse import Event
    from .views import SSEView, error_response

__all__ = [
    "Approval",
    "ApprovalRequest",
    "ChannelView",
    "ChatError",
    "ChatFile",
    "ChatMessage",
    "ChatPart",
    "ChatResult",
    "ChatStreamView",
    "ChatToolCall",
    "Chunk",
    "DataPart",
    "Event",
    "FilePart",
    "Finish",
    "Metadata",
    "Presence",
    "ReasoningDelta",
    "SSEResponse",
    "SSEView",
    "SourceDocument",
    "SourceURL",
    "Step",
    "StreamItem",
    "ToolCall",
    "ToolDenied",
    "ToolError",
    "ToolInputDelta",
    "ToolInputError",
    "ToolResult",
    "achannel_cursor",
    "adisconnect",
    "apresence",
    "apublish",
    "channel_cursor",
    "disconnect",
    "error_response",
    "presence",
    "publish",
    "render_event",
]
__version__ = "0.1.0.dev0"

_HOMES = {
    **dict.fromkeys(
        [
            "ChannelView",
            "Presence",
            "achannel_cursor",
            "adisconnect",
            "apresence",
            "apublish",
            "channel_cursor",
            "disconnect",
            "presence",
            "publish",
            "render_event",
        ],
        "channels",
    ),
    "Event": "sse",
    "SSEResponse": "responses",
    "StreamItem": "responses",
    "SSEView": "views",
    "error_response": "responses",
    **dict.fromkeys(
        [
            "Approval",
            "ApprovalRequest",
            "ChatError",
            "ChatFile",
            "ChatMessage",
            "ChatPart",
            "ChatResult",
            "ChatStreamView",
            "ChatToolCall",
            "Chunk",
            "DataPart",
            "FilePart",
            "Finish",
            "Metadata",
            "ReasoningDelta",
            "SourceDocument",
            "SourceURL",
            "Step",
            "ToolCall",
            "ToolDenied",
            "ToolError",
            "ToolInputDelta",
            "ToolInputError",
            "ToolResult",
        ],
        "chat",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
