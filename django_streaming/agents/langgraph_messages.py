"""A chat conversation as a LangGraph thread's input: LangChain messages, one ``AIMessage`` a
step with the calls that have an outcome, then their ``ToolMessage``s."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage, ToolMessage

    from django_streaming.chat.messages import ChatFile, ChatMessage, ChatToolCall

    from .base import AgentRun

__all__ = ["INTERRUPT_CALL", "thread_input", "tool_result"]

#: The ids of the calls made for interrupts that are not a model's tool call.
INTERRUPT_CALL = "interrupt-"
NOT_RUN = "The call did not run: the user went on without answering it."


async def thread_input(
    graph: Any, run: AgentRun, config: dict[str, Any], checkpointer: bool
) -> list[BaseMessage]:
    """The messages to send: the whole conversation, unless the thread has it already (then
    the new message, after a result for each call of the thread left without one)."""
    from langchain_core.messages import AIMessage, ToolMessage

    saved: list[BaseMessage] = []
    if checkpointer:
        values = (await graph.aget_state(config)).values
        saved = values.get("messages", []) if isinstance(values, dict) else []
    if not saved:
        return [message for each in run.messages for message in _messages(each, run)]
    last_call = next((m for m in reversed(saved) if isinstance(m, AIMessage)), None)
    answered = {m.tool_call_id for m in saved if isinstance(m, ToolMessage)}
    outcomes = {call.id: call for message in run.messages for call in message.tool_calls}
    results = [
        tool_result(outcomes.get(call["id"] or ""), call["name"], call["id"] or "")
        for call in (last_call.tool_calls if last_call else [])
        if call["id"] not in answered
    ]
    last = run.messages[-1]
    return [*results, *(_messages(last, run) if last.role == "user" else [])]


def _messages(message: ChatMessage, run: AgentRun) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    if message.role == "system":
        return [SystemMessage(message.text)]
    if message.role == "user":
        files = [block for file in message.files if (block := _file(file, run)) is not None]
        if not files:
            return [HumanMessage(message.text)]
        return [HumanMessage([{"type": "text", "text": message.text}, *files])]
    # One AIMessage per step, with its calls that have an outcome, then their results.
    calls = {call.id: call for call in message.tool_calls}
    out: list[BaseMessage] = [] if message.parts else [AIMessage(message.text)]
    done: list[ChatToolCall]
    text, done = "", []
    for part in [*message.parts, {"type": "step-start"}]:
        call = calls.get(part.get("toolCallId", ""))
        if part.get("type") == "step-start" and (text or done):
            tool_calls = [
                {"name": c.name, "args": c.input if isinstance(c.input, dict) else {}, "id": c.id}
                for c in done
            ]
            out += [
                AIMessage(text, tool_calls=tool_calls),
                *(tool_result(c, c.name, c.id) for c in done),
            ]
            text, done = "", []
        elif part.get("type") == "text":
            text += part["text"]
        elif call is not None and _settled(call) and not call.id.startswith(INTERRUPT_CALL):
            done.append(call)
    return out


def _settled(call: ChatToolCall) -> bool:
    denied = call.approval is not None and call.approval.approved is False
    return call.state in ("output-available", "output-error", "output-denied") or denied


def tool_result(call: ChatToolCall | None, name: str, call_id: str) -> ToolMessage:
    """What the model is told of a call: its output, its error, or that it did not run."""
    from langchain_core.messages import ToolMessage

    if call is not None and call.state == "output-available":
        output = call.output if isinstance(call.output, str) else json.dumps(call.output)
        return ToolMessage(output, tool_call_id=call_id, name=name)
    if call is None or not _settled(call):
        text = NOT_RUN
    elif call.state == "output-error":
        text = call.error_text or "The tool failed."
    else:
        reason = call.approval.reason if call.approval else None
        text = "The user denied this call." + (f" Reason: {reason}" if reason else "")
    return ToolMessage(text, tool_call_id=call_id, name=name, status="error")


def _file(file: ChatFile, run: AgentRun) -> dict[str, Any] | None:
    """A file as a LangChain content block: its bytes, or its URL if the view allows it."""
    kind = file.media_type.partition("/")[0]
    block: dict[str, Any] = {
        "type": kind if kind in ("image", "audio", "video") else "file",
        "mime_type": file.media_type,
    }
    if file.data is not None:
        block["base64"] = base64.b64encode(file.data).decode()
    elif run.allow_remote_file(file):
        block["url"] = file.url
    else:
        return None
    if file.filename:
        block["extras"] = {"filename": file.filename}
    return block
