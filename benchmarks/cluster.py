"""Redis cluster vs one master: publishes/s and appends/s through RedisStore, and how the
keys of many channels and streams, and the commands of the publishes, share the masters out.
Prints one table; on 2 cores the servers, the client and the cluster's bus share the CPU, so
read the ratios, not the rates.

    python -m benchmarks.cluster [--seconds 5] [--streams 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django_streaming.backends.redis import RedisStore  # noqa: E402
from tests.support.redis_servers import private_redis, unique_prefix  # noqa: E402
from tests.support.redis_topologies import client, redis_cluster  # noqa: E402

#: Publishes (or appends) in flight at once, from one event loop, each publisher on a
#: channel of its own.
CONCURRENCY = 64


def commands_per_master(addresses: list[tuple[str, int]]) -> list[int]:
    """Commands each master has processed so far."""
    counts = []
    for address in addresses:
        with client(address) as connection:
            counts.append(int(connection.info("stats")["total_commands_processed"]))
    return counts


def shares(counts: list[int]) -> str:
    total = sum(counts) or 1
    return " / ".join(f"{count / total:.2f}" for count in counts)


async def publishes_per_second(store: RedisStore, seconds: float) -> float:
    log = store.channel_log
    deadline = time.monotonic() + seconds
    done = 0

    async def publisher(number: int) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await log.apublish(f"bench-{number}", b"data: x\n\n")
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(publisher(number) for number in range(CONCURRENCY)))
    return done / (time.monotonic() - started)


async def appends_per_second(store: RedisStore, streams: int, seconds: float) -> float:
    ids = [f"bench{number}" for number in range(streams)]
    for stream_id in ids:
        await store.create(stream_id, owner=f"owner{stream_id}")
    deadline = time.monotonic() + seconds
    done = 0

    async def generation(stream_id: str) -> None:
        nonlocal done
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            await store.append(stream_id, [(seq, b"data: token\n\n")])
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(generation(stream_id) for stream_id in ids))
    return done / (time.monotonic() - started)


async def run(
    url: str, streams: int, seconds: float, masters: list[tuple[str, int]] | None = None
) -> tuple[float, float, str, list[int]]:
    """Publishes/s, appends/s, the store's prefix, and the commands each of ``masters``
    processed while publishing."""
    store = RedisStore(url=url, prefix=unique_prefix())
    before = commands_per_master(masters or [])
    publishes = await publishes_per_second(store, seconds)
    after = commands_per_master(masters or [])
    appends = await appends_per_second(store, streams, seconds)
    await store.aclose()
    store.close()
    commands = [end - start for start, end in zip(before, after, strict=True)]
    return publishes, appends, store.prefix, commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--streams", type=int, default=300, help="generations appending")
    options = parser.parse_args()
    with private_redis() as single:
        one = asyncio.run(run(single.url, options.streams, options.seconds))
    with redis_cluster() as cluster:
        url = cluster.url.replace("redis://", "redis+cluster://")
        masters = [master.address for master in cluster.masters]
        three = asyncio.run(run(url, options.streams, options.seconds, masters))
        streams, channels = [], []
        for master in cluster.masters:
            with client(master.address) as connection:
                keys = connection.scan_iter(match=f"{three[2]}:stream:*", count=1000)
                streams.append(sum(1 for _ in keys))
                heads = connection.scan_iter(match=f"{three[2]}:channel:*:head", count=1000)
                channels.append(sum(1 for _ in heads))
    print(f"\n### Redis cluster (3 masters + 3 replicas) vs one master, {os.cpu_count()} cores\n")
    print("| | one master | cluster | cluster / one |")
    print("|---|---:|---:|---:|")
    print(f"| publishes/s | {one[0]:,.0f} | {three[0]:,.0f} | {three[0] / one[0]:.2f} |")
    print(f"| appends/s | {one[1]:,.0f} | {three[1]:,.0f} | {three[1] / one[1]:.2f} |")
    print(f"| share of the channels ({CONCURRENCY}) per master | 1.00 | {shares(channels)} | |")
    print(f"| share of the publishes' commands per master | 1.00 | {shares(three[3])} | |")
    print(f"| share of the streams' keys per master | 1.00 | {shares(streams)} | |")


if __name__ == "__main__":
    main()
