"""The actions under each finished message (chat-actions.js, chat-edit.js) in real Chromium
against a real uvicorn: edit and resend, regenerate, copy as markdown, feedback, the page's own
actions, their names and the keyboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Request, expect

from tests.browser.test_chat_widget import ASSISTANT, open_chat, send, wait_idle
from tests.testapp.chat import MARKDOWN, Prompt, triggers
from tests.testapp.views import votes

pytestmark = pytest.mark.browser

USER = ".ds-chat__message--user"


def bodies(page: Page) -> list[dict[str, Any]]:
    """The chat requests' bodies, as the server receives them."""
    sent: list[dict[str, Any]] = []

    def keep(request: Request) -> None:
        if request.method == "POST" and "chat" in request.url and "stop" not in request.url:
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", keep)
    return sent


def action(message: Locator, name: str) -> Locator:
    return message.get_by_role("button", name=name, exact=True)


def edit(page: Page, question: Locator, text: str) -> None:
    action(question, "Edit").click()
    editor = question.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.fill(text)
    question.get_by_role("button", name="Save").click()


@pytest.mark.parametrize("mode", ["all", "last"])
def test_an_edit_resends_the_question_and_replaces_the_answers_after_it(
    page: Page, mode: str
) -> None:
    query = "send=last&endpoint=/last-message-chat/" if mode == "last" else ""
    chat_id = open_chat(page, query)
    sent = bodies(page)
    send(page, "first")
    wait_idle(page)
    send(page, "second")
    wait_idle(page)
    first = page.locator(USER).first
    first_id = first.get_attribute("data-id")
    edit(page, first, "first, edited")
    expect(page.locator(ASSISTANT)).to_have_count(1)
    expect(page.locator(ASSISTANT)).to_have_text("You said: first, edited")
    expect(page.locator(USER)).to_have_text(["first, edited"])
    wait_idle(page)
    body = sent[-1]
    assert (body["trigger"], body["messageId"]) == ("submit-message", first_id)
    edited = {"id": first_id, "role": "user", "parts": [{"type": "text", "text": "first, edited"}]}
    if mode == "last":
        assert body["message"] == edited
    else:
        assert body["messages"] == [edited]  # the answers after it are gone from what is sent
        assert triggers[chat_id] == ["submit-message"] * 3
    # The edited question keeps its actions; the next question follows it.
    send(page, "third")
    expect(page.locator(ASSISTANT).last).to_have_text("You said: third")
    wait_idle(page)
    if mode == "all":
        assert [m["parts"][-1].get("text") for m in sent[-1]["messages"]] == [
            "first, edited",
            "You said: first, edited",
            "third",
        ]


def test_escape_or_cancel_leaves_the_question_as_it_was(page: Page) -> None:
    open_chat(page)
    sent = bodies(page)
    send(page, "keep me")
    wait_idle(page)
    question = page.locator(USER)
    action(question, "Edit").click()
    editor = question.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("keep me")
    editor.fill("changed")
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(question.locator(".ds-chat__content")).to_have_text("keep me")
    expect(action(question, "Edit")).to_be_focused()  # back where the user was
    action(question, "Edit").click()
    question.get_by_role("button", name="Cancel").click()
    expect(question.locator(".ds-chat__content")).to_have_text("keep me")
    expect(page.locator(ASSISTANT)).to_have_count(1)
    assert len(sent) == 1


def test_regenerate_replaces_the_last_answer_and_only_the_last_has_it(page: Page) -> None:
    chat_id = open_chat(page)
    sent = bodies(page)
    send(page, "one")
    wait_idle(page)
    send(page, "two")
    wait_idle(page)
    answers = page.locator(ASSISTANT)
    expect(action(answers.first, "Regenerate")).to_be_hidden()
    last = answers.last
    answer_id = last.get_attribute("data-id")
    action(last, "Regenerate").click()
    expect(page.locator(f"{ASSISTANT}[data-id='{answer_id}']")).to_have_count(0)
    expect(answers).to_have_count(2)
    expect(answers.last).to_have_text("You said: two")
    wait_idle(page)
    assert triggers[chat_id] == ["submit-message", "submit-message", "regenerate-message"]
    body = sent[-1]
    assert (body["trigger"], body["messageId"]) == ("regenerate-message", answer_id)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert answers.last.get_attribute("data-id") != answer_id  # a new answer, the server's id
    expect(action(answers.last, "Regenerate")).to_be_visible()  # any time, again


def test_copy_message_puts_the_markdown_source_on_the_clipboard(
    context: BrowserContext, page: Page
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_chat(page)
    send(page, Prompt.MARKDOWN)
    wait_idle(page)
    button = action(page.locator(ASSISTANT), "Copy message")
    button.click()
    expect(button).to_have_attribute("data-state", "copied")
    assert page.evaluate("navigator.clipboard.readText()") == MARKDOWN
    action(page.locator(USER), "Copy message").click()
    page.wait_for_function(f"navigator.clipboard.readText().then(t => t === {Prompt.MARKDOWN!r})")


def test_feedback_dispatches_an_event_and_posts_to_the_feedback_url(page: Page) -> None:
    open_chat(page, "feedback=test-feedback")
    page.evaluate(
        """() => { window.feedback = [];
        document.addEventListener("ds-chat:feedback", (e) => window.feedback.push(e.detail)); }"""
    )
    send(page, "rate me")
    wait_idle(page)
    answer = page.locator(ASSISTANT)
    answer_id = answer.get_attribute("data-id")
    votes.clear()
    with page.expect_response("**/feedback/") as response:
        action(answer, "Good response").click()
    assert response.value.status == 204  # past Django's CSRF check: the widget sent the token
    assert votes == [{"messageId": answer_id, "vote": "up"}]
    expect(action(answer, "Good response")).to_have_attribute("aria-pressed", "true")
    with page.expect_response("**/feedback/"):
        action(answer, "Bad response").click()
    expect(action(answer, "Good response")).to_have_attribute("aria-pressed", "false")
    expect(action(answer, "Bad response")).to_have_attribute("aria-pressed", "true")
    assert votes[-1] == {"messageId": answer_id, "vote": "down"}
    assert page.evaluate("window.feedback") == [
        {"messageId": answer_id, "vote": "up"},
        {"messageId": answer_id, "vote": "down"},
    ]
    # A question gets no feedback buttons.
    expect(page.locator(USER).get_by_role("button", name="Good response")).to_have_count(0)


def test_feedback_without_a_url_is_an_event_only(page: Page) -> None:
    open_chat(page)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url))
    send(page, "rate me")
    wait_idle(page)
    page.evaluate(
        """() => new Promise((resolve) => {
        document.addEventListener("ds-chat:feedback", (e) => resolve(e.detail), {once: true});
        document.querySelector(".ds-chat__action--bad").click(); })"""
    )
    assert [url for url in posts if "feedback" in url] == []


def test_a_custom_action_shows_where_its_when_says_and_runs(page: Page) -> None:
    open_chat(page)
    page.evaluate(
        """async () => {
        const { registerAction } = await import("/static/django_streaming/chat.js");
        window.shared = [];
        registerAction(document.querySelector("[data-ds-chat]"), {
          name: "share", label: "Share", icon: "↗",
          when: (message) => message.role === "assistant",
          run: (message, widget) => window.shared.push([message.id, message.text, widget.chatId]),
        });
        // A built-in of the same name is replaced: here, removed.
        registerAction(document.querySelector("[data-ds-chat]"), {
          name: "bad", label: "Nope", when: () => false, run: () => {},
        });
        }"""
    )
    send(page, "share this")
    wait_idle(page)
    answer = page.locator(ASSISTANT)
    share = action(answer, "Share")
    expect(share).to_have_attribute("title", "Share")
    expect(page.locator(USER).get_by_role("button", name="Share")).to_have_count(0)
    expect(answer.get_by_role("button", name="Bad response")).to_have_count(0)
    share.click()
    chat_id = page.evaluate("document.querySelector('[data-ds-chat]').dsChat.chatId")
    page.wait_for_function("window.shared.length === 1")
    assert page.evaluate("window.shared") == [
        [answer.get_attribute("data-id"), "You said: share this", chat_id]
    ]


def test_actions_have_names_are_reachable_by_keyboard_and_wait_for_the_answer(
    page: Page,
) -> None:
    open_chat(page)
    send(page, Prompt.WAIT)  # "partial answer", then it waits
    expect(page.locator(ASSISTANT)).to_contain_text("partial")
    # Nothing to act on while it is written: no bar on it, no edit of the question.
    expect(page.locator(ASSISTANT).locator(".ds-chat__action:visible")).to_have_count(0)
    expect(action(page.locator(USER), "Edit")).to_be_hidden()
    page.get_by_role("button", name="Stop").click()
    wait_idle(page)
    question, answer = page.locator(USER), page.locator(ASSISTANT)
    expect(question.get_by_role("group", name="Message actions")).to_be_visible()
    names = ["Edit", "Copy message"]
    expect(question.locator(".ds-chat__action:visible")).to_have_count(len(names))
    for name in names:
        expect(action(question, name)).to_be_visible()
    names = ["Regenerate", "Copy message", "Good response", "Bad response"]
    expect(answer.locator(".ds-chat__action:visible")).to_have_count(len(names))
    for name in names:
        expect(action(answer, name)).to_be_visible()
    # Tab goes through them in order; Enter works one.
    action(question, "Edit").focus()
    page.keyboard.press("Tab")
    expect(action(question, "Copy message")).to_be_focused()
    page.keyboard.press("Tab")
    expect(action(answer, "Regenerate")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(question.get_by_role("textbox", name="Edit message")).to_be_focused()
