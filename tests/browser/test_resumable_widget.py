"""The widget with a resumable ChatStreamView, in real Chromium: a reload picks the answer up
where it is, and Stop stops the server's generation through the stop URL."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.probes import probe
from tests.testapp.chat import Prompt, results

pytestmark = pytest.mark.browser

INPUT = ".ds-chat__input"
ASSISTANT = ".ds-chat__message--assistant"


def open_chat(page: Page, chat_id: str) -> None:
    page.goto(f"/chat-page/?resumable=1&chat={chat_id}")
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")


def test_a_reload_resumes_the_answer_without_repeating_it(page: Page) -> None:
    chat_id = f"chat-{uuid.uuid4().hex}"
    open_chat(page, chat_id)
    page.fill(INPUT, Prompt.lines(40, 0.05))
    page.press(INPUT, "Enter")
    expect(page.locator(ASSISTANT)).to_contain_text("Line 3 of")
    open_chat(page, chat_id)  # a reload, mid-answer
    expect(page.locator(ASSISTANT)).to_contain_text("Line 39 of a long answer.", timeout=10_000)
    expect(page.locator(".ds-chat")).to_have_class("ds-chat")  # no longer busy
    assert page.locator(ASSISTANT).count() == 1
    assert page.locator(ASSISTANT).inner_text().count("Line 0 of") == 1
    assert results[chat_id][-1].status == "completed"


def test_without_an_answer_in_progress_the_page_shows_nothing_more(page: Page) -> None:
    chat_id = f"chat-{uuid.uuid4().hex}"
    with page.expect_response(lambda response: response.url.endswith("/stream")) as resume:
        open_chat(page, chat_id)
    assert resume.value.status == 204
    expect(page.locator(".ds-chat__send")).to_be_visible()
    assert page.locator(ASSISTANT).count() == 0


def test_stop_after_a_reload_stops_the_generation_on_the_server(page: Page) -> None:
    chat_id = f"chat-{uuid.uuid4().hex}"
    open_chat(page, chat_id)
    page.fill(INPUT, Prompt.WAIT)
    page.press(INPUT, "Enter")
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    # After a reload, this page only tails the answer: closing that request would not stop it.
    open_chat(page, chat_id)
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    assert not probe(chat_id).finished.is_set()
    # Its query, if any, names the answer (test_chat_widget_untrusted.py).
    stop = f"/{chat_id}/stop"
    with page.expect_request(lambda request: urlsplit(request.url).path.endswith(stop)):
        page.get_by_role("button", name="Stop").click()
    expect(page.locator(".ds-chat__note")).to_have_text("Stopped")
    assert probe(chat_id).finished.wait(5)
    assert results[chat_id][-1].status == "cancelled"
