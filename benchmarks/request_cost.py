"""What one request costs apart from its events: the ASGI apps of ``make bench`` called in
process (no server, no client, no sockets), one one-event stream after another, with the CPU
time of the whole process (every thread: the pool's too) divided by the requests.

At an LLM's pace a stream's request is paid once for its 100 events; this is that part of
``make bench``'s CPU per event, measured apart, each row in a process of its own.

    python -m benchmarks.request_cost                 # 2000 requests per row
    python -m benchmarks.request_cost --requests 50   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.serving import ROOT

#: (row, app, path, environment): the rows of ``make bench`` whose request differs.
ROWS = [
    ("raw ASGI (floor)", "benchmarks.apps.raw_asgi:app", "/stream", {}),
    (
        "Django's handler, no middleware",
        "benchmarks.apps.django_site:app",
        "/sseview",
        {"DJANGO_SETTINGS_MODULE": "benchmarks.apps.django_site"},
    ),
    (
        "django_streaming.asgi, no middleware",
        "benchmarks.apps.django_site:app",
        "/sseview",
        {"DJANGO_SETTINGS_MODULE": "benchmarks.apps.django_site", "BENCH_HANDLER": "streaming"},
    ),
    (
        "django_streaming.asgi, startproject's middleware",
        "benchmarks.apps.django_site:app",
        "/sseview",
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.apps.django_site",
            "BENCH_HANDLER": "streaming",
            "BENCH_MIDDLEWARE": "startproject",
        },
    ),
]
WARM_UP = 100


async def one_request(app: Any, path: str, number: int) -> None:
    """A GET of a one-event stream, read to its end."""
    ended = asyncio.Event()
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await ended.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            ended.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"n=1&delay=0",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 10000 + number % 50000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    assert ended.is_set(), f"{path}: the response did not end"


async def measure(target: str, path: str, requests: int) -> float:
    """CPU microseconds per request of ``target`` (``module:attribute``)."""
    module, _, attribute = target.partition(":")
    app = getattr(__import__(module, fromlist=[attribute]), attribute)
    for number in range(WARM_UP):
        await one_request(app, path, number)
    started = time.process_time()
    for number in range(requests):
        await one_request(app, path, number)
    return (time.process_time() - started) / requests * 1e6


def row_in_a_process(target: str, path: str, environment: dict[str, str], requests: int) -> float:
    env = {**os.environ, "BENCH_WATCH": "0", **environment}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.request_cost", "--row", target, path, str(requests)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="What one request costs, in process.")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per row")
    parser.add_argument("--row", nargs=3, help=argparse.SUPPRESS)  # (target, path, requests)
    arguments = parser.parse_args()
    if arguments.row:
        target, path, requests = arguments.row
        try:
            import uvloop  # as uvicorn runs, where it is installed
        except ImportError:
            print(asyncio.run(measure(target, path, int(requests))))
        else:
            print(uvloop.run(measure(target, path, int(requests))))
        return
    print(f"### One request, in process: {arguments.requests} one-event streams in turn\n")
    print("| server | CPU µs per request | at 100 events, µs of each event |")
    print("|---|---:|---:|")
    for name, target, path, environment in ROWS:
        cost = row_in_a_process(target, path, environment, arguments.requests)
        print(f"| {name} | {cost:,.1f} | {cost / 100:.2f} |")


if __name__ == "__main__":
    main()
