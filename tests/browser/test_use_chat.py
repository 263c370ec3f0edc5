"""The proof that useChat front ends work unchanged: a React page using ``useChat`` from
``@ai-sdk/react`` (bundled here with esbuild, from npm; the package itself has no bundler) in
real Chromium, against ChatStreamView: text, a server tool, an approval, a client tool, Stop,
and a resume."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.probes import probe
from tests.support.tools import require
from tests.testapp.chat import Prompt

pytestmark = pytest.mark.browser

REACT = Path(__file__).parent / "react"


@pytest.fixture(scope="module", autouse=True)
def bundle() -> None:
    require("node")
    npm = require("npm")
    if not (REACT / "node_modules" / "@ai-sdk" / "react").is_dir():
        subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=REACT, check=True, timeout=300,
        )  # fmt: skip
    subprocess.run(
        [str(REACT / "node_modules" / ".bin" / "esbuild"), "app.jsx", "--bundle",
         "--format=esm", "--jsx=automatic", "--outfile=dist/app.js", "--log-level=warning",
         '--define:process.env.NODE_ENV="production"'],
        cwd=REACT, check=True, timeout=120,
    )  # fmt: skip


def open_page(page: Page, query: str = "") -> str:
    chat_id = f"react-{uuid.uuid4().hex}"
    page.goto(f"/react/?id={chat_id}&{query}")
    expect(page.get_by_label("Message")).to_be_visible()
    return chat_id


def ask(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def ready(page: Page) -> None:
    expect(page.locator("main")).to_have_attribute("data-status", "ready", timeout=10_000)


def test_text(page: Page) -> None:
    open_page(page)
    ask(page, "hello")
    expect(page.locator("article.assistant")).to_have_text("You said: hello")
    ready(page)


def test_a_server_tool(page: Page) -> None:
    open_page(page)
    ask(page, Prompt.TOOLS)
    expect(page.locator('[data-tool="search"]')).to_have_attribute("data-state", "output-available")
    expect(page.locator("article.assistant")).to_contain_text("Found 2.")
    ready(page)


@pytest.mark.parametrize(("button", "text"), [("Approve", "Renamed."), ("Deny", "Left as it is.")])
def test_an_approval_continues_the_same_message(page: Page, button: str, text: str) -> None:
    open_page(page)
    ask(page, Prompt.APPROVAL)
    page.get_by_role("button", name=button).click()
    expect(page.locator("article.assistant")).to_contain_text(text)
    ready(page)
    expect(page.locator("article.assistant")).to_have_count(1)


def test_a_client_tool_via_on_tool_call_and_add_tool_output(page: Page) -> None:
    open_page(page)
    ask(page, Prompt.CLIENT_TOOL)
    expect(page.locator("article.assistant")).to_contain_text("It is 12:34.")
    ready(page)
    expect(page.locator("article.assistant")).to_have_count(1)
    expect(page.locator('[data-tool="local_time"]')).to_have_attribute(
        "data-state", "output-available"
    )


def test_stop_stops_the_generator_on_the_server(page: Page) -> None:
    chat_id = open_page(page)
    ask(page, Prompt.WAIT)
    expect(page.locator("article.assistant")).to_contain_text("partial answer")
    page.get_by_role("button", name="Stop").click()
    assert probe(chat_id).finished.wait(5)
    assert probe(chat_id).cancelled


def test_a_reloaded_page_resumes_the_answer_in_progress(page: Page) -> None:
    chat_id = open_page(page, "api=/resumable-chat/")
    ask(page, Prompt.lines(40, 0.05))
    expect(page.locator("article.assistant")).to_contain_text("Line 3 of a long answer.")
    # Another tab of the same chat: useChat's resume replays the answer, then follows it.
    other = page.context.new_page()
    other.goto(f"/react/?id={chat_id}&api=/resumable-chat/&resume")
    expect(other.locator("article.assistant")).to_contain_text("Line 0 of a long answer.")
    expect(other.locator("article.assistant")).to_contain_text(
        "Line 39 of a long answer.", timeout=15_000
    )
