from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from example_project.database_url import parse_database_url

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "tests.testapp.urls"
USE_TZ = True
# SQLite in a file (an in-memory one lives in the one connection Django never closes, which
# hides what a stream leaves open), or TEST_DATABASE_URL (postgres://...: make test runs the
# database tests again on PostgreSQL).
_sqlite = Path(tempfile.gettempdir()) / f"django-streaming-tests-{os.getpid()}.sqlite3"
DATABASES = {"default": parse_database_url(os.environ.get("TEST_DATABASE_URL", ""))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(_sqlite)}
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django_streaming",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",  # the admin's (live answers)
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/login/"
# Sessions in a signed cookie: servers in several processes share them without a database.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DJANGO_STREAMING: dict[str, Any] = {"HEARTBEAT_INTERVAL": 15.0}
if os.environ.get("TEST_NO_STREAM_LIMIT"):  # a hundred streams from one address, no cookies
    DJANGO_STREAMING["MAX_ACTIVE_PER_OWNER"] = None
if os.environ.get("TEST_REDIS_URL"):  # servers started as subprocesses by the Redis tests
    DJANGO_STREAMING["STORE"] = {
        "BACKEND": "django_streaming.stores.redis.RedisStore",
        "OPTIONS": {
            "url": os.environ["TEST_REDIS_URL"],
            "prefix": os.environ["TEST_REDIS_PREFIX"],
            "lease": float(os.environ.get("TEST_REDIS_LEASE", "10")),
            "failover_timeout": float(os.environ.get("TEST_REDIS_FAILOVER_TIMEOUT", "6")),
        },
    }
