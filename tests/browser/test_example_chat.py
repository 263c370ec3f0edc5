"""The example project end to end: real uvicorn, real Chromium, its own SQLite database."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.servers import ROOT, RunningServer, example_project_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ANSWER = ".ds-chat__message--assistant"


@pytest.fixture(scope="module")
def example_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example") / "db.sqlite3"


@pytest.fixture(scope="module")
def example_server(example_database: Path) -> Iterator[RunningServer]:
    with example_project_server(example_database, tokens_per_second=60) as server:
        yield server


def new_page(browser: Browser, server: RunningServer) -> Page:
    return browser.new_context(base_url=server.url).new_page()


def start_chat(page: Page) -> str:
    page.goto("/")
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(re.compile(r"/[0-9a-f-]{36}/$"))
    page.wait_for_function("document.querySelector('[data-ds-chat]')?.dsChat !== undefined")
    return page.url


def ask(page: Page, question: str) -> None:
    page.get_by_label("Message", exact=True).fill(question)
    page.get_by_label("Message", exact=True).press("Enter")


def wait_idle(page: Page) -> None:
    """The answer drawn whole, and ended on the server too: the browser has its last part a
    moment before the server marks the generation finished (after saving it), and a page
    reloaded in between resumes the answer still in progress there."""
    expect(page.get_by_role("log")).to_have_attribute("aria-busy", "false", timeout=20_000)
    page.wait_for_function(
        """async () => {
            const chat = document.querySelector('[data-ds-chat]').dsChat;
            const stop = new AbortController();
            const response = await fetch(chat.chatUrl('stream'), { signal: stop.signal });
            stop.abort();
            return response.status === 204;
        }""",
        polling=100,
        timeout=20_000,
    )


def test_answer_streams_and_is_saved(browser: Browser, example_server: RunningServer) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    ask(page, "How do I stream?")
    heading = page.locator(f"{ANSWER} h2")
    expect(heading).to_have_text("About “How do I stream?”")
    expect(page.get_by_role("log")).to_have_attribute("aria-busy", "true")  # still streaming
    wait_idle(page)
    answer = page.locator(ANSWER).inner_text()
    expect(page.locator(f"{ANSWER} table")).to_be_visible()
    page.reload()
    expect(page.locator(".ds-chat__message--user")).to_have_text("How do I stream?")
    # The page's resume finds nothing in progress (its placeholder goes): the saved answer only.
    expect(page.locator(ANSWER)).to_have_count(1)
    assert page.locator(ANSWER).inner_text() == answer
    page.goto("/")
    expect(page.get_by_role("link", name="How do I stream?")).to_be_visible()


def test_a_stopped_answer_is_saved_as_stopped(
    browser: Browser, example_server: RunningServer
) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    ask(page, "Tell me everything")
    expect(page.locator(f"{ANSWER} h2")).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".ds-chat__message--stopped")).to_be_visible()
    partial = page.locator(f"{ANSWER} .ds-chat__content").inner_text().strip()
    assert "ありがとう" not in partial  # stopped well before the end
    wait_idle(page)  # stopped on the server too: the reload's resume finds nothing
    page.reload()
    # The saved answer bears the mark the live one had.
    expect(page.locator(f"{ANSWER}.ds-chat__message--stopped .ds-chat__note")).to_have_text(
        "Stopped"
    )
    # The page's resume placeholder goes (through the SharedWorker, a moment after the load).
    expect(page.locator(ANSWER)).to_have_count(1)
    # The server saved what it had generated: what the browser showed, perhaps a token more.
    assert page.locator(ANSWER).inner_text().strip().startswith(partial)


def test_another_browser_cannot_see_or_use_a_conversation(
    browser: Browser, example_server: RunningServer
) -> None:
    owner = new_page(browser, example_server)
    url = start_chat(owner)
    ask(owner, "A private question")
    wait_idle(owner)
    stranger = new_page(browser, example_server)
    assert stranger.goto(url).status == 404  # type: ignore[union-attr]
    stranger.goto("/")
    expect(stranger.get_by_text("A private question")).to_have_count(0)
    path = url.removeprefix(example_server.url)
    # The stranger's own session and CSRF token, but someone else's conversation.
    token = stranger.context.cookies()
    csrf = next(cookie["value"] for cookie in token if cookie["name"] == "csrftoken")
    answer = stranger.request.post(
        f"{path}chat/",
        data='{"messages": [{"role": "user", "content": "hi"}]}',
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf},
    )
    assert answer.status == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "No such conversation."}}
    deleted = stranger.request.post(f"{path}delete/", form={"csrfmiddlewaretoken": csrf})
    assert deleted.status == 404
    owner.reload()
    expect(owner.locator(".ds-chat__message--user")).to_have_text("A private question")


def test_progress_page_streams(browser: Browser, example_server: RunningServer) -> None:
    page = new_page(browser, example_server)
    # Polling the status would race a text that changes every 100 ms: record every change instead.
    page.add_init_script(
        """
        window.statuses = [];
        document.addEventListener("DOMContentLoaded", () => {
          const status = document.querySelector("[role=status]");
          new MutationObserver(() => window.statuses.push([status.textContent, performance.now()]))
            .observe(status, {childList: true, characterData: true, subtree: true});
        });
        """
    )
    page.goto("/progress/")
    expect(page.get_by_role("status")).to_have_text("Done: 50 files processed.", timeout=20_000)
    statuses = page.evaluate("window.statuses")
    progress = [(text, at) for text, at in statuses if text.startswith("Processed")]
    assert [text for text, _ in progress] == [
        f"Processed report-{n:02}.csv ({n} of 50)" for n in range(1, 51)
    ]
    assert statuses[-1][0] == "Done: 50 files processed."
    # Streamed, not buffered: the first step showed well before the 5 s task finished.
    assert statuses[-1][1] - progress[0][1] > 1000
    with httpx.stream("GET", f"{example_server.url}/progress/stream/", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")


def test_a_job_page_shows_the_progress_live_and_after_a_reload(
    browser: Browser, example_server: RunningServer
) -> None:
    page = new_page(browser, example_server)
    page.goto("/jobs/")
    page.get_by_role("button", name="Start a job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    steps = page.get_by_role("list", name="Steps").get_by_role("listitem")
    expect(steps.first).to_have_text("Started.")
    expect(page.get_by_role("status")).to_have_text("Done: 20 reports imported.", timeout=20_000)
    expect(steps).to_have_count(21)
    assert page.locator("progress").evaluate("bar => bar.value === bar.max && bar.max === 20")
    page.reload()  # the job so far comes back from the channel
    expect(page.get_by_role("status")).to_have_text("Done: 20 reports imported.")
    expect(steps).to_have_count(21)
    expect(steps.last).to_have_text("Imported report-20.csv")


def test_screenshot_script_exists() -> None:
    assert (ROOT / "docs" / "screenshot.py").is_file()
    assert Path(ROOT / "docs" / "chat.png").is_file()


def test_the_simulated_model_uses_a_server_tool_an_approval_and_a_browser_tool(
    browser: Browser, example_server: RunningServer
) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    ask(page, "How many chats do I have?")
    wait_idle(page)
    card = page.locator(".ds-chat__tool").last
    expect(card.locator(".ds-chat__tool-name")).to_have_text("Count your chats")
    expect(page.locator(ANSWER).last).to_contain_text("You have 1 chat.")
    ask(page, "Rename this chat to Lisbon trip")
    page.get_by_role("button", name="Approve Rename this chat").click()
    expect(page.locator(ANSWER).last).to_contain_text("this chat is now called “Lisbon trip”")
    wait_idle(page)
    ask(page, "What time is it?")
    expect(page.locator(ANSWER).last).to_contain_text("where you are.")
    wait_idle(page)
    answers = page.locator(ANSWER).count()
    page.reload()
    # Saved whole, one message per answer: the cards come back as they were.
    expect(page.get_by_label("Title")).to_have_value("Lisbon trip")
    expect(page.locator(ANSWER)).to_have_count(answers)
    expect(page.locator(".ds-chat__tool .ds-chat__tool-state")).to_have_text(
        ["Done", "Done", "Done"]
    )


# The example shows what it can do: suggested prompts, one navigation, a live rename, actions.


def test_an_empty_chat_suggests_a_prompt_for_each_tool_and_each_uses_it(
    browser: Browser, example_server: RunningServer
) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    suggestions = page.get_by_role("list", name="Suggestions").get_by_role("button")
    expect(suggestions).to_have_text(
        ["How many chats do I have?", "Rename this chat to Holiday plans", "What time is it?"]
    )
    suggestions.first.click()
    expect(page.locator(".ds-chat__tool-name")).to_have_text("Count your chats")
    expect(page.locator(ANSWER)).to_contain_text(re.compile(r"You have \d+ chats?\."))
    expect(suggestions.first).to_be_hidden()  # the chat is no longer empty
    wait_idle(page)

    start_chat(page)
    page.get_by_role("button", name="What time is it?").click()
    expect(page.locator(".ds-chat__tool-name")).to_have_text("Your local time")
    expect(page.locator(ANSWER)).to_contain_text("where you are.")
    wait_idle(page)


def test_an_approved_rename_shows_in_the_header_and_the_title_field_at_once(
    browser: Browser, example_server: RunningServer
) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    heading = page.locator(".ds-chat__title")
    expect(heading).to_have_text("New chat")
    page.get_by_role("button", name="Rename this chat to Holiday plans").click()
    expect(page.locator(".ds-chat__tool-name")).to_have_text("Rename this chat")
    page.get_by_role("button", name="Approve Rename this chat").click()
    # No reload: the rename's data part reached the page's script (chat/title.js).
    expect(heading).to_have_text("Holiday plans")
    expect(page.get_by_label("Title")).to_have_value("Holiday plans")
    expect(page).to_have_title("Holiday plans · django-streaming")
    wait_idle(page)
    page.reload()
    expect(heading).to_have_text("Holiday plans")


def pages_of_the_example(page: Page) -> list[str]:
    """Every kind of page, with content: a chat with an answer, a job with its log."""
    chat = start_chat(page)
    ask(page, "Show me a wide answer with a table and some code")
    wait_idle(page)
    page.goto("/jobs/")
    page.get_by_role("button", name="Start a job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    steps = page.get_by_role("list", name="Steps").get_by_role("listitem")
    expect(steps.nth(1)).to_have_text(re.compile("Imported"), timeout=20_000)
    return ["/", chat, "/jobs/", page.url, "/progress/"]


def test_every_page_has_the_navigation_and_fits_390_pixels(
    browser: Browser, example_server: RunningServer
) -> None:
    page = browser.new_context(
        base_url=example_server.url, viewport={"width": 390, "height": 844}
    ).new_page()
    for url in pages_of_the_example(page):
        page.goto(url)
        nav = page.get_by_role("navigation", name="Site")
        expect(nav.get_by_role("link")).to_have_text(["Chats", "Jobs", "Progress demo"])
        expect(nav.locator("[aria-current=page]")).to_have_count(1)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide at 390 px"
    nav.get_by_role("link", name="Chats").click()  # back to the chats from the progress page
    expect(page.get_by_role("heading", name="Your chats")).to_be_visible()


def test_an_edit_and_a_regenerate_are_saved_as_the_page_shows_them(
    browser: Browser, example_server: RunningServer
) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    ask(page, "First question")
    wait_idle(page)
    ask(page, "Second question")
    wait_idle(page)
    question = page.locator(".ds-chat__message--user").first
    question.get_by_role("button", name="Edit", exact=True).click()
    question.get_by_role("textbox", name="Edit message").fill("First, edited")
    with page.expect_request("**/chat/") as request:
        question.get_by_role("button", name="Save").click()
    body = json.loads(request.value.post_data or "{}")
    assert (body["trigger"], body["messageId"]) == (
        "submit-message",
        question.get_attribute("data-id"),
    )
    expect(page.locator(f"{ANSWER} h2")).to_have_text(["About “First, edited”"])
    wait_idle(page)
    ask(page, "How many chats do I have?")  # an answer with a tool call, then regenerated
    wait_idle(page)
    regenerated = page.locator(ANSWER).last.get_attribute("data-id")
    page.locator(ANSWER).last.get_by_role("button", name="Regenerate").click()
    expect(page.locator(f"{ANSWER}[data-id='{regenerated}']")).to_have_count(0)
    expect(page.locator(ANSWER).last).to_contain_text("You have")
    wait_idle(page)
    page.reload()
    expect(page.locator(".ds-chat__message--user")).to_have_text(
        ["First, edited", "How many chats do I have?"]
    )
    expect(page.locator(f"{ANSWER} h2")).to_have_text(["About “First, edited”"])
    expect(page.locator(ANSWER)).to_have_count(2)
    expect(page.locator(".ds-chat__tool .ds-chat__tool-state")).to_have_text(["Done"])


def test_a_vote_is_kept_on_the_answer(
    browser: Browser, example_server: RunningServer, example_database: Path
) -> None:
    page = new_page(browser, example_server)
    start_chat(page)
    ask(page, "Rate this answer")
    wait_idle(page)
    answer = page.locator(ANSWER)
    with page.expect_response("**/feedback/") as response:
        answer.get_by_role("button", name="Bad response").click()
    assert response.value.status == 204
    with sqlite3.connect(example_database) as database:
        saved = database.execute(
            "SELECT vote FROM chat_message WHERE ui_id = ?", [answer.get_attribute("data-id")]
        ).fetchall()
    assert saved == [("down",)]
