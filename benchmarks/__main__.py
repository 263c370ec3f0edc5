"""`make bench`: the same SSE load against several servers side by side, in one run.

(a) a raw ASGI app, the floor; (b) sse-starlette on Starlette; (c) Django's plain
StreamingHttpResponse; (d) django-streaming's SSEView; (e) the same view in production shape,
with ``startproject``'s middleware, served by ``django_streaming.asgi``, and (e') the same with
the deployment page's garbage-collector lines; (f, g) the view with ``resumable = True``,
through the in-memory store and through Redis (127.0.0.1:6379). Then
the time to replay 1000 stored events to a reconnecting client, per store. Each runs under
uvicorn pinned to one core, with this load client pinned to the other. Printed per row:
server CPU microseconds per event, events/s, server RSS per open stream, time to first byte
p50/p99, and the CPU ratio to the raw ASGI row: that of the rows' medians, and the median
and range of each round's own ratio (rounds interleave the rows, so a round's ratio is free of
the machine's drift from one round to the next, which on a virtual machine is large).

The Django rows run unwatched by default, as a default install does (no ``prometheus_client``,
no ``opentelemetry-api``, the logger at WARNING: no ``StreamWatch``); ``--watching`` serves
them with both importable and metrics on, as this repository's virtualenv has them.

    python -m benchmarks                    # both scenarios, full size
    python -m benchmarks --scale 0.05       # a quick smoke run
    python -m benchmarks --only llm-pace --servers "raw|asgi"   # rows whose name matches
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.load import LoadResult, run_load
from benchmarks.serving import Server, pin, serve

ROOT = Path(__file__).resolve().parent.parent


DJANGO = (("DJANGO_SETTINGS_MODULE", "benchmarks.apps.django_site"),)
REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS = (*DJANGO, ("BENCH_STORE", "redis"), ("BENCH_REDIS_URL", REDIS_URL))
SERVERS = [
    Server("raw ASGI (floor)", "benchmarks.apps.raw_asgi:app", "/stream"),
    Server("sse-starlette", "benchmarks.apps.starlette_sse:app", "/stream"),
    Server("Django StreamingHttpResponse", "benchmarks.apps.django_site:app", "/plain", DJANGO),
    Server("django-streaming SSEView", "benchmarks.apps.django_site:app", "/sseview", DJANGO),
    Server(
        "SSEView, django_streaming.asgi, startproject's middleware",
        "benchmarks.apps.django_site:app",
        "/sseview",
        (*DJANGO, ("BENCH_HANDLER", "streaming"), ("BENCH_MIDDLEWARE", "startproject")),
    ),
    Server(
        "SSEView, deployed as the docs advise",
        "benchmarks.apps.django_site:app",
        "/sseview",
        (
            *DJANGO,
            ("BENCH_HANDLER", "streaming"),
            ("BENCH_MIDDLEWARE", "startproject"),
            ("BENCH_GC", "1"),
        ),
    ),
    Server(
        "SSEView resumable, memory store", "benchmarks.apps.django_site:app", "/resumable", DJANGO
    ),
    Server(
        "SSEView resumable, Redis store", "benchmarks.apps.django_site:app", "/resumable", REDIS
    ),
]
#: The rows whose store is the point of the comparison (redis-server's own CPU is not counted).
RESUMABLE = SERVERS[-2:]


@dataclass(frozen=True)
class Scenario:
    name: str
    streams: int
    events: int
    delay: float


@dataclass
class Row:
    server: str
    cpu_us_per_event: float
    events_per_second: float
    rss_kib_per_stream: float
    ttfb_p50_ms: float
    ttfb_p99_ms: float
    failures: int


def measure(server: Server, port: int, process: psutil.Process, scenario: Scenario) -> Row:
    path = f"{server.path}?n={scenario.events}&delay={scenario.delay}"
    rss_before = process.memory_info().rss
    rss_open = rss_before

    def sample_rss() -> None:
        nonlocal rss_open
        rss_open = process.memory_info().rss

    cpu_before = process.cpu_times()
    result: LoadResult = asyncio.run(
        run_load(
            port, path, streams=scenario.streams, events=scenario.events, on_all_open=sample_rss
        )
    )
    cpu_after = process.cpu_times()
    cpu_seconds = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    first_bytes = sorted(result.first_byte_seconds) or [0.0]
    return Row(
        server=server.name,
        cpu_us_per_event=cpu_seconds / max(result.events, 1) * 1e6,
        events_per_second=result.events / result.seconds,
        rss_kib_per_stream=max(rss_open - rss_before, 0) / scenario.streams / 1024,
        ttfb_p50_ms=statistics.median(first_bytes) * 1000,
        ttfb_p99_ms=first_bytes[min(len(first_bytes) - 1, int(len(first_bytes) * 0.99))] * 1000,
        failures=result.failures,
    )


def median_row(rows: list[Row]) -> Row:
    """Each figure's median over the rounds."""

    def median(name: str) -> float:
        return float(statistics.median(getattr(row, name) for row in rows))

    return Row(
        server=rows[0].server,
        cpu_us_per_event=median("cpu_us_per_event"),
        events_per_second=median("events_per_second"),
        rss_kib_per_stream=median("rss_kib_per_stream"),
        ttfb_p50_ms=median("ttfb_p50_ms"),
        ttfb_p99_ms=median("ttfb_p99_ms"),
        failures=sum(row.failures for row in rows),
    )


def round_ratios(rounds: list[Row], floor_rounds: list[Row]) -> list[float]:
    """Each round's CPU per event over the floor's in the same round: paired, the machine's
    drift from round to round (a virtual machine's neighbours) cancels out of each."""
    return [
        row.cpu_us_per_event / max(floor.cpu_us_per_event, 1e-9)
        for row, floor in zip(rounds, floor_rounds, strict=True)
    ]


def print_table(scenario: Scenario, rows: list[Row], ratios: list[list[float]]) -> None:
    """``ratios``: each row's ratios to the floor, one per round (``round_ratios()``)."""
    floor = rows[0].cpu_us_per_event
    django = next(
        (row for row in rows if row.server.startswith("Django")), rows[0]
    ).cpu_us_per_event
    print(
        f"\n### {scenario.name}: {scenario.streams} streams x {scenario.events} events, "
        f"{scenario.delay * 1000:g} ms apart\n"
    )
    print(
        "| server | CPU µs/event | ratio to raw | per round: median (range) | ratio to Django "
        "| events/s | RSS KiB/stream | TTFB p50 ms | TTFB p99 ms | failed streams |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row, per_round in zip(rows, ratios, strict=True):
        ratio = row.cpu_us_per_event / max(floor, 1e-9)
        paired = f"{statistics.median(per_round):.2f}x ({min(per_round):.2f}-{max(per_round):.2f})"
        print(
            f"| {row.server} | {row.cpu_us_per_event:.1f} | {ratio:.2f}x | {paired} "
            f"| {row.cpu_us_per_event / max(django, 1e-9):.2f}x "
            f"| {row.events_per_second:,.0f} | {row.rss_kib_per_stream:.1f} "
            f"| {row.ttfb_p50_ms:.1f} | {row.ttfb_p99_ms:.1f} | {row.failures} |"
        )
    sys.stdout.flush()


def replay_time(port: int, events: int, rounds: int = 5) -> float:
    """Median milliseconds for a reconnect to receive ``events`` stored events of an ended
    stream (Last-Event-ID at its start), from sending the request to the last byte."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET /resumable?n={events} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        body = _read_all(sock)
    first_id = body.split(b"\nid: ", 1)[1].split(b"\n", 1)[0].decode()
    stream_start = first_id.rpartition(":")[0] + ":0"
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            request = f"GET /resumable HTTP/1.0\r\nHost: x\r\nLast-Event-ID: {stream_start}\r\n\r\n"
            sock.sendall(request.encode())
            replayed = _read_all(sock)
        timings.append(time.perf_counter() - started)
        assert replayed.count(b"\nid: ") == events, "the replay lost events"
    return statistics.median(timings) * 1000


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink streams and events")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each row keeps its median")
    parser.add_argument("--only", choices=["back-to-back", "llm-pace"], help="one scenario")
    parser.add_argument("--servers", help="only the rows whose name matches this regex")
    parser.add_argument(
        "--watching", action="store_true", help="watch the streams (metrics and OpenTelemetry)"
    )
    arguments = parser.parse_args()
    watch = ("BENCH_WATCH", "1" if arguments.watching else "0")

    def scaled(number: int) -> int:
        return max(1, int(number * float(arguments.scale)))

    scenarios = [
        Scenario("back to back", scaled(100), scaled(1000), 0.0),
        Scenario("an LLM's pace", scaled(1000), scaled(100), 0.05),
    ]
    if arguments.only:
        scenarios = [scenarios[0] if arguments.only == "back-to-back" else scenarios[1]]
    servers = [
        Server(server.name, server.app, server.path, (*server.env, watch))
        for server in SERVERS
        if re.search(arguments.servers or "", server.name)
    ]
    resumable = [server for server in servers if server.name in {r.name for r in RESUMABLE}]
    pin(1)
    print(f"cores: {os.cpu_count()}; server pinned to core 0, load client to core 1")
    print(
        "stream watching: "
        + (
            "on (prometheus_client and opentelemetry-api importable, metrics on)"
            if arguments.watching
            else "off (neither prometheus_client nor opentelemetry-api importable)"
        )
    )
    # Rounds interleave the servers, each round on fresh processes, so that drift on the
    # machine spreads over every row alike; each row keeps its median round.
    runs: dict[tuple[str, str], list[Row]] = {}
    for _round in range(arguments.repeat):
        for server in servers:
            for scenario in scenarios:
                with serve(server) as (port, process):
                    measure(server, port, process, Scenario("warm-up", 10, 100, 0.0))
                    row = measure(server, port, process, scenario)
                runs.setdefault((scenario.name, server.name), []).append(row)
    results = {
        scenario.name: [median_row(runs[scenario.name, server.name]) for server in servers]
        for scenario in scenarios
    }
    for scenario in scenarios:
        floor_rounds = runs[scenario.name, servers[0].name]
        ratios = [
            round_ratios(runs[scenario.name, server.name], floor_rounds) for server in servers
        ]
        print_table(scenario, results[scenario.name], ratios)
    print("\n### Resume: replaying 1000 stored events to a reconnecting client\n")
    print("| store | replay ms (median of 5) |")
    print("|---|---:|")
    for server in resumable:
        with serve(server) as (port, _process):
            print(f"| {server.name} | {replay_time(port, 1000):.1f} |")


if __name__ == "__main__":
    main()
