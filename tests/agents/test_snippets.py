"""The `generate()` of each model SDK in the docs (`docs/snippets/*_generate.py`), run as it
stands there against the fake APIs: a tool over two model calls."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType

import pytest

from django_streaming import (
    ChatMessage,
    Finish,
    Metadata,
    Step,
    ToolCall,
    ToolInputDelta,
    ToolResult,
)
from django_streaming.chat.parts import ChatPart
from tests.support import fake_anthropic, fake_openai
from tests.support.docs import DOCS
from tests.support.servers import RunningServer, uvicorn_server

WEATHER = {"city": "Paris", "sky": "clear"}


def snippet(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / "snippets" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def answer(module: ModuleType, question: str) -> list[ChatPart]:
    return [part async for part in module.Chat().generate([ChatMessage("user", question)])]


@pytest.fixture(scope="module")
def openai_api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_openai.fake_openai) as server:
        yield server


@pytest.fixture(scope="module")
def anthropic_api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_anthropic.fake_anthropic) as server:
        yield server


async def test_the_openai_snippet(
    openai_api: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{openai_api.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    module = snippet("openai_generate")
    monkeypatch.setattr(module, "MODEL", "agent")  # the fake's model that calls a tool
    fake_openai.received.clear()
    output = {"city": "", "sky": "clear"}  # the fake calls count_chats, without a city
    assert await answer(module, "count") == [
        Metadata({"model": "agent"}),
        ToolInputDelta("call_1", "count_chats", "{"),
        ToolInputDelta("call_1", "count_chats", "}"),
        ToolCall("count_chats", {}, "call_1"),
        ToolResult("call_1", output),
        Step(),
        Metadata({"model": "agent"}),
        f"After tools: {json.dumps(output)}",
        Finish("stop"),
    ]
    first, second = fake_openai.received
    assert first["messages"][0] == {"role": "system", "content": "Be brief."}
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
         "function": {"name": "count_chats", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(output)},
    ]  # fmt: skip


async def test_the_anthropic_snippet(
    anthropic_api: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_api.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    module = snippet("anthropic_generate")
    monkeypatch.setattr(module, "MODEL", "claude-agent")
    fake_anthropic.received.clear()
    usage = {"inputTokens": 10, "outputTokens": 7, "totalTokens": 17, "cachedInputTokens": 0}
    assert await answer(module, "Weather in Paris?") == [
        Metadata({"model": "claude-fake-1"}),
        "Let me look.",
        ToolInputDelta("toolu_9", "weather", '{"city": '),
        ToolInputDelta("toolu_9", "weather", '"Paris"}'),
        ToolCall("weather", {"city": "Paris"}, "toolu_9"),
        ToolResult("toolu_9", WEATHER),
        Step(),
        Metadata({"model": "claude-fake-1"}),
        f"After tools: {json.dumps(WEATHER)}",
        Finish("stop", {"usage": usage}),
    ]
    first, second = fake_anthropic.received
    assert first["system"] == "Be brief."
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_9", "content": json.dumps(WEATHER)},
        ]},
    ]  # fmt: skip
