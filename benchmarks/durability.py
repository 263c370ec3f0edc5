"""What ``wait_replicas`` costs: ``publish()`` per second on a Sentinel group (1 master, 1
replica, on loopback ports), without ``WAIT`` and with ``WAIT 1``, one publisher thread.

    python -m benchmarks.durability [--events 3000]
"""

from __future__ import annotations

import argparse
import os
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    import redis.sentinel

    from django_streaming.backends.redis import RedisStore
    from tests.support.redis_topologies import sentinel_group

    with sentinel_group() as group:
        master_host, master_port = group.master_address()
        store = RedisStore(url=f"redis://{master_host}:{master_port}/0", prefix="bench-durability")
        log = store.channel_log
        sentinel = redis.sentinel.Sentinel(group.sentinel_addresses)
        log._sync = sentinel.master_for(group.service_name)
        rows = []
        for replicas in (0, 1):
            log.publish("warm-up", b"data: x\n\n", wait_replicas=replicas)
            started = time.perf_counter()
            for _ in range(arguments.events):
                log.publish("bench", b"data: x\n\n", wait_replicas=replicas)
            rate = arguments.events / (time.perf_counter() - started)
            rows.append((f"WAIT {replicas}" if replicas else "no WAIT", rate))
        store.close()
    print("| publish() on a Sentinel group | publishes/s |")
    print("| --- | --- |")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} |")
    print(f"\nWAIT 1 costs {1 - rows[1][1] / rows[0][1]:.0%} of the rate.")


if __name__ == "__main__":
    main()
