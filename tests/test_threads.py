"""The pool that runs the sync work of streams: each call gives back its connections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings

from django_streaming.threads import PoolExecutor, release_connections


@pytest.fixture
def memory_database(django_db_blocker: Any) -> Iterator[str]:
    """An in-memory SQLite database beside the tests' own, as some test settings use."""
    alias = "memory"
    memory = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    connections.settings[alias] = connections.configure_settings(
        {**settings.DATABASES, alias: memory}
    )[alias]
    try:
        with django_db_blocker.unblock():
            yield alias
    finally:
        raw = connections[alias].connection  # close() keeps an in-memory database open
        if raw is not None:
            raw.close()
        del connections[alias]
        del connections.settings[alias]


def test_an_in_memory_sqlite_database_outlives_a_release(memory_database: str) -> None:
    """Its data lives as long as its connection, which Django itself never closes."""
    with connections[memory_database].cursor() as cursor:
        cursor.execute("CREATE TABLE kept (n integer)")
    release_connections()
    with connections[memory_database].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM kept")
        assert cursor.fetchone() == (0,)


@pytest.mark.django_db(transaction=True)
@override_settings(DJANGO_STREAMING={"THREADS": 1})
def test_each_call_on_the_pool_closes_the_connection_it_opened() -> None:
    pool = PoolExecutor()

    def query() -> bool:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return connections["default"].connection is not None

    def still_open() -> bool:
        return connections["default"].connection is not None

    assert pool.submit(query).result(5)  # open while the call ran
    assert not pool.submit(still_open).result(5)  # the same, only thread: closed since


@override_settings(DJANGO_STREAMING={"THREADS": 2})
def test_the_pool_starts_once_however_many_ask() -> None:
    pool = PoolExecutor()
    assert pool._start() is pool._start()
    assert pool._start()._max_workers == 2
