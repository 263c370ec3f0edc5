"""Settings for the example project: SQLite by default, no other service needed;
``DATABASE_URL=postgres://user:password@host:5432/name`` for PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import django

from example_project.database_url import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-insecure-key")
# Off unless asked for (`make demo` asks): error texts then name no exception to the browser.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_streaming",
    "chat",
    "demo",
    "jobs",
    "django_tasks_db",
]
if django.VERSION < (6, 0):  # Django 6 has the tasks framework; before, its backport
    INSTALLED_APPS.append("django_tasks")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
ASGI_APPLICATION = "example_project.asgi.application"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL")
        or f"sqlite:///{os.environ.get('EXAMPLE_DB', BASE_DIR / 'db.sqlite3')}"
    )
}

USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background jobs: Django's tasks framework, with django-tasks-db's database backend (its
# db_worker runs them; see jobs/worker.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

DJANGO_STREAMING: dict[str, Any] = {
    "HEARTBEAT_INTERVAL": 15.0,
}
# Answers in progress live in this process's memory; with REDIS_URL set, in Redis, so that
# several workers (uvicorn --workers 4) can resume and stop each other's answers.
if os.environ.get("REDIS_URL"):
    DJANGO_STREAMING["STORE"] = {
        "BACKEND": "django_streaming.backends.redis.RedisStore",
        "OPTIONS": {
            "url": os.environ["REDIS_URL"],
            "prefix": os.environ.get("REDIS_PREFIX", "django-streaming"),
        },
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_streaming": {"handlers": ["console"], "level": "INFO"}},
}
