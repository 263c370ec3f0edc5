"""The example's `openai` back-end, driven by the real `openai` client against a fake
OpenAI-compatible server (`tests/support/fake_openai.py`) under uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chat.backends import OpenAIBackend, SimulatedBackend, get_backend
from chat.tools import Toolbox
from django_streaming import (
    Approval,
    ApprovalRequest,
    ChatError,
    ChatFile,
    ChatMessage,
    ChatToolCall,
    Finish,
    Metadata,
    Step,
    ToolCall,
    ToolDenied,
    ToolInputDelta,
    ToolInputError,
    ToolResult,
)
from django_streaming.agents.sdk import NOT_AN_OBJECT
from tests.support.fake_openai import fake_openai, received
from tests.support.servers import RunningServer, uvicorn_server

#: What each model call of the fake's agent model starts with.
MODEL = Metadata({"model": "agent"})


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_openai) as server:
        yield server


async def answer(api: RunningServer, model: str, timeout: float = 10.0) -> str:
    backend = OpenAIBackend(base_url=f"{api.url}/v1", api_key="k", model=model, timeout=timeout)
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]
    parts = [part async for part in backend.respond(messages, TOOLBOX, False)]
    return "".join(part for part in parts if isinstance(part, str))


async def test_streams_the_completion(api: RunningServer) -> None:
    assert await answer(api, "good") == "Hello wörld 😀"
    assert received[-1]["stream"] is True
    assert received[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("unauthorized", "The model API refused our key (401): check OPENAI_API_KEY."),
        ("ratelimited", "The model API is rate-limited (429); try again in a minute."),
        ("broken", "The model API failed (500)."),
        ("drop", "The connection to the model API was lost."),
    ],
)
async def test_api_failures_become_clear_chat_errors(
    api: RunningServer, model: str, message: str
) -> None:
    with pytest.raises(ChatError) as raised:
        await answer(api, model)
    assert raised.value.message == message


async def test_timeout(api: RunningServer) -> None:
    with pytest.raises(ChatError, match="did not answer in time"):
        await answer(api, "slow", timeout=0.3)


async def test_refused_connection() -> None:
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1", api_key="k", model="m")
    with pytest.raises(ChatError, match="connection to the model API was lost"):
        [part async for part in backend.respond([ChatMessage("user", "Hi")], TOOLBOX, False)]


def test_backend_choice() -> None:
    assert isinstance(get_backend({}), SimulatedBackend)
    assert isinstance(get_backend({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}), OpenAIBackend)
    explicit = get_backend({"CHAT_BACKEND": "simulated", "OPENAI_API_KEY": "k"})
    assert isinstance(explicit, SimulatedBackend)
    with pytest.raises(ValueError, match="CHAT_BACKEND must be 'simulated' or 'openai'"):
        get_backend({"CHAT_BACKEND": "llama"})


async def test_simulated_answers_depend_on_the_question() -> None:
    backend = SimulatedBackend(tokens_per_second=0)
    first = "".join([t async for t in backend.stream([ChatMessage("user", "What is SSE?")])])
    again = "".join([t async for t in backend.stream([ChatMessage("user", "What is SSE?")])])
    other = "".join([t async for t in backend.stream([ChatMessage("user", "Tell me a joke")])])
    assert first == again
    assert first != other
    for feature in ["## About", "```", "| 你好 |", "1. Step 1", "🚀"]:
        assert feature in first


renamed: list[str] = []


async def three_chats() -> int:
    return 3


async def rename_to(title: str) -> None:
    renamed.append(title)


TOOLBOX = Toolbox(count_chats=three_chats, rename_chat=rename_to)


async def agent_answer(
    api: RunningServer, messages: list[ChatMessage], continuing: bool = False
) -> list[Any]:
    backend = OpenAIBackend(base_url=f"{api.url}/v1", api_key="k", model="agent")
    return [part async for part in backend.respond(messages, TOOLBOX, continuing)]


async def test_a_server_tool_runs_and_the_model_gets_its_result(api: RunningServer) -> None:
    received.clear()
    parts = await agent_answer(api, [ChatMessage("user", "count")])
    assert parts == [
        MODEL,
        ToolInputDelta("call_1", "count_chats", "{"),
        ToolInputDelta("call_1", "count_chats", "}"),
        ToolCall("count_chats", {}, "call_1", title="Count your chats"),
        ToolResult("call_1", {"chats": 3}),
        Step(),
        MODEL,
        'After tools: {"chats": 3}',
        Finish("stop"),  # the last model call's
    ]
    first, second = received
    assert [tool["function"]["name"] for tool in first["tools"]] == [
        "count_chats",
        "rename_chat",
        "local_time",
    ]
    assert second["messages"][-2]["tool_calls"][0]["function"] == {
        "name": "count_chats",
        "arguments": "{}",
    }
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"chats": 3}',
    }


async def test_an_approval_stops_the_loop_and_the_approved_continuation_runs_the_tool(
    api: RunningServer,
) -> None:
    received.clear()
    parts = await agent_answer(api, [ChatMessage("user", "rename")])
    request = parts[-2]
    assert isinstance(request, ApprovalRequest)
    assert parts[-3:] == [
        ToolCall("rename_chat", {"title": "Lisbon"}, "call_1", title="Rename this chat"),
        ApprovalRequest("call_1", request.approval_id),
        Finish("tool-calls"),
    ]
    assert len(received) == 1  # it waits for the user
    answered = ChatToolCall(
        "rename_chat", "call_1", "approval-responded", {"title": "Lisbon"},
        approval=Approval(request.approval_id, approved=True),
    )  # fmt: skip
    continued = [
        ChatMessage("user", "rename"),
        ChatMessage("assistant", "", "a1", tool_calls=(answered,)),
    ]
    parts = await agent_answer(api, continued, continuing=True)
    assert parts == [
        ToolResult("call_1", {"renamed": True, "title": "Lisbon"}),
        Step(),
        MODEL,
        'After tools: {"renamed": true, "title": "Lisbon"}',
        Finish("stop"),
    ]
    assert renamed[-1] == "Lisbon"


async def test_a_denied_approval_and_a_browser_tools_output_reach_the_model(
    api: RunningServer,
) -> None:
    denied = ChatToolCall(
        "rename_chat", "c1", "approval-responded", {"title": "x"},
        approval=Approval("a", approved=False, reason="no"),
    )  # fmt: skip
    local_time = ChatToolCall("local_time", "c2", "output-available", {}, {"time": "12:00"})
    continued = [
        ChatMessage("user", "rename"),
        ChatMessage("assistant", "", "a1", tool_calls=(denied, local_time)),
    ]
    parts = await agent_answer(api, continued, continuing=True)
    assert parts[0] == ToolDenied("c1")
    assert parts[-2] == 'After tools: {"denied": true, "reason": "no"} | {"time": "12:00"}'


async def test_a_browser_tool_waits_and_garbled_arguments_are_an_input_error(
    api: RunningServer,
) -> None:
    parts = await agent_answer(api, [ChatMessage("user", "time")])
    assert parts[-2:] == [
        ToolCall("local_time", {}, "call_1", title="Your local time"),
        Finish("tool-calls"),
    ]
    parts = await agent_answer(api, [ChatMessage("user", "garbled")])
    assert parts[2] == ToolInputError("call_1", "count_chats", "{not json", NOT_AN_OBJECT)
    assert parts[-2] == f"After tools: {NOT_AN_OBJECT}"


async def test_images_attached_to_a_question_go_to_the_model(api: RunningServer) -> None:
    received.clear()
    image = ChatFile(
        "image/png", "data:image/png;base64,iVBORw0KGgo=", "a.png", b"\x89PNG\r\n\x1a\n"
    )
    await agent_answer(api, [ChatMessage("user", "what is this", files=(image,))])
    assert received[0]["messages"][-1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
