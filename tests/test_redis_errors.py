"""Redis's refusals classified once (backends/redis/errors.py), each produced by a real Redis:
configuration errors are StoreMisconfigured saying what to change, never a raw error (a 500);
connection trouble is StoreUnavailable."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest
import redis

from django_streaming.backends.redis import RedisStore, clients
from django_streaming.backends.redis.errors import cancellations_kept, classify, on_error
from django_streaming.backends.redis.store import classify_or_unavailable
from django_streaming.stores import StoreMisconfigured, StoreUnavailable
from tests.support.redis_servers import free_port, private_redis, unique_prefix
from tests.support.redis_topologies import RedisCluster, needs_cluster_client
from tests.support.redis_topologies import client as node_client

pytestmark = pytest.mark.redis


async def test_an_acl_user_without_a_command_is_store_misconfigured() -> None:
    with private_redis() as server:
        url = server.limited_user("xadd")  # everything on the keys and channels, but XADD
        store = RedisStore(url=url, prefix=unique_prefix())
        await store.create("s", owner="me")
        with pytest.raises(StoreMisconfigured, match="ACL user needs the commands"):
            await store.append("s", [(1, b"x")])
        await store.aclose()


def test_the_sync_heads_of_an_acl_user_without_hmget_is_store_misconfigured() -> None:
    with private_redis() as server:
        url = server.limited_user("hmget")
        store = RedisStore(url=url, prefix=unique_prefix())
        with pytest.raises(StoreMisconfigured, match="ACL user needs the commands"):
            store.channel_log.sync_heads(["x"])  # channel_cursor(), for a page
        store.close()


async def test_a_refused_password_is_store_misconfigured_not_retried() -> None:
    with private_redis() as server:
        with redis.Redis.from_url(server.url) as admin:
            admin.config_set("requirepass", "right")
        url = server.url.replace("redis://", "redis://:wrong@")
        store = RedisStore(url=url, prefix=unique_prefix(), failover_timeout=5)
        with pytest.raises(StoreMisconfigured, match="credentials"):
            await store.info("s")
        await store.aclose()


async def test_an_unknown_command_is_store_misconfigured() -> None:
    with private_redis(arguments=["--rename-command", "XADD", ""]) as server:
        store = RedisStore(url=server.url, prefix=unique_prefix())
        await store.create("s", owner="me")
        with pytest.raises(StoreMisconfigured, match="does not know a command"):
            await store.append("s", [(1, b"x")])
        await store.aclose()


async def test_out_of_memory_is_store_misconfigured() -> None:
    with private_redis(
        arguments=["--maxmemory", "1", "--maxmemory-policy", "noeviction"]
    ) as server:
        store = RedisStore(url=server.url, prefix=unique_prefix())
        with pytest.raises(StoreMisconfigured, match="out of memory"):
            await store.create("s", owner="me")
        with pytest.raises(StoreMisconfigured, match="out of memory"):
            store.channel_log.publish("news", b"data: x\n\n")
        await store.aclose()
        store.close()


@pytest.mark.topology
def test_crossslot_is_store_misconfigured(cluster: RedisCluster) -> None:
    connection = node_client(cluster.masters[0].address)
    with connection, pytest.raises(redis.ResponseError) as refused:
        connection.execute_command("MGET", "{a}x", "{b}x", "{c}x")  # type: ignore[no-untyped-call]
    assert isinstance(classify(refused.value), StoreMisconfigured)
    assert "hash tag" in str(classify(refused.value))


def test_connection_trouble_is_unavailable_and_other_errors_stay_as_they_are() -> None:
    assert type(classify(ConnectionRefusedError())) is StoreUnavailable
    wrong_type = redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    assert classify(wrong_type) is wrong_type
    named = StoreUnavailable("Redis is unavailable for 6 s")  # named already: as it is
    assert classify(named) is named


@needs_cluster_client
async def test_a_cluster_no_node_of_which_answers_is_unavailable() -> None:
    """redis-py 8.2 raises a RedisClusterUnreachableError here, earlier releases a plain
    RedisClusterException: both carry the connection error, which names it."""
    store = RedisStore(url=f"redis+cluster://127.0.0.1:{free_port()}", prefix="p")
    with pytest.raises(StoreUnavailable) as raised:
        await on_error(store.client().get)("p:x")
    assert not isinstance(raised.value, StoreMisconfigured)
    await store.aclose()


def test_a_cluster_error_is_named_by_its_cause_when_the_cause_has_a_name() -> None:
    unreachable = redis.RedisClusterException("Redis Cluster cannot be connected.")
    unreachable.__cause__ = redis.ConnectionError("Connection refused")  # redis-py before 8.2
    assert type(classify(unreachable)) is StoreUnavailable
    other = redis.RedisClusterException("the cluster client failed")
    other.__cause__ = redis.ResponseError("WRONGTYPE Operation against a key")
    assert "The cluster client failed" in str(classify(other))


def test_the_appends_a_failed_send_leaves_get_the_stores_errors_only() -> None:
    """What the generations waiting on a batch that failed get: the store's own exceptions,
    whatever the send raised (an error it does not name counts as unavailable)."""
    wrong_type = redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    unnamed = classify_or_unavailable(wrong_type)
    assert type(unnamed) is StoreUnavailable
    assert unnamed.__cause__ is wrong_type
    refused = redis.exceptions.NoPermissionError("NOPERM this user has no permissions")
    assert type(classify_or_unavailable(refused)) is StoreMisconfigured


async def test_a_create_that_fails_half_way_does_not_count_against_its_owner() -> None:
    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix())
        client = store.client()
        await client.set(store._key("taken"), "not a hash")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            await store.create("taken", owner="me", max_active=1)
        assert await client.zcard(store._owner_key("me")) == 0
        await store.create("other", owner="me", max_active=1)  # the cap is free
        await store.aclose()


def test_a_url_password_is_not_shown_in_a_message() -> None:
    problems = clients.topology_problems({"url": "redis+sentinel://:hunter2@s1:26379/m"})
    assert "hunter2" not in problems[0]
    assert ":***@" in problems[0]


def test_a_sentinel_url_gives_the_master_its_database_user_password_and_tls() -> None:
    assert clients._url_options("rediss://user:pw@/2") == {
        "db": 2, "username": "user", "password": "pw", "ssl": True,
    }  # fmt: skip
    assert clients._url_options("redis://") == {}


@pytest.mark.topology
async def test_keys_of_several_slots_in_one_script_is_store_misconfigured(
    cluster: RedisCluster,
) -> None:
    """redis-py refuses such a call before sending it (a RedisClusterException, not a
    RedisError): named the same as Redis's own CROSSSLOT."""
    store = RedisStore(url=cluster.url.replace("redis:", "redis+cluster:"), prefix="p")
    with pytest.raises(StoreMisconfigured, match="hash tag"):
        await on_error(store.client().eval)("return 1", 2, "{a}x", "{b}x")
    await store.aclose()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="no Task.cancelling() before 3.11")
async def test_an_error_after_a_dropped_cancellation_gives_way_to_it() -> None:
    """A block whose cancellation was dropped inside (as ``asyncio.wait_for()`` drops one
    before 3.12), and which then fails (a confirmation timing out), raises the cancellation:
    a caller that takes the failure for a store error would try again, for ever."""

    async def dropped_then_failed() -> None:
        with cancellations_kept():
            current = asyncio.current_task()
            assert current is not None
            current.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # dropped, as wait_for() does
                await asyncio.sleep(1)
            raise TimeoutError("no confirmation")

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(dropped_then_failed())
