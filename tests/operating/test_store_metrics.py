"""The metrics the Redis backend moves (its one-line hooks): store errors by kind, through a
real server whose Redis is gone; the listener's channels and its reconnects, through a real
Redis behind a proxy that cuts the connection."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming.backends.redis import RedisStore
from django_streaming.backends.redis.listener import Listener
from django_streaming.channels.subscription import subscribe
from django_streaming.stores import StoreUnavailable
from django_streaming.stores.channel_log import Entry
from tests.support.chat import chat_body
from tests.support.proxy import proxy_to
from tests.support.redis_servers import free_port, shared_redis, shared_redis_port, unique_prefix
from tests.support.servers import RunningServer, until

from .conftest import Scrape, spans_named

pytestmark = pytest.mark.redis


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_store_that_cannot_be_reached_counts_an_error(
    server: RunningServer, settings: SettingsWrapper
) -> None:
    settings.DJANGO_STREAMING = {
        "STORE": {
            "BACKEND": "django_streaming.backends.redis.RedisStore",
            "OPTIONS": {"url": f"redis://127.0.0.1:{free_port()}/0", "connect_timeout": 0.5},
        }
    }
    name = "django_streaming_store_errors_total"
    before = Scrape(server.url)(name, kind="unavailable")
    response = httpx.post(server.url + "/resumable-chat/", json=chat_body("c", "hi"), timeout=10)
    assert response.status_code == 503
    assert Scrape(server.url)(name, kind="unavailable") > before


async def test_the_listeners_channels_and_reconnects() -> None:
    shared_redis()
    async with proxy_to(shared_redis_port()) as proxy:
        store = RedisStore(
            url=f"redis://127.0.0.1:{proxy.port}/0", prefix=unique_prefix(), connect_timeout=1
        )
        listener = Listener(store.channel_log)
        channels = "django_streaming_listener_channels"
        reconnects = "django_streaming_pubsub_reconnects_total"
        try:
            before = value(channels)
            got: list[Entry | None] = []
            await listener.add(["a", "b"], got.append)
            assert value(channels) == before + 2
            lost = value(reconnects)
            # redis-py's own reconnect fails too: the listener subscribes anew, once it can.
            proxy.refusing = True
            proxy.cut()
            await until(lambda: value(reconnects) == lost + 1, "the listener to count its loss")
            proxy.refusing = False
            await until(lambda: None in got, "the subscribers to be told to catch up")
            listener.remove(["a", "b"], got.append)
            assert value(channels) == before
        finally:
            await listener.aclose()
            await store.aclose()
            store.close()


async def test_a_subscription_refused_by_a_store_that_is_gone_counts_an_error() -> None:
    store = RedisStore(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5)
    listener = Listener(store.channel_log)
    name = "django_streaming_store_errors_total"
    before = value(name, kind="unavailable")
    try:
        with pytest.raises(Exception, match="unavailable"):
            await listener.add(["a"], lambda entry: None)
        assert value(name, kind="unavailable") == before + 1
        assert value("django_streaming_listener_channels") >= 0
    finally:
        await listener.aclose()
        await store.aclose()
        store.close()


async def test_a_subscription_that_fails_ends_its_span_with_error(
    spans: InMemorySpanExporter,
) -> None:
    store = RedisStore(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            async for _ in subscribe(store.channel_log, ["a"], None, view="v"):
                pass  # pragma: no cover - it fails before its first chunk
    finally:
        await store.aclose()
        store.close()
    (span,) = spans_named(spans, "subscribe v")
    assert (span.attributes or {})["django_streaming.end_reason"] == "error"
    assert span.status.status_code == StatusCode.ERROR
