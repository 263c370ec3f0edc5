"""The OpenAI Agents SDK: an ``agents.Agent``'s streamed run as the parts of a chat answer.

``Runner.run_streamed()`` with the conversation as Responses input items; its raw model events
go through ``openai_responses.ResponseStream`` (text, reasoning, streamed call arguments, a
``Step`` per model call, the model's name and usage), its run items make the calls' outcomes.
A tool that ``needs_approval`` stops the run: its state (``RunState.to_json()``) is kept with
the answer, and the continuation approves or rejects each call and runs that state on.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from django_streaming.chat.parts import (
    ApprovalRequest,
    ChatPart,
    ToolCall,
    ToolDenied,
    ToolError,
    ToolInputError,
    ToolResult,
)
from django_streaming.chat.views import ChatError

from .openai_responses import ResponseStream, parse_arguments, response_input

if TYPE_CHECKING:
    from agents import Agent, RunConfig, RunState

    from .base import AgentRun

__all__ = ["stream"]

#: Shown when a continuation comes without the run it continues (``verify_continuations``
#: off, or the kept state is gone).
NO_STATE_TEXT = "This answer can no longer be continued: ask again."
#: The events of a failed response: the SDK raises its own error for them (after its retries).
SDK_RAISES = ("response.failed", "error")


async def stream(agent: Agent[Any], run: AgentRun) -> AsyncIterator[ChatPart]:
    """The parts of ``agent``'s answer to ``run.messages`` (``run.kwargs`` go to
    ``Runner.run_streamed()``: ``context``, ``run_config``, ``max_turns``, ``hooks``...)."""
    try:
        from agents import Runner
    except ImportError as error:
        raise ImportError(
            "The OpenAI Agents SDK is not installed: pip install django-streaming[openai-agents]"
        ) from error
    kwargs = dict(run.kwargs)
    outcomes = Outcomes()
    kwargs["run_config"] = outcomes.config(kwargs.get("run_config"))
    if run.continuation:
        input: Any = await _resumed(agent, run, outcomes)
        outcomes.called.update(call.id for call in run.messages[-1].tool_calls)
    else:
        input = response_input(run.messages, run.allow_remote_file)
    result = Runner.run_streamed(agent, input, **kwargs)
    model = ResponseStream(complete_calls=False)
    events: Any = result.stream_events()
    try:
        async for event in events:
            if event.type == "raw_response_event" and event.data.type not in SDK_RAISES:
                for part in model.parts(event.data):
                    yield part
            elif event.type == "run_item_stream_event":
                for part in outcomes.parts(event.item):
                    yield part
    finally:
        # Stop (the client left): the run's task, and with it the model's request, ends here.
        if not result.is_complete:
            result.cancel()
        await events.aclose()
    for item in result.interruptions:
        call_id = str(item.call_id)
        for part in outcomes.called_once(call_id, str(item.name), item.arguments or "", hold=False):
            yield part
        yield ApprovalRequest(call_id)
    if result.interruptions:
        run.keep(result.to_state().to_json(context_serializer=_not_kept))
    yield model.finish()


def _not_kept(context: Any) -> dict[str, Any]:
    """The run's context is the request's (``agent_kwargs()``): the continuation brings its
    own, so none is stored (it may hold what must not be serialised: a user, a connection)."""
    return {}


async def _resumed(agent: Agent[Any], run: AgentRun, outcomes: Outcomes) -> RunState[Any]:
    """The kept run, with the user's verified answers applied to its interruptions."""
    from agents import RunState

    if run.state is None:
        raise ChatError(NO_STATE_TEXT)
    state = await RunState.from_json(agent, run.state, context_override=run.kwargs.get("context"))
    waiting = {item.call_id: item for item in state.get_interruptions()}
    for call in run.messages[-1].tool_calls:
        item = waiting.get(call.id)
        if item is None or call.state != "approval-responded" or call.approval is None:
            continue
        if call.approval.approved:
            state.approve(item)
        else:
            state.reject(item)  # the model is told (the SDK's rejection message)
            outcomes.denied.add(call.id)
    return state


class Outcomes:
    """The calls of one run and how each ended: the SDK's run items, and the tool errors its
    ``tool_error_formatter`` hook reports (a tool's failure is otherwise just an output)."""

    def __init__(self) -> None:
        self.called: set[str] = set()  # the calls the message has complete (a ToolCall)
        self.held: dict[str, tuple[str, str]] = {}  # calls whose arguments are no object
        self.denied: set[str] = set()
        self.errors: dict[str, str] = {}  # call id -> what the model was told of its failure

    def config(self, given: RunConfig | dict[str, Any] | None) -> RunConfig:
        """``given`` (the view's ``run_config``), with a formatter that notes tool errors."""
        from agents import RunConfig

        config = RunConfig(**given) if isinstance(given, dict) else given or RunConfig()
        theirs = config.tool_error_formatter

        async def formatter(args: Any) -> str | None:
            text = theirs(args) if theirs is not None else None
            text = await text if inspect.isawaitable(text) else text
            # Also called for a rejected approval: its call is ToolDenied all the same.
            self.errors[args.call_id] = text if isinstance(text, str) else args.default_message
            return text

        return dataclasses.replace(config, tool_error_formatter=formatter)

    def parts(self, item: Any) -> list[ChatPart]:
        """The parts for one run item (``RunItemStreamEvent.item``)."""
        raw = item.raw_item
        if item.type in ("tool_call_item", "handoff_call_item"):
            if _field(raw, "type") != "function_call":
                return []  # a hosted tool's call: the model provider's business
            return self.called_once(_field(raw, "call_id"), raw.name, raw.arguments)
        if item.type == "handoff_output_item":
            return self._outcome(_field(raw, "call_id"), {"agent": item.target_agent.name})
        if item.type == "tool_call_output_item":
            return self._outcome(item.call_id, _json_able(item.output, _field(raw, "output")))
        return []

    def called_once(
        self, call_id: str, name: str, arguments: str, *, hold: bool = True
    ) -> list[ChatPart]:
        """The ``ToolCall`` of a call the model made, unless the message has it. One whose
        arguments are no object is held back (``hold``): the SDK will refuse them, and that is
        a ``ToolInputError``; unless it asks the user's approval first (as text, then)."""
        if call_id in self.called or (hold and call_id in self.held):
            return []
        parsed = parse_arguments(arguments)
        if parsed is None and hold:
            self.held[call_id] = (name, arguments)
            return []
        self.held.pop(call_id, None)
        self.called.add(call_id)
        return [ToolCall(name, arguments if parsed is None else parsed, call_id)]

    def _outcome(self, call_id: str, output: Any) -> list[ChatPart]:
        if call_id in self.denied:
            return [ToolDenied(call_id)]
        error = self.errors.get(call_id)
        if call_id in self.held:
            name, arguments = self.held.pop(call_id)
            return [ToolInputError(call_id, name, arguments, error or str(output))]
        if call_id not in self.called:
            return []
        if error is not None:
            return [ToolError(call_id, error)]
        return [ToolResult(call_id, output)]


def _field(raw: Any, name: str) -> Any:
    """A field of a raw item, a model or a dict (the SDK keeps both)."""
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _json_able(value: Any, fallback: Any) -> Any:
    """A tool's output as the browser can get it: itself when it is JSON, a model dumped, else
    the text the model was given."""
    dump: Callable[..., Any] | None = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return fallback
    return value
