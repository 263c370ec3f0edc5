"""Every Redis client of the backend is built here, from the store's options, so that one
place decides the topology: one server (``url``), a cluster (``cluster=True`` or a
``redis+cluster://`` URL), a Sentinel group (``sentinels`` and ``service_name``), or whatever
``client_factory`` makes (TLS, a managed service's own client).

Three kinds of client are asked for: ``"async"`` (the store's and the channels' commands, one
client per event loop), ``"sync"`` (``publish()`` from any thread) and ``"pubsub"`` (an async
client whose ``pubsub()`` the listener uses, one per event loop). A factory is called as
``factory(kind, options)`` and returns the client; ``default_client()`` is what is done
without one, for a factory to call with options of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.cluster
import redis.sentinel
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

__all__ = ["Kind", "Topology", "default_client", "topology_problems"]

#: What a client is for: ``"async"`` commands, ``"sync"`` commands (``publish()``), or the
#: listener's ``"pubsub"`` connection.
Kind: TypeAlias = Literal["async", "sync", "pubsub"]
ClientFactory: TypeAlias = Callable[[Kind, dict[str, Any]], Any]

SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")

#: redis-py's release here, and the first a cluster works with: before 8.2, sharded pub/sub
#: subscribes before its client knows the slots, and leaves node connections open.
REDIS_PY = tuple(int(part) for part in redis.__version__.split(".")[:2])
CLUSTER_REDIS_PY = (8, 2)


@dataclass(frozen=True)
class Topology:
    """Where the store's Redis is and how to reach it: ``RedisStore``'s options of that."""

    url: str = "redis://127.0.0.1:6379/0"
    cluster: bool = False
    sentinels: tuple[tuple[str, int], ...] = ()
    service_name: str | None = None
    sentinel_kwargs: Mapping[str, Any] | None = None
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)
    client_factory: str | None = None

    @property
    def is_cluster(self) -> bool:
        return self.cluster or urlsplit(self.url).scheme in CLUSTER_SCHEMES

    def options(self, **connection: Any) -> dict[str, Any]:
        """What a factory gets: the topology, then redis-py's keyword arguments."""
        return {
            "url": self.url,
            "cluster": self.is_cluster,
            "sentinels": list(self.sentinels),
            "service_name": self.service_name,
            "sentinel_kwargs": dict(self.sentinel_kwargs or {}) or None,
            **self.client_kwargs,
            **connection,
        }

    def client(self, kind: Kind, **connection: Any) -> Any:
        """A new client of ``kind``, from the factory if there is one."""
        factory: ClientFactory = (
            import_string(self.client_factory) if self.client_factory else default_client
        )
        return factory(kind, self.options(**connection))


def topology_problems(options: Mapping[str, Any]) -> list[str]:
    """What cannot work in ``RedisStore``'s ``options``, each with what to write instead."""
    problems: list[str] = []
    url = options.get("url", Topology.url)
    if not isinstance(url, str):
        return [f"'url' must be a str such as 'redis://127.0.0.1:6379/0', not {url!r}."]
    parts = urlsplit(url)
    sentinels = options.get("sentinels")
    service_name = options.get("service_name")
    cluster = bool(options.get("cluster")) or parts.scheme in CLUSTER_SCHEMES
    if parts.scheme in SENTINEL_SCHEMES:
        problems.append(
            f"'url' {_shown(url)}: Sentinel is not configured by URL. Write "
            "'sentinels': [('sentinel-1', 26379), ...], 'service_name': 'mymaster', and keep "
            "'url' for the master's database and password: 'redis://:password@/0'."
        )
    elif parts.scheme not in (*SCHEMES, *CLUSTER_SCHEMES):
        problems.append(
            f"'url' {_shown(url)} has the scheme {parts.scheme!r}: use redis://, rediss://, "
            "unix://, or redis+cluster:// (rediss+cluster://) for a cluster."
        )
    if cluster and REDIS_PY < CLUSTER_REDIS_PY:
        problems.append(
            f"A cluster needs redis-py 8.2 or later (this is {redis.__version__}, and 8.2 "
            "needs Python 3.11): pip install 'redis>=8.2'."
        )
    if cluster and parts.path.strip("/") not in ("", "0"):
        problems.append(
            f"'url' {_shown(url)} names database {parts.path.strip('/')}, but a cluster has "
            "database 0 only: drop it from the URL."
        )
    if sentinels is not None and not _is_addresses(sentinels):
        problems.append(
            f"'sentinels' must be a list of (host, port) pairs such as "
            f"[('sentinel-1', 26379)], not {sentinels!r}."
        )
    if bool(sentinels) != (service_name is not None):
        problems.append(
            "Sentinel needs both 'sentinels' (a list of (host, port) pairs) and "
            "'service_name' (the master's name in the sentinels' configuration)."
        )
    elif service_name is not None and not (isinstance(service_name, str) and service_name):
        problems.append(f"'service_name' must be a non-empty str, not {service_name!r}.")
    if cluster and sentinels:
        problems.append(
            "Choose a cluster or Sentinel: a cluster fails over by itself, without sentinels."
        )
    for name in ("sentinel_kwargs", "client_kwargs"):
        if options.get(name) is not None and not isinstance(options[name], Mapping):
            problems.append(f"{name!r} must be a dict of redis-py keyword arguments.")
    factory = options.get("client_factory")
    if factory is not None:
        try:
            made = import_string(factory) if isinstance(factory, str) else None
        except ImportError as error:
            made = None
            problems.append(f"'client_factory' {factory!r} cannot be imported: {error}.")
        else:
            if not callable(made):
                problems.append(
                    f"'client_factory' must be the dotted path of a callable "
                    f"(kind, options) -> client, not {factory!r}."
                )
    prefix = options.get("prefix", "django-streaming")
    if isinstance(prefix, str) and ("{" in prefix or "}" in prefix) and cluster:
        problems.append(
            f"'prefix' {prefix!r} holds a brace: in a cluster it would be every key's hash "
            "tag and put them all in one slot. Use a prefix without braces."
        )
    return problems


def topology(options: Mapping[str, Any]) -> Topology:
    """The ``Topology`` of ``RedisStore``'s ``options``, or ``ImproperlyConfigured``."""
    problems = topology_problems(options)
    if problems:
        raise ImproperlyConfigured("DJANGO_STREAMING['STORE']['OPTIONS']: " + problems[0])
    return Topology(
        url=options.get("url", Topology.url),
        cluster=bool(options.get("cluster", False)),
        sentinels=tuple((host, int(port)) for host, port in options.get("sentinels") or ()),
        service_name=options.get("service_name"),
        sentinel_kwargs=options.get("sentinel_kwargs"),
        client_kwargs=dict(options.get("client_kwargs") or {}),
        client_factory=options.get("client_factory"),
    )


def default_client(kind: Kind, options: dict[str, Any]) -> Any:
    """The client of ``kind`` for ``options`` (``Topology.options()``), as redis-py makes it.

    ``max_connections`` bounds the connections of the client (per node in a cluster);
    ``pool_wait``, when given, makes a request wait that many seconds for a free connection
    rather than fail (one server only; a cluster's nodes and Sentinel's master fail at once).
    """
    options = dict(options)
    url: str = options.pop("url")
    cluster: bool = options.pop("cluster")
    sentinels: list[tuple[str, int]] = options.pop("sentinels")
    service_name: str | None = options.pop("service_name")
    sentinel_kwargs: dict[str, Any] | None = options.pop("sentinel_kwargs")
    pool_wait: float | None = options.pop("pool_wait", None)
    if kind == "sync":
        options.pop("retry", None)  # an asyncio Retry; the sync client keeps its own
    if cluster:
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(scheme=parts.scheme.removesuffix("+cluster")))
        if kind == "sync":
            return redis.cluster.RedisCluster.from_url(url, **options)
        return RedisCluster.from_url(url, **options)
    if sentinels and service_name:
        master = _url_options(url)
        master.update(options)
        if kind == "sync":
            sync = redis.sentinel.Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs)
            return sync.master_for(service_name, redis_class=_SyncSentinelMaster, **master)
        group = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs)
        return group.master_for(service_name, redis_class=_SentinelMaster, **master)
    if kind == "sync":
        return redis.Redis.from_url(url, **options)
    if pool_wait is not None:
        pool = BlockingConnectionPool.from_url(url, timeout=pool_wait, **options)
        return Redis.from_pool(pool)  # closes it with itself
    return Redis.from_url(url, **options)


class _SentinelMaster(Redis):
    """The master's client, closing its connections to the sentinels with its own."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool=True)  # its own: master_for() made it
        for sentinel in self.connection_pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
            await sentinel.aclose()


class _SyncSentinelMaster(redis.Redis):
    """``_SentinelMaster`` for ``publish()``."""

    def close(self) -> None:
        super().close()
        self.connection_pool.disconnect()  # its own: master_for() made it
        for sentinel in self.connection_pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
            sentinel.close()


def _url_options(url: str) -> dict[str, Any]:
    """The database, user and password a ``redis://`` URL gives (Sentinel's master)."""
    parts = urlsplit(url)
    found: dict[str, Any] = {}
    if parts.path.strip("/"):
        found["db"] = int(parts.path.strip("/"))
    if parts.username:
        found["username"] = parts.username
    if parts.password:
        found["password"] = parts.password
    if parts.scheme == "rediss":
        found["ssl"] = True
    return found


def _is_addresses(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], int)
        and not isinstance(pair[1], bool)
        for pair in value
    )


def _shown(url: str) -> str:
    """``url`` without its password, for a message."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return repr(urlunsplit(parts._replace(netloc=netloc)))
    return repr(url)


def store_client(
    topology: Topology, *, lease: float, connect_timeout: float, max_connections: int
) -> Any:
    """The store's client for the running loop."""
    # One immediate retry: a pooled connection may be dead after a Redis restart, and a
    # fresh one works; a Redis that is down fails fast instead of backing off for seconds.
    # A read() that waits blocks its connection in an XREAD of up to ``lease`` seconds
    # (tail() waits on the listener instead): such a read may take that long before it
    # counts as timed out.
    return topology.client(
        "async",
        retry=Retry(NoBackoff(), 1),
        socket_connect_timeout=connect_timeout,
        socket_timeout=lease + connect_timeout + 1,
        max_connections=max_connections,
    )


def channel_client(
    topology: Topology, *, connect_timeout: float, max_connections: int, wait: float
) -> Any:
    """The channels' client for the running loop: at most ``max_connections`` connections,
    a request waiting up to ``wait`` seconds for one rather than opening more."""
    return topology.client(
        "async",
        retry=Retry(NoBackoff(), 1),
        socket_connect_timeout=connect_timeout,
        max_connections=max_connections,
        pool_wait=wait,
    )


def pubsub_client(topology: Topology, *, connect_timeout: float) -> Any:
    """The client whose ``pubsub()`` is the loop's one pub/sub connection (no read timeout:
    it waits for messages)."""
    return topology.client(
        "pubsub", retry=Retry(NoBackoff(), 1), socket_connect_timeout=connect_timeout
    )


def sync_client(topology: Topology, *, connect_timeout: float) -> Any:
    """The client of ``publish()`` from any thread (its pool is thread-safe)."""
    return topology.client("sync", socket_connect_timeout=connect_timeout)
