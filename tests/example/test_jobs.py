"""The example project's background jobs, end to end: a real uvicorn, Django's tasks run by
django-tasks-db's worker (its own ``db_worker`` process beside a Redis store, or in the
server's process with the memory store), and the job's page fed by a ChannelView."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.reader import StreamReader
from tests.support.redis_servers import shared_redis, unique_prefix
from tests.support.servers import EXAMPLE, example_project_server


@contextmanager
def db_worker(database: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py db_worker`` as a process of its own, on the example's database."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_DB": str(database),
        **env,
    }
    argv = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.1",
            "--no-startup-delay", "-v0"]  # fmt: skip
    process = subprocess.Popen(argv, cwd=EXAMPLE, env=environment)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_job(client: httpx.Client) -> str:
    """What the "Start a job" button does; the job's page URL."""
    client.get("/jobs/")
    response = client.post("/jobs/start/", headers={"X-CSRFToken": client.cookies["csrftoken"]})
    assert response.status_code == 302
    return response.headers["location"]


def follow(client: httpx.Client, job_page: str) -> list[tuple[str, dict[str, object]]]:
    """The job's events, from its start, until it is done."""
    with client.stream("GET", f"{job_page}events/") as response:
        assert response.status_code == 200
        # The example compresses its responses (GZipMiddleware), streams included.
        reader = StreamReader(response, gzip=response.headers.get("content-encoding") == "gzip")
        done = reader.until(lambda result: any(e.type == "done" for e in result.events))
    return [(event.type, json.loads(event.data)) for event in done.events]


def check_the_whole_job(events: list[tuple[str, dict[str, object]]]) -> None:
    kinds = [kind for kind, _ in events]
    assert kinds == ["progress"] * 21 + ["done"]
    assert [data["done"] for kind, data in events if kind == "progress"] == list(range(21))


@pytest.mark.redis
def test_a_job_run_by_db_worker_reports_through_redis_and_a_reload_sees_it_all(
    tmp_path: Path,
) -> None:
    database = tmp_path / "db.sqlite3"
    env = {"REDIS_URL": shared_redis(), "REDIS_PREFIX": unique_prefix()}
    with (
        example_project_server(database, tokens_per_second=60, **env) as server,
        db_worker(database, **env),
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        page = start_job(client)
        assert client.get(page).status_code == 200
        check_the_whole_job(follow(client, page))
        check_the_whole_job(follow(client, page))  # a reload: the whole job again
        stranger = httpx.get(f"{server.url}{page}events/")
        assert stranger.status_code == 403  # not their job


def test_without_redis_the_server_runs_the_worker_itself(tmp_path: Path) -> None:
    with (
        example_project_server(tmp_path / "db.sqlite3", tokens_per_second=60) as server,
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        check_the_whole_job(follow(client, start_job(client)))


@pytest.mark.redis
def test_issue_20_a_visitor_may_have_three_jobs_running_not_more(tmp_path: Path) -> None:
    # No worker runs them (Redis store, no db_worker): the jobs stay queued, so they count.
    env = {"REDIS_URL": shared_redis(), "REDIS_PREFIX": unique_prefix()}
    with (
        example_project_server(tmp_path / "db.sqlite3", tokens_per_second=60, **env) as server,
        httpx.Client(base_url=server.url, timeout=20) as client,
    ):
        for _ in range(3):
            start_job(client)
        refused = client.post("/jobs/start/", headers={"X-CSRFToken": client.cookies["csrftoken"]})
        assert refused.status_code == 429
        assert "You have 3 jobs running" in refused.text
        # Another visitor has room of their own.
        with httpx.Client(base_url=server.url, timeout=20) as other:
            start_job(other)
