"""What reaches the widget is input, in real Chromium: saved messages and live chunks it cannot
draw are skipped (with a warning) without costing the others; an answer's images load only
from where the page allows; Stop names the answer it means; what the widget posts."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.browser.test_chat_widget import ASSISTANT, open_chat, send, wait_idle
from tests.testapp.chat import PIXEL, Prompt, results
from tests.testapp.views import stream_id

pytestmark = pytest.mark.browser

USER = ".ds-chat__message--user"


def warnings_of(page: Page) -> list[str]:
    """The console warnings the page logs from now on (filled as Playwright reads events)."""
    warnings: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "warning":
            warnings.append(message.text)

    page.on("console", record)
    return warnings


# 1. One saved message must not brick a conversation


def test_saved_parts_that_cannot_be_drawn_are_skipped_and_the_chat_works(page: Page) -> None:
    warnings = warnings_of(page)
    chat_id = open_chat(page, "bad")
    # Every message is drawn, the bad parts left out.
    expect(page.locator(USER)).to_have_text(["First question", "Second question"])
    expect(page.locator(f"{USER} .ds-chat__file")).to_have_count(0)
    first, second = page.locator(ASSISTANT).all()
    expect(first.locator(".ds-chat__text")).to_have_text("First answer")
    card = first.locator(".ds-chat__tool")
    expect(card).to_have_attribute("data-state", "output-available")
    # The NaN the saved message held arrives as null (strict JSON from the template tag).
    expect(card.locator(".ds-chat__tool-output pre")).to_have_text(
        '{\n  "score": null\n}', use_inner_text=False
    )
    expect(second.locator("strong")).to_have_text("answer")
    assert [text.split(": it has")[0] for text in warnings] == [
        'django-streaming chat: skipped a "file" part of saved message "b0"',
        'django-streaming chat: skipped a part of saved message "b1"',
    ]
    assert 'it has no string "mediaType"' in warnings[0]
    assert 'it has no string "type"' in warnings[1]
    # The chat goes on, and the server is not sent back what it would refuse.
    send(page, "next")
    expect(page.locator(ASSISTANT).last).to_have_text("You said: next")
    [result] = results[chat_id]
    assert [message.id for message in result.messages] == [
        "b0",
        "b1",
        "b2",
        "b3",
        result.messages[-1].id,
    ]
    assert [part.get("type") for part in result.messages[0].parts] == ["text"]
    assert [part.get("type") for part in result.messages[1].parts][:2] == ["text", "tool-score"]


def test_saved_parts_that_are_not_json_leave_the_message_as_the_server_wrote_it(
    page: Page,
) -> None:
    def with_unreadable_parts(route: Route) -> None:
        # A page from before the tag wrote strict JSON: the browser's JSON.parse refuses NaN.
        response = route.fetch()
        body = response.text().replace('"score": null', '"score": NaN')
        assert "NaN" in body
        route.fulfill(response=response, body=body)

    page.route("**/chat-page/*", with_unreadable_parts)
    warnings = warnings_of(page)
    open_chat(page, "bad")
    first, second = page.locator(ASSISTANT).all()
    expect(first).to_have_text("First answer")  # the text the server rendered
    expect(second.locator("strong")).to_have_text("answer")
    expect(page.locator(USER)).to_have_text(["First question", "Second question"])
    unreadable = [text for text in warnings if '"b1"' in text]
    assert len(unreadable) == 1
    assert unreadable[0].startswith(
        'django-streaming chat: skipped the parts of saved message "b1": its parts are not JSON ('
    )
    assert unreadable[0].endswith("; its text is shown")


def test_live_chunks_that_cannot_be_drawn_are_skipped_and_the_answer_goes_on(
    page: Page,
) -> None:
    warnings = warnings_of(page)
    open_chat(page, "endpoint=/bad-chunks/")
    send(page, "hi")
    wait_idle(page)
    expect(page.locator(ASSISTANT)).to_have_text("Before the file. After it.")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".ds-chat__message--failed")).to_have_count(0)
    assert [text.split(":", 2)[1].strip() for text in warnings] == [
        'skipped a "file" chunk',
        "skipped a chunk",
        "skipped a chunk",
    ]
    assert 'it has no string "mediaType"' in warnings[0]
    assert "it is not JSON" in warnings[1]
    assert 'it has no string "type"' in warnings[2]


# 3. Images load only from where the page allows


def pixel(route: Route) -> None:
    route.fulfill(status=200, content_type="image/png", body=base64.b64decode(PIXEL))


def record_remote_requests(page: Page) -> list[str]:
    """Every request to a host other than loopback, answered here with a pixel (the names are
    made up: nothing leaves the machine); the same-origin image gets one too."""
    remote: list[str] = []

    def answer(route: Route) -> None:
        remote.append(route.request.url)
        pixel(route)

    page.route(lambda url: urlsplit(url).hostname != "127.0.0.1", answer)
    page.route("**/same-origin.png", pixel)
    return remote


def image_sources(page: Page) -> list[str]:
    return list(page.locator(f"{ASSISTANT} img").evaluate_all("images => images.map(i => i.src)"))


def test_images_load_only_from_the_page_the_allowed_hosts_and_data(page: Page) -> None:
    remote = record_remote_requests(page)
    open_chat(page, "image_hosts=cdn.example.com")
    send(page, Prompt.IMAGES)
    wait_idle(page)
    answer = page.locator(ASSISTANT)
    origin = page.evaluate("location.origin")
    assert image_sources(page) == [
        f"{origin}/same-origin.png",
        f"data:image/png;base64,{PIXEL}",
        "https://cdn.example.com/ok.png",
        "https://cdn.example.com/file.png",
    ]
    # The others are links, named by their alt text or else their address; never images.
    links = answer.locator(".ds-chat__image-link")
    expect(links).to_have_text(
        ["leak", "https://evil.example/no-alt.png", "https://evil.example/file.png"]
    )
    assert links.evaluate_all("links => links.map(a => [a.tagName, a.href, a.rel])") == [
        ["A", "https://evil.example/t.png?secret=s3cret", "noopener noreferrer nofollow"],
        ["A", "https://evil.example/no-alt.png", "noopener noreferrer nofollow"],
        ["A", "https://evil.example/file.png", "noopener noreferrer nofollow"],
    ]
    # The allowed images were fetched, so the browser had its chance at the others: none was.
    page.wait_for_function(
        "[...document.querySelectorAll('.ds-chat img')].filter(i => i.src.includes('cdn.'))"
        ".every(i => i.complete && i.naturalWidth === 1)"
    )
    assert sorted(remote) == ["https://cdn.example.com/file.png", "https://cdn.example.com/ok.png"]


def test_without_allowed_hosts_a_remote_image_is_a_link_the_user_may_follow(page: Page) -> None:
    remote = record_remote_requests(page)
    open_chat(page)
    send(page, Prompt.IMAGES)
    wait_idle(page)
    assert [urlsplit(src).hostname for src in image_sources(page)] == ["127.0.0.1", None]
    links = page.locator(f"{ASSISTANT} .ds-chat__image-link")
    expect(links).to_have_count(5)
    assert remote == []
    # The user's click, and only that, goes there.
    links.filter(has_text="allowed").click()
    page.wait_for_url("https://cdn.example.com/ok.png")
    assert remote == ["https://cdn.example.com/ok.png"]


# 4. Stop names the answer it means


def stop_query(page: Page) -> dict[str, list[str]]:
    """Click Stop; the query of the stop request the browser sends (the real request)."""
    with page.expect_request(lambda request: "/stop" in request.url) as stop:
        page.get_by_role("button", name="Stop").click()
    expect(page.locator(".ds-chat__note")).to_have_text("Stopped")
    url = urlsplit(stop.value.url)
    assert url.path.endswith("/stop")
    assert stop.value.method == "POST"
    return parse_qs(url.query, keep_blank_values=True)


def open_resumable(page: Page, mode: str) -> str:
    chat_id = f"chat-{uuid.uuid4().hex}"
    page.goto(f"/chat-page/?resumable=1&chat={chat_id}&endpoint=/stream-id-chat/{mode}/")
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")
    return chat_id


def test_stop_names_the_answer_the_post_started(page: Page) -> None:
    chat_id = open_resumable(page, "post")
    send(page, "hi")
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    # URL-encoded: the id's "&", "+" and "=" stay in it.
    assert stop_query(page) == {"stream": [stream_id("post", chat_id)]}


def test_stop_names_the_answer_a_reload_resumed(page: Page) -> None:
    chat_id = open_resumable(page, "resume")
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    assert stop_query(page) == {"stream": [stream_id("resume", chat_id)]}


def test_without_a_stream_id_from_the_server_stop_names_none(page: Page) -> None:
    open_resumable(page, "old")
    send(page, "hi")
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    assert stop_query(page) == {}


# 5. send="last"


def posted_body(page: Page, text: str) -> Any:
    """Send ``text``; the JSON body of the POST the browser sends."""
    with page.expect_request(lambda request: request.method == "POST") as posted:
        send(page, text)
    return posted.value.post_data_json


def test_send_last_posts_only_the_last_message(page: Page) -> None:
    chat_id = open_chat(page, "history&send=last&endpoint=/last-message-chat/")
    body = posted_body(page, "hello")
    expect(page.locator(ASSISTANT).last).to_have_text("You said: hello")
    assert list(body) == ["id", "message", "trigger"]  # no messageId: there is none
    assert body["id"] == chat_id
    assert body["trigger"] == "submit-message"
    message = body["message"]
    assert list(message) == ["id", "role", "parts"]
    assert message["role"] == "user"
    assert message["parts"] == [{"type": "text", "text": "hello"}]


def test_send_last_regenerates_with_the_last_message_and_the_answer_it_replaces(
    page: Page,
) -> None:
    chat_id = open_chat(page, "send=last&endpoint=/last-message-chat/")
    first = posted_body(page, "flaky")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("It failed.")
    with page.expect_request(lambda request: request.method == "POST") as posted:
        alert.get_by_role("button", name="Retry").click()
    expect(page.locator(ASSISTANT)).to_have_text("You said: flaky")
    retry = posted.value.post_data_json
    assert retry == {
        "id": chat_id,
        "message": first["message"],  # the question again, not the failed answer
        "trigger": "regenerate-message",
        "messageId": "answer-1",  # the answer it replaces
    }


def test_by_default_the_whole_conversation_is_posted(page: Page) -> None:
    chat_id = open_chat(page, "history")
    body = posted_body(page, "hello")
    wait_idle(page)
    assert list(body) == ["id", "messages", "trigger"]
    assert body["id"] == chat_id
    assert [message["role"] for message in body["messages"]] == ["user", "assistant", "user"]
