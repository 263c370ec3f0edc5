"""``Answer``: the assistant message being streamed. It turns what ``generate()`` yields into
the protocol's parts, keeping the protocol's rules (a delta only between its start and end,
tool call ids unique in the message, a result only for a call the message has), and builds the
message as the client will hold it (``ChatResult.message``), the way the ``ai`` package's
``processUIMessageStream`` does."""

from __future__ import annotations

import copy
from typing import Any

from .continuations import WAITING_STATES
from .messages import ChatMessage
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
    new_id,
)

__all__ = ["Answer"]

Part = dict[str, Any]


class Answer:
    """One assistant message: a new one, or the one a continuation carries on (its parts and
    metadata come first, and its tool calls may get results)."""

    def __init__(self, continued: ChatMessage | None = None, message_id: str | None = None) -> None:
        self.message_id = (continued.id if continued else None) or message_id or new_id("msg")
        self.parts: list[Part] = copy.deepcopy(list(continued.parts)) if continued else []
        self.metadata: dict[str, Any] = dict(continued.metadata or {}) if continued else {}
        # Every tool call of the message by id: its UI part, updated in place.
        self.calls: dict[str, Part] = {
            part["toolCallId"]: part
            for part in self.parts
            if str(part.get("type", "")).startswith("tool-") and "toolCallId" in part
        }
        self.own_calls: list[str] = []  # the ids of the calls this answer made
        self.open: tuple[str, str, Part] | None = None  # the open text or reasoning: kind, id, part
        self.blocks = 0
        self.texts: list[str] = []
        self.finish: Finish | None = None

    def start(self, metadata: dict[str, Any] | None) -> list[Part]:
        start: Part = {"type": "start", "messageId": self.message_id}
        if metadata:
            start["messageMetadata"] = metadata
            self.metadata.update(metadata)
        self.parts.append({"type": "step-start"})
        return [start, {"type": "start-step"}]

    def parts_for(self, item: ChatPart) -> list[Part]:
        """The protocol's parts for one item of ``generate()``."""
        if self.finish is not None:
            raise ValueError("Finish must be the last item generate() yields.")
        if isinstance(item, str):
            if not item:
                return []
            self.texts.append(item)
            return self._delta("text", item)
        if isinstance(item, ReasoningDelta):
            return self._delta("reasoning", item.text)
        if isinstance(item, DataPart):
            return [self._data(item)]
        if isinstance(item, SourceURL):
            part = {"type": "source-url", "sourceId": item.source_id or new_id("source")}
            part |= _present(url=item.url, title=item.title)
            self.parts.append(dict(part))
            return [part]
        if isinstance(item, SourceDocument):
            part = {"type": "source-document", "sourceId": item.source_id}
            part |= _present(mediaType=item.media_type, title=item.title, filename=item.filename)
            self.parts.append(dict(part))
            return [part]
        if isinstance(item, FilePart):
            part = {"type": "file", "url": item.url, "mediaType": item.media_type}
            self.parts.append(dict(part))
            return [*self.close(), part]
        if isinstance(item, Metadata):
            self.metadata.update(item.data)
            return [{"type": "message-metadata", "messageMetadata": item.data}]
        if isinstance(item, Step):
            self.parts.append({"type": "step-start"})
            return [*self.close(), {"type": "finish-step"}, {"type": "start-step"}]
        if isinstance(item, Finish):
            self.finish = item
            return []
        if isinstance(item, Chunk):
            return [dict(item.part)]
        tool_parts = self._tool_parts(item)
        if tool_parts is None:
            raise TypeError(
                "generate() must yield str or a part of django_streaming.chat (ReasoningDelta, "
                f"ToolCall, ToolResult, DataPart, SourceURL, Step, Finish, ...), not "
                f"{type(item).__name__}."
            )
        return [*self.close(), *tool_parts]

    def close(self) -> list[Part]:
        """End the open text or reasoning block, if any."""
        if self.open is None:
            return []
        kind, block_id, part = self.open
        self.open = None
        part["state"] = "done"
        return [{"type": f"{kind}-end", "id": block_id}]

    def finish_reason(self) -> str:
        if self.finish is not None:
            return self.finish.reason
        waiting = any(
            self.calls[call_id]["state"] in WAITING_STATES
            and not self.calls[call_id].get("providerExecuted")
            for call_id in self.own_calls
        )
        return "tool-calls" if waiting else "stop"

    def end(self, metadata: dict[str, Any] | None) -> list[Part]:
        """The parts that end a complete answer."""
        metadata = {**((self.finish.metadata or {}) if self.finish else {}), **(metadata or {})}
        finish: Part = {"type": "finish", "finishReason": self.finish_reason()}
        if metadata:
            finish["messageMetadata"] = metadata
            self.metadata.update(metadata)
        return [*self.close(), {"type": "finish-step"}, finish]

    @property
    def message(self) -> dict[str, Any]:
        """The message as the client holds it: JSON-serialisable, ready to save."""
        message: dict[str, Any] = {
            "id": self.message_id,
            "role": "assistant",
            "parts": copy.deepcopy(self.parts),
        }
        if self.metadata:
            message["metadata"] = copy.deepcopy(self.metadata)
        return message

    def text(self) -> str:
        return "".join(self.texts)

    # Text and reasoning.

    def _delta(self, kind: str, delta: str) -> list[Part]:
        parts: list[Part] = []
        if self.open is None or self.open[0] != kind:
            parts += self.close()
            self.blocks += 1
            block_id = f"{kind}-{self.blocks}"
            part = {"type": kind, "text": "", "state": "streaming"}
            self.parts.append(part)
            self.open = (kind, block_id, part)
            parts.append({"type": f"{kind}-start", "id": block_id})
        assert self.open is not None
        self.open[2]["text"] += delta
        return [*parts, {"type": f"{kind}-delta", "id": self.open[1], "delta": delta}]

    def _data(self, item: DataPart) -> Part:
        part = item.to_part()
        if item.transient:
            return part
        kept = {key: value for key, value in part.items() if key != "transient"}
        for existing in self.parts:
            if (
                item.id is not None
                and existing["type"] == kept["type"]
                and existing.get("id") == item.id
            ):
                existing["data"] = copy.deepcopy(item.data)  # a part with the same id replaces
                return part
        self.parts.append(copy.deepcopy(kept))
        return part

    # Tools.

    def _tool_parts(self, item: object) -> list[Part] | None:
        if isinstance(item, ToolCall):
            return self._call(item)
        if isinstance(item, ToolInputDelta):
            return self._input_delta(item)
        if isinstance(item, ToolInputError):
            return self._input_error(item)
        if isinstance(item, ToolResult):
            part = self._known(item.id, "ToolResult")
            part.update(state="output-available", output=copy.deepcopy(item.output))
            chunk = {"type": "tool-output-available", "toolCallId": item.id, "output": item.output}
            if item.preliminary:
                part["preliminary"] = chunk["preliminary"] = True
            else:
                part.pop("preliminary", None)
            return [chunk]
        if isinstance(item, ToolError):
            self._known(item.id, "ToolError").update(state="output-error", errorText=item.text)
            return [{"type": "tool-output-error", "toolCallId": item.id, "errorText": item.text}]
        if isinstance(item, ApprovalRequest):
            part = self._known(item.tool_call_id, "ApprovalRequest")
            part.update(state="approval-requested", approval={"id": item.approval_id})
            return [
                {
                    "type": "tool-approval-request",
                    "approvalId": item.approval_id,
                    "toolCallId": item.tool_call_id,
                }
            ]
        if isinstance(item, ToolDenied):
            self._known(item.id, "ToolDenied")["state"] = "output-denied"
            return [{"type": "tool-output-denied", "toolCallId": item.id}]
        return None

    def _call(self, call: ToolCall) -> list[Part]:
        extra = _present(providerExecuted=call.provider_executed or None, title=call.title)
        available = {
            "type": "tool-input-available",
            "toolCallId": call.id,
            "toolName": call.name,
            "input": call.input,
            **extra,
        }
        part = self.calls.get(call.id)
        if part is not None:
            if part["state"] != "input-streaming" or call.id not in self.own_calls:
                raise ValueError(
                    f"A second ToolCall with the id {call.id!r}: tool call ids are unique in "
                    "a message."
                )
            part.update(state="input-available", input=copy.deepcopy(call.input), **extra)
            part.pop("rawInput", None)
            return [available]
        self._new_call(call.id, call.name, "input-available", input=copy.deepcopy(call.input))
        self.calls[call.id].update(extra)
        start = {"type": "tool-input-start", "toolCallId": call.id, "toolName": call.name}
        return [start | extra, available]

    def _input_delta(self, delta: ToolInputDelta) -> list[Part]:
        part = self.calls.get(delta.id)
        parts: list[Part] = []
        if part is None:
            part = self._new_call(delta.id, delta.name, "input-streaming", rawInput="")
            parts.append(
                {"type": "tool-input-start", "toolCallId": delta.id, "toolName": delta.name}
            )
        elif part["state"] != "input-streaming" or delta.id not in self.own_calls:
            raise ValueError(
                f"A ToolInputDelta for the tool call {delta.id!r}, whose input is complete."
            )
        part["rawInput"] += delta.text
        return [
            *parts,
            {"type": "tool-input-delta", "toolCallId": delta.id, "inputTextDelta": delta.text},
        ]

    def _input_error(self, error: ToolInputError) -> list[Part]:
        part = self.calls.get(error.id)
        if part is not None and (
            part["state"] != "input-streaming" or error.id not in self.own_calls
        ):
            raise ValueError(
                f"A ToolInputError for the tool call {error.id!r}, whose input was accepted."
            )
        if part is None:
            part = self._new_call(error.id, error.name, "output-error")
        # Where ai 6.x keeps it for a tool of its own (not a dynamic one): rawInput, input unset.
        part.update(state="output-error", rawInput=copy.deepcopy(error.input), errorText=error.text)
        part.pop("input", None)
        return [
            {
                "type": "tool-input-error",
                "toolCallId": error.id,
                "toolName": error.name,
                "input": error.input,
                "errorText": error.text,
            }
        ]

    def _new_call(self, call_id: str, name: str, state: str, **fields: Any) -> Part:
        part = {"type": f"tool-{name}", "toolCallId": call_id, "state": state, **fields}
        self.parts.append(part)
        self.calls[call_id] = part
        self.own_calls.append(call_id)
        return part

    def _known(self, call_id: str, what: str) -> Part:
        part = self.calls.get(call_id)
        if part is None:
            raise ValueError(
                f"A {what} for the tool call {call_id!r}, which neither this answer nor the "
                "message it continues made."
            )
        return part


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that are set (the protocol leaves out what is not)."""
    return {key: value for key, value in fields.items() if value is not None}
