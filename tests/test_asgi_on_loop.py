"""``django_streaming.asgi`` runs a GET of a stream on the event loop, middleware and all, when
nothing in it does I/O: no hop to the pool. Anything else goes to the pool, as before."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core import signals
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpRequest, HttpResponseBase
from django.urls import path
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import SSEResponse, SSEView, StreamItem
from django_streaming.apps import _note_a_request
from django_streaming.asgi import ASGIHandler
from django_streaming.channels import publishing
from tests.support.asgi import http_scope, pool_held, serve_to_the_end
from tests.support.startproject import MIDDLEWARE as STARTPROJECT_MIDDLEWARE

#: The names of the threads where the site's code ran, in order.
threads: list[str] = []


def note_the_thread() -> None:
    threads.append(threading.current_thread().name)


def in_the_pool(thread: str | None) -> bool:
    return thread is not None and thread.startswith("django_streaming")


class Tokens(SSEView):
    async def stream(self, request: HttpRequest) -> AsyncIterator[StreamItem]:
        yield "token"


class Built(SSEView):
    """``stream()`` a plain function: it runs when the view does."""

    def stream(self, request: HttpRequest) -> Iterator[StreamItem]:
        note_the_thread()
        return iter(["token"])


class Private(LoginRequiredMixin, Tokens):
    raise_exception = True


class Noted(SSEResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        note_the_thread()
        super().__init__(*args, **kwargs)


class WithItsOwnResponse(Tokens):
    response_class = Noted


def noting_middleware(get_response: Callable[[HttpRequest], HttpResponseBase]) -> Any:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        note_the_thread()
        return get_response(request)

    return middleware


urlpatterns = [
    path("tokens", Tokens.as_view()),
    path("built", Built.as_view()),
    path("private", Private.as_view()),
    path("own-response", WithItsOwnResponse.as_view()),
]


@pytest.fixture(autouse=True)
def site(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = STARTPROJECT_MIDDLEWARE
    threads.clear()


async def get(
    target: str, headers: list[tuple[bytes, bytes]] | None = None
) -> list[dict[str, Any]]:
    """What a new handler sends for a GET of ``target`` (a path and a query string), the client
    staying to the end: at most 10 s."""
    path, _, query = target.partition("?")
    scope = http_scope(path)
    scope["query_string"] = query.encode()
    if headers is not None:
        scope["headers"] = headers
    return await serve_to_the_end(ASGIHandler(), scope)


def body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[str], list[logging.LogRecord]]]:
    """The records Django's logger ``name`` logged, by name."""
    with caplog.at_level(logging.WARNING, logger="django"):
        yield lambda name: [record for record in caplog.records if record.name == name]


@pytest.fixture
def busy_pool() -> Iterator[None]:
    """Every thread of the pool busy until the test ends (the pool as it is: a pool started
    anew would make threads of its own while later tests run)."""
    with pool_held():
        yield


@pytest.mark.usefixtures("busy_pool")
async def test_a_stream_behind_startproject_s_middleware_opens_with_no_pool_thread_free() -> None:
    sent = await get("/tokens")
    assert sent[0]["status"] == 200
    assert b"data: token\n\n" in body(sent)
    # What the middleware adds, it added.
    assert (b"X-Frame-Options", b"DENY") in sent[0]["headers"]


async def test_a_middleware_of_the_site_s_own_runs_in_the_pool(settings: SettingsWrapper) -> None:
    settings.MIDDLEWARE = [*STARTPROJECT_MIDDLEWARE, f"{__name__}.noting_middleware"]
    sent = await get("/tokens")
    assert b"data: token\n\n" in body(sent)
    assert threads
    assert in_the_pool(threads[0])


@pytest.mark.parametrize("target", ["/built", "/own-response"])
async def test_a_view_that_runs_code_of_the_user_s_runs_in_the_pool(target: str) -> None:
    """``stream()`` a plain function, or a response class of the user's."""
    sent = await get(target)
    assert b"data: token\n\n" in body(sent)
    assert len(threads) == 1
    assert in_the_pool(threads[0])


def note_request_started(**kwargs: Any) -> None:
    note_the_thread()


async def test_a_receiver_of_request_started_of_the_user_s_runs_in_the_pool() -> None:
    signals.request_started.connect(note_request_started)
    try:
        sent = await get("/tokens")
    finally:
        signals.request_started.disconnect(note_request_started)
    assert b"data: token\n\n" in body(sent)
    assert len(threads) == 1
    assert in_the_pool(threads[0])


HOST = (b"host", b"testserver")


@pytest.mark.parametrize(
    ("target", "headers", "user_agents", "status", "logger"),
    [
        # LoginRequiredMixin loads the user: a query.
        pytest.param("/private", [HOST], [], 403, "django.request", id="mixin"),
        # An error, which startproject's logging mails to the ADMINS.
        pytest.param(
            "/tokens", [(b"host", b"elsewhere.example")], [], 400,
            "django.security.DisallowedHost", id="host",
        ),
        pytest.param(
            "/tokens", [HOST, (b"last-event-id", b"x" * 300)], [], 400, "django.request",
            id="last-event-id",
        ),
        pytest.param(
            "/tokens", [HOST, (b"user-agent", b"curl/8")], [re.compile("^curl")], 403,
            "django.request", id="user-agent",
        ),
        pytest.param("/nowhere", [HOST], [], 404, "django.request", id="no-such-path"),
    ],
)  # fmt: skip
async def test_a_refusal_is_made_and_logged_in_the_pool(
    target: str,
    headers: list[tuple[bytes, bytes]],
    user_agents: list[re.Pattern[str]],
    status: int,
    logger: str,
    settings: SettingsWrapper,
    logged: Callable[[str], list[logging.LogRecord]],
) -> None:
    settings.DISALLOWED_USER_AGENTS = user_agents
    sent = await get(target, headers=headers)
    assert sent[0]["status"] == status
    [record] = logged(logger)
    assert in_the_pool(record.threadName)


async def test_a_query_of_many_fields_still_names_its_last_event_id() -> None:
    # request.GET would refuse it (TooManyFieldsSent): a 400, and an error logged.
    sent = await get("/tokens?lastEventId=12345678&" + "&".join(["field=1"] * 1001))
    assert sent[0]["status"] == 200


@pytest.mark.django_db(transaction=True)
async def test_a_site_whose_csrf_token_is_in_the_session_streams(
    settings: SettingsWrapper,
) -> None:
    """Every request reads the session then: a query, which the event loop's thread refuses."""
    settings.CSRF_USE_SESSIONS = True
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    cookie = (b"cookie", b"sessionid=" + b"k" * 32)
    sent = await get("/tokens", headers=[(b"host", b"testserver"), cookie])
    assert sent[0]["status"] == 200
    assert b"data: token\n\n" in body(sent)


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    database = connections.settings["default"]
    database["ATOMIC_REQUESTS"] = True
    try:
        yield
    finally:
        database["ATOMIC_REQUESTS"] = False


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("atomic_requests")
async def test_a_site_whose_views_run_in_a_transaction_streams() -> None:
    """The view runs in a transaction then: a query, which the event loop's thread refuses."""
    sent = await get("/tokens")
    assert sent[0]["status"] == 200
    assert b"data: token\n\n" in body(sent)


@pytest.mark.usefixtures("busy_pool")
async def test_a_response_asked_for_asynchronously_is_made_on_the_loop() -> None:
    """For a handler that calls ``get_response_async()`` itself, as Django's ``handle()``
    does."""
    request = ASGIRequest(http_scope("/tokens"), io.BytesIO())
    response = await asyncio.wait_for(ASGIHandler().get_response_async(request), timeout=10)
    assert isinstance(response, SSEResponse)
    response.close()


@pytest.fixture
def a_new_process() -> Iterator[None]:
    """As in a process that has served no request yet: ``apps.py``'s receiver listening."""
    signals.request_started.connect(_note_a_request, dispatch_uid="django_streaming_served")
    publishing.served_a_request = False
    try:
        yield
    finally:
        signals.request_started.disconnect(dispatch_uid="django_streaming_served")
        publishing.served_a_request = True


@pytest.mark.usefixtures("busy_pool", "a_new_process")
async def test_the_first_request_of_a_process_is_noted_on_the_loop() -> None:
    """What ``publish()`` reads to warn of a memory store in a process that serves none."""
    sent = await get("/tokens")
    assert b"data: token\n\n" in body(sent)
    assert publishing.served_a_request
