"""The widget's agentic answers in real Chromium: tool cards, an approval answered with the
keyboard, a client-side tool that continues the answer by itself, files; all inert text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.test_chat_widget import ASSISTANT, open_chat, send, wait_idle
from tests.testapp.chat import Prompt

pytestmark = pytest.mark.browser

TOOL = ".ds-chat__tool"


def test_a_server_tool_is_a_card_with_its_arguments_and_its_output_collapsed(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.TOOLS)
    wait_idle(page)
    card = page.locator(TOOL)
    expect(card).to_have_attribute("data-state", "output-available")
    expect(card.locator(".ds-chat__tool-name")).to_have_text("Web search")
    expect(card.locator(".ds-chat__tool-state")).to_have_text("Done")
    expect(card.locator(".ds-chat__tool-input")).to_have_text('{\n  "query": "django"\n}')
    output = card.locator(".ds-chat__tool-output")
    expect(output).not_to_have_attribute("open", "")  # collapsed until asked
    expect(output.locator("pre")).to_have_text('{\n  "hits": 2\n}', use_inner_text=False)
    expect(page.locator(ASSISTANT)).to_contain_text("Found 2.")


def test_a_tool_error_shows_on_its_card(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.TOOL_ERROR)
    wait_idle(page)
    card = page.locator(TOOL)
    expect(card.locator(".ds-chat__tool-state")).to_have_text("Error")
    expect(card.locator(".ds-chat__tool-output pre")).to_have_text(
        "The index is down.", use_inner_text=False
    )


@pytest.mark.parametrize(
    ("key", "state", "text"),
    [("Approve", "Done", "Renamed."), ("Deny", "Denied", "Left as it is.")],
)
def test_an_approval_answered_from_the_keyboard_continues_the_same_message(
    page: Page, key: str, state: str, text: str
) -> None:
    open_chat(page)
    send(page, Prompt.APPROVAL)
    button = page.get_by_role("button", name=f"{key} rename_chat")
    expect(button).to_be_visible()
    expect(page.locator(f"{TOOL} .ds-chat__tool-state")).to_have_text("Needs your approval")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(ASSISTANT)).to_contain_text(text)
    wait_idle(page)
    expect(page.locator(ASSISTANT)).to_have_count(1)  # one message, not a second
    expect(page.locator(f"{TOOL} .ds-chat__tool-state")).to_have_text(state)
    expect(page.get_by_role("button", name=f"{key} rename_chat")).to_have_count(0)


def test_a_client_tool_runs_in_the_browser_and_the_answer_continues_by_itself(page: Page) -> None:
    open_chat(page, "tools")
    send(page, Prompt.CLIENT_TOOL)
    expect(page.locator(ASSISTANT)).to_contain_text("It is 12:34.")
    wait_idle(page)
    expect(page.locator(ASSISTANT)).to_have_count(1)
    expect(page.locator(f"{TOOL} .ds-chat__tool-state")).to_have_text("Done")


def test_files_are_shown_and_metadata_kept(page: Page) -> None:
    open_chat(page)
    send(page, Prompt.EXTRAS)
    wait_idle(page)
    link = page.locator(f"{ASSISTANT} a.ds-chat__file")
    expect(link).to_have_text("text/plain")
    expect(page.get_by_role("list", name="Sources")).to_contain_text("The manual")
    metadata = page.evaluate(
        "document.querySelector('[data-ds-chat]').dsChat.messages.at(-1).metadata"
    )
    assert metadata == {"model": "test-model", "step": "extras", "tokens": 3}


def test_saved_messages_are_drawn_as_live_ones_and_an_open_approval_still_works(
    page: Page,
) -> None:
    open_chat(page, "agent")
    stopped, first = page.locator(ASSISTANT).all()
    expect(first.locator(".ds-chat__reasoning summary")).to_have_text("Thinking")
    expect(first.locator(".ds-chat__reasoning")).not_to_have_attribute("open", "")
    expect(first.locator(".ds-chat__text")).to_have_text("Looking </script><b>it</b> up.")
    search, rename = first.locator(TOOL).all()
    expect(search.locator(".ds-chat__tool-state")).to_have_text("Done")
    expect(search.locator(".ds-chat__tool-input")).to_contain_text("<img src=x")  # as text
    assert page.evaluate("window.pwned") is None
    expect(stopped).to_have_class(re.compile("ds-chat__message--stopped"))
    expect(stopped.locator(".ds-chat__note")).to_have_text("Stopped")
    # A saved question's attachment is shown with it.
    expect(page.locator(".ds-chat__message--user a.ds-chat__file")).to_have_text("a.txt")
    # The approval asked before the reload is answered now, and the answer goes on.
    page.get_by_role("button", name="Approve rename_chat").click()
    expect(first).to_contain_text("Renamed.")
    wait_idle(page)
    expect(rename.locator(".ds-chat__tool-state")).to_have_text("Done")


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def test_attachments_are_previewed_removable_sent_as_file_parts_and_refused_when_too_large(
    page: Page,
) -> None:
    open_chat(page)
    # The server's MAX_FILE_BYTES comes in data-max-file-bytes; a smaller one for the test.
    assert page.get_attribute("[data-ds-chat]", "data-max-file-bytes") == str(8 * 1024 * 1024)
    page.evaluate("document.querySelector('[data-ds-chat]').dsChat.maxFileBytes = 1024")
    files = page.locator(".ds-chat__file-input")
    payloads: list[FilePayload] = [
        {"name": "dot.png", "mimeType": "image/png", "buffer": PNG},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"},
        {"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": bytes(2048)},
    ]
    files.set_input_files(payloads)
    expect(page.get_by_role("alert")).to_have_text("“huge.bin” is larger than 1 kB. Not attached.")
    expect(page.locator(".ds-chat__attachment")).to_have_count(2)
    page.get_by_role("button", name="Remove notes.txt").click()
    expect(page.locator(".ds-chat__attachment")).to_have_count(1)
    send(page, "what is this")
    expect(page.locator(ASSISTANT)).to_contain_text(
        f"(dot.png image/png {len(PNG)} bytes) You said: what is this"
    )
    expect(page.locator(".ds-chat__message--user img.ds-chat__file")).to_have_count(1)
    expect(page.locator(".ds-chat__attachment")).to_have_count(0)  # sent: none waiting


@pytest.mark.parametrize("gesture", ["drop", "paste"])
def test_a_file_dropped_on_the_widget_or_pasted_into_the_input_is_attached(
    page: Page, gesture: str
) -> None:
    open_chat(page)
    page.evaluate(
        """(gesture) => {
        const data = new DataTransfer();
        data.items.add(new File(["hello"], "note.txt", { type: "text/plain" }));
        const target = gesture === "drop"
            ? document.querySelector("[data-ds-chat]")
            : document.querySelector(".ds-chat__input");
        const event = gesture === "drop"
            ? new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true })
            : new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
        target.dispatchEvent(event);
        }""",
        gesture,
    )
    expect(page.locator(".ds-chat__attachment span")).to_have_text("note.txt")
    send(page, "read it")
    expect(page.locator(ASSISTANT)).to_contain_text(
        "(note.txt text/plain 5 bytes) You said: read it"
    )
