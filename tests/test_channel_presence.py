"""Presence and revocation under a real uvicorn, on each store: ``presence()`` and the
``join``/``leave`` events of a view with ``presence = True``, and ``disconnect()``, after
which a reconnect is ``can_read()``'s to decide."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_client
from django.test import RequestFactory, override_settings

from django_streaming import ChannelView, Presence, disconnect, presence, publish
from django_streaming.backends.memory import MemoryStore
from django_streaming.backends.memory import presence as memory_presence
from django_streaming.backends.redis import RedisStore
from django_streaming.channels import guard as guard_module
from django_streaming.channels.guard import DISCONNECTED, Guard, user_key, validate_label
from django_streaming.stores import StoreMisconfigured, StoreUnavailable
from django_streaming.stores.channel_log import Entry
from tests.support.proxy import proxy_to
from tests.support.reader import StreamReader
from tests.support.redis_servers import (
    private_redis,
    shared_redis,
    shared_redis_port,
    unique_prefix,
)
from tests.support.servers import RunningServer, until, uvicorn_server, wait_until
from tests.support.sse_parser import ParseResult, parse
from tests.testapp import channels as test_channels


@pytest.fixture(
    scope="module",
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.topology]),
    ],
)
def store_setting(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {"BACKEND": "django_streaming.backends.memory.MemoryStore"}
    if request.param == "cluster":
        url = request.getfixturevalue("session_redis_cluster").url
        url = url.replace("redis:", "redis+cluster:")
    else:
        url = shared_redis()
    return {
        "BACKEND": "django_streaming.backends.redis.RedisStore",
        "OPTIONS": {"url": url, "prefix": unique_prefix()},
    }


@pytest.fixture(scope="module")
def server(
    store_setting: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    revoked = tmp_path_factory.mktemp("revoked")
    with (
        pytest.MonkeyPatch.context() as patch,
        override_settings(DJANGO_STREAMING={"STORE": store_setting}),
        uvicorn_server() as running,
    ):
        patch.setattr(test_channels, "REVOKED", str(revoked))
        yield running


def revoke(channel: str, user: str) -> None:
    """Make ``PresenceChannels.can_read()`` refuse ``channel`` to ``user`` from now on."""
    folder = Path(test_channels.REVOKED) / channel
    folder.mkdir(exist_ok=True)
    (folder / user).touch()


@contextmanager
def subscriber(
    server: RunningServer, *channels: str, user: str | None = None, label: str | None = None
) -> Iterator[StreamReader]:
    headers = {} if user is None else {"X-Test-User": user}
    if label is not None:
        headers["X-Test-Label"] = label
    query = "&".join(f"channel={channel}" for channel in channels)
    url = f"{server.url}/channels/presence/?{query}"
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200, response.read()
        reader = StreamReader(response)
        reader.until(lambda result: "id: " in reader.body.decode())  # subscribed
        yield reader


def events(result: ParseResult, kind: str) -> list[dict[str, Any]]:
    return [json.loads(event.data) for event in result.events if event.type == kind]


def members(server: RunningServer, channel: str) -> Presence:
    """``apresence(channel)``, asked of the server."""
    found = httpx.get(f"{server.url}/channels/presence/{channel}/", timeout=10).json()
    return Presence(found["members"], found["anonymous"])


def disconnected(reader: StreamReader) -> bool:
    """Whether the stream ended with the comment of a disconnect (read to its end)."""
    reader.to_end()
    return reader.body.endswith(b": disconnected\n\n")


def test_presence_lists_each_user_once_with_its_subscriptions_and_counts_the_anonymous(
    server: RunningServer, token: str
) -> None:
    with ExitStack() as stack:
        watcher = stack.enter_context(subscriber(server, token, user="watcher"))
        watcher.until(lambda result: events(result, "join") == [{"user": "watcher"}])
        stack.enter_context(subscriber(server, token, user="ann"))
        stack.enter_context(subscriber(server, token, user="ann"))  # a second tab
        stack.enter_context(subscriber(server, token))  # anonymous
        stack.enter_context(subscriber(server, token, user="bob", label="Bob"))
        result = watcher.until(lambda result: len(events(result, "join")) == 3)
        found = presence(token)
        assert found == Presence({"Bob": 1, "ann": 2, "watcher": 1}, anonymous=1)
        assert found.count == 4
        assert members(server, token) == found
        # Only the first subscription of a label joins; the anonymous are not announced.
        assert events(result, "join") == [{"user": "watcher"}, {"user": "ann"}, {"user": "Bob"}]
    wait_until(lambda: presence(token) == Presence({}), what="everyone to leave")
    with subscriber(server, token, user="watcher") as watcher:
        with subscriber(server, token, user="cid"), subscriber(server, token, user="cid"):
            wait_until(lambda: presence(token).members.get("cid") == 2, what="two tabs")
        watcher.until(lambda result: events(result, "leave") == [{"user": "cid"}])
        assert presence(token) == Presence({"watcher": 1})
        assert [event.type for event in parse(watcher.body).events] == ["join", "join", "leave"]


def test_a_revoked_user_is_disconnected_and_refused_while_others_keep_receiving(
    server: RunningServer, token: str
) -> None:
    with (
        subscriber(server, token, user="ann") as ann,
        subscriber(server, token, user="bob") as bob,
        subscriber(server, f"{token}-other", user="ann") as elsewhere,
    ):
        revoke(token, "ann")
        disconnect(channel=token, user="ann")
        assert disconnected(ann)
        refused = httpx.get(
            f"{server.url}/channels/presence/?channel={token}",
            headers={"X-Test-User": "ann"},
            timeout=10,
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden_channel"
        httpx.post(f"{server.url}/channels/disconnect/?channel={token}&user=nobody", timeout=10)
        publish(token, "still here")
        publish(f"{token}-other", "here too")
        bob.until_data("still here")
        elsewhere.until_data("here too")
        wait_until(lambda: presence(token).members == {"bob": 1}, what="ann to leave")
        assert b"disconnected" not in bob.body + elsewhere.body


@pytest.mark.parametrize(
    ("channel", "user", "ends"),
    [("{token}", None, [True, True, False]), (None, "ann", [True, False, True])],
)
def test_a_disconnect_by_channel_or_by_user_alone(
    server: RunningServer, token: str, channel: str | None, user: str | None, ends: list[bool]
) -> None:
    with (
        subscriber(server, token, user="ann") as first,
        subscriber(server, token) as anonymous,
        subscriber(server, f"{token}-b", user="ann") as other,
    ):
        query = {"channel": channel and channel.format(token=token), "user": user}
        url = f"{server.url}/channels/disconnect/"
        params = {key: value for key, value in query.items() if value is not None}
        assert httpx.post(url, params=params, timeout=10).status_code == 204
        for reader, end in zip([first, anonymous, other], ends, strict=True):
            if end:
                assert disconnected(reader)
        publish(token, "alive")
        publish(f"{token}-b", "alive")
        for reader, end in zip([first, anonymous, other], ends, strict=True):
            if not end:
                reader.until_data("alive")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "needs a channel, a user, or both"),
        ({"channel": "not a name"}, "Invalid channel name"),
        ({"user": type("Anonymous", (), {"pk": None})()}, "it has no pk"),
        ({"user": True}, "it has no pk"),
    ],
)
def test_a_disconnect_that_names_nothing_is_a_value_error(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        disconnect(**arguments)


def test_a_disconnect_by_user_takes_a_user_or_its_pk() -> None:
    user = type("User", (), {"pk": 42})()
    assert user_key(user) == user_key(42) == user_key("42") == "42"


@pytest.mark.parametrize(
    ("label", "message"), [(42, "must be a str or None"), ("x" * 201, "at most 200")]
)
def test_a_label_that_cannot_be_one_is_a_value_error(label: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_label(label)
    with pytest.raises(ValueError, match="Invalid channel name"):
        presence("not a name")


async def test_the_user_id_is_the_users_pk_or_none() -> None:
    view = ChannelView()
    assert await view.user_id(RequestFactory().get("/")) is None  # no auth middleware
    request = RequestFactory().get("/")

    async def anonymous() -> Any:
        return type("AnonymousUser", (), {"is_authenticated": False, "pk": None})()

    async def alice() -> Any:
        return type("User", (), {"is_authenticated": True, "pk": 7})()

    request.auser = anonymous
    assert await view.user_id(request) is None
    request.auser = alice
    assert await view.user_id(request) == "7"


def stores() -> list[Any]:
    return [
        pytest.param(lambda: MemoryStore(), id="memory"),
        pytest.param(
            lambda: RedisStore(url=shared_redis(), prefix=unique_prefix()),
            id="redis",
            marks=pytest.mark.redis,
        ),
    ]


@pytest.mark.parametrize("make", stores())
async def test_a_disconnect_while_a_subscription_was_being_checked_is_not_missed(
    make: Any, token: str
) -> None:
    """Between the tokens read before ``can_read()`` and the watch, nothing is heard: the
    tokens compared once watching tell."""
    store = make()
    log = store.channel_log
    try:
        guard = await Guard.before_checks(log, [token], "ann", None)
        await log.presence.adisconnect(f"{token}/ann")  # while can_read() decided
        got: list[Entry | None] = []
        async with guard.watch(got.append):
            await until(lambda: got == [DISCONNECTED], "the disconnect")
            await log.presence.adisconnect(f"{token}/")  # ended already: nothing more
            await log.presence.adisconnect(f"{token}/ann")
        fresh = await Guard.before_checks(log, [token], "ann", None)
        async with fresh.watch(got.append):
            await log.presence.adisconnect(f"{token}/bob")  # another user: nothing
            await log.presence.adisconnect(f"{token}/ann")
            await until(lambda: len(got) == 2, "the live disconnect")
    finally:
        await _close(store)


async def _close(store: Any) -> None:
    aclose = getattr(store, "aclose", None)
    if aclose is not None:
        await aclose()
    store.close()


@pytest.mark.redis
async def test_a_disconnect_sent_while_the_pubsub_connection_was_lost_still_ends_it(
    token: str,
) -> None:
    """What was published while the listener's connection was down never comes: once it is
    subscribed again, the tokens tell."""
    prefix = unique_prefix()
    async with proxy_to(shared_redis_port()) as proxy:
        store = RedisStore(url=f"redis://127.0.0.1:{proxy.port}/0", prefix=prefix)
        direct = RedisStore(url=shared_redis(), prefix=prefix)
        try:
            log = store.channel_log
            guard = await Guard.before_checks(log, [token], "ann", None)
            got: list[Entry | None] = []
            async with guard.watch(got.append):
                proxy.cut()
                direct.channel_log.presence.disconnect(f"{token}/ann")
                await until(lambda: got == [DISCONNECTED], "the disconnect, after reconnecting")
        finally:
            await _close(store)
            await _close(direct)


def test_the_memory_store_keeps_recent_disconnect_tokens_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory_presence, "MAX_TOKENS", 2)
    kept = memory_presence.MemoryPresence()
    for target in ["a/", "b/", "c/"]:
        kept.disconnect(target)
    assert asyncio.run(kept.tokens(["a/", "b/", "c/"])) == [None, "2", "3"]
    monkeypatch.setattr(memory_presence, "TOKEN_TTL", -1.0)  # all of them too old
    kept.disconnect("d/")
    assert asyncio.run(kept.tokens(["b/", "c/", "d/"])) == [None, None, None]


@pytest.mark.redis
async def test_a_workers_renewals_keep_its_entries_and_announce_the_expired_and_the_returned(
    token: str,
) -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix(), lease=0.3)
    log = store.channel_log
    seen: list[Entry | None] = []
    try:
        async with log.listen([token], seen.append):
            await log.presence.join(token, "ann", "on-a-worker-that-died")  # never renewed
            guard = await Guard.before_checks(log, [token], "bob", "bob")
            async with guard.watch(lambda entry: None):

                def announced() -> list[bytes]:
                    return [entry.body for entry in seen if entry is not None]

                await until(
                    lambda: b'event: leave\ndata: {"user":"ann"}\n\n' in announced(), "ann's leave"
                )
                assert await log.presence.members(token) == {"bob": 1}  # renewed past its lease
                # A worker that stalled past its lease is found expired, then renews: back.
                await log.client().zrem(log.presence._labels_key(token), "bob")
                await until(
                    lambda: announced().count(b'event: join\ndata: {"user":"bob"}\n\n') == 2,
                    "bob back",
                )
            await until(lambda: log.presence.members_sync(token) == {}, "bob to leave")
    finally:
        await _close(store)


@pytest.mark.redis
async def test_a_redis_that_is_down_is_logged_and_the_entries_expire(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with private_redis() as redis:
        store = RedisStore(url=redis.url, prefix=unique_prefix(), lease=0.3, failover_timeout=0.1)
        log = store.channel_log
        try:
            guard = await Guard.before_checks(log, [token], "bob", "bob")
            ended: list[Entry | None] = []
            async with guard.watch(ended.append):
                redis.stop()
                await until(
                    lambda: "Could not renew the presence entries" in caplog.text,
                    "a renewal to fail",
                )
                # The listener gives up too: the subscription ends by its own feed.
                await until(lambda: "could not be reached again" in caplog.text, "it to give up")
            assert "Could not remove a presence entry" in caplog.text
            assert ended == []
        finally:
            await _close(store)


def test_without_redis_presence_and_disconnect_raise_store_unavailable() -> None:
    store = RedisStore(url="redis://127.0.0.1:1/0", prefix=unique_prefix(), failover_timeout=0)
    try:
        with pytest.raises(StoreUnavailable):
            store.channel_log.presence.members_sync("x")
        with pytest.raises(StoreUnavailable):
            store.channel_log.presence.disconnect("x/")
    finally:
        store.close()


def test_a_watcher_on_a_closed_loop_is_skipped_and_a_failed_check_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    called: list[str | None] = []
    memory_presence._Watcher(loop, called.append).notify("x/")
    assert called == []

    async def failing() -> None:
        raise StoreUnavailable("Redis is unavailable")

    async def check() -> None:
        await asyncio.wait([guard_module._in_background(failing())])

    asyncio.run(check())
    assert "could not be checked: Redis is unavailable" in caplog.text


@pytest.mark.redis
def test_a_redis_that_refuses_the_sync_calls_is_store_misconfigured() -> None:
    with private_redis() as server:
        with redis_client.Redis.from_url(server.url) as admin:
            admin.config_set("requirepass", "right")
        url = server.url.replace("redis://", "redis://:wrong@")
        store = RedisStore(url=url, prefix=unique_prefix())
        try:
            with pytest.raises(StoreMisconfigured, match="credentials"):
                store.channel_log.presence.members_sync("x")
            with pytest.raises(StoreMisconfigured, match="credentials"):
                store.channel_log.presence.disconnect("x/")
        finally:
            store.close()
