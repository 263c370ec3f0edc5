"""htmx 2's SSE extension through ``streams-htmx.js`` in real Chromium over HTTP/1.1: four tabs
of a page with two ``sse-connect`` elements (eight EventSources, more than the six connections
the browser allows the site) share one connection, counted by the server's view
(``tests/testapp/tabs.py``), and every element of every tab swaps in every fragment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import BrowserContext, Page, Route, expect

from django_streaming import publish
from tests.browser.test_htmx import SCRIPTS, packages
from tests.support.servers import RunningServer, wait_until
from tests.testapp.tabs import OPEN, PEAK

pytestmark = pytest.mark.browser
__all__ = ["packages"]  # the fixture, from the htmx tests

TABS = 4
MEMORY = {"BACKEND": "django_streaming.stores.memory.MemoryStore"}


@pytest.fixture(autouse=True)
def memory_store(site_server: RunningServer) -> Iterator[None]:
    with override_settings(DJANGO_STREAMING={"STORE": MEMORY}):
        yield


def page_of(feed: str, shared: bool) -> str:
    """Two elements reading ``feed`` through htmx's extension; with ``shared``, after
    ``streams-htmx.js``."""
    module = '<script type="module" src="/static/django_streaming/streams-htmx.js"></script>'
    elements = "".join(
        f'<div hx-ext="sse" sse-connect="{feed}"><ul id="{name}" sse-swap="row" '
        'hx-swap="beforeend"></ul></div>'
        for name in ("first", "second")
    )
    scripts = '<script src="/js/htmx2.js"></script><script src="/js/sse.js"></script>'
    head = scripts + (module if shared else "")
    return f"<!doctype html><html><head>{head}</head><body>{elements}</body></html>"


def open_tab(context: BrowserContext, packages: Path, html: str, errors: list[str]) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))

    def script(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[1]
        route.fulfill(path=packages / SCRIPTS[name], content_type="text/javascript")

    page.route("**/js/*.js", script)
    page.route("**/page/", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto("/page/", wait_until="load")
    return page


def test_eight_sse_connect_elements_in_four_tabs_share_one_connection(
    context: BrowserContext, packages: Path
) -> None:
    token = uuid.uuid4().hex
    html = page_of(f"/tabs/{token}/feed/a/", shared=True)
    context.set_default_timeout(10_000)  # a tab the 6-connection limit starves fails here
    errors: list[str] = []
    tabs = [open_tab(context, packages, html, errors) for _ in range(TABS)]
    wait_until(lambda: OPEN[token] == 1, what="the shared stream open")
    for tab in tabs:  # every element has its source open before anything is published
        tab.wait_for_function(
            "() => [...document.querySelectorAll('[sse-connect]')].every("
            "(element) => element['htmx-internal-data']?.sseEventSource?.readyState === 1)"
        )
    for number in range(3):
        publish(f"{token}-a", f"<li>row {number}</li>", event="row")
    for tab in tabs:
        for name in ("first", "second"):
            expect(tab.locator(f"#{name} li")).to_have_text(["row 0", "row 1", "row 2"])
    assert PEAK[token] == 1
    assert errors == []
