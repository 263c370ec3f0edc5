"""The example's job pages in real Chromium over HTTP/1.1: eight tabs of job pages share the
browser's connections through ``streams.js`` (at most one open per job at a time, counted in
front of the server), all show every step, and a ninth tab of the site still loads while they
stream."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.proxy import Proxy, proxy_to
from tests.support.servers import RunningServer, example_project_server, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVENTS = re.compile(rb"GET /jobs/([0-9a-f-]{36})/events/ HTTP/1\.1")
REQUEST = re.compile(rb"^[A-Z]+ /\S* HTTP/1\.1\r$", re.MULTILINE)


class StreamBody:
    """The body of one reply, as it comes through: de-chunked, and gunzipped if it was sent
    gzipped (the example's GZipMiddleware compresses streams too)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.inflate: zlib._Decompress | None = None
        self.headers_read = False

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        if not self.headers_read:
            head, found, self.buffer = self.buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = head
                return b""
            self.headers_read = True
            if b"content-encoding: gzip" in head.lower():
                self.inflate = zlib.decompressobj(wbits=31)
        body = b""
        while (end := self.buffer.find(b"\r\n")) >= 0:
            size = int(self.buffer[:end], 16)
            if len(self.buffer) < end + size + 4:
                break
            chunk = self.buffer[end + 2 : end + 2 + size]
            self.buffer = self.buffer[end + size + 4 :]
            body += self.inflate.decompress(chunk) if self.inflate else chunk
        return body


class Connection:
    """What the proxy knows of one connection: the job whose stream it carries, if any."""

    def __init__(self) -> None:
        self.job: str | None = None
        self.body = StreamBody()
        self.seen = b""


class StreamCounter(Proxy):
    """Follows the connections that carry a job's event stream (the last request on them asked
    for one): how many are open, by job, and how many of each job's were asked for while it
    ran (before a stream carried its ``done`` event)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.streams: Counter[str] = Counter()  # open now, by job id
        self.done: set[str] = set()  # the jobs whose done event a stream carried
        self.while_running: Counter[str] = Counter()  # streams asked for before that

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers |= {client_w, server_w}
        connection = Connection()
        for pump in (
            self._requests(client_r, server_w, connection),
            self._replies(server_r, client_w, connection),
        ):
            task = asyncio.create_task(pump)
            self.pumps.add(task)
            task.add_done_callback(self.pumps.discard)

    def _carry(self, connection: Connection, job: str | None) -> None:
        if connection.job is not None:
            self.streams[connection.job] -= 1
        if job is not None:
            self.streams[job] += 1
            self.while_running[job] += job not in self.done
        # The reply to the last request came whole before the browser sent this one.
        connection.job, connection.body, connection.seen = job, StreamBody(), b""

    async def _requests(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, connection: Connection
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                self.sent += data
                if requests := REQUEST.findall(data):
                    stream = EVENTS.match(requests[-1])
                    self._carry(connection, stream[1].decode() if stream else None)
                target.write(data)
        self._carry(connection, None)
        target.close()

    async def _replies(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, connection: Connection
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if connection.job is not None:
                    # An event split between two reads is seen whole.
                    connection.seen = connection.seen[-32:] + connection.body.feed(data)
                    if b"event: done\n" in connection.seen:
                        self.done.add(connection.job)
                target.write(data)
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


def start_job(page: Page, proxy: StreamCounter) -> str:
    """Start a job from the list, and return once its page reads it: what a page asks of a
    SharedWorker still starting is carried out when it has, even if the page went meanwhile
    (a stream opened, and closed at once), which would count as one of the next tabs'."""
    page.goto("/jobs/")
    page.get_by_role("button", name="Start a job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    path = urlsplit(page.url).path
    job = path.split("/")[2]
    wait_until(lambda: proxy.streams[job] == 1, what=f"the stream of job {job}")
    return path


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
        jobs = [start_job(first, proxy) for _ in range(3)][1:]
        first.close()
        before = Counter(proxy.while_running)  # what the first tab's pages asked for
        tabs = [context.new_page() for _ in range(8)]
        for number, tab in enumerate(tabs):  # they load side by side: sooner done on a slow day
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(jobs[number % 2], wait_until="commit")
        for tab in tabs:
            tab.wait_for_load_state()
        third = jobs[1].split("/")[2]
        assert third not in proxy.done, "the third job ended before its tabs opened"
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
    # While a job runs, its four tabs read it through one stream. The streams open at the
    # proxy at once are no bound: the first tab's last stream was seen open 5.0 s after the tab
    # closed (twice; Chromium drains a cancelled body for up to 5 s to reuse its connection,
    # it seems), long enough to count beside the tabs' two (CI saw 3 for 2 jobs). Once a job is
    # done its tabs let its stream go, and a tab opened later asks for another (the history,
    # done included), whose connection may open before the last one's closes: hence the
    # streams asked for while the job ran.
    opened = proxy.while_running - before
    assert opened[jobs[0].split("/")[2]] <= 1, opened  # (it may have ended before its tabs)
    assert opened[third] == 1, opened  # it ran on while its tabs opened (checked above)
    assert errors == []
