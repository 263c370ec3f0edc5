"""`make bench` (channels): events published from another process, fanned out to many
subscribers, side by side in one run.

* **(a) One channel, many subscribers.** 10,000 streams on one channel;
  a publisher process sends 10 events/s for ``--seconds`` (10), each carrying its publish time.
* **(a/5)** The same with 2,000 subscribers: what one core delivers within 100 ms.
* **(b) Many channels.** 1,000 channels with 10 subscribers each; every channel gets one
  event per second.
* **(c) Publishes/s** a ``publish()`` loop in a separate process sustains, nobody listening.

Rows: django-streaming's ``ChannelView`` on ``RedisStore``, under Django's handler and as the
deployment page advises for many streams (``django_streaming.asgi`` and its garbage-collector
lines); django-eventstream with its Redis
pub/sub and Redis storage; a bare ASGI app with one Redis pub/sub subscription (the fan-out
floor: each message written to every stream in one loop over their ``send``); and, for CPU
only, the floor of the throughput benchmark at an LLM's pace (a bare ASGI app with a timer per
stream, as many streams, as many events per second each). Printed: the publish-to-client
latency p50/p99 (over every 10th subscriber's events), server CPU per delivered event and its
ratios to the fan-out floor and to django-eventstream, and the share of events delivered.
Each server runs under uvicorn pinned to core 0, this client (and the publisher) on core 1;
redis-server's CPU is not counted.

    python -m benchmarks.channels                 # full size
    python -m benchmarks.channels --scale 0.05    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import psutil

from benchmarks.serving import ROOT, Server, pin, serve

DJANGO = (("DJANGO_SETTINGS_MODULE", "benchmarks.apps.channels_site"),)
SITE = "benchmarks.apps.channels_site:app"
#: What each published event carries (its publish time), as every peer frames it.
STAMP = b'"t":'
#: Latency is read off every n-th subscriber's events (all of them are counted).
SAMPLE_EVERY = 10
#: Seconds to wait, once the publisher is done, for the last deliveries; and without any.
DRAIN_SECONDS = 60.0
STALL_SECONDS = 5.0


@dataclass(frozen=True)
class Peer:
    name: str
    server: Server
    path: str  # formatted with the channel's name
    ready: bytes  # what a stream sends once it is subscribed
    publisher: str | None  # benchmarks.channel_publisher's peer; None: no publisher (timer)


PEERS = [
    Peer(
        "raw ASGI + Redis pub/sub (fan-out floor)",
        Server("raw broadcast", "benchmarks.apps.raw_broadcast:app", "/channel/probe"),
        "/channel/{}",
        b": ready",
        "raw",
    ),
    Peer(
        "django-streaming ChannelView, Redis",
        Server("ChannelView", SITE, "/channel/probe", DJANGO),
        "/channel/{}",
        b"id: ",
        "ours",
    ),
    Peer(
        "ChannelView, deployed as the docs advise",
        Server("ChannelView deployed", SITE, "/channel/probe", (*DJANGO, ("BENCH_DEPLOYED", "1"))),
        "/channel/{}",
        b"id: ",
        "ours",
    ),
    Peer(
        "django-eventstream 5.3.4, Redis",
        Server("django-eventstream", SITE, "/eventstream/probe", DJANGO),
        "/eventstream/{}",
        b"stream-open",
        "eventstream",
    ),
]
TIMER_FLOOR = Server("raw ASGI timers", "benchmarks.apps.raw_asgi:app", "/stream")


@dataclass(frozen=True)
class Scenario:
    name: str
    channels: int
    subscribers_per_channel: int
    rate: float  # events per second on each channel
    seconds: float

    @property
    def subscribers(self) -> int:
        return self.channels * self.subscribers_per_channel


@dataclass
class Row:
    peer: str
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    cpu_us_per_event: float
    delivered: float  # the share of the events expected
    failed: int  # streams that closed or could not open
    missing: int = 0  # events expected but not delivered


class Clients:
    """Many SSE streams on non-blocking sockets under one epoll: cheap enough to read 100,000
    events a second on one core. Counts the published events and, on a sample of the streams,
    measures each one's latency from the time it carries."""

    def __init__(self, port: int, ready: bytes, marker: bytes = STAMP) -> None:
        self.port = port
        self.ready_marker = ready
        self.marker = marker
        self.epoll = select.epoll()
        self.sockets: dict[int, socket.socket] = {}
        self.pending: dict[int, bytes] = {}  # what came before a stream said it is ready
        self.tails: dict[int, bytes] = {}  # a sampled stream's incomplete last event
        self.ready = 0
        self.closed = 0
        self.delivered = 0
        self.latencies: list[float] = []

    def open(self, path: str) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sock.setblocking(False)
        self.sockets[sock.fileno()] = sock
        self.pending[sock.fileno()] = b""
        self.epoll.register(sock.fileno(), select.EPOLLIN)

    def pump(self, timeout: float) -> None:
        for fd, _ in self.epoll.poll(timeout):
            sock = self.sockets[fd]
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed += 1
                self.epoll.unregister(fd)
                continue
            if fd in self.pending:
                data = self.pending.pop(fd) + data
                at = data.find(self.ready_marker)
                if at < 0:
                    self.pending[fd] = data
                    continue
                self.ready += 1
                data = data[at:]
            self.delivered += data.count(self.marker)
            if fd % SAMPLE_EVERY == 0:
                self._stamps(fd, data)

    def _stamps(self, fd: int, data: bytes) -> None:
        now = time.time()
        data = self.tails.pop(fd, b"") + data
        at = data.find(STAMP)
        while at >= 0:
            end = data.find(b"}", at)
            if end < 0:
                self.tails[fd] = data[at:]
                return
            self.latencies.append(now - float(data[at + len(STAMP) : end]))
            at = data.find(STAMP, end)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ready + self.closed < len(self.sockets):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.ready} of {len(self.sockets)} streams opened")
            self.pump(0.05)

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.epoll.close()


#: Streams opened but not yet subscribed, at most: more would overflow the listen backlog.
IN_FLIGHT = 1000


def open_all(clients: Clients, paths: list[str]) -> None:
    for number, path in enumerate(paths):
        clients.open(path)
        while number + 1 - clients.ready - clients.closed > IN_FLIGHT:
            clients.pump(0.01)
    clients.wait_ready()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(peer: Peer, scenario: Scenario) -> Row:
    assert peer.publisher is not None
    channels = [f"bench-{number}" for number in range(scenario.channels)]
    paths = [
        peer.path.format(channel)
        for channel in channels
        for _ in range(scenario.subscribers_per_channel)
    ]
    with serve(peer.server) as (port, process):
        clients = Clients(port, peer.ready)
        try:
            open_all(clients, paths)
            cpu_before = cpu_seconds(process)
            command = [
                sys.executable, "-m", "benchmarks.channel_publisher", peer.publisher,
                "--channels", str(scenario.channels), "--rate", str(scenario.rate),
                "--seconds", str(scenario.seconds),
            ]  # fmt: skip
            publisher = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            meter = CpuMeter(process, clients)
            while publisher.poll() is None:
                clients.pump(0.01)
                meter.sample()
            assert publisher.stdout is not None
            published = int(publisher.stdout.read())
            expected = published * scenario.subscribers_per_channel
            deadline = time.monotonic() + DRAIN_SECONDS
            while clients.delivered < expected and time.monotonic() < deadline:
                clients.pump(0.05)
                if meter.sample() > STALL_SECONDS:
                    break  # what has not come by now is lost
            cpu = meter.cpu_at_last_delivery - cpu_before
            latencies = clients.latencies
            return Row(
                peer=peer.name,
                latency_p50_ms=statistics.median(latencies) * 1000 if latencies else None,
                latency_p99_ms=percentile(latencies, 0.99) * 1000 if latencies else None,
                cpu_us_per_event=cpu / max(clients.delivered, 1) * 1e6,
                delivered=clients.delivered / max(expected, 1),
                failed=clients.closed,
                missing=max(expected - clients.delivered, 0),
            )
        finally:
            clients.close()


class CpuMeter:
    """The server's CPU time when the last event so far was delivered: idle time after the
    end (heartbeats, waiting for events that never come) is not the events' cost."""

    def __init__(self, process: psutil.Process, clients: Clients) -> None:
        self.process = process
        self.clients = clients
        self.delivered = clients.delivered
        self.cpu_at_last_delivery = cpu_seconds(process)
        self.last_delivery = self.last_sample = time.monotonic()

    def sample(self) -> float:
        """Sample (at most every 0.1 s); the seconds since the last delivery."""
        now = time.monotonic()
        if now - self.last_sample >= 0.1:
            self.last_sample = now
            if self.clients.delivered > self.delivered:
                self.delivered = self.clients.delivered
                self.cpu_at_last_delivery = cpu_seconds(self.process)
                self.last_delivery = now
        return now - self.last_delivery


def measure_timer_floor(scenario: Scenario) -> Row:
    """The bare ASGI app, each stream sending ``rate`` events/s from a timer of its own."""
    events = int(scenario.rate * scenario.seconds * 3)  # more than the window needs
    path = f"/stream?n={events}&delay={1 / scenario.rate}"
    with serve(TIMER_FLOOR) as (port, process):
        clients = Clients(port, b"data: token", marker=b"data: token")
        try:
            open_all(clients, [path] * scenario.subscribers)
            delivered_before, cpu_before = clients.delivered, cpu_seconds(process)
            deadline = time.monotonic() + scenario.seconds
            while time.monotonic() < deadline:
                clients.pump(0.01)
            cpu = cpu_seconds(process) - cpu_before
            delivered = clients.delivered - delivered_before
            expected = scenario.subscribers * scenario.rate * scenario.seconds
            return Row(
                peer="raw ASGI, a timer per stream (the floor at an LLM's pace)",
                latency_p50_ms=None,
                latency_p99_ms=None,
                cpu_us_per_event=cpu / max(delivered, 1) * 1e6,
                delivered=delivered / expected,
                failed=clients.closed,
            )
        finally:
            clients.close()


def publish_rate(peer: Peer, seconds: float) -> float:
    assert peer.publisher is not None
    command = [
        sys.executable, "-m", "benchmarks.channel_publisher", peer.publisher,
        "--flood", "--seconds", str(seconds),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(result.stdout)


def print_table(scenario: Scenario, rows: list[Row]) -> None:
    floor = next((row for row in rows if "fan-out floor" in row.peer), rows[0]).cpu_us_per_event
    peer = next((row for row in rows if "eventstream" in row.peer), rows[0]).cpu_us_per_event
    print(
        f"\n### {scenario.name}: {scenario.channels} channel(s) x "
        f"{scenario.subscribers_per_channel} subscribers, {scenario.rate:g} events/s per "
        f"channel for {scenario.seconds:g} s\n"
    )
    print(
        "| server | latency p50 ms | p99 ms | CPU µs/delivered event | ratio to the fan-out "
        "floor | ratio to django-eventstream | delivered | missing events | failed streams |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        p50 = "n/a" if row.latency_p50_ms is None else f"{row.latency_p50_ms:.1f}"
        p99 = "n/a" if row.latency_p99_ms is None else f"{row.latency_p99_ms:.1f}"
        print(
            f"| {row.peer} | {p50} | {p99} | {row.cpu_us_per_event:.1f} "
            f"| {row.cpu_us_per_event / max(floor, 1e-9):.2f}x "
            f"| {row.cpu_us_per_event / max(peer, 1e-9):.2f}x | {row.delivered:.2%} "
            f"| {row.missing} | {row.failed} |"
        )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink subscribers/channels")
    parser.add_argument("--seconds", type=float, default=10.0, help="publishing time per row")
    parser.add_argument("--peers", help="only the rows whose name matches this regex")
    parser.add_argument("--only", choices=["a", "a/5", "b", "c"], help="one scenario")
    arguments = parser.parse_args()
    peers = [peer for peer in PEERS if re.search(arguments.peers or "", peer.name)]

    def scaled(number: int) -> int:
        return max(1, int(number * arguments.scale))

    scenarios = {
        "a": Scenario("(a) one channel", 1, scaled(10_000), 10.0, arguments.seconds),
        # What one core keeps under 100 ms: (a) asks 100,000 deliveries a second of it.
        "a/5": Scenario("(a) one channel, a fifth", 1, scaled(2_000), 10.0, arguments.seconds),
        "b": Scenario("(b) many channels", scaled(1000), 10, 1.0, arguments.seconds),
    }
    pin(1)
    print(f"cores: {os.cpu_count()}; servers pinned to core 0, client and publisher to core 1")
    for key, scenario in scenarios.items():
        if arguments.only in (None, key):
            rows = [measure_timer_floor(scenario)] + [measure(peer, scenario) for peer in peers]
            print_table(scenario, rows)
    if arguments.only in (None, "c"):
        print("\n### (c) publishes/s of a loop in a separate process, 5 s, nobody listening\n")
        print("| publisher | publishes/s |")
        print("|---|---:|")
        publishers = {peer.publisher: peer for peer in reversed(peers)}  # one row per publisher
        for peer in reversed(publishers.values()):
            print(f"| {peer.name} | {publish_rate(peer, 5.0):,.0f} |")


if __name__ == "__main__":
    main()
