"""htmx against ChannelView in real Chromium, with the real packages (pinned in
``tests/browser/htmx/package.json``): htmx 2 with ``htmx-ext-sse``, and htmx 4 with its own
``hx-sse``. Fragments are published by ``manage.py publish`` in a process of its own,
through a real Redis."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.test import override_settings
from playwright.sync_api import Page, Route, expect

from django_streaming.backends.redis import RedisStore
from django_streaming.stores import get_store
from tests.support.commands import manage_publish
from tests.support.redis_servers import shared_redis, unique_prefix
from tests.support.servers import RunningServer, wait_until
from tests.support.tools import require

pytestmark = [pytest.mark.browser, pytest.mark.redis]

PACKAGES = Path(__file__).parent / "htmx"
SCRIPTS = {
    "htmx2.js": "htmx2/dist/htmx.min.js",
    "sse.js": "htmx-ext-sse/dist/sse.min.js",
    "htmx4.js": "htmx4/dist/htmx.min.js",
    "hx-sse.js": "htmx4/dist/ext/hx-sse.min.js",
}


@pytest.fixture(scope="module")
def packages() -> Path:
    npm = require("npm")
    if not all((PACKAGES / "node_modules" / path).is_file() for path in SCRIPTS.values()):
        subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PACKAGES, check=True, timeout=300,
        )  # fmt: skip
    return PACKAGES / "node_modules"


@pytest.fixture
def prefix(site_server: RunningServer) -> Iterator[str]:
    """The test site's channels in the shared Redis, under a prefix of the test's own."""
    prefix = unique_prefix()
    store = {"BACKEND": "django_streaming.stores.redis.RedisStore"}
    store["OPTIONS"] = {"url": shared_redis(), "prefix": prefix}  # type: ignore[assignment]
    with override_settings(DJANGO_STREAMING={"STORE": store}):
        yield prefix
        redis_store = get_store()
        assert isinstance(redis_store, RedisStore)
        assert site_server.loop is not None
        closing = redis_store.aclose(site_server.loop)
        asyncio.run_coroutine_threadsafe(closing, site_server.loop).result(5)


def serve(page: Page, site_server: RunningServer, packages: Path, body: str, *scripts: str) -> None:
    """Open a page of ``body`` that loads ``scripts``, on the test site's origin."""
    tags = "".join(f'<script src="/js/{name}"></script>' for name in scripts)
    html = f"<!doctype html><html><head>{tags}</head><body>{body}</body></html>"

    def script(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[1]
        route.fulfill(path=packages / SCRIPTS[name], content_type="text/javascript")

    page.route("**/js/*.js", script)
    page.route("**/page/", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto("/page/")


def wait_for_subscribers(prefix: str, channel: str, count: int = 1) -> None:
    """Until the server has subscribed to ``channel`` for ``count`` page(s)."""
    client = redis.Redis.from_url(shared_redis())
    key = f"{prefix}:channel:{{{channel}}}"  # RedisChannelLog.key()

    def subscribed() -> bool:
        return dict(client.pubsub_numsub(key)).get(key.encode(), 0) >= count

    wait_until(subscribed, what=f"the subscription to {channel}")
    client.close()


def test_htmx_2_swaps_named_events_published_from_another_process(
    page: Page, site_server: RunningServer, packages: Path, prefix: str, token: str
) -> None:
    serve(
        page, site_server, packages,
        f'<div hx-ext="sse" sse-connect="/channels/?channel={token}">'
        '<ul id="items" sse-swap="item" hx-swap="beforeend"></ul>'
        '<p id="status" sse-swap="status">waiting</p></div>',
        "htmx2.js", "sse.js",
    )  # fmt: skip
    wait_for_subscribers(prefix, token)
    for fragment in ["<li>one</li>", "<li>\n  two\n</li>"]:  # multi-line HTML arrives whole
        done = manage_publish(shared_redis(), prefix, token, fragment, "--event", "item")
        assert done.returncode == 0, done.stderr
    manage_publish(shared_redis(), prefix, token, "<b>shipped</b>", "--event", "status")
    expect(page.locator("#items li")).to_have_text(["one", "two"])
    expect(page.locator("#status b")).to_have_text("shipped")


def test_htmx_2_sse_close_ends_a_finite_stream_for_good(
    page: Page, site_server: RunningServer, packages: Path, token: str
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(
        "document.addEventListener('htmx:sseClose', () => { window.sseClosed = true; });"
    )
    serve(
        page, site_server, packages,
        f'<div hx-ext="sse" sse-connect="/resumable/?n=3&token={token}" sse-close="end">'
        '<ol id="numbers" sse-swap="message" hx-swap="beforeend"></ol></div>',
        "htmx2.js", "sse.js",
    )  # fmt: skip
    expect(page.locator("#numbers")).to_have_text("012")
    page.wait_for_function("window.sseClosed === true")
    source_state = page.evaluate(
        "document.querySelector('[sse-connect]')['htmx-internal-data'].sseEventSource.readyState"
    )
    assert source_state == 2  # EventSource.CLOSED: it will not reconnect
    assert sum("/resumable/" in url for url in requests) == 1


def test_htmx_4_swaps_messages_dispatches_named_events_and_resumes_without_a_gap(
    page: Page, site_server: RunningServer, packages: Path, prefix: str, token: str
) -> None:
    requests: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: requests.append(request.headers) if "/channels/" in request.url else None,
    )
    page.add_init_script(
        "document.addEventListener('progress', (event) => {"
        " window.progress = (window.progress || []).concat([event.detail.data]); });"
    )
    serve(
        page, site_server, packages,
        # The server ends each stream after two events; hx-sse reconnects with its cursor.
        f'<ul id="items" hx-sse:connect="/channels/ending/?channel={token}&events=2"'
        ' hx-swap="beforeend"></ul>',
        "htmx4.js", "hx-sse.js",
    )  # fmt: skip
    wait_for_subscribers(prefix, token)
    for item in ["<li>1</li>", "<li>2</li>", "<li>3</li>", "<li>4</li>"]:
        manage_publish(shared_redis(), prefix, token, item)
    manage_publish(shared_redis(), prefix, token, "50%", "--event", "progress")
    expect(page.locator("#items li")).to_have_text(["1", "2", "3", "4"])
    page.wait_for_function("(window.progress || []).includes('50%')")
    reconnects = [headers for headers in requests if "last-event-id" in headers]
    assert reconnects, "hx-sse reconnected without Last-Event-ID"
