"""``DATABASE_URL`` to Django's ``DATABASES["default"]``: ``sqlite:///path`` or
``postgres://user:password@host:port/name`` (``postgresql://`` too; ``?pool=true`` turns on
Django's psycopg pool)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["parse_database_url"]


def parse_database_url(url: str) -> dict[str, Any]:
    """The ``DATABASES`` entry for ``url``; an empty one is a SQLite database in memory."""
    parts = urlsplit(url or "sqlite:///:memory:")
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path[1:])}
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must start with sqlite:// or postgres://, not {url!r}.")
    options: dict[str, Any] = {}
    if parse_qs(parts.query).get("pool") == ["true"]:
        options["pool"] = True
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path[1:]),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
    }
