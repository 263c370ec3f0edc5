"""Redis for the tests: the shared server on 127.0.0.1:6379 (with a key prefix of the test's
own), or a private ``redis-server`` on an ephemeral port that a test may stop and restart."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.servers import wait_until
from tests.support.tools import IN_CI, require

SHARED_URL = "redis://127.0.0.1:6379/0"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def shared_redis() -> str:
    """The URL of the Redis on 127.0.0.1:6379; skip on a laptop without one, fail in CI."""
    if not _answers(6379):
        if IN_CI:
            pytest.fail("Redis must listen on 127.0.0.1:6379 in CI (.ci/run starts it)")
        pytest.skip("no Redis on 127.0.0.1:6379 (redis-server --daemonize yes --port 6379)")
    return SHARED_URL


def unique_prefix() -> str:
    return f"django-streaming-test-{uuid.uuid4().hex[:12]}"


class PrivateRedis:
    """A ``redis-server`` of the test's own, without persistence unless ``persistent`` (an
    append-only file, synced at every write, which a restart reads back)."""

    def __init__(self, executable: str, *, persistent: bool = False) -> None:
        self.executable = executable
        self.persistent = persistent
        self.directory = tempfile.TemporaryDirectory()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", self.directory.name, *(
                 ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
                 else ["--appendonly", "no"]
             )],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _answers(self.port), what="redis-server to start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis(*, persistent: bool = False) -> Iterator[PrivateRedis]:
    server = PrivateRedis(require("redis-server"), persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.directory.cleanup()
