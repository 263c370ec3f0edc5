"""What the model-SDK mappers (``openai.py``, ``anthropic.py``) share: a streamed call's
arguments made a call, the model calls of an assistant message, and what the model is told of
each call's outcome. No SDK is imported here."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django_streaming.chat.parts import ToolCall, ToolInputError

if TYPE_CHECKING:
    from django_streaming.chat.messages import ChatFile, ChatMessage, ChatToolCall

#: What the model is told of a call the user denied, before their reason if they gave one.
DENIED_TEXT = "The user denied this tool call."
NOT_AN_OBJECT = "The arguments are not a JSON object."


def never(file: ChatFile) -> bool:
    """No remote file is fetched: the default of ``allow_remote_file``."""
    return False


@dataclass
class PendingCall:
    """A tool call whose arguments are arriving."""

    id: str
    name: str
    arguments: str = ""
    provider_executed: bool = False

    def done(self) -> ToolCall | ToolInputError:
        """The call, or an input error when its arguments are not a JSON object (no
        arguments at all are ``{}``)."""
        try:
            value = json.loads(self.arguments) if self.arguments else {}
        except ValueError:
            value = None
        if not isinstance(value, dict):
            return ToolInputError(self.id, self.name, self.arguments, NOT_AN_OBJECT)
        return ToolCall(self.name, value, self.id, provider_executed=self.provider_executed)


@dataclass
class Turn:
    """One model call's share of an assistant message: its text, then its tool calls."""

    text: str = ""
    calls: list[ChatToolCall] = field(default_factory=list)


def turns(message: ChatMessage) -> list[Turn]:
    """The model calls of an assistant message, in order: a new one at each ``step-start``
    part, and at text after tool calls (some may be empty). Calls the model provider ran
    itself are left out (the text written from them stays); each call comes once."""
    calls = {call.id: call for call in message.tool_calls}
    if not message.parts:
        return [Turn(message.text, list(calls.values()))]
    result = [Turn()]
    for part in message.parts:
        kind = part.get("type")
        if kind == "step-start" or (kind == "text" and result[-1].calls):
            result.append(Turn())
        if kind == "text":
            result[-1].text += part["text"]
        elif part.get("toolCallId") in calls and not part.get("providerExecuted"):
            result[-1].calls.append(calls.pop(part["toolCallId"]))
    return result


def outcome(call: ChatToolCall, outputs: Mapping[str, Any]) -> tuple[str, bool] | None:
    """What the model is told of ``call``: its output, its error or the user's denial, with
    whether it failed; None when it has no outcome (it waits, or was cut short), so that it is
    left out of the history rather than left dangling. ``outputs`` are results the caller got
    since (an approved call it ran), by call id."""
    if call.id in outputs:
        return as_text(outputs[call.id]), False
    if call.state == "output-available":
        return as_text(call.output), False
    if call.state == "output-error":
        return call.error_text or "The tool failed.", True
    approval = call.approval
    if call.state == "output-denied" or (
        call.state == "approval-responded" and approval is not None and approval.approved is False
    ):
        reason = approval.reason if approval is not None else None
        return (f"{DENIED_TEXT} Reason: {reason}" if reason else DENIED_TEXT), True
    return None


async def close(stream: object) -> None:
    """Close ``stream`` (and the model's request), if it can be closed: an SDK's stream with
    ``close()``, an async generator with ``aclose()``."""
    closer = getattr(stream, "close", None) or getattr(stream, "aclose", None)
    if closer is not None:
        await closer()


def as_text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output)


def file_bytes(file: ChatFile) -> str | None:
    """The file's bytes in base64, or None when the client sent only a URL."""
    return None if file.data is None else base64.b64encode(file.data).decode()
