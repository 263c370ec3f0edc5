"""What ``generate()`` may yield besides text, and the protocol's parts they become.

The AI SDK UI message stream protocol (``x-vercel-ai-ui-message-stream: v1``): each part is one
SSE event whose data is a JSON object with a ``type``; the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["ChatPart", "DataPart", "ReasoningDelta", "SourceURL"]


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning, shown apart from the answer."""

    text: str


@dataclass(frozen=True)
class DataPart:
    """A ``data-<name>`` part carrying any JSON payload (a progress note, a chart's data...).

    Parts with the same ``id`` replace each other on the client; ``transient`` ones are not kept
    in the message history.
    """

    name: str
    data: Any
    id: str | None = None
    transient: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("DataPart name must be a non-empty str: it becomes data-<name>.")

    def to_part(self) -> dict[str, Any]:
        part: dict[str, Any] = {"type": f"data-{self.name}", "data": self.data}
        if self.id is not None:
            part["id"] = self.id
        if self.transient:
            part["transient"] = True
        return part


@dataclass(frozen=True)
class SourceURL:
    """A source the answer cites."""

    url: str
    title: str | None = None
    source_id: str | None = None


#: What ``generate()`` may yield.
ChatPart: TypeAlias = str | ReasoningDelta | DataPart | SourceURL
