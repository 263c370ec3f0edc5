"""An adapter for the tests' own agent class (``ScriptedAgent``): it asks for an approval, keeps
some state, and on the continuation reports what came back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from django_streaming.agents import AgentRun
from django_streaming.chat.parts import ApprovalRequest, ChatPart, ToolCall, ToolDenied, ToolResult


class ScriptedAgent:
    def __init__(self, title: str) -> None:
        self.title = title


async def stream(agent: ScriptedAgent, run: AgentRun) -> AsyncIterator[ChatPart]:
    if not run.continuation:
        yield f"asked with {run.kwargs}"
        yield ToolCall("rename_chat", {"title": agent.title}, "call-1")
        yield ApprovalRequest("call-1", "approval-1")
        run.keep({"title": agent.title, "key": run.key})
        return
    [call] = run.messages[-1].tool_calls
    assert call.approval is not None
    if call.approval.approved:
        yield ToolResult(call.id, {"renamed": call.input["title"]})
    else:
        yield ToolDenied(call.id)
    state: Any = run.state
    yield f"kept: {state['title']}, same chat: {state['key'] == run.key}"
