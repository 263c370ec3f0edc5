"""The pydantic-ai adapter, one mapping per test, through ``ChatStreamView.agent`` with
pydantic-ai's own offline models (``FunctionModel``, ``TestModel``): what the client gets, and
what the model was sent."""

from __future__ import annotations

import base64
import copy
import json
import sys
from typing import Any

import pytest
from django.test import AsyncClient
from pydantic import BaseModel
from pydantic_ai import Agent, BinaryContent, DeferredToolRequests, ImageUrl
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import (
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.test import TestModel
from pytest_django.fixtures import Settings

from django_streaming import ChatMessage, ChatToolCall, Metadata, ToolCall, ToolResult
from django_streaming.agents import AgentRun
from django_streaming.agents.pydantic_ai import stream
from tests.agents import urls_pydantic_ai
from tests.agents.urls_pydantic_ai import kept, renamed, results, seen
from tests.support.chat import response_parts

client = AsyncClient()


@pytest.fixture(autouse=True)
def _urls(settings: Settings) -> None:
    global client
    settings.ROOT_URLCONF = urls_pydantic_ai.__name__
    client = AsyncClient()  # one visitor per test: the chat's pending calls are theirs
    for recorded in (seen, renamed, results, kept):
        recorded.clear()


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"u-{text}", "role": "user", "parts": [{"type": "text", "text": text}], **extra}


async def post(*messages: dict[str, Any], url: str = "/pydantic-ai/", chat: str = "c1") -> Any:
    body = json.dumps({"id": chat, "messages": list(messages)})
    return await client.post(url, data=body, content_type="application/json")


async def answer(
    *messages: dict[str, Any], url: str = "/pydantic-ai/", chat: str = "c1"
) -> list[Any]:
    response = await post(*messages, url=url, chat=chat)
    assert response.status_code == 200, response.content
    return await response_parts(response)


def kinds(got: list[Any], *types: str) -> list[Any]:
    return [part for part in got if part != "[DONE]" and part["type"] in types]


def text(got: list[Any]) -> str:
    return "".join(part["delta"] for part in kinds(got, "text-delta"))


def answered(message: dict[str, Any], **answers: Any) -> dict[str, Any]:
    """The assistant's message as the client sends it back: an approval's decision (True,
    False, or (False, reason)), or a browser tool's output ({"output": ...} or
    {"errorText": ...}), by call id."""
    message = copy.deepcopy(message)
    for part in message["parts"]:
        decision = answers.get(part.get("toolCallId", ""))
        if decision is None:
            continue
        if part["state"] == "approval-requested":
            approved, reason = decision if isinstance(decision, tuple) else (decision, None)
            part["approval"] |= {"approved": approved} | ({"reason": reason} if reason else {})
            part["state"] = "approval-responded"
        elif "output" in decision:
            part |= {"state": "output-available", "output": decision["output"]}
        else:
            part |= {"state": "output-error", "errorText": decision["errorText"]}
    return message


async def test_text_with_the_model_name_first_and_the_usage_last() -> None:
    got = await answer(user("hello"))
    assert got[1:] == [
        {"type": "start-step"},
        {"type": "message-metadata", "messageMetadata": {"model": "scripted"}},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hello, "},
        {"type": "text-delta", "id": "text-1", "delta": "world."},
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {
            "type": "finish",
            "finishReason": "stop",
            "messageMetadata": {"usage": {"inputTokens": 50, "outputTokens": 4, "totalTokens": 54}},
        },
        "[DONE]",
    ]
    [request] = seen[0]
    assert [(p.part_kind, p.content) for p in request.parts] == [("user-prompt", "hello")]


async def test_thinking_is_reasoning() -> None:
    got = await answer(user("think"))
    assert [part["delta"] for part in kinds(got, "reasoning-delta")] == ["Let me ", "think."]
    assert text(got) == "Thought."


async def test_a_server_tool_with_its_arguments_streamed_then_a_step_for_the_next_request() -> None:
    got = await answer(user("search"))
    assert kinds(got, "tool-input-start", "tool-input-delta", "tool-input-available") == [
        {"type": "tool-input-start", "toolCallId": "call-s", "toolName": "search"},
        {"type": "tool-input-delta", "toolCallId": "call-s", "inputTextDelta": '{"query": '},
        {"type": "tool-input-delta", "toolCallId": "call-s", "inputTextDelta": '"django"}'},
        {
            "type": "tool-input-available",
            "toolCallId": "call-s",
            "toolName": "search",
            "input": {"query": "django"},
        },
    ]
    types = [part["type"] for part in got[:-1]]
    output = types.index("tool-output-available")
    assert types[output : output + 3] == ["tool-output-available", "finish-step", "start-step"]
    assert got[output]["output"] == {"hits": 2}
    assert text(got) == "Let me look.Found 2."
    assert types.count("start-step") == 2  # two model requests, two steps


@pytest.mark.parametrize(
    ("question", "error"),
    [("fail", "The index is down."), ("gone", "The index is gone.")],  # ModelRetry, ToolFailed
)
async def test_a_tool_that_failed_is_a_tool_error(question: str, error: str) -> None:
    got = await answer(user(question))
    [failed] = kinds(got, "tool-output-error")
    assert failed["errorText"] == error
    assert kinds(got, "tool-input-available")  # the call was made: its tool ran
    assert text(got) == "The search failed."


@pytest.mark.parametrize(
    ("question", "arguments", "error"),
    [
        ("refuse", {"q": 1}, "query: Field required\nq: Extra inputs are not permitted"),
        ("garbled", '{"query": oops', "input: Invalid JSON: expected value at line 1 column 11"),
    ],
)
async def test_arguments_the_tool_refused_are_a_tool_input_error_then_the_retry(
    question: str, arguments: Any, error: str
) -> None:
    got = await answer(user(question))
    [refused] = kinds(got, "tool-input-error")
    assert refused == {
        "type": "tool-input-error",
        "toolCallId": "call-bad",
        "toolName": "search",
        "input": arguments,
        "errorText": error,
    }
    assert [p["toolCallId"] for p in kinds(got, "tool-input-available")] == ["call-s2"]
    assert text(got) == "Found 2."


async def test_an_approval_ends_the_answer_and_keeps_the_run() -> None:
    got = await answer(user("rename"))
    assert kinds(got, "tool-approval-request") == [
        {"type": "tool-approval-request", "approvalId": "approval-call-r", "toolCallId": "call-r"}
    ]
    assert kinds(got, "finish")[0]["finishReason"] == "tool-calls"
    assert renamed == []
    state = kept[-1]  # what the view keeps with the pending answer (JSON, in the store)
    assert json.loads(json.dumps(state)) == state
    assert (state["approvals"], state["calls"]) == (["call-r"], [])
    assert [message["kind"] for message in state["messages"]] == ["request", "response"]


async def test_approved_the_run_goes_on_in_the_same_message() -> None:
    await answer(user("rename"))
    first = results[-1].message
    got = await answer(user("rename"), answered(first, **{"call-r": True}))
    assert got[0] == {"type": "start", "messageId": first["id"]}
    assert kinds(got, "tool-output-available") == [
        {"type": "tool-output-available", "toolCallId": "call-r", "output": {"title": "Lisbon"}}
    ]
    assert text(got) == "Renamed."
    assert renamed == ["Lisbon"]
    # No empty step: the result fills in the call's part; the model's answer is this step.
    assert [part["type"] for part in got[:-1]].count("start-step") == 1
    # The model got the run as it was kept, its own response and all.
    *_, response, request = seen[-1]
    assert isinstance(response, ModelResponse)
    assert response.model_name == "scripted"
    assert [(p.tool_call_id, p.outcome) for p in request.parts] == [("call-r", "success")]
    assert [p["type"] for p in results[-1].message["parts"]] == [
        "step-start",
        "tool-rename_chat",
        "step-start",
        "text",
    ]


async def test_denied_the_model_is_told_why() -> None:
    await answer(user("rename"))
    first = results[-1].message
    got = await answer(user("rename"), answered(first, **{"call-r": (False, "not now")}))
    assert kinds(got, "tool-output-denied") == [
        {"type": "tool-output-denied", "toolCallId": "call-r"}
    ]
    assert text(got) == "Left as it is."
    assert renamed == []
    [denial] = seen[-1][-1].parts
    assert isinstance(denial, ToolReturnPart)
    assert (denial.outcome, denial.content) == ("denied", "not now")


async def test_two_approvals_in_one_message_one_approved_one_denied_and_one_unanswered() -> None:
    await answer(user("rename both"))
    first = results[-1].message
    got = await answer(user("rename both"), answered(first, **{"call-a": True, "call-b": False}))
    assert kinds(got, "tool-output-available", "tool-output-denied") == [
        {"type": "tool-output-denied", "toolCallId": "call-b"},  # pydantic-ai's order
        {"type": "tool-output-available", "toolCallId": "call-a", "output": {"title": "A"}},
    ]
    assert text(got) == (
        "call-a: success ({'title': 'A'}) call-b: denied (The user denied this tool call.)"
    )
    # A continuation may answer some calls only: the model hears the others went unanswered.
    await answer(user("rename both"), chat="c2")
    partly = answered(results[-1].message, **{"call-a": True})
    got = await answer(user("rename both"), partly, chat="c2")
    assert kinds(got, "tool-output-denied") == [
        {"type": "tool-output-denied", "toolCallId": "call-b"}
    ]
    assert "call-b: denied (The user did not answer the approval request.)" in text(got)


async def test_a_forged_approval_is_refused() -> None:
    await answer(user("rename"))
    forged = answered(results[-1].message, **{"call-r": True})
    forged["parts"][-1]["toolCallId"] = "call-other"
    response = await post(user("rename"), forged)
    assert (response.status_code, response.json()["error"]["code"]) == (
        400,
        "invalid_continuation",
    )
    assert renamed == []


async def test_a_browser_tool_is_left_to_the_browser_whose_output_continues_the_run() -> None:
    got = await answer(user("time"))
    assert kinds(got, "tool-input-available")[0]["toolName"] == "local_time"
    assert not kinds(got, "tool-approval-request", "tool-output-available")
    assert kinds(got, "finish")[0]["finishReason"] == "tool-calls"
    first = results[-1].message
    got = await answer(user("time"), answered(first, **{"call-t": {"output": {"time": "12:34"}}}))
    assert not kinds(got, "tool-output-available")  # the client has it: no second copy
    assert text(got) == "It is 12:34."


async def test_a_browser_tool_error_reaches_the_model() -> None:
    await answer(user("time"))
    first = results[-1].message
    got = await answer(user("time"), answered(first, **{"call-t": {"errorText": "No clock."}}))
    assert not kinds(got, "tool-output-error")
    assert text(got) == "No time: No clock."


async def test_a_server_tool_and_a_browser_tool_in_one_step() -> None:
    await answer(user("search and time"))
    first = results[-1].message
    answer_back = answered(first, **{"call-t2": {"output": {"time": "9:00"}}})
    got = await answer(user("search and time"), answer_back)
    assert text(got) == "Found 2. It is 9:00."


async def test_without_the_kept_run_the_conversation_rebuilds_it() -> None:
    """``verify_continuations = False`` keeps nothing: the client's message is the run."""
    url = "/pydantic-ai-unverified/"
    await answer(user("rename both"), url=url)
    first = results[-1].message
    got = await answer(
        user("rename both"), answered(first, **{"call-a": True, "call-b": False}), url=url
    )
    assert text(got) == (
        "call-a: success ({'title': 'A'}) call-b: denied (The user denied this tool call.)"
    )
    *_, response, _ = seen[-1]
    assert isinstance(response, ModelResponse)
    assert response.model_name is None  # rebuilt
    assert [p.tool_call_id for p in response.parts if isinstance(p, ToolCallPart)] == [
        "call-a",
        "call-b",
    ]
    # A browser tool's output is in the rebuilt history; the tool call the server ran too.
    await answer(user("search and time"), url=url)
    first = results[-1].message
    answer_back = answered(first, **{"call-t2": {"output": {"time": "9:00"}}})
    got = await answer(user("search and time"), answer_back, url=url)
    assert text(got) == "Found 2. It is 9:00."


async def test_the_history_goes_to_the_model_in_its_own_format() -> None:
    earlier = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "hidden"},
            {"type": "text", "text": "Looking."},
            {"type": "tool-search", "toolCallId": "h1", "state": "output-available",
             "input": {"query": "a"}, "output": {"hits": 1}},
            {"type": "tool-search", "toolCallId": "h2", "state": "output-error",
             "input": {"query": "b"}, "errorText": "down"},
            {"type": "tool-rename_chat", "toolCallId": "h3", "state": "output-denied",
             "input": {"title": "x"}, "approval": {"id": "p", "approved": False}},
            {"type": "tool-search", "toolCallId": "h4", "state": "input-available",
             "input": {"query": "dangling"}},
            {"type": "tool-search", "toolCallId": "h5", "state": "output-available",
             "input": {}, "output": 1, "providerExecuted": True},
            {"type": "step-start"},
            {"type": "text", "text": "Found 1."},
        ],
    }  # fmt: skip
    plain = {"role": "assistant", "content": "Plain."}
    await answer(user("first"), earlier, user("second"), plain, user("hello"))
    history = seen[0]
    assert [type(message).__name__ for message in history] == [
        "ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse",
        "ModelRequest", "ModelResponse", "ModelRequest",
    ]  # fmt: skip
    said = history[1].parts
    assert said[0] == TextPart("Looking.")
    calls = [(p.tool_call_id, p.args) for p in said[1:]]
    assert calls == [("h1", {"query": "a"}), ("h2", {"query": "b"}), ("h3", {"title": "x"})]
    outcomes = [(p.tool_call_id, p.outcome, p.content) for p in history[2].parts]
    assert outcomes == [
        ("h1", "success", {"hits": 1}),
        ("h2", "failed", "down"),
        ("h3", "denied", "The user denied this tool call."),
    ]
    assert history[3].parts == [TextPart("Found 1.")]
    assert history[5].parts == [TextPart("Plain.")]


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


async def test_files_go_as_bytes_and_remote_ones_only_when_allowed() -> None:
    files = [
        {"type": "file", "mediaType": "image/png", "url": f"data:image/png;base64,{PNG}"},
        {"type": "file", "mediaType": "image/png", "url": "https://files.example/a.png"},
        {"type": "file", "mediaType": "image/png", "url": "https://elsewhere.example/b.png"},
    ]
    message = user("hello")
    message["parts"] += files
    await answer(message)
    [prompt] = seen[0][0].parts
    assert isinstance(prompt, UserPromptPart)
    assert prompt.content == [
        "hello",
        BinaryContent(b"\x89PNG\r\n\x1a\n", media_type="image/png"),
        ImageUrl("https://files.example/a.png", media_type="image/png"),
    ]
    only_a_file = {"id": "u2", "role": "user", "parts": files[:1]}
    await answer(only_a_file)
    assert seen[-1][0].parts[0].content == [
        BinaryContent(b"\x89PNG\r\n\x1a\n", media_type="image/png")
    ]


async def test_a_failing_run_settles_its_calls_and_the_error_goes_on() -> None:
    got = await answer(user("explode"))
    assert got[-3:] == [
        {
            "type": "tool-output-error",
            "toolCallId": "call-e",
            "errorText": "The tool call did not finish: the answer failed.",
        },
        {"type": "error", "errorText": "The answer failed on the server."},
        "[DONE]",
    ]
    assert isinstance(results[-1].error, RuntimeError)


class Report(BaseModel):
    title: str


async def test_structured_output_and_an_agent_that_allows_deferred_requests_itself() -> None:
    """An agent with output validators cannot take a run's ``output_type``: one that lists
    ``DeferredToolRequests`` itself runs as it is."""
    agent: Agent[None, Report | DeferredToolRequests] = Agent(
        TestModel(call_tools=[]), output_type=[Report, DeferredToolRequests]
    )

    @agent.output_validator
    def keep(output: Report | DeferredToolRequests) -> Report | DeferredToolRequests:
        return output

    run = AgentRun(messages=[ChatMessage("user", "report")], continuation=False, key="k")
    got = [part async for part in stream(agent, run)]
    [call] = [part for part in got if isinstance(part, ToolCall)]
    assert (call.name, call.input) == ("final_result", {"title": "a"})
    assert isinstance(got[-2], ToolResult)


async def test_the_model_named_in_the_runs_arguments() -> None:
    agent: Agent[None, str] = Agent()
    kwargs = {"model": "test"}  # a view's agent_kwargs()
    run = AgentRun([ChatMessage("user", "hi")], continuation=False, key="k", kwargs=kwargs)
    got = [part async for part in stream(agent, run)]
    assert got[0] == Metadata({"model": "test"})
    assert got[0].provider is None  # a bare name says none
    assert got[1:-1] == ["success ", "(no ", "tool ", "calls)"]


async def test_without_pydantic_ai_an_import_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pydantic_ai", None)
    run = AgentRun(messages=[ChatMessage("user", "hi")], continuation=False, key="k")
    with pytest.raises(ImportError, match=r"pip install django-streaming\[pydantic-ai\]"):
        [part async for part in stream(object(), run)]  # type: ignore[arg-type]


async def test_a_system_message_the_view_trusts_goes_to_the_model() -> None:
    agent = urls_pydantic_ai.scripted_agent()
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "hello")]
    run = AgentRun(messages, continuation=False, key="k")
    assert "".join([p async for p in stream(agent, run) if isinstance(p, str)]) == "Hello, world."
    [request] = seen[0]  # pydantic-ai puts the history's system prompt with the question
    assert [(p.part_kind, p.content) for p in request.parts] == [
        ("system-prompt", "Be brief."),
        ("user-prompt", "hello"),
    ]


async def test_an_agent_without_a_model_fails_with_pydantic_ais_error() -> None:
    run = AgentRun([ChatMessage("user", "hi")], continuation=False, key="k")
    with pytest.raises(UserError, match="model"):
        [part async for part in stream(Agent(), run)]


async def test_a_history_made_in_python_has_its_tool_calls_too() -> None:
    """A ``generate()`` of one's own may build the conversation (no UI parts)."""
    searched = ChatToolCall("search", "p1", "output-available", {"query": "a"}, {"hits": 1})
    messages = [
        ChatMessage("user", "first"),
        ChatMessage("assistant", "Looking.", tool_calls=(searched,)),
        ChatMessage("user", "hello"),
    ]
    run = AgentRun(messages, continuation=False, key="k")
    [part async for part in stream(urls_pydantic_ai.scripted_agent(), run)]
    _, said, returned = seen[0]  # pydantic-ai adds the question to the tool's return
    assert [(p.part_kind, getattr(p, "tool_call_id", None)) for p in said.parts] == [
        ("text", None),
        ("tool-call", "p1"),
    ]
    assert [(p.part_kind, p.content) for p in returned.parts] == [
        ("tool-return", {"hits": 1}),
        ("user-prompt", "hello"),
    ]
