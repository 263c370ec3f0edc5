"""Chat over the AI SDK UI message stream protocol."""

from __future__ import annotations

from .messages import (
    Approval,
    ChatFile,
    ChatMessage,
    ChatRequest,
    ChatRequestError,
    ChatToolCall,
)
from .parts import (
    ApprovalRequest,
    ChatPart,
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
from .views import ChatError, ChatResult, ChatStreamView

__all__ = [
    "Approval",
    "ApprovalRequest",
    "ChatError",
    "ChatFile",
    "ChatMessage",
    "ChatPart",
    "ChatRequest",
    "ChatRequestError",
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
]
