"""Whether Redis may evict the backend's keys: with ``allkeys-*`` eviction, a channel's epoch
and counter or a stream's events can vanish under memory pressure, long before their TTL.
That is detected (subscribers get ``reset``, readers a gap) but it is data lost all the same.
``noeviction`` refuses writes instead (an error the caller sees); ``volatile-*`` evicts only
keys with a TTL, which the backend's all have, but lets the operator keep other data safe.

The system check asks ``CONFIG GET maxmemory-policy``, then ``INFO memory`` where an ACL
forbids ``CONFIG``; the store also looks once, as it creates its first stream, and logs a
warning."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import NoPermissionError, RedisError, ResponseError

__all__ = ["SAFE_POLICIES", "policy_problem", "read_policy"]

logger = logging.getLogger("django_streaming")

#: Policies under which Redis never evicts a key without a TTL of its own... and never evicts
#: at all (noeviction).
SAFE_POLICIES = ("noeviction",)
SAFE_PREFIX = "volatile-"


def policy_problem(policy: str) -> str | None:
    """What is wrong with ``maxmemory-policy`` ``policy`` for this backend, or None."""
    if policy in SAFE_POLICIES or policy.startswith(SAFE_PREFIX):
        return None
    return (
        f"Redis's maxmemory-policy is {policy!r}: under memory pressure it evicts any key, "
        "so channel events and resumable streams vanish before their TTL (subscribers get "
        "reset, replays report them lost). Set maxmemory-policy to noeviction (writes fail "
        "visibly when Redis is full) or a volatile-* policy, and size maxmemory for "
        "CHANNELS['MAX_LEN'] and the streams' max_len."
    )


def _from_info(memory: dict[str, Any]) -> str | None:
    policy = memory.get("maxmemory_policy")
    return None if policy is None else str(policy)


def read_policy(client: Any) -> str | None:
    """The policy, through a synchronous ``client``; None if an ACL forbids both ways of
    asking. Connection errors propagate."""
    try:
        config = client.config_get("maxmemory-policy")
        return str(config["maxmemory-policy"])
    except (NoPermissionError, ResponseError, KeyError):
        pass  # an ACL without CONFIG (or a managed service that renames it)
    try:
        return _from_info(client.info("memory"))
    except (NoPermissionError, ResponseError):
        return None


async def warn_once(client: Any) -> None:
    """At a store's first stream: log a warning if Redis may evict the backend's keys
    (through ``INFO``, which ACLs allow more often than ``CONFIG``)."""
    try:
        policy = _from_info(await client.info("memory"))
    except (RedisError, OSError):
        return  # not allowed, or not reachable: the check and the calls themselves say so
    problem = None if policy is None else policy_problem(policy)
    if problem:
        logger.warning(problem)
