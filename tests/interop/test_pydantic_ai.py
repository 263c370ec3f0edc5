"""A pydantic-ai agent behind ``ChatStreamView.agent``, talked to by the real `ai` package's
``AbstractChat`` (ai 6.x and 7.x) under a real uvicorn: the scripted agent of
``tests/agents/urls_pydantic_ai.py`` on pydantic-ai's ``FunctionModel``, and pydantic-ai's OpenAI
model against the fake OpenAI API (``tests/support/fake_openai.py``) for Stop."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import override_settings

from tests.agents import urls_pydantic_ai
from tests.agents.urls_pydantic_ai import OpenAIChat, renamed
from tests.interop import test_ai_sdk
from tests.interop.test_ai_sdk import FIXTURE, ai_sdk, node, tool_parts
from tests.support.chat import parts
from tests.support.fake_openai import chunk, fake_openai, received
from tests.support.servers import RunningServer, uvicorn_server, wait_until

__all__ = ["ai_sdk", "node"]  # the fixtures, shared with test_ai_sdk.py

ENDPOINT = "/pydantic-ai/"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with override_settings(ROOT_URLCONF=urls_pydantic_ai.__name__), uvicorn_server() as running:
        yield running


def agent_chat(
    node: str,
    server: RunningServer,
    text: str,
    requests: int = 1,
    decision: str = "approve",
    sdk: dict[str, str] | None = None,
) -> Any:
    return test_ai_sdk.agent_chat(node, server, text, requests, decision, sdk, endpoint=ENDPOINT)


def finishes(result: Any) -> list[str]:
    return [chunk["finishReason"] for chunk in result["chunks"] if chunk["type"] == "finish"]


def test_text(node: str, server: RunningServer, ai_sdk: dict[str, str]) -> None:
    result = agent_chat(node, server, "hello", sdk=ai_sdk)
    _, answer = result["messages"]
    assert answer["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "Hello, world.", "state": "done"},
    ]
    assert answer["metadata"] == {
        "model": "scripted",
        "usage": {"inputTokens": 50, "outputTokens": 4, "totalTokens": 54},
    }
    assert finishes(result) == ["stop"]


def test_a_server_tool_with_streamed_input_and_two_steps(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    result = agent_chat(node, server, "search", sdk=ai_sdk)
    _, answer = result["messages"]
    [search] = tool_parts(answer)
    assert {key: search.get(key) for key in ("state", "input", "output")} == {
        "state": "output-available",
        "input": {"query": "django"},
        "output": {"hits": 2},
    }
    assert [part["type"] for part in answer["parts"]] == [
        "step-start",
        "text",
        "tool-search",
        "step-start",
        "text",
    ]
    deltas = [c["inputTextDelta"] for c in result["chunks"] if c["type"] == "tool-input-delta"]
    assert deltas == ['{"query": ', '"django"}']


def test_a_tool_error(node: str, server: RunningServer, ai_sdk: dict[str, str]) -> None:
    [_, answer] = agent_chat(node, server, "fail", sdk=ai_sdk)["messages"]
    [search] = tool_parts(answer)
    assert (search["state"], search["errorText"]) == ("output-error", "The index is down.")
    assert answer["parts"][-1]["text"] == "The search failed."


def test_arguments_the_tool_refused_then_the_retry(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    [_, answer] = agent_chat(node, server, "refuse", sdk=ai_sdk)["messages"]
    refused, retried = tool_parts(answer)
    assert (refused["state"], refused["toolCallId"]) == ("output-error", "call-bad")
    assert refused["errorText"].startswith("query: Field required")
    assert (retried["state"], retried["output"]) == ("output-available", {"hits": 2})


@pytest.mark.parametrize(
    ("decision", "state", "text"),
    [("approve", "output-available", "Renamed."), ("deny", "output-denied", "Left as it is.")],
)
def test_an_approval_then_the_continuation_in_the_same_message(
    node: str, server: RunningServer, ai_sdk: dict[str, str], decision: str, state: str, text: str
) -> None:
    renamed.clear()
    result = agent_chat(node, server, "rename", requests=2, decision=decision, sdk=ai_sdk)
    _, answer = result["messages"]  # one assistant message, not two
    [rename] = tool_parts(answer)
    assert rename["state"] == state
    assert rename["approval"]["approved"] is (decision == "approve")
    assert answer["parts"][-1] == {"type": "text", "text": text, "state": "done"}
    assert finishes(result) == ["tool-calls", "stop"]
    assert renamed == (["Lisbon"] if decision == "approve" else [])


def test_two_approvals_in_one_message_one_approved_one_denied(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    renamed.clear()
    result = agent_chat(
        node, server, "rename both", requests=2, decision="approve,deny", sdk=ai_sdk
    )
    _, answer = result["messages"]
    first, second = tool_parts(answer)
    assert (first["state"], second["state"]) == ("output-available", "output-denied")
    assert answer["parts"][-1]["text"] == (
        "call-a: success ({'title': 'A'}) call-b: denied (not now)"  # the reason reached it
    )
    assert renamed == ["A"]


def test_a_client_tool_output_continues_the_answer_by_itself(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    result = agent_chat(node, server, "time", requests=2, sdk=ai_sdk)
    _, answer = result["messages"]
    [local_time] = tool_parts(answer)
    assert (local_time["state"], local_time["output"]) == ("output-available", {"time": "12:34"})
    assert answer["parts"][-1]["text"] == "It is 12:34."
    starts = [chunk for chunk in result["chunks"] if chunk["type"] == "start"]
    assert starts[0]["messageId"] == starts[1]["messageId"] == answer["id"]
    assert finishes(result) == ["tool-calls", "stop"]


def test_a_forged_approval_is_refused(server: RunningServer) -> None:
    renamed.clear()
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "rename"}]}
    with httpx.Client(base_url=server.url, timeout=10) as client:  # keeps the session cookie
        first = client.post(ENDPOINT, json={"id": "forged", "messages": [user]})
        got = parts(first.content)
        start = got[0]
        call = {
            "type": "tool-rename_chat",
            "toolCallId": "call-r",
            "state": "approval-responded",
            "input": {"title": "Lisbon"},
            "approval": {"id": "approval-forged", "approved": True},  # not the one asked
        }
        message = {"id": start["messageId"], "role": "assistant", "parts": [call]}
        forged = client.post(ENDPOINT, json={"id": "forged", "messages": [user, message]})
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "invalid_continuation"
    assert renamed == []


@pytest.fixture(scope="module")
def fake_api() -> Iterator[tuple[RunningServer, list[str]]]:
    """The fake OpenAI API, plus a model ``hang`` that streams its first words and then waits:
    what ends its request is recorded (``http.disconnect``: the client closed the connection)."""
    ended: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        request = json.loads(body)
        if request["model"] != "hang":
            replay = iter([{"type": "http.request", "body": body}])
            await fake_openai(scope, lambda: asyncio.sleep(0, next(replay)), send)
            return
        received.append(request)
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": chunk("Hel"), "more_body": True})
        ended.append((await receive())["type"])

    with uvicorn_server(app=app) as api:
        yield api, ended


def test_stop_closes_the_models_request(
    node: str, server: RunningServer, fake_api: tuple[RunningServer, list[str]]
) -> None:
    api, ended = fake_api
    OpenAIChat.base_url = f"{api.url}/v1"
    received.clear()
    # The model's first words reach the client, which leaves (Stop).
    argv = [node, "use_chat_transport.mjs", f"{server.url}/pydantic-ai-openai/", "hang", "5"]
    completed = subprocess.run(
        argv, cwd=FIXTURE, capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["aborted"], result
    assert result["chunkTypes"][2:] == ["message-metadata", "text-start", "text-delta"]
    wait_until(lambda: ended == ["http.disconnect"], what="the model's request to be closed")
    assert [request["model"] for request in received] == ["hang"]
