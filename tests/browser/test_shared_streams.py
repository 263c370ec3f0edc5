"""streams.js in real Chromium over HTTP/1.1: 12 tabs of a page with two subscriptions all load
and all get every event exactly once, in order, through the one or two connections the tabs
share (counted by the server's views, ``tests/testapp/tabs.py``); closing the tab that holds
the connection mid-stream loses and repeats nothing. Once through the SharedWorker, once
through a leader tab elected with Web Locks (the page takes ``SharedWorker`` away)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.test import override_settings
from playwright.sync_api import BrowserContext, Page

from django_streaming import publish
from tests.support.servers import RunningServer, wait_until
from tests.testapp.tabs import OPEN, PEAK, RESUMED

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TABS = 12
MEMORY = {"BACKEND": "django_streaming.stores.memory.MemoryStore"}


@pytest.fixture(autouse=True)
def memory_store(site_server: RunningServer) -> Iterator[None]:
    with override_settings(DJANGO_STREAMING={"STORE": MEMORY}):
        yield


def open_tabs(context: BrowserContext, path: str, errors: list[str]) -> list[Page]:
    """``TABS`` tabs of ``path``, each loaded before the next opens (as a user would)."""
    context.set_default_timeout(10_000)  # a tab the 6-connection limit starves fails here
    pages = []
    for _ in range(TABS):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path, wait_until="load")
        pages.append(page)
    return pages


def received(page: Page) -> dict[str, list[str]]:
    result: dict[str, list[str]] = page.evaluate("window.tabs.received")
    return result


def wait_for_events(pages: list[Page], expected: list[str]) -> None:
    for page in pages:
        page.wait_for_function(
            "n => window.tabs.received.a.length >= n && window.tabs.received.b.length >= n",
            arg=len(expected),
        )
    for page in pages:
        assert received(page) == {"a": expected, "b": expected}


@pytest.mark.parametrize(
    ("mode", "connections"),
    [("worker-mux", 1), ("worker-plain", 2), ("locks-mux", 1), ("locks-plain", 2)],
)
def test_twelve_tabs_share_their_streams_and_a_closed_leader_hands_over(
    context: BrowserContext, token: str, mode: str, connections: int
) -> None:
    transport, kind = mode.split("-")
    query = f"?mode={kind}" + ("&locks" if transport == "locks" else "")
    errors: list[str] = []
    pages = open_tabs(context, f"/tabs/{token}/page/{query}", errors)
    for page in pages:
        page.wait_for_function("window.tabs && window.tabs.opened.a && window.tabs.opened.b")
    wait_until(lambda: OPEN[token] == connections, what=f"{connections} open stream(s)")
    # Another page of the site still loads: the tabs left the browser connections to spare.
    assert pages[-1].evaluate("fetch(location.href).then(response => response.status)") == 200

    first = [str(number) for number in range(10)]
    for number in first:
        publish(f"{token}-a", number)
        publish(f"{token}-b", number)
    wait_for_events(pages, first)
    # While the tabs share: never more streams than subscriptions the server can tell apart.
    assert PEAK[token] <= connections

    # The leader (the tab that opened first: it holds the lock, or started the worker) closes
    # while events flow.
    if transport == "locks":
        assert pages[0].evaluate("window.streamFetches") >= 1
        assert all(page.evaluate("window.streamFetches") == 0 for page in pages[1:])
    published = []

    def publisher() -> None:
        for number in range(10, 50):
            publish(f"{token}-a", str(number))
            publish(f"{token}-b", str(number))
            published.append(number)
            time.sleep(0.005)  # a pace, so that the leader closes mid-stream

    thread = threading.Thread(target=publisher)
    thread.start()
    wait_until(lambda: len(published) >= 10, what="events published before the close")
    pages[0].close()
    thread.join(timeout=10)
    wait_for_events(pages[1:], [str(number) for number in range(50)])

    # The closed tab's stream ends once the server reads its disconnect, which may come after
    # the next leader opened its own: an overlap is allowed, a second new stream is not (below).
    wait_until(lambda: OPEN[token] == connections, what=f"{connections} open stream(s) after")
    if transport == "locks":  # the next leader resumed where it was, by its cursor
        assert len(RESUMED[token]) == 2 * connections
        assert None not in RESUMED[token][connections:]
    else:  # the worker kept its connection
        assert len(RESUMED[token]) == connections
    assert [page.evaluate("window.tabs.resets") for page in pages[1:]] == [0] * (TABS - 1)
    assert [page.evaluate("window.tabs.errors") for page in pages[1:]] == [[]] * (TABS - 1)
    assert errors == []


def test_the_worker_holds_nothing_for_a_tab_until_it_could_learn_the_tab_is_gone(
    context: BrowserContext, token: str
) -> None:
    # A tab that crashes says nothing (no pagehide): the worker learns it went when the Web
    # Lock the tab held is released. A tab whose lock is not held yet subscribes to nothing.
    held = context.new_page()
    held.goto(f"/tabs/{token}/page/?mode=plain&held", wait_until="load")
    held.wait_for_function("window.tabs")
    other = context.new_page()
    other.goto(f"/tabs/{token}/page/?mode=plain", wait_until="load")
    other.wait_for_function("window.tabs.opened.a && window.tabs.opened.b")
    wait_until(lambda: OPEN[token] == 2, what="the two streams the tabs share")
    other.close()
    # Only the tab that closed had subscribed: no connection is left to the worker.
    wait_until(lambda: OPEN[token] == 0, what="the streams closed with the tab that read them")

    held.evaluate("window.grantLock()")
    held.wait_for_function("window.tabs.opened.a && window.tabs.opened.b")
    wait_until(lambda: OPEN[token] == 2, what="the held tab's streams, once it holds its lock")
    publish(f"{token}-a", "after")
    held.wait_for_function("window.tabs.received.a.includes('after')")
    assert held.evaluate("window.tabs.errors") == []
