"""What every adapter shares: choosing one by the agent's package, and settling calls on failure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import AsyncClient
from django.urls import path
from pytest_django.fixtures import Settings

from django_streaming import ChatStreamView
from django_streaming.agents import ADAPTERS, adapter_for, stream_agent
from django_streaming.agents.base import UNSETTLED_TEXT, settle_on_failure
from django_streaming.chat.parts import (
    ChatPart,
    ToolCall,
    ToolError,
    ToolInputDelta,
    ToolResult,
)
from tests.agents.fake_adapter import ScriptedAgent
from tests.support.chat import response_parts


def made_in(package: str) -> object:
    """An object whose class comes from ``package`` (no framework is imported to tell)."""
    cls = type("Agent", (), {"__module__": f"{package}.agent"})
    subclass = type("MyAgent", (cls,), {"__module__": "myproject.agents"})
    return subclass()


@pytest.mark.parametrize(
    ("package", "adapter"),
    [
        ("pydantic_ai", "django_streaming.agents.pydantic_ai"),
        ("agents", "django_streaming.agents.openai_agents"),
        ("langgraph", "django_streaming.agents.langgraph"),
        ("somethingelse", None),
    ],
)
def test_the_adapter_is_chosen_by_the_package_of_the_agents_class(
    package: str, adapter: str | None
) -> None:
    assert adapter_for(made_in(package)) == adapter


async def test_an_agent_no_adapter_serves_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match=r"No adapter serves MyAgent: use a pydantic_ai\.Agent"):
        await anext(stream_agent(made_in("somethingelse"), None))  # type: ignore[arg-type]


async def run_that_fails() -> AsyncIterator[ChatPart]:
    yield ToolInputDelta("streaming", "search", '{"q": ')
    yield ToolCall("search", {}, "called")
    yield ToolCall("search", {}, "answered")
    yield ToolResult("answered", {"hits": 1}, preliminary=True)
    yield ToolCall("search", {}, "done")
    yield ToolResult("done", {"hits": 2})
    raise RuntimeError("the model went away")


async def test_a_failed_run_settles_the_calls_it_left_without_an_outcome() -> None:
    seen: list[ChatPart] = []

    async def collect() -> None:
        async for part in settle_on_failure(run_that_fails()):
            seen.append(part)

    with pytest.raises(RuntimeError, match="the model went away"):
        await collect()
    errors = [part for part in seen if isinstance(part, ToolError)]
    assert errors == [
        ToolError("streaming", UNSETTLED_TEXT),
        ToolError("called", UNSETTLED_TEXT),
        ToolError("answered", UNSETTLED_TEXT),  # a preliminary result is no outcome
    ]


async def test_a_run_that_ends_well_settles_nothing() -> None:
    async def fine() -> AsyncIterator[ChatPart]:
        yield ToolCall("local_time", {}, "waits-for-the-browser")
        yield "ok"

    assert [part async for part in settle_on_failure(fine())] == [
        ToolCall("local_time", {}, "waits-for-the-browser"),
        "ok",
    ]


class ViewWithAnAgent(ChatStreamView):
    # Per request, not as ``agent``: the system check would find no adapter for this class
    # outside the tests that register one.
    def get_agent(self) -> ScriptedAgent:
        return ScriptedAgent("Trip")

    def agent_kwargs(self) -> dict[str, Any]:
        return {"deps": "the user's"}


urlpatterns = [path("agent/", ViewWithAnAgent.as_view())]


@pytest.fixture
def scripted_adapter(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.ROOT_URLCONF = __name__
    monkeypatch.setitem(ADAPTERS, "tests", "tests.agents.fake_adapter")


async def post(client: AsyncClient, messages: list[dict[str, Any]]) -> list[Any]:
    response = await client.post(
        "/agent/",
        data=json.dumps({"id": "c1", "messages": messages}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return await response_parts(response)


@pytest.mark.usefixtures("scripted_adapter")
@pytest.mark.parametrize("approved", [True, False])
async def test_a_view_streams_its_agent_and_the_state_it_kept_comes_back(approved: bool) -> None:
    client = AsyncClient()
    question = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "rename"}]}
    first = await post(client, [question])
    assert {
        "type": "text-delta",
        "id": "text-1",
        "delta": "asked with {'deps': \"the user's\"}",
    } in first
    assert {"type": "finish", "finishReason": "tool-calls"} in first
    answer = {
        "id": first[0]["messageId"],
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "text", "text": "asked with {'deps': \"the user's\"}", "state": "done"},
            {
                "type": "tool-rename_chat",
                "toolCallId": "call-1",
                "state": "approval-responded",
                "input": {"title": "Trip"},
                "approval": {"id": "approval-1", "approved": approved},
            },
        ],
    }
    second = await post(client, [question, answer])
    outcome = (
        {"type": "tool-output-available", "toolCallId": "call-1", "output": {"renamed": "Trip"}}
        if approved
        else {"type": "tool-output-denied", "toolCallId": "call-1"}
    )
    assert outcome in second
    texts = [part["delta"] for part in second[:-1] if part["type"] == "text-delta"]
    assert texts == ["kept: Trip, same chat: True"]


async def test_a_view_without_generate_or_agent_says_which_to_write(settings: Settings) -> None:
    settings.ROOT_URLCONF = __name__

    class Bare(ChatStreamView):
        pass

    view = Bare()
    with pytest.raises(NotImplementedError, match="must define generate\\(\\) or agent"):
        await anext(view.generate([]))
