from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# What pytest's ``pythonpath`` gives this process, for the servers and commands it starts.
_EXAMPLE = str(Path(__file__).resolve().parent.parent / "example_project")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_EXAMPLE, os.environ.get("PYTHONPATH")]))


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex


# The Redis topologies (a cluster, a Sentinel group), started once a session by the first test
# that asks for one.
from tests.support.redis_topologies import (  # noqa: E402
    cluster,
    sentinels,
    session_redis_cluster,
    session_sentinel_group,
)

__all__ = ["cluster", "sentinels", "session_redis_cluster", "session_sentinel_group"]


@pytest.fixture(autouse=True)
def _cluster_clients_collected(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the Redis cluster, its clients' garbage is collected here: redis-py's
    cluster node objects (and their sockets) may outlive the test that closed its client, and
    their ResourceWarning then fails whichever unrelated test runs when they are collected.
    Only a cluster test's own leftovers are let go; a leak anywhere else still fails."""
    yield
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    if "cluster" in request.fixturenames or "cluster" in params.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
