"""`make bench` (metrics): what the metrics cost, each row served with metrics on and off side
by side in one run: S1 (`SSEView`, both scenarios of ``python -m benchmarks``) and the
channel fan-out ((a/5) of ``python -m benchmarks.channels``: 2,000 subscribers of one channel,
10 events/s, published from another process through Redis). Printed per row: server CPU per
event with metrics off and on, and their ratio (the goal: at most 1.03x). Rounds interleave
off and on on fresh processes; each figure is the median of its rounds.

Both columns run with ``opentelemetry-api`` installed and no SDK configured (spans are
no-ops), and the ``django_streaming`` logger at WARNING, as a production site that scrapes
metrics but does not trace would.

    python -m benchmarks.metrics                 # full size, 3 rounds
    python -m benchmarks.metrics --scale 0.05    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from benchmarks import channels
from benchmarks.__main__ import DJANGO, Scenario, measure
from benchmarks.serving import Server, pin, serve

SWITCH = {"on": ("BENCH_METRICS", "1"), "off": ("BENCH_METRICS", "0")}


def s1(state: str) -> Server:
    return Server(f"SSEView, metrics {state}", "benchmarks.apps.django_site:app", "/sseview",
                  (*DJANGO, SWITCH[state]))  # fmt: skip


def fan_out(state: str) -> channels.Peer:
    peer = channels.PEERS[1]  # ChannelView on Redis
    server = peer.server
    return channels.Peer(
        f"ChannelView, metrics {state}",
        Server(server.name, server.app, server.path, (*server.env, SWITCH[state])),
        peer.path,
        peer.ready,
        peer.publisher,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink streams and events")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure its median")
    parser.add_argument("--seconds", type=float, default=10.0, help="publishing time (fan-out)")
    arguments = parser.parse_args()

    def scaled(number: int) -> int:
        return max(1, int(number * arguments.scale))

    scenarios = [
        Scenario("S1 back to back", scaled(100), scaled(1000), 0.0),
        Scenario("S1 at an LLM's pace", scaled(1000), scaled(100), 0.05),
    ]
    fan = channels.Scenario("fan-out (a/5)", 1, scaled(2_000), 10.0, arguments.seconds)
    pin(1)
    print(f"cores: {os.cpu_count()}; server pinned to core 0, load client to core 1")
    cpu: dict[tuple[str, str], list[float]] = {}
    failures: dict[str, int] = {}
    for _round in range(arguments.repeat):
        for state in ("off", "on"):
            for scenario in scenarios:
                server = s1(state)
                with serve(server) as (port, process):
                    measure(server, port, process, Scenario("warm-up", 10, 100, 0.0))
                    row = measure(server, port, process, scenario)
                cpu.setdefault((scenario.name, state), []).append(row.cpu_us_per_event)
                failures[scenario.name] = failures.get(scenario.name, 0) + row.failures
            channel_row = channels.measure(fan_out(state), fan)
            cpu.setdefault((fan.name, state), []).append(channel_row.cpu_us_per_event)
            failures[fan.name] = (
                failures.get(fan.name, 0) + channel_row.failed + channel_row.missing
            )
    print("\n### Metrics on and off: server CPU per event\n")
    print("| row | CPU µs/event, off | CPU µs/event, on | on / off | failed or missing |")
    print("|---|---:|---:|---:|---:|")
    for name in [scenario.name for scenario in scenarios] + [fan.name]:
        off, on = (statistics.median(cpu[name, state]) for state in ("off", "on"))
        print(f"| {name} | {off:.2f} | {on:.2f} | {on / max(off, 1e-9):.3f}x | {failures[name]} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
