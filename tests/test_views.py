from __future__ import annotations

import inspect
import json
from typing import Any, cast

import pytest
from django.contrib.auth.models import Permission, User
from django.http import HttpRequest
from django.test import AsyncClient, RequestFactory

from django_streaming import SSEResponse, SSEView
from tests.support.sse_parser import parse


async def events_of(response: Any) -> list[str]:
    body = b"".join([chunk async for chunk in response.streaming_content])
    return [event.data for event in parse(body).events]


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, "", None),
        ({"Last-Event-ID": "41"}, "", "41"),
        ({}, "?lastEventId=7", "7"),
        ({"Last-Event-ID": "header"}, "?lastEventId=query", "header"),
    ],
)
async def test_last_event_id(headers: dict[str, str], query: str, expected: str | None) -> None:
    response = await AsyncClient().get(f"/last-event-id/{query}", headers=headers)
    assert [json.loads(data) for data in await events_of(response)] == [{"last_event_id": expected}]


@pytest.mark.parametrize(
    ("headers", "query", "message"),
    [
        ({"Last-Event-ID": "x" * 257}, "", "Last-Event-ID is longer than 256 characters."),
        ({}, "?lastEventId=a%0Ab", "Last-Event-ID must not contain CR, LF or NUL."),
        ({}, "?lastEventId=a%0Db", "Last-Event-ID must not contain CR, LF or NUL."),
        ({}, "?lastEventId=a%00b", "Last-Event-ID must not contain CR, LF or NUL."),
    ],
)
async def test_bad_last_event_id_is_a_400(
    headers: dict[str, str], query: str, message: str
) -> None:
    response = await AsyncClient().get(f"/last-event-id/{query}", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_last_event_id", "message": message}}


async def test_post_is_not_allowed() -> None:
    response = await AsyncClient().post("/count/")
    assert response.status_code == 405


async def test_head_is_refused_unless_allowed_then_answered_as_get() -> None:
    from tests.testapp.views import CountView

    assert (await CountView.as_view()(RequestFactory().head("/"))).status_code == 405
    allowed = CountView.as_view(http_method_names=["get", "head"])
    response = await allowed(RequestFactory().head("/"))
    assert isinstance(response, SSEResponse)
    assert await events_of(response)


async def test_stream_must_be_defined() -> None:
    view = SSEView.as_view()
    with pytest.raises(NotImplementedError, match="SSEView must define stream"):
        await view(RequestFactory().get("/"))


def test_dispatch_runs_on_the_event_loop_unless_overridden() -> None:
    from tests.testapp.views import CountView, ProtectedView

    assert inspect.iscoroutinefunction(CountView.as_view())
    # A mixin's dispatch may do sync I/O: Django must run it in a thread.
    assert not inspect.iscoroutinefunction(ProtectedView.as_view())
    assert CountView.as_view().view_class is CountView  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
async def test_login_required_refuses_before_streaming() -> None:
    response = await AsyncClient().get("/protected/")
    assert response.status_code == 403
    assert not response.streaming


@pytest.mark.django_db(transaction=True)
async def test_login_required_streams_for_a_user_and_auser_works() -> None:
    user = await User.objects.acreate_user("ada", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get("/protected/")
    assert response.status_code == 200
    assert await events_of(response) == ['{"user":"ada"}']


@pytest.mark.django_db(transaction=True)
async def test_permission_required() -> None:
    user = await User.objects.acreate_user("bob", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    refused = await client.get("/permission/")
    assert refused.status_code == 403
    permission = await Permission.objects.aget(codename="view_user")
    await user.user_permissions.aadd(permission)
    allowed = await client.get("/permission/")
    assert await events_of(allowed) == ["allowed"]


async def test_view_attributes_reach_the_response() -> None:
    class Configured(SSEView):
        heartbeat = None
        retry = 100
        headers = {"X-Stream": "yes"}

        def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            yield "x"

    response = cast(SSEResponse, await Configured.as_view()(RequestFactory().get("/")))
    assert response["X-Stream"] == "yes"
    chunks = aiter(response)
    assert await anext(chunks) == b"retry: 100\n\n"
    await chunks.aclose()
