"""The test project in production shape, for the PostgreSQL tests' servers: the database of
TEST_DATABASE_URL, sessions in it, and ``startproject``'s middleware."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.support.startproject import MIDDLEWARE as STARTPROJECT_MIDDLEWARE

SESSION_ENGINE = "django.contrib.sessions.backends.db"
MIDDLEWARE = STARTPROJECT_MIDDLEWARE
DJANGO_STREAMING = {
    **DJANGO_STREAMING,  # noqa: F405
    "THREADS": int(os.environ.get("TEST_THREADS", "10")),
    "MAX_ACTIVE_PER_OWNER": None,
}
