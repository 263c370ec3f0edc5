"""Real servers on ephemeral loopback ports, for integration tests.

uvicorn and wsgiref run in a thread of this process, so tests can look at the server's event
loop (its tasks, the errors it logged) and at the probes the test views fill. Servers that fork
(gunicorn) run as a subprocess that inherits an already listening socket, so no port can race.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import uvicorn
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from django_streaming.bridges import maybe_await
from django_streaming.stores import get_store

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.005)


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 10.0
) -> None:
    """``wait_until()`` in a test on the event loop (its condition may have to await)."""
    deadline = time.monotonic() + timeout
    while not await maybe_await(condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.005)


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


@dataclass
class RunningServer:
    url: str
    loop: asyncio.AbstractEventLoop | None = None
    loop_errors: list[dict[str, Any]] = field(default_factory=list)
    pid: int | None = None  # a server in a process of its own
    stuck: list[str] = field(default_factory=list)  # tasks that did not end when cancelled

    def task_count(self) -> int:
        assert self.loop is not None

        async def count() -> int:
            return len(asyncio.all_tasks()) - 1  # not this one

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(timeout=5)


@contextmanager
def uvicorn_server(app: Any = None, **options: Any) -> Iterator[RunningServer]:
    """uvicorn serving Django (or ``app``) in a thread with its own event loop."""
    sock = listening_socket()
    config = uvicorn.Config(
        app or get_asgi_application(), lifespan="off", log_level="warning", **options
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    running = RunningServer(f"http://127.0.0.1:{sock.getsockname()[1]}", loop)
    loop.set_exception_handler(lambda _loop, context: running.loop_errors.append(context))
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(_serve(server, sock, running)), daemon=True
    )
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()
        assert not running.stuck, f"tasks did not end when the server stopped: {running.stuck}"


async def _serve(server: uvicorn.Server, sock: socket.socket, running: RunningServer) -> None:
    try:
        await server.serve(sockets=[sock])
    finally:
        # What asyncio.run() (and so uvicorn.run()) does after the server: the tasks still
        # running (a generation, its stop waiter) are cancelled and awaited, rather than left
        # pending on a closed loop to fail a later test when they are collected. One that does
        # not end is the server's error.
        this = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not this]
        for task in left:
            task.cancel()
        if left:
            _, pending = await asyncio.wait(left, timeout=5)
            for task in pending:
                running.loop_errors.append(
                    {"message": "a task did not end when cancelled", "task": task}
                )
        # The store's connections opened on this loop go before the loop does: whichever store
        # the app used (a Redis one, set by a module's fixture, say), else they leak.
        aclose = getattr(get_store(), "aclose", None)
        if aclose is not None:
            await aclose()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def wsgiref_server() -> Iterator[RunningServer]:
    """The standard library's WSGI server serving Django, a thread per request."""
    server = make_server(
        "127.0.0.1",
        0,
        get_wsgi_application(),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningServer(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def subprocess_server(
    argv: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[RunningServer]:
    """A server command that inherits its listening socket (``{fd}`` in ``argv``), or, for a
    server that can only bind a port itself, is given a free one (``{port}``)."""
    sock = listening_socket()
    fd = sock.fileno()
    port = str(sock.getsockname()[1])
    command = [part.replace("{fd}", str(fd)).replace("{port}", port) for part in argv]
    if any("{port}" in part for part in argv):
        sock.close()  # the server binds it again; on loopback nothing else races for it
    process = subprocess.Popen(
        command,
        cwd=cwd,
        pass_fds=(fd,) if sock.fileno() != -1 else (),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url) or process.poll() is not None, 30, f"{argv[0]} to start")
        assert process.poll() is None, f"{command} exited with {process.returncode}"
        yield RunningServer(url, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        sock.close()


def answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (whatever its status)."""
    try:
        httpx.get(url + "/probe/startup/", timeout=1)
    except httpx.TransportError:
        return False
    return True


EXAMPLE = ROOT / "example_project"


@contextmanager
def example_project_server(
    database: Path, tokens_per_second: float, **extra_env: str
) -> Iterator[RunningServer]:
    """The example project under uvicorn, on a fresh SQLite database, with the simulated model."""
    env = {
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_DB": str(database),
        "SIMULATED_TOKENS_PER_SECOND": str(tokens_per_second),
        "CHAT_BACKEND": "simulated",
        **extra_env,
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=EXAMPLE,
        env={**os.environ, **env},
        check=True,
    )
    argv = [sys.executable, "-m", "uvicorn", "example_project.asgi:application", "--fd", "{fd}"]
    with subprocess_server(argv, env=env, cwd=EXAMPLE) as server:
        yield server


@dataclass
class Worker:
    url: str
    process: subprocess.Popen[bytes]

    def probe(self, token: str) -> dict[str, bool]:
        result: dict[str, bool] = httpx.get(f"{self.url}/probe/{token}/").json()
        return result


@contextmanager
def worker(
    redis_url: str | None, prefix: str = "", lease: float = 10.0, **extra_env: str
) -> Iterator[Worker]:
    """uvicorn serving the test project in a process of its own, as in production."""
    sock = listening_socket()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **extra_env}
    if redis_url:
        env |= {"TEST_REDIS_URL": redis_url, "TEST_REDIS_PREFIX": prefix}
        env["TEST_REDIS_LEASE"] = str(lease)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.asgi:application", "--fd", str(sock.fileno()),
         "--log-level", "warning", "--lifespan", "off"],
        cwd=ROOT, env=env, pass_fds=(sock.fileno(),),
    )  # fmt: skip
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        wait_until(lambda: answers(url) or process.poll() is not None, 30, "uvicorn to start")
        yield Worker(url, process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        sock.close()
