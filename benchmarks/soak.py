"""`make soak`: many streams for a long time, clients leaving and coming back, then a count of
what was left behind.

A third of the clients abort at random moments and start over; the rest drop their connection
at random moments too and reconnect with Last-Event-ID, checking that the ids continue with no
gap and no repeat. Reported: events delivered, errors, server RSS before/peak/after, asyncio
tasks left over, generators whose ``finally`` did not run, and the cancel latency from a
client's abort of a running stream (one that had delivered an event) to its generator's
``finally`` (the monotonic clock is shared by the processes), next to the longest pause of
the server's garbage collector, which stops its event loop, cancellations included.

    python -m benchmarks.soak --streams 1000 --seconds 120     # make soak
    python -m benchmarks.soak --streams 100 --seconds 6        # the short run the tests use

The server is deployed as the deployment page advises for many streams per process
(``django_streaming.asgi`` and its garbage-collector lines); ``--plain`` serves it with Django's
own handler and CPython's defaults, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
IDS = re.compile(rb"id: (\d+)")


@dataclass
class Tally:
    events: int = 0
    errors: list[str] = field(default_factory=list)
    closed_at: dict[str, float] = field(default_factory=dict)
    finally_at: dict[str, float] = field(default_factory=dict)  # drained from the server
    connections: int = 0


async def http_get(
    port: int, path: str, headers: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    return reader, writer


class Client:
    """One simulated user: connects, reads for a while, drops the connection, comes back."""

    def __init__(
        self, number: int, port: int, tally: Tally, rng: random.Random, pace: float
    ) -> None:
        self.number = number
        self.pace = pace
        self.port = port
        self.tally = tally
        self.rng = rng
        self.resumes = number % 3 != 0  # two in three reconnect with Last-Event-ID
        self.last_id: int | None = None
        self.expected = 0

    async def run(self, deadline: float) -> None:
        connection = 0
        while time.monotonic() < deadline:
            connection += 1
            key = f"{self.number}-{connection}"
            resume = self.resumes and self.last_id is not None
            headers = f"Last-Event-ID: {self.last_id}\r\n" if resume else ""
            self.expected = self.last_id + 1 if resume and self.last_id is not None else 0
            path = f"/ticks?key={key}&pace={self.pace}"
            reader, writer = await http_get(self.port, path, headers)
            self.tally.connections += 1
            stay = min(self.rng.uniform(0.5, 10.0), max(deadline - time.monotonic(), 0.05))
            events_before = self.tally.events
            try:
                await asyncio.wait_for(self.read(reader, key), stay)
            except (TimeoutError, asyncio.TimeoutError):
                pass  # time to leave
            finally:
                writer.transport.abort()  # a reset, as a closed tab or a dropped network does
                if self.tally.events > events_before:
                    # A running stream: its cancel latency counts. (One still being set up when
                    # its client left only shows how long set-up takes under this load.)
                    self.tally.closed_at[key] = time.monotonic()
            if not self.resumes:
                self.last_id = None

    async def read(self, reader: asyncio.StreamReader, key: str) -> None:
        body = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                self.tally.errors.append(f"{key}: the server closed the stream")
                return
            body += chunk
            complete = body.rfind(b"\n\n") + 2  # whole events only
            for match in IDS.finditer(body, 0, complete):
                received = int(match.group(1))
                if received != self.expected:
                    self.tally.errors.append(f"{key}: id {received}, expected {self.expected}")
                self.expected = received + 1
                self.last_id = received
                self.tally.events += 1
            body = body[complete:]


async def load(
    port: int, streams: int, seconds: float, tally: Tally, rng: random.Random, pace: float
) -> None:
    end = time.monotonic() + seconds
    await asyncio.gather(*(Client(n, port, tally, rng, pace).run(end) for n in range(streams)))


def settle(port: int) -> None:
    """Let the server notice the last disconnects (a few ms; ten seconds at the most)."""
    deadline = time.monotonic() + 10
    while (now := stats(port))["started"] != now["finished"] and time.monotonic() < deadline:
        time.sleep(0.1)


def stats(port: int, query: str = "") -> Any:
    return httpx.get(f"http://127.0.0.1:{port}/stats{query}", timeout=10).json()


async def drain_finally_times(port: int, tally: Tally, until: asyncio.Event) -> None:
    """Take the server's record of ``finally`` times every second, so that it stays small."""
    async with httpx.AsyncClient(timeout=10) as client:
        while not until.is_set():
            response = await client.get(f"http://127.0.0.1:{port}/stats?finally")
            tally.finally_at.update(response.json()["finally_at"])
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(until.wait(), 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between events")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--plain", action="store_true", help="Django's own ASGI handler and CPython's GC defaults"
    )
    arguments = parser.parse_args()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.apps.soak_site"}
    if arguments.plain:
        env["SOAK_PLAIN"] = "1"
    # As in `make bench`: the server on one core, this client on the other.
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[1]})
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.apps.soak_site:app", "--fd",
         str(sock.fileno()), "--log-level", "warning", "--backlog", "4096"],
        cwd=ROOT, pass_fds=(sock.fileno(),), env=env,
        preexec_fn=(lambda: os.sched_setaffinity(0, {cores[0]})) if len(cores) > 1 else None,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                before = stats(port)
                break
            except httpx.HTTPError as error:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the soak server did not start: {error!r}") from None
                time.sleep(0.1)
        process = psutil.Process(server.pid)
        rng = random.Random(1)
        # A warm-up with as many streams first: the start to compare with is a server that has
        # already grown its working set, so that what stays above it is what leaked.
        warm_up = min(5.0, arguments.seconds / 4)
        asyncio.run(load(port, arguments.streams, warm_up, Tally(), rng, arguments.pace))
        settle(port)
        before = stats(port, "?finally&collect")
        rss_before = process.memory_info().rss
        peak = rss_before
        tally = Tally()
        cpu_before = process.cpu_times()
        started_at = time.monotonic()

        async def run() -> None:
            nonlocal peak
            end = time.monotonic() + arguments.seconds
            clients = [
                asyncio.create_task(Client(n, port, tally, rng, arguments.pace).run(end))
                for n in range(arguments.streams)
            ]
            done = asyncio.Event()
            draining = asyncio.create_task(drain_finally_times(port, tally, done))
            while not all(task.done() for task in clients):
                peak = max(peak, process.memory_info().rss)
                await asyncio.sleep(0.25)
            done.set()
            await draining
            for task in clients:
                if task.exception():
                    tally.errors.append(repr(task.exception()))

        asyncio.run(run())
        cpu_after = process.cpu_times()
        cpu_seconds = sum(cpu_after[:2]) - sum(cpu_before[:2])  # user + system
        cpu_share = cpu_seconds / (time.monotonic() - started_at)
        settle(port)
        rss_after = process.memory_info().rss
        after = stats(port, "?finally&collect")
        tally.finally_at.update(after["finally_at"])
        rss_after_collect = process.memory_info().rss
    finally:
        server.terminate()
        server.wait(timeout=10)
        sock.close()

    latencies = sorted(
        (tally.finally_at[key] - closed) * 1000
        for key, closed in tally.closed_at.items()
        if key in tally.finally_at
    ) or [0.0]
    report = {
        "deployment": "plain Django" if arguments.plain else "as the docs advise",
        "streams": arguments.streams,
        "pace_s": arguments.pace,
        "seconds": arguments.seconds,
        "connections": tally.connections,
        "events_delivered": tally.events,
        "errors": len(tally.errors),
        "first_errors": tally.errors[:5],
        "rss_mib_before": round(rss_before / 2**20, 1),
        "rss_mib_peak": round(peak / 2**20, 1),
        "rss_mib_after": round(rss_after / 2**20, 1),
        "rss_mib_after_gc_and_trim": round(rss_after_collect / 2**20, 1),
        "rss_change_percent": round((rss_after_collect / rss_before - 1) * 100, 1),
        "server_cpu_percent": round(cpu_share * 100),
        "tasks_left_over": after["tasks"] - before["tasks"],
        "finally_not_run": after["started"] - after["finished"],
        "tracked_objects_after": after["tracked_objects"],
        "gc_pause_ms_max": after["gc_pause_ms_max"],
        "gc_pauses_over_50ms": after["gc_pauses_over_50ms"],
        "gc_pause_s_total": after["gc_pause_s_total"],
        "cancel_latency_ms_p50": round(statistics.median(latencies), 1),
        "cancel_latency_ms_p99": round(latencies[int((len(latencies) - 1) * 0.99)], 1),
    }
    if arguments.json:
        print(json.dumps(report))
    else:
        for name, value in report.items():
            print(f"{name:>24}: {value}")


if __name__ == "__main__":
    main()
