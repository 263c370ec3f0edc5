"""RedisStore on a real cluster of 3 masters with a replica each (tests/support/
redis_topologies.py): keys spread over the masters, sharded pub/sub, and misconfiguration
named as such. The store contract and the resumable and channel suites run on the cluster too
(their "cluster" parameters)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import shutdown
from django_streaming.backends.redis import RedisStore
from django_streaming.stores import StoreMisconfigured, StoreUnavailable
from django_streaming.stores.base import NotReplicated
from tests.support.chat import chat_body
from tests.support.redis_servers import PrivateRedis, unique_prefix
from tests.support.redis_topologies import RedisCluster, client, info, needs_cluster_client
from tests.support.servers import RunningServer, uvicorn_server, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.topology, needs_cluster_client]


def cluster_url(cluster: RedisCluster) -> str:
    return cluster.url.replace("redis://", "redis+cluster://")


@pytest.fixture
async def store(cluster: RedisCluster) -> AsyncIterator[RedisStore]:
    store = RedisStore(url=cluster_url(cluster), prefix=unique_prefix())
    yield store
    await store.aclose()
    store.close()


def keys_per_master(cluster: RedisCluster, prefix: str) -> list[int]:
    counts = []
    for master in cluster.masters:
        with client(master.address) as connection:
            counts.append(sum(1 for _ in connection.scan_iter(match=f"{prefix}:*", count=1000)))
    return counts


async def test_the_keys_of_many_streams_spread_over_every_master(
    store: RedisStore, cluster: RedisCluster
) -> None:
    ids = [f"spread{number}" for number in range(30)]
    for stream_id in ids:
        await store.create(stream_id, owner="me", key=f"chat-{stream_id}")
        await store.append(stream_id, [(1, b"x")])
    assert all(count > 0 for count in keys_per_master(cluster, store.prefix))
    # ...and each stream's keys on one slot: its scripts and pipelines touch one node.
    with client(cluster.masters[0].address) as connection:
        for stream_id in ids[:5]:
            keys = [store._key(stream_id, suffix) for suffix in ("", ":events", ":lease")]
            assert len({connection.cluster("KEYSLOT", key) for key in keys}) == 1


async def test_channels_spread_over_every_master_each_on_one_slot(
    store: RedisStore, cluster: RedisCluster
) -> None:
    """Each channel's keys under its own hash tag: its log, its head and its presence on the
    master of its slot, and the channels over all the masters."""
    log = store.channel_log
    names = [f"spread{number}" for number in range(30)]
    for name in names:
        await log.apublish(name, b"data: x\n\n")
    assert all(count > 0 for count in keys_per_master(cluster, store.prefix))
    await log.presence.join(names[0], "ann", "entry")
    with client(cluster.masters[0].address) as connection:
        for name in names[:5]:
            keys = [log.key(name), log.head_key(name), log.presence._labels_key(name)]
            keys.append(log.presence._members_key(name, "ann"))
            assert len({connection.cluster("KEYSLOT", key) for key in keys}) == 1
    heads = await log.heads(names)
    assert {head.seq for head in heads.values()} == {1}
    replay = await log.replay(dict.fromkeys(names, 0), heads)
    assert [entry.channel for entry in replay.entries] == names  # in publish order
    assert not replay.lost


def shard_messages(cluster: RedisCluster) -> tuple[int, int]:
    """Messages the nodes sent on the cluster bus so far: (PUBLISH's, SPUBLISH's)."""
    publish = shard = 0
    for node in cluster.nodes:
        with client(node.address, decode_responses=True) as connection:
            info = connection.cluster("INFO")
        publish += int(info.get("cluster_stats_messages_publish_sent", 0))
        shard += int(info.get("cluster_stats_messages_publishshard_sent", 0))
    return publish, shard


async def test_a_publish_crosses_the_cluster_bus_once_and_reaches_the_subscriber(
    store: RedisStore, cluster: RedisCluster
) -> None:
    log = store.channel_log
    got: list[bytes] = []
    arrived = asyncio.Event()

    def deliver(entry: object) -> None:
        got.append(getattr(entry, "body", b""))
        if len(got) == 20:
            arrived.set()

    async with log.watch(["news"], deliver):
        before = shard_messages(cluster)
        for number in range(20):
            await asyncio.to_thread(log.publish, "news", f"data: {number}\n\n".encode())
        await asyncio.wait_for(arrived.wait(), 10)
        after = shard_messages(cluster)
    assert got == [f"data: {number}\n\n".encode() for number in range(20)]
    # PUBLISH is copied to every node (5 here); SPUBLISH only to the shard's replica.
    assert after[0] - before[0] == 0
    assert after[1] - before[1] <= 20


async def test_stops_and_readers_share_the_listener_on_a_cluster(store: RedisStore) -> None:
    await store.create("stopped", owner="me")
    waiting = asyncio.ensure_future(store.wait_for_stop("stopped"))
    async with store.follow("stopped") as reader:
        reading = asyncio.ensure_future(reader.read(0, timeout=10))
        await asyncio.sleep(0.2)  # both subscribed (nothing to wait on but time: no event)
        await store.request_stop("stopped")
        await asyncio.wait_for(waiting, 5)
        await store.append("stopped", [(1, b"woken")])
        assert await asyncio.wait_for(reading, 5) == ([(1, b"woken")], None)


async def test_moved_outside_cluster_mode_is_store_misconfigured(
    cluster: RedisCluster, caplog: pytest.LogCaptureFixture
) -> None:
    # A replica redirects every key to its master: the store was not told it is a cluster.
    store = RedisStore(url=cluster.replicas[0].url, prefix=unique_prefix())
    with pytest.raises(StoreMisconfigured, match="Set 'cluster': True"):
        await store.create("s", owner="me")
    with pytest.raises(StoreMisconfigured, match="Set 'cluster': True"):
        await store.channel_log.apublish("news", b"data: x\n\n")
    with pytest.raises(StoreMisconfigured, match="Set 'cluster': True"):
        store.channel_log.publish("news", b"data: x\n\n")
    assert "The Redis store is misconfigured" in caplog.text
    await store.aclose()
    store.close()


async def test_a_cluster_client_on_a_single_server_is_store_misconfigured() -> None:
    from tests.support.redis_servers import private_redis

    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix(), cluster=True)
        with pytest.raises(StoreMisconfigured, match="cluster mode enabled"):
            await store.info("s")
        await store.aclose()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with uvicorn_server() as running:
        yield running


def test_misconfiguration_is_a_503_json_through_uvicorn(
    server: RunningServer,
    cluster: RedisCluster,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.DJANGO_STREAMING = {
        **settings.DJANGO_STREAMING,
        "STORE": {
            "BACKEND": "django_streaming.backends.redis.RedisStore",
            "OPTIONS": {"url": cluster.replicas[0].url, "prefix": unique_prefix()},
        },
    }
    with (
        caplog.at_level(logging.ERROR, logger="django_streaming"),
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        for response in (
            http.get("/resumable/"),
            http.post("/resumable-chat/", json=chat_body("moved", "hello")),
            http.get("/resumable-chat/moved/stream"),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "store_unavailable"
    assert "Set 'cluster': True" in caplog.text
    wait_until(lambda: not shutdown.generations, what="no generation left")


def test_the_sync_cluster_client_is_a_redis_cluster(cluster: RedisCluster) -> None:
    store = RedisStore(url=cluster_url(cluster), prefix=unique_prefix())
    assert isinstance(store.channel_log._sync_client(), redis.RedisCluster)
    assert store.channel_log.publish("sync", b"data: x\n\n").seq == 1
    store.close()


async def test_a_quiet_sharded_subscription_still_gets_the_next_event(store: RedisStore) -> None:
    """The listener polls the nodes in turn (a slice of ``SHARDED_POLL`` each): a quiet spell
    of many polls must not lose its place."""
    got: asyncio.Queue[object] = asyncio.Queue()
    async with store.channel_log.watch(["quiet"], got.put_nowait):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(got.get(), 0.5)  # nothing published: ten polls or so
        await store.channel_log.apublish("quiet", b"data: at last\n\n")
        entry = await asyncio.wait_for(got.get(), 5)
    assert getattr(entry, "body", None) == b"data: at last\n\n"


def replica_of(cluster: RedisCluster, master_port: int) -> PrivateRedis:
    """The running replica of the master on ``master_port`` (failovers move them about)."""
    for node in cluster.replicas + cluster.masters:
        if not node.running:
            continue
        replication = info(node.address, "replication")
        if replication["role"] == "slave" and int(str(replication["master_port"])) == master_port:
            return node
    raise AssertionError(f"no replica of the master on port {master_port}")


async def test_wait_replicas_waits_on_the_node_that_took_the_write(cluster: RedisCluster) -> None:
    """redis-py sends a lone WAIT to its default node, whose connection wrote nothing and which
    answers at once: the WAIT must go to the node that took the publish (or the append), on
    the connection that carried it. Each store's channels here are on a master that is not
    the default node, whose replica is frozen: the publish must not count as replicated."""
    store = RedisStore(url=cluster_url(cluster), prefix=unique_prefix(), wait_timeout=10)
    log = store.channel_log
    sync_default = log._sync_client().get_default_node().port
    async_client = log.client()
    await async_client.initialize()
    defaults = {sync_default, async_client.get_default_node().port}
    channel = next(
        f"wait{number}"
        for number in range(1000)
        if cluster.master_of(log.key(f"wait{number}")).port not in defaults
    )
    master = cluster.master_of(log.key(channel))
    stream = next(
        f"durable{number}"
        for number in range(1000)
        if cluster.master_of(store._key(f"durable{number}", ":events")).port not in defaults
    )
    await store.create(stream, owner="me")
    # In sync, the replica acknowledges (a loaded machine may take a while: liveness).
    assert (await log.apublish(channel, b"data: 1\n\n", wait_replicas=1)).seq >= 1
    await asyncio.to_thread(log.publish, channel, b"data: 2\n\n", wait_replicas=1)
    store.wait_replicas = 1
    await store.append(stream, [(1, b"data: 1\n\n")])
    store.wait_replicas = 0
    store.wait_timeout_ms = 300
    frozen = replica_of(cluster, master.port)
    stream_replica = replica_of(cluster, cluster.master_of(store._key(stream, ":events")).port)
    frozen.freeze()
    if stream_replica is not frozen:
        stream_replica.freeze()
    try:
        with pytest.raises(NotReplicated, match="0 of the 1 replicas"):
            await log.apublish(channel, b"data: 3\n\n", wait_replicas=1)
        with pytest.raises(NotReplicated, match="0 of the 1 replicas"):
            await asyncio.to_thread(log.publish, channel, b"data: 4\n\n", wait_replicas=1)
        store.wait_replicas = 1
        with pytest.raises(StoreUnavailable, match="0 of the 1 replicas"):
            await store.append(stream, [(2, b"data: 2\n\n")])
    finally:
        frozen.thaw()
        stream_replica.thaw()
    await store.aclose()
    store.close()
