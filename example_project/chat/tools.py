"""The example chat's tools, for both model back-ends: one the server runs (it reads the
database), one that needs the user's approval (renaming this chat), and one the browser runs
(its local time, registered by ``static/chat/tools.js``). The simulated model picks them by
question; a real model through the OpenAI API calls them itself (``backends.py``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django_streaming import (
    ApprovalRequest,
    ChatMessage,
    ChatPart,
    Step,
    ToolCall,
    ToolDenied,
    ToolResult,
)

if TYPE_CHECKING:
    from .models import Conversation

Kind = Literal["server", "approval", "browser"]

#: The tools as the OpenAI API describes them (``tools=`` of chat completions).
SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "count_chats",
            "description": "Count the user's chats.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "rename_chat",
            "description": "Rename the current chat (the user approves it first).",
            "parameters": {
                "type": "object",
                "properties": {"title": {"type": "string", "description": "The new title."}},
                "required": ["title"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "local_time",
            "description": "The user's local time, from their browser.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]
KINDS: dict[str, Kind] = {
    "count_chats": "server",
    "rename_chat": "approval",
    "local_time": "browser",
}
TITLES = {
    "count_chats": "Count your chats",
    "rename_chat": "Rename this chat",
    "local_time": "Your local time",
}


@dataclass(frozen=True)
class Toolbox:
    """What the tools act on: the functions behind the server-side ones."""

    count_chats: Callable[[], Awaitable[int]]
    rename_chat: Callable[[str], Awaitable[None]]

    @classmethod
    def of(cls, conversation: Conversation) -> Toolbox:
        from .models import Conversation  # the back-ends import this module without models

        async def count_chats() -> int:
            return await Conversation.objects.filter(owner=conversation.owner).acount()

        async def rename_chat(title: str) -> None:
            conversation.title = title[:200]
            await conversation.asave(update_fields=["title", "updated"])

        return cls(count_chats, rename_chat)

    async def run(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run a server-side tool (``rename_chat`` once approved)."""
        if name == "count_chats":
            return {"chats": await self.count_chats()}
        if name == "rename_chat":
            title = str(arguments.get("title", "")).strip()[:200]
            await self.rename_chat(title)
            return {"renamed": True, "title": title}
        raise ValueError(f"{name!r} is not a tool the server runs.")

    async def settle(self, message: ChatMessage) -> tuple[list[ChatPart], dict[str, Any]]:
        """For a continuation: run what the user approved, deny what they denied. The parts
        to send, and the outputs by call id (for the model's next call)."""
        outputs: dict[str, Any] = {}
        parts: list[ChatPart] = []
        for call in message.tool_calls:
            if call.state != "approval-responded" or call.approval is None:
                continue
            if call.approval.approved:
                outputs[call.id] = await self.run(call.name, call.input or {})
                parts.append(ToolResult(call.id, outputs[call.id]))
            else:
                outputs[call.id] = {"denied": True, "reason": call.approval.reason}
                parts.append(ToolDenied(call.id))
        return parts, outputs


def renamed_to(output: Any) -> str | None:
    """The new title, when ``output`` is what an approved ``rename_chat`` returned."""
    if isinstance(output, dict) and output.get("renamed") is True:
        return str(output.get("title", ""))
    return None


#: The prompts an empty chat suggests: one per tool, each answered by the simulated model.
SUGGESTIONS = [
    "How many chats do I have?",
    "Rename this chat to Holiday plans",
    "What time is it?",
]
COUNT = re.compile(r"\bhow many (chats|conversations)\b", re.IGNORECASE)
RENAME = re.compile(r"\brename (?:this|the) chat to (.+)", re.IGNORECASE)
TIME = re.compile(r"\bwhat time is it\b", re.IGNORECASE)


def wants_a_tool(question: str) -> bool:
    return any(pattern.search(question) for pattern in (COUNT, RENAME, TIME))


async def use_tools(question: str, toolbox: Toolbox) -> AsyncIterator[ChatPart]:
    """The simulated model's answer to a question that calls for a tool."""
    if COUNT.search(question):
        call = ToolCall("count_chats", {}, title=TITLES["count_chats"])
        yield call
        output = await toolbox.run(call.name, {})
        yield ToolResult(call.id, output)
        yield Step()  # the model's next call, with the tool's result
        count = output["chats"]
        yield f"You have **{count}** chat{'s' if count != 1 else ''}."
    elif match := RENAME.search(question):
        title = match[1].strip().strip(".!\"'“”")[:200]
        yield "I can rename this chat; please approve."
        call = ToolCall("rename_chat", {"title": title}, title=TITLES["rename_chat"])
        yield call
        yield ApprovalRequest(call.id)
    elif TIME.search(question):
        yield "Let me ask your browser."
        yield ToolCall("local_time", {}, title=TITLES["local_time"])


async def continue_after_tools(message: ChatMessage, toolbox: Toolbox) -> AsyncIterator[ChatPart]:
    """The simulated model's answer once the browser sent its tool's output, or the user's
    approval."""
    parts, _ = await toolbox.settle(message)
    for part in parts:
        yield part
    for call in message.tool_calls:
        if call.name == "rename_chat" and call.state == "approval-responded" and call.approval:
            yield Step()
            if call.approval.approved:
                yield f"Done: this chat is now called “{call.input.get('title', '')}”."
            else:
                yield "All right, I left the title as it is."
        elif call.name == "local_time" and call.state == "output-available":
            yield Step()
            yield f"It is {call.output.get('time', 'unknown')} where you are."
