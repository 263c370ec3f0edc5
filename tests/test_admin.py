"""The admin's page of live answers (``admin.py``), with Django's test client: who may see it
and stop, what it lists from the store, Stop, and the channels with subscribers here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import translation
from prometheus_client import REGISTRY
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming.admin import MAX_LISTED, owner_labels
from django_streaming.backends.memory import MemoryStore
from django_streaming.channels.subscription import subscribe, subscribers
from django_streaming.resumable import new_stream_id
from django_streaming.stores import StreamStore, get_store, worker_id

pytestmark = pytest.mark.django_db

PAGE = "/admin/django_streaming/liveanswer/"
STOP = PAGE + "stop/"


def staff(name: str, *permissions: str) -> User:
    user: User = User.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="django_streaming", codename__in=permissions
        )
    )
    return user


def client_of(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def store(settings: SettingsWrapper) -> StreamStore:
    settings.DJANGO_STREAMING = {
        "STORE": {"BACKEND": "django_streaming.backends.memory.MemoryStore"}
    }
    return get_store()


def start(store: StreamStore, owner: str = "user:1", view: str = "chat") -> str:
    stream_id = new_stream_id()
    async_to_sync(store.create)(stream_id, owner=owner, view=view)
    return stream_id


def test_the_app_has_its_own_two_permissions() -> None:
    codenames = Permission.objects.filter(content_type__app_label="django_streaming")
    assert sorted(codenames.values_list("codename", flat=True)) == [
        "stop_live_answers",
        "view_live_answers",
    ]


def test_who_is_not_staff_goes_to_the_admin_login() -> None:
    for client in (client_of(None), client_of(User.objects.create_user("eve", password="pw"))):
        response = client.get(PAGE)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")


def test_staff_without_the_permission_get_a_403_and_no_entry_in_the_index() -> None:
    client = client_of(staff("bob"))
    assert client.get(PAGE).status_code == 403
    assert client.post(STOP, {"stream": new_stream_id()}).status_code == 403
    assert PAGE not in client.get("/admin/").content.decode()


def test_a_running_answer_is_listed_with_its_view_owner_events_and_worker(
    store: StreamStore,
) -> None:
    ada = staff("ada", "view_live_answers")
    stream_id = start(store, owner=f"user:{ada.pk}", view="chat-view")
    async_to_sync(store.append)(stream_id, [(1, b"a"), (2, b"b")])
    ended = start(store)
    async_to_sync(store.finish)(ended, "completed")
    client = client_of(ada)
    assert PAGE in client.get("/admin/").content.decode()  # its entry in the index
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "admin/base_site.html" in [template.name for template in response.templates]
    [row] = response.context["rows"]
    assert (row.stream.stream_id, row.stream.view, row.stream.events) == (stream_id, "chat-view", 2)
    assert row.owner == f"ada (user:{ada.pk})"
    assert row.stream.worker == worker_id()
    assert ended not in html
    assert f'data-stream="{stream_id}"' in html
    assert "Stop</button>" not in html  # seeing is not stopping


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("de", ["Laufende Antworten", "Begonnen", "Eigentümer", "(dieser)", "Aktualisieren"]),
        (
            "fr",
            ["Réponses en direct", "Commencée", "Propriétaire", "(celui-ci)", "Arrêter</button>"],
        ),
    ],
)
def test_the_page_speaks_the_admin_s_language(
    store: StreamStore, language: str, words: list[str]
) -> None:
    start(store)
    client = client_of(staff("ada", "view_live_answers", "stop_live_answers"))
    with translation.override(language):
        html = client.get(PAGE).content.decode()
    for word in words:
        assert word in html
    assert "Running now" not in html


def test_with_nothing_running_the_page_says_so(store: StreamStore) -> None:
    response = client_of(staff("ada", "view_live_answers")).get(PAGE)
    assert "No answer is running." in response.content.decode()
    assert "No channel has subscribers on this worker." in response.content.decode()


def test_stop_asks_the_answer_to_stop_and_comes_back_with_a_message(store: StreamStore) -> None:
    stream_id = start(store)
    client = client_of(staff("ada", "view_live_answers", "stop_live_answers"))
    page = client.get(PAGE).content.decode()
    assert "Stop</button>" in page
    assert 'name="csrfmiddlewaretoken"' in page
    stops = {"view": "admin:django_streaming_liveanswer_stop"}
    before = REGISTRY.get_sample_value("django_streaming_stops_total", stops) or 0
    response = client.post(STOP, {"stream": stream_id})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"Asked answer {stream_id} to stop."
    ]
    async_to_sync(asyncio.wait_for)(store.wait_for_stop(stream_id), 5)  # it was asked
    assert REGISTRY.get_sample_value("django_streaming_stops_total", stops) == before + 1


def test_stop_of_an_answer_that_ended_says_it_is_not_running(store: StreamStore) -> None:
    stream_id = start(store)
    async_to_sync(store.finish)(stream_id, "completed")
    client = client_of(staff("ada", "view_live_answers", "stop_live_answers"))
    response = client.post(STOP, {"stream": stream_id})
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"Answer {stream_id} is not running."
    ]
    assert not store._streams[stream_id].stop_requested  # type: ignore[attr-defined]


def test_stop_needs_its_own_permission_a_post_and_an_id_the_store_made(store: StreamStore) -> None:
    viewer = client_of(staff("ada", "view_live_answers"))
    assert viewer.post(STOP, {"stream": start(store)}).status_code == 403
    stopper = client_of(staff("bob", "view_live_answers", "stop_live_answers"))
    assert stopper.get(STOP).status_code == 405
    assert stopper.post(STOP, {"stream": "x:events"}).status_code == 400
    assert stopper.post(STOP).status_code == 400


def test_stop_is_refused_without_the_csrf_token(store: StreamStore) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff("ada", "view_live_answers", "stop_live_answers"))
    assert client.post(STOP, {"stream": start(store)}).status_code == 403


def test_a_store_that_cannot_be_reached_is_said_so(settings: SettingsWrapper) -> None:
    settings.DJANGO_STREAMING = {
        "STORE": {
            "BACKEND": "django_streaming.backends.redis.RedisStore",
            "OPTIONS": {
                "url": "redis://127.0.0.1:1/0",
                "connect_timeout": 0.2,
                "failover_timeout": 0,
            },
        }
    }
    client = client_of(staff("ada", "view_live_answers", "stop_live_answers"))
    assert "The store cannot be reached" in client.get(PAGE).content.decode()
    response = client.post(STOP, {"stream": new_stream_id()})
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "The store cannot be reached: nothing was stopped."
    ]


class Unlisting(MemoryStore):
    """A store of a project's own that does not list its running streams."""

    async def running(self, limit: int = 1000) -> Any:
        return await super(MemoryStore, self).running(limit)


def test_a_store_that_does_not_list_its_answers_is_said_so(settings: SettingsWrapper) -> None:
    settings.DJANGO_STREAMING = {"STORE": {"BACKEND": "tests.test_admin.Unlisting"}}
    response = client_of(staff("ada", "view_live_answers")).get(PAGE)
    assert "This store does not list its running answers." in response.content.decode()


def test_the_oldest_answers_are_listed_when_there_are_too_many(
    store: StreamStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("django_streaming.admin.MAX_LISTED", 2)
    first, second, _ = start(store), start(store), start(store)
    response = client_of(staff("ada", "view_live_answers")).get(PAGE)
    assert [row.stream.stream_id for row in response.context["rows"]] == [first, second]
    assert "The oldest 2 answers are listed." in response.content.decode()
    assert MAX_LISTED == 1000


def test_owners_are_named_for_the_operator() -> None:
    ada = User.objects.create_user("ada")
    owners = {f"user:{ada.pk}", "user:999999", "user:not-a-pk", "session:abcdefghijkl", "anonymous"}
    assert owner_labels(owners) == {
        f"user:{ada.pk}": f"ada (user:{ada.pk})",
        "user:999999": "user:999999",  # no such user (any more)
        "user:not-a-pk": "user:not-a-pk",  # a stream_owner() of the project's own
        "session:abcdefghijkl": "session abcdef…",
        "anonymous": "anonymous",
    }


async def _subscribed_here(store: MemoryStore) -> None:
    log = store.channel_log
    one = subscribe(log, ["news", "orders"], None)
    two = subscribe(log, ["news"], None)
    await anext(one)
    await anext(two)
    assert subscribers() == {"news": 2, "orders": 1}
    await two.aclose()
    assert subscribers() == {"news": 1, "orders": 1}
    await one.aclose()
    assert subscribers() == {}


def test_subscribers_are_counted_per_channel_while_they_listen() -> None:
    async_to_sync(_subscribed_here)(MemoryStore())


@pytest.mark.django_db(transaction=True)
async def test_the_page_shows_the_channels_with_subscribers_here(settings: SettingsWrapper) -> None:
    settings.DJANGO_STREAMING = {
        "STORE": {"BACKEND": "django_streaming.backends.memory.MemoryStore"}
    }
    from django.test import AsyncClient

    user = await User.objects.acreate_user("ada", password="pw", is_staff=True, is_superuser=True)
    client = AsyncClient()
    await client.aforce_login(user)
    subscriber = subscribe(get_store().channel_log, ["news"], None)
    await anext(subscriber)
    try:
        html = (await client.get(PAGE)).content.decode()
    finally:
        await subscriber.aclose()
    assert "<tr><td><code>news</code></td><td>1</td></tr>" in html
