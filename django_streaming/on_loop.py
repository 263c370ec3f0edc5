"""What a request may run on the event loop: Django's middleware, settings and signal
receivers that do no I/O of their own (``django_streaming.asgi`` reads them per request)."""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.dispatch import Signal

__all__ = ["LAZY_MIDDLEWARE", "lazy_settings", "receivers"]

#: Django's middleware that does no I/O of its own (under ``lazy_settings()``): what it reads
#: (the session, the user, the messages) it reads when a view or a template first touches it.
LAZY_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "django.middleware.gzip.GZipMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
    }
)
LAZY_SESSION_ENGINES = frozenset(
    f"django.contrib.sessions.backends.{name}"
    for name in ("db", "cache", "cached_db", "signed_cookies")
)
LAZY_MESSAGE_STORAGES = frozenset(
    f"django.contrib.messages.storage.{name}"
    for name in ("fallback.FallbackStorage", "cookie.CookieStorage", "session.SessionStorage")
)

_OURS = ("django.", "django_streaming.")


def receivers(signal: Signal, sender: type) -> Literal["django's", "ours"] | None:
    """Who listens to ``signal`` (``request_started`` or ``request_finished``), when only
    Django and we do: Django's receivers alone, which clean up the current thread's database
    connections (the loop's thread has none: the ORM refuses to run there), the context's
    caches and its urlconf; or ours too (``apps.py``'s, which notes that the process serves
    requests). None when anyone else's listens, or an async receiver."""
    sync_receivers, async_receivers = signal._live_receivers(sender)
    if async_receivers:
        return None
    modules = [getattr(receiver, "__module__", "") for receiver in sync_receivers]
    if all(module.startswith("django.") for module in modules):
        return "django's"
    return "ours" if all(module.startswith(_OURS) for module in modules) else None


def lazy_settings() -> bool:
    """Whether the settings leave ``LAZY_MIDDLEWARE`` without I/O of its own."""
    return (
        not settings.CSRF_USE_SESSIONS  # else every request reads the session
        and settings.SESSION_ENGINE in LAZY_SESSION_ENGINES
        and settings.MESSAGE_STORAGE in LAZY_MESSAGE_STORAGES
        and not settings.DISALLOWED_USER_AGENTS  # else a 403 from an exception, and its handler
        and not any(database.get("ATOMIC_REQUESTS") for database in settings.DATABASES.values())
    )
