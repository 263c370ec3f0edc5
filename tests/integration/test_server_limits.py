"""What some servers cannot do, measured, so that docs/deployment.md can say so."""

from __future__ import annotations

import sys

import httpx
import pytest

from tests.support.reader import StreamReader, data_of
from tests.support.servers import subprocess_server

GUNICORN = [sys.executable, "-m", "gunicorn", "--bind", "fd://{fd}", "--workers", "1"]


@pytest.mark.parametrize(("worker", "survives"), [("sync", False), ("gthread", True)])
def test_gunicorn_timeout_and_long_streams(worker: str, survives: bool) -> None:
    # --timeout 2 and a 4 s stream that writes every 0.5 s: the sync worker's arbiter kills the
    # worker mid-response even though it is writing; gthread's does not.
    argv = [*GUNICORN, "-k", worker, "--timeout", "2", "--log-level", "critical"]
    with subprocess_server([*argv, "tests.wsgi:application"]) as server:
        try:
            with httpx.stream("GET", f"{server.url}/count/?n=8&delay=0.5", timeout=15) as r:
                received = data_of(StreamReader(r).to_end())
        except httpx.RemoteProtocolError:
            received = None  # the connection was cut mid-stream
    assert (received == [str(n) for n in range(8)]) is survives


def test_a_sync_worker_holds_one_stream_at_a_time(token: str) -> None:
    argv = [*GUNICORN, "-k", "sync", "--log-level", "critical", "tests.wsgi:application"]
    with subprocess_server(argv) as server:
        with httpx.stream("GET", f"{server.url}/wait-heartbeat/?token={token}", timeout=10) as r:
            reader = StreamReader(r)  # kept: dropping it would close the connection
            reader.until_data("ready")
            with pytest.raises(httpx.ReadTimeout):
                httpx.get(f"{server.url}/probe/{token}/", timeout=1.5)
        # Once the first stream's client is gone (seen at its next heartbeat), the worker is free.
        assert httpx.get(f"{server.url}/probe/{token}/", timeout=10).json()["finished"]
