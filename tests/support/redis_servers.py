"""Redis for the tests: the shared server (``DJANGO_STREAMING_TEST_REDIS_URL``, by default
127.0.0.1:6379, with a key prefix of the test's own), or a private server on an ephemeral port
that a test may stop and restart, started from ``DJANGO_STREAMING_TEST_REDIS_SERVER`` (by
default ``redis-server``; a Valkey binary works the same)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import redis

from tests.support.servers import wait_until
from tests.support.tools import IN_CI, require

SHARED_URL = os.environ.get("DJANGO_STREAMING_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
SERVER = os.environ.get("DJANGO_STREAMING_TEST_REDIS_SERVER") or "redis-server"


def answers(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a Redis on ``host:port`` answers ``PING`` (``-LOADING`` and refusals are no)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def shared_redis() -> str:
    """The URL of the shared Redis; skip on a laptop without one, fail in CI."""
    parts = urlsplit(SHARED_URL)
    if not answers(parts.port or 6379, parts.hostname or "127.0.0.1"):
        if IN_CI:
            pytest.fail(f"Redis must listen at {SHARED_URL} in CI (.ci/run starts it)")
        pytest.skip(f"no Redis at {SHARED_URL} (redis-server --daemonize yes --port 6379)")
    return SHARED_URL


def shared_redis_port() -> int:
    """The shared Redis's port (for a proxy in front of it)."""
    return urlsplit(shared_redis()).port or 6379


def redis_server_binary() -> str:
    """The server binary the private servers run; skip without it on a laptop, fail in CI."""
    return require(os.path.basename(SERVER), SERVER if os.sep in SERVER else None)


def unique_prefix() -> str:
    return f"django-streaming-test-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's choice, so tests running at once
    rarely collide)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A server of the test's own on an ephemeral port, in a temporary directory; without
    persistence unless ``persistent`` (an append-only file, synced at every write, which a
    restart reads back). ``arguments`` go to the command line (``--maxmemory 2mb``...)."""

    def __init__(
        self,
        executable: str,
        *,
        persistent: bool = False,
        arguments: Sequence[str] = (),
        directory: str | None = None,
    ) -> None:
        self.executable = executable
        self.persistent = persistent
        self.arguments = list(arguments)
        self._temporary = None if directory else tempfile.TemporaryDirectory()
        self.directory = directory or self._temporary.name  # type: ignore[union-attr]
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def command_line(self) -> list[str]:
        return [
            self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--dir", self.directory, *(
                ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
                else ["--appendonly", "no"]
            ), *self.arguments,
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            self.command_line(), stdout=subprocess.DEVNULL, cwd=self.directory
        )
        wait_until(
            lambda: answers(self.port) or self.process is None or self.process.poll() is not None,
            timeout=timeout,
            what=f"{self.executable} to start on port {self.port}",
        )
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"{self.command_line()} exited at start")

    def stop(self) -> None:
        """End the server (SIGTERM; SIGKILL if it does not go, or is frozen)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server cannot handle SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a server that hangs on exit
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: the server dies at once, with no goodbye to its clients or replicas."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the server holds its connections open but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT, after :meth:`freeze`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def limited_user(self, *refused: str) -> str:
        """The URL of a new ACL user of this server that may run every command but
        ``refused`` (``"xadd"``...), on every key and channel."""
        with redis.Redis.from_url(self.url) as admin:
            admin.acl_setuser(
                "limited", enabled=True, passwords=["+secret"], keys=["*"], channels=["*"],
                commands=["+@all", *(f"-{command}" for command in refused)],
            )  # fmt: skip
        return self.url.replace("redis://", "redis://limited:secret@")

    def cleanup(self) -> None:
        self.stop()
        if self._temporary is not None:
            self._temporary.cleanup()


@contextmanager
def private_redis(
    *, persistent: bool = False, arguments: Sequence[str] = ()
) -> Iterator[PrivateRedis]:
    server = PrivateRedis(redis_server_binary(), persistent=persistent, arguments=arguments)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
