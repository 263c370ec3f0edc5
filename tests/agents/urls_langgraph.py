"""LangGraph graphs and the chat views that serve them, for tests/agents/test_langgraph.py.

The model is ``ScriptedModel``: a LangChain chat model of our own that streams the
``AIMessageChunk``s a script gives for the conversation so far (text, reasoning, tool call
chunks, usage, finish reasons), as a provider's integration does. The question's first word
picks the script; once this turn's tools have answered, it reports what they said."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import BaseTool, ToolException, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt
from openai import AsyncOpenAI

from django_streaming import ChatResult as AnswerResult
from django_streaming import ChatStreamView
from tests.support.fake_openai import fake_openai

MODEL = "scripted-1"


class ScriptedModel(BaseChatModel):
    """Streams ``script(messages)``'s chunks; ``bind_tools()`` changes nothing (the script
    knows the tools)."""

    script: Callable[[list[BaseMessage]], list[AIMessageChunk]]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        whole = AIMessageChunk(content="")
        for chunk in self.script(messages):
            whole = whole + chunk
        message = AIMessage(
            content=whole.content,
            id=whole.id,
            tool_calls=whole.tool_calls,
            invalid_tool_calls=whole.invalid_tool_calls,
            usage_metadata=whole.usage_metadata,
            response_metadata=whole.response_metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self.script(messages):
            generation = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=generation)
            yield generation


def text(message_id: str, *pieces: str) -> list[AIMessageChunk]:
    return [AIMessageChunk(content=piece, id=message_id) for piece in pieces]


def call(message_id: str, index: int, call_id: str, name: str, *args: str) -> list[AIMessageChunk]:
    """A tool call's chunks, as OpenAI streams them: the first names it (its arguments still
    empty), each of the others carries a piece of its arguments."""
    first = {"name": name, "args": "", "id": call_id, "index": index}
    rest = [{"name": None, "args": piece, "id": None, "index": index} for piece in args]
    return [
        AIMessageChunk(content="", id=message_id, tool_call_chunks=[piece])  # type: ignore[list-item]
        for piece in [first, *rest]
    ]


def end(message_id: str, reason: str, tokens: tuple[int, int] = (10, 5)) -> AIMessageChunk:
    """The last chunk: the finish reason, the model's name, the usage."""
    return AIMessageChunk(
        content="",
        id=message_id,
        response_metadata={"finish_reason": reason, "model_name": MODEL, "model_provider": "fake"},
        usage_metadata=UsageMetadata(
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            total_tokens=sum(tokens),
            input_token_details={},
            output_token_details={},
        ),
        chunk_position="last",
    )


def this_turn(messages: list[BaseMessage]) -> tuple[str, list[ToolMessage]]:
    """The question (the last human message) and the tool results after it."""
    asked = max(n for n, message in enumerate(messages) if isinstance(message, HumanMessage))
    results = [m for m in messages[asked:] if isinstance(m, ToolMessage)]
    return messages[asked].text, results


#: What the model was given, call by call.
received: list[list[BaseMessage]] = []


def script(messages: list[BaseMessage]) -> list[AIMessageChunk]:
    received.append(list(messages))
    question, results = this_turn(messages)
    turn = f"m{len(messages)}"
    if results:
        said = " | ".join(f"{r.name}: {r.text}" for r in results)
        return [*text(turn, "After tools: ", said), end(turn, "stop")]
    word = question.split()[0] if question.split() else ""
    if word == "tools":
        return [
            *text(turn, "Let me ", "search."),
            *call(turn, 0, "call-search", "search", '{"query": ', '"django"}'),
            end(turn, "tool_calls"),
        ]
    if word == "fail":
        return [*call(turn, 0, "call-fail", "flaky", "{}"), end(turn, "tool_calls")]
    if word == "crash":
        return [*call(turn, 0, "call-crash", "crash", "{}"), end(turn, "tool_calls")]
    if word == "garbled":
        return [*call(turn, 0, "call-bad", "search", "not json"), end(turn, "tool_calls")]
    if word == "rename":
        return [
            *call(turn, 0, "call-rename", "rename_chat", '{"title": ', '"Lisbon"}'),
            *call(turn, 1, "call-delete", "delete_chat", "{}"),
            end(turn, "tool_calls"),
        ]
    if word == "think":
        thought = AIMessageChunk(content=[{"type": "reasoning", "reasoning": "Hmm."}], id=turn)
        # Text as a content block too, as providers with reasoning send it.
        blocks = AIMessageChunk(
            content=[{"type": "text", "text": "Indeed, "}, {"type": "text", "text": ""}], id=turn
        )
        return [thought, blocks, *text(turn, "Yes."), end(turn, "stop")]
    if word == "long":
        return [*text(turn, "Cut"), end(turn, "length")]
    history = sum(isinstance(message, HumanMessage) for message in messages)
    return [*text(turn, "You said: ", question, f" ({history} questions)"), end(turn, "stop")]


@tool
def search(query: str) -> dict[str, Any]:
    """Search the web."""
    return {"hits": 2, "query": query}


@tool
def flaky() -> str:
    """A tool whose index is down."""
    raise ToolException("The index is down.")


flaky.handle_tool_error = True


@tool
def crash() -> str:
    """A tool with a bug."""
    raise RuntimeError("secret detail")


@tool
def rename_chat(title: str) -> str:
    """Rename the chat."""
    return f"Renamed to {title}."


@tool
def delete_chat() -> str:
    """Delete the chat."""
    return "Deleted."


TOOLS: list[BaseTool] = [search, flaky, crash, rename_chat, delete_chat]
GATED = {"rename_chat": True, "delete_chat": {"allowed_decisions": ["approve", "reject"]}}


def agent(*, mode: str = "batched", checkpointer: bool = True) -> Any:
    """``create_agent`` with the scripted model, the tools, and approvals for two of them."""
    return create_agent(
        ScriptedModel(script=script),
        tools=TOOLS,
        middleware=[HumanInTheLoopMiddleware(GATED, interrupt_mode=mode)],  # type: ignore[arg-type]
        checkpointer=InMemorySaver() if checkpointer else None,
    )


async def confirm(state: MessagesState) -> dict[str, Any]:
    """A node that asks for approval itself: ``interrupt()`` with a call's name and arguments
    (or, asked "plain", with a bare question), answered with a decision."""
    if state["messages"][-1].text == "plain":
        decision = interrupt("Proceed?")
    else:
        decision = interrupt({"name": "send_invoice", "args": {"amount": 12}})
    if decision["type"] == "approve":
        return {"messages": [AIMessage("Sent.")]}
    return {"messages": [AIMessage(f"Not sent: {decision.get('message', 'no reason')}.")]}


def confirm_graph() -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("confirm", confirm)
    builder.add_edge(START, "confirm")
    return builder.compile(checkpointer=InMemorySaver())


#: Where ``slow_graph``'s node finds the fake OpenAI API (set by the test that serves it).
openai_url: list[str] = []


#: How each call of ``ask_openai`` ended.
asked_openai: list[str] = []


async def ask_openai(state: MessagesState) -> dict[str, Any]:
    """A node that calls the real ``openai`` client (its "slow" model), streaming."""
    client = AsyncOpenAI(base_url=f"{openai_url[-1]}/v1", api_key="test", max_retries=0)
    question = state["messages"][-1].text
    try:
        chunks = await client.chat.completions.create(
            model="slow", messages=[{"role": "user", "content": question}], stream=True
        )
        pieces = [chunk.choices[0].delta.content or "" async for chunk in chunks if chunk.choices]
    except asyncio.CancelledError:
        asked_openai.append("cancelled")
        raise
    asked_openai.append("answered")
    return {"messages": [AIMessage("".join(pieces))]}


#: How each connection to the fake OpenAI API ended.
openai_closed: list[str] = []


async def watched_openai(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The fake OpenAI API, watching its connection once the request is in: a client that
    closes it before the answer stops the fake too."""
    body_read = asyncio.Event()

    async def read_body() -> dict[str, Any]:
        message: dict[str, Any] = await receive()
        if not message.get("more_body"):
            body_read.set()
        return message

    answering = asyncio.ensure_future(fake_openai(scope, read_body, send))
    await body_read.wait()
    while (await receive())["type"] != "http.disconnect":
        pass
    openai_closed.append("after the answer" if answering.done() else "before the answer")
    answering.cancel()


async def announce(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage("Asking.")]}


def slow_graph(*, announced: bool = False) -> Any:
    """A node that asks the fake OpenAI API's slow model; ``announced``: and one beside it that
    says so meanwhile."""
    builder = StateGraph(MessagesState)
    builder.add_node(ask_openai)
    builder.add_edge(START, "ask_openai")
    if announced:
        builder.add_node(announce)
        builder.add_edge(START, "announce")
    return builder.compile()


results: dict[str, list[AnswerResult]] = {}


class LangGraphChat(ChatStreamView):
    agent = agent()

    async def on_finish(self, result: AnswerResult) -> None:
        results.setdefault(result.chat_id or "-", []).append(result)


class PerCallChat(LangGraphChat):
    agent = agent(mode="per_call")


class ConfirmChat(LangGraphChat):
    agent = confirm_graph()


class SlowChat(LangGraphChat):
    agent = slow_graph()


urlpatterns = [
    path("langgraph/", csrf_exempt(LangGraphChat.as_view())),
    path("langgraph-per-call/", csrf_exempt(PerCallChat.as_view())),
    path("langgraph-confirm/", csrf_exempt(ConfirmChat.as_view())),
    path("langgraph-slow/", csrf_exempt(SlowChat.as_view())),
]
