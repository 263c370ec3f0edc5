"""A ``pydantic_ai.Agent``'s run, streamed as the parts of a chat answer.

The run is driven with pydantic-ai's own ``agent.iter()``, each model request and each tool
round streamed through ``node.stream()``: text, thinking, tool calls with their arguments as the
model writes them, results, failures, and arguments the tools' schemas refused (the model's
retry follows). Tools that need the user's approval (``requires_approval=True``) and tools the
browser runs (an ``ExternalToolset``, or ``CallDeferred``) end the run with
``DeferredToolRequests``: the answer ends waiting, the run's messages are kept with the pending
answer, and the continuation resumes the same run with ``DeferredToolResults`` built from the
server's verified copy of the user's answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

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
)

from .base import AgentRun
from .pydantic_ai_history import resume, to_model_messages, user_content

if TYPE_CHECKING:
    from pydantic_ai.agent import AbstractAgent

    from django_streaming.chat.messages import ChatMessage
    from django_streaming.chat.parts import ChatPart

__all__ = ["stream", "to_model_messages"]

#: pydantic-ai's finish reasons as the protocol names them; any other is "other".
FINISH_REASONS = {"stop": "stop", "length": "length", "content_filter": "content-filter",
                  "tool_call": "tool-calls", "error": "error"}  # fmt: skip
#: Tool call states that settle a call (the client holds its outcome already).
SETTLED = ("output-available", "output-error", "output-denied")


async def stream(agent: AbstractAgent[Any, Any], run: AgentRun) -> AsyncIterator[ChatPart]:
    """The parts of ``agent``'s answer to ``run``'s conversation (``run.kwargs`` go to
    ``agent.iter()``: ``deps``, ``model``, ``model_settings``, ``usage_limits``...)."""
    try:
        from pydantic_ai import Agent, DeferredToolRequests, ModelMessagesTypeAdapter
    except ImportError as error:
        extra = "pip install django-streaming[pydantic-ai]"
        raise ImportError(f"Streaming a pydantic_ai.Agent needs pydantic-ai: {extra}") from error

    kwargs = dict(run.kwargs)
    kwargs.update(_output_type(agent, kwargs.pop("output_type", None), DeferredToolRequests))
    continued = run.messages[-1] if run.continuation else None
    if continued is not None:
        prompt = None
        history, results = resume(run, continued)
    else:
        prompt = user_content(run.messages[-1], run)
        history, results = to_model_messages(run.messages[:-1], run), None
    model = kwargs.get("model") or agent.model
    if model is not None:  # (without one, pydantic-ai says what is missing)
        if isinstance(model, str):  # "openai:gpt-5": the provider, then the model
            provider, known, name = model.partition(":")
            provider, name = (provider, name) if known else ("", model)
        else:
            provider, name = model.system, model.model_name
        yield Metadata({"model": name}, provider=provider or None)
    events = _Events(continued)
    async with agent.iter(
        prompt, message_history=history, deferred_tool_results=results, **kwargs
    ) as agent_run:
        async for node in agent_run:
            if Agent.is_model_request_node(node):
                if events.step_open:
                    events.step_open = False
                    yield Step()  # each model request is a step of the answer
            elif not Agent.is_call_tools_node(node):
                continue
            async with node.stream(agent_run.ctx) as node_events:
                async for event in node_events:
                    for part in events.parts(event):
                        yield part
        result, usage = agent_run.result, agent_run.usage
    assert result is not None  # the run got to its End
    output = result.output
    reason = FINISH_REASONS.get(result.response.finish_reason or "stop", "other")
    if isinstance(output, DeferredToolRequests):
        for call in output.approvals:
            yield ApprovalRequest(call.tool_call_id, f"approval-{call.tool_call_id}")
        # The run, to resume: JSON, kept with the pending answer (another worker may resume it).
        messages = ModelMessagesTypeAdapter.dump_python(result.all_messages(), mode="json")
        approvals, calls = ([c.tool_call_id for c in output.approvals],
                            [c.tool_call_id for c in output.calls])  # fmt: skip
        run.keep({"messages": messages, "approvals": approvals, "calls": calls})
        reason = "tool-calls"
    tokens = {"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens,
              "totalTokens": usage.total_tokens}  # fmt: skip
    yield Finish(reason, {"usage": tokens})


class _Events:
    """pydantic-ai's events in, chat parts out, with what the mapping has to remember: the
    calls announced (a ``ToolCall`` is made once per id, the continued message's calls were
    made already), the arguments streamed so far, and the calls whose arguments were refused."""

    def __init__(self, continued: ChatMessage | None) -> None:
        calls = continued.tool_calls if continued else ()
        self.continued = {call.id for call in calls}
        self.announced = set(self.continued)
        # The continued message's calls whose outcome the client holds: no second outcome.
        self.settled = {call.id for call in calls if call.state in SETTLED}
        self.by_index: dict[int, tuple[str, str]] = {}  # part index -> call id, tool name
        self.arguments: dict[str, str] = {}  # call id -> the arguments streamed
        self.step_open = False  # something was said since the last step began

    def parts(self, event: Any) -> Iterator[ChatPart]:
        for part in self._parts(event):
            # The outcomes of the continued message's calls fill in earlier steps' parts.
            outcome = isinstance(part, (ToolResult, ToolError, ToolDenied))
            self.step_open |= not (outcome and getattr(part, "id", "") in self.continued)
            yield part

    def _parts(self, event: Any) -> Iterator[ChatPart]:
        kind = event.event_kind
        if kind == "part_start":
            yield from self._start(event.index, event.part)
        elif kind == "part_delta":
            yield from self._delta(event.index, event.delta)
        elif kind in ("function_tool_call", "output_tool_call"):
            if getattr(event, "args_valid", True) is not False:  # else its retry says why
                yield from self.announce(event.part)
        elif kind in ("function_tool_result", "output_tool_result"):
            yield from self._result(event.part)

    def _start(self, index: int, part: Any) -> Iterator[ChatPart]:
        kind = part.part_kind
        if kind == "tool-call":
            self.by_index[index] = (part.tool_call_id, part.tool_name)
            yield from self._arguments(index, part.args)
        elif kind in ("text", "thinking") and part.content:
            yield part.content if kind == "text" else ReasoningDelta(part.content)

    def _delta(self, index: int, delta: Any) -> Iterator[ChatPart]:
        kind = delta.part_delta_kind
        if kind == "tool_call":
            yield from self._arguments(index, delta.args_delta)
        elif kind in ("text", "thinking") and delta.content_delta:
            yield delta.content_delta if kind == "text" else ReasoningDelta(delta.content_delta)

    def _arguments(self, index: int, arguments: str | dict[str, Any] | None) -> Iterator[ChatPart]:
        call_id, name = self.by_index[index]
        text = json.dumps(arguments) if isinstance(arguments, dict) else arguments or ""
        if text:
            self.arguments[call_id] = self.arguments.get(call_id, "") + text
            yield ToolInputDelta(call_id, name, text)

    def announce(self, call: Any) -> Iterator[ChatPart]:
        """The ``ToolCall`` for pydantic-ai's ``ToolCallPart`` ``call``, unless made already."""
        if call.tool_call_id not in self.announced:
            self.announced.add(call.tool_call_id)
            yield ToolCall(call.tool_name, call.args_as_dict(), call.tool_call_id)

    def _result(self, part: Any) -> Iterator[ChatPart]:
        call_id = part.tool_call_id
        if call_id in self.settled:
            return
        outcome = "retried" if part.part_kind == "retry-prompt" else part.outcome
        if outcome == "denied":
            yield ToolDenied(call_id)
        elif outcome in ("retried", "failed", "interrupted") and call_id not in self.announced:
            # Arguments that never reached the tool: refused by its schema, or an unknown tool.
            self.announced.add(call_id)
            raw = self.arguments.get(call_id)
            yield ToolInputError(call_id, part.tool_name, _loads(raw), _error_text(part.content))
        elif outcome in ("retried", "failed", "interrupted"):
            yield ToolError(call_id, _error_text(part.content))
        else:
            yield from self.announce(part)  # a call settled without running (skipped)
            yield ToolResult(call_id, _jsonable(part.content))


def _output_type(agent: Any, output_type: Any, deferred: type) -> dict[str, Any]:
    """The run's ``output_type`` when it must let the run end waiting (``DeferredToolRequests``)."""
    chosen = agent.output_type if output_type is None else output_type
    options = chosen if isinstance(chosen, Sequence) and not isinstance(chosen, str) else [chosen]
    if deferred in options:
        return {} if output_type is None else {"output_type": output_type}
    return {"output_type": [*options, deferred]}


def _error_text(content: Any) -> str:
    """What a failed or refused call says: a validation error's details, one per line."""
    if isinstance(content, list) and all(isinstance(error, dict) for error in content):
        return "\n".join(
            f"{'.'.join(map(str, error.get('loc', ()))) or 'input'}: {error.get('msg', '')}"
            for error in content
        )
    return content if isinstance(content, str) else json.dumps(_jsonable(content))


def _loads(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw


def _jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, serialize_unknown=True, bytes_mode="base64")
