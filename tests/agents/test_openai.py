"""`django_streaming.agents.openai`: the real `openai` client's chat-completions streams, from
the fake OpenAI-compatible API (`tests/support/fake_openai.py`) under uvicorn on loopback, in
the shapes OpenAI, DeepSeek, vLLM, LiteLLM and Azure send; and the conversation going the
other way."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any, cast

import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from django_streaming import (
    Finish,
    Metadata,
    ReasoningDelta,
    ToolCall,
    ToolInputDelta,
    ToolInputError,
)
from django_streaming.agents.openai import chat_completions_parts, chat_messages
from django_streaming.agents.sdk import DENIED_TEXT, NOT_AN_OBJECT
from django_streaming.chat.messages import ChatFile, ChatMessage, parse_message
from django_streaming.chat.parts import ChatPart
from tests.support.fake_openai import SCRIPTS, disconnected, fake_openai, received
from tests.support.servers import RunningServer, until, uvicorn_server

USAGE = {
    "inputTokens": 12,
    "outputTokens": 30,
    "totalTokens": 42,
    "reasoningTokens": 20,
    "cachedInputTokens": 8,
}


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_openai) as server:
        yield server


def client(api: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key="k", max_retries=0)


async def parts_of(api: RunningServer, model: str) -> list[ChatPart]:
    async with client(api) as openai_client:
        stream = await openai_client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return [part async for part in chat_completions_parts(stream)]


async def collect(parts: AsyncIterator[ChatPart], into: list[ChatPart]) -> None:
    async for part in parts:
        into.append(part)


async def test_text_after_the_model_name_then_the_finish_reason(api: RunningServer) -> None:
    parts = await parts_of(api, "finish-stop")
    assert parts == [
        Metadata({"model": "finish-stop"}),
        "Ok",
        Finish("stop"),  # no usage: the server sent none
    ]
    assert parts[0].provider == "openai"  # type: ignore[union-attr]  # for the answer's span


async def test_reasoning_content_text_and_usage(api: RunningServer) -> None:
    assert await parts_of(api, "reasoning") == [
        Metadata({"model": "reasoning"}),
        ReasoningDelta("Two and "),
        ReasoningDelta("two..."),
        "Four.",
        Finish("stop", {"usage": USAGE}),
    ]


async def test_the_reasoning_field_of_vllm_and_ollama(api: RunningServer) -> None:
    assert await parts_of(api, "vllm") == [
        Metadata({"model": "vllm"}),
        ReasoningDelta("Hm."),
        "Done",
        Finish("stop"),  # "eos"
    ]


async def test_tool_calls_stream_their_arguments_then_come_whole(api: RunningServer) -> None:
    assert await parts_of(api, "calls") == [
        Metadata({"model": "calls"}),
        "Let me look.",
        ToolInputDelta("call_a", "weather", '{"city": '),
        ToolInputDelta("call_a", "weather", '"Paris"}'),
        ToolInputDelta("call_b", "weather", "{not json"),
        ToolCall("weather", {"city": "Paris"}, "call_a"),
        ToolInputError("call_b", "weather", "{not json", NOT_AN_OBJECT),
        Finish("tool-calls", {"usage": USAGE}),
    ]


async def test_a_call_in_one_chunk_with_the_legacy_finish_reason(api: RunningServer) -> None:
    assert await parts_of(api, "litellm") == [
        Metadata({"model": "litellm"}),
        ToolInputDelta("call_c", "weather", '{"city": "Oslo"}'),
        ToolCall("weather", {"city": "Oslo"}, "call_c"),
        Finish("tool-calls", {"usage": {"inputTokens": 12, "outputTokens": 30, "totalTokens": 42}}),
    ]


async def test_calls_without_an_id_or_arguments_and_no_finish_reason(api: RunningServer) -> None:
    parts = await parts_of(api, "sloppy")
    now = parts[2]
    assert isinstance(now, ToolCall)
    assert now.id.startswith("call-")  # made up: the server sent none
    assert parts == [
        Metadata({"model": "sloppy"}),
        ToolInputDelta("call_d", "weather", "[1, 2]"),
        ToolCall("now", {}, now.id),  # no arguments at all: {}
        ToolInputError("call_d", "weather", "[1, 2]", NOT_AN_OBJECT),  # JSON, not an object
        Finish("other"),
    ]


async def test_the_model_name_comes_from_the_first_chunk_that_has_one(api: RunningServer) -> None:
    assert await parts_of(api, "azure") == [Metadata({"model": "azure"}), "Hi", Finish("stop")]


async def test_a_refusal_is_text(api: RunningServer) -> None:
    parts = await parts_of(api, "refusal")
    assert parts[1:] == ["I can't help with that.", Finish("stop")]


async def test_only_the_first_choice_is_read(api: RunningServer) -> None:
    assert await parts_of(api, "two-choices") == [
        Metadata({"model": "two-choices"}),
        "One",
        Finish("stop"),
    ]


@pytest.mark.parametrize(
    ("reason", "mapped"),
    [
        ("stop", "stop"),
        ("eos", "stop"),
        ("length", "length"),
        ("content_filter", "content-filter"),
        ("tool_calls", "tool-calls"),
        ("function_call", "tool-calls"),
        ("error", "error"),
        ("something_new", "other"),
    ],
)
async def test_finish_reasons(api: RunningServer, reason: str, mapped: str) -> None:
    assert (await parts_of(api, f"finish-{reason}"))[-1] == Finish(mapped)


async def test_an_error_in_the_stream_propagates(api: RunningServer) -> None:
    seen: list[ChatPart] = []
    async with client(api) as openai_client:
        stream = await openai_client.chat.completions.create(
            model="midstream-error", messages=[], stream=True
        )
        with pytest.raises(openai.APIError, match="The server had an error"):
            await collect(chat_completions_parts(stream), seen)
    assert seen == [Metadata({"model": "midstream-error"}), "Hel"]


async def test_closing_the_parts_closes_the_models_request(api: RunningServer) -> None:
    disconnected.clear()
    async with client(api) as openai_client:
        stream = await openai_client.chat.completions.create(model="hang", messages=[], stream=True)
        parts = cast(AsyncGenerator[ChatPart, None], chat_completions_parts(stream))
        assert [await anext(parts), await anext(parts)] == [Metadata({"model": "hang"}), "Hel"]
        await parts.aclose()  # what a Stop does to generate()
        await until(lambda: disconnected == ["hang"], "the fake API to see the request closed")


def chunks(model: str) -> list[ChatCompletionChunk]:
    """The fake's chunks, made by the SDK's own type as its client makes them (unvalidated:
    a server's own finish reason is not one of the type's)."""
    base: dict[str, Any] = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
    }
    return [ChatCompletionChunk.construct(**(base | payload)) for payload in SCRIPTS[model]]


async def test_any_async_iterable_of_chunks_serves_and_is_closed_if_it_can_be() -> None:
    closed: list[bool] = []

    async def generated() -> AsyncIterator[ChatCompletionChunk]:
        try:
            for chunk in chunks("vllm"):
                yield chunk
        finally:
            closed.append(True)

    class Chunks:  # neither close() nor aclose()
        def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
            return generated()

    expected = [Metadata({"model": "vllm"}), ReasoningDelta("Hm."), "Done", Finish("stop")]
    assert [part async for part in chat_completions_parts(generated())] == expected
    assert [part async for part in chat_completions_parts(Chunks())] == expected
    assert closed == [True, True]


# The conversation, going the other way.


def ui(role: str, *parts: dict[str, Any], **fields: Any) -> ChatMessage:
    """A UI message as a client sends it, parsed as the view parses it."""
    return parse_message({"id": "m", "role": role, "parts": list(parts), **fields})


def call(name: str, call_id: str, state: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"tool-{name}", "toolCallId": call_id, "state": state, **fields}


TEXT = {"type": "text", "text": "Looking."}
STEP = {"type": "step-start"}


def test_text_messages_after_the_system_prompt() -> None:
    messages = [
        ChatMessage("system", "From a trusting view."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
    ]
    assert chat_messages(messages, system="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "From a trusting view."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    assert chat_messages([ChatMessage("user", "Hi")]) == [{"role": "user", "content": "Hi"}]


def test_each_model_call_of_an_answer_with_its_calls_and_their_results() -> None:
    answer = ui(
        "assistant",
        STEP,
        TEXT,
        call("weather", "c1", "output-available", input={"city": "Paris"}, output={"c": 21}),
        call("note", "c2", "output-available", input={}, output="plain text"),
        STEP,
        {"type": "reasoning", "text": "left out"},
        {"type": "text", "text": "It is 21."},
    )
    assert chat_messages([answer]) == [
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "note", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"c": 21}'},
        {"role": "tool", "tool_call_id": "c2", "content": "plain text"},
        {"role": "assistant", "content": "It is 21."},
    ]


def test_text_after_calls_is_the_next_model_call_even_without_a_step() -> None:
    answer = ui(
        "assistant",
        call("now", "c1", "output-available", input={}, output=1),
        TEXT,
    )
    assert [m["role"] for m in chat_messages([answer])] == ["assistant", "tool", "assistant"]
    assert chat_messages([answer])[0]["content"] is None


def test_errors_and_denials_are_told_and_calls_without_an_outcome_left_out() -> None:
    denied = {"id": "a1", "approved": False, "reason": "not now"}
    answer = ui(
        "assistant",
        call("weather", "c1", "output-error", input={"city": 1}, errorText="No such city"),
        call("rename", "c2", "approval-responded", input={"t": "x"}, approval=denied),
        call("rename", "c3", "output-denied", input={"t": "y"}),
        call(
            "rename", "c4", "approval-responded", input={}, approval={"id": "a", "approved": True}
        ),
        call("local_time", "c5", "input-available", input={}),  # waits for the browser
        call("search", "c6", "output-available", input={}, output=[], providerExecuted=True),
        call("weather", "c7", "output-error", rawInput="{not json", errorText=""),
        call("weather", "c1", "output-error", input={"city": 1}, errorText="No such city"),
    )
    conversation: list[Any] = chat_messages([answer], outputs={"c4": {"renamed": True}})
    assert [c["id"] for c in conversation[0]["tool_calls"]] == ["c1", "c2", "c3", "c4", "c7"]
    assert conversation[0]["tool_calls"][4]["function"]["arguments"] == "{}"  # not an object
    assert [m["content"] for m in conversation[1:]] == [
        "No such city",
        f"{DENIED_TEXT} Reason: not now",
        DENIED_TEXT,
        '{"renamed": true}',  # what the caller ran once approved
        "The tool failed.",
    ]


def test_calls_of_two_model_calls_each_come_with_their_results() -> None:
    answer = ui(
        "assistant",
        call("now", "c1", "output-available", input={}, output=1),
        STEP,
        call("now", "c2", "output-available", input={}, output=2),
    )
    conversation: list[Any] = chat_messages([answer])
    assert [(m["role"], m.get("tool_call_id")) for m in conversation] == [
        ("assistant", None),
        ("tool", "c1"),
        ("assistant", None),
        ("tool", "c2"),
    ]


def test_an_approved_call_is_left_out_until_the_caller_gives_its_output() -> None:
    approved = {"id": "a1", "approved": True}
    answer = ui("assistant", TEXT, call("rename", "c1", "approval-responded", approval=approved))
    assert chat_messages([answer]) == [{"role": "assistant", "content": "Looking."}]


def test_a_model_call_with_nothing_left_to_tell_is_left_out() -> None:
    waiting = ui("assistant", call("local_time", "c1", "input-available", input={}))
    assert chat_messages([ChatMessage("user", "Hi"), waiting]) == [
        {"role": "user", "content": "Hi"}
    ]


def test_a_message_built_by_hand_without_parts() -> None:
    done = ChatMessage(
        "assistant",
        "Sure.",
        tool_calls=(parse_message({"role": "assistant", "parts": [
            call("now", "c1", "output-available", input={}, output=1)]}).tool_calls[0],),
    )  # fmt: skip
    assert chat_messages([done]) == [
        {"role": "assistant", "content": "Sure.",
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "now", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
    ]  # fmt: skip


PNG = b"\x89PNG\r\n\x1a\n"
PDF = b"%PDF-1.7"


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_images_and_pdfs_go_from_their_bytes_and_remote_files_only_if_allowed() -> None:
    files = (
        ChatFile("image/png", "data:image/png;base64,ignored", "a.png", PNG),
        ChatFile("image/jpeg", "https://example.com/b.jpg", "b.jpg"),
        ChatFile("image/webp", "https://elsewhere.example/c.webp", "c.webp"),
        ChatFile("application/pdf", data_url("application/pdf", PDF), "d.pdf", PDF),
        ChatFile("application/pdf", data_url("application/pdf", PDF), None, PDF),
        ChatFile("application/pdf", "https://example.com/e.pdf", "e.pdf"),
        ChatFile("text/plain", "data:text/plain,hi", "f.txt", b"hi"),
    )
    question = ChatMessage("user", "What is this?", files=files)
    allowed = chat_messages(
        [question], allow_remote_file=lambda file: file.url.startswith("https://example.com/")
    )
    pdf = data_url("application/pdf", PDF)
    assert allowed[0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.jpg"}},
        {"type": "file", "file": {"filename": "d.pdf", "file_data": pdf}},
        {"type": "file", "file": {"filename": "document.pdf", "file_data": pdf}},
    ]
    by_default = chat_messages([ChatMessage("user", "", files=files[:3])])
    assert by_default[0]["content"] == [  # no text part: there is no text
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
    ]


async def test_the_openai_client_sends_the_conversation_as_it_is(api: RunningServer) -> None:
    received.clear()
    image = ChatFile("image/png", data_url("image/png", PNG), "a.png", PNG)
    conversation = [
        ChatMessage("user", "count"),
        ui("assistant", call("count", "c1", "output-available", input={}, output={"n": 3})),
        ChatMessage("user", "and this?", files=(image,)),
    ]
    messages = chat_messages(conversation, system="Be brief.")
    async with client(api) as openai_client:
        stream = await openai_client.chat.completions.create(
            model="finish-stop",
            messages=messages,
            stream=True,
        )
        assert [part async for part in chat_completions_parts(stream)][1] == "Ok"
    assert received[-1]["messages"] == messages


def test_importing_the_mappers_imports_no_sdk() -> None:
    code = (
        "import sys, django_streaming.agents.openai, django_streaming.agents.anthropic;"
        "print(sorted({'openai', 'anthropic'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
