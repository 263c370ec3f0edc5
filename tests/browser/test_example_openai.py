"""The example project on its OpenAI back-end, end to end: real uvicorn, real Chromium, the
real `openai` client, and a fake OpenAI-compatible API on loopback whose model calls the
example's three tools (`tests/support/fake_openai.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_example_chat import ANSWER, ask, new_page, start_chat, wait_idle
from tests.support.fake_openai import fake_openai, received
from tests.support.servers import RunningServer, example_project_server, uvicorn_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def example_on_openai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    database = tmp_path_factory.mktemp("example-openai") / "db.sqlite3"
    with (
        uvicorn_server(app=fake_openai) as api,
        example_project_server(
            database,
            tokens_per_second=0,
            CHAT_BACKEND="openai",
            OPENAI_BASE_URL=f"{api.url}/v1",
            OPENAI_API_KEY="test-key",
            OPENAI_MODEL="agent",
        ) as server,
    ):
        yield server


def tool_results() -> list[str]:
    """The tool results the example sent the model for the last question."""
    messages = received[-1]["messages"]
    asked = max(n for n, m in enumerate(messages) if m["role"] == "user")
    return [m["content"] for m in messages[asked:] if m["role"] == "tool"]


def test_the_model_calls_a_server_tool_an_approval_and_a_browser_tool(
    browser: Browser, example_on_openai: RunningServer
) -> None:
    page = new_page(browser, example_on_openai)
    start_chat(page)

    received.clear()
    ask(page, "count")  # the fake model calls count_chats, then answers with its result
    wait_idle(page)
    card = page.locator(".ds-chat__tool").last
    expect(card.locator(".ds-chat__tool-name")).to_have_text("Count your chats")
    expect(card.locator(".ds-chat__tool-state")).to_have_text("Done")
    assert [json.loads(result) for result in tool_results()] == [{"chats": 1}]
    expect(page.locator(ANSWER).last).to_contain_text('After tools: {"chats": 1}')

    received.clear()
    ask(page, "rename")  # needs the user's approval: the model is asked once, then waits
    page.get_by_role("button", name="Approve Rename this chat").click()
    wait_idle(page)
    assert len(received) == 2  # the call, and the answer after the approval
    assert [json.loads(result) for result in tool_results()] == [
        {"renamed": True, "title": "Lisbon"}
    ]
    expect(page.locator(ANSWER).last).to_contain_text("After tools:")

    received.clear()
    ask(page, "time")  # a tool the browser runs (chat/static/chat/tools.js)
    wait_idle(page)
    [local_time] = [json.loads(result) for result in tool_results()]
    assert set(local_time) == {"time"}, local_time
    expect(page.locator(ANSWER).last).to_contain_text("After tools:")

    answers = page.locator(ANSWER).count()
    page.reload()  # saved whole: the cards come back as they were
    expect(page.get_by_label("Title")).to_have_value("Lisbon")  # renamed once approved
    expect(page.locator(ANSWER)).to_have_count(answers)
    expect(page.locator(".ds-chat__tool .ds-chat__tool-state")).to_have_text(
        ["Done", "Done", "Done"]
    )
