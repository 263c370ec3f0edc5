"""The ``pydantic-ai`` back-end (``CHAT_BACKEND=pydantic-ai``): the example's three tools as a
pydantic-ai ``Agent`` on any OpenAI-compatible API (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``,
``OPENAI_MODEL``, as the ``openai`` back-end reads them), streamed by django-streaming's
pydantic-ai adapter.

``count_chats`` runs on the server; ``rename_chat`` needs the user's approval
(``requires_approval=True``); ``local_time`` is the browser's (an ``ExternalToolset``, the
schema of ``tools.SCHEMAS``). The run is rebuilt from the conversation on each request: after
an approval or a browser tool's output, the last message is the server's own, with the user's
verified answers (``ChatStreamView`` checks them before ``generate()`` runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from django_streaming import ChatError, ChatMessage, ChatPart, ToolCall
from django_streaming.agents import AgentRun
from django_streaming.agents.base import settle_on_failure
from django_streaming.agents.pydantic_ai import stream

from .backends import ApiBackend
from .tools import SCHEMAS, TITLES, Toolbox

DESCRIPTIONS = {schema["function"]["name"]: schema["function"]["description"] for schema in SCHEMAS}


class PydanticAIBackend(ApiBackend):
    async def respond(
        self, messages: list[ChatMessage], toolbox: Toolbox, continuing: bool
    ) -> AsyncIterator[ChatPart]:
        """The agent's answer to ``messages``, its tools acting through ``toolbox``."""
        import openai

        # A client per answer, closed with it: its connections belong to this event loop.
        client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        )
        run = AgentRun(messages, continuing, key="")
        async with client:
            agent = self.agent(client, toolbox)
            async for part in guarded(settle_on_failure(stream(agent, run))):
                if isinstance(part, ToolCall) and part.name in TITLES:
                    part = dataclasses.replace(part, title=TITLES[part.name])
                yield part

    def agent(self, client: Any, toolbox: Toolbox) -> Any:
        """The agent for one answer: its tools act through ``toolbox``."""
        from pydantic_ai import Agent, ExternalToolset, Tool
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider
        from pydantic_ai.tools import ToolDefinition

        async def count_chats() -> Any:
            return await toolbox.run("count_chats", {})

        async def rename_chat(title: str) -> Any:
            return await toolbox.run("rename_chat", {"title": title})

        schema = next(s["function"] for s in SCHEMAS if s["function"]["name"] == "local_time")
        local_time = ToolDefinition(
            name="local_time",
            parameters_json_schema=schema["parameters"],
            description=schema["description"],
        )
        model = OpenAIChatModel(self.model, provider=OpenAIProvider(openai_client=client))
        return Agent(
            model,
            tools=[
                Tool(count_chats, description=DESCRIPTIONS["count_chats"]),
                Tool(rename_chat, description=DESCRIPTIONS["rename_chat"], requires_approval=True),
            ],
            toolsets=[ExternalToolset([local_time])],
        )


async def guarded(parts: AsyncIterator[ChatPart]) -> AsyncIterator[ChatPart]:
    """``parts``, with the API's failures as ``ChatError``s the user may read."""
    import openai
    from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError

    try:
        async for part in parts:
            yield part
    except ModelHTTPError as error:
        if error.status_code == 401:
            raise ChatError("The model API refused our key (401): check OPENAI_API_KEY.") from None
        if error.status_code == 429:
            raise ChatError("The model API is rate-limited (429); try again in a minute.") from None
        raise ChatError(f"The model API failed ({error.status_code}).") from None
    except ModelAPIError as error:  # the openai client's own error is its cause
        if isinstance(error.__cause__, openai.APITimeoutError):
            raise ChatError("The model API did not answer in time.") from None
        raise ChatError("The connection to the model API was lost.") from None
