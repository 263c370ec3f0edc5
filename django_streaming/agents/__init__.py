"""Agents in one line: ``ChatStreamView.agent = my_agent``, or ``stream_agent()`` in a
``generate()`` of your own.

One module per framework, each importing its framework only when an agent of it runs (and
shipped as an extra: ``django-streaming[pydantic-ai]``, ``[openai-agents]``, ``[langgraph]``):

* ``pydantic_ai.py``: a ``pydantic_ai.Agent``;
* ``openai_agents.py``: an ``agents.Agent`` of the OpenAI Agents SDK;
* ``langgraph.py``: a compiled LangGraph graph.

``openai.py`` and ``anthropic.py`` map those SDKs' streams, for a ``generate()`` that calls a
model itself. Which adapter serves an agent is decided by the modules its class comes from, so
no framework is imported to find out.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from .base import AgentRun, settle_on_failure

if TYPE_CHECKING:
    from django_streaming.chat.parts import ChatPart
    from django_streaming.chat.views import ChatStreamView

__all__ = ["ADAPTERS", "AgentRun", "adapter_for", "stream_agent", "supported_agents"]

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
