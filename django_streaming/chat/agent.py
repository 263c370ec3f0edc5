"""The chat view's side of agents: the run an adapter is given (``AgentRun``), the bookkeeping
on failure, and ``stream_agent()``, which finds an agent's adapter by the package its class comes
from and imports it by name: the adapters (``django_streaming.agents``) sit above the chat view and
import it; nothing here imports them until an agent of theirs runs."""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .parts import ToolCall, ToolDenied, ToolError, ToolInputDelta, ToolResult

if TYPE_CHECKING:
    from .messages import ChatFile, ChatMessage
    from .parts import ChatPart
    from .views import ChatStreamView

__all__ = [
    "ADAPTERS",
    "AgentRun",
    "adapter_for",
    "settle_on_failure",
    "stream_agent",
    "supported_agents",
]

#: What a call left unsettled by a failed run shows (the run's error follows it).
UNSETTLED_TEXT = "The tool call did not finish: the answer failed."


@dataclass
class AgentRun:
    """One request's run of an agent, as an adapter gets it.

    ``messages`` is the conversation: the history (the server's, with ``load_messages()``),
    then the new message; for a ``continuation`` the last is the server's own message, with the
    user's verified approvals and the browser tools' outputs applied (``ChatToolCall.state`` is
    ``approval-responded``, ``output-available`` or ``output-error``). ``state`` is what the
    adapter kept (``keep()``) when the answer before ended waiting for them, or None. ``key``
    names the chat and its owner (a LangGraph thread, say). ``kwargs`` go to the framework's run.
    """

    messages: list[ChatMessage]
    continuation: bool
    key: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    #: Keeps JSON-able ``state`` with the answer when it ends waiting for the browser; the
    #: continuation's run gets it back as ``state``.
    keep: Callable[[Any], None] = field(default=lambda state: None, repr=False)
    #: Whether the server may fetch a remote file a client sent (``ChatFile.url``): no host
    #: is allowed unless the view's ``allow_remote_file()`` says so.
    allow_remote_file: Callable[[ChatFile], bool] = field(default=lambda file: False, repr=False)


async def settle_on_failure(parts: AsyncIterator[ChatPart]) -> AsyncGenerator[ChatPart, None]:
    """``parts``, and if the run fails, a ``ToolError`` for each call it left without an
    outcome before the error goes on: no client shows a call stuck running."""
    unsettled: dict[str, str] = {}  # call id -> tool name
    try:
        async for part in parts:
            if isinstance(part, ToolInputDelta):
                unsettled.setdefault(part.id, part.name)
            elif isinstance(part, ToolCall):
                unsettled[part.id] = part.name
            elif isinstance(part, (ToolResult, ToolError, ToolDenied)) and not getattr(
                part, "preliminary", False
            ):
                unsettled.pop(part.id, None)
            yield part
    except Exception:
        for call_id in unsettled:
            yield ToolError(call_id, UNSETTLED_TEXT)
        raise


#: The adapter module for agents whose class (or a base of it) comes from each top-level package.
ADAPTERS = {
    "pydantic_ai": "django_streaming.agents.pydantic_ai",
    "agents": "django_streaming.agents.openai_agents",
    "langgraph": "django_streaming.agents.langgraph",
}
#: What each adapter serves, for error messages.
SUPPORTED = "a pydantic_ai.Agent, an OpenAI Agents SDK agents.Agent, or a compiled LangGraph graph"


def supported_agents() -> str:
    return SUPPORTED


def adapter_for(agent: object) -> str | None:
    """The dotted path of the adapter module for ``agent``, or None when none serves it."""
    for cls in type(agent).__mro__:
        package = cls.__module__.partition(".")[0]
        if package in ADAPTERS:
            return ADAPTERS[package]
    return None


async def stream_agent(agent: Any, chat: ChatStreamView, **kwargs: Any) -> AsyncIterator[ChatPart]:
    """The parts of ``agent``'s answer to the conversation of ``chat`` (the view: ``self`` in a
    ``generate()``); ``kwargs`` go to the run (pydantic-ai ``deps``, the Agents SDK ``context``,
    LangGraph ``config``). Tool calls that wait for an approval or for the browser end the
    answer; the continuation carries the same run on."""
    path = adapter_for(agent)
    if path is None:
        raise TypeError(f"No adapter serves {type(agent).__name__}: use {SUPPORTED}.")
    adapter = importlib.import_module(path)
    run = chat.agent_run(kwargs)
    # Closed here, in this task, when the answer stops early: the framework's own clean-up
    # (its HTTP request, its task groups) must not wait for the garbage collector.
    async with (
        aclosing(adapter.stream(agent, run)) as parts,
        aclosing(settle_on_failure(parts)) as settled,
    ):
        async for part in settled:
            yield part
