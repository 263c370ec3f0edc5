"""The example's job pages in real Chromium over HTTP/1.1: eight tabs of job pages share the
browser's connections through ``streams.js`` (at most one open per job at a time, counted in
front of the server), all show every step, and a ninth tab of the site still loads while they
stream."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.proxy import Proxy, proxy_to
from tests.support.servers import RunningServer, example_project_server

pytestmark = pytest.mark.browser

EVENTS = re.compile(rb"GET /jobs/[0-9a-f-]{36}/events/ HTTP/1\.1")
REQUEST = re.compile(rb"^[A-Z]+ /\S* HTTP/1\.1\r$", re.MULTILINE)


class StreamCounter(Proxy):
    """Counts the connections busy with a job's event stream (the last request on them asked
    for one, and they are open), and the most at once."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.streams = 0
        self.peak = 0

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, record: bool
    ) -> None:
        if not record:
            await super()._pump(source, target, record=record)
            return
        streaming = False
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                self.sent += data
                requests = REQUEST.findall(data)
                if requests:
                    now = bool(EVENTS.match(requests[-1]))
                    self.streams += int(now) - int(streaming)
                    self.peak = max(self.peak, self.streams)
                    streaming = now
                target.write(data)
        self.streams -= int(streaming)
        target.close()


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    database: Path = tmp_path_factory.mktemp("example-jobs") / "db.sqlite3"
    with example_project_server(database, tokens_per_second=60) as server:
        yield server


@contextmanager
def counting_proxy(server: RunningServer) -> Iterator[StreamCounter]:
    """A TCP proxy in front of ``server``, on a loop of its own: what it records is every
    request the browser sent, whichever tab or worker sent it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = urlsplit(server.url).port
    assert port is not None
    manager = proxy_to(port, StreamCounter)
    proxy = asyncio.run_coroutine_threadsafe(manager.__aenter__(), loop).result(5)
    assert isinstance(proxy, StreamCounter)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(manager.__aexit__(None, None, None), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def start_job(page: Page) -> str:
    page.goto("/jobs/")
    page.get_by_role("button", name="Start a job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    return urlsplit(page.url).path


def test_eight_tabs_of_job_pages_share_one_connection_per_job(
    browser: Browser, example_server: RunningServer
) -> None:
    with counting_proxy(example_server) as proxy:
        context = browser.new_context(base_url=f"http://127.0.0.1:{proxy.port}")
        context.set_default_timeout(10_000)  # a tab the 6-connection limit starves fails here
        errors: list[str] = []
        first = context.new_page()
        # The example's worker runs one job at a time: the second and third run for the
        # next six seconds or so, while their pages are open.
        jobs = [start_job(first) for _ in range(3)][1:]
        first.close()
        tabs = []
        for number in range(8):
            tab = context.new_page()
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(jobs[number % 2], wait_until="load")
            tabs.append(tab)
        last = tabs[-1].get_by_role("status")
        assert not last.inner_text().startswith("Done"), "the jobs ended before the tabs opened"
        site = context.new_page()  # the rest of the site, while the jobs stream
        site.goto("/jobs/")
        expect(site.get_by_role("button", name="Start a job")).to_be_visible()
        for tab in tabs:
            steps = tab.get_by_role("list", name="Steps").get_by_role("listitem")
            expect(tab.get_by_role("status")).to_have_text(
                "Done: 20 reports imported.", timeout=20_000
            )
            expect(steps).to_have_count(21)  # every step once, from the start
            expect(steps.first).to_have_text("Started.")
        context.close()
        peak, requests = proxy.peak, len(EVENTS.findall(bytes(proxy.sent)))
    assert 1 <= peak <= len(jobs), f"{peak} job streams open at once ({requests} in all)"
    assert errors == []
