"""The publisher of the channel benchmark, in a process of its own as a task worker would be.

    python -m benchmarks.channel_publisher ours --channels 1000 --rate 1 --seconds 10
    python -m benchmarks.channel_publisher eventstream --flood --seconds 5

Paced (the default): every channel gets ``--rate`` events per second, each carrying its
publish time (``{"t": ...}``) for the client to measure latency. ``--flood``: one channel, as
fast as the loop goes; prints the publishes per second.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

Publish = Callable[[str, dict[str, Any]], object]


def publisher(peer: str) -> Publish:
    if peer == "raw":
        import redis

        from benchmarks.apps.raw_broadcast import PREFIX

        client = redis.Redis()
        return lambda channel, data: client.publish(PREFIX + channel, json.dumps(data))
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.apps.channels_site"
    import django

    django.setup()
    if peer == "ours":
        from django_streaming import publish

        return lambda channel, data: publish(channel, data)
    from django_eventstream import send_event

    return lambda channel, data: send_event(channel, "message", data)


def paced(publish: Publish, channels: int, rate: float, seconds: float) -> int:
    names = [f"bench-{number}" for number in range(channels)]
    ticks = int(seconds * rate)
    started = time.monotonic()
    for tick in range(ticks):
        for name in names:
            publish(name, {"t": time.time()})
        # Paced from the start, so a slow publish does not stretch the run.
        time.sleep(max(0.0, started + (tick + 1) / rate - time.monotonic()))
    return ticks * channels


def flood(publish: Publish, seconds: float) -> float:
    count = 0
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        publish("bench-flood", {"t": time.time()})
        count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("peer", choices=["raw", "ours", "eventstream"])
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flood", action="store_true")
    arguments = parser.parse_args()
    publish = publisher(arguments.peer)
    if arguments.flood:
        print(f"{flood(publish, arguments.seconds):.1f}")
    else:
        print(paced(publish, arguments.channels, arguments.rate, arguments.seconds))


if __name__ == "__main__":
    main()
