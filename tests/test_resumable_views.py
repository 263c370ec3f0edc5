"""Resumable views with Django's async test client: owners, mixins, WSGI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, AsyncRequestFactory, RequestFactory
from django.urls import reverse

from django_streaming.views import SSEView
from tests.support.probes import probe
from tests.testapp.views import ResumableCountView


async def first_event_id(response: object) -> str:
    async for chunk in response.streaming_content:  # type: ignore[attr-defined]
        if b"id: " in chunk:
            return str(chunk.split(b"id: ", 1)[1].split(b"\n", 1)[0].decode())
    raise AssertionError("no event")


@pytest.mark.django_db(transaction=True)
async def test_a_users_stream_resumes_in_another_browser_of_theirs(token: str) -> None:
    user = await User.objects.acreate_user("ada", password="pw")
    first, second, stranger = AsyncClient(), AsyncClient(), AsyncClient()
    await first.aforce_login(user)
    await second.aforce_login(user)
    assert (await stranger.get("/resumable-protected/")).status_code == 403  # the mixin works
    url = reverse("protected")
    started = await first.get(f"{url}?n=3&gate=1&token={token}")
    event_id = await first_event_id(started)
    resumed = await second.get(url, headers={"Last-Event-ID": event_id})
    assert resumed.status_code == 200
    other = await User.objects.acreate_user("bob", password="pw")
    await stranger.aforce_login(other)
    assert (await stranger.get(url, headers={"Last-Event-ID": event_id})).status_code == 404
    stop = await second.post(f"{url}{event_id.rpartition(':')[0]}/stop")
    assert stop.status_code == 204
    await asyncio.wait_for(asyncio.to_thread(probe(token).finished.wait, 5), 6)
    assert probe(token).cancelled
    probe(token).gate.set()


async def test_without_sessions_the_stream_id_is_the_only_guard() -> None:
    request = AsyncRequestFactory().get("/")
    assert await SSEView().stream_owner(request) == "anonymous"


def test_resumable_views_have_urls_for_include() -> None:
    patterns = ResumableCountView.urls(name="feed")
    assert [str(pattern.pattern) for pattern in patterns] == ["", "<str:stream_id>/stop"]
    assert patterns[0].name == "feed"


def test_an_interrupted_chat_ends_with_an_error_the_user_can_read() -> None:
    from django_streaming.chat import ChatStreamView

    ending: list[Any] = ChatStreamView().stream_ending("interrupted")
    assert ending[0]["type"] == "error"
    assert "interrupted" in ending[0]["errorText"]
    assert ChatStreamView().stream_ending("completed") == []


def test_signals_are_left_alone_off_the_main_thread() -> None:
    import signal
    import threading

    from django_streaming import shutdown

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=shutdown.watch_signals)
    thread.start()
    thread.join()
    assert signal.getsignal(signal.SIGTERM) is before


class ShortLived(ResumableCountView):
    max_duration = 0.2


async def test_a_views_own_maximum_duration_wins(token: str) -> None:
    request = AsyncRequestFactory().get(f"/?n=2&gate=1&token={token}")
    response = await ShortLived.as_view()(request)
    body = b"".join([chunk async for chunk in response.streaming_content])
    probe(token).gate.set()
    assert body.endswith(b'event: end\ndata: {"status":"cancelled"}\n\n')


async def test_a_resumable_view_refuses_what_it_does_not_serve_before_touching_the_store() -> None:
    client = AsyncClient()
    assert (await client.post("/resumable/")).status_code == 405  # GET only
    long_id = await client.get("/resumable/", headers={"Last-Event-ID": "x" * 300})
    assert long_id.status_code == 400
    assert long_id.json()["error"]["code"] == "invalid_last_event_id"


async def test_a_resumable_chat_refuses_a_body_it_cannot_read() -> None:
    response = await AsyncClient().post(
        "/resumable-chat/", data=b"{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("meta", "header", "address"),
    [
        ({"REMOTE_ADDR": "192.0.2.7"}, None, "192.0.2.7"),
        # Behind a trusted proxy: the last address, the one it appended.
        (
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 192.0.2.8"},
            "HTTP_X_FORWARDED_FOR",
            "192.0.2.8",
        ),
        ({"REMOTE_ADDR": "192.0.2.9"}, "HTTP_X_REAL_IP", "192.0.2.9"),  # header missing
        # One client holds a whole /64: its addresses count as one.
        ({"REMOTE_ADDR": "2001:db8:1:2:aaaa::1"}, None, "2001:db8:1:2::/64"),
        ({"REMOTE_ADDR": "not an address"}, None, "not an address"),
    ],
)
def test_client_address(
    settings: Any, meta: dict[str, str], header: str | None, address: str
) -> None:
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "CLIENT_ADDRESS_HEADER": header}
    request = RequestFactory().get("/")
    request.META.update(meta)
    assert SSEView().client_address(request) == address
