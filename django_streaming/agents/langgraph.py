"""LangGraph: a compiled graph (LangChain's ``create_agent``, LangGraph's ``create_react_agent``,
any ``StateGraph`` whose state has a ``messages`` key), streamed as the chat's parts.

``graph.astream(stream_mode=["messages", "updates"])`` gives the model's chunks as they come
(text, reasoning, tool call arguments), the messages nodes return (tool results), and each
node's update (the model's complete message, the interrupts). The thread is the chat:
``thread_id`` is the owner-scoped chat key. An ``interrupt()`` (LangChain's
``HumanInTheLoopMiddleware``, or a node's own) asks for approval; the continuation resumes it
with ``Command(resume=...)``, keyed by the interrupt ids kept with the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from django_streaming.chat.parts import (
    ApprovalRequest,
    Finish,
    Metadata,
    ReasoningDelta,
    Step,
    ToolCall,
    ToolDenied,
    ToolError,
    ToolInputDelta,
    ToolInputError,
    ToolResult,
    new_id,
)

from .langgraph_messages import INTERRUPT_CALL, thread_input

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
    from langgraph.types import Interrupt

    from django_streaming.chat.messages import Approval, ChatMessage
    from django_streaming.chat.parts import ChatPart

    from .base import AgentRun

__all__ = ["stream"]

#: Providers' finish reasons (OpenAI's, Anthropic's, Google's) as the protocol's.
FINISH_REASONS = {
    **dict.fromkeys(("stop", "end_turn", "stop_sequence", "STOP"), "stop"),
    **dict.fromkeys(("length", "max_tokens", "MAX_TOKENS"), "length"),
    **dict.fromkeys(("tool_calls", "tool_use"), "tool-calls"),
    **dict.fromkeys(("content_filter", "refusal", "SAFETY"), "content-filter"),
}
#: LangChain's usage metadata, named as the AI SDK names it.
USAGE = {f"{kind}_tokens": f"{kind}Tokens" for kind in ("input", "output", "total")}
UNANSWERED = "The user answered the other calls, not this one."


async def stream(graph: Any, run: AgentRun) -> AsyncIterator[ChatPart]:
    """The parts of ``graph``'s answer to ``run``'s conversation."""
    try:
        from langgraph.checkpoint.base import BaseCheckpointSaver
        from langgraph.types import Command
    except ImportError as error:
        raise ImportError(
            "A LangGraph graph needs langgraph: pip install django-streaming[langgraph]"
        ) from error
    config = run.kwargs.get("config") or {}
    config = {**config, "configurable": {"thread_id": run.key, **config.get("configurable", {})}}
    options = {name: value for name, value in run.kwargs.items() if name != "config"}
    checkpointer = isinstance(getattr(graph, "checkpointer", None), BaseCheckpointSaver)
    answer = _Stream(run, checkpointer)
    if run.continuation and run.state:
        graph_input: Any = Command(resume=answer.resume(run.messages[-1], run.state["interrupts"]))
        for part in answer.resumed:
            yield part
    else:
        graph_input = {"messages": await thread_input(graph, run, config, checkpointer)}
    chunks = graph.astream(
        graph_input, config, stream_mode=["messages", "updates"], subgraphs=True, **options
    )
    async with aclosing(chunks):
        async for _namespace, mode, data in chunks:
            for part in answer.message(data[0]) if mode == "messages" else answer.update(data):
                yield part
    if answer.interrupts:
        run.keep({"interrupts": answer.interrupts})
    yield answer.finish()


class _Stream:
    """What the stream has said so far: the calls, the model call in progress, the usage."""

    def __init__(self, run: AgentRun, checkpointer: bool) -> None:
        self.checkpointer = checkpointer
        continued = run.messages[-1].tool_calls if run.continuation else ()
        #: The calls the message has, complete: id -> (name, input).
        self.calls: dict[str, tuple[str, Any]] = {c.id: (c.name, c.input) for c in continued}
        self.settled = {call.id for call in continued if call.state.startswith("output-")}
        self.streaming: dict[tuple[str | None, Any], dict[str, Any]] = {}
        self.model_call: str | None = None
        self.model: str | None = None
        self.reason = "stop"
        self.usage: dict[str, int] = {}
        self.interrupts: list[dict[str, Any]] = []
        self.resumed: list[ChatPart] = []  # what the user's answers settled

    # The continuation.

    def resume(self, message: ChatMessage, interrupts: list[dict[str, Any]]) -> dict[str, Any]:
        """The resume value of each kept interrupt, keyed by its id: the user's decisions (a
        call left unanswered is denied). The denials, and the approvals of interrupts that are
        no tool call, go to ``resumed``, to be streamed first."""
        answers = {
            call.id: call.approval
            for call in message.tool_calls
            if call.state == "approval-responded" and call.approval is not None
        }
        resume: dict[str, Any] = {}
        for kept in interrupts:
            decisions = [_decision(answers.get(call_id)) for call_id in kept["calls"]]
            resume[kept["id"]] = {"decisions": decisions} if kept["batch"] else decisions[0]
            for call_id, decision in zip(kept["calls"], decisions, strict=True):
                if decision["type"] == "reject":
                    self.resumed.append(ToolDenied(call_id))
                    self.settled.add(call_id)
                elif call_id.startswith(INTERRUPT_CALL):
                    self.resumed.append(ToolResult(call_id, decision))
                    self.settled.add(call_id)
        return resume

    # The stream.

    def message(self, message: BaseMessage) -> Iterator[ChatPart]:
        from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage

        if isinstance(message, ToolMessage):
            yield from self._tool_result(message)
        elif isinstance(message, AIMessage):
            yield from self._model_output(message)
            if not isinstance(message, AIMessageChunk):
                yield from self._complete(message)  # a message that was not streamed

    def update(self, data: dict[str, Any]) -> Iterator[ChatPart]:
        from langchain_core.messages import AIMessage

        for node, update in data.items():
            if node == "__interrupt__":
                for interrupt in update:
                    yield from self._interrupt(interrupt)
            elif isinstance(update, dict):
                messages = update.get("messages")
                for message in messages if isinstance(messages, list) else [messages]:
                    if isinstance(message, AIMessage):
                        yield from self._complete(message)

    def finish(self) -> Finish:
        reason = "tool-calls" if self.interrupts else self.reason
        return Finish(reason, {"usage": self.usage} if self.usage else None)

    def _model_output(self, message: AIMessage) -> Iterator[ChatPart]:
        if message.id != self.model_call:
            if self.model_call is not None:
                yield Step()  # a model call after the first
            self.model_call = message.id
        metadata = message.response_metadata
        model = metadata.get("model_name") or metadata.get("model")
        if model and model != self.model:
            self.model = model
            yield Metadata({"model": model}, provider=metadata.get("model_provider"))
        if reason := metadata.get("finish_reason") or metadata.get("stop_reason"):
            self.reason = FINISH_REASONS.get(reason, "other")
        usage: dict[str, Any] = dict(message.usage_metadata or {})
        for key, name in USAGE.items():
            if key in usage:
                self.usage[name] = self.usage.get(name, 0) + usage[key]
        if isinstance(message.content, str) and not message.additional_kwargs:
            # Text alone, the common chunk: content_blocks would cost a third of the token.
            if message.content:
                yield message.content
        else:
            for block in message.content_blocks:
                if block["type"] == "text" and block["text"]:
                    yield block["text"]
                elif block["type"] == "reasoning" and block.get("reasoning"):
                    yield ReasoningDelta(block["reasoning"])
        for piece in getattr(message, "tool_call_chunks", ()):
            call = self.streaming.setdefault((message.id, piece["index"]), {"args": ""})
            call["id"] = call.get("id") or piece["id"]
            call["name"] = call.get("name") or piece["name"]
            call["args"] += piece["args"] or ""
            if call["id"] and call["name"] and call["args"] and call["id"] not in self.calls:
                yield ToolInputDelta(call["id"], call["name"], call["args"])
                call["args"] = ""

    def _complete(self, message: AIMessage) -> Iterator[ChatPart]:
        """The calls of the model's complete ``message``: their input is whole (or invalid)."""
        for call in message.tool_calls:
            call_id = call["id"] or new_id("call")
            if call_id not in self.calls:
                self.calls[call_id] = (call["name"], call["args"])
                yield ToolCall(call["name"], call["args"], call_id)
        for invalid in message.invalid_tool_calls:
            call_id, name = invalid["id"] or new_id("call"), invalid["name"] or "unknown"
            if call_id not in self.calls:
                self.calls[call_id] = (name, invalid["args"])
                self.settled.add(call_id)
                text = invalid["error"] or "The arguments are not valid JSON."
                yield ToolInputError(call_id, name, invalid["args"], text)

    def _tool_result(self, message: ToolMessage) -> Iterator[ChatPart]:
        call_id = message.tool_call_id
        if call_id not in self.calls or call_id in self.settled:
            return  # a call of another message, or one denied: the user knows
        self.settled.add(call_id)
        if message.status == "error":
            yield ToolError(call_id, message.text)
        else:
            yield ToolResult(call_id, message.content)

    def _interrupt(self, interrupt: Interrupt) -> Iterator[ChatPart]:
        if not self.checkpointer:
            raise ImproperlyConfigured(
                "The graph interrupted (for an approval) but has no checkpointer to resume "
                "from: compile it with one, graph.compile(checkpointer=...) or create_agent(..., "
                "checkpointer=...), a database's in production (langgraph-checkpoint-postgres)."
            )
        if any(kept["id"] == interrupt.id for kept in self.interrupts):
            return  # the same interrupt, from a subgraph and from its parent
        value = interrupt.value
        batch = isinstance(value, dict) and isinstance(value.get("action_requests"), list)
        requests = value["action_requests"] if batch else [value]
        call_ids = []
        for index, request in enumerate(requests):
            call_id, name, call_input = self._call_for(
                request, f"{INTERRUPT_CALL}{interrupt.id}-{index}"
            )
            if call_id not in self.calls:
                self.calls[call_id] = (name, call_input)
                yield ToolCall(name, call_input, call_id)
            yield ApprovalRequest(call_id)
            call_ids.append(call_id)
        self.interrupts.append({"id": interrupt.id, "calls": call_ids, "batch": batch})

    def _call_for(self, request: Any, own_id: str) -> tuple[str, str, Any]:
        """The call an interrupt asks about: the model's call it names (by id, or by name and
        arguments, in order: the middleware's batches), or else a call of its own."""
        if not isinstance(request, dict):
            return own_id, "interrupt", request
        name = request["name"] if isinstance(request.get("name"), str) else "interrupt"
        call_input = request.get("args", request)
        if request.get("tool_call_id") in self.calls:
            return request["tool_call_id"], name, call_input
        asked = {call_id for kept in self.interrupts for call_id in kept["calls"]}
        for known, (known_name, known_input) in self.calls.items():
            fits = (known_name, known_input) == (name, call_input)
            if fits and known not in self.settled and known not in asked:
                return known, name, call_input
        return own_id, name, call_input


def _decision(approval: Approval | None) -> dict[str, Any]:
    """The user's answer in the shape ``HumanInTheLoopMiddleware`` reads (no answer: no)."""
    if approval is None:
        return {"type": "reject", "message": UNANSWERED}
    if approval.approved:
        return {"type": "approve"}
    return {"type": "reject", **({"message": approval.reason} if approval.reason else {})}
