"""Debian's Chromium, launched the one way this project launches it (never a downloaded build)."""

from __future__ import annotations

from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright, executable: str = CHROMIUM) -> Browser:
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
