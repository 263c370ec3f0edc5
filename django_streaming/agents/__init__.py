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

from django_streaming.chat.agent import (
    ADAPTERS,
    AgentRun,
    adapter_for,
    settle_on_failure,
    stream_agent,
    supported_agents,
)

__all__ = [
    "ADAPTERS",
    "AgentRun",
    "adapter_for",
    "settle_on_failure",
    "stream_agent",
    "supported_agents",
]
