"""The example's `pydantic-ai` back-end: a pydantic-ai agent on pydantic-ai's OpenAI model,
against the fake OpenAI-compatible server (`tests/support/fake_openai.py`) under uvicorn on
loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chat.backends import get_backend
from chat.pydantic_backend import PydanticAIBackend
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
from tests.support.fake_openai import fake_openai, received
from tests.support.servers import RunningServer, uvicorn_server

renamed: list[str] = []


async def three_chats() -> int:
    return 3


async def rename_to(title: str) -> None:
    renamed.append(title)


TOOLBOX = Toolbox(count_chats=three_chats, rename_chat=rename_to)


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_openai) as server:
        yield server


async def answer(
    api: RunningServer,
    messages: list[ChatMessage],
    model: str = "agent",
    continuing: bool = False,
    timeout: float = 10.0,
) -> list[Any]:
    backend = PydanticAIBackend(base_url=f"{api.url}/v1", api_key="k", model=model, timeout=timeout)
    parts = [part async for part in backend.respond(messages, TOOLBOX, continuing)]
    assert parts[0] == Metadata({"model": model})
    assert isinstance(parts[-1], Finish)
    return parts[1:-1]


def test_chosen_by_chat_backend() -> None:
    backend = get_backend({"CHAT_BACKEND": "pydantic-ai", "OPENAI_MODEL": "m"})
    assert isinstance(backend, PydanticAIBackend)
    assert (backend.model, backend.base_url, backend.api_key) == ("m", None, "not-needed")
    with pytest.raises(ValueError, match="'pydantic-ai', not 'llama'"):
        get_backend({"CHAT_BACKEND": "llama"})


async def test_streams_the_completion(api: RunningServer) -> None:
    received.clear()
    messages = [ChatMessage("user", "Hi")]
    assert await answer(api, messages, model="good") == ["Hel", "lo ", "wörld 😀"]
    [request] = received
    assert request["stream"] is True
    assert request["messages"] == [{"role": "user", "content": "Hi"}]
    assert [tool["function"]["name"] for tool in request["tools"]] == [
        "count_chats",
        "rename_chat",
        "local_time",
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
        await answer(api, [ChatMessage("user", "Hi")], model=model)
    assert raised.value.message == message


async def test_timeout(api: RunningServer) -> None:
    with pytest.raises(ChatError, match="did not answer in time"):
        await answer(api, [ChatMessage("user", "Hi")], model="slow", timeout=0.3)


async def test_refused_connection() -> None:
    backend = PydanticAIBackend(base_url="http://127.0.0.1:9/v1", api_key="k", model="m")
    with pytest.raises(ChatError, match="connection to the model API was lost"):
        [part async for part in backend.respond([ChatMessage("user", "Hi")], TOOLBOX, False)]


async def test_a_server_tool_runs_and_the_model_gets_its_result(api: RunningServer) -> None:
    received.clear()
    parts = await answer(api, [ChatMessage("user", "count")])
    assert parts == [
        ToolInputDelta("call_1", "count_chats", "{"),
        ToolInputDelta("call_1", "count_chats", "}"),
        ToolCall("count_chats", {}, "call_1", title="Count your chats"),
        ToolResult("call_1", {"chats": 3}),
        Step(),
        'After tools: {"chats":3}',
    ]
    assert received[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"chats":3}',
    }


async def test_an_approval_ends_the_answer_and_the_approved_continuation_runs_the_tool(
    api: RunningServer,
) -> None:
    received.clear()
    parts = await answer(api, [ChatMessage("user", "rename")])
    assert parts[-2:] == [
        ToolCall("rename_chat", {"title": "Lisbon"}, "call_1", title="Rename this chat"),
        ApprovalRequest("call_1", "approval-call_1"),
    ]
    assert len(received) == 1  # it waits for the user
    approved = ChatToolCall(
        "rename_chat", "call_1", "approval-responded", {"title": "Lisbon"},
        approval=Approval("approval-call_1", approved=True),
    )  # fmt: skip
    continued = [
        ChatMessage("user", "rename"),
        ChatMessage("assistant", "", "a1", tool_calls=(approved,)),
    ]
    parts = await answer(api, continued, continuing=True)
    assert parts == [
        ToolResult("call_1", {"renamed": True, "title": "Lisbon"}),
        'After tools: {"renamed":true,"title":"Lisbon"}',
    ]
    assert renamed[-1] == "Lisbon"


async def test_a_denial_and_a_browser_tools_output_reach_the_model(api: RunningServer) -> None:
    denied = ChatToolCall(
        "rename_chat", "c1", "approval-responded", {"title": "x"},
        approval=Approval("a", approved=False, reason="no"),
    )  # fmt: skip
    local_time = ChatToolCall("local_time", "c2", "output-available", {}, {"time": "12:00"})
    continued = [
        ChatMessage("user", "rename"),
        ChatMessage("assistant", "", "a1", tool_calls=(denied, local_time)),
    ]
    parts = await answer(api, continued, continuing=True)
    assert parts == [ToolDenied("c1"), 'After tools: no | {"time":"12:00"}']  # the reason


async def test_a_browser_tool_waits_and_garbled_arguments_are_an_input_error(
    api: RunningServer,
) -> None:
    parts = await answer(api, [ChatMessage("user", "time")])
    assert parts[-1] == ToolCall("local_time", {}, "call_1", title="Your local time")
    parts = await answer(api, [ChatMessage("user", "garbled")])
    assert isinstance(parts[1], ToolInputError)
    assert (parts[1].id, parts[1].input) == ("call_1", "{not json")


async def test_images_attached_to_a_question_go_to_the_model(api: RunningServer) -> None:
    received.clear()
    image = ChatFile("image/png", "data:image/png;base64,iVBORw0KGgo=", "a.png", b"\x89PNG")
    await answer(api, [ChatMessage("user", "what is this", files=(image,))])
    assert received[0]["messages"][-1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
    ]
