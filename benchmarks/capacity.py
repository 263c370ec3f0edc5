"""`make bench` (capacity): what an open stream holds and costs, side by side in one run.

* **Idle capacity.** ``--streams`` streams (10,000) opened over ``--ramp`` seconds (10), each
  sent one event, then silent. Per server, once all are open: OS threads, RSS per stream,
  server CPU per stream set-up (all the server's CPU from the first connection to the last
  first event, divided by the streams), first-event p50/p99 from each connection's start.
* **PostgreSQL.** ``--db-streams`` streams (1,000) at once, each reading the database as it
  starts and writing it when it ends, three events 0.2 s apart: the peak of connections the
  server process had open to PostgreSQL (from its sockets), and the streams that failed.
* **Reconnect storm.** ``--storm`` clients (1,000) on one server, which is told to stop
  (SIGTERM) while a new one starts on the same socket: the time until every client is back
  with its first event, and first-event p50/p99 after the stop; with the ``retry:`` hints of
  ``SHUTDOWN_RETRY`` spread over 1-5 s and, for comparison, all at 1 s.

The Django rows run with ``startproject``'s middleware and sessions in the database (the
PostgreSQL at ``--database``). Each server runs under uvicorn pinned to one core, this client
on the other.

    python -m benchmarks.capacity                          # full size
    python -m benchmarks.capacity --scale 0.02             # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg

from benchmarks.serving import ROOT, Server, listening_socket, pin, serve
from tests.support.reader import read_finite_stream

DEFAULT_DATABASE = (
    "postgres://django_streaming:django_streaming@127.0.0.1:5432/django_streaming_bench"
)


def prepare(database: str) -> None:
    """Create the benchmark's database if it is missing, and migrate it."""
    parts = urlsplit(database)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
    migrate = [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"]
    env = dict(production("", "", "django", database).env)
    subprocess.run(migrate, cwd=ROOT, env={**os.environ, **env}, check=True)


def production(name: str, path: str, handler: str, database: str) -> Server:
    env = (
        ("DJANGO_SETTINGS_MODULE", "benchmarks.apps.production_site"),
        ("BENCH_HANDLER", handler),
        ("BENCH_DATABASE_URL", database),
        ("PYTHONPATH", str(ROOT / "example_project")),
    )
    return Server(name, "benchmarks.apps.production_site:app", path, env)


def idle_servers(database: str) -> list[Server]:
    return [
        Server("raw ASGI (floor)", "benchmarks.apps.raw_asgi:app", "/stream"),
        Server("sse-starlette", "benchmarks.apps.starlette_sse:app", "/stream"),
        production("Django StreamingHttpResponse", "/plain", "django", database),
        production("SSEView, Django's handler", "/sseview", "django", database),
        production("SSEView, django_streaming.asgi", "/sseview", "streaming", database),
    ]


@dataclass
class Opened:
    """What the clients saw: when each stream's first event came, and what failed."""

    first_event: list[float] = field(default_factory=list)
    failures: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    # The server's, read once every stream was open (when a ramp was given the process).
    server_threads: int = 0
    server_rss: int = 0


async def open_stream(port: int, path: str, opened: Opened) -> None:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened.writers.append(writer)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while b"data: token 0" not in received:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError(received[:200])
            received += chunk
        opened.first_event.append(time.perf_counter() - started)
    except (OSError, ConnectionError):
        opened.failures += 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass
class IdleRow:
    server: str
    threads: int
    rss_kib_per_stream: float
    cpu_ms_per_stream: float
    first_p50_ms: float
    first_p99_ms: float
    failures: int


def measure_idle(server: Server, streams: int, ramp: float) -> IdleRow:
    with serve(server) as (port, process):
        path = f"{server.path}?n=1&idle=1"
        asyncio.run(_ramp(port, path, 10, 0.1))  # warm-up
        rss_before = process.memory_info().rss
        cpu_before = process.cpu_times()
        opened = asyncio.run(_ramp(port, path, streams, ramp, process))
        return IdleRow(
            server=server.name,
            threads=opened.server_threads,
            rss_kib_per_stream=max(opened.server_rss - rss_before, 0) / streams / 1024,
            cpu_ms_per_stream=_cpu(process, cpu_before) / streams * 1000,
            first_p50_ms=statistics.median(opened.first_event or [0.0]) * 1000,
            first_p99_ms=percentile(opened.first_event, 0.99) * 1000,
            failures=opened.failures,
        )


async def _ramp(
    port: int, path: str, streams: int, ramp: float, process: psutil.Process | None = None
) -> Opened:
    """Open ``streams`` streams evenly over ``ramp`` seconds; once all have their first event,
    read the server's threads and RSS, then close them all."""
    opened = Opened()
    started = time.perf_counter()
    tasks = []
    for number in range(streams):
        delay = started + ramp * number / streams - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(open_stream(port, path, opened)))
    await asyncio.gather(*tasks)
    if process is not None:
        opened.server_threads = process.num_threads()
        opened.server_rss = process.memory_info().rss
    for writer in opened.writers:
        writer.close()
    return opened


def _cpu(process: psutil.Process, before: Any) -> float:
    after = process.cpu_times()
    return float((after.user + after.system) - (before.user + before.system))


@dataclass
class DatabaseRow:
    server: str
    peak_connections: int
    failures: int


def measure_database(server: Server, streams: int) -> DatabaseRow:
    database_port = urlsplit(dict(server.env)["BENCH_DATABASE_URL"]).port or 5432
    with serve(server) as (port, process):
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                open_now = sum(
                    sock.status == psutil.CONN_ESTABLISHED
                    and bool(sock.raddr)
                    and sock.raddr.port == database_port
                    for sock in process.net_connections("tcp")
                )
                peak[0] = max(peak[0], open_now)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            failures = asyncio.run(_finite_streams(port, f"{server.path}?n=3&delay=0.2", streams))
        finally:
            done.set()
            sampler.join()
        return DatabaseRow(server.name, peak[0], failures)


async def _finite_streams(port: int, path: str, streams: int) -> int:
    async def one() -> bool:
        try:
            body = await read_finite_stream("127.0.0.1", port, path)
            return body.startswith(b"HTTP/1.1 200") and body.count(b"data: token") == 3
        except OSError:
            return False

    outcomes = await asyncio.gather(*(one() for _ in range(streams)))
    return outcomes.count(False)


@dataclass
class StormRow:
    retry: str
    all_back_s: float
    first_p50_ms: float
    first_p99_ms: float
    failures: int


def measure_storm(server: Server, clients: int, retry: str) -> StormRow:
    """``clients`` streams on a server that is stopped and replaced; each client honours the
    ``retry:`` hint it got, then reconnects."""
    server = Server(server.name, server.app, server.path, (*server.env, ("BENCH_RETRY", retry)))
    path = f"{server.path}?n=1&idle=1"
    sock = listening_socket()
    back: list[float] = []  # seconds from the stop to each client's first event again
    latencies: list[float] = []  # each reconnection's own first-event latency
    stopped_at = 0.0

    async def client(port: int, connected: list[int], all_connected: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while b"data: token 0" not in received:
            received += await reader.read(65536)
        connected[0] += 1
        if connected[0] == clients:
            all_connected.set()
        while chunk := await reader.read(65536):
            received += chunk
        writer.close()
        hint = int(received.rsplit(b"retry: ", 1)[1].split(b"\n", 1)[0])
        await asyncio.sleep(hint / 1000)
        again = Opened()
        await open_stream(port, path, again)
        if again.first_event:
            latencies.append(again.first_event[0])
            back.append(time.perf_counter() - stopped_at)
        for writer in again.writers:
            writer.close()

    async def storm(port: int, first: psutil.Process) -> None:
        nonlocal stopped_at
        connected, all_connected = [0], asyncio.Event()
        tasks = [
            asyncio.create_task(client(port, connected, all_connected)) for _ in range(clients)
        ]
        await all_connected.wait()
        replacement = _start_replacement(server, sock)
        await asyncio.sleep(2)  # the replacement is up before the stop, as in a rolling restart
        stopped_at = time.perf_counter()
        first.send_signal(signal.SIGTERM)
        await asyncio.gather(*tasks, return_exceptions=True)
        replacement.terminate()
        replacement.wait(30)

    try:
        with serve(server, sock) as (port, first):
            asyncio.run(storm(port, first))
    finally:
        sock.close()
    return StormRow(
        retry=retry,
        all_back_s=max(back, default=0.0),
        first_p50_ms=statistics.median(latencies or [0.0]) * 1000,
        first_p99_ms=percentile(latencies, 0.99) * 1000,
        failures=clients - len(back),
    )


def _start_replacement(server: Server, sock: object) -> subprocess.Popen[bytes]:
    fd = sock.fileno()  # type: ignore[attr-defined]
    command = [sys.executable, "-m", "uvicorn", server.app, "--fd", str(fd),
               "--log-level", "warning", "--no-access-log", "--backlog", "4096"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, pass_fds=(fd,), env={**os.environ, **dict(server.env)},
        preexec_fn=lambda: pin(0),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every count")
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--ramp", type=float, default=10.0)
    parser.add_argument("--db-streams", type=int, default=1000)
    parser.add_argument("--storm", type=int, default=1000)
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    )
    parser.add_argument("--only", choices=["idle", "database", "storm"])
    arguments = parser.parse_args()

    def scaled(number: int) -> int:
        return max(2, int(number * arguments.scale))

    pin(1)
    database = arguments.database
    prepare(database)
    if arguments.only in (None, "idle"):
        streams, ramp = scaled(arguments.streams), arguments.ramp * min(arguments.scale, 1)
        rows = [measure_idle(server, streams, ramp) for server in idle_servers(database)]
        print(f"\n### Idle capacity: {streams} streams opened over {ramp:g} s, one event each\n")
        plain = next(row for row in rows if row.server.startswith("Django"))
        print("| server | OS threads | RSS KiB/stream | CPU ms/stream set-up | ratio to Django "
              "| first event p50 ms | p99 ms | failed |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            print(
                f"| {row.server} | {row.threads} | {row.rss_kib_per_stream:.1f} "
                f"| {row.cpu_ms_per_stream:.2f} "
                f"| {row.cpu_ms_per_stream / max(plain.cpu_ms_per_stream, 1e-9):.2f}x "
                f"| {row.first_p50_ms:.1f} | {row.first_p99_ms:.1f} | {row.failures} |"
            )
        sys.stdout.flush()
    if arguments.only in (None, "database"):
        streams = scaled(arguments.db_streams)
        pooled = f"{database}?pool=true"
        servers = [
            production("Django StreamingHttpResponse", "/plain", "django", database),
            production("SSEView, django_streaming.asgi", "/sseview", "streaming", database),
            production("SSEView, django_streaming.asgi, psycopg pool", "/sseview", "streaming",
                       pooled),
        ]  # fmt: skip
        print(f"\n### PostgreSQL: {streams} streams at once that query, stream and write\n")
        print("| server | peak connections | failed streams |")
        print("|---|---:|---:|")
        for server in servers:
            measured = measure_database(server, streams)
            print(f"| {measured.server} | {measured.peak_connections} | {measured.failures} |")
        sys.stdout.flush()
    if arguments.only in (None, "storm"):
        clients = scaled(arguments.storm)
        server = production("SSEView", "/sseview", "streaming", database)
        print(f"\n### Reconnect storm: {clients} clients, the server stopped and replaced\n")
        print("| SHUTDOWN_RETRY ms | all back after s | first event p50 ms | p99 ms | failed |")
        print("|---|---:|---:|---:|---:|")
        for retry in ("1000", "1000-5000"):
            storm = measure_storm(server, clients, retry)
            print(
                f"| {storm.retry} | {storm.all_back_s:.2f} | {storm.first_p50_ms:.0f} "
                f"| {storm.first_p99_ms:.0f} | {storm.failures} |"
            )


if __name__ == "__main__":
    main()
