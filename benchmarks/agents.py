"""Server CPU per streamed token through each agent adapter (issue 21), side by side with the
framework's own iteration alone and, for pydantic-ai, with its own ``VercelAIAdapter`` encoding
the same run. Every model is offline and in this process (pydantic-ai's ``FunctionModel``, a
LangChain fake chat model, an Agents SDK ``Model`` replaying a Responses stream), so what is
measured is the framework and the mapping, not a network.

"Through the adapter" is what a ``ChatStreamView`` does per token besides the framework: the
adapter's mapping, the protocol's bookkeeping (``Answer``) and the SSE encoding.

    python -m benchmarks.agents [--tokens 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from django_streaming.agents import AgentRun
from django_streaming.chat.answer import Answer
from django_streaming.chat.messages import ChatMessage
from django_streaming.sse import encode

Runner = Callable[[], Coroutine[Any, Any, int]]


async def wire(parts: AsyncIterator[Any]) -> int:
    """What the view sends of ``parts``: the protocol's parts, SSE-encoded; the bytes."""
    answer, sent = Answer(), 0
    for part in answer.start(None):
        sent += len(encode(part))
    async for item in parts:
        for part in answer.parts_for(item):
            sent += len(encode(part))
    for part in answer.end(None):
        sent += len(encode(part))
    return sent


def question() -> AgentRun:
    return AgentRun(messages=[ChatMessage("user", "Count.", id="u1")], continuation=False, key="k")


def pydantic_ai(tokens: int) -> dict[str, Runner]:
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.ui.vercel_ai import VercelAIAdapter

    from django_streaming.agents import pydantic_ai as adapter

    async def stream(messages: Any, info: Any) -> AsyncIterator[str]:
        for number in range(tokens):
            yield f"tok{number} "

    agent = Agent(FunctionModel(stream_function=stream, model_name="bench"))
    body = json.dumps(
        {
            "trigger": "submit-message",
            "id": "c",
            "messages": [
                {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Count."}]}
            ],
        }
    ).encode()

    async def alone() -> int:
        # The iteration the adapter drives: each model request's stream, node by node.
        count = 0
        async with agent.iter("Count.") as run:
            async for node in run:
                if Agent.is_model_request_node(node):
                    async with node.stream(run.ctx) as events:
                        async for _ in events:
                            count += 1
        return count

    async def alone_events() -> int:
        count = 0
        async with agent.run_stream_events("Count.") as events:
            async for _ in events:
                count += 1
        return count

    async def ours() -> int:
        return await wire(adapter.stream(agent, question()))

    async def vercel() -> int:
        ui = VercelAIAdapter(agent=agent, run_input=VercelAIAdapter.build_run_input(body))
        sent = 0
        async for chunk in ui.encode_stream(ui.run_stream()):
            sent += len(chunk)
        return sent

    return {
        "alone (iter(), node.stream())": alone,
        "alone (run_stream_events())": alone_events,
        "through our adapter": ours,
        "pydantic-ai's own VercelAIAdapter": vercel,
    }


def langgraph(tokens: int) -> dict[str, Runner]:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from django_streaming.agents import langgraph as adapter

    words = " ".join(f"tok{number}" for number in range(tokens))

    def graph() -> Any:
        # The fake model streams its message word by word, one chunk a token.
        return create_agent(GenericFakeChatModel(messages=iter([AIMessage(content=words)])))

    async def alone() -> int:
        count = 0
        inputs = {"messages": [{"role": "user", "content": "Count."}]}
        # As the adapter asks for it: messages and updates, subgraphs' too.
        stream = graph().astream(inputs, stream_mode=["messages", "updates"], subgraphs=True)
        async for _ in stream:
            count += 1
        return count

    async def ours() -> int:
        return await wire(adapter.stream(graph(), question()))

    return {"alone (astream())": alone, "through our adapter": ours}


def openai_agents(tokens: int) -> dict[str, Runner]:
    from agents import Agent, Runner, set_tracing_disabled
    from agents.models.interface import Model
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    from django_streaming.agents import openai_agents as adapter
    from tests.support.fake_openai import ResponseEvents

    set_tracing_disabled(True)
    parse = TypeAdapter(ResponseStreamEvent).validate_python

    def replayed() -> list[Any]:
        """The Responses stream of ``tokens`` deltas, as typed events (parsed beforehand)."""
        events = ResponseEvents(f"tokens-{tokens}").reply({"input": []})
        return [parse(json.loads(event.split(b"data: ", 1)[1])) for event in events]

    class Replay(Model):
        def __init__(self) -> None:
            self.events: list[Any] = []

        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

        async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            for event in self.events:
                yield event

    model = Replay()
    agent = Agent(name="bench", model=model)

    async def alone() -> int:
        model.events = replayed()
        count = 0
        result = Runner.run_streamed(agent, "Count.")
        async for _ in result.stream_events():
            count += 1
        return count

    async def ours() -> int:
        model.events = replayed()
        return await wire(adapter.stream(agent, question()))

    return {"alone (stream_events())": alone, "through our adapter": ours}


def cpu_per_token(runners: dict[str, Runner], tokens: int, repeat: int) -> dict[str, float]:
    """The median CPU microseconds per token of each runner over ``repeat`` rounds, the runners
    taking turns within each round (so that a machine busy for a moment weighs on all alike),
    after one round to warm up."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    # What the imports and earlier rows left is no garbage: kept out of the collector's scans,
    # so that a row does not pay for the frameworks measured before it.
    gc.collect()
    gc.freeze()
    for round_number in range(repeat + 1):
        for name, run in runners.items():
            started = time.process_time()
            asyncio.run(run())
            if round_number:
                times[name].append(time.process_time() - started)
    return {name: statistics.median(spent) / tokens * 1e6 for name, spent in times.items()}


def main() -> None:
    import django
    from django.conf import settings

    settings.configure(DJANGO_STREAMING={})
    django.setup()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", choices=["pydantic-ai", "OpenAI Agents SDK", "LangGraph"])
    options = parser.parse_args()
    print(f"### Agents: server CPU per streamed token, {options.tokens} tokens a run\n")
    print("| framework | path | CPU µs/token | ratio to the framework alone |")
    print("|---|---|---:|---:|")
    frameworks = {"pydantic-ai": pydantic_ai, "OpenAI Agents SDK": openai_agents}
    frameworks["LangGraph"] = langgraph
    for framework, rows in frameworks.items():
        if options.only and framework != options.only:
            continue
        costs = cpu_per_token(rows(options.tokens), options.tokens, options.repeat)
        alone = next(iter(costs.values()))  # the first row: the framework's own iteration
        for path, cost in costs.items():
            print(f"| {framework} | {path} | {cost:.1f} | {cost / alone:.2f}x |")


if __name__ == "__main__":
    main()
