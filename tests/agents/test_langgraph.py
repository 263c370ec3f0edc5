"""The LangGraph adapter against LangGraph itself: ``create_agent`` graphs with a LangChain chat
model that streams scripted chunks (tests/agents/urls_langgraph.py), LangChain's
human-in-the-loop middleware, ``InMemorySaver``, and graphs of our own that interrupt."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import sys
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import Any, cast

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import (
    ApprovalRequest,
    ChatMessage,
    ChatPart,
    Finish,
    Metadata,
    ReasoningDelta,
    Step,
    ToolCall,
    ToolError,
    ToolInputDelta,
    ToolInputError,
    ToolResult,
)
from django_streaming.agents.base import UNSETTLED_TEXT, AgentRun
from django_streaming.agents.langgraph import UNANSWERED, stream
from django_streaming.agents.langgraph_messages import NOT_RUN
from django_streaming.chat.answer import Answer
from django_streaming.chat.messages import ChatFile, parse_message
from tests.agents import urls_langgraph
from tests.agents.urls_langgraph import (
    agent,
    asked_openai,
    openai_closed,
    received,
    watched_openai,
)
from tests.support.chat import response_parts
from tests.support.fake_openai import received as fake_received
from tests.support.servers import until, uvicorn_server

# LangGraph hands the run's config (the callbacks that stream tokens, the interrupts) to async
# nodes through contextvars, which asyncio tasks inherit from Python 3.11 on.
pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="LangGraph streams async runs on Python 3.11 and later"
)

USAGE = {"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}}
TWO_CALLS = {"usage": {"inputTokens": 20, "outputTokens": 10, "totalTokens": 30}}


@pytest.fixture(autouse=True)
def _urls(settings: SettingsWrapper) -> Iterator[None]:
    settings.ROOT_URLCONF = urls_langgraph.__name__
    received.clear()
    yield
    urls_langgraph.results.clear()


async def answer(
    graph: Any, *messages: ChatMessage, key: str = "thread-1", **kwargs: Any
) -> tuple[list[ChatPart], list[Any]]:
    """The parts of ``graph``'s answer (each checked by the protocol's rules), and what the
    adapter kept."""
    kept: list[Any] = []
    run = AgentRun(list(messages), continuation=False, key=key, kwargs=kwargs, keep=kept.append)
    message = Answer()
    got = []
    async for part in stream(graph, run):
        message.parts_for(part)
        got.append(part)
    return got, kept


def user(text: str, **extra: Any) -> ChatMessage:
    return ChatMessage("user", text, **extra)


async def test_text_reasoning_the_model_name_usage_and_the_finish_reason() -> None:
    got, kept = await answer(agent(), user("think"))
    assert got == [
        ReasoningDelta("Hmm."),
        "Indeed, ",
        "Yes.",
        Metadata({"model": "scripted-1"}),
        Finish("stop", USAGE),
    ]
    assert got[3].provider == "fake"  # type: ignore[union-attr]  # for the answer's span
    assert kept == []


async def test_a_finish_reason_of_the_provider_maps_to_the_protocols() -> None:
    got, _ = await answer(agent(), user("long"))
    assert got[-1] == Finish("length", USAGE)


async def test_a_tool_with_streamed_input_its_result_and_a_second_model_call() -> None:
    got, _ = await answer(agent(), user("tools"))
    result = '{"hits": 2, "query": "django"}'
    assert got == [
        "Let me ",
        "search.",
        ToolInputDelta("call-search", "search", '{"query": '),
        ToolInputDelta("call-search", "search", '"django"}'),
        Metadata({"model": "scripted-1"}),
        ToolCall("search", {"query": "django"}, "call-search"),
        ToolResult("call-search", result),
        Step(),
        "After tools: ",
        f"search: {result}",
        Finish("stop", TWO_CALLS),
    ]


async def test_a_tool_that_fails_and_the_model_is_told() -> None:
    got, _ = await answer(agent(), user("fail"))
    assert got[2:] == [
        ToolCall("flaky", {}, "call-fail"),
        ToolError("call-fail", "The index is down."),
        Step(),
        "After tools: ",
        "flaky: The index is down.",
        Finish("stop", TWO_CALLS),
    ]


async def test_the_graphs_error_ends_the_answer_and_settles_its_call() -> None:
    got = await post("/langgraph/", ui_user("crash"))
    assert of_type(got, "tool-output-error", "error") == [
        {"type": "tool-output-error", "toolCallId": "call-crash", "errorText": UNSETTLED_TEXT},
        {"type": "error", "errorText": "The answer failed on the server."},  # not its detail
    ]
    [result] = urls_langgraph.results["c1"]
    assert (result.status, repr(result.error)) == ("error", "RuntimeError('secret detail')")


async def test_arguments_that_are_not_json_are_an_input_error() -> None:
    got, _ = await answer(agent(), user("garbled"))
    assert got == [
        ToolInputDelta("call-bad", "search", "not json"),
        Metadata({"model": "scripted-1"}),
        ToolInputError("call-bad", "search", "not json", "The arguments are not valid JSON."),
        Finish("tool-calls", USAGE),
    ]
    # LangChain's agent tells the model on its next call (and it may try again).
    await answer(agent(), user("garbled"), key="garbled")


async def test_a_message_a_node_returns_whole_and_a_result_of_another_messages_call() -> None:
    async def node(state: MessagesState) -> dict[str, Any]:
        call = {"name": "search", "args": {"query": "x"}, "id": "call-whole"}
        invalid = {"name": "search", "args": "{", "id": "call-invalid", "error": "Cut short."}
        return {
            "messages": [
                AIMessage("Whole.", id="whole", tool_calls=[call], invalid_tool_calls=[invalid]),
                ToolMessage("done", tool_call_id="call-whole"),
                ToolMessage("not ours", tool_call_id="call-of-another-message"),
                HumanMessage("A node's note, not the model's."),
            ]
        }

    builder = StateGraph(MessagesState)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    got, _ = await answer(builder.compile(), user("hi"))
    assert got == [
        "Whole.",
        ToolCall("search", {"query": "x"}, "call-whole"),
        ToolInputError("call-invalid", "search", "{", "Cut short."),
        ToolResult("call-whole", "done"),
        Finish("stop", None),
    ]


# The conversation in.

SAVED = [
    {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "first"}]},
    {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "not sent back"},
            {"type": "text", "text": "Looking."},
            {"type": "tool-search", "toolCallId": "c1", "state": "output-available",
             "input": {"query": "a"}, "output": {"hits": 1}},
            {"type": "tool-flaky", "toolCallId": "c2", "state": "output-error", "input": {},
             "errorText": "down"},
            {"type": "tool-delete_chat", "toolCallId": "c3", "state": "output-denied",
             "input": {}, "approval": {"id": "p3", "approved": False, "reason": "keep it"}},
            {"type": "tool-rename_chat", "toolCallId": "c4", "state": "approval-requested",
             "input": {"title": "x"}, "approval": {"id": "p4"}},
            {"type": "tool-interrupt", "toolCallId": "interrupt-i-0", "state": "output-available",
             "input": "Proceed?", "output": {"type": "approve"}},
            {"type": "step-start"},
            {"type": "text", "text": "Found one."},
        ],
    },
    {"id": "u2", "role": "user", "content": "second"},
    {"id": "a2", "role": "assistant", "content": "Plain."},
]  # fmt: skip


async def test_without_a_checkpointer_the_conversation_goes_in_as_langchain_messages() -> None:
    history = [parse_message(message) for message in SAVED]
    system = ChatMessage("system", "Be brief.")
    got, _ = await answer(agent(checkpointer=False), system, *history, user("third"))
    assert got[0] == "You said: "
    [model_input] = received
    calls = [
        {"name": "search", "args": {"query": "a"}, "id": "c1", "type": "tool_call"},
        {"name": "flaky", "args": {}, "id": "c2", "type": "tool_call"},
        {"name": "delete_chat", "args": {}, "id": "c3", "type": "tool_call"},
    ]
    assert [(type(m), m.content) for m in model_input] == [
        (SystemMessage, "Be brief."),
        (HumanMessage, "first"),
        (AIMessage, "Looking."),  # with the calls that have an outcome, none left dangling
        (ToolMessage, '{"hits": 1}'),
        (ToolMessage, "down"),
        (ToolMessage, "The user denied this call. Reason: keep it"),
        (AIMessage, "Found one."),
        (HumanMessage, "second"),
        (AIMessage, "Plain."),
        (HumanMessage, "third"),
    ]
    assert isinstance(model_input[2], AIMessage)
    assert model_input[2].tool_calls == calls
    results = [m for m in model_input[3:6] if isinstance(m, ToolMessage)]
    assert [(m.tool_call_id, m.status) for m in results] == [
        ("c1", "success"),
        ("c2", "error"),
        ("c3", "error"),
    ]


async def test_with_a_checkpointer_the_thread_keeps_the_history() -> None:
    graph = agent()
    await answer(graph, user("first"))
    history = [user("first"), ChatMessage("assistant", "You said: first (1 questions)")]
    got, _ = await answer(graph, *history, user("second"))
    assert got[:3] == ["You said: ", "second", " (2 questions)"]
    assert [type(message) for message in received[-1]] == [HumanMessage, AIMessage, HumanMessage]
    # Another chat is another thread.
    got, _ = await answer(graph, *history, user("second"), key="thread-2")
    assert got[:3] == ["You said: ", "second", " (2 questions)"]  # from the history sent


async def test_files_go_in_as_content_blocks_and_a_remote_one_only_if_allowed() -> None:
    png, pdf = b"\x89PNG...", b"%PDF-1.7"
    files = (
        ChatFile("image/png", "data:...", data=png),
        ChatFile("application/pdf", "data:...", filename="a.pdf", data=pdf),
        ChatFile("audio/wav", "https://files.example/allowed.wav"),
        ChatFile("image/png", "https://elsewhere.example/refused.png"),
    )
    run = AgentRun(
        [user("look", files=files)],
        continuation=False,
        key="files",
        allow_remote_file=lambda file: file.url.startswith("https://files.example/"),
    )
    [_ async for _ in stream(agent(), run)]
    assert received[0][0].content == [
        {"type": "text", "text": "look"},
        {"type": "image", "mime_type": "image/png", "base64": base64.b64encode(png).decode()},
        {
            "type": "file",
            "mime_type": "application/pdf",
            "base64": base64.b64encode(pdf).decode(),
            "extras": {"filename": "a.pdf"},
        },
        {"type": "audio", "mime_type": "audio/wav", "url": "https://files.example/allowed.wav"},
    ]


async def test_the_thread_is_the_chat_key_and_the_config_goes_to_the_run() -> None:
    graph = agent()
    with pytest.raises(GraphRecursionError):
        await answer(graph, user("tools"), key="mine", config={"recursion_limit": 1})
    got, _ = await answer(graph, user("hi"), key="mine", config={"tags": ["x"]})
    assert " (2 questions)" in got  # the thread "mine" had the first question
    state = await graph.aget_state({"configurable": {"thread_id": "mine"}})
    # The call the limit stopped was told it did not run before the new question.
    kinds = [type(message) for message in state.values["messages"]]
    assert kinds == [HumanMessage, AIMessage, ToolMessage, HumanMessage, AIMessage]
    assert state.values["messages"][2].content == NOT_RUN


async def test_without_langgraph_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.types", None)
    run = AgentRun([user("hi")], continuation=False, key="k")
    with pytest.raises(ImportError, match=r"pip install django-streaming\[langgraph\]"):
        await anext(stream(agent(), run))


# Approvals, through the view: the continuation is checked against what the server asked.

client = AsyncClient()


@pytest.fixture(autouse=True)
def _visitor() -> None:
    global client
    client = AsyncClient()  # one visitor per test, whose session cookie comes back


async def post(url: str, *messages: dict[str, Any], chat: str = "c1") -> list[Any]:
    body = {"id": chat, "messages": list(messages), "trigger": "submit-message"}
    response = await client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return await response_parts(response)


def ui_user(text: str) -> dict[str, Any]:
    return {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}


def answered(message: dict[str, Any], decisions: Mapping[str, tuple[bool, str | None]]) -> Any:
    """What addToolApprovalResponse makes of the waiting message: a decision per call id."""
    message = copy.deepcopy(message)
    for part in message["parts"]:
        if part.get("toolCallId") in decisions:
            approved, reason = decisions[part["toolCallId"]]
            approval = {**part["approval"], "approved": approved}
            if reason:
                approval["reason"] = reason
            part.update(state="approval-responded", approval=approval)
    return message


def of_type(got: list[Any], *types: str) -> list[Any]:
    return [part for part in got if part != "[DONE]" and part["type"] in types]


TOOL_PARTS = ("tool-input-available", "tool-approval-request", "tool-output-available",
              "tool-output-denied", "tool-output-error")  # fmt: skip


@pytest.mark.parametrize("url", ["/langgraph/", "/langgraph-per-call/"])
async def test_two_approvals_one_approved_one_denied_in_one_message(url: str) -> None:
    first = await post(url, ui_user("rename"))
    asked = of_type(first, "tool-approval-request")
    # Per call, the two interrupts come from tasks run side by side: in either order.
    assert sorted(part["toolCallId"] for part in asked) == ["call-delete", "call-rename"]
    assert of_type(first, "finish") == [
        {"type": "finish", "finishReason": "tool-calls", "messageMetadata": USAGE}
    ]
    [waiting] = urls_langgraph.results["c1"]
    assert waiting.finish_reason == "tool-calls"
    decisions = {"call-rename": (True, None), "call-delete": (False, "not now")}
    second = await post(url, ui_user("rename"), answered(waiting.message, decisions))
    assert second[0] == {"type": "start", "messageId": waiting.message_id}  # the same message
    assert of_type(second, *TOOL_PARTS) == [
        {"type": "tool-output-denied", "toolCallId": "call-delete"},
        {"type": "tool-output-available", "toolCallId": "call-rename",
         "output": "Renamed to Lisbon."},
    ]  # fmt: skip
    said = "".join(part["delta"] for part in of_type(second, "text-delta"))
    # The model was told (in the order the calls settled: the batch's denial first).
    assert sorted(said.removeprefix("After tools: ").split(" | ")) == [
        "delete_chat: User rejected the tool call for `delete_chat` with reason: not now",
        "rename_chat: Renamed to Lisbon.",
    ]
    assert of_type(second, "finish")[0]["finishReason"] == "stop"


async def test_a_denial_without_a_reason() -> None:
    first = await post("/langgraph/", ui_user("rename"))
    assert len(of_type(first, "tool-approval-request")) == 2
    waiting = urls_langgraph.results["c1"][0].message
    decisions = {"call-rename": (False, None), "call-delete": (False, None)}
    second = await post("/langgraph/", ui_user("rename"), answered(waiting, decisions))
    assert [part["type"] for part in of_type(second, *TOOL_PARTS)] == ["tool-output-denied"] * 2
    said = "".join(part["delta"] for part in of_type(second, "text-delta"))
    assert "with id call-rename. The tool was not executed." in said


@pytest.mark.parametrize("url", ["/langgraph/", "/langgraph-per-call/"])
async def test_a_call_left_unanswered_is_denied(url: str) -> None:
    await post(url, ui_user("rename"))
    waiting = urls_langgraph.results["c1"][0].message
    partly = answered(waiting, {"call-rename": (True, None)})
    got = await post(url, ui_user("rename"), partly)
    assert of_type(got, *TOOL_PARTS) == [
        {"type": "tool-output-denied", "toolCallId": "call-delete"},
        {"type": "tool-output-available", "toolCallId": "call-rename",
         "output": "Renamed to Lisbon."},
    ]  # fmt: skip
    said = "".join(part["delta"] for part in of_type(got, "text-delta"))
    assert f"with reason: {UNANSWERED}" in said


@pytest.mark.parametrize(
    ("question", "name", "call_input"),
    [("send", "send_invoice", {"amount": 12}), ("plain", "interrupt", "Proceed?")],
)
@pytest.mark.parametrize("approved", [True, False])
async def test_a_nodes_own_interrupt_is_an_approval_of_a_call_of_its_own(
    question: str, name: str, call_input: Any, approved: bool
) -> None:
    first = await post("/langgraph-confirm/", ui_user(question))
    assert of_type(first, "finish")[0]["finishReason"] == "tool-calls"  # no model said so
    [call] = of_type(first, "tool-input-available")
    assert (call["toolName"], call["input"]) == (name, call_input)
    assert call["toolCallId"].startswith("interrupt-")
    waiting = urls_langgraph.results["c1"][0].message
    decision = {call["toolCallId"]: (approved, None if approved else "too much")}
    second = await post("/langgraph-confirm/", ui_user(question), answered(waiting, decision))
    if approved:
        assert of_type(second, *TOOL_PARTS) == [
            {"type": "tool-output-available", "toolCallId": call["toolCallId"],
             "output": {"type": "approve"}},
        ]  # fmt: skip
        assert of_type(second, "text-delta")[0]["delta"] == "Sent."
    else:
        assert of_type(second, *TOOL_PARTS) == [
            {"type": "tool-output-denied", "toolCallId": call["toolCallId"]}
        ]
        assert of_type(second, "text-delta")[0]["delta"] == "Not sent: too much."


async def test_a_new_question_instead_of_an_answer_tells_the_model_the_calls_did_not_run() -> None:
    await post("/langgraph/", ui_user("rename"))
    waiting = urls_langgraph.results["c1"][0].message
    again = {**ui_user("hello"), "id": "u2"}
    got = await post("/langgraph/", ui_user("rename"), waiting, again)
    said = "".join(part["delta"] for part in of_type(got, "text-delta"))
    assert said == "You said: hello (2 questions)"
    model_input = received[-1]
    assert [(m.tool_call_id, m.content) for m in model_input if isinstance(m, ToolMessage)] == [
        ("call-rename", NOT_RUN),
        ("call-delete", NOT_RUN),
    ]


async def test_an_interrupt_that_names_a_call_by_id_asks_about_that_call() -> None:
    async def model(state: MessagesState) -> dict[str, Any]:
        call = {"name": "search", "args": {"query": "a"}, "id": "call-a"}
        return {"messages": [AIMessage("", id="ai", tool_calls=[call])]}

    async def review(state: MessagesState) -> dict[str, Any]:
        edited = {"query": "a, said better"}
        interrupt({"tool_call_id": "call-a", "name": "search", "args": edited})
        return {}

    builder = StateGraph(MessagesState)
    builder.add_sequence([model, review])
    builder.add_edge(START, "model")
    got, _ = await answer(builder.compile(checkpointer=InMemorySaver()), user("hi"))
    asked = [part for part in got if isinstance(part, (ToolCall, ApprovalRequest))]
    assert asked[0] == ToolCall("search", {"query": "a"}, "call-a")
    assert [type(part) for part in asked] == [ToolCall, ApprovalRequest]
    assert isinstance(asked[1], ApprovalRequest)
    assert asked[1].tool_call_id == "call-a"


async def test_a_graph_in_a_graph_streams_its_tokens_once_and_asks_once() -> None:
    builder = StateGraph(MessagesState)
    builder.add_node("inner", agent(checkpointer=False))
    builder.add_edge(START, "inner")
    graph = builder.compile(checkpointer=InMemorySaver())
    nested, _ = await answer(graph, user("tools"))
    flat, _ = await answer(agent(), user("tools"))
    assert nested == flat
    got, kept = await answer(graph, user("rename"), key="thread-2")
    assert [type(part) for part in got[-3:]] == [ApprovalRequest, ApprovalRequest, Finish]
    assert len(kept[0]["interrupts"]) == 1


async def test_an_interrupt_without_a_checkpointer_names_the_fix() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"compile\(checkpointer=\.\.\.\)"):
        await answer(agent(checkpointer=False), user("rename"))


# Stop: the model's request is closed, nothing keeps running.


@pytest.mark.parametrize("how", ["cancelled", "closed"])
async def test_a_cancelled_or_closed_answer_closes_the_models_request(how: str) -> None:
    fake_received.clear()
    openai_closed.clear()
    asked_openai.clear()
    with uvicorn_server(watched_openai) as fake:
        urls_langgraph.openai_url.append(fake.url)
        run = AgentRun([user("hi")], continuation=False, key="stop")
        graph = urls_langgraph.slow_graph(announced=how == "closed")
        parts = cast(AsyncGenerator[ChatPart, None], stream(graph, run))
        if how == "closed":  # left at a part it yielded, as a response closes its iterator
            assert await anext(parts) == "Asking."
            await until(lambda: bool(fake_received), "the model's request")
            await parts.aclose()
        else:  # cancelled as it waits for the model
            task = asyncio.ensure_future(anext(parts))
            await until(lambda: bool(fake_received), "the model's request")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert asked_openai == ["cancelled"]  # already: nothing of the run outlives it
        assert fake_received[0]["model"] == "slow"
        await until(lambda: bool(openai_closed), "the model's connection to close")
    assert openai_closed == ["before the answer"]  # the slow model answers after 5 s
