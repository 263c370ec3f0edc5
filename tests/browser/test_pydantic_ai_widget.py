"""A pydantic-ai agent end to end in the widget, in real Chromium: ``{% chat_widget %}`` talks to
a ``ChatStreamView`` whose ``agent`` is a pydantic-ai ``Agent`` on pydantic-ai's own
``FunctionModel`` (``tests/agents/urls_pydantic_ai.py``); its text streams in, the user approves
its tool call in the page, and the continuation shows the tool's result and the model's answer
in the same message."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings

from tests.agents import urls_pydantic_ai
from tests.agents.urls_pydantic_ai import renamed
from tests.browser.test_chat_widget import ASSISTANT, open_chat, send, wait_idle

pytestmark = pytest.mark.browser

TOOL = ".ds-chat__tool"


@pytest.fixture(autouse=True)
def _urls(settings: Settings) -> None:
    settings.ROOT_URLCONF = urls_pydantic_ai.__name__  # the test project's pages come along
    renamed.clear()


@pytest.mark.parametrize(
    ("key", "state", "text"),
    [("Approve", "Done", "Renamed."), ("Deny", "Denied", "Left as it is.")],
)
def test_an_agents_answer_and_its_approval_clicked_in_the_page(
    page: Page, key: str, state: str, text: str
) -> None:
    open_chat(page, "endpoint=pydantic-ai-chat")
    send(page, "rename it")
    answer = page.locator(ASSISTANT)
    expect(answer).to_contain_text("I can do that, once you approve.")
    card = page.locator(TOOL)
    expect(card.locator(".ds-chat__tool-state")).to_have_text("Needs your approval")
    expect(card.locator(".ds-chat__tool-input")).to_contain_text('"title": "Porto"')
    page.get_by_role("button", name=f"{key} rename_chat").click()
    expect(answer).to_contain_text(text)
    wait_idle(page)
    expect(answer).to_have_count(1)  # the continuation goes on in the same message
    expect(card.locator(".ds-chat__tool-state")).to_have_text(state)
    if key == "Approve":  # the tool's result, on its card
        output = card.locator(".ds-chat__tool-output pre")
        expect(output).to_have_text('{\n  "title": "Porto"\n}', use_inner_text=False)
    assert renamed == (["Porto"] if key == "Approve" else [])
