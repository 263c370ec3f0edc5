"""The widget with a resumable ChatStreamView, in real Chromium: a reload picks the answer up
where it is, Stop stops the server's generation through the stop URL, and the tabs of one chat
read the answer in progress through one resume (streams.js), counted by the server."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.probes import probe
from tests.support.servers import wait_until
from tests.testapp.chat import Prompt, held_resumes, message_ids, results, resumes, triggers

pytestmark = pytest.mark.browser

INPUT = ".ds-chat__input"
ASSISTANT = ".ds-chat__message--assistant"


def open_chat(page: Page, chat_id: str, query: str = "") -> None:
    page.goto(f"/chat-page/?resumable=1&chat={chat_id}{query}")
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")


def open_idle_chat(page: Page, chat_id: str, query: str = "") -> None:
    """Open a chat without an answer in progress, and wait for the widget to be done checking
    for one (the server's 204, and the widget idle), so that the resumes a test counts next
    are its own (a question sent meanwhile would wait for the check: test_issue_24_...)."""
    open_chat(page, chat_id, query)
    wait_until(lambda: resumes[chat_id] == [204], what="the resume's 204: nothing in progress")
    expect(page.locator(".ds-chat")).to_have_class("ds-chat")  # not busy


def test_a_reload_resumes_the_answer_without_repeating_it(page: Page) -> None:
    """The reload's resume reaches the server while the answer is held half way (the gate):
    an answer that ended before it is not resumed (a 204), which is right, but not this test."""
    chat_id = f"chat-{uuid.uuid4().hex}"
    open_idle_chat(page, chat_id)
    page.fill(INPUT, Prompt.lines(40, 0.05, held=20))
    page.press(INPUT, "Enter")
    try:
        expect(page.locator(ASSISTANT)).to_contain_text("Line 3 of")
        open_chat(page, chat_id)  # a reload, mid-answer
        wait_until(lambda: resumes[chat_id] == [204, 200], what="the reload's resume")
        assert not probe(chat_id).finished.is_set()
    finally:
        probe(chat_id).gate.set()  # the rest of the answer
    expect(page.locator(ASSISTANT)).to_contain_text("Line 39 of a long answer.", timeout=10_000)
    expect(page.locator(".ds-chat")).to_have_class("ds-chat")  # no longer busy
    assert page.locator(ASSISTANT).count() == 1
    text = page.locator(ASSISTANT).inner_text()
    assert [text.count(f"Line {number} of") for number in range(40)] == [1] * 40
    assert results[chat_id][-1].status == "completed"


def test_a_page_loaded_between_the_save_and_the_end_draws_the_answer_once(page: Page) -> None:
    """The server saves an answer a moment before its stream ends: a page loaded in between
    has the saved copy in its history and finds the answer still in progress. The resume
    draws it whole in place of the saved copy (the same message id): one answer, not two."""
    chat_id = f"chat-{uuid.uuid4().hex}"
    saved = f"msg-{chat_id}"
    message_ids[chat_id] = saved
    open_idle_chat(page, chat_id)
    page.fill(INPUT, Prompt.lines(10, 0.01, held=5))
    page.press(INPUT, "Enter")
    try:
        expect(page.locator(ASSISTANT)).to_contain_text("Line 4 of")
        open_chat(page, chat_id, f"&saved={saved}")  # its history: the saved copy
        wait_until(lambda: resumes[chat_id] == [204, 200], what="the reload's resume")
    finally:
        probe(chat_id).gate.set()
    expect(page.locator(ASSISTANT)).to_contain_text("Line 9 of a long answer.", timeout=10_000)
    expect(page.locator(".ds-chat")).to_have_class("ds-chat")  # no longer busy
    expect(page.locator(ASSISTANT)).to_have_count(1)
    assert "Earlier answer" not in page.locator(ASSISTANT).inner_text()
    assert page.locator(ASSISTANT).get_attribute("data-id") == saved
    # What the widget sends next has the answer once.
    ids = page.evaluate("document.querySelector('[data-ds-chat]').dsChat.messages.map(m => m.id)")
    assert ids.count(saved) == 1


def test_issue_24_enter_while_the_page_checks_for_an_answer_sends_after_the_check(
    page: Page,
) -> None:
    """Enter while the page's resume is out and has found nothing yet is not lost: the question
    goes once the resume finds no answer in progress (a 204). Through the SharedWorker the
    check lasts until the worker has started, which a quick typist, or a test, could beat."""
    chat_id = f"chat-{uuid.uuid4().hex}"
    held = probe(f"{chat_id} resume")
    held_resumes.add(chat_id)
    try:
        open_chat(page, chat_id)
        assert held.started.wait(10), "the page's resume did not come"
        page.fill(INPUT, "hi")
        page.press(INPUT, "Enter")
        expect(page.locator(".ds-chat")).to_have_class(re.compile("ds-chat--busy"))
        assert chat_id not in triggers  # not sent yet
    finally:
        held.gate.set()
    expect(page.locator(ASSISTANT)).to_have_text("You said: hi")
    expect(page.locator(".ds-chat__message--user")).to_have_count(1)
    assert resumes[chat_id] == [204]
    assert page.locator(INPUT).input_value() == ""


def test_without_an_answer_in_progress_the_page_shows_nothing_more(page: Page) -> None:
    chat_id = f"chat-{uuid.uuid4().hex}"
    open_chat(page, chat_id)
    # The resume goes through the tabs' SharedWorker, which the page's events do not show.
    wait_until(lambda: resumes[chat_id] == [204], what="the resume's 204")
    expect(page.locator(".ds-chat__send")).to_be_visible()
    expect(page.locator(".ds-chat")).to_have_class("ds-chat")  # not busy
    assert page.locator(ASSISTANT).count() == 0


def test_stop_after_a_reload_stops_the_generation_on_the_server(page: Page) -> None:
    chat_id = f"chat-{uuid.uuid4().hex}"
    open_idle_chat(page, chat_id)
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


def whole_answer(page: Page, lines: int) -> None:
    """``page`` shows the answer of ``Prompt.lines(lines)`` whole, each line once, and is idle."""
    answer = page.locator(ASSISTANT)
    expect(answer).to_contain_text(f"Line {lines - 1} of a long answer.", timeout=15_000)
    expect(page.locator(".ds-chat")).to_have_class("ds-chat")  # no longer busy
    assert answer.count() == 1
    text = answer.inner_text()
    assert [text.count(f"Line {number} of") for number in range(lines)] == [1] * lines


@pytest.mark.parametrize("transport", ["worker", "locks"])
def test_two_tabs_of_a_chat_draw_its_answer_from_one_resume(
    context: BrowserContext, transport: str
) -> None:
    """Two tabs opened while a third's answer is being written both draw it whole, through
    one resume connection; with Web Locks, the leader tab closing mid-answer hands over (the
    next one resumes, and draws nothing twice)."""
    query = "&locks" if transport == "locks" else ""
    chat_id = f"chat-{uuid.uuid4().hex}"
    errors: list[str] = []
    asking, first, second = (context.new_page() for _ in range(3))
    for page in (asking, first, second):
        page.on("pageerror", lambda error: errors.append(str(error)))
    open_idle_chat(asking, chat_id, query)
    # Held at line 30 until the tabs have joined (and, with Web Locks, the next leader resumed).
    asking.fill(INPUT, Prompt.lines(60, 0.05, held=30))
    asking.press(INPUT, "Enter")
    try:
        expect(asking.locator(ASSISTANT)).to_contain_text("Line 3 of")
        open_chat(first, chat_id, query)
        expect(first.locator(ASSISTANT)).to_contain_text("Line 0 of")
        open_chat(second, chat_id, query)
        expect(second.locator(ASSISTANT)).to_contain_text("Line 0 of")  # from its start
        assert resumes[chat_id] == [204, 200]  # the second tab joined the first one's resume
        if transport == "locks":
            first.close()  # the leader, mid-answer: the second tab resumes
            wait_until(lambda: resumes[chat_id] == [204, 200, 200], what="the next resume")
        assert not probe(chat_id).finished.is_set()
    finally:
        probe(chat_id).gate.set()  # the rest of the answer
    if transport == "locks":
        whole_answer(second, 60)  # each line once: what the new resume replays is dropped
        assert resumes[chat_id] == [204, 200, 200]
    else:
        for page in (asking, first, second):
            whole_answer(page, 60)
        assert resumes[chat_id] == [204, 200]
    whole_answer(asking, 60)
    assert results[chat_id][-1].status == "completed"
    assert errors == []
