"""The OpenAI Agents SDK adapter: real agents, run by the SDK through the real `openai` client
against the fake Responses API (`tests/support/fake_openai.py`) under uvicorn on loopback.
Every answer also goes through `Answer`, so each keeps the protocol's rules."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from logging import WARNING
from typing import Any

import pytest
from agents import (
    Agent,
    LocalShellTool,
    OpenAIResponsesModel,
    RunConfig,
    RunContextWrapper,
    function_tool,
    set_tracing_disabled,
)
from agents.exceptions import ModelBehaviorError
from agents.run_config import ToolErrorFormatterArgs
from agents.tool import DEFAULT_APPROVAL_REJECTION_MESSAGE, default_tool_error_function
from openai import APIStatusError, AsyncOpenAI
from pydantic import BaseModel

from django_streaming import ChatError
from django_streaming.agents import stream_agent
from django_streaming.agents.base import AgentRun
from django_streaming.agents.openai_agents import NO_STATE_TEXT, stream
from django_streaming.agents.openai_responses import response_input
from django_streaming.chat.answer import Answer
from django_streaming.chat.messages import ChatFile, ChatMessage, parse_message
from django_streaming.chat.parts import (
    ApprovalRequest,
    Finish,
    Metadata,
    ReasoningDelta,
    Step,
    ToolCall,
    ToolDenied,
    ToolError,
    ToolInputDelta,
    ToolInputError,
    ToolResult,
)
from tests.support.fake_openai import fake_openai, responses_disconnected, responses_received
from tests.support.servers import RunningServer, until, uvicorn_server

DEFAULT_ERROR = default_tool_error_function(None, RuntimeError())  # type: ignore[arg-type]
ONE = {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19}
USAGE = {**ONE, "reasoningTokens": 3, "cachedInputTokens": 2}
TWICE = {name: 2 * count for name, count in USAGE.items()}


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    set_tracing_disabled(True)  # nothing leaves this machine
    with uvicorn_server(app=fake_openai) as server:
        yield server


clients: list[AsyncOpenAI] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while clients:
        await clients.pop().close()


@dataclass
class Visitor:
    """A run's context, as a view's ``agent_kwargs()`` gives it."""

    name: str


class Hits(BaseModel):
    hits: int


#: What the search tool returns, for the tests that change it.
search_returns: list[Any] = [{"hits": 2}]


@function_tool
def search(query: str) -> Any:
    """Search the web."""
    return search_returns[-1]


@function_tool
def explode() -> str:
    """A tool that fails."""
    raise RuntimeError("a secret detail")


@function_tool(needs_approval=True)
def rename_chat(wrapper: RunContextWrapper[Visitor], title: str) -> dict[str, str]:
    """Rename the chat (the user approves it first)."""
    return {"title": title, "by": wrapper.context.name}


@function_tool(needs_approval=True)
def archive_chat() -> str:
    """Archive the chat (the user approves it first)."""
    return "archived"


def make_agent(api: RunningServer, model: str = "agent", **options: Any) -> Agent[Any]:
    client = AsyncOpenAI(base_url=f"{api.url}/v1", api_key="x", max_retries=0)
    clients.append(client)
    tools: list[Any] = [search, explode, rename_chat, archive_chat]
    return Agent(
        name="assistant", model=OpenAIResponsesModel(model, client), tools=tools, **options
    )


@dataclass
class Ran:
    parts: list[Any]
    answer: Answer
    kept: list[Any]


async def ran(
    agent: Agent[Any],
    *messages: ChatMessage,
    continued: ChatMessage | None = None,
    state: Any = None,
    **kwargs: Any,
) -> Ran:
    """The parts of the agent's answer, each turned into the protocol's by an ``Answer``."""
    kept: list[Any] = []
    conversation = [*messages, continued] if continued else list(messages)
    run = AgentRun(
        conversation, continued is not None, "key", kwargs, state=state, keep=kept.append
    )
    answer = Answer(continued)
    parts = []
    async for part in stream(agent, run):
        answer.parts_for(part)
        parts.append(part)
    return Ran(parts, answer, kept)


def user(text: str, **fields: Any) -> ChatMessage:
    return ChatMessage("user", text, **fields)


def call_ids(parts: list[Any]) -> list[str]:
    return list(dict.fromkeys(part.id for part in parts if isinstance(part, ToolInputDelta)))


async def test_text_reasoning_the_model_and_the_usage(api: RunningServer) -> None:
    assert (await ran(make_agent(api, "text"), user("Hi"))).parts == [
        Metadata({"model": "text"}),
        ReasoningDelta("Thinking"),
        ReasoningDelta(" hard."),
        ReasoningDelta("\n\n"),
        ReasoningDelta("Done."),
        "Hel",
        "lo ",
        "wörld 😀",
        Finish("stop", {"usage": USAGE}),
    ]


async def test_a_tool_with_streamed_arguments_then_a_second_model_call(
    api: RunningServer,
) -> None:
    got = await ran(make_agent(api), user("search"))
    [call_id] = call_ids(got.parts)
    assert got.parts == [
        Metadata({"model": "agent"}),
        ToolInputDelta(call_id, "search", '{"query": '),
        ToolInputDelta(call_id, "search", '"django"}'),
        ToolCall("search", {"query": "django"}, call_id),
        ToolResult(call_id, {"hits": 2}),
        Step(),
        "After tools: ",
        "{'hits': 2}",  # what the SDK told the model
        Finish("stop", {"usage": TWICE}),
    ]
    assert got.answer.finish_reason() == "stop"


@pytest.mark.parametrize(
    ("returned", "shown"),
    [(Hits(hits=3), {"hits": 3}), ({1, 2}, "{1, 2}")],
    ids=["a pydantic model", "no JSON"],
)
async def test_a_tool_output_the_browser_can_take(
    api: RunningServer, returned: Any, shown: Any
) -> None:
    search_returns.append(returned)
    try:
        got = await ran(make_agent(api), user("search"))
    finally:
        search_returns.pop()
    [result] = [part for part in got.parts if isinstance(part, ToolResult)]
    assert result.output == shown


async def formatted(args: ToolErrorFormatterArgs[Any]) -> str | None:
    return f"{args.tool_name} failed." if args.kind == "tool_exception" else None


@pytest.mark.parametrize(
    ("run_config", "text"),
    [
        (None, DEFAULT_ERROR),
        (RunConfig(tool_error_formatter=formatted), "explode failed."),
        ({"tool_error_formatter": lambda args: None}, DEFAULT_ERROR),
    ],
    ids=["the SDK's text", "the app's formatter", "a run_config dict"],
)
async def test_a_tool_error(api: RunningServer, run_config: Any, text: str) -> None:
    got = await ran(make_agent(api), user("fail"), run_config=run_config)
    [call_id] = call_ids(got.parts)
    assert got.parts[2:6] == [
        ToolCall("explode", {}, call_id),
        ToolError(call_id, text),
        Step(),
        "After tools: ",
    ]
    assert got.parts[6] == text  # the model was told the same
    assert "secret" not in repr(got.parts)


async def test_arguments_that_are_no_json_object_are_an_input_error_then_its_retry(
    api: RunningServer,
) -> None:
    got = await ran(make_agent(api), user("garbled"))
    [call_id] = call_ids(got.parts)
    assert got.parts[1:5] == [
        ToolInputDelta(call_id, "search", "{not json"),
        ToolInputError(call_id, "search", "{not json", DEFAULT_ERROR),
        Step(),
        "After tools: ",
    ]
    assert got.answer.calls[call_id]["state"] == "output-error"


async def test_arguments_the_schema_refuses_are_a_tool_error(api: RunningServer) -> None:
    got = await ran(make_agent(api), user("invalid"))
    [call_id] = call_ids(got.parts)
    assert got.parts[2:4] == [
        ToolCall("search", {"query": 3}, call_id),
        ToolError(call_id, DEFAULT_ERROR),
    ]


async def test_a_handoff_is_a_call_whose_result_names_the_agent(api: RunningServer) -> None:
    helper = make_agent(api, "text")
    helper.name = "helper"
    got = await ran(make_agent(api, handoffs=[helper]), user("handoff"))
    [call_id] = call_ids(got.parts)
    assert got.parts[:4] == [
        Metadata({"model": "agent"}),
        ToolInputDelta(call_id, "transfer_to_helper", "{}"),
        ToolCall("transfer_to_helper", {}, call_id),
        ToolResult(call_id, {"agent": "helper"}),
    ]
    assert got.parts[4:6] == [Step(), Metadata({"model": "text"})]  # the helper's model
    assert got.parts[-1] == Finish("stop", {"usage": {**ONE, **USAGE, **TWICE}})


async def test_a_call_of_a_tool_that_is_no_function_is_not_shown(api: RunningServer) -> None:
    agent = make_agent(api)
    agent.tools = [LocalShellTool(executor=lambda request: "12:34")]
    got = await ran(agent, user("shell"))
    assert got.parts[:4] == [Metadata({"model": "agent"}), Step(), "After tools: ", "12:34"]


async def test_approvals_stop_the_run_and_the_continuation_runs_it_on(
    api: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    agent = make_agent(api)
    first = await ran(agent, user("rename and archive"), context=Visitor("alice"))
    rename, archive = call_ids(first.parts)
    approvals = [part for part in first.parts if isinstance(part, ApprovalRequest)]
    assert first.parts[3:] == [
        ToolCall("rename_chat", {"title": "Lisbon"}, rename),
        ToolCall("archive_chat", {}, archive),
        *approvals,
        Finish("tool-calls", {"usage": USAGE}),
    ]
    assert [approval.tool_call_id for approval in approvals] == [rename, archive]
    # What is kept goes through JSON into the store; the context is the request's, not kept.
    [state] = first.kept
    state = json.loads(json.dumps(state))
    assert "alice" not in json.dumps(state)
    # The user approves one and denies the other, as the view hands them over (verified).
    answers = {rename: True, archive: False}
    settled = {"type": "tool-search", "toolCallId": "call-earlier", "state": "output-available",
               "input": {}, "output": 1}  # fmt: skip
    continued = answered(first.answer.message, answers, settled)  # and a call that was over
    again = await ran(
        agent, user("rename and archive"), continued=continued, state=state, context=Visitor("bob")
    )
    assert again.parts == [
        ToolResult(rename, {"title": "Lisbon", "by": "bob"}),  # this request's context
        ToolDenied(archive),
        Metadata({"model": "agent"}),
        "After tools: ",
        f"{{'title': 'Lisbon', 'by': 'bob'}} | {DEFAULT_APPROVAL_REJECTION_MESSAGE}",
        Finish("stop", {"usage": USAGE}),
    ]
    assert again.kept == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= WARNING] == []
    states = {call_id: again.answer.calls[call_id]["state"] for call_id in answers}
    assert states == {rename: "output-available", archive: "output-denied"}


def answered(message: dict[str, Any], answers: dict[str, bool], *extra: Any) -> ChatMessage:
    """``message`` with the user's ``answers`` to its approvals, as the view hands it over."""
    message = copy.deepcopy(message)
    for part in message["parts"]:
        if part.get("toolCallId") in answers:
            approval = {**part["approval"], "approved": answers[part["toolCallId"]]}
            part.update(state="approval-responded", approval=approval)
    message["parts"][1:1] = extra
    return parse_message(message)


async def test_a_call_that_asks_approval_before_its_arguments_are_refused(
    api: RunningServer,
) -> None:
    agent = make_agent(api)
    first = await ran(agent, user("garbled rename"))
    [call_id] = call_ids(first.parts)
    assert first.parts[2:4] == [
        ToolCall("rename_chat", '{"title": ', call_id),  # the arguments as the model wrote them
        ApprovalRequest(call_id, first.parts[3].approval_id),
    ]
    continued = answered(first.answer.message, {call_id: True})
    again = await ran(agent, user("garbled rename"), continued=continued, state=first.kept[0])
    assert again.parts[:4] == [
        ToolError(call_id, DEFAULT_ERROR),
        Metadata({"model": "agent"}),
        "After tools: ",
        DEFAULT_ERROR,
    ]


async def test_a_continuation_without_the_kept_run_is_refused(api: RunningServer) -> None:
    waiting = ChatMessage("assistant", "", id="m1", parts=({"type": "step-start"},))
    with pytest.raises(ChatError, match=NO_STATE_TEXT):
        await ran(make_agent(api), user("rename"), continued=waiting)


async def test_the_history_and_files_go_to_the_model(api: RunningServer) -> None:
    earlier = await ran(make_agent(api), user("search"))
    history = [user("search"), parse_message(earlier.answer.message)]
    image = ChatFile("image/png", "data:image/png;base64,iVBO", "a.png", data=b"\x89PNG")
    remote = ChatFile("image/png", "https://example.com/a.png")
    question = user("What is this?", files=(image, remote))
    await ran(make_agent(api, "text"), *history, question)
    sent = responses_received[-1]["input"]
    assert sent == response_input([*history, question])
    [call_id] = call_ids(earlier.parts)
    assert [item.get("type") for item in sent if item.get("call_id") == call_id] == [
        "function_call",
        "function_call_output",
    ]
    assert sent[-1]["content"][1]["image_url"] == "data:image/png;base64,iVBORw=="
    assert len(sent[-1]["content"]) == 2  # the remote file stayed where it was


async def test_a_waiting_call_in_the_history_is_not_sent(api: RunningServer) -> None:
    waiting = await ran(make_agent(api), user("rename"))
    history = [user("rename"), parse_message(waiting.answer.message)]
    await ran(make_agent(api, "text"), *history, user("Never mind."))
    assert [item.get("role") for item in responses_received[-1]["input"]] == ["user", "user"]


@pytest.mark.parametrize(
    ("model", "error"), [("broken", APIStatusError), ("failed", ModelBehaviorError)]
)
async def test_the_models_error_propagates(
    api: RunningServer, model: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await ran(make_agent(api, model), user("Hi"))


async def test_stream_agent_picks_this_adapter(api: RunningServer) -> None:
    class View:
        def agent_run(self, kwargs: dict[str, Any]) -> AgentRun:
            return AgentRun([user("Hi")], False, "key", kwargs)

    parts = [part async for part in stream_agent(make_agent(api, "text"), View())]  # type: ignore[arg-type]
    assert parts[0] == Metadata({"model": "text"})


@pytest.mark.parametrize("how", ["cancel", "aclose"])
async def test_stop_closes_the_models_request_and_leaves_nothing_running(
    api: RunningServer, how: str
) -> None:
    before = len(responses_disconnected)
    parts: Any = stream(make_agent(api, "wait"), AgentRun([user("Hi")], False, "key"))
    first = asyncio.Event()

    async def read() -> None:
        async for part in parts:
            if isinstance(part, str):
                first.set()

    if how == "cancel":  # as a client that leaves: the view's pump task is cancelled
        reader = asyncio.create_task(read())
        await first.wait()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
    else:  # as an iterator closed at a part
        while not isinstance(await anext(parts), str):
            pass
        await parts.aclose()
    await until(lambda: len(responses_disconnected) > before, "the model's request to close")
    await until(lambda: len(asyncio.all_tasks()) == 1, "the run's tasks to end")


async def test_without_the_sdk_an_import_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "agents", None)
    with pytest.raises(ImportError, match=r"django-streaming\[openai-agents\]"):
        await anext(stream(object(), AgentRun([user("Hi")], False, "key")))  # type: ignore[arg-type]
