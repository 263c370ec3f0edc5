"""Continuations the server can trust.

An answer may end waiting for the browser: a tool call that needs the user's approval
(``ApprovalRequest``), or one that a browser tool must run (a ``ToolCall`` left without a
result). The client then sends the conversation back with its answers in the last message, and
the answer goes on. Nothing in that body is trusted as it is:

* when an answer ends, the view saves it in the store with the ids of the calls it left waiting
  (``pending_calls()``, ``StreamStore.save_pending()``), under a key of the chat and its owner;
* a continuation may only answer those calls, with the same tool name and approval id, each
  once (``StreamStore.claim()`` marks them answered for every worker at once);
* what ``generate()`` receives is the server's message with the client's answers applied
  (``apply_answers()``): the inputs are the ones the server streamed, whatever the client
  echoes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .messages import ChatMessage, ChatRequestError, ChatToolCall

__all__ = ["WAITING_STATES", "already_answered", "apply_answers", "pending_calls"]

Part = dict[str, Any]
#: The states of a call that waits for the browser: its output, or the user's approval.
WAITING_STATES = ("input-available", "approval-requested")
#: What the client may turn a waiting call into, by the state it waited in.
ANSWERS = {
    "approval-requested": ("approval-responded",),
    "input-available": ("output-available", "output-error"),
}


def tool_parts(parts: Iterable[Part]) -> dict[str, Part]:
    """The tool call parts of a UI message, by call id."""
    return {
        part["toolCallId"]: part
        for part in parts
        if isinstance(part.get("type"), str)
        and (part["type"].startswith("tool-") or part["type"] == "dynamic-tool")
        and isinstance(part.get("toolCallId"), str)
    }


def pending_calls(message: dict[str, Any]) -> list[str]:
    """The ids of the calls of ``message`` (a UI message) that wait for the browser."""
    return [
        call_id
        for call_id, part in tool_parts(message["parts"]).items()
        if part.get("state") in WAITING_STATES and not part.get("providerExecuted")
    ]


def apply_answers(
    message: dict[str, Any],
    client: ChatMessage,
    *,
    waiting: frozenset[str],
    answered: frozenset[str],
) -> tuple[dict[str, Any], list[str]]:
    """The server's ``message`` with the answers ``client`` (the continued message as the
    client sent it) gives to its ``waiting`` calls, and the ids of the calls answered; or a
    ``ChatRequestError`` naming the call that cannot be answered: one the server never made
    or never left waiting (400 ``invalid_continuation``), or answered already (409
    ``already_answered``)."""
    if client.id != message["id"]:
        raise ChatRequestError(
            f"This continuation goes on with the message {client.id!r}, which is not the "
            "chat's last answer: a continuation answers only what the server asked.",
            code="invalid_continuation",
        )
    merged = copy.deepcopy(message)
    server_calls = tool_parts(merged["parts"])
    answers: list[str] = []
    for call in client.tool_calls:
        part = server_calls.get(call.id)
        if part is None:
            raise _invalid(call.id, "is not a call the server made in this answer")
        if call.state == part.get("state"):
            continue  # as the server left it: history, or a call not answered yet
        if call.id in answered and call.id not in waiting:
            raise already_answered(call.id)
        if call.id not in waiting:
            raise _invalid(call.id, "does not wait for an answer")
        _apply(part, call)
        answers.append(call.id)
    if not answers:
        replayed = [call.id for call in client.tool_calls if call.id in answered]
        if replayed:  # a browser tool's output sent again reads as the server's copy of it
            raise already_answered(replayed[0])
        raise ChatRequestError(
            "This continuation answers none of the tool calls that wait for an answer.",
            code="invalid_continuation",
        )
    return merged, answers


def _apply(part: Part, call: ChatToolCall) -> None:
    """Put the client's answer to ``call`` into the server's ``part`` of it, once checked."""
    name = part["toolName"] if part["type"] == "dynamic-tool" else part["type"][len("tool-") :]
    if call.name != name:
        raise _invalid(call.id, f"is a call of {name!r}, not of {call.name!r}")
    waited_in = part["state"]
    if call.state not in ANSWERS[waited_in]:
        raise _invalid(call.id, f"waits in {waited_in!r} and cannot be answered {call.state!r}")
    if waited_in == "approval-requested":
        approval_id = part.get("approval", {}).get("id")
        if call.approval is None or call.approval.id != approval_id:
            raise _invalid(call.id, "answers an approval the server did not ask for")
        if call.approval.approved is None:
            raise _invalid(call.id, "has no approval decision (approved: true or false)")
        approval: dict[str, Any] = {"id": approval_id, "approved": call.approval.approved}
        if call.approval.reason is not None:
            approval["reason"] = call.approval.reason
        part.update(state="approval-responded", approval=approval)
    elif call.state == "output-available":
        part.update(state="output-available", output=copy.deepcopy(call.output))
    else:
        part.update(state="output-error", errorText=call.error_text or "")


def already_answered(call_id: str) -> ChatRequestError:
    return ChatRequestError(
        f"The tool call {call_id!r} was answered already.", status=409, code="already_answered"
    )


def _invalid(call_id: str, why: str) -> ChatRequestError:
    return ChatRequestError(
        f"The tool call {call_id!r} {why}: a continuation answers only what the server asked.",
        code="invalid_continuation",
    )
