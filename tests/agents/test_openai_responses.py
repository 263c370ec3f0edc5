"""The Responses API's stream as chat parts, and a conversation as its input: the real `openai`
client against the fake API (`tests/support/fake_openai.py`) under uvicorn on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from django_streaming.agents.openai_responses import (
    DENIED_TEXT,
    INVALID_ARGUMENTS_TEXT,
    FunctionCall,
    ResponseError,
    ResponseStream,
    response_input,
    stream_response,
)
from django_streaming.chat.messages import Approval, ChatFile, ChatMessage, ChatToolCall
from django_streaming.chat.parts import (
    Finish,
    Metadata,
    ReasoningDelta,
    Step,
    ToolCall,
    ToolInputDelta,
    ToolInputError,
)
from tests.support.fake_openai import fake_openai, responses_received
from tests.support.servers import RunningServer, uvicorn_server

USAGE = {
    "inputTokens": 12,
    "outputTokens": 7,
    "totalTokens": 19,
    "reasoningTokens": 3,
    "cachedInputTokens": 2,
}


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_openai) as server:
        yield server


clients: list[AsyncOpenAI] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while clients:
        await clients.pop().close()


async def events(api: RunningServer, model: str, input: Any = "hi") -> AsyncIterable[Any]:
    """The events of a response, through the real client."""
    client = AsyncOpenAI(base_url=f"{api.url}/v1", api_key="x", max_retries=0)
    clients.append(client)
    stream: AsyncIterable[Any] = await client.responses.create(
        model=model, input=input, stream=True
    )
    return stream


async def collect(parts: AsyncIterable[Any]) -> list[Any]:
    return [part async for part in parts]


async def test_text_reasoning_in_paragraphs_the_model_and_the_usage(api: RunningServer) -> None:
    assert await collect(stream_response(await events(api, "text"))) == [
        Metadata({"model": "text"}),
        ReasoningDelta("Thinking"),
        ReasoningDelta(" hard."),
        ReasoningDelta("\n\n"),  # the summary's second part
        ReasoningDelta("Done."),
        "Hel",
        "lo ",
        "wörld 😀",
        Finish("stop", {"usage": USAGE}),
    ]


async def test_a_function_call_streams_its_arguments_then_the_next_response_is_a_step(
    api: RunningServer,
) -> None:
    mapper = ResponseStream()
    first = await collect(mapper.stream(await events(api, "agent", "search")))
    call_id = first[1].id
    assert first == [
        Metadata({"model": "agent"}),
        ToolInputDelta(call_id, "search", '{"query": '),
        ToolInputDelta(call_id, "search", '"django"}'),
        ToolCall("search", {"query": "django"}, call_id),
    ]
    assert mapper.calls == [FunctionCall(call_id, "search", '{"query": "django"}')]
    assert mapper.finish().reason == "tool-calls"
    # The tool loop: the response's output and the call's output go into the next request.
    output = [item.model_dump(exclude_none=True) for item in mapper.response.output]
    result = {"type": "function_call_output", "call_id": call_id, "output": "2 hits"}
    again = [{"role": "user", "content": "search"}, *output, result]
    second = await collect(mapper.stream(await events(api, "agent", again)))
    assert second == [Step(), "After tools: ", "2 hits"]  # the same model: no Metadata again
    assert mapper.calls == []
    doubled = {name: 2 * count for name, count in USAGE.items()}
    assert mapper.finish() == Finish("stop", {"usage": doubled})


async def test_arguments_that_are_no_object_are_a_tool_input_error(api: RunningServer) -> None:
    parts = await collect(stream_response(await events(api, "agent", "garbled")))
    call_id = parts[1].id
    assert parts[1:3] == [
        ToolInputDelta(call_id, "search", "{not json"),
        ToolInputError(call_id, "search", "{not json", INVALID_ARGUMENTS_TEXT),
    ]


async def test_no_arguments_at_all_are_an_empty_object(api: RunningServer) -> None:
    parts = await collect(stream_response(await events(api, "agent", "empty")))
    assert parts[1] == ToolCall("count_chats", {}, parts[1].id)  # no delta before it


async def test_without_complete_calls_the_call_is_left_to_whoever_runs_it(
    api: RunningServer,
) -> None:
    mapper = ResponseStream(complete_calls=False)
    parts = await collect(mapper.stream(await events(api, "agent", "search")))
    assert [type(part) for part in parts] == [Metadata, ToolInputDelta, ToolInputDelta]
    assert [call.name for call in mapper.calls] == ["search"]


async def test_an_incomplete_response_finishes_for_its_reason(api: RunningServer) -> None:
    parts = await collect(stream_response(await events(api, "incomplete")))
    counts = {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19}  # and no details
    assert parts[-2:] == ["wörld 😀", Finish("length", {"usage": counts})]


@pytest.mark.parametrize(
    ("model", "text"),
    [("failed", "server_error: The model failed."), ("error", "server_error: It broke.")],
)
async def test_a_failed_response_or_an_error_event_raises(
    api: RunningServer, model: str, text: str
) -> None:
    parts: list[Any] = []

    async def read() -> None:
        async for part in stream_response(await events(api, model)):
            parts.append(part)

    with pytest.raises(ResponseError, match=text) as raised:
        await read()
    assert raised.value.code == "server_error"
    assert parts == [Metadata({"model": model})]
    assert parts[0].provider == "openai"  # for the answer's span


def settled(state: str, **fields: Any) -> ChatToolCall:
    return ChatToolCall("search", f"call-{state}", state, {"query": "x"}, **fields)


def test_the_conversation_as_input_items() -> None:
    calls = (
        settled("output-available", output={"hits": 2}),
        settled("output-error", error_text="The index is down."),
        settled("output-denied", approval=Approval("a", False)),
        settled("approval-requested", approval=Approval("b")),
        settled("input-available"),
        ChatToolCall("web_search", "call-hosted", "output-available", {}, output="x"),
        ChatToolCall("count", "call-text", "output-available", "{bad", output="fine"),
    )
    parts: tuple[dict[str, Any], ...] = (
        {"type": "step-start"},
        {"type": "text", "text": "Looking."},
        *({"type": f"tool-{call.name}", "toolCallId": call.id} for call in calls[:5]),
        {"type": "tool-web_search", "toolCallId": "call-hosted", "providerExecuted": True},
        {"type": "tool-count", "toolCallId": "call-text"},
        {"type": "reasoning", "text": "hidden"},
        {"type": "text", "text": ""},
        {"type": "text", "text": "Done."},
    )
    messages = [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello", parts=(), tool_calls=()),
        ChatMessage("user", "search"),
        ChatMessage("assistant", "Looking.Done.", parts=parts, tool_calls=calls),
    ]

    def call(call_id: str, arguments: str, output: str, name: str = "search") -> list[Any]:
        return [
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
            {"type": "function_call_output", "call_id": call_id, "output": output},
        ]

    assert response_input(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "search"},
        {"role": "assistant", "content": "Looking."},
        *call("call-output-available", '{"query": "x"}', '{"hits": 2}'),
        *call("call-output-error", '{"query": "x"}', "The index is down."),
        *call("call-output-denied", '{"query": "x"}', DENIED_TEXT),
        # The waiting calls and the provider's own are not there; a text output stays text.
        *call("call-text", "{bad", "fine", name="count"),
        {"role": "assistant", "content": "Done."},
    ]


def test_files_go_as_bytes_and_by_url_only_when_allowed() -> None:
    image = ChatFile("image/png", "data:image/png;base64,iVBO", "a.png", data=b"\x89PNG")
    pdf = ChatFile("application/pdf", "data:application/pdf;base64,JVBE", None, data=b"%PDF")
    remote_image = ChatFile("image/jpeg", "https://example.com/b.jpg")
    remote_pdf = ChatFile("application/pdf", "https://example.com/c.pdf")
    files = (image, pdf, remote_image, remote_pdf)
    messages = [ChatMessage("user", "Look", files=files), ChatMessage("user", "", files=(image,))]
    png = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw==", "detail": "auto"}
    assert response_input(messages) == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look"},
                png,
                {
                    "type": "input_file",
                    "file_data": "data:application/pdf;base64,JVBERg==",
                    "filename": "file",
                },
            ],
        },
        {"role": "user", "content": [png]},  # no empty text
    ]
    allowed = response_input(messages[:1], allow_remote_file=lambda file: True)
    assert allowed[0]["content"][3:] == [
        {"type": "input_image", "image_url": "https://example.com/b.jpg", "detail": "auto"},
        {"type": "input_file", "file_url": "https://example.com/c.pdf"},
    ]
    # Only URLs refused, and no file left: the text alone.
    assert response_input([ChatMessage("user", "Hi", files=(remote_pdf,))]) == [
        {"role": "user", "content": "Hi"}
    ]


async def test_the_input_items_are_what_the_api_gets(api: RunningServer) -> None:
    call = settled("output-available", output="2 hits")
    parts = ({"type": "tool-search", "toolCallId": call.id},)
    history = [
        ChatMessage("user", "search"),
        ChatMessage("assistant", "", parts=parts, tool_calls=(call,)),
    ]
    parts_out = await collect(stream_response(await events(api, "agent", response_input(history))))
    assert parts_out[1:3] == ["After tools: ", "2 hits"]
    assert responses_received[-1]["input"] == response_input(history)
