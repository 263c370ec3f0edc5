"""The chat widget's behaviour in real Chromium against a real uvicorn, one test per promise."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.support.probes import probe
from tests.support.servers import RunningServer
from tests.testapp.chat import TRICKY, Prompt, results, triggers

pytestmark = pytest.mark.browser

LOG = ".ds-chat__log"
INPUT = ".ds-chat__input"
ASSISTANT = ".ds-chat__message--assistant"


def open_chat(page: Page, query: str = "") -> str:
    chat_id = f"chat-{uuid.uuid4().hex}"
    page.goto(f"/chat-page/?chat={chat_id}&{query}")
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")
    return chat_id


def send(page: Page, text: str) -> None:
    page.fill(INPUT, text)
    page.press(INPUT, "Enter")


def wait_idle(page: Page) -> None:
    expect(page.locator(LOG)).to_have_attribute("aria-busy", "false")


def wait_for_paragraphs(page: Page, count: int) -> int:
    """Wait until the answer has at least ``count`` paragraphs; return how many it has."""
    page.wait_for_function(
        f"document.querySelectorAll('{ASSISTANT} p').length >= {count}", polling="raf"
    )
    return page.locator(f"{ASSISTANT} p").count()


def record_distances(page: Page) -> None:
    """Record, each time the answer's size changes and after the widget reacted (observers run
    in the order they were registered), how far the view is from the bottom."""
    page.evaluate(
        """() => {
        const log = document.querySelector('.ds-chat__log');
        window.__distances = [];
        new ResizeObserver(() => window.__distances.push(
            log.scrollHeight - log.scrollTop - log.clientHeight)).observe(log.firstElementChild);
        }"""
    )


def recorded_distances(page: Page) -> list[float]:
    return list(page.evaluate("window.__distances"))


def wait_pinned(page: Page) -> None:
    """Wait until the view sits at the bottom: the widget follows growth at the next frame."""
    page.wait_for_function(
        "(() => { const l = document.querySelector('.ds-chat__log');"
        " return l.scrollHeight - l.scrollTop - l.clientHeight <= 2 })()"
    )


def distance_from_bottom(page: Page) -> float:
    return float(
        page.eval_on_selector(LOG, "log => log.scrollHeight - log.scrollTop - log.clientHeight")
    )


# 1. Optimistic send and the keyboard


def test_message_shows_before_the_response_starts(page: Page) -> None:
    held: list[Route] = []
    page.route("**/chat/", lambda route: held.append(route))
    open_chat(page)
    with page.expect_request("**/chat/"):
        send(page, "hello")
    expect(page.locator(".ds-chat__message--user")).to_have_text("hello")
    expect(page.locator(INPUT)).to_have_value("")
    assert len(held) == 1  # the request is on hold: no response has started
    assert page.locator(".ds-chat__text").count() == 0  # nothing answered yet
    held[0].continue_()
    expect(page.locator(ASSISTANT)).to_have_text("You said: hello")


def test_enter_sends_shift_enter_breaks_ime_and_blank_do_not(page: Page) -> None:
    open_chat(page)
    page.fill(INPUT, "   ")
    page.press(INPUT, "Enter")
    assert page.locator(".ds-chat__message").count() == 0
    page.fill(INPUT, "")
    page.type(INPUT, "line one")
    page.press(INPUT, "Shift+Enter")
    page.type(INPUT, "line two")
    # An IME composition's Enter confirms the composition; it must not send.
    page.dispatch_event(INPUT, "keydown", {"key": "Enter", "isComposing": True, "keyCode": 229})
    assert page.locator(".ds-chat__message").count() == 0
    expect(page.locator(INPUT)).to_have_value("line one\nline two")
    page.press(INPUT, "Enter")
    expect(page.locator(".ds-chat__message--user")).to_have_text("line one\nline two")
    expect(page.locator(ASSISTANT)).to_contain_text("line two")
    assert page.locator(".ds-chat__message--user").count() == 1


# 2. Streaming and markdown


def test_the_answer_grows_as_deltas_arrive(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.lines(30, 0.03))
    lengths: set[int] = set()
    while page.locator(LOG).get_attribute("aria-busy") == "true" or not lengths:
        lengths.add(len(page.locator(ASSISTANT).inner_text()))
    wait_idle(page)
    assert len(lengths) >= 3, "the answer should be seen at several lengths while streaming"
    wait_for_paragraphs(page, 30)


def test_markdown_renders_while_streaming(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.MARKDOWN)
    answer = page.locator(ASSISTANT)
    expect(answer.locator("h1")).to_have_text("Title")
    expect(answer.locator("em")).to_have_text("emphasis")
    expect(answer.locator("strong")).to_have_text("strong")
    expect(answer.locator("p code")).to_have_text("inline code")
    expect(answer.locator("ul > li")).to_have_count(2)
    expect(answer.locator("ol > li")).to_have_count(2)
    expect(answer.locator("pre code.language-python")).to_have_text("print('hi')")
    expect(answer.locator("a")).to_have_attribute("href", "https://example.com/page")


def test_an_unclosed_code_fence_already_shows_as_code(page: Page) -> None:
    chat_id = open_chat(page)
    send(page, Prompt.UNCLOSED)
    code = page.locator(f"{ASSISTANT} pre code.language-python")
    expect(code).to_contain_text("still streaming")
    assert page.locator(LOG).get_attribute("aria-busy") == "true"
    probe(chat_id).gate.set()
    wait_idle(page)


def test_copy_button_copies_the_code(page: Page, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_chat(page)
    send(page, Prompt.MARKDOWN)
    wait_idle(page)
    page.get_by_role("button", name="Copy code").click()
    assert page.evaluate("navigator.clipboard.readText()") == "print('hi')"


# 3. Safety


def test_nothing_from_the_model_can_run_script(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.XSS)
    wait_idle(page)
    assert page.evaluate("window.pwned") is None
    answer = page.locator(ASSISTANT)
    expect(answer).to_contain_text('<img src=x onerror="window.pwned=1">')
    assert answer.locator("img[onerror], script").count() == 0
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    # The javascript: image is an inert link, as the javascript: link is.
    assert hrefs == [None, None, "/relative", "mailto:a@example.com"]
    assert answer.locator("img").count() == 0
    answer.locator("a").first.click()  # an inert link: nothing runs
    assert page.evaluate("window.pwned") is None


def test_nothing_from_the_user_can_run_script(page: Page) -> None:
    open_chat(page)
    send(page, "<img src=x onerror=window.pwned=5>")
    wait_idle(page)
    assert page.evaluate("window.pwned") is None
    assert page.locator(".ds-chat img").count() == 0


# 4. Decoding


def test_one_byte_per_chunk_keeps_multibyte_characters_whole(page: Page) -> None:
    open_chat(page, "endpoint=/byte-by-byte/")
    send(page, "hi")
    expect(page.locator(ASSISTANT)).to_have_text("Emoji 😀👍🏽 and 漢字かな — done")


def test_tricky_text_arrives_intact(page: Page) -> None:
    open_chat(page, "endpoint=/chat-exempt/")
    page.evaluate("document.querySelector('[data-ds-chat]').dataset.markdown = 'false'")
    page.goto(page.url)  # reload with markdown off for a byte-exact comparison
    page.evaluate("document.querySelector('[data-ds-chat]').dsChat.markdown = false")
    send(page, Prompt.TRICKY)
    wait_idle(page)
    text = page.locator(f"{ASSISTANT} .ds-chat__text").evaluate("el => el.textContent")
    assert text == "".join(TRICKY)


# 5. Auto-scroll


def test_stays_pinned_while_streaming_at_the_bottom(page: Page) -> None:
    open_chat(page)
    record_distances(page)
    send(page, Prompt.lines(60, 0.02))
    wait_idle(page)
    distances = recorded_distances(page)
    assert len(distances) > 20  # the answer grew many times
    assert max(distances) <= 2
    wait_pinned(page)
    expect(page.locator(".ds-chat__jump")).to_be_hidden()


def test_scrolling_up_stays_put_and_jump_to_latest_pins_again(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.lines(80, 0.03))
    wait_for_paragraphs(page, 15)
    page.hover(LOG)
    page.mouse.wheel(0, -200)
    page.wait_for_function(
        "(() => { const l = document.querySelector('.ds-chat__log');"
        " return l.scrollHeight - l.scrollTop - l.clientHeight > 100 })()"
    )
    position = page.eval_on_selector(LOG, "log => log.scrollTop")
    count = page.locator(f"{ASSISTANT} p").count()
    wait_for_paragraphs(page, count + 10)
    assert page.eval_on_selector(LOG, "log => log.scrollTop") == position  # not yanked down
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()
    jump.click()
    wait_pinned(page)
    expect(jump).to_be_hidden()
    wait_idle(page)
    wait_pinned(page)


@pytest.mark.parametrize("key", ["PageUp", "Home", "ArrowUp"])
def test_keyboard_scrolling_up_unpins(page: Page, key: str) -> None:
    open_chat(page)
    send(page, Prompt.lines(60, 0.03))
    wait_for_paragraphs(page, 20)
    page.focus(LOG)
    page.keyboard.press(key)
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
    count = page.locator(f"{ASSISTANT} p").count()
    wait_for_paragraphs(page, count + 5)
    assert distance_from_bottom(page) > 2


def test_scrolling_back_to_the_bottom_pins_again(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.lines(80, 0.03))
    wait_for_paragraphs(page, 15)
    page.hover(LOG)
    page.mouse.wheel(0, -300)
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
    page.mouse.wheel(0, 100_000)
    expect(page.get_by_role("button", name="Jump to latest")).to_be_hidden()
    count = page.locator(f"{ASSISTANT} p").count()
    wait_for_paragraphs(page, count + 5)
    wait_pinned(page)


def test_content_that_grows_without_new_text_is_followed(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.lines(30, 0))
    wait_idle(page)
    wait_pinned(page)
    # Narrowing the widget reflows every line: taller content, no new text.
    height = page.eval_on_selector(LOG, "log => log.scrollHeight")
    page.eval_on_selector(".ds-chat", "chat => { chat.style.width = '220px' }")
    page.wait_for_function(f"document.querySelector('{LOG}').scrollHeight > {height}")
    wait_pinned(page)


def test_reduced_motion_jumps_without_smooth_scrolling(page: Page) -> None:
    page.emulate_media(reduced_motion="reduce")
    open_chat(page)
    send(page, Prompt.lines(40, 0))
    wait_idle(page)
    page.hover(LOG)
    page.mouse.wheel(0, -400)
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()
    # Instant: at the bottom in the same task as the click.
    landed = page.evaluate(
        "(() => { document.querySelector('.ds-chat__jump').click();"
        " const l = document.querySelector('.ds-chat__log');"
        " return l.scrollHeight - l.scrollTop - l.clientHeight })()"
    )
    assert landed <= 2


# 6. Stop


@pytest.mark.parametrize("how", ["button", "Escape"])
def test_stop_keeps_the_partial_answer_and_cancels_the_server(page: Page, how: str) -> None:
    chat_id = open_chat(page)
    send(page, Prompt.WAIT)
    # The markdown parser holds back a last character that could still start markup.
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    if how == "button":
        page.get_by_role("button", name="Stop").click()
    else:
        page.focus(INPUT)
        page.keyboard.press("Escape")
    expect(page.locator(".ds-chat__message--stopped")).to_contain_text("partial answer")
    expect(page.locator(".ds-chat__note")).to_have_text("Stopped")
    assert probe(chat_id).finished.wait(5)
    [result] = results[chat_id]
    assert (result.status, result.text) == ("cancelled", "partial answer")


def test_escape_during_composition_does_not_stop(page: Page) -> None:
    chat_id = open_chat(page)
    send(page, Prompt.WAIT)
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    page.dispatch_event(INPUT, "keydown", {"key": "Escape", "isComposing": True, "bubbles": True})
    assert page.locator(LOG).get_attribute("aria-busy") == "true"
    assert not probe(chat_id).finished.is_set()
    page.get_by_role("button", name="Stop").click()
    wait_idle(page)


# 7. Errors and Retry


def test_error_part_shows_retry_which_regenerates(page: Page) -> None:
    chat_id = open_chat(page)
    send(page, Prompt.FLAKY)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The answer failed on the server.")
    alert.get_by_role("button", name="Retry").click()
    expect(page.locator(ASSISTANT)).to_have_text("You said: flaky")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert triggers[chat_id] == ["submit-message", "regenerate-message"]
    # The failed partial answer was dropped: the retry saw only the user's message.
    assert [m.role for m in results[chat_id][1].messages] == ["user"]


def test_http_error_is_readable(page: Page) -> None:
    open_chat(page, "endpoint=/overloaded/")
    send(page, "hi")
    expect(page.get_by_role("alert")).to_contain_text("The model is overloaded")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()


def test_network_drop_mid_stream_is_readable(page: Page) -> None:
    open_chat(page, "endpoint=/torn/")
    send(page, "hi")
    expect(page.get_by_role("alert")).to_contain_text("The connection was lost.")
    expect(page.locator(ASSISTANT)).to_contain_text("half an answe")


# 8. Accessibility, theming, several widgets, CSP, history


def test_accessibility_attributes(page: Page) -> None:
    open_chat(page)
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_attribute("aria-busy", "false")
    send(page, Prompt.WAIT)
    expect(log).to_have_attribute("aria-busy", "true")
    for button in page.locator(".ds-chat button:visible").all():
        assert button.evaluate("b => b.textContent.trim() || b.getAttribute('aria-label')")
    page.get_by_role("button", name="Stop").click()
    expect(log).to_have_attribute("aria-busy", "false")
    expect(page.get_by_label("Message", exact=True)).to_be_visible()


def test_keyboard_only_flow(page: Page) -> None:
    open_chat(page)
    page.keyboard.press("Tab")  # the log
    page.keyboard.press("Tab")  # the input
    page.keyboard.type(Prompt.FAIL)
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    retry = page.get_by_role("button", name="Retry")
    retry.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()


def test_dark_mode_and_theming(page: Page) -> None:
    open_chat(page)
    background = "getComputedStyle(document.querySelector('.ds-chat')).backgroundColor"
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate(background)
    assert light != dark
    page.eval_on_selector(".ds-chat", "c => c.style.setProperty('--ds-chat-bg', 'rgb(1, 2, 3)')")
    assert page.evaluate(background) == "rgb(1, 2, 3)"


def test_several_widgets_work_independently(page: Page) -> None:
    open_chat(page, "two")
    first, second = page.locator("[data-ds-chat]").all()
    second.locator(INPUT).fill("to the second")
    second.locator(INPUT).press("Enter")
    expect(second.locator(ASSISTANT)).to_have_text("You said: to the second")
    assert first.locator(".ds-chat__message").count() == 0
    first.locator(INPUT).fill("to the first")
    first.locator(INPUT).press("Enter")
    expect(first.locator(ASSISTANT)).to_have_text("You said: to the first")
    expect(second.locator(".ds-chat__message")).to_have_count(2)


def test_works_under_a_strict_content_security_policy(page: Page) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    open_chat(page, "csp")
    send(page, Prompt.MARKDOWN)
    wait_idle(page)
    expect(page.locator(f"{ASSISTANT} h1")).to_have_text("Title")
    assert violations == []


def test_history_is_rendered_escaped(page: Page) -> None:
    open_chat(page, "history")
    expect(page.locator(".ds-chat__message--user")).to_have_text("Earlier <b>question</b>")
    expect(page.locator(f"{ASSISTANT} strong")).to_have_text("answer")
    send(page, "next")
    expect(page.locator(ASSISTANT).last).to_have_text("You said: next")


def test_site_server_is_loopback(site_server: RunningServer) -> None:
    assert re.match(r"http://127\.0\.0\.1:\d+$", site_server.url)
