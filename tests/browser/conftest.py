"""Real Chromium (Debian's, never a downloaded one) driven by Playwright, against a real
uvicorn serving the test project with its static files."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.chromium import CHROMIUM, launch
from tests.support.servers import RunningServer, uvicorn_server
from tests.support.tools import require

#: Django's static files handler leaks the file of a request the browser gives up on while
#: the file is opened in a thread (a font the page no longer needs, say): the ASGI handler
#: cancels the request's task, the thread still returns its FileResponse, and nothing closes
#: it (django/core/handlers/asgi.py, handle()). Development serving only, not ours: its
#: ResourceWarning, whenever it is collected, is not a failure of the browser test then running.
STATIC_FILE_LEFT_OPEN = (
    r"ignore:Exception ignored in. <_io.FileIO name='[^']*/static/django_streaming/"
    r":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.filterwarnings(STATIC_FILE_LEFT_OPEN))


@pytest.fixture(scope="module")  # closed before other modules' asyncio tests run
def browser() -> Iterator[Browser]:
    executable = require("chromium", CHROMIUM)
    with sync_playwright() as playwright:
        browser = launch(playwright, executable)
        yield browser
        browser.close()


async def torn_stream(send: Any) -> None:
    """Half an answer, then the connection drops with the chunked body unterminated."""
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for part in [
        b'data: {"type":"start","messageId":"m"}\n\n',
        b'data: {"type":"text-start","id":"t"}\n\n',
        b'data: {"type":"text-delta","id":"t","delta":"half an answer"}\n\n',
    ]:
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await asyncio.sleep(0.2)
    raise ConnectionAbortedError("the network went away")  # uvicorn drops the connection


def with_torn_stream(app: Any) -> Any:
    """The test project, plus ``/torn/``: a server that dies mid-stream (outside Django, whose
    handler would leak the request's body file on an exception)."""

    async def router(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/torn/":
            await receive()
            await torn_stream(send)
        else:
            await app(scope, receive, send)

    return router


@pytest.fixture(scope="session")
def site_server() -> Iterator[RunningServer]:
    app = with_torn_stream(ASGIStaticFilesHandler(get_asgi_application()))
    with uvicorn_server(app=app) as server:
        yield server


@pytest.fixture
def context(browser: Browser, site_server: RunningServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=site_server.url)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"uncaught errors in the page: {errors}"
