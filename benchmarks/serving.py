"""Serving a benchmark app: uvicorn in a process of its own, pinned to core 0, on a listening
socket made here (so a restarted server takes over the same port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    name: str
    app: str
    path: str
    env: tuple[tuple[str, str], ...] = ()


#: The cores this process may run on, read before any ``pin()``: a server started after the
#: load client pinned itself inherits the client's one core, and must still get its own.
CORES = sorted(os.sched_getaffinity(0))


def pin(core: int) -> None:
    """Run this process on the ``core``-th of ``CORES`` alone, where there are two or more."""
    if len(CORES) > 1:
        os.sched_setaffinity(0, {CORES[core % len(CORES)]})


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    return sock


@contextmanager
def serve(
    server: Server, sock: socket.socket | None = None
) -> Iterator[tuple[int, psutil.Process]]:
    """``server`` under uvicorn on ``sock`` (a new one by default, closed afterwards)."""
    own_socket = sock is None
    sock = sock or listening_socket()
    fd = sock.fileno()
    command = [
        sys.executable, "-m", "uvicorn", server.app, "--fd", str(fd),
        "--log-level", "warning", "--no-access-log", "--backlog", "4096",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, pass_fds=(fd,), env={**os.environ, **dict(server.env)},
        preexec_fn=lambda: pin(0),
    )  # fmt: skip
    port = sock.getsockname()[1]
    try:
        _wait_for(port, process, server.path)
        yield port, psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # uvicorn waits for streams that ignore disconnects
            process.kill()
            process.wait()
        if own_socket:
            sock.close()


def _wait_for(port: int, process: subprocess.Popen[bytes], path: str) -> None:
    # The socket accepts connections before the server does (we made it), so only a response
    # proves the server is up.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(f"GET {path}?n=1 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                if probe.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not start")
