"""The widget's options and manners in real Chromium against a real uvicorn: its words in the
page's language (French; Arabic in a right-to-left page), a string overridden, the theme hook,
the composer (growth, focus, Escape), Copied, refusals, the accent colour, suggestions, and the
ds-chat:data event."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import BrowserContext, FilePayload, Page, expect

from tests.support.probes import probe
from tests.testapp.chat import Prompt

pytestmark = pytest.mark.browser

INPUT = ".ds-chat__input"
LOG = ".ds-chat__log"
ASSISTANT = ".ds-chat__message--assistant"
WIDGET = "[data-ds-chat]"


def open_widget(page: Page, query: str = "") -> str:
    chat_id = f"chat-{uuid.uuid4().hex}"
    page.goto(f"/widget-page/?{query}")
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")
    # The chat id the probes and results are kept under (the page makes one up otherwise).
    page.evaluate(f"document.querySelector('[data-ds-chat]').dsChat.chatId = '{chat_id}'")
    return chat_id


def send(page: Page, text: str) -> None:
    page.fill(INPUT, text)
    page.press(INPUT, "Enter")


def wait_idle(page: Page) -> None:
    expect(page.locator(LOG)).to_have_attribute("aria-busy", "false")


def focused_class(page: Page) -> str:
    return str(page.evaluate("document.activeElement?.className ?? ''"))


# Languages


def test_a_french_widget_speaks_french(page: Page, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    chat_id = open_widget(page, "lang=fr")
    expect(page.locator(".ds-chat__send")).to_have_text("Envoyer")
    expect(page.get_by_role("button", name="Joindre des fichiers")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_attribute("placeholder", "Envoyer un message…")
    send(page, Prompt.MARKDOWN)
    wait_idle(page)
    copy = page.get_by_role("button", name="Copier le code")
    expect(copy).to_have_text("Copier")
    copy.click()
    expect(copy).to_have_text("Copié")
    send(page, Prompt.WAIT)
    expect(page.locator(ASSISTANT).last).to_contain_text("partial answe")
    page.get_by_role("button", name="Arrêter").click()
    expect(page.locator(f"{ASSISTANT} .ds-chat__note").last).to_have_text("Arrêté")
    assert probe(chat_id).finished.wait(5)


def test_an_arabic_widget_in_a_right_to_left_page(page: Page) -> None:
    open_widget(page, "lang=ar&dir=rtl&arabic=1")  # a saved answer in Arabic with code
    expect(page.locator(".ds-chat__send")).to_have_text("إرسال")
    send(page, "hello")  # a live one in English
    wait_idle(page)
    # Each message finds its own direction; code reads left to right all the same.
    contents = page.locator(".ds-chat__content")
    expect(contents).to_have_count(4)
    for content in contents.all():
        expect(content).to_have_attribute("dir", "auto")
    directions = [
        content.evaluate("el => getComputedStyle(el.firstElementChild ?? el).direction")
        for content in contents.all()
    ]
    assert directions == ["rtl", "rtl", "ltr", "ltr"]
    pre = page.locator(f"{ASSISTANT} pre").first
    assert pre.evaluate("pre => getComputedStyle(pre).direction") == "ltr"
    copy = page.get_by_role("button", name="نسخ الشيفرة")
    expect(copy).to_have_text("نسخ")
    # The Copy button covers no character of the code.
    overlaps = copy.evaluate(
        """button => {
            const code = button.parentElement.querySelector('code');
            const range = document.createRange();
            range.selectNodeContents(code);
            const b = button.getBoundingClientRect();
            return [...range.getClientRects()].filter(r => r.width && r.left < b.right
                && b.left < r.right && r.top < b.bottom && b.top < r.bottom).length;
        }"""
    )
    assert overlaps == 0
    # The code starts at the block's left edge, as in a left-to-right page.
    code_left = pre.evaluate(
        "pre => { const r = document.createRange();"
        " r.selectNodeContents(pre.querySelector('code'));"
        " return r.getClientRects()[0].left - pre.getBoundingClientRect().left }"
    )
    assert code_left < 20


def test_a_string_overridden_for_one_widget(page: Page) -> None:
    open_widget(page, "lang=fr&send_label=Go")
    expect(page.locator(".ds-chat__send")).to_have_text("Go")
    expect(page.locator(".ds-chat__stop")).to_have_text("Arrêter")  # the others stay French
    assert page.evaluate("document.querySelector('[data-ds-chat]').dsChat.t('send')") == "Go"


# The theme hook


def background(page: Page) -> str:
    return str(page.eval_on_selector(WIDGET, "el => getComputedStyle(el).backgroundColor"))


WHITE = "rgb(255, 255, 255)"
DARK = "rgb(13, 17, 23)"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_data_theme_outranks_the_system_colour_scheme(page: Page, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    open_widget(page)
    assert background(page) == (WHITE if scheme == "light" else DARK)  # the system's
    for query, expected in [
        ("theme=light", WHITE),
        ("theme=dark", DARK),
        ("page_theme=light", WHITE),
        ("page_theme=dark", DARK),
        ("page_theme=dark&theme=light", WHITE),  # the widget's own over its ancestor's
    ]:
        open_widget(page, query)
        assert background(page) == expected, query


# The composer


def test_the_composer_grows_with_its_text_up_to_a_bound(page: Page) -> None:
    open_widget(page)
    textarea = page.locator(INPUT)

    def height() -> float:
        return float(textarea.evaluate("el => el.getBoundingClientRect().height"))

    one_line = height()
    textarea.fill("one")
    textarea.press("Shift+Enter")
    textarea.press_sequentially("two")
    textarea.press("Shift+Enter")
    textarea.press_sequentially("three")
    three_lines = height()
    assert three_lines > one_line + 20
    textarea.fill("\n".join(f"line {number}" for number in range(40)))
    textarea.dispatch_event("input")
    assert height() == 160  # 10rem, then it scrolls
    assert textarea.evaluate("el => el.scrollHeight > el.clientHeight")
    textarea.press("Enter")
    expect(page.locator(".ds-chat__message--user")).to_have_count(1)
    assert height() == one_line  # sent: back to one line
    wait_idle(page)


def test_focus_stays_in_the_composer_through_send_and_stop(page: Page) -> None:
    chat_id = open_widget(page)
    page.fill(INPUT, Prompt.WAIT)
    page.locator(".ds-chat__send").click()
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    assert "ds-chat__input" in focused_class(page)
    page.locator(".ds-chat__stop").click()
    wait_idle(page)
    assert "ds-chat__input" in focused_class(page)
    assert probe(chat_id).finished.wait(5)


def test_escape_stops_after_a_click_on_send_and_from_any_control_in_the_widget(
    page: Page,
) -> None:
    chat_id = open_widget(page)
    page.fill(INPUT, Prompt.WAIT)
    page.locator(".ds-chat__send").click()  # focus must not fall to the body
    expect(page.locator(ASSISTANT)).to_contain_text("partial answe")
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(page.locator(f"{ASSISTANT} .ds-chat__note")).to_have_text("Stopped")
    assert probe(chat_id).finished.wait(5)
    send(page, Prompt.WAIT)
    expect(page.locator(ASSISTANT).last).to_contain_text("partial answe")
    page.locator(".ds-chat__attach").focus()
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(page.locator(f"{ASSISTANT} .ds-chat__note")).to_have_count(2)


def test_copied_goes_back_to_copy(page: Page, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.clock.install()
    open_widget(page)
    send(page, Prompt.MARKDOWN)
    wait_idle(page)
    # The page's time stands still from here: only run_for() moves it, however slow the machine.
    page.clock.pause_at(int(page.evaluate("Date.now()")) + 1000)
    copy = page.get_by_role("button", name="Copy code")
    copy.click()
    expect(copy).to_have_text("Copied")
    page.clock.run_for(1500)
    expect(copy).to_have_text("Copied")
    page.clock.run_for(600)
    expect(copy).to_have_text("Copy")


def test_a_refusal_clears_when_the_attachments_change_or_a_message_goes(page: Page) -> None:
    open_widget(page)
    page.evaluate("document.querySelector('[data-ds-chat]').dsChat.maxFileBytes = 1024")
    files = page.locator(".ds-chat__file-input")
    big: FilePayload = {"name": "huge.bin", "mimeType": "text/plain", "buffer": bytes(2048)}
    small: FilePayload = {"name": "note.txt", "mimeType": "text/plain", "buffer": b"hello"}
    refusal = page.locator(".ds-chat__refusal")
    files.set_input_files([big, small])
    expect(refusal).to_have_text("“huge.bin” is larger than 1 kB. Not attached.")
    page.get_by_role("button", name="Remove note.txt").click()
    expect(refusal).to_be_hidden()
    files.set_input_files([big])
    expect(refusal).to_be_visible()
    send(page, "hello")
    expect(refusal).to_be_hidden()
    expect(refusal).to_have_text("")
    wait_idle(page)


def test_send_and_stop_wear_the_accent_colour(page: Page) -> None:
    open_widget(page, "theme=light")
    colours = page.eval_on_selector(
        ".ds-chat__send", "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
    )
    assert colours == ["rgb(9, 105, 218)", WHITE]


# Suggestions and the data event


def test_a_suggestion_is_sent_and_the_empty_state_goes(page: Page) -> None:
    open_widget(page, "suggest=1")
    empty = page.locator(".ds-chat__empty")
    expect(empty).to_contain_text("Ask me anything")
    page.get_by_role("button", name="What time is it?").click()
    expect(page.locator(".ds-chat__message--user")).to_have_text("What time is it?")
    expect(page.locator(ASSISTANT)).to_have_text("You said: What time is it?")
    expect(empty).to_be_hidden()
    wait_idle(page)
    assert "ds-chat__input" in focused_class(page)


def test_the_empty_state_stays_hidden_with_saved_messages(page: Page) -> None:
    open_widget(page, "suggest=1&data=1")
    expect(page.locator(".ds-chat__message")).to_have_count(2)
    expect(page.locator(".ds-chat__empty")).to_be_hidden()


def test_every_data_part_is_a_bubbling_event(page: Page) -> None:
    # Heard on the document, from before the page's scripts run.
    page.add_init_script(
        "window.__data = []; document.addEventListener('ds-chat:data',"
        " (event) => window.__data.push(event.detail));"
    )
    open_widget(page, "data=1")
    page.wait_for_function("window.__data.length === 1")
    saved = page.evaluate("window.__data[0]")
    assert saved == {
        "type": "data-chat-title",
        "id": "title",
        "data": {"title": "Saved title"},
        "messageId": "m-saved",
        "transient": False,
        "live": False,
    }
    send(page, Prompt.PARTS)
    wait_idle(page)
    page.wait_for_function("window.__data.length === 2")
    live = page.evaluate("window.__data[1]")
    message_id = page.locator(ASSISTANT).last.get_attribute("data-id")
    assert live == {
        "type": "data-weather",
        "id": "w1",
        "data": {"temperature": 21},
        "messageId": message_id,
        "transient": False,
        "live": True,
    }
