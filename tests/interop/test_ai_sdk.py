"""The real `ai` package (the AI SDK that useChat is built on) against ChatStreamView under a
real uvicorn. Node and the package are installed by the test set-up (npm, pinned version)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.probes import probe
from tests.support.servers import RunningServer, uvicorn_server, wait_until
from tests.support.tools import require
from tests.testapp.chat import MARKDOWN, TRICKY, Prompt, results

FIXTURE = Path(__file__).parent / "fixture"
#: ai 7.x, which the agent scripts import instead when asked (it runs on this machine's Node).
AI7 = Path(__file__).parent / "fixture-ai7"


@pytest.fixture(scope="module")
def node() -> str:
    node = require("node")
    npm = require("npm")
    if not (FIXTURE / "node_modules" / "ai").is_dir():
        subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=FIXTURE,
            check=True,
            timeout=300,
        )
    return node


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with uvicorn_server() as running:
        yield running


def use_chat(node: str, server: RunningServer, text: str, abort_after: int = 0) -> Any:
    argv = [node, "use_chat_transport.mjs", f"{server.url}/chat-exempt/", text]
    if abort_after:
        argv.append(str(abort_after))
    completed = subprocess.run(
        argv, cwd=FIXTURE, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_final_message_is_what_generate_yielded(node: str, server: RunningServer) -> None:
    result = use_chat(node, server, Prompt.TRICKY)
    # Deltas travel as JSON strings, so even a CR survives the event stream.
    assert result["text"] == "".join(TRICKY)
    assert result["error"] is None
    assert result["chunkTypes"][:3] == ["start", "start-step", "text-start"]
    assert result["chunkTypes"][-3:] == ["text-end", "finish-step", "finish"]


def test_markdown_answer(node: str, server: RunningServer) -> None:
    assert use_chat(node, server, Prompt.MARKDOWN)["text"] == MARKDOWN


def test_an_exception_surfaces_as_the_error(node: str, server: RunningServer) -> None:
    result = use_chat(node, server, Prompt.FAIL)
    assert result["error"] == "The answer failed on the server."
    assert result["text"] == "partial "


def test_an_abort_stops_the_servers_generator(node: str, server: RunningServer) -> None:
    before = set(results)
    result = use_chat(
        node, server, Prompt.WAIT, abort_after=4
    )  # start, start-step, text-start, delta
    assert result["aborted"]
    wait_until(lambda: set(results) - before != set(), what="on_finish")
    [chat_id] = set(results) - before
    assert probe(chat_id).finished.wait(5)
    assert results[chat_id][0].status == "cancelled"


def test_reconnect_to_stream_replays_the_answer_in_progress(
    node: str, server: RunningServer, token: str
) -> None:
    argv = [
        node,
        "resume_stream.mjs",
        f"{server.url}/resumable-chat/",
        token,
        Prompt.lines(20, 0.03),
    ]
    completed = subprocess.run(
        argv, cwd=FIXTURE, capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["firstChunks"] == ["start", "start-step", "text-start", "text-delta"]
    # The SDK treats a resume as a replay: the whole answer, once, though we left after one line.
    assert result["text"] == "".join(f"Line {number} of a long answer.\n\n" for number in range(20))
    assert result["finishReason"] == "stop"
    assert result["resumedAfterEnd"] is None  # 204: nothing active any more


@pytest.fixture(scope="module", params=["6", "7"])
def ai_sdk(request: pytest.FixtureRequest, node: str) -> dict[str, str]:
    """The environment that picks the `ai` major version the agent scripts import."""
    if request.param == "6":
        return {}
    if not (AI7 / "node_modules" / "ai").is_dir():
        subprocess.run(
            [require("npm"), "install", "--no-package-lock", "--no-audit", "--no-fund",
             "--loglevel=error"],
            cwd=AI7, check=True, timeout=300,
        )  # fmt: skip
    return {"AI_SDK": str(AI7 / "index.mjs")}


def agent_chat(
    node: str,
    server: RunningServer,
    text: str,
    requests: int = 1,
    decision: str = "approve",
    sdk: dict[str, str] | None = None,
    *,
    endpoint: str = "/chat-exempt/",
) -> Any:
    """A conversation through the SDK's own chat (AbstractChat, what useChat wraps), with
    ``endpoint`` of ``server``; ``decision`` answers its approvals (``approve,deny``: in turn)."""
    argv = [node, "agent_chat.mjs", f"{server.url}{endpoint}", text, str(requests), decision]
    completed = subprocess.run(
        argv, cwd=FIXTURE, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(sdk or {})},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["error"] is None, result
    assert result["requests"] == requests, result
    return result


def tool_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"].startswith("tool-")]


def test_a_server_tool_with_streamed_input_and_two_steps(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    result = agent_chat(node, server, Prompt.TOOLS, sdk=ai_sdk)
    _, answer = result["messages"]
    [search] = tool_parts(answer)
    assert {key: search.get(key) for key in ("state", "input", "output", "title")} == {
        "state": "output-available",
        "input": {"query": "django"},
        "output": {"hits": 2},
        "title": "Web search",
    }
    assert [part["type"] for part in answer["parts"]] == [
        "step-start",
        "text",
        "tool-search",
        "step-start",
        "text",
    ]
    assert "tool-input-delta" in [chunk["type"] for chunk in result["chunks"]]


def test_a_tool_error(node: str, server: RunningServer, ai_sdk: dict[str, str]) -> None:
    [_, answer] = agent_chat(node, server, Prompt.TOOL_ERROR, sdk=ai_sdk)["messages"]
    [search] = tool_parts(answer)
    assert (search["state"], search["errorText"]) == ("output-error", "The index is down.")
    assert answer["parts"][-1]["text"] == "The search failed."


@pytest.mark.parametrize(
    ("decision", "state", "text"),
    [("approve", "output-available", "Renamed."), ("deny", "output-denied", "Left as it is.")],
)
def test_an_approval_then_the_continuation_in_the_same_message(
    node: str, server: RunningServer, ai_sdk: dict[str, str], decision: str, state: str, text: str
) -> None:
    result = agent_chat(node, server, Prompt.APPROVAL, requests=2, decision=decision, sdk=ai_sdk)
    _, answer = result["messages"]  # one assistant message, not two
    [rename] = tool_parts(answer)
    assert rename["state"] == state
    assert rename["approval"]["approved"] is (decision == "approve")
    assert answer["parts"][-1] == {"type": "text", "text": text, "state": "done"}
    finishes = [chunk for chunk in result["chunks"] if chunk["type"] == "finish"]
    assert [finish["finishReason"] for finish in finishes] == ["tool-calls", "stop"]


def test_a_client_tool_output_continues_the_answer_by_itself(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    result = agent_chat(node, server, Prompt.CLIENT_TOOL, requests=2, sdk=ai_sdk)
    _, answer = result["messages"]
    [local_time] = tool_parts(answer)
    assert (local_time["state"], local_time["output"]) == ("output-available", {"time": "12:34"})
    assert answer["parts"][-1]["text"] == "It is 12:34."
    starts = [chunk for chunk in result["chunks"] if chunk["type"] == "start"]
    assert starts[0]["messageId"] == starts[1]["messageId"] == answer["id"]
    finishes = [chunk["finishReason"] for chunk in result["chunks"] if chunk["type"] == "finish"]
    assert finishes == ["tool-calls", "stop"]  # the first waited for the browser


def test_files_documents_metadata_the_escape_hatch_and_a_finish_reason(
    node: str, server: RunningServer, ai_sdk: dict[str, str]
) -> None:
    result = agent_chat(node, server, Prompt.EXTRAS, sdk=ai_sdk)
    _, answer = result["messages"]
    kinds = [part["type"] for part in answer["parts"]]
    assert kinds == ["step-start", "file", "source-document", "data-note", "text"]
    assert answer["metadata"] == {"model": "test-model", "step": "extras", "tokens": 3}
    finish = [chunk for chunk in result["chunks"] if chunk["type"] == "finish"]
    assert finish == [
        {"type": "finish", "finishReason": "length", "messageMetadata": {"tokens": 3}}
    ]
