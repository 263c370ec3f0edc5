"""The example chat's tools, used by the simulated model by question: one the server runs (it
reads the database), one that needs the user's approval (renaming this chat), and one the
browser runs (its local time, registered by ``static/chat/tools.js``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from django_streaming import (
    ApprovalRequest,
    ChatMessage,
    ChatPart,
    Step,
    ToolCall,
    ToolDenied,
    ToolResult,
)

from .models import Conversation

COUNT = re.compile(r"\bhow many (chats|conversations)\b", re.IGNORECASE)
RENAME = re.compile(r"\brename (?:this|the) chat to (.+)", re.IGNORECASE)
TIME = re.compile(r"\bwhat time is it\b", re.IGNORECASE)


def wants_a_tool(question: str) -> bool:
    return any(pattern.search(question) for pattern in (COUNT, RENAME, TIME))


async def use_tools(question: str, conversation: Conversation) -> AsyncIterator[ChatPart]:
    """The simulated model's answer to a question that calls for a tool."""
    if COUNT.search(question):
        call = ToolCall("count_chats", {}, title="Count your chats")
        yield call
        count = await Conversation.objects.filter(owner=conversation.owner).acount()
        yield ToolResult(call.id, {"chats": count})
        yield Step()  # the model's next call, with the tool's result
        yield f"You have **{count}** chat{'s' if count != 1 else ''}."
    elif match := RENAME.search(question):
        title = match[1].strip().strip(".!\"'“”")[:200]
        yield "I can rename this chat; please approve."
        call = ToolCall("rename_chat", {"title": title}, title="Rename this chat")
        yield call
        yield ApprovalRequest(call.id)
    elif TIME.search(question):
        yield "Let me ask your browser."
        yield ToolCall("local_time", {}, title="Your local time")


async def continue_after_tools(
    message: ChatMessage, conversation: Conversation
) -> AsyncIterator[ChatPart]:
    """The answer once the browser sent its tool's output, or the user's approval."""
    for call in message.tool_calls:
        if call.name == "rename_chat" and call.state == "approval-responded" and call.approval:
            if call.approval.approved:
                conversation.title = str(call.input.get("title", ""))[:200]
                await conversation.asave(update_fields=["title", "updated"])
                yield ToolResult(call.id, {"renamed": True})
                yield Step()
                yield f"Done: this chat is now called “{conversation.title}”."
            else:
                yield ToolDenied(call.id)
                yield Step()
                yield "All right, I left the title as it is."
        elif call.name == "local_time" and call.state == "output-available":
            yield Step()
            yield f"It is {call.output.get('time', 'unknown')} where you are."
