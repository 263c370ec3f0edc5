"""What ``generate()`` may yield besides text, and the protocol's parts they become.

The AI SDK UI message stream protocol (``x-vercel-ai-ui-message-stream: v1``): each part is one
SSE event whose data is a JSON object with a ``type``; the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "FINISH_REASONS",
    "ApprovalRequest",
    "ChatPart",
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


def new_id(prefix: str) -> str:
    """A fresh id for a part: ``<prefix>-`` and 72 random bits."""
    return f"{prefix}-{secrets.token_urlsafe(9)}"


@dataclass(frozen=True)
class ToolCall:
    """The model calls a tool: ``tool-input-start`` then ``tool-input-available``.

    Without an ``id`` one is made here, so the result can name it::

        call = ToolCall("search", {"query": "django"})
        yield call
        yield ToolResult(call.id, await search("django"))

    A call that the model provider ran itself is ``provider_executed``; ``title`` is shown in
    place of the tool's name.
    """

    name: str
    input: Any
    id: str = ""
    provider_executed: bool = field(default=False, kw_only=True)
    title: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        _require_text(self.name, "ToolCall name")
        if not self.id:
            object.__setattr__(self, "id", new_id("call"))


@dataclass(frozen=True)
class ToolInputDelta:
    """A piece of a call's arguments as the model streams them (``tool-input-delta``); a later
    ``ToolCall`` with the same id completes the call."""

    id: str
    name: str
    text: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned (``tool-output-available``); ``preliminary`` ones are replaced by
    the next result of the same call."""

    id: str
    output: Any
    preliminary: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class ToolError:
    """A tool that failed (``tool-output-error``)."""

    id: str
    text: str


@dataclass(frozen=True)
class ToolInputError:
    """A call whose input is invalid (``tool-input-error``): the tool never ran."""

    id: str
    name: str
    input: Any
    text: str


@dataclass(frozen=True)
class ApprovalRequest:
    """Ask the user to approve the call ``tool_call_id`` before it runs
    (``tool-approval-request``, ai 6 and later). The answer usually ends here; the approval
    comes back in the next request (``ChatMessage.tool_calls[...].approval``)."""

    tool_call_id: str
    approval_id: str = ""

    def __post_init__(self) -> None:
        if not self.approval_id:
            object.__setattr__(self, "approval_id", new_id("approval"))


@dataclass(frozen=True)
class ToolDenied:
    """The call ``id`` will not run: its approval was denied (``tool-output-denied``)."""

    id: str


@dataclass(frozen=True)
class FilePart:
    """A file in the answer (``file``): an image the model made, say. ``url`` may be a
    ``data:`` URL."""

    url: str
    media_type: str


@dataclass(frozen=True)
class SourceDocument:
    """A document the answer cites (``source-document``)."""

    source_id: str
    media_type: str
    title: str
    filename: str | None = None


@dataclass(frozen=True)
class Metadata:
    """Message metadata (``message-metadata``), merged into what the message has.
    ``provider``, the model's provider as the GenAI conventions name it (``openai``,
    ``anthropic``...), goes to the answer's span and metrics only, not to the client."""

    data: dict[str, Any]
    provider: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Step:
    """Ends one step of the answer and starts the next (``finish-step``, ``start-step``): a
    model call, then a tool, then another model call. Text or reasoning still open ends
    first."""


#: The finish reasons that ai 6.x and 7.x both accept.
FINISH_REASONS = ("stop", "length", "content-filter", "tool-calls", "error", "other")


@dataclass(frozen=True)
class Finish:
    """The last item: why the answer ended (the ``finish`` part's ``finishReason``), and
    metadata for it. Without one, the reason is ``stop``, or ``tool-calls`` when the answer
    ends with calls that wait for the browser (a client-side tool)."""

    reason: str = "stop"
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.reason not in FINISH_REASONS:
            raise ValueError(
                f"Finish reason {self.reason!r} is not one of {', '.join(FINISH_REASONS)}."
            )


@dataclass(frozen=True)
class Chunk:
    """A protocol part this library does not model, sent as it is: a JSON object with a
    ``type``. The ``ai`` client validates parts: one that only a newer ``ai`` knows
    (``tool-approval-response``, ``reset-step``, ``custom``, ...) breaks an older client."""

    part: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.part, dict) or not isinstance(self.part.get("type"), str):
            raise ValueError('A Chunk is a dict with a "type" (a str).')


def _require_text(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty str, not {value!r}.")


#: What ``generate()`` may yield.
ChatPart: TypeAlias = (
    str
    | ReasoningDelta
    | DataPart
    | SourceURL
    | SourceDocument
    | FilePart
    | ToolCall
    | ToolInputDelta
    | ToolResult
    | ToolError
    | ToolInputError
    | ApprovalRequest
    | ToolDenied
    | Metadata
    | Step
    | Finish
    | Chunk
)
