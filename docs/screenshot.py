"""Take the README's screenshot of the example chat: `python docs/screenshot.py`.

Starts the example project under uvicorn on a free loopback port with a throw-away database,
asks one question in Chromium and saves docs/chat.png once the answer has streamed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.chromium import launch  # noqa: E402
from tests.support.servers import example_project_server  # noqa: E402


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        example_project_server(Path(folder) / "db.sqlite3", tokens_per_second=120) as server,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        page = browser.new_page(base_url=server.url, viewport={"width": 1000, "height": 900})
        page.goto("/")
        page.get_by_role("button", name="New chat").click()
        page.wait_for_function("document.querySelector('[data-ds-chat]')?.dsChat")
        page.get_by_label("Message", exact=True).fill("How do I stream an LLM answer from Django?")
        page.get_by_label("Message", exact=True).press("Enter")
        page.wait_for_function(
            "document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
            " && document.querySelector('.ds-chat__message--assistant table')"
        )
        page.screenshot(path=str(ROOT / "docs" / "chat.png"))
        browser.close()
    print("wrote docs/chat.png")


if __name__ == "__main__":
    main()
