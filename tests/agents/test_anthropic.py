"""`django_streaming.agents.anthropic`: the real `anthropic` client's Messages streams (raw
events, and `messages.stream()`'s), from the fake Messages API
(`tests/support/fake_anthropic.py`) under uvicorn on loopback; and the conversation going
the other way."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Any, cast

import anthropic
import pytest

from django_streaming import (
    Finish,
    Metadata,
    ReasoningDelta,
    ToolCall,
    ToolInputDelta,
    ToolInputError,
    ToolResult,
)
from django_streaming.agents.anthropic import anthropic_messages, message_parts
from django_streaming.agents.sdk import DENIED_TEXT, NOT_AN_OBJECT
from django_streaming.chat.messages import ChatFile, ChatMessage
from django_streaming.chat.parts import ChatPart
from tests.agents.test_openai import PDF, PNG, call, collect, data_url, ui
from tests.support.fake_anthropic import disconnected, fake_anthropic, received
from tests.support.servers import RunningServer, until, uvicorn_server

MODEL = Metadata({"model": "claude-fake-1"})


def usage(given: int = 10, taken: int = 7, cached: int = 0) -> dict[str, Any]:
    return {
        "usage": {
            "inputTokens": given,
            "outputTokens": taken,
            "totalTokens": given + taken,
            "cachedInputTokens": cached,
        }
    }


@pytest.fixture(scope="module")
def api() -> Iterator[RunningServer]:
    with uvicorn_server(app=fake_anthropic) as server:
        yield server


def client(api: RunningServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=api.url, api_key="k", max_retries=0)


QUESTION: list[Any] = [{"role": "user", "content": "Hi"}]


async def parts_of(api: RunningServer, model: str) -> list[ChatPart]:
    """The parts of the raw events of ``messages.create(stream=True)``."""
    async with client(api) as claude:
        stream = await claude.messages.create(
            model=model, max_tokens=100, messages=QUESTION, stream=True
        )
        return [part async for part in message_parts(stream)]


async def helper_parts_of(api: RunningServer, model: str) -> list[ChatPart]:
    """The parts of ``messages.stream()``'s events (its own events besides the raw ones)."""
    async with (
        client(api) as claude,
        claude.messages.stream(model=model, max_tokens=100, messages=QUESTION) as stream,
    ):
        return [part async for part in message_parts(stream)]


async def test_text_after_the_model_name_then_the_stop_reason_and_usage(
    api: RunningServer,
) -> None:
    parts = await parts_of(api, "claude-text")
    assert parts == [MODEL, "Hel", "lo", Finish("stop", usage())]
    assert parts[0].provider == "anthropic"  # type: ignore[union-attr]  # for the answer's span


async def test_thinking_then_text_with_cached_input(api: RunningServer) -> None:
    expected = [
        MODEL,
        ReasoningDelta("Two and "),
        ReasoningDelta("two."),
        "Four.",  # the signature and the redacted thinking are not shown
        Finish("stop", usage(given=10 + 5 + 90, taken=30, cached=90)),
    ]
    assert await parts_of(api, "claude-thinking") == expected
    assert await helper_parts_of(api, "claude-thinking") == expected


async def test_tool_use_streams_its_input_then_the_call(api: RunningServer) -> None:
    assert await parts_of(api, "claude-tools") == [
        MODEL,
        "Let me look.",
        ToolInputDelta("toolu_1", "weather", '{"city": '),
        ToolInputDelta("toolu_1", "weather", '"Paris"}'),
        ToolCall("weather", {"city": "Paris"}, "toolu_1"),
        ToolCall("now", {}, "toolu_2"),  # no input at all: {}
        ToolInputDelta("toolu_3", "weather", "{not json"),
        ToolInputError("toolu_3", "weather", "{not json", NOT_AN_OBJECT),
        Finish("tool-calls", usage(taken=40)),
    ]


async def test_a_server_tool_and_its_result(api: RunningServer) -> None:
    result = [
        {
            "type": "web_search_result",
            "title": "Django",
            "url": "https://www.djangoproject.com/",
            "encrypted_content": "abc",
            "page_age": None,
        }
    ]
    expected = [
        MODEL,
        ToolInputDelta("srvtoolu_1", "web_search", '{"query": "django"}'),
        ToolCall("web_search", {"query": "django"}, "srvtoolu_1", provider_executed=True),
        ToolResult("srvtoolu_1", result),
        "Found it.",
        Finish("stop", usage(given=2000, taken=12)),  # message_delta's counts are the last
    ]
    assert await parts_of(api, "claude-search") == expected
    assert await helper_parts_of(api, "claude-search") == expected


async def test_an_mcp_tool_and_blocks_of_kinds_yet_to_come(api: RunningServer) -> None:
    assert await parts_of(api, "claude-mcp") == [
        MODEL,
        ToolInputDelta("mcptoolu_1", "list_repos", '{"owner": "x"}'),
        ToolCall("list_repos", {"owner": "x"}, "mcptoolu_1", provider_executed=True),
        ToolResult("mcptoolu_1", [{"type": "text", "text": "3 repos"}]),
        "You have 3.",  # the unknown block and its deltas are skipped
        Finish("stop", usage()),
    ]


@pytest.mark.parametrize(
    ("reason", "mapped"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool-calls"),
        ("refusal", "content-filter"),
        ("pause_turn", "other"),
    ],
)
async def test_stop_reasons(api: RunningServer, reason: str, mapped: str) -> None:
    assert (await parts_of(api, f"claude-stop-{reason}"))[-1] == Finish(mapped, usage())


async def test_an_error_event_propagates(api: RunningServer) -> None:
    seen: list[ChatPart] = []
    async with client(api) as claude:
        stream = await claude.messages.create(
            model="claude-overloaded", max_tokens=100, messages=QUESTION, stream=True
        )
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            await collect(message_parts(stream), seen)
    assert seen == [MODEL, "Hel"]


@pytest.mark.parametrize("helper", [False, True])
async def test_closing_the_parts_closes_the_models_request(
    api: RunningServer, helper: bool
) -> None:
    disconnected.clear()
    async with client(api) as claude:
        if helper:
            stream: Any = await claude.messages.stream(
                model="claude-hang", max_tokens=100, messages=QUESTION
            ).__aenter__()
        else:
            stream = await claude.messages.create(
                model="claude-hang", max_tokens=100, messages=QUESTION, stream=True
            )
        parts = cast(AsyncGenerator[ChatPart, None], message_parts(stream))
        assert [await anext(parts), await anext(parts)] == [MODEL, "Hel"]
        await parts.aclose()  # what a Stop does to generate()
        await until(lambda: disconnected == ["claude-hang"], "the fake to see the request closed")


# The conversation, going the other way.


def test_the_system_prompt_and_text_messages() -> None:
    messages = [
        ChatMessage("system", "From a trusting view."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", ""),  # nothing to send
    ]
    assert anthropic_messages(messages, system="Be brief.") == (
        [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        ],
        "Be brief.\n\nFrom a trusting view.",
    )
    assert anthropic_messages([ChatMessage("user", "Hi")])[1] is None


def test_tool_use_answered_by_tool_results_before_the_next_question() -> None:
    denied = {"id": "a1", "approved": False, "reason": "not now"}
    answer = ui(
        "assistant",
        {"type": "step-start"},
        {"type": "reasoning", "text": "left out: its signature is not kept"},
        {"type": "text", "text": "Looking."},
        call("weather", "c1", "output-available", input={"city": "Paris"}, output={"c": 21}),
        call("weather", "c2", "output-error", rawInput="{not json", errorText="Bad input"),
        call("rename", "c3", "approval-responded", input={"t": "x"}, approval=denied),
        call(
            "rename", "c4", "approval-responded", input={}, approval={"id": "a", "approved": True}
        ),
        call("local_time", "c5", "input-available", input={}),  # waits: left out
        call("web_search", "c6", "output-available", input={}, output=[], providerExecuted=True),
        {"type": "step-start"},
        {"type": "text", "text": "It is 21."},
    )
    history, _ = anthropic_messages(
        [ChatMessage("user", "Weather?"), answer, ChatMessage("user", "Thanks")],
        outputs={"c4": "renamed"},
    )
    assert history == [
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "c1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "c2", "name": "weather", "input": {}},
                {"type": "tool_use", "id": "c3", "name": "rename", "input": {"t": "x"}},
                {"type": "tool_use", "id": "c4", "name": "rename", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "content": '{"c": 21}',
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "c2",
                    "content": "Bad input",
                    "is_error": True,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "c3",
                    "content": f"{DENIED_TEXT} Reason: not now",
                    "is_error": True,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "c4",
                    "content": "renamed",
                    "is_error": False,
                },
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It is 21."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ]


def test_the_next_question_joins_the_tool_results() -> None:
    answer = ui("assistant", call("now", "c1", "output-available", input={}, output=1))
    history, _ = anthropic_messages([answer, ChatMessage("user", "And?")])
    assert history[0] == {  # no empty text block
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "c1", "name": "now", "input": {}}],
    }
    assert history[1] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "1", "is_error": False},
            {"type": "text", "text": "And?"},
        ],
    }


def test_files_go_from_their_bytes_and_remote_files_only_if_allowed() -> None:
    files = (
        ChatFile("image/png", data_url("image/png", PNG), "a.png", PNG),
        ChatFile("image/jpeg", "https://example.com/b.jpg", "b.jpg"),
        ChatFile("image/webp", "https://elsewhere.example/c.webp", "c.webp"),
        ChatFile("application/pdf", data_url("application/pdf", PDF), "d.pdf", PDF),
        ChatFile("application/pdf", "https://example.com/e.pdf", "e.pdf"),
        ChatFile("text/plain", "data:text/plain,h%C3%A9", "f.txt", "hé".encode()),
        ChatFile("text/plain", "https://example.com/g.txt", "g.txt"),
        ChatFile("image/svg+xml", "data:image/svg+xml,<svg/>", "h.svg", b"<svg/>"),
        ChatFile("audio/wav", "data:audio/wav;base64,UklGRg==", "i.wav", b"RIFF"),
    )
    question = ChatMessage("user", "What are these?", files=files)
    history, _ = anthropic_messages(
        [question], allow_remote_file=lambda file: file.url.startswith("https://example.com/")
    )
    png, pdf = data_url("image/png", PNG), data_url("application/pdf", PDF)
    assert history[0]["content"] == [
        {"type": "text", "text": "What are these?"},
        {"type": "image",
         "source": {"type": "base64", "media_type": "image/png", "data": png.partition(",")[2]}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/b.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": pdf.partition(",")[2]}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/e.pdf"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hé"}},
    ]  # fmt: skip
    history, _ = anthropic_messages([ChatMessage("user", "", files=files[1:3])])
    assert history == []  # no bytes, no remote file allowed, no text: nothing to send


async def test_the_anthropic_client_sends_the_conversation_as_it_is(api: RunningServer) -> None:
    received.clear()
    image = ChatFile("image/png", data_url("image/png", PNG), "a.png", PNG)
    conversation = [
        ChatMessage("user", "count"),
        ui("assistant", call("count", "c1", "output-available", input={}, output={"n": 3})),
        ChatMessage("user", "and this?", files=(image,)),
    ]
    history, system = anthropic_messages(conversation, system="Be brief.")
    assert system is not None
    async with client(api) as claude:
        stream = await claude.messages.create(
            model="claude-text",
            max_tokens=100,
            system=system,
            messages=history,
            stream=True,
        )
        assert [part async for part in message_parts(stream)][1] == "Hel"
    assert received[-1]["messages"] == history
    assert received[-1]["system"] == "Be brief."
