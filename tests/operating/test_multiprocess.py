"""prometheus_client's multiprocess mode: two uvicorn worker processes write their metrics to
``PROMETHEUS_MULTIPROC_DIR``, and a scrape answered by either sums both."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.support.servers import subprocess_server

from .conftest import Scrape

UVICORN = [
    sys.executable, "-m", "uvicorn", "tests.asgi:application", "--workers", "2",
    "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning", "--lifespan", "off",
]  # fmt: skip
#: Bounds the streams it takes until both workers served some (the kernel picks one per
#: connection, not in turn).
MAX_STREAMS = 200


def test_two_workers_are_summed(tmp_path: Path) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.operating.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    with subprocess_server(UVICORN, env=env) as server:
        pids: list[str] = []
        while len(set(pids)) < 2:
            assert len(pids) < MAX_STREAMS, "one worker served every stream"
            body = httpx.get(server.url + "/pid-stream/", timeout=10).text
            pids.append(body.split("data: ", 1)[1].split("\n", 1)[0])
        view = {"view": "op-pid"}
        for _ in range(4):  # whichever worker answers, the same sums
            scrape = Scrape(server.url)
            ended = scrape("django_streaming_streams_ended_total", reason="completed", **view)
            assert ended == len(pids)
            assert scrape("django_streaming_events_sent_total", **view) == len(pids)
            assert scrape("django_streaming_streams_open", **view) == 0
    assert sorted(path.name.split("_")[0] for path in tmp_path.iterdir())  # files per worker
