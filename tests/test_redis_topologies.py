"""The test fixtures' Redis topologies themselves: a cluster that spreads keys over its three
masters, and a Sentinel group that fails over when its master is killed and heals after."""

from __future__ import annotations

import pytest
import redis

from tests.support.redis_topologies import RedisCluster, SentinelGroup, client

pytestmark = [pytest.mark.redis, pytest.mark.topology]


def test_the_cluster_spreads_keys_over_its_three_masters(cluster: RedisCluster) -> None:
    connection = redis.RedisCluster(host="127.0.0.1", port=cluster.masters[0].port)
    try:
        owners = set()
        for number in range(30):
            connection.set(f"topology-test:{number}", number, ex=60)
            owners.add(cluster.master_of(f"topology-test:{number}").port)
    finally:
        connection.close()
    assert owners == {master.port for master in cluster.masters}


def test_the_sentinel_group_fails_over_and_heals(sentinels: SentinelGroup) -> None:
    before = sentinels.master_address()
    with client(before) as connection:
        connection.set("topology-test", "written", ex=60)
    sentinels.wait_ready()  # the replica has it
    sentinels.kill_master()
    promoted = sentinels.wait_for_promotion(before)
    assert promoted.address != before
    with client(promoted.address) as connection:
        assert connection.get("topology-test") == b"written"
    sentinels.heal()
    assert sentinels.in_sync()
