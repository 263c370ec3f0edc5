"""The benchmark must keep running: a tiny round of it, checking only that every stream got all
of its events. Speed is reported by `make bench`, never asserted here."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.postgres import SERVER_URL, require_postgres
from tests.support.redis_servers import shared_redis
from tests.support.redis_topologies import needs_cluster_client
from tests.support.servers import ROOT

# Subprocesses only (nothing of django_streaming runs in this process): `make test` leaves them
# to `make matrix`, which CI runs next, to keep within its time.
pytestmark = pytest.mark.bench


def run(module: str, *arguments: str) -> str:
    """What ``python -m module arguments`` prints, once it has succeeded."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def rows_of(output: str) -> list[str]:
    """The rows of the tables in a benchmark's ``output``."""
    return [line for line in output.splitlines() if line.startswith("| ")]


def table_rows(*command: str) -> list[str]:
    """The rows of the tables a benchmark prints, run as ``python -m <command>``."""
    return rows_of(run(*command))


PINNED = """
import os, subprocess, sys
from benchmarks.serving import pin
pin(1)  # the load client, as every benchmark's main() does first
server = subprocess.run(
    [sys.executable, "-c", "import os; print(*os.sched_getaffinity(0))"],
    preexec_fn=lambda: pin(0), capture_output=True, text=True, check=True,
)
print(*os.sched_getaffinity(0), "/", server.stdout.strip())
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two cores")
def test_a_server_started_after_the_client_pinned_itself_gets_a_core_of_its_own() -> None:
    """The bug: ``pin(0)`` left alone a process that could run on one core only, and a server
    inherits the client's one core, so each server shared it with its load client (and the
    other core idled): its CPU per event counted the contention."""
    completed = subprocess.run(
        [sys.executable, "-c", PINNED], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    client, _, server = completed.stdout.partition("/")
    assert len(client.split()) == len(server.split()) == 1, completed.stdout
    assert client.split() != server.split(), completed.stdout


def test_benchmark_smoke_run() -> None:
    shared_redis()  # the Redis rows need it
    output = run("benchmarks", "--scale", "0.02", "--repeat", "1")
    load, _, replay = output.partition("### Resume")
    data_rows = [row for row in rows_of(load) if not row.startswith("| server")]
    assert len(data_rows) == 16, output  # eight servers, two scenarios
    assert all(row.rstrip(" |").endswith("| 0") for row in data_rows), output
    replay_rows = [line for line in replay.splitlines() if line.startswith("| SSEView")]
    assert len(replay_rows) == 2, output  # the memory and the Redis store


def test_request_cost_benchmark_smoke_run() -> None:
    rows = table_rows("benchmarks.request_cost", "--requests", "20")
    assert len(rows) == 1 + 4, rows  # the header and four rows


def test_capacity_benchmark_smoke_run() -> None:
    require_postgres()
    database = urlunsplit(urlsplit(SERVER_URL)._replace(path="/django_streaming_bench_smoke"))
    output = run("benchmarks.capacity", "--scale", "0.01", "--database", database)
    rows = rows_of(output)
    data_rows = [row for row in rows if not row.startswith(("| server", "| SHUTDOWN"))]
    assert len(data_rows) == 5 + 3 + 2, output  # idle, PostgreSQL, storm
    assert all(row.rstrip(" |").endswith("| 0") for row in data_rows), output


def test_channel_benchmark_smoke_run() -> None:
    shared_redis()
    output = run("benchmarks.channels", "--scale", "0.005", "--seconds", "1", "--only", "b")
    data_rows = [row for row in rows_of(output) if not row.startswith("| server")]
    assert len(data_rows) == 5, output  # the two floors, our two rows, the peer
    # Every event published reached every subscriber: no missing events, no failed stream.
    assert all(row.rstrip(" |").endswith("| 0 | 0") for row in data_rows[1:]), output


def test_metrics_benchmark_smoke_run() -> None:
    shared_redis()
    output = run("benchmarks.metrics", "--scale", "0.01", "--repeat", "1", "--seconds", "1")
    data_rows = [row for row in rows_of(output) if not row.startswith("| row")]
    assert len(data_rows) == 3, output  # S1 twice, the fan-out
    assert all(row.rstrip(" |").endswith("| 0") for row in data_rows), output


def test_hostile_bodies_benchmark_smoke_run() -> None:
    rows = table_rows("benchmarks.hostile", "--scale", "0.01", "--posts", "1")
    completed_rows = "\n".join(rows)
    rows = [row for row in rows if row.startswith("| a ")]
    assert len(rows) == 4, completed_rows  # two bodies, each on the two views
    assert all("| 200 |" in row for row in rows), completed_rows


def test_agents_benchmark_smoke_run() -> None:
    rows = table_rows("benchmarks.agents", "--tokens", "20", "--repeat", "1")
    assert len(rows) == 1 + 4 + 2 + 2, rows  # a header; pydantic-ai, the SDK, LangGraph


@pytest.mark.redis
@pytest.mark.topology
@needs_cluster_client
def test_cluster_benchmark_smoke_run() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.cluster", "--seconds", "0.2", "--streams", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": "example_project"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| share of the streams' keys per master | 1.00 |" in completed.stdout
