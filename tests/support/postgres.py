"""PostgreSQL for the tests: a fresh database per use on the server at ``TEST_POSTGRES_URL``
(by default the role ``.ci/run`` creates on 127.0.0.1:5432), and what it sees connected."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.support.servers import ROOT
from tests.support.tools import IN_CI

SERVER_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgres://django_streaming:django_streaming@127.0.0.1:5432/postgres"
)
SETTINGS = "tests.postgres_settings"


def require_postgres() -> None:
    """Skip without a PostgreSQL to reach on a laptop; fail without one in CI."""
    try:
        psycopg.connect(SERVER_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI (CI is set): {error}")
        pytest.skip(f"PostgreSQL is not reachable at {SERVER_URL} ({error}); .ci/run sets it up")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(SERVER_URL, autocommit=True)


@contextmanager
def fresh_database(*, migrate: bool = True) -> Iterator[str]:
    """A new database with the test project migrated into it (an empty one without
    ``migrate``); its URL. Dropped afterwards."""
    require_postgres()
    name = f"django_streaming_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))
    try:
        if migrate:
            subprocess.run(
                [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env={**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "TEST_DATABASE_URL": url},
                check=True,
            )
        yield url
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connections_to(url: str) -> int:
    """How many sessions are connected to ``url``'s database, not counting this question's."""
    name = urlsplit(url).path.lstrip("/")
    with _admin() as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert row is not None
    return int(str(row[0]))


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(query.encode()).fetchall()
