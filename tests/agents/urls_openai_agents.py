"""Views that answer with an OpenAI Agents SDK agent whose model is the fake Responses API
(`tests/support/fake_openai.py`), for tests/interop/test_openai_agents.py."""

from __future__ import annotations

from typing import Any, ClassVar

from agents import Agent, OpenAIResponsesModel, function_tool
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from openai import AsyncOpenAI

from django_streaming import ChatResult, ChatStreamView

#: The fake API's address (set by the tests), and its one client on the server's loop.
api: dict[str, Any] = {}
#: What on_finish() got, by chat id.
results: dict[str, list[ChatResult]] = {}


@function_tool
def search(query: str) -> dict[str, int]:
    """Search the web."""
    return {"hits": 2}


@function_tool
def explode() -> str:
    """A tool that fails."""
    raise RuntimeError("a secret detail")


@function_tool(needs_approval=True)
def rename_chat(title: str) -> dict[str, str]:
    """Rename the chat (the user approves it first)."""
    return {"title": title}


@function_tool(needs_approval=True)
def archive_chat() -> dict[str, bool]:
    """Archive the chat (the user approves it first)."""
    return {"archived": True}


class AgentChat(ChatStreamView):
    #: The fake model's behaviour (``agent``: by the question; ``text``, ``wait``...).
    model: ClassVar[str] = "agent"

    def get_agent(self) -> Agent[Any]:
        if "client" not in api:
            api["client"] = AsyncOpenAI(base_url=f"{api['url']}/v1", api_key="x", max_retries=0)
        model = OpenAIResponsesModel(self.model, api["client"])
        return Agent(
            name="assistant", model=model, tools=[search, explode, rename_chat, archive_chat]
        )

    async def on_finish(self, result: ChatResult) -> None:
        results.setdefault(result.chat_id or "-", []).append(result)


urlpatterns = [
    path("agent/", csrf_exempt(AgentChat.as_view())),
    path("text/", csrf_exempt(AgentChat.as_view(model="text"))),
    path("wait/", csrf_exempt(AgentChat.as_view(model="wait"))),
]
