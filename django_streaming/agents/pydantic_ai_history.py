"""A chat conversation as a ``pydantic_ai.Agent``'s message history, and the run a
continuation resumes with the user's and the browser's verified answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage, UserContent
    from pydantic_ai.tools import DeferredToolResults

    from django_streaming.chat.messages import ChatMessage, ChatToolCall

    from .base import AgentRun

__all__ = ["resume", "to_model_messages", "user_content"]

#: What the model is told of a call the continuation left unanswered.
NO_APPROVAL = "The user did not answer the approval request."
NO_OUTPUT = "No result came back from the browser."
DENIED = "The user denied this tool call."
#: States of a call of the continued message that waits for the user or the browser.
WAITING_FOR_APPROVAL = ("approval-requested", "approval-responded")
WAITING = (*WAITING_FOR_APPROVAL, "input-available")


def resume(run: AgentRun, continued: ChatMessage) -> tuple[list[ModelMessage], DeferredToolResults]:
    """The run to carry on: its messages (kept when it ended waiting, or else rebuilt from the
    conversation) and the user's and the browser's answers to the calls it waited for."""
    from pydantic_ai import DeferredToolResults, ModelMessagesTypeAdapter, ToolDenied
    from pydantic_ai.exceptions import ToolFailed

    calls = {call.id: call for call in continued.tool_calls}
    if isinstance(run.state, dict):
        history = ModelMessagesTypeAdapter.validate_python(run.state["messages"])
        approvals, browser = list(run.state["approvals"]), list(run.state["calls"])
    else:  # no kept run (verify_continuations off): the conversation has it all
        history = to_model_messages(run.messages, run, continued=True)
        approvals = [c.id for c in continued.tool_calls if c.state in WAITING_FOR_APPROVAL]
        browser = [c.id for c in continued.tool_calls if c.state == "input-available"]
    results = DeferredToolResults()
    for call_id in approvals:
        call = calls[call_id]
        if call.state != "approval-responded" or call.approval is None:
            results.approvals[call_id] = ToolDenied(NO_APPROVAL)
        elif call.approval.approved:
            results.approvals[call_id] = True
        else:
            results.approvals[call_id] = ToolDenied(call.approval.reason or DENIED)
    for call_id in browser:
        call = calls[call_id]
        if call.state == "output-available":
            results.calls[call_id] = call.output
        else:
            error = call.error_text if call.state == "output-error" else None
            results.calls[call_id] = ToolFailed(error or NO_OUTPUT)
    return history, results


def to_model_messages(
    messages: Sequence[ChatMessage], run: AgentRun, *, continued: bool = False
) -> list[ModelMessage]:
    """``messages`` as pydantic-ai's message history: user messages with their files, assistant
    messages step by step, each tool call followed by its outcome. Calls left without one are
    left out, but for those of the ``continued`` last message, which the continuation answers."""
    from pydantic_ai import messages as ai

    history: list[ModelMessage] = []
    for position, message in enumerate(messages):
        if message.role == "user":
            history.append(ai.ModelRequest([ai.UserPromptPart(user_content(message, run))]))
        elif message.role == "system":
            history.append(ai.ModelRequest([ai.SystemPromptPart(message.text)]))
        else:
            waiting = continued and position == len(messages) - 1
            calls = {call.id: call for call in message.tool_calls}
            steps: list[tuple[list[Any], list[Any]]] = [([], [])]
            for part in message.parts or _parts_of(message):
                call = calls.get(part.get("toolCallId", ""))
                if part.get("type") == "step-start":
                    steps.append(([], []))
                elif part.get("type") == "text" and part.get("text"):
                    steps[-1][0].append(ai.TextPart(part["text"]))
                elif call is not None and not part.get("providerExecuted"):
                    outcome = _outcome(call)
                    if outcome is not None or (waiting and call.state in WAITING):
                        arguments = call.input if isinstance(call.input, dict) else {}
                        steps[-1][0].append(ai.ToolCallPart(call.name, arguments, call.id))
                    if outcome is not None:
                        steps[-1][1].append(outcome)
            for said, outcomes in steps:
                if said:
                    history.append(ai.ModelResponse(said))
                if outcomes:
                    history.append(ai.ModelRequest(outcomes))
    return history


def _parts_of(message: ChatMessage) -> list[dict[str, Any]]:
    """The UI parts of a message made in Python (``ChatMessage(text, tool_calls=...)``)."""
    calls = [{"type": "tool", "toolCallId": call.id} for call in message.tool_calls]
    return [{"type": "text", "text": message.text}, *calls]


def _outcome(call: ChatToolCall) -> Any:
    """The ``ToolReturnPart`` of a call that has an outcome, else None."""
    from pydantic_ai.messages import ToolReturnPart

    if call.state == "output-available":
        return ToolReturnPart(call.name, call.output, call.id)
    if call.state == "output-error":
        return ToolReturnPart(call.name, call.error_text or "", call.id, outcome="failed")
    if call.state == "output-denied":
        reason = call.approval.reason if call.approval else None
        return ToolReturnPart(call.name, reason or DENIED, call.id, outcome="denied")
    return None


def user_content(message: ChatMessage, run: AgentRun) -> str | list[UserContent]:
    """A user message's text and files: the bytes a client sent, and the files it named by
    URL that the view allows (``allow_remote_file()``); no other URL is fetched."""
    from pydantic_ai.messages import AudioUrl, BinaryContent, DocumentUrl, ImageUrl, VideoUrl

    files: list[UserContent] = []
    for file in message.files:
        if file.data is not None:
            files.append(BinaryContent(file.data, media_type=file.media_type))
        elif run.allow_remote_file(file):
            kind = file.media_type.partition("/")[0]
            url = {"image": ImageUrl, "audio": AudioUrl, "video": VideoUrl}.get(kind, DocumentUrl)
            files.append(url(file.url, media_type=file.media_type))
    if not files:
        return message.text
    return [message.text, *files] if message.text else files
